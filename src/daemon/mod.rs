//! Start-up order and shutdown of `signpostd`.
//!
//! Before [`run`], the binary reads the config and installs the log
//! subscriber its `[log]` asks for ([`log`]), so that every line is in
//! that form. Then:
//!
//! 1. decide who to run as (started as root: `[server] user`, or refuse
//!    without it unless `allow_root`; see [`privileges`]),
//! 2. bind every listener (all or nothing; of the default addresses, those
//!    that cannot be bound are skipped with a warning), then the control
//!    socket (best effort: without it the server still serves, and reloads
//!    on SIGHUP and file changes),
//! 3. become the unprivileged user, before reading any zone or starting
//!    any health check or plugin,
//! 4. load every zone (a broken zone is reported and left out; the others
//!    serve) and publish the snapshot ([`control::Control::start`]),
//! 5. announce `listening udp=… tcp=…` on stdout,
//! 6. serve until SIGTERM/SIGINT or `signpostctl stop`; SIGHUP reloads. On
//!    the way out the control socket file is removed.

pub mod log;
pub mod privileges;

use std::io::Write;
use std::sync::mpsc::Sender;

use crate::config::Config;
use crate::control::{self, Control, Job, Overrides};
use crate::net;
use crate::querylog::QueryLog;
use privileges::{Plan, PrivilegeError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on any default address ({0}); set [server] listen (signpost.toml(5))")]
    NoDefault(String),
    #[error("cannot serve metrics on {addr}: {source} (signpost.toml(5), [metrics] listen)")]
    Metrics {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the query log: {0} (signpost.toml(5), [query_log])")]
    QueryLog(std::io::Error),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start a worker thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Privileges(#[from] PrivilegeError),
}

/// Runs the server until a termination signal. `overrides` are the
/// command-line additions that survive a config re-read.
pub fn run(config: Config, overrides: Overrides) -> Result<(), DaemonError> {
    if config
        .views
        .iter()
        .any(|v| !v.matcher.destinations.is_empty())
        && config.listen.iter().any(|a| a.ip().is_unspecified())
    {
        tracing::warn!(
            "views with match_destinations never match queries on a wildcard UDP address; listen on specific addresses"
        );
    }
    let plan = privileges::plan(
        config.run_as.as_ref(),
        config.allow_root,
        config.source.is_some(),
    )?;
    let bound = bind_listeners(&config.listen, config.listen_is_default, config.workers)?;
    let metrics = match config.metrics_listen {
        Some(addr) => {
            Some(bind_metrics(addr).map_err(|source| DaemonError::Metrics { addr, source })?)
        }
        None => None,
    };
    let mut socket = match &config.control_socket {
        None => {
            tracing::info!("no control socket (give --control PATH for signpostctl)");
            None
        }
        Some(path) => match control::socket::bind(path) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "no control socket at {}: {e}; signpostctl reload and status are unavailable",
                    path.display()
                );
                None
            }
        },
    };
    if let Plan::Become(target) = &plan {
        if let Some(s) = &mut socket {
            privileges::hand_over(s.path(), target)?;
            s.set_owner(target.uid.as_raw());
        }
        privileges::become_user(target)?;
    }

    // Opened as the user we serve as: it owns the files it writes.
    let log = if config.query_log.enabled() {
        Some(QueryLog::start(&config.query_log).map_err(DaemonError::QueryLog)?)
    } else {
        None
    };
    let notifier = control::notify::Notifier::from_env();
    let control =
        Control::start(config.clone(), overrides, notifier.clone()).map_err(DaemonError::Thread)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("signpost-tcp")
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    // `signpostctl stop` rings this; the signal loop below listens.
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let metrics_sources = control::metrics::Sources {
        status: control.status.clone(),
        health: control.health.clone(),
        state: control.state.clone(),
        log: log.clone(),
    };
    let mut announce_metrics = String::new();
    if let Some(s) = &mut socket {
        runtime.spawn(s.serve(control::socket::Served {
            server: control::socket::Identity::of(&config),
            stop: stop.clone(),
            jobs: control.jobs(),
            status: control.status.clone(),
            health: control.health.clone(),
            state: control.state.clone(),
            metrics: metrics_sources.clone(),
        }));
        tracing::info!(path = %s.path().display(), "control socket ready");
    }
    if let Some(listener) = metrics {
        let addr = listener.local_addr().ok();
        runtime.spawn(control::http::serve(listener, metrics_sources.clone()));
        if let Some(addr) = addr {
            announce_metrics = format!("metrics http://{addr}/metrics\n");
        }
    }
    let serving = net::Serving {
        state: control.state.clone(),
        log: log.clone(),
    };

    let settings = net::tcp::TcpSettings {
        idle_timeout: config.tcp_idle_timeout,
        max_connections: config.tcp_max_connections,
    };
    let mut announce = String::new();
    let mut listeners = Vec::new();
    for (i, b) in bound.into_iter().enumerate() {
        announce.push_str(&format!(
            "listening udp={} tcp={}\n",
            b.udp_addr, b.tcp_addr
        ));
        listeners.push((b.udp_addr, b.tcp_addr));
        for (w, sock) in b.udp.into_iter().enumerate() {
            net::udp::spawn_worker(format!("signpost-udp{i}.{w}"), sock, serving.clone())
                .map_err(DaemonError::Thread)?;
        }
        runtime.spawn(net::tcp::serve(b.tcp, serving.clone(), settings.clone()));
    }
    announce.push_str(&announce_metrics);
    control.set_listeners(listeners);
    // Handlers go in before the announcement: whoever reads it may send
    // SIGHUP at once, and SIGHUP's default action would kill us.
    let signals = {
        let _context = runtime.enter();
        Signals::install()
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(announce.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(
        workers = config.workers,
        zones = control
            .state
            .load()
            .views
            .iter()
            .map(|v| v.zones.len())
            .sum::<usize>(),
        "signpostd ready"
    );
    // Every zone is loaded and every socket bound: systemd may start what
    // depends on us.
    let summary = control
        .status
        .lock()
        .map(|s| s.summary())
        .unwrap_or_default();
    notifier.ready(&summary);
    notifier.start_watchdog();

    match signals {
        Ok(signals) => runtime.block_on(signals.serve(control.jobs(), &stop)),
        Err(e) => tracing::error!("cannot install signal handlers: {e}"),
    }
    notifier.stopping();
    // Removes the socket file first, so no client connects to a server
    // that is going away.
    drop(socket);
    control.stop();
    if let Some(log) = log {
        // The records queued so far, and the end of each dnstap stream.
        log.finish();
    }
    Ok(())
}

fn bind_metrics(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Binds every address. A configured address that cannot be bound stops
/// the start with its address and reason; a default one is skipped with a
/// warning, as long as one of them binds.
fn bind_listeners(
    addrs: &[std::net::SocketAddr],
    defaults: bool,
    workers: usize,
) -> Result<Vec<net::Bound>, DaemonError> {
    let mut bound = Vec::new();
    for &addr in addrs {
        match net::bind(addr, workers) {
            Ok(b) => bound.push(b),
            Err(source) if defaults => {
                tracing::warn!("default address {addr} skipped: cannot listen on it: {source}");
            }
            Err(source) => return Err(DaemonError::Bind { addr, source }),
        }
    }
    if bound.is_empty() {
        let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        return Err(DaemonError::NoDefault(all.join(", ")));
    }
    Ok(bound)
}

/// The signals we handle, registered with the kernel as soon as this
/// exists.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime's context.
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for signals: SIGHUP reloads, SIGTERM and SIGINT stop, as
    /// does `signpostctl stop`.
    async fn serve(mut self, jobs: Sender<Job>, stop: &tokio::sync::Notify) {
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    let _ = jobs.send(Job::Reload { zone: None, reply: None });
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
                () = stop.notified() => break,
            }
        }
        tracing::info!("signpostd stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 192.0.2.1 (TEST-NET-1) is no address of this host: binding it fails
    // with EADDRNOTAVAIL, and nothing is sent anywhere.
    fn addr(text: &str) -> std::net::SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_configured_address_must_bind_and_is_named() {
        let err = bind_listeners(&[addr("127.0.0.1:0"), addr("192.0.2.1:0")], false, 1)
            .err()
            .expect("refused");
        assert!(
            err.to_string()
                .starts_with("cannot listen on 192.0.2.1:0: "),
            "{err}"
        );
    }

    #[test]
    fn a_default_address_that_cannot_bind_is_skipped() {
        let bound = bind_listeners(&[addr("192.0.2.1:0"), addr("127.0.0.1:0")], true, 1).unwrap();
        assert_eq!(bound.len(), 1);
        assert!(bound[0].udp_addr.ip().is_loopback());
        let none = bind_listeners(&[addr("192.0.2.1:0")], true, 1)
            .err()
            .expect("nothing bound");
        assert!(
            none.to_string()
                .contains("cannot listen on any default address (192.0.2.1:0)"),
            "{none}"
        );
    }
}
