//! Why a probe found its endpoint down: the reasons the TCP and HTTP(S)
//! probes give, which `signpostctl health` shows.

use super::check::BODY_LIMIT;

/// Why a probe found its endpoint down: the reason `signpostctl health`
/// shows.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProbeError {
    #[error("cannot resolve {address}: {source}")]
    Resolve {
        address: String,
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("connect {addr}: {source}")]
    Connect {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The check's TLS settings could not be made (reported at every
    /// probe until the config changes).
    #[error("{0}")]
    TlsSetup(String),
    #[error("\"{0}\" is not a valid TLS server name")]
    ServerName(String),
    #[error("TLS handshake with {addr} (SNI {sni}): {source}")]
    Handshake {
        addr: std::net::SocketAddr,
        sni: String,
        source: std::io::Error,
    },
    #[error("sending the request: {0}")]
    Send(std::io::Error),
    #[error("reading the response: {0}")]
    Receive(std::io::Error),
    #[error("response head longer than {0} bytes")]
    HeadTooLong(usize),
    #[error("connection closed without a response")]
    NoResponse,
    #[error("connection closed in the response head")]
    ClosedInHead,
    #[error("not an HTTP response: \"{0}\"")]
    NotHttp(String),
    #[error("HTTP {status} from {addr} (expected {expected})")]
    Status {
        status: u16,
        addr: std::net::SocketAddr,
        expected: String,
    },
    #[error("HTTP {status} from {addr}, but the first {BODY_LIMIT} bytes of the body do not contain \"{needle}\"")]
    BodyMismatch {
        status: u16,
        addr: std::net::SocketAddr,
        needle: String,
    },
}
