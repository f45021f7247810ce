//! UDP workers: each owns one socket and a thread with its own
//! single-threaded runtime, so a query never crosses threads. Datagrams
//! move in batches (see `mmsg`).

use std::net::UdpSocket;
use std::sync::Arc;

use std::os::fd::AsRawFd;

use arc_swap::ArcSwap;

use super::mmsg::{register_readable, Batch};

use crate::query::{self, Transport};
use crate::snapshot::Snapshot;

/// Starts a worker thread serving `socket` until the process exits.
pub fn spawn_worker(
    name: String,
    socket: UdpSocket,
    state: Arc<ArcSwap<Snapshot>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("UDP worker cannot start its runtime: {e}");
                return;
            }
        };
        runtime.block_on(serve(socket, state));
    })
}

async fn serve(socket: UdpSocket, state: Arc<ArcSwap<Snapshot>>) {
    // Registered for reading only: with write interest too, every sent
    // datagram freed by the kernel would wake the poller (sock_wfree showed
    // up at ~5% of a profile).
    let socket = match register_readable(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("UDP socket cannot join the runtime: {e}");
            return;
        }
    };
    let fd = socket.as_raw_fd();
    let mut batch = Batch::new();
    loop {
        let Ok(mut ready) = socket.readable().await else {
            continue;
        };
        // try_io clears the readiness on WouldBlock, so the next
        // readable() really waits.
        let Ok(Ok(n)) = ready.try_io(|_| batch.recv(fd)) else {
            continue;
        };
        let snapshot = state.load();
        batch.answer_each(n, |request, out| {
            query::respond(&snapshot, request, Transport::Udp, out)
        });
        drop(snapshot);
        batch.send(fd, n);
    }
}
