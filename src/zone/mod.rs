//! A compiled zone: every name of the zone (empty non-terminals included) in
//! one hash table keyed by the lowercased wire name, each with its RRsets
//! already in wire form, and the flags the lookup needs precomputed.
//!
//! Built once by the compile stage (`compile::build`), then immutable and
//! shared by `Arc` between the query workers until a reload replaces it.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::dnssec::ZoneSigner;
use crate::policy::PolicyGroup;
use crate::proto::{Name, Rrset};
use crate::stats::LabelId;

/// Node flag: NS here and not the apex, a delegation point.
pub(crate) const FLAG_CUT: u8 = 1;
/// Node flag: a DNAME here.
pub(crate) const FLAG_DNAME: u8 = 2;
/// Node flag: strictly below a delegation or DNAME; the data here is glue or
/// occluded and never answered authoritatively.
pub(crate) const FLAG_OCCLUDED: u8 = 4;
/// Node flag: `*.<this node>` exists.
pub(crate) const FLAG_WILDCARD_CHILD: u8 = 8;

/// One name of the zone.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The RRsets here in type order, few enough that a linear scan beats
    /// any map.
    pub(crate) rrsets: Vec<Rrset>,
    /// Routing-policy groups (rare, so boxed out of the common node).
    pub(crate) policies: Option<Box<[PolicyGroup]>>,
    pub(crate) flags: u8,
}

impl Node {
    pub(crate) fn rrset(&self, rtype: u16) -> Option<&Rrset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    pub(crate) fn policy(&self, rtype: u16) -> Option<&PolicyGroup> {
        self.policies.as_ref()?.iter().find(|g| g.rtype == rtype)
    }

    /// Whether any data (plain or policy) of this type is here.
    pub(crate) fn has_type(&self, rtype: u16) -> bool {
        self.rrset(rtype).is_some() || self.policy(rtype).is_some()
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// An empty non-terminal: exists only because names exist below it.
    pub(crate) fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.policies.is_none()
    }
}

/// A compiled zone.
#[derive(Debug)]
pub(crate) struct Zone {
    /// The origin, lowercased.
    pub(crate) apex: Name,
    pub(crate) nodes: FxHashMap<Box<[u8]>, Node>,
    /// The apex SOA with the negative-caching TTL of RFC 2308 §3:
    /// min(SOA TTL, SOA MINIMUM), for the authority section of negative answers.
    pub(crate) negative_soa: Rrset,
    pub(crate) serial: u32,
    pub(crate) record_count: usize,
    /// The zone's DNSSEC signer when `dnssec = true` (set after loading,
    /// before the zone is shared).
    pub(crate) signer: Option<Arc<ZoneSigner>>,
    /// The zone's label in metrics (`stats::labels`).
    pub(crate) label: LabelId,
    /// ALIAS targets outside this zone, lowercased: answered from another
    /// served zone, or else resolved through the upstreams (`upstream`).
    pub(crate) alias_targets: Box<[Name]>,
}

impl Zone {
    /// The node for a lowercased wire name.
    pub(crate) fn node(&self, lower_wire: &[u8]) -> Option<&Node> {
        self.nodes.get(lower_wire)
    }

    /// The node and the zone's own copy of its key.
    pub(crate) fn node_entry(&self, lower_wire: &[u8]) -> Option<(&[u8], &Node)> {
        self.nodes.get_key_value(lower_wire).map(|(k, n)| (&**k, n))
    }

    pub(crate) fn apex_node(&self) -> Option<&Node> {
        self.nodes.get(self.apex.as_wire())
    }
}
