//! UDP workers: each owns one socket and a thread with its own
//! single-threaded runtime, so a query never crosses threads.

use std::net::UdpSocket;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::query::{self, Transport};
use crate::snapshot::Snapshot;

/// Largest datagram we accept; anything longer is not a DNS query.
const MAX_DATAGRAM: usize = 65535;

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
    let socket = match tokio::net::UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("UDP socket cannot join the runtime: {e}");
            return;
        }
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(4096);
    loop {
        // ICMP errors from earlier sends surface here; they concern one
        // client only.
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(packet) = buf.get(..len) else {
            continue;
        };
        let snapshot = state.load();
        if query::respond(&snapshot, packet, Transport::Udp, &mut out) {
            let _ = socket.send_to(&out, peer).await;
        }
    }
}
