//! dnstap: each query as an AUTH_QUERY and an AUTH_RESPONSE message
//! (the `Dnstap` protobuf schema of dnstap.info), in Frame Streams (the
//! `protobuf:dnstap.Dnstap` content type): to a file, unidirectional, or to
//! a collector's Unix socket with the bidirectional handshake (READY,
//! ACCEPT, START … STOP, FINISH) that `fstrm_capture`, `dnstap-ldns` and
//! dnscollectors expect.
//!
//! Protobuf is written by hand: two messages with a dozen scalar and
//! bytes fields need only varints, fixed32 and length prefixes.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{address, Entry};
use crate::proto::Transport;

const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

/// Frame Streams control frame types.
const CONTROL_ACCEPT: u32 = 0x01;
const CONTROL_START: u32 = 0x02;
const CONTROL_STOP: u32 = 0x03;
const CONTROL_READY: u32 = 0x04;
const CONTROL_FINISH: u32 = 0x05;
const FIELD_CONTENT_TYPE: u32 = 0x01;

/// `Message.Type` values.
const AUTH_QUERY: u64 = 1;
const AUTH_RESPONSE: u64 = 2;

/// Protobuf wire types.
const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;
const FIXED32: u64 = 5;

/// A protobuf message being written.
#[derive(Default)]
struct Proto(Vec<u8>);

impl Proto {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u64, wire_type: u64) {
        self.varint(field << 3 | wire_type);
    }

    fn uint(&mut self, field: u64, value: u64) {
        self.key(field, VARINT);
        self.varint(value);
    }

    fn fixed32(&mut self, field: u64, value: u32) {
        self.key(field, FIXED32);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, field: u64, value: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn split_time(t: SystemTime) -> (u64, u32) {
    t.duration_since(UNIX_EPOCH)
        .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()))
}

/// Who we are, in every message: the host name and our version.
fn identity() -> Vec<u8> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().as_bytes().to_vec())
        .unwrap_or_default()
}

/// The AUTH_QUERY and AUTH_RESPONSE `Dnstap` payloads of one entry.
pub(super) fn messages(entry: &Entry) -> [Vec<u8>; 2] {
    [AUTH_QUERY, AUTH_RESPONSE].map(|kind| {
        let (client, client_port) = address(entry.client.addr);
        let mut message = Proto::default();
        message.uint(1, kind);
        message.uint(2, if client.is_ipv4() { 1 } else { 2 });
        message.uint(
            3,
            match entry.client.transport {
                Transport::Udp => 1,
                Transport::Tcp => 2,
            },
        );
        message.bytes(4, &ip_bytes(client));
        if let Some(local) = entry.client.local {
            let (ip, port) = address(local);
            if ip.is_ipv4() == client.is_ipv4() {
                message.bytes(5, &ip_bytes(ip));
            }
            message.uint(7, u64::from(port));
        }
        message.uint(6, u64::from(client_port));
        let (secs, nanos) = split_time(entry.received);
        message.uint(8, secs);
        message.fixed32(9, nanos);
        if kind == AUTH_QUERY {
            message.bytes(10, &entry.query);
        } else {
            let (secs, nanos) = split_time(entry.answered);
            message.uint(12, secs);
            message.fixed32(13, nanos);
            if !entry.response.is_empty() {
                message.bytes(14, &entry.response);
            }
        }
        let mut dnstap = Proto::default();
        dnstap.bytes(1, &identity());
        dnstap.bytes(2, format!("signpost {}", crate::VERSION).as_bytes());
        dnstap.bytes(14, &message.0);
        // Dnstap.Type MESSAGE
        dnstap.uint(15, 1);
        dnstap.0
    })
}

/// A Frame Streams control frame: escape, length, type, content type.
fn control(kind: u32, with_content_type: bool) -> Vec<u8> {
    let mut body = kind.to_be_bytes().to_vec();
    if with_content_type {
        body.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        body.extend_from_slice(&(CONTENT_TYPE.len() as u32).to_be_bytes());
        body.extend_from_slice(CONTENT_TYPE);
    }
    let mut frame = 0u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// A unidirectional stream: START, data frames, STOP.
pub(super) struct Stream<W: Write> {
    out: W,
}

impl<W: Write> Stream<W> {
    pub(super) fn start(mut out: W) -> io::Result<Self> {
        out.write_all(&control(CONTROL_START, true))?;
        Ok(Self { out })
    }

    pub(super) fn frame(&mut self, payload: &[u8]) -> io::Result<()> {
        self.out.write_all(&(payload.len() as u32).to_be_bytes())?;
        self.out.write_all(payload)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the stream; returns the writer.
    pub(super) fn stop(mut self) -> io::Result<W> {
        self.out.write_all(&control(CONTROL_STOP, false))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// How long a collector may take to accept or to read what we send
/// before the connection is given up (and records dropped until the next
/// attempt).
const COLLECTOR_TIMEOUT: Duration = Duration::from_secs(2);
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// A dnstap collector on a Unix socket, connected on demand.
pub(super) struct Collector {
    path: PathBuf,
    stream: Option<Stream<io::BufWriter<UnixStream>>>,
    last_attempt: Option<Instant>,
}

impl Collector {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            stream: None,
            last_attempt: None,
        }
    }

    fn connect(&self) -> io::Result<Stream<io::BufWriter<UnixStream>>> {
        let mut socket = UnixStream::connect(&self.path)?;
        socket.set_write_timeout(Some(COLLECTOR_TIMEOUT))?;
        socket.set_read_timeout(Some(COLLECTOR_TIMEOUT))?;
        socket.write_all(&control(CONTROL_READY, true))?;
        let kind = read_control(&mut socket)?;
        if kind != CONTROL_ACCEPT {
            return Err(io::Error::other(format!(
                "expected ACCEPT, got control frame type {kind}"
            )));
        }
        Stream::start(io::BufWriter::new(socket))
    }

    /// Sends the frames, connecting first if need be (at most once a
    /// second); without a collector they are dropped.
    pub(super) fn send(&mut self, frames: &[&[u8]]) {
        if self.stream.is_none() {
            if self
                .last_attempt
                .is_some_and(|t| t.elapsed() < RECONNECT_EVERY)
            {
                return;
            }
            self.last_attempt = Some(Instant::now());
            match self.connect() {
                Ok(stream) => {
                    tracing::info!(socket = %self.path.display(), "dnstap collector connected");
                    self.stream = Some(stream);
                }
                Err(e) => {
                    tracing::warn!(socket = %self.path.display(), "dnstap collector unavailable: {e}");
                    return;
                }
            }
        }
        let failed = match &mut self.stream {
            Some(stream) => frames.iter().try_for_each(|f| stream.frame(f)).is_err(),
            None => false,
        };
        if failed {
            tracing::warn!(socket = %self.path.display(), "dnstap collector went away");
            self.stream = None;
        }
    }

    pub(super) fn flush(&mut self) {
        if let Some(stream) = &mut self.stream {
            if stream.flush().is_err() {
                self.stream = None;
            }
        }
    }

    /// STOP, then wait briefly for the collector's FINISH.
    pub(super) fn stop(self) {
        if let Some(stream) = self.stream {
            if let Ok(writer) = stream.stop() {
                if let Ok(mut socket) = writer.into_inner() {
                    if !matches!(read_control(&mut socket), Ok(CONTROL_FINISH)) {
                        tracing::debug!("dnstap collector did not answer STOP with FINISH");
                    }
                }
            }
        }
    }
}

/// Reads one control frame and returns its type.
fn read_control(socket: &mut impl Read) -> io::Result<u32> {
    let mut word = [0u8; 4];
    socket.read_exact(&mut word)?;
    if u32::from_be_bytes(word) != 0 {
        return Err(io::Error::other("expected a control frame"));
    }
    socket.read_exact(&mut word)?;
    let len = u32::from_be_bytes(word) as usize;
    if !(4..=512).contains(&len) {
        return Err(io::Error::other("control frame of a bad length"));
    }
    let mut body = vec![0u8; len];
    socket.read_exact(&mut body)?;
    let kind: [u8; 4] = body
        .get(..4)
        .and_then(|k| k.try_into().ok())
        .unwrap_or_default();
    Ok(u32::from_be_bytes(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_as_protobuf_writes_them() {
        let mut p = Proto::default();
        p.uint(1, 300);
        p.bytes(2, b"ab");
        p.fixed32(9, 1);
        assert_eq!(p.0, [0x08, 0xac, 0x02, 0x12, 2, b'a', b'b', 0x4d, 1, 0, 0, 0]);
    }

    #[test]
    fn a_file_stream_is_start_frames_stop() {
        let stream = Stream::start(Vec::new()).unwrap();
        let mut stream = stream;
        stream.frame(b"xyz").unwrap();
        let bytes = stream.stop().unwrap();
        let start = control(CONTROL_START, true);
        assert_eq!(&bytes[..start.len()], &start[..]);
        // escape 0, length 4 + 4 + 4 + 22, type START
        assert_eq!(&start[..12], &[0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 2]);
        let rest = &bytes[start.len()..];
        assert_eq!(&rest[..7], &[0, 0, 0, 3, b'x', b'y', b'z']);
        assert_eq!(&rest[7..], &[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
    }
}
