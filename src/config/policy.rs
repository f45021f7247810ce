//! The routing-policy part of the config: regions, CIDR collections, the
//! latency table and the GeoIP database, validated here into the policy
//! module's own types; and the health checks and plugins, whose tables
//! the health module owns and validates (health/spec.rs, health/check.rs).
//!
//! ```toml
//! [geo]
//! database = "../tests/data/geo/test-city.mmdb"
//!
//! [[region]]                  # besides the predefined AWS regions
//! name = "eu-central"
//! latitude = 50.11
//! longitude = 8.68
//!
//! [cidr.corp]                 # a collection; each key is a location
//! office = ["192.0.2.0/24", "2001:db8:1::/48"]
//!
//! [[latency]]
//! prefix = "198.51.100.0/24"
//! ms = { eu-central = 90, us-west = 12 }
//!
//! [health.web-eu]
//! type = "https"              # see health/check.rs for every key
//! address = "192.0.2.10"
//! host = "www.example.com"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::policy::{Collection, LatencyRow, Region};
use crate::proto::Position;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoSpec {
    /// A MaxMind-format database (GeoIP2/GeoLite2 City or Country).
    pub database: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    pub name: Spanned<String>,
    pub latitude: Spanned<f64>,
    pub longitude: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    pub prefix: Spanned<String>,
    /// Region name → measured milliseconds.
    pub ms: Spanned<BTreeMap<String, u32>>,
}

/// `[geo] database`: the file, and where the config names it.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoDatabase {
    pub path: PathBuf,
    pub position: Position,
}

/// The validated policy settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    pub geo_database: Option<GeoDatabase>,
    pub(crate) regions: Vec<Region>,
    pub(crate) collections: Vec<Collection>,
    pub(crate) latency: Vec<LatencyRow>,
    /// Health checks in index order (zones refer to them by index).
    pub health: Vec<crate::health::CheckDef>,
    /// `[plugin.ID]` health sources.
    pub plugins: Vec<crate::health::PluginDef>,
    /// `[health_ttl]`: short TTLs while checks fail or recover.
    pub health_ttl: Option<crate::health::TtlLowering>,
}

/// Without a config: the predefined cloud regions and nothing else.
impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            geo_database: None,
            regions: crate::policy::regions::predefined(),
            collections: Vec::new(),
            latency: Vec::new(),
            health: Vec::new(),
            plugins: Vec::new(),
            health_ttl: None,
        }
    }
}

impl PolicySettings {
    /// Whether zones compiled against `self` must be recompiled for
    /// `other`: check parameters (interval, address, …) do not matter to a
    /// zone, only the check names and their order, and the other tables.
    pub fn zones_differ(&self, other: &Self) -> bool {
        self.geo_database.as_ref().map(|g| &g.path) != other.geo_database.as_ref().map(|g| &g.path)
            || self.regions != other.regions
            || self.collections != other.collections
            || self.latency != other.latency
            || !self
                .health
                .iter()
                .map(|c| &c.name)
                .eq(other.health.iter().map(|c| &c.name))
    }
}

/// A prefix with host bits set is usually a typo for a narrower prefix or
/// a host: say which network it would be rather than widen it silently.
fn host_bits(text: &str, net: IpNet) -> String {
    format!(
        "\"{text}\" has host bits set: write \"{}\" for the network, or \"{}/{}\" for the one address",
        net.trunc(),
        net.addr(),
        net.max_prefix_len()
    )
}

/// Validates the policy tables; problems go to `error(offset, message)`.
pub fn validate(
    geo: Option<&GeoSpec>,
    regions: &[RegionSpec],
    cidr: &BTreeMap<String, BTreeMap<String, Vec<Spanned<String>>>>,
    latency: &[LatencySpec],
    base: &Path,
    locate: &dyn Fn(usize) -> Position,
    error: &mut dyn FnMut(usize, String),
) -> PolicySettings {
    let mut out = PolicySettings::default();
    if let Some(geo) = geo {
        let path = base.join(geo.database.get_ref());
        if !path.is_file() {
            error(
                geo.database.span().start,
                format!("GeoIP database \"{}\" does not exist", path.display()),
            );
        }
        out.geo_database = Some(GeoDatabase {
            path,
            position: locate(geo.database.span().start),
        });
    }
    // The predefined regions (policy/regions.rs) come first; a [[region]]
    // of the same name moves one, any other name adds one.
    let mut defined: Vec<&str> = Vec::new();
    for region in regions {
        let name = region.name.get_ref();
        if defined.contains(&name.as_str()) {
            error(
                region.name.span().start,
                format!("region \"{name}\" is defined twice"),
            );
            continue;
        }
        defined.push(name);
        let lat = *region.latitude.get_ref();
        let lon = *region.longitude.get_ref();
        if !(-90.0..=90.0).contains(&lat) {
            error(
                region.latitude.span().start,
                "latitude must be from -90 to 90".into(),
            );
        }
        if !(-180.0..=180.0).contains(&lon) {
            error(
                region.longitude.span().start,
                "longitude must be from -180 to 180".into(),
            );
        }
        match out.regions.iter_mut().find(|r| &r.name == name) {
            Some(predefined) => predefined.coordinates = (lat, lon),
            None => out.regions.push(Region {
                name: name.clone(),
                coordinates: (lat, lon),
            }),
        }
    }
    for (name, locations) in cidr {
        let mut collection = Collection {
            name: name.clone(),
            locations: Vec::new(),
        };
        for (location, prefixes) in locations {
            let mut nets = Vec::new();
            for prefix in prefixes {
                match prefix.get_ref().parse::<IpNet>() {
                    Ok(net) if net.trunc() != net => {
                        error(prefix.span().start, host_bits(prefix.get_ref(), net))
                    }
                    Ok(net) => nets.push(net),
                    Err(_) => error(
                        prefix.span().start,
                        format!(
                            "\"{}\" is not a CIDR prefix like 192.0.2.0/24",
                            prefix.get_ref()
                        ),
                    ),
                }
            }
            collection.locations.push((location.clone(), nets));
        }
        out.collections.push(collection);
    }
    for row in latency {
        let prefix = match row.prefix.get_ref().parse::<IpNet>() {
            Ok(net) if net.trunc() != net => {
                error(
                    row.prefix.span().start,
                    host_bits(row.prefix.get_ref(), net),
                );
                continue;
            }
            Ok(net) => net,
            Err(_) => {
                error(
                    row.prefix.span().start,
                    format!("\"{}\" is not a CIDR prefix", row.prefix.get_ref()),
                );
                continue;
            }
        };
        let mut ms = Vec::new();
        for (region, value) in row.ms.get_ref() {
            match out.regions.iter().position(|r| &r.name == region) {
                Some(i) => ms.push((i as u32, *value)),
                None => error(row.ms.span().start, unknown_region(region, &out.regions)),
            }
        }
        out.latency.push(LatencyRow { prefix, ms });
    }
    out
}

/// An unknown region name in the latency table: the nearest known names
/// and the whole list.
fn unknown_region(name: &str, regions: &[Region]) -> String {
    let known = regions.iter().map(|r| r.name.as_str());
    let hint = match crate::policy::regions::similar(name, known.clone()).first() {
        Some(near) => format!("did you mean {near}? "),
        None => String::new(),
    };
    let mut all: Vec<&str> = known.collect();
    all.sort_unstable();
    format!(
        "unknown region \"{name}\": {hint}known regions are {}; a [[region]] table adds one",
        all.join(", ")
    )
}
