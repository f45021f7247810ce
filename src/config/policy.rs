//! The routing-policy part of the config: health checks and plugins
//! (validated in health/check.rs), regions, CIDR collections, the latency table and
//! the GeoIP database.
//!
//! ```toml
//! [geo]
//! database = "../tests/data/geo/test-city.mmdb"
//!
//! [[region]]
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

use crate::health::HealthTable;
use crate::policy::{Collection, LatencyRow, PolicyConfig, Region};

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

/// One `[health.NAME]` table; which keys apply depends on `type` (see
/// health/check.rs, which validates them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// `http`, `https`, `tcp`, `calculated`, `plugin` or `static`; absent
    /// with `state`: static.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// Static checks: `up` or `down`.
    pub state: Option<Spanned<String>>,
    pub address: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub host: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub sni: Option<Spanned<String>>,
    /// Seconds.
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    pub threshold: Option<Spanned<i64>>,
    /// `"200-399"` or `"204"`.
    pub expect_status: Option<Spanned<String>>,
    pub body_contains: Option<Spanned<String>>,
    pub inverted: Option<Spanned<bool>>,
    pub ca_file: Option<Spanned<String>>,
    pub tls_verify: Option<Spanned<bool>>,
    pub children: Option<Spanned<Vec<Spanned<String>>>>,
    pub min_healthy: Option<Spanned<i64>>,
    pub plugin: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    /// Plugin checks: the state while the plugin cannot say (`up`/`down`).
    pub unknown: Option<Spanned<String>>,
}

/// One `[plugin.ID]` table: a health-source library and its settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    pub library: Spanned<String>,
    /// The name the library must report; default: the table's ID.
    pub name: Option<Spanned<String>>,
    pub config: Option<Spanned<String>>,
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
}

/// The validated policy settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySettings {
    pub geo_database: Option<PathBuf>,
    pub regions: Vec<Region>,
    pub collections: Vec<Collection>,
    pub latency: Vec<LatencyRow>,
    /// Health checks in index order (zones refer to them by index).
    pub health: Vec<crate::health::CheckDef>,
    /// `[plugin.ID]` health sources.
    pub plugins: Vec<crate::health::PluginDef>,
}

impl PolicySettings {
    /// Opens the GeoIP database and builds what queries read.
    pub fn build(&self) -> Result<(PolicyConfig, HealthTable), String> {
        let geo = match &self.geo_database {
            Some(path) => Some(crate::geo::GeoDb::open(path)?),
            None => None,
        };
        let names = self.health.iter().map(|c| c.name.clone()).collect();
        Ok((
            PolicyConfig::new(
                names,
                self.regions.clone(),
                self.collections.clone(),
                self.latency.clone(),
                geo,
            ),
            crate::health::initial_table(&self.health),
        ))
    }

    /// Whether zones compiled against `self` must be recompiled for
    /// `other`: check parameters (interval, address, …) do not matter to a
    /// zone, only the check names and their order, and the other tables.
    pub fn zones_differ(&self, other: &Self) -> bool {
        self.geo_database != other.geo_database
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

/// Validates the policy tables; problems go to `error(offset, message)`.
pub fn validate(
    geo: Option<&GeoSpec>,
    regions: &[RegionSpec],
    cidr: &BTreeMap<String, BTreeMap<String, Vec<Spanned<String>>>>,
    latency: &[LatencySpec],
    base: &Path,
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
        out.geo_database = Some(path);
    }
    for region in regions {
        let name = region.name.get_ref();
        if out.regions.iter().any(|r| &r.name == name) {
            error(
                region.name.span().start,
                format!("region \"{name}\" is defined twice"),
            );
            continue;
        }
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
        out.regions.push(Region {
            name: name.clone(),
            coordinates: (lat, lon),
        });
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
                    Ok(net) => nets.push(net.trunc()),
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
            Ok(net) => net.trunc(),
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
                None => error(
                    row.ms.span().start,
                    format!("unknown region \"{region}\": define it in a [[region]] table"),
                ),
            }
        }
        out.latency.push(LatencyRow { prefix, ms });
    }
    out
}
