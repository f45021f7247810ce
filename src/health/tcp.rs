//! TCP connect checks, and the connect step HTTP(S) checks share.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;

use super::check::Endpoint;
use super::probe::ProbeError;
use super::state::Outcome;

/// Resolves the endpoint (an address, or a name through the system
/// resolver) and connects to the first address that answers.
pub(super) async fn connect(ep: &Endpoint) -> Result<(TcpStream, SocketAddr), ProbeError> {
    let addrs: Vec<SocketAddr> = match ep.address.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, ep.port)],
        Err(_) => tokio::net::lookup_host((ep.address.as_str(), ep.port))
            .await
            .map_err(|source| ProbeError::Resolve {
                address: ep.address.clone(),
                source,
            })?
            .collect(),
    };
    let mut last = ProbeError::NoAddress(ep.address.clone());
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, addr));
            }
            Err(source) => last = ProbeError::Connect { addr, source },
        }
    }
    Err(last)
}

/// One TCP probe (the caller applies the timeout).
pub(super) async fn probe(ep: &Endpoint, started: Instant) -> (Outcome, String) {
    match connect(ep).await {
        Ok((_, addr)) => (
            Outcome::Up,
            format!(
                "connected to {addr} in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ),
        ),
        Err(e) => (Outcome::Down, e.to_string()),
    }
}
