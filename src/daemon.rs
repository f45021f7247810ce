//! Start-up order, reload and shutdown of `signpostd`.
//!
//! 1. load every zone (a broken zone is reported and left out; the others
//!    serve), 2. publish the snapshot, 3. bind every listener (all or
//!    nothing), 4. announce `listening udp=… tcp=…` on stdout, 5. serve until
//!    SIGTERM/SIGINT; SIGHUP reloads.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::config::{self, Config};
use crate::net;
use crate::snapshot::Snapshot;
use crate::zone::{self, Zone};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start a worker thread: {0}")]
    Thread(std::io::Error),
}

/// Loads every configured zone, logging errors and warnings. Zones that fail
/// to load are taken from `previous` when it has them, so a broken edit
/// keeps the last good data serving.
pub fn load_zones(config: &Config, previous: Option<&Snapshot>) -> (Vec<Arc<Zone>>, usize) {
    let mut zones = Vec::new();
    let mut failed = 0;
    for zc in &config.zones {
        let started = Instant::now();
        match zone::load(&zc.name, &zc.file) {
            Ok(built) => {
                for w in &built.warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(
                    zone = %zc.name,
                    serial = built.zone.serial,
                    records = built.zone.record_count,
                    ms = started.elapsed().as_millis() as u64,
                    "zone loaded"
                );
                zones.push(Arc::new(built.zone));
            }
            Err(errors) => {
                failed += 1;
                for e in &errors {
                    tracing::error!("{e}");
                }
                let old = previous.and_then(|p| {
                    p.views
                        .first()
                        .and_then(|v| v.zones.get(zc.name.to_lowercase().as_wire()).cloned())
                });
                match old {
                    Some(old) => {
                        tracing::error!(zone = %zc.name, "zone not reloaded ({} errors); still serving serial {}", errors.len(), old.serial);
                        zones.push(old);
                    }
                    None => {
                        tracing::error!(zone = %zc.name, "zone not loaded ({} errors); not served", errors.len())
                    }
                }
            }
        }
    }
    (zones, failed)
}

/// Runs the server until a termination signal.
pub fn run(config: Config) -> Result<(), DaemonError> {
    let (zones, _) = load_zones(&config, None);
    let state = Arc::new(ArcSwap::from_pointee(Snapshot::new(
        zones,
        config.edns_udp_size,
    )));

    let mut bound = Vec::new();
    for &addr in &config.listen {
        let b =
            net::bind(addr, config.workers).map_err(|source| DaemonError::Bind { addr, source })?;
        bound.push(b);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("signpost-tcp")
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;

    let settings = net::tcp::TcpSettings {
        idle_timeout: config.tcp_idle_timeout,
        max_connections: config.tcp_max_connections,
    };
    let mut announce = String::new();
    for (i, b) in bound.into_iter().enumerate() {
        announce.push_str(&format!(
            "listening udp={} tcp={}\n",
            b.udp_addr, b.tcp_addr
        ));
        for (w, socket) in b.udp.into_iter().enumerate() {
            net::udp::spawn_worker(format!("signpost-udp{i}.{w}"), socket, state.clone())
                .map_err(DaemonError::Thread)?;
        }
        runtime.spawn(net::tcp::serve(b.tcp, state.clone(), settings.clone()));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(announce.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(
        workers = config.workers,
        zones = state
            .load()
            .views
            .iter()
            .map(|v| v.zones.len())
            .sum::<usize>(),
        "signpostd ready"
    );

    runtime.block_on(signals(config, state));
    Ok(())
}

/// Waits for signals: SIGHUP reloads, SIGTERM and SIGINT stop.
async fn signals(config: Config, state: Arc<ArcSwap<Snapshot>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let mut config = config;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let current = config.clone();
                let state2 = state.clone();
                match tokio::task::spawn_blocking(move || reload(current, &state2)).await {
                    Ok(Some(new_config)) => config = new_config,
                    Ok(None) => {}
                    Err(e) => tracing::error!("reload task failed: {e}"),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("signpostd stopping");
}

/// Re-reads the config (if there is a file) and every zone, off the query
/// path, then swaps the snapshot in one store. Returns the config now in
/// force when it changed.
fn reload(config: Config, state: &ArcSwap<Snapshot>) -> Option<Config> {
    let started = Instant::now();
    let mut new_config = None;
    let mut effective = config.clone();
    if let Some(path) = &config.source {
        match config::load(path) {
            Ok(c) => {
                if c.listen != config.listen || c.workers != config.workers {
                    tracing::warn!("listen addresses and workers change only on restart");
                }
                effective = Config {
                    listen: config.listen.clone(),
                    workers: config.workers,
                    ..c
                };
                new_config = Some(effective.clone());
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!("{e}");
                }
                tracing::error!("config not reloaded; zones reload with the old config");
            }
        }
    }
    let previous = state.load_full();
    let (zones, failed) = load_zones(&effective, Some(&previous));
    state.store(Arc::new(Snapshot::new(zones, effective.edns_udp_size)));
    tracing::info!(
        failed,
        ms = started.elapsed().as_millis() as u64,
        "reload finished"
    );
    new_config
}
