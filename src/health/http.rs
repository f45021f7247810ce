//! HTTP and HTTPS checks: one `GET` per probe (HTTP/1.1, `Connection:
//! close`), the status against the expected range, and optionally a string
//! that must appear within the first 5,120 bytes of the (de-chunked) body.
//!
//! HTTPS sends SNI and verifies the certificate chain and name against the
//! built-in Mozilla roots, or only against the certificates of `ca_file`
//! for private endpoints; `tls_verify = false` skips verification (the
//! handshake still has to succeed).

use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::check::{HttpCheck, TlsSettings, BODY_LIMIT};
use super::probe::ProbeError;
use super::state::Outcome;

/// Longest response head (status line and headers) we read.
const MAX_HEAD: usize = 16 * 1024;
/// Most raw body bytes read to find BODY_LIMIT decoded ones.
const MAX_RAW_BODY: usize = 64 * 1024;

/// The TLS client settings of one check.
pub(super) fn tls_config(tls: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = if tls.verify {
        let mut roots = RootCertStore::empty();
        match &tls.ca_file {
            Some(path) => {
                for cert in super::check::read_ca_file(path)? {
                    roots
                        .add(cert)
                        .map_err(|e| format!("CA file \"{}\": {e}", path.display()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `tls_verify = false`: any certificate will do, but the handshake
/// signatures are still checked (so the peer holds the key it presents).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One HTTP(S) probe (the caller applies the timeout).
pub(super) async fn probe(
    check: &HttpCheck,
    tls: Option<&Result<Arc<ClientConfig>, String>>,
    started: Instant,
) -> (Outcome, String) {
    match run(check, tls, started).await {
        Ok(reason) => (Outcome::Up, reason),
        Err(reason) => (Outcome::Down, reason.to_string()),
    }
}

async fn run(
    check: &HttpCheck,
    tls: Option<&Result<Arc<ClientConfig>, String>>,
    started: Instant,
) -> Result<String, ProbeError> {
    let (tcp, addr) = super::tcp::connect(&check.endpoint).await?;
    let (status, body) = match (tls, &check.tls) {
        (Some(config), Some(settings)) => {
            let config = config.clone().map_err(ProbeError::TlsSetup)?;
            let name = ServerName::try_from(settings.sni.clone())
                .map_err(|_| ProbeError::ServerName(settings.sni.clone()))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|source| ProbeError::Handshake {
                    addr,
                    sni: settings.sni.clone(),
                    source,
                })?;
            exchange(stream, check).await?
        }
        _ => exchange(tcp, check).await?,
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (lo, hi) = check.expect;
    if !(lo..=hi).contains(&status) {
        return Err(ProbeError::Status {
            status,
            addr,
            expected: range_text(lo, hi),
        });
    }
    if let Some(needle) = &check.body_contains {
        let found = body.windows(needle.len()).any(|w| w == needle.as_bytes());
        if !found {
            return Err(ProbeError::BodyMismatch {
                status,
                addr,
                needle: needle.clone(),
            });
        }
    }
    Ok(format!("HTTP {status} from {addr} in {ms:.1} ms"))
}

fn range_text(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

/// Sends the request and reads the status and the start of the body.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    check: &HttpCheck,
) -> Result<(u16, Vec<u8>), ProbeError> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: signpost-health/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        check.path,
        host_header(check),
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(ProbeError::Send)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ProbeError::HeadTooLong(MAX_HEAD));
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(ProbeError::Receive)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ProbeError::NoResponse
            } else {
                ProbeError::ClosedInHead
            });
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let status = parse_status(&head)?;
    if check.body_contains.is_none() {
        return Ok((status, Vec::new()));
    }
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length: Option<usize> = header(&head, "content-length").and_then(|v| v.parse().ok());
    let mut raw = buf.split_off(head_end);
    loop {
        let enough = if chunked {
            let (body, done) = dechunk(&raw);
            done || body.len() >= BODY_LIMIT
        } else {
            raw.len() >= BODY_LIMIT || length.is_some_and(|l| raw.len() >= l)
        };
        if enough || raw.len() >= MAX_RAW_BODY {
            break;
        }
        // A peer that closes without TLS close_notify ends the body too.
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let mut body = if chunked { dechunk(&raw).0 } else { raw };
    body.truncate(BODY_LIMIT);
    if let Some(l) = length {
        body.truncate(l);
    }
    Ok((status, body))
}

/// The Host header: the name, with the port when it is not the default.
fn host_header(check: &HttpCheck) -> String {
    let default = if check.tls.is_some() { 443 } else { 80 };
    let host = if check.host.contains(':') && !check.host.starts_with('[') {
        format!("[{}]", check.host) // an IPv6 address
    } else {
        check.host.clone()
    };
    if check.endpoint.port == default {
        host
    } else {
        format!("{host}:{}", check.endpoint.port)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `HTTP/1.x NNN reason`.
fn parse_status(head: &str) -> Result<u16, ProbeError> {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/") && (100..=599).contains(&code) => Ok(code),
        _ => Err(ProbeError::NotHttp(line.chars().take(60).collect())),
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Decodes as much of a chunked body as has arrived; true once the last
/// chunk was seen.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(raw, b"\r\n") else {
            return (out, false);
        };
        let line = String::from_utf8_lossy(raw.get(..eol).unwrap_or_default());
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (out, true); // malformed: stop here
        };
        if size == 0 {
            return (out, true);
        }
        let start = eol + 2;
        let Some(data) = raw.get(start..start.saturating_add(size)) else {
            out.extend_from_slice(raw.get(start..).unwrap_or_default());
            return (out, false);
        };
        out.extend_from_slice(data);
        raw = raw.get(start + size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_headers() {
        assert_eq!(parse_status("HTTP/1.1 204 No Content\r\n\r\n").ok(), Some(204));
        assert!(parse_status("SSH-2.0-OpenSSH\r\n").is_err());
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: Chunked\r\n\r\n";
        assert_eq!(header(head, "content-length"), Some("12"));
        assert_eq!(header(head, "transfer-encoding"), Some("Chunked"));
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"),
            (b"hello world".to_vec(), true)
        );
        assert_eq!(dechunk(b"5\r\nhel"), (b"hel".to_vec(), false));
    }
}
