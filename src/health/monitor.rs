//! The checker runtime: one tokio task per endpoint check and one
//! supervisor per plugin, on a small runtime of their own (never a query
//! thread), at most [`MAX_PROBES`] probes at once, each check's schedule
//! jittered so that checks configured together do not probe together.
//!
//! The [`Monitor`] belongs to the reload thread, which hands it each new
//! list of checks; the [`Handle`] is what the control socket uses to list
//! states and set overrides. Both go through `Shared` (shared.rs): the
//! state board behind a mutex (touched only by probes, reloads and the
//! operator) and the published table behind an `ArcSwap` (read by
//! queries, lock-free).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use super::check::{CheckDef, CheckKind, PluginDef, TtlLowering};
use super::shared::{Inner, Shared};
use super::state::{Board, Observation, Outcome};
use super::HealthTable;
use crate::proto::time::utc;

/// Probes in flight at once, over all checks.
pub(super) const MAX_PROBES: usize = 64;

/// What the control socket holds: list states, set overrides.
#[derive(Clone)]
pub struct Handle(Arc<Shared>);

/// One check as `signpostctl health` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    pub name: String,
    /// What queries see.
    pub up: bool,
    /// An operator override holds the state.
    pub forced: bool,
    /// `http`, `https`, `tcp`, `static`, `calculated` or `plugin`.
    pub kind: &'static str,
    /// The last probe's result: `ok`, `fail`, `unknown` (plugins) or
    /// `none` (not probed yet, or never probed).
    pub last: &'static str,
    pub latency: Option<Duration>,
    /// When the last probe ran.
    pub checked: Option<SystemTime>,
    /// When the state last changed (or the check was configured).
    pub since: SystemTime,
    /// Why: the last probe's reason, or what decides a check not probed.
    pub reason: String,
}

impl Handle {
    /// Every check, in config order.
    pub fn rows(&self) -> Vec<CheckRow> {
        let inner = self.0.lock();
        inner
            .board
            .entries
            .iter()
            .map(|e| {
                let (last, latency, checked) = match &e.last {
                    Some(l) => (l.outcome.word(), l.latency, Some(l.at)),
                    None => ("none", None, None),
                };
                let reason = inner.board.reason(e);
                CheckRow {
                    name: e.def.name.clone(),
                    up: e.up,
                    forced: e.forced.is_some(),
                    kind: e.def.kind.type_name(),
                    last,
                    latency,
                    checked,
                    since: e.changed,
                    reason,
                }
            })
            .collect()
    }

    /// One line per check, in config order:
    /// `NAME up|down auto|forced TYPE last=… latency=… checked=… changed=… reason=…`.
    pub fn list(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .rows()
            .into_iter()
            .map(|r| {
                format!(
                    "{} {} {} {} last={} latency={} checked={} changed={} reason={}",
                    r.name,
                    if r.up { "up" } else { "down" },
                    if r.forced { "forced" } else { "auto" },
                    r.kind,
                    r.last,
                    r.latency.map_or("-".to_string(), |d| {
                        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
                    }),
                    r.checked.map_or("-".to_string(), utc),
                    utc(r.since),
                    r.reason,
                )
            })
            .collect();
        if lines.is_empty() {
            lines.push("no health checks are configured".into());
        }
        lines
    }

    /// `health set NAME up|down|auto`: the line that says what the check
    /// is now.
    pub fn set(&self, name: &str, state: &str) -> Result<String, OverrideError> {
        let forced = match state {
            "up" => Some(true),
            "down" => Some(false),
            "auto" => None,
            other => return Err(OverrideError::State(other.into())),
        };
        let mut inner = self.0.lock();
        match inner.board.force(name, forced) {
            Ok(changed) => {
                if changed {
                    Shared::publish(&inner);
                }
                let now = inner.board.get(name).is_some_and(|e| e.up);
                tracing::info!(check = name, "health override: {state}");
                Ok(format!(
                    "{name}: {} ({})",
                    if now { "up" } else { "down" },
                    if forced.is_some() {
                        "forced until `health set NAME auto`; survives reloads, not restarts"
                    } else {
                        "automatic"
                    }
                ))
            }
            Err(()) => Err(OverrideError::NoSuchCheck(name.into())),
        }
    }
}

/// Why `health set` was refused.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("\"{0}\" is not up, down or auto")]
    State(String),
    #[error("no health check is named \"{0}\"")]
    NoSuchCheck(String),
}

/// The running checks, owned by the reload thread.
pub struct Monitor {
    shared: Arc<Shared>,
    /// Started with the first check that needs it.
    runtime: Option<tokio::runtime::Runtime>,
    limit: Arc<Semaphore>,
    /// Probe tasks by check name, with the epoch they report under.
    probes: HashMap<String, (u64, AbortHandle)>,
    plugins: HashMap<String, (PluginDef, AbortHandle)>,
    /// Republishes as `[health_ttl]` windows end.
    ticker: Option<AbortHandle>,
}

impl Monitor {
    /// Publishes the initial states and starts probing; `lowering` is
    /// `[health_ttl]`, if configured.
    pub fn start(
        checks: &[CheckDef],
        plugins: &[PluginDef],
        lowering: Option<TtlLowering>,
    ) -> Self {
        let mut board = Board::new(checks);
        board.lowering = lowering;
        let cell = Arc::new(ArcSwap::from_pointee(board.table(Instant::now())));
        let mut monitor = Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner { board, cell }),
            }),
            runtime: None,
            limit: Arc::new(Semaphore::new(MAX_PROBES)),
            probes: HashMap::new(),
            plugins: HashMap::new(),
            ticker: None,
        };
        monitor.sync_tasks(plugins);
        monitor.sync_ticker(lowering.is_some() && !checks.is_empty());
        monitor
    }

    /// The cell snapshots read states from.
    pub fn cell(&self) -> Arc<ArcSwap<HealthTable>> {
        self.shared.lock().cell.clone()
    }

    pub fn handle(&self) -> Handle {
        Handle(self.shared.clone())
    }

    /// Takes a reloaded list of checks: states, last results and overrides
    /// carry over by name. Returns the cell to publish snapshots with: the
    /// same one unless the names or their order changed (zones compiled
    /// against the new list must then come with it).
    pub fn configure(
        &mut self,
        checks: &[CheckDef],
        plugins: &[PluginDef],
        lowering: Option<TtlLowering>,
    ) -> Arc<ArcSwap<HealthTable>> {
        let cell = {
            let mut inner = self.shared.lock();
            inner.board.lowering = lowering;
            let moved = inner.board.reconfigure(checks);
            if moved {
                inner.cell = Arc::new(ArcSwap::from_pointee(HealthTable::default()));
            }
            Shared::publish(&inner);
            inner.cell.clone()
        };
        self.sync_tasks(plugins);
        self.sync_ticker(lowering.is_some() && !checks.is_empty());
        cell
    }

    /// With `[health_ttl]`, a task that publishes the table again once a
    /// second when a check's window has ended (a flip publishes at once;
    /// only the end of a window comes with time alone).
    fn sync_ticker(&mut self, wanted: bool) {
        if !wanted {
            if let Some(task) = self.ticker.take() {
                task.abort();
            }
            return;
        }
        if self.ticker.is_some() {
            return;
        }
        let shared = self.shared.clone();
        let Some(rt) = self.runtime() else { return };
        let task = rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                shared.refresh();
            }
        });
        self.ticker = Some(task.abort_handle());
    }

    fn runtime(&mut self) -> Option<&tokio::runtime::Runtime> {
        if self.runtime.is_none() {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(8)
                .thread_name("signpost-health")
                .enable_all()
                .build()
            {
                Ok(rt) => self.runtime = Some(rt),
                Err(e) => {
                    tracing::error!(
                        "cannot start the health checker runtime: {e}; checks keep their states"
                    );
                    return None;
                }
            }
        }
        self.runtime.as_ref()
    }

    /// Starts, restarts and stops tasks to match the board.
    fn sync_tasks(&mut self, plugins: &[PluginDef]) {
        let wanted: Vec<(String, u64, CheckKind)> = {
            let inner = self.shared.lock();
            inner
                .board
                .entries
                .iter()
                .filter(|e| matches!(e.def.kind, CheckKind::Http(_) | CheckKind::Tcp(_)))
                .map(|e| (e.def.name.clone(), e.epoch, e.def.kind.clone()))
                .collect()
        };
        self.probes.retain(|name, (epoch, task)| {
            let keep = wanted.iter().any(|(n, e, _)| n == name && e == epoch);
            if !keep {
                task.abort();
            }
            keep
        });
        self.plugins.retain(|id, (def, task)| {
            let keep = plugins.iter().any(|p| &p.id == id && p.runs_like(def));
            if !keep {
                task.abort();
            }
            keep
        });
        let new_probes: Vec<_> = wanted
            .into_iter()
            .filter(|(n, _, _)| !self.probes.contains_key(n))
            .collect();
        let new_plugins: Vec<PluginDef> = plugins
            .iter()
            .filter(|p| !self.plugins.contains_key(&p.id))
            .cloned()
            .collect();
        if new_probes.is_empty() && new_plugins.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let limit = self.limit.clone();
        let Some(rt) = self.runtime() else { return };
        let mut started = Vec::new();
        for (name, epoch, kind) in new_probes {
            let task = rt.spawn(probe_loop(
                shared.clone(),
                limit.clone(),
                name.clone(),
                epoch,
                kind,
            ));
            started.push((name, epoch, task.abort_handle()));
        }
        let mut supervisors = Vec::new();
        for def in new_plugins {
            let task = rt.spawn(super::plugin::supervise(shared.clone(), def.clone()));
            supervisors.push((def, task.abort_handle()));
        }
        for (name, epoch, task) in started {
            self.probes.insert(name, (epoch, task));
        }
        for (def, task) in supervisors {
            self.plugins.insert(def.id.clone(), (def, task));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // Probes may sit in a blocking name lookup; do not wait for them.
        // Plugin children are killed as their handles drop.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A number in [0, 1) that differs between calls and processes; enough
/// to spread probes, no cryptographic quality needed.
pub(super) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

async fn probe_loop(
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
    name: String,
    epoch: u64,
    kind: CheckKind,
) {
    let (interval, timeout) = match &kind {
        CheckKind::Http(h) => (h.endpoint.interval, h.endpoint.timeout),
        CheckKind::Tcp(ep) => (ep.interval, ep.timeout),
        _ => return,
    };
    // Built once per definition: reading the CA file is not free.
    let tls = match &kind {
        CheckKind::Http(h) => h.tls.as_ref().map(super::http::tls_config),
        _ => None,
    };
    let first = interval.min(Duration::from_secs(1)).mul_f64(jitter());
    tokio::time::sleep(first).await;
    loop {
        let Ok(permit) = limit.acquire().await else {
            return;
        };
        let started = Instant::now();
        let probe = async {
            match &kind {
                CheckKind::Http(h) => super::http::probe(h, tls.as_ref(), started).await,
                CheckKind::Tcp(ep) => super::tcp::probe(ep, started).await,
                _ => (Outcome::Unknown, String::new()),
            }
        };
        let (outcome, reason) = match tokio::time::timeout(timeout, probe).await {
            Ok(result) => result,
            Err(_) => (
                Outcome::Down,
                format!(
                    "no answer within the {:.1} s timeout",
                    timeout.as_secs_f64()
                ),
            ),
        };
        let latency = started.elapsed();
        drop(permit);
        shared.observe(
            &name,
            epoch,
            Observation {
                outcome,
                reason,
                latency: Some(latency),
                at: SystemTime::now(),
            },
        );
        let next = interval.mul_f64(0.9 + 0.2 * jitter());
        tokio::time::sleep(next.saturating_sub(latency)).await;
    }
}
