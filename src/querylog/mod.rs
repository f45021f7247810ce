//! The query log: one record per query (or per `sample` queries), as
//! JSON lines and/or dnstap, written by a thread of its own.
//!
//! ```text
//! worker: sampled? ─► Entry (query and response bytes, Outcome) ─► try_send
//!                                                 full: drop and count ─┘
//! writer thread ─► json::line ─► file
//!               ─► dnstap::frames ─► file, or a collector's Unix socket
//! ```
//!
//! A worker never waits for the log: the queue is bounded, and when the
//! writer falls behind new records are dropped and counted
//! (`signpost_query_log_dropped_total`). Sampling is per worker thread:
//! each logs every `sample`-th query it answers. A file moved away (as
//! logrotate does) is noticed within a second and made anew.

mod dnstap;
mod json;

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant, SystemTime};

use crate::proto::Client;
use crate::stats::Outcome;

/// Records that may wait for the writer by default.
pub const DEFAULT_QUEUE: usize = 65_536;

/// `[query_log]` (signpost.toml(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Append one JSON object per query here.
    pub json: Option<PathBuf>,
    /// Write dnstap (Frame Streams) to this file.
    pub dnstap_file: Option<PathBuf>,
    /// Send dnstap to the collector listening on this Unix socket.
    pub dnstap_socket: Option<PathBuf>,
    /// Log one query in this many.
    pub sample: u64,
    pub queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            json: None,
            dnstap_file: None,
            dnstap_socket: None,
            sample: 1,
            queue: DEFAULT_QUEUE,
        }
    }
}

impl Settings {
    pub fn enabled(&self) -> bool {
        self.json.is_some() || self.dnstap_file.is_some() || self.dnstap_socket.is_some()
    }
}

/// One logged query.
#[derive(Debug)]
pub struct Entry {
    pub received: SystemTime,
    pub answered: SystemTime,
    pub client: Client,
    pub query: Box<[u8]>,
    /// Empty when the query got no response.
    pub response: Box<[u8]>,
    pub outcome: Option<Outcome>,
}

enum Message {
    Entry(Entry),
    /// Write what is queued, end the streams, and stop.
    Finish,
}

/// The workers' end of the log.
pub struct QueryLog {
    queue: SyncSender<Message>,
    sample: u64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Records written.
    pub written: Arc<AtomicU64>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

thread_local! {
    /// Queries this thread answered since it last logged one.
    static SINCE_LOGGED: Cell<u64> = const { Cell::new(0) };
}

impl QueryLog {
    /// Opens every sink and starts the writer thread. A file that cannot be
    /// opened is an error; a dnstap collector that is not listening yet is
    /// retried, and records are dropped meanwhile.
    pub fn start(settings: &Settings) -> io::Result<Arc<Self>> {
        let sinks = Sinks::open(settings)?;
        let (queue, records) = mpsc::sync_channel(settings.queue.max(1));
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let writer = std::thread::Builder::new()
            .name("signpost-querylog".into())
            .spawn(move || write_all(records, sinks, &counter))?;
        Ok(Arc::new(Self {
            queue,
            sample: settings.sample.max(1),
            dropped: AtomicU64::new(0),
            written,
            writer: std::sync::Mutex::new(Some(writer)),
        }))
    }

    /// Whether this query is one to log: every `sample`-th on this thread.
    #[inline]
    pub fn sampled(&self) -> bool {
        SINCE_LOGGED.with(|since| {
            let n = since.get() + 1;
            if n >= self.sample {
                since.set(0);
                true
            } else {
                since.set(n);
                false
            }
        })
    }

    /// Hands a record to the writer, or drops and counts it when the
    /// writer is behind. Never blocks.
    pub fn log(&self, entry: Entry) {
        match self.queue.try_send(Message::Entry(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Logs `query` and its `response` if this query is sampled.
    #[inline]
    pub fn maybe_log(
        &self,
        received: SystemTime,
        client: &Client,
        query: &[u8],
        response: &[u8],
        outcome: Option<&Outcome>,
    ) {
        if self.sampled() {
            self.log(Entry {
                received,
                answered: SystemTime::now(),
                client: *client,
                query: query.into(),
                response: response.into(),
                outcome: outcome.copied(),
            });
        }
    }

    /// Writes what is queued, ends each stream properly (the dnstap STOP
    /// frame) and waits for the writer, at most a few seconds.
    pub fn finish(&self) {
        // A blocking send: the writer is draining, so there will be room.
        let _ = self.queue.send(Message::Finish);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// Where records go.
struct Sinks {
    json: Option<Opened<BufWriter<File>>>,
    dnstap_file: Option<Opened<dnstap::Stream<BufWriter<File>>>>,
    dnstap_socket: Option<dnstap::Collector>,
    last_rotation_check: Instant,
}

/// A file sink, with the path it was opened at and the identity of the
/// file opened, to notice when logrotate (or anyone) moves it away.
struct Opened<W> {
    out: W,
    path: PathBuf,
    id: (u64, u64),
    /// The last write failed: said once, not for every record (a full
    /// disk would otherwise flood the log).
    failing: bool,
}

impl<W> Opened<W> {
    fn new(out: W, path: &Path, file: &File) -> io::Result<Self> {
        let meta = file.metadata()?;
        Ok(Self {
            out,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            failing: false,
        })
    }

    /// Reports the first failure of a run of failed writes, and the
    /// recovery: only a flush that worked (the data reached the file) ends
    /// the run, since a buffered write succeeds whatever the disk says.
    fn note(&mut self, result: io::Result<()>, flushed: bool) {
        match result {
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::error!(
                    "query log: cannot write {}: {e}; records are lost until it works again",
                    self.path.display()
                );
            }
            Ok(()) if self.failing && flushed => {
                self.failing = false;
                tracing::info!("query log: writing {} again", self.path.display());
            }
            _ => {}
        }
    }

    /// Whether the path now names another file, or none.
    fn moved(&self) -> bool {
        std::fs::metadata(&self.path).map_or(true, |m| (m.dev(), m.ino()) != self.id)
    }
}

/// How often the writer looks for rotated files.
const ROTATION_CHECK: Duration = Duration::from_secs(1);

fn open_json(path: &Path) -> io::Result<Opened<BufWriter<File>>> {
    let file = append(path)?;
    let id_source = file.try_clone()?;
    Opened::new(BufWriter::new(file), path, &id_source)
}

/// A dnstap file is one stream from START to STOP: each opening starts
/// afresh.
fn open_dnstap(path: &Path) -> io::Result<Opened<dnstap::Stream<BufWriter<File>>>> {
    let file = File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let id_source = file.try_clone()?;
    Opened::new(dnstap::Stream::start(BufWriter::new(file))?, path, &id_source)
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Sinks {
    fn open(settings: &Settings) -> io::Result<Self> {
        let json = settings.json.as_deref().map(open_json).transpose()?;
        let dnstap_file = settings.dnstap_file.as_deref().map(open_dnstap).transpose()?;
        let dnstap_socket = settings.dnstap_socket.clone().map(dnstap::Collector::new);
        Ok(Self {
            json,
            dnstap_file,
            dnstap_socket,
            last_rotation_check: Instant::now(),
        })
    }

    /// Reopens a file that was moved away (logrotate's default): the old
    /// one is flushed (a dnstap stream gets its STOP) and a new one made at
    /// the configured path. At most once a second.
    fn follow_rotation(&mut self) {
        if self.last_rotation_check.elapsed() < ROTATION_CHECK {
            return;
        }
        self.last_rotation_check = Instant::now();
        if let Some(json) = self.json.as_mut().filter(|j| j.moved()) {
            let _ = json.out.flush();
            match open_json(&json.path) {
                Ok(new) => *json = new,
                Err(e) => tracing::error!("query log: cannot reopen the JSON log: {e}"),
            }
        }
        if self.dnstap_file.as_ref().is_some_and(Opened::moved) {
            if let Some(old) = self.dnstap_file.take() {
                let path = old.path.clone();
                let _ = old.out.stop();
                match open_dnstap(&path) {
                    Ok(new) => self.dnstap_file = Some(new),
                    Err(e) => tracing::error!("query log: cannot reopen the dnstap file: {e}"),
                }
            }
        }
    }

    fn write(&mut self, entry: &Entry) {
        if let Some(json) = &mut self.json {
            let mut line = json::line(entry);
            line.push('\n');
            let result = json.out.write_all(line.as_bytes());
            json.note(result, false);
        }
        if self.dnstap_file.is_some() || self.dnstap_socket.is_some() {
            let [query, response] = dnstap::messages(entry);
            if let Some(dnstap) = &mut self.dnstap_file {
                let result = dnstap
                    .out
                    .frame(&query)
                    .and_then(|()| dnstap.out.frame(&response));
                dnstap.note(result, false);
            }
            if let Some(collector) = &mut self.dnstap_socket {
                collector.send(&[&query, &response]);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(json) = &mut self.json {
            let result = json.out.flush();
            json.note(result, true);
        }
        if let Some(dnstap) = &mut self.dnstap_file {
            let result = dnstap.out.flush();
            dnstap.note(result, true);
        }
        if let Some(collector) = &mut self.dnstap_socket {
            collector.flush();
        }
    }

    fn finish(mut self) {
        self.flush();
        if let Some(dnstap) = self.dnstap_file.take() {
            let _ = dnstap.out.stop();
        }
        if let Some(collector) = self.dnstap_socket.take() {
            collector.stop();
        }
    }
}

/// The writer thread: writes records as they come, flushing whenever the
/// queue is empty (and at least every second), until told to finish.
fn write_all(records: Receiver<Message>, mut sinks: Sinks, written: &AtomicU64) {
    loop {
        match records.recv_timeout(Duration::from_secs(1)) {
            Ok(Message::Entry(entry)) => {
                sinks.write(&entry);
                written.fetch_add(1, Ordering::Relaxed);
                let mut more = 0usize;
                // Drain what is already queued before one flush.
                while more < 1024 {
                    match records.try_recv() {
                        Ok(Message::Entry(entry)) => {
                            sinks.write(&entry);
                            written.fetch_add(1, Ordering::Relaxed);
                            more += 1;
                        }
                        Ok(Message::Finish) => {
                            sinks.finish();
                            return;
                        }
                        Err(_) => break,
                    }
                }
                sinks.flush();
                sinks.follow_rotation();
            }
            Ok(Message::Finish) | Err(RecvTimeoutError::Disconnected) => {
                sinks.finish();
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                sinks.flush();
                sinks.follow_rotation();
            }
        }
    }
}

/// The client's address as dnstap and JSON show it.
pub(crate) fn address(addr: SocketAddr) -> (std::net::IpAddr, u16) {
    (crate::proto::canonical(addr.ip()), addr.port())
}
