//! Health checks, published apart from zone data.
//!
//! ```text
//! config [health.*], [plugin.*] (spec.rs) ─► check::validate ─► CheckDef (index = position)
//!                                                        │
//!  reload thread ─► Monitor::configure(defs) ───────────┤ state kept by name
//!                                                        ▼
//!  probe tasks (tokio, bounded, jittered) ─┐      state::Board (per check: tracker,
//!    http.rs (HTTP/HTTPS), tcp.rs          ├─►    override, last result, …)
//!  plugin.rs supervisors ◄─pipe─ children ─┘        │ a flip: recompute calculated,
//!    (plugin_host.rs, the binary re-executed)       │ one store
//!                                                    ▼
//!                 Arc<ArcSwap<HealthTable>> ── read by every query (one load)
//!  control socket `health`, `health set` ─► Handle (list, overrides)
//! ```
//!
//! Zones refer to checks by index (resolved when a zone is compiled); the
//! table of states is swapped on its own, so a state flip is one store and
//! never recompiles a zone. Nothing here runs on the query path: queries
//! only read the published [`HealthTable`].
//!
//! Initial state: a check that has not produced `threshold` results yet is
//! healthy (fail open); a dead endpoint turns unhealthy after `threshold`
//! consecutive failures, the first probe running within one second of
//! start (or of being configured).

pub mod check;
mod http;
mod monitor;
mod plugin;
pub mod plugin_host;
mod probe;
mod shared;
pub mod spec;
mod state;
mod tcp;

pub use check::{CheckDef, CheckKind, PluginDef, TtlLowering, WhenUnknown};
pub use monitor::{CheckRow, Handle, Monitor};
pub use plugin::{try_load, LoadError};
pub use spec::{HealthSpec, HealthTtlSpec, PluginSpec};

/// The state of every configured check, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthTable {
    healthy: Vec<bool>,
    /// With `[health_ttl]`: the checks that are failing or recovering
    /// (unhealthy, or changed state within the window). Empty when TTL
    /// lowering is off, so that the query path only pays a bounds check.
    unsettled: Vec<bool>,
    /// The TTL answers that depend on an unsettled check carry at most.
    lowered_ttl: u32,
}

impl HealthTable {
    pub fn new(healthy: Vec<bool>) -> Self {
        Self {
            healthy,
            unsettled: Vec::new(),
            lowered_ttl: 0,
        }
    }

    /// A table whose unsettled checks lower the TTL of the answers that
    /// depend on them to `ttl`.
    pub fn with_lowering(healthy: Vec<bool>, unsettled: Vec<bool>, ttl: u32) -> Self {
        Self {
            healthy,
            unsettled,
            lowered_ttl: ttl,
        }
    }

    /// A check that is not in the table counts as healthy (fail open).
    #[inline]
    pub fn is_healthy(&self, index: u32) -> bool {
        self.healthy.get(index as usize).copied().unwrap_or(true)
    }

    /// The TTL an answer that depends on this check carries at most, while
    /// the check is failing or recovering; `None` otherwise (and always
    /// when TTL lowering is off).
    #[inline]
    pub fn lowered_ttl(&self, index: u32) -> Option<u32> {
        match self.unsettled.get(index as usize) {
            Some(true) => Some(self.lowered_ttl),
            _ => None,
        }
    }
}

/// The states before any probe has run: static checks as configured,
/// active checks healthy, calculated checks from their children.
pub fn initial_table(checks: &[CheckDef]) -> HealthTable {
    let board = state::Board::new(checks);
    HealthTable::new(board.effective())
}
