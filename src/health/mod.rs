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

pub use check::{CheckDef, CheckKind, PluginDef};
pub use monitor::{CheckRow, Handle, Monitor};
pub use plugin::{try_load, LoadError};
pub use spec::{HealthSpec, PluginSpec};

/// The state of every configured check, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthTable {
    healthy: Vec<bool>,
}

impl HealthTable {
    pub fn new(healthy: Vec<bool>) -> Self {
        Self { healthy }
    }

    /// A check that is not in the table counts as healthy (fail open).
    #[inline]
    pub fn is_healthy(&self, index: u32) -> bool {
        self.healthy.get(index as usize).copied().unwrap_or(true)
    }
}

/// The states before any probe has run: static checks as configured,
/// active checks healthy, calculated checks from their children.
pub fn initial_table(checks: &[CheckDef]) -> HealthTable {
    let board = state::Board::new(checks);
    HealthTable::new(board.effective())
}
