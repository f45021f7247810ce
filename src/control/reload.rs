//! The reload thread: owns the config in force, one entry per configured
//! zone file (its compiled zone, what it was read from, its status), and
//! builds and publishes each new snapshot.
//!
//! Zones are keyed by (name, file): the same name may be served from
//! different files in different views, and two views naming the same file
//! share one compiled zone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;

use super::files::Fingerprint;
use super::notify::Notifier;
use super::watch::{normalize, Watcher};
use super::{Job, LastLoad, Overrides, Report, Status, ZoneRow};
use crate::compile::{self, ZoneResult};
use crate::config::{self, Config, ZoneConfig};
use crate::health::{HealthTable, Monitor};
use crate::policy::PolicyConfig;
use crate::proto::Name;
use crate::snapshot::{Snapshot, ViewMatch};
use crate::stats::EVENTS;
use crate::upstream::Refresher;
use crate::zone::Zone;

/// A zone's identity across reloads: its name, file and signing settings
/// (changed signing settings reload it); its views only say where it is
/// served.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ZoneKey(ZoneConfig);

impl ZoneKey {
    fn of(zone: &ZoneConfig) -> Self {
        Self(ZoneConfig {
            views: Vec::new(),
            ..zone.clone()
        })
    }

    fn name(&self) -> &Name {
        &self.0.name
    }

    fn file(&self) -> &Path {
        &self.0.file
    }
}

struct ServedZone {
    /// What serves now; None when the zone never loaded.
    zone: Option<Arc<Zone>>,
    /// Content hash of what serves, to tell an edit from a `touch`.
    served_hash: Option<u64>,
    /// What the last attempt read (even a failed one, so an unchanged
    /// broken file is not re-parsed on every unrelated change).
    read: Fingerprint,
    loaded_at: Option<SystemTime>,
    load_ms: u64,
    last: LastLoad,
    last_at: SystemTime,
}

/// What started a reload.
enum Trigger<'a> {
    /// Files changed; reload what differs, re-read the config if it did.
    Watch,
    /// SIGHUP or `signpostctl reload`: re-read the config, reload what
    /// differs, retry zones whose last load failed.
    Full,
    /// `signpostctl reload ZONE`: that zone, unconditionally.
    Zone(&'a Name),
}

pub struct Reloader {
    config: Config,
    /// Policy settings compiled for the zones and queries (see policy/).
    policy: Arc<PolicyConfig>,
    /// Health states: one cell as long as the check names stay the same,
    /// so states outlive reloads and a flip never recompiles a zone.
    health: Arc<ArcSwap<HealthTable>>,
    /// The health checkers; they keep state by check name across reloads.
    monitor: Monitor,
    /// Resolves ALIAS targets outside our zones; keeps addresses by name
    /// across reloads.
    upstream: Refresher,
    overrides: Overrides,
    state: Arc<ArcSwap<Snapshot>>,
    entries: HashMap<ZoneKey, ServedZone>,
    config_read: Option<Fingerprint>,
    status: Arc<Mutex<Status>>,
    jobs: Sender<Job>,
    /// The service manager hears of reloads (RELOADING=1 … READY=1).
    notifier: Notifier,
    watcher: Option<Watcher>,
    /// Normalized paths of every file a reload depends on.
    watched: HashSet<PathBuf>,
    /// Zones compiled by this reload's config change: not compiled again.
    fresh: HashSet<ZoneKey>,
}

impl Reloader {
    /// Loads every zone of `config` and publishes the first snapshot.
    pub fn new(
        config: Config,
        overrides: Overrides,
        status: Arc<Mutex<Status>>,
        jobs: Sender<Job>,
        notifier: Notifier,
    ) -> Self {
        let config_read = config.source.as_deref().map(Fingerprint::take);
        let (policy, _) = policy_or_log(&config);
        let monitor = Monitor::start(
            &config.policy.health,
            &config.policy.plugins,
            config.policy.health_ttl,
        );
        let mut reloader = Self {
            policy: Arc::new(policy),
            health: monitor.cell(),
            monitor,
            upstream: Refresher::start(config.resolver.as_ref()),
            state: Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            config,
            overrides,
            entries: HashMap::new(),
            config_read,
            status,
            jobs,
            notifier,
            watcher: None,
            watched: HashSet::new(),
            fresh: HashSet::new(),
        };
        let mut report = Report {
            ok: true,
            ..Report::default()
        };
        reloader.sync_zones(&Trigger::Full, &mut report);
        reloader.publish();
        reloader.update_watches();
        reloader
    }

    pub(crate) fn state(&self) -> Arc<ArcSwap<Snapshot>> {
        self.state.clone()
    }

    /// For the control socket's `health` commands.
    pub fn health(&self) -> crate::health::Handle {
        self.monitor.handle()
    }

    /// Does jobs until [`Job::Stop`] or every sender is gone.
    pub fn run(&mut self, jobs: &Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            match job {
                Job::Files(paths) => {
                    if paths.iter().any(|p| self.watched.contains(p)) {
                        self.reload(&Trigger::Watch);
                    }
                }
                Job::Reload { zone, reply } => {
                    let report = match &zone {
                        Some(name) => self.reload(&Trigger::Zone(name)),
                        None => self.reload(&Trigger::Full),
                    };
                    if let Some(reply) = reply {
                        // The asker may have given up waiting; fine.
                        let _ = reply.send(report);
                    }
                }
                Job::Stop => break,
            }
        }
    }

    fn reload(&mut self, trigger: &Trigger<'_>) -> Report {
        // A reload someone asked for is announced; file changes are only
        // reported once they changed something.
        let asked = !matches!(trigger, Trigger::Watch);
        if asked {
            self.notifier.reloading();
        }
        let started = Instant::now();
        let mut report = Report {
            ok: true,
            ..Report::default()
        };
        let config_changed = self.reread_config(trigger, &mut report);
        if let Trigger::Zone(name) = trigger {
            if !self.config.zones.iter().any(|z| z.name == **name) {
                report.fail();
                report
                    .lines
                    .push(format!("zone {name} is not configured; nothing reloaded"));
                return report;
            }
        }
        let zones_changed = self.sync_zones(trigger, &mut report);
        if config_changed || zones_changed {
            self.publish();
        }
        self.update_watches();
        let ms = started.elapsed().as_millis() as u64;
        let quiet = matches!(trigger, Trigger::Watch) && !config_changed && !zones_changed;
        if !quiet || !report.ok {
            if report.ok {
                tracing::info!(ms, "reload finished");
            } else {
                tracing::error!(
                    failed = report.failed,
                    ms,
                    "reload failed: {} of the config and zones did not load (errors above); whatever served before still serves",
                    report.failed
                );
            }
            if let Ok(mut status) = self.status.lock() {
                status.reloads += 1;
                status.last_reload = Some((SystemTime::now(), report.ok, ms));
                EVENTS.reload(report.ok);
            }
        }
        if asked || !quiet {
            let summary = self.status.lock().map(|s| s.summary()).unwrap_or_default();
            self.notifier.ready(&summary);
        }
        report
    }

    /// Re-reads the config file when the trigger asks for it. Settings that
    /// need a restart (listeners, workers, TCP limits, control socket,
    /// metrics endpoint, query log) stay
    /// as they are. Returns whether a new config took effect.
    fn reread_config(&mut self, trigger: &Trigger<'_>, report: &mut Report) -> bool {
        let Some(path) = self.config.source.clone() else {
            return false;
        };
        let wanted = match trigger {
            Trigger::Full => true,
            Trigger::Zone(_) => false,
            Trigger::Watch => self.config_read.as_ref().is_none_or(|read| {
                read.maybe_changed() && Fingerprint::take(&path).hash != read.hash
            }),
        };
        if !wanted {
            return false;
        }
        // A config refused below is read again at its next change, or at
        // once when a zone edit makes it acceptable and a reload is asked.
        let previous_read = self.config_read.replace(Fingerprint::take(&path));
        match config::load(&path) {
            Ok(mut new) => {
                let old = &self.config;
                if new.listen != old.listen
                    || new.workers != old.workers
                    || new.tcp_idle_timeout != old.tcp_idle_timeout
                    || new.tcp_max_connections != old.tcp_max_connections
                    || new.control_socket != old.control_socket
                    || new.metrics_listen != old.metrics_listen
                    || new.query_log != old.query_log
                {
                    let line = format!(
                        "config {}: listen addresses, workers, TCP limits, the control socket, [metrics] and [query_log] change only on restart",
                        path.display()
                    );
                    tracing::warn!("{line}");
                    report.lines.push(format!("warning: {line}"));
                }
                if let Some(format) = self.overrides.log_format {
                    new.log.format = format;
                }
                if new.log != old.log {
                    let line = format!("config {}: [log] changes only on restart", path.display());
                    tracing::warn!("{line}");
                    report.lines.push(format!("warning: {line}"));
                }
                new.log.clone_from(&old.log);
                new.listen.clone_from(&old.listen);
                new.workers = old.workers;
                new.tcp_idle_timeout = old.tcp_idle_timeout;
                new.tcp_max_connections = old.tcp_max_connections;
                new.control_socket.clone_from(&old.control_socket);
                new.metrics_listen = old.metrics_listen;
                new.query_log.clone_from(&old.query_log);
                new.zones.extend(self.overrides.zones.iter().cloned());
                if let Some(watch) = self.overrides.watch {
                    new.watch = watch;
                }
                // Zones hold indices into the policy config: a new one
                // means recompiling them all, and a config that breaks a
                // zone being served is refused whole, so that no data is
                // lost (say a check is renamed but a zone still uses it).
                let mut recompiled = None;
                // Without a [resolver], an ALIAS to a name outside our
                // zones fails its zone: gaining or losing one rechecks them.
                let resolver_toggled = new.resolver.is_some() != self.config.resolver.is_some();
                if resolver_toggled
                    || (new.policy != self.config.policy
                        && new.policy.zones_differ(&self.config.policy))
                {
                    let policy = Arc::new(policy_or_log(&new).0);
                    let results = Self::compile_all(&new, &policy);
                    let mut broken = 0;
                    let mut problems = Vec::new();
                    for (key, _, (result, _)) in &results {
                        let served = self.entries.get(key).is_some_and(|e| e.zone.is_some());
                        if let (true, Err(errors)) = (served, result) {
                            broken += 1;
                            for e in errors {
                                tracing::error!("{e}");
                                problems.push(e.to_string());
                            }
                        }
                    }
                    if broken > 0 {
                        let line = format!(
                            "config {}: not reloaded: {} would fail with it (errors above); the previous config and zones stay in force",
                            path.display(),
                            super::counted(broken, "served zone", "served zones")
                        );
                        tracing::error!("{line}");
                        problems.push(line);
                        report.lines.extend(problems.iter().cloned());
                        self.set_config_errors(problems);
                        report.fail();
                        self.config_read = previous_read;
                        return false;
                    }
                    recompiled = Some((policy, results));
                }
                report
                    .lines
                    .push(format!("config {}: reloaded", path.display()));
                tracing::info!(config = %path.display(), "config reloaded");
                self.set_config_errors(Vec::new());
                if new.policy != self.config.policy {
                    // Check states carry over by name; a new layout of
                    // check names comes with a new cell, published with
                    // the zones compiled against it.
                    self.health = self.monitor.configure(
                        &new.policy.health,
                        &new.policy.plugins,
                        new.policy.health_ttl,
                    );
                }
                self.upstream.configure(new.resolver.as_ref());
                if let Some((policy, results)) = recompiled {
                    self.policy = policy;
                    for (key, read, (result, ms)) in results {
                        let label = zone_label(key.name(), &new.zones, key.file());
                        self.fresh.insert(key.clone());
                        self.install(key, &label, read, result, ms, report);
                    }
                }
                self.config = new;
                true
            }
            Err(errors) => {
                let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
                for e in &problems {
                    tracing::error!("{e}");
                }
                let line = format!(
                    "config {}: not reloaded ({}); the previous config stays in force",
                    path.display(),
                    super::counted(errors.len(), "error", "errors")
                );
                tracing::error!("{line}");
                problems.push(line);
                report.lines.extend(problems.iter().cloned());
                self.set_config_errors(problems);
                report.fail();
                false
            }
        }
    }

    /// Keeps why the config was last refused (nothing: it was applied)
    /// for `status`.
    fn set_config_errors(&self, mut errors: Vec<String>) {
        errors.truncate(super::KEPT_ERRORS);
        if let Ok(mut status) = self.status.lock() {
            status.config_errors = errors;
        }
    }

    /// Brings the zone entries in line with the config: loads new and
    /// changed zones, drops removed ones. Returns whether anything that
    /// serves changed.
    fn sync_zones(&mut self, trigger: &Trigger<'_>, report: &mut Report) -> bool {
        let mut changed = false;
        let mut wanted = HashSet::new();
        let zones = self.config.zones.clone();
        for zc in &zones {
            let key = ZoneKey::of(zc);
            if !wanted.insert(key.clone()) {
                continue; // the same file in several views loads once
            }
            if self.fresh.contains(&key) {
                changed = true;
                continue;
            }
            let forced = match trigger {
                Trigger::Zone(name) if **name != zc.name => continue,
                Trigger::Zone(_) => true,
                _ => false,
            };
            let label = zone_label(&zc.name, &zones, &zc.file);
            let read = match self.entries.get_mut(&key) {
                None => Fingerprint::take(&zc.file),
                Some(entry) => {
                    let retry = matches!(trigger, Trigger::Full)
                        && matches!(entry.last, LastLoad::Failed { .. });
                    if !forced && !retry && !entry.read.maybe_changed() {
                        continue;
                    }
                    let read = Fingerprint::take(&zc.file);
                    if !forced && !retry && read.hash == entry.read.hash {
                        // Touched, or a racy stamp that turned out fine.
                        entry.read = read;
                        if !matches!(trigger, Trigger::Watch) {
                            entry.last = LastLoad::Unchanged;
                            entry.last_at = SystemTime::now();
                            report.lines.push(format!(
                                "{label}: unchanged{}",
                                entry
                                    .zone
                                    .as_ref()
                                    .map(|z| format!(", serial {}", z.serial))
                                    .unwrap_or_default()
                            ));
                        }
                        continue;
                    }
                    read
                }
            };
            changed |= self.load(key, &label, read, report);
        }
        self.fresh.clear();
        let before = self.entries.len();
        if !matches!(trigger, Trigger::Zone(_)) {
            self.entries.retain(|k, _| wanted.contains(k));
        }
        changed || self.entries.len() != before
    }

    /// Every zone of `config`, each file once, compiled against `policy`
    /// without touching what serves.
    fn compile_all(
        config: &Config,
        policy: &Arc<PolicyConfig>,
    ) -> Vec<(ZoneKey, Fingerprint, (ZoneResult, u64))> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for zc in &config.zones {
            let key = ZoneKey::of(zc);
            if seen.insert(key.clone()) {
                let read = Fingerprint::take(&zc.file);
                let compiled = compile(config, &key, policy);
                out.push((key, read, compiled));
            }
        }
        out
    }

    /// Parses and compiles one zone. On success it replaces what served;
    /// on failure the old version stays. Returns whether it replaced.
    fn load(&mut self, key: ZoneKey, label: &str, read: Fingerprint, report: &mut Report) -> bool {
        let (result, ms) = compile(&self.config, &key, &self.policy);
        self.install(key, label, read, result, ms, report)
    }

    /// Puts a compiled zone in place of what served, or reports why not
    /// and keeps the old version. Returns whether it replaced.
    fn install(
        &mut self,
        key: ZoneKey,
        label: &str,
        read: Fingerprint,
        result: ZoneResult,
        ms: u64,
        report: &mut Report,
    ) -> bool {
        let now = SystemTime::now();
        let entry = self
            .entries
            .entry(key.clone())
            .or_insert_with(|| ServedZone {
                zone: None,
                served_hash: None,
                read: read.clone(),
                loaded_at: None,
                load_ms: 0,
                last: LastLoad::Unchanged,
                last_at: now,
            });
        let hash = read.hash;
        entry.read = read;
        entry.last_at = now;
        match result {
            Ok(built) => {
                for w in &built.warnings {
                    tracing::warn!("{w}");
                    report.lines.push(format!("warning: {w}"));
                }
                let new = built.zone;
                if let Some(old) = &entry.zone {
                    if entry.served_hash != Some(hash) && new.serial == old.serial {
                        let line = format!(
                            "{label}: content changed but the SOA serial {} did not; secondaries will not notice",
                            new.serial
                        );
                        tracing::warn!("{line}");
                        report.lines.push(format!("warning: {line}"));
                    } else if serial_lt(new.serial, old.serial) {
                        let line = format!(
                            "{label}: SOA serial went backwards from {} to {}",
                            old.serial, new.serial
                        );
                        tracing::warn!("{line}");
                        report.lines.push(format!("warning: {line}"));
                    }
                }
                tracing::info!(
                    zone = %key.name(),
                    serial = new.serial,
                    records = new.record_count,
                    ms,
                    "zone loaded"
                );
                report.lines.push(format!(
                    "{label}: loaded serial {}, {} in {ms} ms",
                    new.serial,
                    super::counted(new.record_count, "record", "records")
                ));
                entry.zone = Some(Arc::new(new));
                entry.served_hash = Some(hash);
                entry.loaded_at = Some(now);
                entry.load_ms = ms;
                entry.last = LastLoad::Loaded;
                true
            }
            Err(errors) => {
                report.fail();
                for e in &errors {
                    tracing::error!("{e}");
                    report.lines.push(e.to_string());
                }
                let line = match &entry.zone {
                    Some(old) => format!(
                        "{label}: not reloaded ({}); still serving serial {}",
                        super::counted(errors.len(), "error", "errors"),
                        old.serial
                    ),
                    None => format!(
                        "{label}: not loaded ({}); not served",
                        super::counted(errors.len(), "error", "errors")
                    ),
                };
                tracing::error!("{line}");
                report.lines.push(line);
                entry.last = LastLoad::Failed {
                    errors: errors.len(),
                    first: errors
                        .iter()
                        .take(super::KEPT_ERRORS)
                        .map(ToString::to_string)
                        .collect(),
                };
                false
            }
        }
    }

    /// Builds the snapshot from the entries and swaps it in with one store;
    /// queries in flight finish on the snapshot they loaded.
    fn publish(&mut self) {
        let config = &self.config;
        let zone_of = |zc: &ZoneConfig| {
            self.entries
                .get(&ZoneKey::of(zc))
                .and_then(|e| e.zone.clone())
        };
        let views = compile::views(config, zone_of);
        self.upstream
            .set_targets(compile::external_alias_targets(&views));
        let snapshot = compile::snapshot(
            config,
            views,
            self.policy.clone(),
            self.health.clone(),
            self.upstream.cell(),
        );
        self.state.store(Arc::new(snapshot));
        self.update_status();
    }

    fn update_status(&self) {
        let config = &self.config;
        let views = if config.views.is_empty() {
            vec![("default".to_string(), "every client".to_string())]
        } else {
            config
                .views
                .iter()
                .map(|v| (v.name.clone(), describe(&v.matcher)))
                .collect()
        };
        let zones = config
            .zones
            .iter()
            .filter_map(|zc| {
                let e = self.entries.get(&ZoneKey::of(zc))?;
                Some(ZoneRow {
                    name: zc.name.to_string(),
                    file: zc.file.clone(),
                    views: zc.views.clone(),
                    serial: e.zone.as_ref().map(|z| z.serial),
                    records: e.zone.as_ref().map_or(0, |z| z.record_count),
                    loaded_at: e.loaded_at,
                    load_ms: e.load_ms,
                    last: e.last.clone(),
                    last_at: e.last_at,
                })
            })
            .collect();
        if let Ok(mut status) = self.status.lock() {
            status.views = views;
            status.zones = zones;
            status.config.clone_from(&config.source);
            status.watching = self.watcher.as_ref().map(Watcher::dir_count);
        }
    }

    /// Starts or stops the watcher as the config says and points it at the
    /// directories of every file the zones and the config were read from.
    fn update_watches(&mut self) {
        if !self.config.watch {
            if self.watcher.take().is_some() {
                tracing::info!("file watching off");
            }
            self.watched.clear();
            self.update_status();
            return;
        }
        if self.watcher.is_none() {
            match Watcher::start(self.jobs.clone()) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => {
                    tracing::warn!("cannot watch files ({e}); use SIGHUP or signpostctl reload");
                    return;
                }
            }
        }
        let mut files: HashSet<PathBuf> = self
            .entries
            .values()
            .flat_map(|e| e.read.paths().map(normalize).collect::<Vec<_>>())
            .collect();
        if let Some(c) = &self.config.source {
            files.insert(normalize(c));
        }
        // A symlinked file changes where its target lives too.
        let targets: Vec<PathBuf> = files
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .filter(|t| !files.contains(t))
            .collect();
        files.extend(targets);
        if let Some(w) = &mut self.watcher {
            w.set_files(files.iter().map(PathBuf::as_path));
        }
        self.watched = files;
        self.update_status();
    }
}

/// `zone NAME`, with its views when the name is configured more than once.
fn zone_label(name: &Name, zones: &[ZoneConfig], file: &Path) -> String {
    let twins = zones.iter().filter(|z| z.name == *name).count();
    if twins < 2 {
        return format!("zone {name}");
    }
    let views: Vec<&str> = zones
        .iter()
        .filter(|z| z.name == *name && z.file == file)
        .flat_map(|z| z.views.iter().map(String::as_str))
        .collect();
    if views.is_empty() {
        format!("zone {name} ({})", file.display())
    } else {
        format!("zone {name} (view {})", views.join(","))
    }
}

fn describe(m: &ViewMatch) -> String {
    let list = |nets: &[ipnet::IpNet]| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut parts = Vec::new();
    if !m.sources.is_empty() {
        parts.push(format!("clients {}", list(&m.sources)));
    }
    if !m.destinations.is_empty() {
        parts.push(format!("destinations {}", list(&m.destinations)));
    }
    if !m.keys.is_empty() {
        let keys: Vec<String> = m.keys.iter().map(ToString::to_string).collect();
        parts.push(format!("TSIG keys {}", keys.join(" ")));
    }
    if parts.is_empty() {
        "every client".into()
    } else {
        parts.join("; ")
    }
}

/// Compiles one zone; also returns the milliseconds it took.
fn compile(config: &Config, key: &ZoneKey, policy: &Arc<PolicyConfig>) -> (ZoneResult, u64) {
    let started = Instant::now();
    let result = compile::zone(config, &key.0, policy);
    (result, started.elapsed().as_millis() as u64)
}

/// RFC 1982 serial-number arithmetic: is `a` before `b`?
fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// The policy config and fixed health states of `config`. A GeoIP
/// database that cannot be read is logged and geolocation runs without it
/// (every client then has an unknown location and gets default sets).
fn policy_or_log(config: &Config) -> (PolicyConfig, HealthTable) {
    match compile::policy(&config.policy) {
        Ok(built) => built,
        Err(e) => {
            tracing::error!("{e}; geolocation runs without it");
            let mut settings = config.policy.clone();
            settings.geo_database = None;
            compile::policy(&settings).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::serial_lt;

    #[test]
    fn serial_arithmetic() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 1));
        assert!(serial_lt(u32::MAX, 0));
        assert!(!serial_lt(5, 5));
    }
}
