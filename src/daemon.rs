//! Start-up order and shutdown of `signpostd`.
//!
//! 1. load every zone (a broken zone is reported and left out; the others
//!    serve) and publish the snapshot ([`control::Control::start`]),
//! 2. bind every listener (all or nothing), then the control socket (best
//!    effort: without it the server still serves, and reloads on SIGHUP and
//!    file changes),
//! 3. announce `listening udp=… tcp=…` on stdout,
//! 4. serve until SIGTERM/SIGINT; SIGHUP reloads. On the way out the
//!    control socket file is removed.

use std::io::Write;
use std::sync::mpsc::Sender;

use crate::config::Config;
use crate::control::{self, Control, Job, Overrides};
use crate::net;

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
    let control = Control::start(config.clone(), overrides).map_err(DaemonError::Thread)?;

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

    let mut socket = match control::socket::bind(&config.control_socket) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(
                "no control socket at {}: {e}; signpostctl reload and status are unavailable",
                config.control_socket.display()
            );
            None
        }
    };
    if let Some(s) = &mut socket {
        runtime.spawn(s.serve(control::socket::Served {
            jobs: control.jobs(),
            status: control.status.clone(),
            health: control.health.clone(),
            state: control.state.clone(),
        }));
        tracing::info!(path = %s.path().display(), "control socket ready");
    }

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
            net::udp::spawn_worker(format!("signpost-udp{i}.{w}"), sock, control.state.clone())
                .map_err(DaemonError::Thread)?;
        }
        runtime.spawn(net::tcp::serve(
            b.tcp,
            control.state.clone(),
            settings.clone(),
        ));
    }
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

    match signals {
        Ok(signals) => runtime.block_on(signals.serve(control.jobs())),
        Err(e) => tracing::error!("cannot install signal handlers: {e}"),
    }
    // Removes the socket file first, so no client connects to a server
    // that is going away.
    drop(socket);
    control.stop();
    Ok(())
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

    /// Waits for signals: SIGHUP reloads, SIGTERM and SIGINT stop.
    async fn serve(mut self, jobs: Sender<Job>) {
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    let _ = jobs.send(Job::Reload { zone: None, reply: None });
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
        tracing::info!("signpostd stopping");
    }
}
