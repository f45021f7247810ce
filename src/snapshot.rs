//! The immutable set of everything a query reads, swapped whole on reload.
//!
//! A query loads the current snapshot once and never mixes versions; an
//! unchanged zone keeps its `Arc<Zone>` across reloads. The compile stage
//! assembles it (`compile::snapshot`).

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use arc_swap::ArcSwap;

use crate::health::HealthTable;
use crate::policy::PolicyConfig;
use crate::proto::{canonical, Client, Name};
use crate::stats::{labels, LabelId};
use crate::tsig::Keyring;
use crate::upstream;
use crate::zone::Zone;

/// Largest UDP payload we offer in EDNS (the DNS Flag Day 2020 value, and
/// Knot's default).
pub(crate) const DEFAULT_EDNS_UDP_SIZE: u16 = 1232;

/// The order of the records of an answer RRset (`[server] rrset_order`).
/// Signatures do not depend on it (RFC 4034 §6.3 signs canonical order).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RrsetOrder {
    /// Shuffled per answer, as Route 53 answers a multi-value record.
    #[default]
    Random,
    /// Rotated by one per answer, BIND's `rrset-order cyclic`.
    Cyclic,
    /// As in the zone file, as Knot and NSD answer.
    Fixed,
}

/// Which clients a view serves. Empty lists match everything. A view that
/// lists destinations does not match a query whose local address is unknown
/// (a wildcard UDP socket): a private view must not leak by default.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ViewMatch {
    /// Source prefixes of the query.
    pub(crate) sources: Vec<IpNet>,
    /// Local addresses the query arrived on.
    pub(crate) destinations: Vec<IpNet>,
    /// TSIG keys (lowercased names) one of which must have signed the
    /// request, verified.
    pub(crate) keys: Vec<Name>,
}

impl ViewMatch {
    /// Whether a query from `client` matches; `key` is the lowercased wire
    /// name of the TSIG key it was signed with, once verified (`None`:
    /// unsigned).
    #[inline]
    pub(crate) fn matches(&self, client: &Client, key: Option<&[u8]>) -> bool {
        let within = |nets: &[IpNet], addr: IpAddr| {
            nets.is_empty() || nets.iter().any(|n| n.contains(&canonical(addr)))
        };
        within(&self.sources, client.addr.ip())
            && (self.destinations.is_empty()
                || client
                    .local
                    .is_some_and(|local| within(&self.destinations, local.ip())))
            && (self.keys.is_empty()
                || key.is_some_and(|key| self.keys.iter().any(|k| k.as_wire() == key)))
    }
}

/// One split-horizon view: its own set of zones.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub(crate) name: String,
    /// The name as a metrics label (`stats::labels`).
    pub(crate) label: LabelId,
    pub(crate) matcher: ViewMatch,
    /// Zones by lowercased apex wire name.
    pub(crate) zones: FxHashMap<Box<[u8]>, Arc<Zone>>,
}

impl View {
    pub(crate) fn new(
        name: impl Into<String>,
        matcher: ViewMatch,
        zones: impl IntoIterator<Item = Arc<Zone>>,
    ) -> Self {
        let name = name.into();
        Self {
            label: labels::intern(&[&name]),
            name,
            matcher,
            zones: zones
                .into_iter()
                .map(|z| (z.apex.as_wire().into(), z))
                .collect(),
        }
    }

    /// The zone with the longest apex that `lower_qname` is at or below.
    pub(crate) fn find_zone(&self, lower_qname: &[u8]) -> Option<&Zone> {
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

#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Views in match order; the first whose matcher accepts the client
    /// answers. A client matching none is REFUSED.
    pub(crate) views: Vec<View>,
    /// The UDP payload size we advertise and cap responses at.
    pub(crate) edns_udp_size: u16,
    /// The order of the records of each answer RRset.
    pub(crate) rrset_order: RrsetOrder,
    /// Health checks, regions, CIDR collections and the GeoIP database.
    pub(crate) policy: Arc<PolicyConfig>,
    /// Health states, published apart: a flip is one store into this
    /// cell, shared by every snapshot, and never recompiles a zone.
    pub(crate) health: Arc<ArcSwap<HealthTable>>,
    /// Addresses of ALIAS targets outside our zones, published apart by
    /// the upstream refresher.
    pub(crate) aliases: Arc<ArcSwap<upstream::Cache>>,
    /// TSIG keys signed requests are checked with.
    pub(crate) keys: Arc<Keyring>,
}

/// Serves nothing: what queries see before the first zones load.
impl Default for Snapshot {
    fn default() -> Self {
        Self {
            views: Vec::new(),
            edns_udp_size: DEFAULT_EDNS_UDP_SIZE,
            rrset_order: RrsetOrder::default(),
            policy: Arc::default(),
            health: Arc::default(),
            aliases: Arc::default(),
            keys: Arc::default(),
        }
    }
}

impl Snapshot {
    /// The view for a query signed with the TSIG key named `key` (verified),
    /// or unsigned when `key` is `None`.
    #[inline]
    pub(crate) fn view_for(&self, client: &Client, key: Option<&[u8]>) -> Option<&View> {
        self.views.iter().find(|v| v.matcher.matches(client, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Transport;
    use crate::tsig::{Algorithm, Key};

    fn client(addr: &str) -> Client {
        Client {
            addr: std::net::SocketAddr::new(addr.parse().unwrap(), 5300),
            local: None,
            transport: Transport::Udp,
        }
    }

    #[test]
    fn views_match_on_verified_key_names() {
        let keyring = Arc::new(Keyring::new(vec![
            Key::new(b"\x01a\x00", Algorithm::HmacSha256, &[1; 32]),
            Key::new(b"\x01b\x00", Algorithm::HmacSha256, &[2; 32]),
        ]));
        let keyed = ViewMatch {
            sources: vec!["10.0.0.0/8".parse().unwrap()],
            keys: vec![Name::from_wire(b"\x01a\x00").unwrap()],
            ..ViewMatch::default()
        };
        let open = ViewMatch::default();
        let inside = client("10.1.2.3");
        assert!(keyed.matches(&inside, Some(b"\x01a\x00")));
        // Unsigned, another key, or the right key from outside: no.
        assert!(!keyed.matches(&inside, None));
        assert!(!keyed.matches(&inside, Some(b"\x01b\x00")));
        assert!(!keyed.matches(&client("192.0.2.1"), Some(b"\x01a\x00")));
        // A view without keys takes signed and unsigned queries alike.
        assert!(open.matches(&inside, None) && open.matches(&inside, Some(b"\x01b\x00")));

        let snapshot = Snapshot {
            views: vec![View::new("keyed", keyed, []), View::new("open", open, [])],
            keys: keyring,
            ..Snapshot::default()
        };
        assert!(snapshot.keys.get(b"\x01b\x00").is_some());
        let name = |key: Option<&[u8]>| snapshot.view_for(&inside, key).map(|v| v.name.as_str());
        assert_eq!(name(Some(b"\x01a\x00")), Some("keyed"));
        assert_eq!(name(Some(b"\x01b\x00")), Some("open"));
        assert_eq!(name(None), Some("open"));
    }
}
