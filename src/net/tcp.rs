//! DNS over TCP (RFC 7766): length-prefixed messages, pipelined queries
//! answered in order, an idle timeout that also bounds how long one message
//! may take to arrive (so a slow or half-open client only holds its own
//! slot), and a cap on connections.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Serving;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::proto::{Client, Transport};
use crate::query;
use crate::stats::{self, Events, EVENTS};

#[derive(Clone)]
pub(crate) struct TcpSettings {
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Accepts connections until the process exits. Must run inside a tokio
/// runtime.
pub(crate) async fn serve(listener: TcpListener, serving: Serving, settings: TcpSettings) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("TCP listener cannot join the runtime: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly.
                tracing::warn!("TCP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the limit: close at once rather than queue (RFC 7766 §6.2.2).
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            Events::count(&EVENTS.tcp_refused);
            drop(stream);
            continue;
        };
        Events::count(&EVENTS.tcp_accepted);
        let serving = serving.clone();
        let idle = settings.idle_timeout;
        tokio::spawn(async move {
            let client = Client {
                addr: peer,
                local: stream.local_addr().ok(),
                transport: Transport::Tcp,
            };
            connection(stream, &serving, idle, client).await;
            Events::count(&EVENTS.tcp_closed);
            drop(permit);
        });
    }
}

async fn connection(stream: TcpStream, serving: &Serving, idle: Duration, client: Client) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let mut packet = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    loop {
        match tokio::time::timeout(idle, read_message(&mut reader, &mut packet)).await {
            Ok(Ok(true)) => {}
            _ => break,
        }
        let received = serving.log.as_ref().map(|_| SystemTime::now());
        let snapshot = serving.state.load();
        let outcome = query::respond(&snapshot, &packet, &client, &mut out);
        drop(snapshot);
        stats::with_tally(|tally| tally.count(outcome.as_ref(), Transport::Tcp, &out));
        if let (Some(log), Some(received)) = (&serving.log, received) {
            let sent: &[u8] = if outcome.is_some() { &out } else { &[] };
            log.maybe_log(received, &client, &packet, sent, outcome.as_ref());
        }
        if outcome.is_none() {
            continue;
        }
        let len = (out.len().min(usize::from(u16::MAX)) as u16).to_be_bytes();
        if writer.write_all(&len).await.is_err() || writer.write_all(&out).await.is_err() {
            break;
        }
        // Pipelined queries already read are answered before one flush.
        if reader.buffer().is_empty() && writer.flush().await.is_err() {
            break;
        }
    }
    let _ = writer.flush().await;
}

/// Reads one length-prefixed message. False at end of stream or on a
/// zero-length message, which no client sends.
async fn read_message<R: AsyncReadExt + Unpin>(
    reader: &mut R,
    packet: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let mut len = [0u8; 2];
    if reader.read_exact(&mut len).await.is_err() {
        return Ok(false);
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 {
        return Ok(false);
    }
    packet.resize(len, 0);
    reader.read_exact(packet).await?;
    Ok(true)
}
