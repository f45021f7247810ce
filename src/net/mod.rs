//! Listeners: per address, one UDP socket per worker sharing the port with
//! SO_REUSEPORT (the kernel spreads clients over them), and one TCP
//! listener on the same port.

pub(crate) mod mmsg;
pub(crate) mod tcp;
pub(crate) mod udp;

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};

use crate::querylog::QueryLog;
use crate::snapshot::Snapshot;

/// What every listener answers from.
#[derive(Clone)]
pub(crate) struct Serving {
    /// The snapshot in force, swapped on reload.
    pub(crate) state: Arc<ArcSwap<Snapshot>>,
    /// The query log, when `[query_log]` is on.
    pub(crate) log: Option<Arc<QueryLog>>,
}

/// Receive buffer asked for on each UDP socket, so a burst is queued
/// rather than dropped while a worker is busy.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// The sockets bound for one configured address.
pub(crate) struct Bound {
    pub(crate) udp: Vec<UdpSocket>,
    pub(crate) tcp: TcpListener,
    pub(crate) udp_addr: SocketAddr,
    pub(crate) tcp_addr: SocketAddr,
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Binds `workers` UDP sockets and a TCP listener on `addr`. With port 0
/// the kernel picks a port free for UDP, and TCP takes the same one; if
/// TCP finds it taken we try again with a new port.
pub(crate) fn bind(addr: SocketAddr, workers: usize) -> io::Result<Bound> {
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let first = udp_socket(addr)?;
        let udp_addr = first.local_addr()?;
        let tcp = match tcp_listener(udp_addr) {
            Ok(tcp) => tcp,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let mut udp = vec![first];
        for _ in 1..workers.max(1) {
            udp.push(udp_socket(udp_addr)?);
        }
        let tcp_addr = tcp.local_addr()?;
        return Ok(Bound {
            udp,
            tcp,
            udp_addr,
            tcp_addr,
        });
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}
