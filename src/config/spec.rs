//! The config file exactly as written: serde types with
//! `deny_unknown_fields` on every table, so a typo is an error with a
//! position rather than a silently ignored key. Values that are validated
//! later keep their span for `file:line:col` messages.

use serde::Deserialize;
use toml::Spanned;

pub const DEFAULT_TCP_IDLE_TIMEOUT: u64 = 10;
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 512;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub zone: Vec<Zone>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `ADDRESS:PORT` strings; IPv6 as `[::1]:53`.
    #[serde(default)]
    pub listen: Vec<Spanned<String>>,
    /// UDP sockets and threads per address; 0 or absent: one per CPU.
    pub workers: Option<usize>,
    pub edns_udp_size: Option<Spanned<u16>>,
    /// Seconds a TCP connection may sit idle (or dribble one message).
    pub tcp_idle_timeout: Option<Spanned<u64>>,
    pub tcp_max_connections: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: Spanned<String>,
    pub file: Spanned<String>,
}
