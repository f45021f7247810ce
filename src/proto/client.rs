//! Who asked, and how: the source address selects views and, without an
//! EDNS Client Subnet option, the client's location.

use std::net::{IpAddr, SocketAddr};

/// How the query arrived; it decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// `udp` or `tcp`, as metrics labels and logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// The sender of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: SocketAddr,
    /// The local address the query arrived on, when known.
    pub local: Option<SocketAddr>,
    pub transport: Transport,
}

/// IPv4-mapped IPv6 addresses are matched as the IPv4 address they carry.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}
