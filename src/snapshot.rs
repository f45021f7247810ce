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

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::zone::Zone;

/// Largest UDP payload we offer in EDNS (the DNS Flag Day 2020 value, and
/// Knot's default).
pub const DEFAULT_EDNS_UDP_SIZE: u16 = 1232;

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Zones by lowercased apex wire name.
    pub zones: FxHashMap<Box<[u8]>, Arc<Zone>>,
    /// The UDP payload size we advertise and cap responses at.
    pub edns_udp_size: u16,
}

impl Snapshot {
    pub fn new(zones: impl IntoIterator<Item = Arc<Zone>>, edns_udp_size: u16) -> Self {
        let zones = zones
            .into_iter()
            .map(|z| (z.apex.as_wire().into(), z))
            .collect();
        Self {
            zones,
            edns_udp_size,
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
