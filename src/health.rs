//! Health state, published apart from zone data.
//!
//! Zones refer to checks by index (resolved when a zone is compiled); the
//! table of states is swapped on its own, so a state flip is one store and
//! never recompiles a zone. Until active checks exist, a check's state is
//! fixed in the config (`[health.NAME] state = "up" | "down"`).

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
    pub fn is_healthy(&self, index: u32) -> bool {
        self.healthy.get(index as usize).copied().unwrap_or(true)
    }
}
