//! The immutable set of everything a query reads, swapped whole on reload.
//!
//! A query loads the current snapshot once and never mixes versions; an
//! unchanged zone keeps its `Arc<Zone>` across reloads.

// The query path must not panic on any input.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use arc_swap::ArcSwap;

use crate::health::HealthTable;
use crate::policy::PolicyConfig;
use crate::query::Client;
use crate::zone::Zone;

/// Largest UDP payload we offer in EDNS (the DNS Flag Day 2020 value, and
/// Knot's default).
pub const DEFAULT_EDNS_UDP_SIZE: u16 = 1232;

/// Which clients a view serves. Empty lists match everything. A view that
/// lists destinations does not match a query whose local address is unknown
/// (a wildcard UDP socket): a private view must not leak by default.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ViewMatch {
    /// Source prefixes of the query.
    pub sources: Vec<IpNet>,
    /// Local addresses the query arrived on.
    pub destinations: Vec<IpNet>,
}

impl ViewMatch {
    pub fn matches(&self, client: &Client) -> bool {
        let within = |nets: &[IpNet], addr: IpAddr| {
            nets.is_empty() || nets.iter().any(|n| n.contains(&canonical(addr)))
        };
        within(&self.sources, client.addr.ip())
            && (self.destinations.is_empty()
                || client
                    .local
                    .is_some_and(|local| within(&self.destinations, local.ip())))
    }
}

/// IPv4-mapped IPv6 addresses are matched as the IPv4 address they carry.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// One split-horizon view: its own set of zones.
#[derive(Debug, Default)]
pub struct View {
    pub name: String,
    pub matcher: ViewMatch,
    /// Zones by lowercased apex wire name.
    pub zones: FxHashMap<Box<[u8]>, Arc<Zone>>,
}

impl View {
    pub fn new(
        name: impl Into<String>,
        matcher: ViewMatch,
        zones: impl IntoIterator<Item = Arc<Zone>>,
    ) -> Self {
        Self {
            name: name.into(),
            matcher,
            zones: zones
                .into_iter()
                .map(|z| (z.apex.as_wire().into(), z))
                .collect(),
        }
    }

    /// The zone with the longest apex that `lower_qname` is at or below.
    pub fn find_zone(&self, lower_qname: &[u8]) -> Option<&Zone> {
        let mut pos = 0usize;
        loop {
            let suffix = lower_qname.get(pos..)?;
            if let Some(zone) = self.zones.get(suffix) {
                return Some(zone);
            }
            let len = usize::from(*suffix.first()?);
            if len == 0 {
                return None;
            }
            pos += len + 1;
        }
    }
}

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Views in match order; the first whose matcher accepts the client
    /// answers. A client matching none is REFUSED.
    pub views: Vec<View>,
    /// The UDP payload size we advertise and cap responses at.
    pub edns_udp_size: u16,
    /// Health checks, regions, CIDR collections and the GeoIP database.
    pub policy: Arc<PolicyConfig>,
    /// Health states, published apart: a flip is one store into this
    /// cell, shared by every snapshot, and never recompiles a zone.
    pub health: Arc<ArcSwap<HealthTable>>,
}

impl Snapshot {
    /// One view that serves everyone.
    pub fn new(zones: impl IntoIterator<Item = Arc<Zone>>, edns_udp_size: u16) -> Self {
        Self {
            views: vec![View::new("default", ViewMatch::default(), zones)],
            edns_udp_size,
            ..Self::default()
        }
    }

    /// Views in match order (the reload path builds them from the config).
    pub fn with_views(views: Vec<View>, edns_udp_size: u16) -> Self {
        Self {
            views,
            edns_udp_size,
            ..Self::default()
        }
    }

    /// Sets the policy config and the shared health cell.
    pub fn with_policy(
        mut self,
        policy: Arc<PolicyConfig>,
        health: Arc<ArcSwap<HealthTable>>,
    ) -> Self {
        self.policy = policy;
        self.health = health;
        self
    }

    pub fn view_for(&self, client: &Client) -> Option<&View> {
        self.views.iter().find(|v| v.matcher.matches(client))
    }
}
