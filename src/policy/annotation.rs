//! The `;@ POLICY key=value …` annotation of a record, checked against the
//! config (health checks, regions, CIDR collections) and compiled to a
//! [`Rule`]. Errors carry the byte offset of the offending word so the zone
//! builder can report `file:line:col`.

use super::{GeoMatch, Kind, PolicyConfig, Rule};

/// A parsed annotation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotated {
    pub(crate) id: Box<str>,
    pub(crate) rule: Rule,
    pub(crate) health: Option<u32>,
    pub(crate) evaluate_health: bool,
}

/// An error at a byte offset of the annotation text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnnotationError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

fn err(offset: usize, message: impl Into<String>) -> AnnotationError {
    AnnotationError {
        offset,
        message: message.into(),
    }
}

/// Words of the text with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_ascii_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

const POLICIES: &str = "weighted, failover, geolocation, geoproximity, latency, cidr or multivalue";

fn keys_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Weighted => &["weight"],
        Kind::Failover => &["role"],
        Kind::Geolocation => &["continent", "country", "subdivision", "location"],
        Kind::Geoproximity => &["region", "coordinates", "bias"],
        Kind::Latency => &["region"],
        Kind::Cidr => &["collection", "location"],
        Kind::Multivalue => &[],
    }
}

fn two_letters(value: &str) -> Option<[u8; 2]> {
    match value.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Parses `text` (what follows `;@`).
pub(crate) fn parse(text: &str, config: &PolicyConfig) -> Result<Annotated, AnnotationError> {
    let mut it = words(text);
    let Some((at, name)) = it.next() else {
        return Err(err(
            0,
            format!("empty policy annotation: expected {POLICIES}"),
        ));
    };
    let kind = match name.to_ascii_lowercase().as_str() {
        "weighted" => Kind::Weighted,
        "failover" => Kind::Failover,
        "geolocation" | "geo" => Kind::Geolocation,
        "geoproximity" => Kind::Geoproximity,
        "latency" => Kind::Latency,
        "cidr" | "ip" | "ip-based" => Kind::Cidr,
        "multivalue" => Kind::Multivalue,
        other => {
            return Err(err(
                at,
                format!("unknown routing policy \"{other}\": expected {POLICIES}"),
            ))
        }
    };
    let mut values: Vec<(usize, &str, &str)> = Vec::new();
    for (at, word) in it {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let key_known =
            matches!(key, "id" | "health" | "evaluate-health") || keys_for(kind).contains(&key);
        if !key_known {
            let mut allowed: Vec<&str> = vec!["id", "health", "evaluate-health"];
            allowed.extend_from_slice(keys_for(kind));
            return Err(err(
                at,
                format!(
                    "unknown key \"{key}\" for the {} policy (allowed: {})",
                    kind.name(),
                    allowed.join(", ")
                ),
            ));
        }
        if values.iter().any(|(_, k, _)| *k == key) {
            return Err(err(at, format!("key \"{key}\" given twice")));
        }
        if value.is_empty() && key != "evaluate-health" {
            return Err(err(at, format!("key \"{key}\" needs a value: {key}=…")));
        }
        values.push((at, key, value));
    }
    let get = |key: &str| {
        values
            .iter()
            .find(|(_, k, _)| *k == key)
            .map(|&(at, _, v)| (at, v))
    };
    let required = |key: &str| {
        get(key).ok_or_else(|| err(at, format!("the {} policy needs {key}=…", kind.name())))
    };
    let (_, id) = required("id")?;
    let health = match get("health") {
        Some((at, name)) => Some(config.health_index(name).ok_or_else(|| {
            err(
                at,
                format!("unknown health check \"{name}\": define [health.{name}] in the config"),
            )
        })?),
        None => None,
    };
    let evaluate_health = match get("evaluate-health") {
        None => false,
        Some((_, "" | "true" | "yes")) => true,
        Some((_, "false" | "no")) => false,
        Some((at, other)) => {
            return Err(err(
                at,
                format!("evaluate-health takes true or false, not \"{other}\""),
            ))
        }
    };
    let rule = match kind {
        Kind::Weighted => {
            let (at, value) = required("weight")?;
            let weight = value.parse::<u8>().map_err(|_| {
                err(
                    at,
                    format!("weight \"{value}\" is not a whole number from 0 to 255"),
                )
            })?;
            Rule::Weighted { weight }
        }
        Kind::Failover => {
            let (at, value) = required("role")?;
            let primary = match value {
                "primary" => true,
                "secondary" => false,
                other => {
                    return Err(err(
                        at,
                        format!("role \"{other}\" must be primary or secondary"),
                    ))
                }
            };
            Rule::Failover { primary }
        }
        Kind::Geolocation => Rule::Geolocation(geo_match(&get, at)?),
        Kind::Geoproximity => {
            let coordinates = match (get("region"), get("coordinates")) {
                (Some(_), Some((at, _))) => {
                    return Err(err(at, "give either region= or coordinates=, not both"))
                }
                (Some((at, name)), None) => {
                    let index = region(config, at, name)?;
                    config
                        .regions
                        .get(index as usize)
                        .map(|r| r.coordinates)
                        .unwrap_or_default()
                }
                (None, Some((at, text))) => coordinates(at, text)?,
                (None, None) => {
                    return Err(err(
                        at,
                        "the geoproximity policy needs region=… or coordinates=LAT,LON",
                    ))
                }
            };
            let bias = match get("bias") {
                None => 0,
                Some((at, value)) => value
                    .parse::<i8>()
                    .ok()
                    .filter(|b| (-99..=99).contains(b))
                    .ok_or_else(|| err(at, format!("bias \"{value}\" must be from -99 to 99")))?,
            };
            Rule::Geoproximity { coordinates, bias }
        }
        Kind::Latency => {
            let (at, name) = required("region")?;
            Rule::Latency {
                region: region(config, at, name)?,
            }
        }
        Kind::Cidr => {
            let (at, name) = required("collection")?;
            let collection = config.collection_index(name).ok_or_else(|| {
                err(
                    at,
                    format!(
                        "unknown CIDR collection \"{name}\": define [cidr.{name}] in the config"
                    ),
                )
            })?;
            let (at, loc) = required("location")?;
            let location = if loc == "*" {
                None
            } else {
                let locations = config
                    .collections
                    .get(collection as usize)
                    .map(|c| &c.locations);
                let index = locations
                    .and_then(|l| l.iter().position(|(n, _)| n == loc))
                    .ok_or_else(|| {
                        err(
                            at,
                            format!("unknown location \"{loc}\" in CIDR collection \"{name}\""),
                        )
                    })?;
                Some(index as u32)
            };
            Rule::Cidr {
                collection,
                location,
            }
        }
        Kind::Multivalue => Rule::Multivalue,
    };
    Ok(Annotated {
        id: id.into(),
        rule,
        health,
        evaluate_health,
    })
}

fn region(config: &PolicyConfig, at: usize, name: &str) -> Result<u32, AnnotationError> {
    config.region_index(name).ok_or_else(|| {
        err(
            at,
            format!("unknown region \"{name}\": define it in a [[region]] table of the config"),
        )
    })
}

fn coordinates(at: usize, text: &str) -> Result<(f64, f64), AnnotationError> {
    let bad = || {
        err(
            at,
            format!("coordinates \"{text}\" must be LAT,LON in degrees (-90..90, -180..180)"),
        )
    };
    let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    Ok((lat, lon))
}

fn geo_match<'t>(
    get: &dyn Fn(&str) -> Option<(usize, &'t str)>,
    at: usize,
) -> Result<GeoMatch, AnnotationError> {
    let given = ["continent", "country", "subdivision", "location"]
        .iter()
        .filter(|k| get(k).is_some())
        .count();
    if let Some((at, value)) = get("location") {
        if value != "*" || given > 1 {
            return Err(err(at, "location= only takes * (the default set); use continent=, country= or subdivision="));
        }
        return Ok(GeoMatch::Default);
    }
    if let Some((at, value)) = get("continent") {
        if given > 1 {
            return Err(err(at, "continent= stands alone"));
        }
        let code = two_letters(value)
            .filter(|c| CONTINENTS.iter().any(|k| k.as_bytes() == c))
            .ok_or_else(|| {
                err(
                    at,
                    format!(
                        "continent \"{value}\" must be one of {}",
                        CONTINENTS.join(", ")
                    ),
                )
            })?;
        return Ok(GeoMatch::Continent(code));
    }
    let country = match get("country") {
        Some((at, value)) => Some(two_letters(value).ok_or_else(|| {
            err(
                at,
                format!("country \"{value}\" must be a two-letter ISO 3166 code"),
            )
        })?),
        None => None,
    };
    match (country, get("subdivision")) {
        (country, Some((at, value))) => {
            // `subdivision=US-CA`, or `country=US subdivision=CA`.
            let (c, sub) = match (country, value.split_once('-')) {
                (Some(c), None) => (c, value),
                (None, Some((c, sub))) => (
                    two_letters(c).ok_or_else(|| {
                        err(
                            at,
                            format!("subdivision \"{value}\" must be CC-SUB, e.g. US-CA"),
                        )
                    })?,
                    sub,
                ),
                (Some(c), Some((c2, sub))) if two_letters(c2) == Some(c) => (c, sub),
                _ => {
                    return Err(err(
                        at,
                        format!(
                        "subdivision \"{value}\" must be CC-SUB, e.g. US-CA, or go with country="
                    ),
                    ))
                }
            };
            if sub.is_empty() || sub.len() > 3 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(err(
                    at,
                    format!("subdivision \"{value}\" must be an ISO 3166-2 code, e.g. US-CA"),
                ));
            }
            Ok(GeoMatch::Subdivision(c, sub.to_ascii_uppercase().into()))
        }
        (Some(c), None) => Ok(GeoMatch::Country(c)),
        (None, None) => Err(err(
            at,
            "the geolocation policy needs continent=, country=, subdivision= or location=*",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Region;

    fn config() -> PolicyConfig {
        PolicyConfig::new(
            vec!["web".into()],
            vec![Region {
                name: "eu-west".into(),
                coordinates: (53.3, -6.3),
            }],
            Vec::new(),
            Vec::new(),
            None,
        )
    }

    #[test]
    fn parses_each_policy() {
        let c = config();
        let a = parse("weighted id=blue weight=70 health=web", &c).unwrap();
        assert_eq!(a.rule, Rule::Weighted { weight: 70 });
        assert_eq!(a.health, Some(0));
        let a = parse("geolocation id=ca subdivision=US-CA", &c).unwrap();
        assert_eq!(
            a.rule,
            Rule::Geolocation(GeoMatch::Subdivision(*b"US", "CA".into()))
        );
        let a = parse("geoproximity id=x region=eu-west bias=-20", &c).unwrap();
        assert_eq!(
            a.rule,
            Rule::Geoproximity {
                coordinates: (53.3, -6.3),
                bias: -20
            }
        );
        let a = parse("multivalue id=m1 evaluate-health", &c).unwrap();
        assert!(a.evaluate_health);
    }

    #[test]
    fn errors_point_at_the_word() {
        let c = config();
        let e = parse("weighted id=a weight=300", &c).unwrap_err();
        assert_eq!(e.offset, 14);
        let e = parse("weighted id=a weight=1 health=nope", &c).unwrap_err();
        assert_eq!(e.offset, 23);
        assert!(e.message.contains("unknown health check"));
        let e = parse("roundrobin id=a", &c).unwrap_err();
        assert_eq!(e.offset, 0);
        let e = parse("failover role=primary", &c).unwrap_err();
        assert!(e.message.contains("needs id="));
        let e = parse("geolocation id=a continent=XX", &c).unwrap_err();
        assert_eq!(e.offset, 17);
    }
}
