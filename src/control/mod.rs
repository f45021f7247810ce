//! Operating a running server: reloading, file watching, the control
//! socket and `status`.
//!
//! ```text
//! notify (debounced, on directories) ─┐
//! SIGHUP (daemon::signals) ───────────┼─► Job ─► reload thread (Reloader)
//! control socket `reload [ZONE]` ─────┘                │  re-read config; stat/hash each zone's files;
//!                                                       │  compile (the compile stage) only what changed
//!                                                       ▼
//!                                     ArcSwap<Snapshot>::store (one pointer swap)
//!                                     Status (per-zone status) ◄── control socket `status`
//! ```
//!
//! All parsing and compiling happens on the one reload thread, never on a
//! query thread, and reloads are serialised by it. A zone whose files did
//! not change keeps its `Arc<Zone>`; a zone that fails to load keeps
//! serving its previous version and the errors go to the log and back to
//! whoever asked.

mod files;
pub mod http;
pub mod metrics;
pub mod notify;
mod reload;
pub mod socket;
mod watch;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;

use crate::config::{Config, ZoneConfig};
use crate::proto::time::utc;
use crate::proto::Name;
use crate::snapshot::Snapshot;

pub use reload::Reloader;

/// What the command line added to the config file; re-applied to the
/// config after each re-read, so a reload does not lose them.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--zone ORIGIN=FILE` zones.
    pub zones: Vec<ZoneConfig>,
    /// `--no-watch`.
    pub watch: Option<bool>,
    /// `--log-format`.
    pub log_format: Option<crate::config::LogFormat>,
}

/// Work for the reload thread.
pub enum Job {
    /// Something changed on disk at these (normalized) paths.
    Files(Vec<PathBuf>),
    /// SIGHUP or `signpostctl reload`: re-read the config and reload every
    /// changed zone (zone: None), or reload one zone unconditionally.
    Reload {
        zone: Option<Name>,
        reply: Option<tokio::sync::oneshot::Sender<Report>>,
    },
    /// Leave the reload loop.
    Stop,
}

/// The outcome of one reload, as told to `signpostctl`.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per zone and per problem; problems as
    /// `file:line:col: message`.
    pub lines: Vec<String>,
    /// False when anything failed to load (the old data then still serves).
    pub ok: bool,
    /// How many zones (and the config) failed.
    pub failed: usize,
}

impl Report {
    fn fail(&mut self) {
        self.ok = false;
        self.failed += 1;
    }
}

/// What the last attempt to load a zone did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastLoad {
    Loaded,
    /// Files unchanged since the last load; nothing was parsed.
    Unchanged,
    /// Errors; the previous version (if any) still serves.
    Failed {
        errors: usize,
        /// The first [`KEPT_ERRORS`] of them, as `file:line:col: message`.
        first: Vec<String>,
    },
}

/// Errors kept per zone (and for the config) for `status --json`: all
/// of them went to the log and to whoever asked for the reload.
pub const KEPT_ERRORS: usize = 100;

/// Status of one configured zone, for `signpostctl status`.
#[derive(Debug, Clone)]
pub struct ZoneRow {
    pub name: String,
    pub file: PathBuf,
    /// Views the zone is in (empty: every view).
    pub views: Vec<String>,
    /// What is served now, when anything is.
    pub serial: Option<u32>,
    pub records: usize,
    pub loaded_at: Option<SystemTime>,
    pub load_ms: u64,
    pub last: LastLoad,
    pub last_at: SystemTime,
}

/// Everything `status` shows. Written by the reload thread after each
/// reload, read by the control socket; never touched by queries.
#[derive(Debug, Clone)]
pub struct Status {
    started: Instant,
    started_at: SystemTime,
    pub listeners: Vec<(SocketAddr, SocketAddr)>,
    pub workers: usize,
    pub config: Option<PathBuf>,
    /// Directories watched, or None when watching is off.
    pub watching: Option<usize>,
    /// View names and their match lists in match order.
    pub views: Vec<(String, String)>,
    pub zones: Vec<ZoneRow>,
    pub reloads: u64,
    pub last_reload: Option<(SystemTime, bool, u64)>,
    /// Why the config file was not applied the last time it was read
    /// (the first [`KEPT_ERRORS`]); empty when it was.
    pub config_errors: Vec<String>,
}

impl Status {
    fn new(config: &Config) -> Self {
        Self {
            started: Instant::now(),
            started_at: SystemTime::now(),
            listeners: Vec::new(),
            workers: config.workers,
            config: config.source.clone(),
            watching: None,
            views: Vec::new(),
            zones: Vec::new(),
            reloads: 0,
            last_reload: None,
            config_errors: Vec::new(),
        }
    }

    /// One line for the service manager's `STATUS=`: how many zones
    /// serve, and their serials.
    pub fn summary(&self) -> String {
        let served: Vec<String> = self
            .zones
            .iter()
            .filter_map(|z| Some(format!("{} {}", z.name, z.serial?)))
            .collect();
        let mut line = format!(
            "serving {} of {}",
            served.len(),
            counted(self.zones.len(), "zone", "zones")
        );
        if !served.is_empty() {
            line.push_str(": ");
            line.push_str(&served.join(", "));
        }
        if self.last_reload.is_some_and(|(_, ok, _)| !ok) {
            line.push_str("; last reload failed");
        }
        // systemctl status shows one line; keep it short.
        if line.len() > 200 {
            let cut = line.char_indices().take_while(|(i, _)| *i < 197).count();
            line = line.chars().take(cut).collect::<String>() + "...";
        }
        line
    }

    /// Whether all is well: every configured zone is served and the last
    /// reload succeeded. `signpostctl status` exits non-zero otherwise.
    pub fn all_well(&self) -> bool {
        self.zones.iter().all(|z| z.serial.is_some())
            && self.last_reload.is_none_or(|(_, ok, _)| ok)
    }

    /// The text `signpostctl status` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let up = self.started.elapsed().as_secs();
        let _ = writeln!(
            out,
            "uptime {} (since {})",
            duration(up),
            utc(self.started_at)
        );
        if let Some(c) = &self.config {
            let _ = writeln!(out, "config {}", c.display());
        }
        for (udp, tcp) in &self.listeners {
            let _ = writeln!(out, "listening udp={udp} tcp={tcp}");
        }
        let _ = writeln!(
            out,
            "workers {} UDP per address; TCP on 2 runtime threads",
            self.workers
        );
        match self.watching {
            Some(n) => {
                let _ = writeln!(out, "watching {}", counted(n, "directory", "directories"));
            }
            None => {
                let _ = writeln!(out, "watching off");
            }
        }
        match self.last_reload {
            Some((at, ok, ms)) => {
                let _ = writeln!(
                    out,
                    "reloads {}; last at {} in {} ms: {}",
                    self.reloads,
                    utc(at),
                    ms,
                    if ok { "ok" } else { "failed" }
                );
            }
            None => {
                let _ = writeln!(out, "reloads 0");
            }
        }
        for (view, matcher) in &self.views {
            let _ = writeln!(out, "view {view} ({matcher})");
            for z in self
                .zones
                .iter()
                .filter(|z| z.views.is_empty() || z.views.contains(view))
            {
                let _ = writeln!(out, "  {}", zone_line(z));
            }
        }
        out
    }
}

impl Status {
    /// What `signpostctl status --json` prints, but for the server's
    /// identity (with its config file) and the signing counters, which
    /// the control socket adds.
    /// Times are RFC 3339 UTC; the keys are documented in signpostctl(8).
    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        let time = |t: Option<SystemTime>| t.map(utc);
        let views: Vec<_> = self
            .views
            .iter()
            .map(|(view, matcher)| {
                let zones: Vec<&str> = self
                    .zones
                    .iter()
                    .filter(|z| z.views.is_empty() || z.views.contains(view))
                    .map(|z| z.name.as_str())
                    .collect();
                json!({"name": view, "match": matcher, "zones": zones})
            })
            .collect();
        let zones: Vec<_> = self
            .zones
            .iter()
            .map(|z| {
                let (result, errors, first) = match &z.last {
                    LastLoad::Loaded => ("loaded", 0, &[][..]),
                    LastLoad::Unchanged => ("unchanged", 0, &[][..]),
                    LastLoad::Failed { errors, first } => ("failed", *errors, &first[..]),
                };
                json!({
                    "name": z.name,
                    "file": z.file,
                    "views": z.views,
                    "served": z.serial.is_some(),
                    "serial": z.serial,
                    "records": z.records,
                    "loaded_at": time(z.loaded_at),
                    "load_ms": z.load_ms,
                    "last_reload": {
                        "at": utc(z.last_at),
                        "result": result,
                        "error_count": errors,
                        "errors": first,
                    },
                })
            })
            .collect();
        let listeners: Vec<_> = self
            .listeners
            .iter()
            .map(|(udp, tcp)| json!({"udp": udp.to_string(), "tcp": tcp.to_string()}))
            .collect();
        json!({
            "ok": self.all_well(),
            "started": utc(self.started_at),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "listeners": listeners,
            "workers": self.workers,
            "watched_directories": self.watching,
            "reloads": self.reloads,
            "last_reload": self.last_reload.map(|(at, ok, ms)| json!({
                "at": utc(at),
                "ok": ok,
                "ms": ms,
                "config_errors": self.config_errors,
            })),
            "views": views,
            "zones": zones,
        })
    }
}

fn zone_line(z: &ZoneRow) -> String {
    let serving = match (z.serial, z.loaded_at) {
        (Some(serial), Some(at)) => format!(
            "serial {serial}, {}, loaded {} in {} ms",
            counted(z.records, "record", "records"),
            utc(at),
            z.load_ms
        ),
        _ => "not served".to_string(),
    };
    let last = match &z.last {
        LastLoad::Loaded => "loaded".to_string(),
        LastLoad::Unchanged => "unchanged".to_string(),
        LastLoad::Failed { errors, .. } => {
            format!("FAILED ({})", counted(*errors, "error", "errors"))
        }
    };
    format!(
        "zone {} ({}): {serving}; last reload {} {last}",
        z.name,
        z.file.display(),
        utc(z.last_at)
    )
}

fn duration(mut secs: u64) -> String {
    let days = secs / 86_400;
    secs %= 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d{h:02}h{m:02}m{s:02}s")
    } else {
        format!("{h}h{m:02}m{s:02}s")
    }
}

/// The running reload machinery, as the daemon holds it.
pub struct Control {
    pub(crate) state: Arc<ArcSwap<Snapshot>>,
    pub status: Arc<Mutex<Status>>,
    /// Health states and overrides, for the control socket.
    pub health: crate::health::Handle,
    jobs: std::sync::mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Control {
    /// Loads every zone (on the calling thread, before anything serves),
    /// publishes the first snapshot and starts the reload thread.
    pub fn start(
        config: Config,
        overrides: Overrides,
        notifier: notify::Notifier,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let status = Arc::new(Mutex::new(Status::new(&config)));
        let mut reloader = Reloader::new(config, overrides, status.clone(), tx.clone(), notifier);
        let state = reloader.state();
        let health = reloader.health();
        let thread = std::thread::Builder::new()
            .name("signpost-reload".into())
            .spawn(move || reloader.run(&rx))?;
        Ok(Self {
            state,
            status,
            health,
            jobs: tx,
            thread: Some(thread),
        })
    }

    /// A sender for SIGHUP handling and the control socket.
    pub fn jobs(&self) -> std::sync::mpsc::Sender<Job> {
        self.jobs.clone()
    }

    /// Records the bound listeners for `status`.
    pub fn set_listeners(&self, listeners: Vec<(SocketAddr, SocketAddr)>) {
        if let Ok(mut b) = self.status.lock() {
            b.listeners = listeners;
        }
    }

    /// Asks the reload thread to stop without waiting: a reload in progress
    /// has nothing to save, so shutdown need not wait for a large zone.
    pub fn stop(self) {
        let _ = self.jobs.send(Job::Stop);
    }

    /// Like [`stop`](Self::stop), then waits for the thread (tests).
    pub fn stop_and_wait(mut self) {
        let _ = self.jobs.send(Job::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `1 zone`, `2 zones`: a count with its noun in the right number.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(59), "0h00m59s");
        assert_eq!(duration(90_061), "1d01h01m01s");
    }

    #[test]
    fn counts_say_their_noun_in_the_right_number() {
        assert_eq!(counted(0, "zone", "zones"), "0 zones");
        assert_eq!(counted(1, "zone", "zones"), "1 zone");
        assert_eq!(counted(2, "directory", "directories"), "2 directories");
    }
}
