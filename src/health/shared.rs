//! The health board and its published table, shared by the probe tasks,
//! the plugin supervisors, the monitor and the control socket's handle:
//! the board behind a mutex (touched only by probes, reloads and the
//! operator), the table behind an `ArcSwap` (read by queries, lock-free).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;

use super::state::{Board, Observation, Outcome};
use super::HealthTable;

pub(super) struct Inner {
    pub(super) board: Board,
    /// Where the table is published; replaced when the layout (names or
    /// their order) changes, so that a snapshot never reads a table whose
    /// indices mean other checks.
    pub(super) cell: Arc<ArcSwap<HealthTable>>,
}

pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every
        // update is a few assignments), so carry on with it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn publish(inner: &Inner) {
        inner
            .cell
            .store(Arc::new(inner.board.table(Instant::now())));
    }

    /// Publishes again when a check's `[health_ttl]` window has ended
    /// since the last publication (nothing else changes with time alone).
    pub(super) fn refresh(&self) {
        let inner = self.lock();
        let table = inner.board.table(Instant::now());
        if *inner.cell.load_full() != table {
            inner.cell.store(Arc::new(table));
        }
    }

    pub(super) fn observe(&self, name: &str, epoch: u64, obs: Observation) {
        let mut inner = self.lock();
        if inner.board.observe(name, epoch, obs) {
            Self::publish(&inner);
        }
    }

    pub(super) fn observe_plugin(
        &self,
        plugin: &str,
        report: Result<&HashMap<String, (Outcome, String)>, &str>,
    ) {
        let mut inner = self.lock();
        if inner
            .board
            .observe_plugin(plugin, report, SystemTime::now())
        {
            Self::publish(&inner);
        }
    }
}
