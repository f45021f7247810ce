//! Telling the service manager how the server is doing (sd_notify(3)): a
//! datagram to `$NOTIFY_SOCKET` with `READY=1` once every zone is loaded
//! and every socket bound, `RELOADING=1` … `READY=1` around each reload,
//! `STATUS=` with the zones served, `STOPPING=1` on the way out, and
//! `WATCHDOG=1` at half the `$WATCHDOG_USEC` interval when systemd asks
//! for it. Without `$NOTIFY_SOCKET` (not run by systemd) nothing is sent.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where notifications go; cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    target: Option<std::sync::Arc<Target>>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
    /// namespace); a notifier that sends nothing when it is unset or
    /// unusable.
    pub fn from_env() -> Self {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let bytes = path.as_encoded_bytes();
            let addr = match bytes.strip_prefix(b"@") {
                Some(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    SocketAddr::from_abstract_name(name).ok()?
                }
                None => SocketAddr::from_pathname(std::path::Path::new(&path)).ok()?,
            };
            let socket = UnixDatagram::unbound().ok()?;
            Some(std::sync::Arc::new(Target { socket, addr }))
        });
        Self { target }
    }

    /// Sends `state` (newline-separated `KEY=VALUE` lines). A failure is
    /// logged once per message and otherwise ignored: the service manager
    /// going away must not stop the server.
    pub fn send(&self, state: &str) {
        let Some(target) = &self.target else { return };
        if let Err(e) = target.socket.send_to_addr(state.as_bytes(), &target.addr) {
            tracing::debug!("sd_notify: {e}");
        }
    }

    /// `READY=1`, with what is served.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// `RELOADING=1`, with the `CLOCK_MONOTONIC` time systemd 253 and
    /// later want beside it.
    pub fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
            monotonic_usec()
        ));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    /// Starts pinging the watchdog at half the interval systemd set in
    /// `$WATCHDOG_USEC` (for this process, per `$WATCHDOG_PID`), on a
    /// thread of its own that stops with the process.
    pub fn start_watchdog(&self) {
        if self.target.is_none() {
            return;
        }
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let Some(usec) = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
        else {
            return;
        };
        let every = Duration::from_micros(usec / 2);
        let notifier = self.clone();
        let started = std::thread::Builder::new()
            .name("signpost-watchdog".into())
            .spawn(move || loop {
                notifier.send("WATCHDOG=1");
                std::thread::sleep(every);
            });
        if let Err(e) = started {
            tracing::warn!("cannot start the watchdog thread: {e}");
        }
    }
}

/// `CLOCK_MONOTONIC` in microseconds, as `MONOTONIC_USEC` expects.
fn monotonic_usec() -> u128 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        u128::from(t.tv_sec().unsigned_abs()) * 1_000_000
            + u128::from(t.tv_nsec().unsigned_abs()) / 1000
    })
}
