//! The control socket: a Unix stream socket that `signpostctl` writes one
//! command line to (`status`, `status json`, `reload`, `reload ZONE`,
//! `health`, `health json`, `health set CHECK up|down|auto`,
//! `explain NAME TYPE CLIENT`, `stop`) and reads the answer from, one line
//! each: first `@server pid=PID config=PATH`, naming the server that
//! answers, then the answer (for `json`, one line holding a JSON object),
//! ending with `OK` or `FAILED`.
//!
//! Two locks on the door: the socket file is mode 0600 (only the daemon's
//! user, and root, can connect), and each connection's peer credentials
//! (SO_PEERCRED) must be root's or the daemon's user, which still holds if
//! someone loosens the file mode.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use arc_swap::ArcSwap;

use super::{Job, Status};
use crate::explain::{explain_snapshot, ExplainClient};
use crate::health::Handle;
use crate::proto::name::Name;
use crate::snapshot::Snapshot;

/// Last line of a successful answer.
pub const OK: &str = "OK";
/// Last line of an answer reporting a failure.
pub const FAILED: &str = "FAILED";
/// Longest command line accepted.
const MAX_COMMAND: u64 = 1024;
/// Control clients served at once; more are turned away.
const MAX_CLIENTS: usize = 8;
/// How long a client may take to send its command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Which server answers: its process and config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub pid: u32,
    /// `None` for the config-less form.
    pub config: Option<PathBuf>,
}

impl Identity {
    /// This process, serving `config`.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            pid: std::process::id(),
            config: config
                .source
                .as_ref()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
        }
    }

    fn header(&self) -> String {
        match &self.config {
            Some(c) => format!("{SERVER_PREFIX}pid={} config={}", self.pid, c.display()),
            None => format!("{SERVER_PREFIX}pid={} config=", self.pid),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({"pid": self.pid, "config": self.config})
    }

    fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix(SERVER_PREFIX)?;
        let (pid, config) = rest.split_once(" config=")?;
        Some(Self {
            pid: pid.strip_prefix("pid=")?.parse().ok()?,
            config: (!config.is_empty()).then(|| PathBuf::from(config)),
        })
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.config {
            Some(c) => write!(f, "signpostd pid {} ({})", self.pid, c.display()),
            None => write!(f, "signpostd pid {} (no config file)", self.pid),
        }
    }
}

/// First line of every answer.
const SERVER_PREFIX: &str = "@server ";

/// What the commands read and drive.
#[derive(Clone)]
pub struct Served {
    pub server: Identity,
    /// Notified by `stop`: the daemon shuts down as on SIGTERM.
    pub stop: Arc<tokio::sync::Notify>,
    pub jobs: Sender<Job>,
    pub status: Arc<Mutex<Status>>,
    pub health: Handle,
    /// The snapshot queries are answered from, for `explain`.
    pub(crate) state: Arc<ArcSwap<Snapshot>>,
    /// What `stats` shows.
    pub metrics: super::metrics::Sources,
}

/// A bound control socket; removes its file when dropped, unless another
/// process has replaced it meanwhile.
pub struct ControlSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
    /// (device, inode) of the socket file we created.
    id: (u64, u64),
    owner: u32,
}

/// Binds the control socket at `path`, mode 0600. A stale socket left by a
/// crashed daemon is replaced; a live one (another daemon answers) is not.
/// A missing last directory (`/run/signpost` after a reboot, when no
/// service manager made it) is created, mode 0755.
pub fn bind(path: &Path) -> io::Result<ControlSocket> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o755).create(dir)?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another server is listening on it",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)?;
            }
            Err(e) => return Err(e),
        }
    }
    let listener = UnixListener::bind(path)?;
    // The umask usually already keeps others out between bind and chmod,
    // and the peer-credential check covers the rest.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let meta = std::fs::metadata(path)?;
    Ok(ControlSocket {
        listener: Some(listener),
        path: path.to_path_buf(),
        id: (meta.dev(), meta.ino()),
        owner: meta.uid(),
    })
}

impl ControlSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets the user the server drops to use the socket it now owns
    /// (besides root).
    pub fn set_owner(&mut self, uid: u32) {
        self.owner = uid;
    }

    /// Serves commands until the process exits. Must run inside a tokio
    /// runtime; call once.
    pub fn serve(
        &mut self,
        served: Served,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let listener = self.listener.take();
        let owner = self.owner;
        async move {
            let Some(listener) = listener else { return };
            let listener = match listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::UnixListener::from_std(listener))
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("control socket cannot join the runtime: {e}");
                    return;
                }
            };
            let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("control socket accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    continue; // dropping the stream closes it
                };
                let served = served.clone();
                tokio::spawn(async move {
                    if let Err(e) = client(stream, owner, served).await {
                        tracing::debug!("control client: {e}");
                    }
                    drop(permit);
                });
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn client(stream: tokio::net::UnixStream, owner: u32, served: Served) -> io::Result<()> {
    let Served {
        server,
        stop,
        jobs,
        status,
        health,
        state,
        metrics,
    } = served;
    let uid = stream.peer_cred()?.uid();
    let (reader, mut writer) = stream.into_split();
    // The command is read even from a client about to be refused: closing
    // with its bytes unread would reset the connection before it sees why.
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(reader.take(MAX_COMMAND));
    match tokio::time::timeout(COMMAND_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Ok(()),
    }
    if uid != 0 && uid != owner {
        tracing::warn!(uid, "control socket: refused a client of another user");
        let text = format!(
            "{}\npermission denied: uid {uid} may not control this server\n{FAILED}\n",
            server.header()
        );
        writer.write_all(text.as_bytes()).await?;
        return writer.shutdown().await;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let (lines, ok) = match words.as_slice() {
        ["status"] => {
            let (text, well) = status
                .lock()
                .map(|b| (b.render(), b.all_well()))
                .unwrap_or_default();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.extend(signing_lines(&state.load()));
            (lines, well)
        }
        ["status", "json"] => {
            let (mut json, well) = status
                .lock()
                .map(|b| (b.json(), b.all_well()))
                .unwrap_or_default();
            json["server"] = server.json();
            json["signing"] = signing_json(&state.load());
            (vec![json.to_string()], well)
        }
        ["stop"] => {
            tracing::info!("signpostctl stop: stopping");
            stop.notify_one();
            (vec!["stopping".into()], true)
        }
        ["reload"] => reload(&jobs, None).await,
        ["reload", zone] => match Name::parse(zone, Some(&Name::root())) {
            Ok(name) => reload(&jobs, Some(name)).await,
            Err(e) => (vec![format!("bad zone name \"{zone}\": {e}")], false),
        },
        ["health"] => (health.list(), true),
        ["stats"] => (
            super::metrics::render(&metrics)
                .lines()
                .map(str::to_string)
                .collect(),
            true,
        ),
        ["health", "json"] => (vec![health_json(&health.rows()).to_string()], true),
        ["health", "set", name, state] => match health.set(name, state) {
            Ok(line) => (vec![line], true),
            Err(e) => (vec![e.to_string()], false),
        },
        ["explain", name, rtype, client] => explain(&state, name, rtype, client),
        _ => (
            vec![format!(
                "unknown command \"{}\"; try status, status json, reload, reload ZONE, health, health json, health set CHECK up|down|auto, explain NAME TYPE CLIENT, stats or stop",
                line.trim()
            )],
            false,
        ),
    };
    let mut text = server.header();
    text.push('\n');
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    text.push_str(if ok { OK } else { FAILED });
    text.push('\n');
    writer.write_all(text.as_bytes()).await?;
    writer.shutdown().await
}

/// Every signed zone with its signer (a zone in several views is listed
/// once).
fn signers(snapshot: &Snapshot) -> Vec<(&crate::zone::Zone, &crate::dnssec::ZoneSigner)> {
    let mut seen: Vec<*const crate::dnssec::ZoneSigner> = Vec::new();
    let mut out = Vec::new();
    for view in &snapshot.views {
        let mut zones: Vec<&crate::zone::Zone> = view.zones.values().map(|z| &**z).collect();
        zones.sort_by_key(|z| z.apex.to_string());
        for zone in zones {
            let Some(signer) = &zone.signer else { continue };
            if seen.contains(&Arc::as_ptr(signer)) {
                continue;
            }
            seen.push(Arc::as_ptr(signer));
            out.push((zone, &**signer));
        }
    }
    out
}

/// Live signing counters, one line per signed zone.
fn signing_lines(snapshot: &Snapshot) -> Vec<String> {
    signers(snapshot)
        .into_iter()
        .map(|(zone, signer)| format!("signing {}: {}", zone.apex, signer.describe()))
        .collect()
}

/// The same for `status json`.
fn signing_json(snapshot: &Snapshot) -> serde_json::Value {
    signers(snapshot)
        .into_iter()
        .map(|(zone, signer)| {
            let s = signer.stats();
            serde_json::json!({
                "zone": zone.apex.to_string(),
                "key_tag": s.key_tag,
                "algorithm": s.algorithm,
                "signatures_cached": s.cached,
                "hits": s.hits,
                "signed": s.signed,
                "evicted": s.evicted,
            })
        })
        .collect()
}

/// `health json`: the rows of `health`, one object per check. Times are
/// RFC 3339 UTC; the keys are documented in signpostctl(8).
fn health_json(rows: &[crate::health::CheckRow]) -> serde_json::Value {
    use crate::proto::time::utc;
    let checks: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "state": if r.up { "up" } else { "down" },
                "mode": if r.forced { "forced" } else { "auto" },
                "type": r.kind,
                "last": r.last,
                "latency_ms": r.latency.map(|d| d.as_secs_f64() * 1000.0),
                "checked": r.checked.map(utc),
                "since": utc(r.since),
                "reason": r.reason,
            })
        })
        .collect();
    serde_json::json!({ "checks": checks })
}

fn explain(
    state: &ArcSwap<Snapshot>,
    name: &str,
    rtype: &str,
    client: &str,
) -> (Vec<String>, bool) {
    let Some(qtype) = crate::proto::rtype::from_str(rtype) else {
        return (vec![format!("unknown record type \"{rtype}\"")], false);
    };
    let client: ExplainClient = match client.parse() {
        Ok(c) => c,
        Err(e) => return (vec![e.to_string()], false),
    };
    match explain_snapshot(&state.load(), name, qtype, client) {
        Ok(mut lines) => {
            lines.insert(
                0,
                "source: the running server's zones and live health states".into(),
            );
            (lines, true)
        }
        Err(e) => (vec![e.to_string()], false),
    }
}

async fn reload(jobs: &Sender<Job>, zone: Option<Name>) -> (Vec<String>, bool) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if jobs
        .send(Job::Reload {
            zone,
            reply: Some(tx),
        })
        .is_err()
    {
        return (vec!["the server is shutting down".into()], false);
    }
    match rx.await {
        Ok(report) => (report.lines, report.ok),
        Err(_) => (vec!["the reload did not finish".into()], false),
    }
}

/// What the daemon answered: who it is, its lines, and whether it ended
/// with `OK`.
pub struct Reply {
    pub server: Option<Identity>,
    pub lines: Vec<String>,
    pub ok: bool,
}

/// Sends one command and reads the whole answer (the client side, for
/// `signpostctl`).
pub fn call(path: &Path, command: &str, timeout: Duration) -> io::Result<Reply> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(command.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut lines = Vec::new();
    for line in BufReader::new(stream).lines() {
        lines.push(line?);
    }
    let server = lines.first().and_then(|l| Identity::parse(l));
    if server.is_some() {
        lines.remove(0);
    }
    let ok = match lines.pop() {
        Some(last) if last == OK => true,
        Some(last) if last == FAILED => false,
        Some(last) => {
            lines.push(last);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the answer was cut short",
            ));
        }
        None => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no answer (is it a signpostd control socket?)",
            ))
        }
    };
    Ok(Reply { server, lines, ok })
}
