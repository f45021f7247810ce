//! Client location: a MaxMind-format (GeoIP2/GeoLite2 City or Country
//! layout) database looked up by address, and great-circle distances.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// Where an address is, as far as the database knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// Continent code (`EU`, `NA`, …), uppercase.
    pub continent: Option<[u8; 2]>,
    /// ISO 3166-1 country code, uppercase.
    pub country: Option<[u8; 2]>,
    /// ISO 3166-2 subdivision code without the country (`CA` for US-CA).
    pub subdivision: Option<Box<str>>,
    /// Latitude and longitude in degrees.
    pub coordinates: Option<(f64, f64)>,
}

/// The database, read into memory once.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeoDb")
    }
}

// Only the fields we use; serde skips the rest of each record.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    continent: Option<Code<'a>>,
    #[serde(borrow, default)]
    country: Option<Iso<'a>>,
    #[serde(borrow, default)]
    subdivisions: Vec<Iso<'a>>,
    #[serde(default)]
    location: Option<Coordinates>,
}

#[derive(Deserialize)]
struct Code<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Iso<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Coordinates {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

fn code2(text: Option<&str>) -> Option<[u8; 2]> {
    let bytes = text?.as_bytes();
    match bytes {
        [a, b] => Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
        _ => None,
    }
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<Self, String> {
        maxminddb::Reader::open_readfile(path)
            .map(|reader| Self { reader })
            .map_err(|e| format!("cannot read GeoIP database {}: {e}", path.display()))
    }

    /// The location of `ip` and the prefix length of the database network
    /// it falls in (the ECS scope this decision supports). `None` when the
    /// database has nothing for the address.
    pub fn locate(&self, ip: IpAddr) -> Option<(Location, u8)> {
        let result = self.reader.lookup(ip).ok()?;
        let prefix = result.network().ok().map_or(0, |n| n.prefix());
        let record: Record<'_> = result.decode().ok()??;
        let location = Location {
            continent: code2(record.continent.and_then(|c| c.code)),
            country: code2(record.country.and_then(|c| c.iso_code)),
            subdivision: record
                .subdivisions
                .first()
                .and_then(|s| s.iso_code)
                .map(|s| s.to_ascii_uppercase().into_boxed_str()),
            coordinates: record
                .location
                .and_then(|l| Some((l.latitude?, l.longitude?))),
        };
        // An IPv4 address in an IPv6 tree reports the IPv6 prefix.
        let prefix = match ip {
            IpAddr::V4(_) if prefix > 32 => prefix.saturating_sub(96),
            _ => prefix,
        };
        Some((location, prefix))
    }
}

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let paris = (48.86, 2.35);
        let london = (51.51, -0.13);
        let d = distance_km(paris, london);
        assert!((330.0..360.0).contains(&d), "{d}");
        assert!(distance_km(paris, paris) < 1e-6);
    }
}
