//! Routing policies (SPEC §3): record sets chosen per query.
//!
//! ```text
//! zone file  `www A 192.0.2.1 ;@ weighted id=blue weight=70 health=web`
//!   ─► annotation::parse (names → indices via PolicyConfig; location
//!      codes checked by codes, region names from regions or the config)
//!   ─► compile::build groups records by owner, type and set id: PolicyGroup
//!   ─► select::select (per query: health table, client location, ECS
//!      scope, a draw from random::Random) ─► the chosen sets' records
//! ```
//!
//! A policy group is all the sets at one owner and type; every set has one
//! policy and its own rule (weight, role, location, …).

pub(crate) mod annotation;
pub(crate) mod codes;
pub(crate) mod random;
pub(crate) mod regions;
pub(crate) mod select;

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use crate::geo::GeoDb;
use crate::proto::Rrset;
use crate::stats::LabelId;

/// The eight policies of SPEC §3 (simple is a plain RRset, no group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Weighted,
    Failover,
    Geolocation,
    Geoproximity,
    Latency,
    Cidr,
    Multivalue,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::Failover => "failover",
            Self::Geolocation => "geolocation",
            Self::Geoproximity => "geoproximity",
            Self::Latency => "latency",
            Self::Cidr => "cidr",
            Self::Multivalue => "multivalue",
        }
    }
}

/// Which clients a geolocation set is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GeoMatch {
    Default,
    Continent([u8; 2]),
    Country([u8; 2]),
    Subdivision([u8; 2], Box<str>),
}

/// What decides for one set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    Weighted {
        weight: u8,
    },
    Failover {
        primary: bool,
    },
    Geolocation(GeoMatch),
    Geoproximity {
        coordinates: (f64, f64),
        bias: i8,
    },
    Latency {
        region: u32,
    },
    Cidr {
        collection: u32,
        location: Option<u32>,
    },
    Multivalue,
}

impl Rule {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Weighted { .. } => Kind::Weighted,
            Self::Failover { .. } => Kind::Failover,
            Self::Geolocation(_) => Kind::Geolocation,
            Self::Geoproximity { .. } => Kind::Geoproximity,
            Self::Latency { .. } => Kind::Latency,
            Self::Cidr { .. } => Kind::Cidr,
            Self::Multivalue => Kind::Multivalue,
        }
    }
}

/// One set of a policy group: its records and the rule that picks it.
#[derive(Debug, Clone)]
pub(crate) struct PolicySet {
    pub(crate) id: Box<str>,
    pub(crate) rule: Rule,
    /// Index of the health check deciding this set, if any.
    pub(crate) health: Option<u32>,
    /// For ALIAS sets: unhealthy when the target has no healthy answer.
    pub(crate) evaluate_health: bool,
    pub(crate) rrset: Rrset,
    /// Zone, owner, type and id as a metrics label (`stats::labels`).
    pub(crate) label: LabelId,
}

/// All the sets at one owner and type.
#[derive(Debug, Clone)]
pub(crate) struct PolicyGroup {
    pub(crate) rtype: u16,
    pub(crate) kind: Kind,
    pub(crate) sets: Vec<PolicySet>,
}

/// A region with coordinates, for geoproximity and latency.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Region {
    pub(crate) name: String,
    pub(crate) coordinates: (f64, f64),
}

/// A named CIDR collection: locations, each with its prefixes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Collection {
    pub(crate) name: String,
    pub(crate) locations: Vec<(String, Vec<IpNet>)>,
}

/// One row of the latency table: clients in `prefix` measured `ms` to
/// each region (by index).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LatencyRow {
    pub(crate) prefix: IpNet,
    pub(crate) ms: Vec<(u32, u32)>,
}

/// Everything policies need from the config, at compile and query time.
#[derive(Debug, Default)]
pub(crate) struct PolicyConfig {
    pub(crate) regions: Vec<Region>,
    pub(crate) collections: Vec<Collection>,
    pub(crate) latency: Vec<LatencyRow>,
    pub(crate) geo: Option<GeoDb>,
    /// Health check names to their index in the health table.
    health_index: FxHashMap<String, u32>,
    region_index: FxHashMap<String, u32>,
}

impl PolicyConfig {
    pub(crate) fn new(
        health_checks: Vec<String>,
        regions: Vec<Region>,
        collections: Vec<Collection>,
        latency: Vec<LatencyRow>,
        geo: Option<GeoDb>,
    ) -> Self {
        let health_index = health_checks
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let region_index = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i as u32))
            .collect();
        Self {
            regions,
            collections,
            latency,
            geo,
            health_index,
            region_index,
        }
    }

    /// How many health checks the zones may refer to.
    #[cfg(test)]
    pub(crate) fn health_check_count(&self) -> usize {
        self.health_index.len()
    }

    pub(crate) fn health_index(&self, name: &str) -> Option<u32> {
        self.health_index.get(name).copied()
    }

    pub(crate) fn region_index(&self, name: &str) -> Option<u32> {
        self.region_index.get(name).copied()
    }

    pub(crate) fn collection_index(&self, name: &str) -> Option<u32> {
        self.collections
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    /// Longest-prefix match of `ip` among a collection's locations:
    /// (location index, prefix length).
    pub(crate) fn cidr_match(&self, collection: u32, ip: IpAddr) -> Option<(u32, u8)> {
        let collection = self.collections.get(collection as usize)?;
        let mut best: Option<(u32, u8)> = None;
        for (i, (_, prefixes)) in collection.locations.iter().enumerate() {
            for net in prefixes {
                if net.contains(&ip) && best.is_none_or(|(_, len)| net.prefix_len() > len) {
                    best = Some((i as u32, net.prefix_len()));
                }
            }
        }
        best
    }

    /// The most specific latency-table row for `ip`.
    pub(crate) fn latency_row(&self, ip: IpAddr) -> Option<&LatencyRow> {
        self.latency
            .iter()
            .filter(|row| row.prefix.contains(&ip))
            .max_by_key(|row| row.prefix.prefix_len())
    }
}
