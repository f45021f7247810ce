//! Client location: a MaxMind-format (GeoIP2/GeoLite2 City or Country
//! layout) database looked up by address, and great-circle distances.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// Where an address is, as far as the database knows. `Copy`, so the
/// per-thread cache hands it out without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Location {
    /// Continent code (`EU`, `NA`, …), uppercase.
    pub(crate) continent: Option<[u8; 2]>,
    /// ISO 3166-1 country code, uppercase.
    pub(crate) country: Option<[u8; 2]>,
    /// ISO 3166-2 subdivision code without the country (`CA` for US-CA).
    pub(crate) subdivision: Option<Subdivision>,
    /// Latitude and longitude in degrees.
    pub(crate) coordinates: Option<(f64, f64)>,
}

/// An ISO 3166-2 subdivision code: one to three letters or digits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Subdivision {
    bytes: [u8; 3],
    len: u8,
}

impl Subdivision {
    pub(crate) fn new(code: &str) -> Option<Self> {
        let code = code.as_bytes();
        if code.is_empty() || code.len() > 3 {
            return None;
        }
        let mut bytes = [0u8; 3];
        for (d, s) in bytes.iter_mut().zip(code) {
            *d = s.to_ascii_uppercase();
        }
        Some(Self {
            bytes,
            len: code.len() as u8,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        let used = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(used).unwrap_or("")
    }
}

/// The database, read into memory once.
pub(crate) struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    /// Tells this database's cache entries from a reloaded one's.
    id: u64,
}

/// Lookups cached per thread: the tree walk and record decoding cost more
/// than the rest of a query, and clients repeat.
const CACHE_SLOTS: usize = 4096;

type CacheEntry = (u64, IpAddr, Option<(Location, u8)>);

thread_local! {
    static CACHE: std::cell::RefCell<Vec<Option<CacheEntry>>> =
        std::cell::RefCell::new(vec![None; CACHE_SLOTS]);
}

fn slot(ip: IpAddr) -> usize {
    let bits = match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let mixed = (bits as u64 ^ (bits >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 52) as usize % CACHE_SLOTS
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeoDb")
    }
}

// Only the fields we use; serde skips the rest of each record.
#[derive(Deserialize)]
struct MmdbRecord<'a> {
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

/// A GeoIP database that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot read GeoIP database {path}: {source} (a MaxMind-format .mmdb, signpost.toml(5), ROUTING POLICY TABLES)")]
pub(crate) struct GeoError {
    path: String,
    source: maxminddb::MaxMindDbError,
}

impl GeoDb {
    pub(crate) fn open(path: &Path) -> Result<Self, GeoError> {
        maxminddb::Reader::open_readfile(path)
            .map(|reader| {
                static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                Self {
                    reader,
                    id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                }
            })
            .map_err(|source| GeoError {
                path: path.display().to_string(),
                source,
            })
    }

    /// The location of `ip` and the prefix length of the database network
    /// it falls in (the ECS scope this decision supports). `None` when the
    /// database has nothing for the address.
    pub(crate) fn locate(&self, ip: IpAddr) -> Option<(Location, u8)> {
        let index = slot(ip);
        let cached = CACHE.with(|c| {
            c.borrow()
                .get(index)
                .copied()
                .flatten()
                .filter(|(id, addr, _)| *id == self.id && *addr == ip)
        });
        if let Some((_, _, found)) = cached {
            return found;
        }
        let found = self.lookup(ip);
        CACHE.with(|c| {
            if let Some(entry) = c.borrow_mut().get_mut(index) {
                *entry = Some((self.id, ip, found));
            }
        });
        found
    }

    fn lookup(&self, ip: IpAddr) -> Option<(Location, u8)> {
        let result = self.reader.lookup(ip).ok()?;
        let prefix = result.network().ok().map_or(0, |n| n.prefix());
        let record: MmdbRecord<'_> = result.decode().ok()??;
        let location = Location {
            continent: code2(record.continent.and_then(|c| c.code)),
            country: code2(record.country.and_then(|c| c.iso_code)),
            subdivision: record
                .subdivisions
                .first()
                .and_then(|s| s.iso_code)
                .and_then(Subdivision::new),
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
pub(crate) fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
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
