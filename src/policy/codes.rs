//! Location codes of geolocation annotations, checked against the
//! standard lists: the seven continent codes GeoIP databases use, ISO
//! 3166-1 alpha-2 country codes and ISO 3166-2 subdivision codes (the
//! `rust_iso3166` crate, whose data follows Debian's iso-codes). A code
//! that is not on its list is an error that says what to write instead:
//! it would otherwise match no client, and those clients would silently
//! get the default set.

/// The continent codes of GeoIP2 databases.
pub(crate) const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Codes people write for a country that are not its ISO 3166-1 code.
const NOT_ISO: &[(&str, &str)] = &[
    // Exceptionally reserved by ISO, used by the EU and the .uk domain.
    ("UK", "GB"),
    // Greece in EU usage.
    ("EL", "GR"),
];

fn upper2(value: &str) -> Option<[u8; 2]> {
    match value.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// `continent=VALUE`: one of [`CONTINENTS`], in either case.
pub(crate) fn continent(value: &str) -> Result<[u8; 2], String> {
    if value == "*" {
        return Err(
            "continent=* is not a default set: write location=* instead (Route 53's \"Default\" location)"
                .into(),
        );
    }
    upper2(value)
        .filter(|c| CONTINENTS.iter().any(|k| k.as_bytes() == c))
        .ok_or_else(|| {
            format!(
                "continent \"{value}\" is not a continent code: write one of {}",
                CONTINENTS.join(", ")
            )
        })
}

/// `country=VALUE`: an ISO 3166-1 alpha-2 code, in either case.
pub(crate) fn country(value: &str) -> Result<[u8; 2], String> {
    if value == "*" {
        return Err(
            "country=* is not a default set here: write location=* instead (Route 53's \"Default\" location)"
                .into(),
        );
    }
    let upper = value.to_ascii_uppercase();
    if let Some(code) = upper2(value) {
        if rust_iso3166::from_alpha2(&upper).is_some() {
            return Ok(code);
        }
    }
    let hint = if let Some((_, iso)) = NOT_ISO.iter().find(|(k, _)| *k == upper) {
        format!(": write country={iso}")
    } else if let Some(c) = rust_iso3166::from_alpha3(&upper) {
        format!(
            ": that is the alpha-3 code of {}; write country={}",
            c.name, c.alpha2
        )
    } else if CONTINENTS.contains(&upper.as_str()) {
        format!(": for the continent, write continent={upper}")
    } else if let Some((c, _)) = upper.split_once('-') {
        format!(": for a subdivision, write subdivision={upper} (or country={c} for the whole country)")
    } else {
        String::new()
    };
    Err(format!(
        "country \"{value}\" is not an ISO 3166-1 alpha-2 code{hint}"
    ))
}

/// The subdivision part of `subdivision=CC-SUB` (or `country=CC
/// subdivision=SUB`), checked against ISO 3166-2 for `country`; returned
/// upper-cased without the country, as GeoIP databases give it.
pub(crate) fn subdivision(country: [u8; 2], sub: &str) -> Result<Box<str>, String> {
    let cc = String::from_utf8_lossy(&country).into_owned();
    let code = format!("{cc}-{}", sub.to_ascii_uppercase());
    if sub == "*" {
        return Err(
            "subdivision=* is not a default set: write location=* instead (Route 53's \"Default\" location)"
                .into(),
        );
    }
    if rust_iso3166::iso3166_2::from_code(&code).is_some() {
        return Ok(sub.to_ascii_uppercase().into());
    }
    let found = rust_iso3166::from_alpha2(&cc);
    let listed = found
        .as_ref()
        .and_then(|c| c.subdivisions())
        .unwrap_or_default();
    let name = found.map_or("", |c| c.name);
    if listed.is_empty() {
        return Err(format!(
            "subdivision \"{code}\" is not an ISO 3166-2 code: {name} ({cc}) has no subdivisions; write country={cc}"
        ));
    }
    let examples: Vec<&str> = listed.iter().take(3).map(|s| s.code).collect();
    Err(format!(
        "subdivision \"{code}\" is not an ISO 3166-2 subdivision of {name} ({cc}), whose codes are like {}",
        examples.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continents() {
        assert_eq!(continent("eu"), Ok(*b"EU"));
        assert!(continent("XX").unwrap_err().contains("AF, AN, AS, EU, NA, OC, SA"));
        assert!(continent("*").unwrap_err().contains("location=*"));
    }

    #[test]
    fn countries() {
        assert_eq!(country("GB"), Ok(*b"GB"));
        assert_eq!(country("de"), Ok(*b"DE"));
        assert!(country("UK").unwrap_err().contains("write country=GB"));
        assert!(country("ZZ").unwrap_err().contains("not an ISO 3166-1"));
        assert!(country("USA").unwrap_err().contains("write country=US"));
        assert!(country("EU").unwrap_err().contains("continent=EU"));
        assert!(country("*").unwrap_err().contains("location=*"));
    }

    #[test]
    fn subdivisions() {
        assert_eq!(subdivision(*b"US", "CA").as_deref(), Ok("CA"));
        assert_eq!(subdivision(*b"US", "ny").as_deref(), Ok("NY"));
        assert_eq!(subdivision(*b"JP", "13").as_deref(), Ok("13"));
        assert_eq!(subdivision(*b"GB", "ENG").as_deref(), Ok("ENG"));
        let e = subdivision(*b"US", "XX").unwrap_err();
        assert!(e.contains("\"US-XX\"") && e.contains("US-"), "{e}");
    }
}
