//! The Prometheus endpoint: `GET /metrics` over HTTP/1.x, one request per
//! connection. Anything else gets 404 (or 405 for another method); a
//! client gets a few seconds and a few kilobytes to send its request.

use std::net::TcpListener;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::metrics::{self, Sources, CONTENT_TYPE};

const REQUEST_LIMIT: usize = 8192;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves scrapes until the process exits. Must run inside a tokio runtime.
pub async fn serve(listener: TcpListener, sources: Sources) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("metrics listener cannot join the runtime: {e}");
            return;
        }
    };
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let sources = sources.clone();
        tokio::spawn(async move {
            let Ok(Some(head)) =
                tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await
            else {
                return;
            };
            let reply = respond(&head, &sources);
            let _ = stream.write_all(&reply).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// The request line and headers, up to the blank line.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > REQUEST_LIMIT {
            return None;
        }
        head.extend_from_slice(buf.get(..n)?);
    }
    String::from_utf8(head).ok()
}

/// The whole HTTP response to one request head.
fn respond(head: &str, sources: &Sources) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", CONTENT_TYPE, metrics::render(sources)),
        (_, "/metrics") => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_string(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_string(),
        ),
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        reply.extend_from_slice(body.as_bytes());
    }
    reply
}
