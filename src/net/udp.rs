//! UDP workers: each owns one socket and one thread, blocking in
//! `recvmmsg` and answering a batch at a time, so a query never crosses
//! threads.
//!
//! No async runtime here, on purpose: a socket registered with epoll has a
//! waiter on its queue, and then every datagram the kernel frees after
//! sending takes the wait-queue lock (sock_wfree was ~6% of a profile). A
//! thread blocked in recvmmsg only waits when there is nothing to do.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::SystemTime;

use super::mmsg::Batch;
use super::Serving;

use crate::proto::{Client, Transport};
use crate::query;
use crate::stats;

/// Starts a worker thread serving `socket` until the process exits.
pub(crate) fn spawn_worker(
    name: String,
    socket: UdpSocket,
    serving: Serving,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    socket.set_nonblocking(false)?;
    std::thread::Builder::new()
        .name(name)
        .spawn(move || serve(&socket, &serving))
}

fn serve(socket: &UdpSocket, serving: &Serving) {
    let fd = socket.as_raw_fd();
    // A wildcard bind does not know the destination of each datagram.
    let local = socket
        .local_addr()
        .ok()
        .filter(|a| !a.ip().is_unspecified());
    let mut batch = Batch::new();
    loop {
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here; they concern
                // one client only. Anything else is logged and retried.
                if e.raw_os_error() != Some(libc::ECONNREFUSED) {
                    tracing::warn!("UDP receive failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                continue;
            }
        };
        let snapshot = serving.state.load();
        let log = serving.log.as_deref();
        let received = log.map(|_| SystemTime::now());
        // This thread's counters, locked once for the batch.
        stats::with_tally(|tally| {
            batch.answer_each(n, |request, addr, out| {
                let client = Client {
                    addr,
                    local,
                    transport: Transport::Udp,
                };
                let outcome = query::respond(&snapshot, request, &client, out);
                tally.count(outcome.as_ref(), Transport::Udp, out);
                if let (Some(log), Some(received)) = (log, received) {
                    let sent: &[u8] = if outcome.is_some() { out } else { &[] };
                    log.maybe_log(received, &client, request, sent, outcome.as_ref());
                }
                outcome.is_some()
            });
        });
        drop(snapshot);
        batch.send(fd, n);
    }
}
