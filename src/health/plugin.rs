//! Supervising one plugin child (see plugin_host.rs for the other end):
//! start it, poll it every `interval`, and when it fails to load, crashes,
//! hangs past `timeout` or prints anything outside the protocol, make its
//! targets unknown, kill it and start it again after a backoff (1 s,
//! doubling to 60 s, back to 1 s after a good poll).

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use super::check::PluginDef;
use super::shared::Shared;
use super::plugin_host::{FLAG, MAX_REASON, MAX_TARGETS};
use super::state::Outcome;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest protocol line (a state line: target, word, reason, tabs).
const MAX_LINE: u64 = (signpost_plugin_abi::MAX_TARGET + MAX_REASON + 32) as u64;

pub(super) async fn supervise(shared: Arc<Shared>, def: PluginDef) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let why = run(&shared, &def, &mut backoff).await;
        let line = format!(
            "plugin {}: {why}; restarting in {} s",
            def.id,
            backoff.as_secs()
        );
        tracing::warn!("{line}");
        shared.observe_plugin(&def.id, Err(&line));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The command that starts `def`'s host: this binary re-executed, talking
/// over its stdin and stdout.
fn host_command(def: &PluginDef) -> Result<std::process::Command, LoadError> {
    let exe = std::env::current_exe().map_err(LoadError::NoExecutable)?;
    let mut command = std::process::Command::new(exe);
    command
        .arg(FLAG)
        .arg(&def.library)
        .arg(&def.name)
        .arg(&def.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    Ok(command)
}

/// Runs one child until it fails; returns why.
async fn run(shared: &Shared, def: &PluginDef, backoff: &mut Duration) -> String {
    let spawned = host_command(def).and_then(|command| {
        Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .map_err(LoadError::Spawn)
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return "the plugin host has no pipes".into();
    };
    let mut reader = BufReader::new(stdout);

    let first = tokio::time::timeout(def.timeout, read_line(&mut reader)).await;
    let loaded = match &first {
        Err(_) => Err(LoadError::Timeout(def.timeout.as_secs_f64())),
        Ok(line) => ready(line.as_deref()),
    };
    match loaded {
        Ok(rest) => {
            tracing::info!(plugin = %def.id, library = %def.library.display(), "plugin loaded: {rest}");
        }
        Err(e) => return ended(&mut child, &e.to_string()).await,
    }

    loop {
        if stdin.write_all(b"poll\n").await.is_err() || stdin.flush().await.is_err() {
            return ended(&mut child, "closed its input").await;
        }
        match tokio::time::timeout(def.timeout, read_poll(&mut reader)).await {
            Err(_) => {
                return ended(
                    &mut child,
                    &format!(
                        "did not answer a poll within {} s",
                        def.timeout.as_secs_f64()
                    ),
                )
                .await
            }
            Ok(Err(why)) => return ended(&mut child, &why).await,
            Ok(Ok((states, 0))) => {
                shared.observe_plugin(&def.id, Ok(&states));
                *backoff = FIRST_BACKOFF;
            }
            Ok(Ok((_, rc))) => {
                shared.observe_plugin(
                    &def.id,
                    Err(&format!("plugin {}: poll failed with code {rc}", def.id)),
                );
            }
        }
        tokio::time::sleep(def.interval).await;
    }
}

/// Why a plugin host did not come up.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot find the server binary to re-execute: {0}")]
    NoExecutable(std::io::Error),
    #[error("cannot start the plugin host: {0}")]
    Spawn(std::io::Error),
    #[error("did not load within {0} s")]
    Timeout(f64),
    #[error("exited while loading")]
    Exited,
    /// The host's own reason: no such library, not a plugin, another
    /// name, another ABI, a refused config.
    #[error("failed to load: {0}")]
    Refused(String),
    #[error("garbage instead of ready: {0}")]
    Garbage(String),
}

/// What the host's first line says: `ready NAME VERSION` (returned
/// without `ready `) or why it did not load.
fn ready(line: Option<&str>) -> Result<&str, LoadError> {
    let line = line.ok_or(LoadError::Exited)?;
    if let Some(message) = line.strip_prefix("error ") {
        return Err(LoadError::Refused(message.to_string()));
    }
    line.strip_prefix("ready ")
        .ok_or_else(|| LoadError::Garbage(short(line)))
}

/// Starts the plugin's host once, exactly as the daemon does, and waits
/// for it to load: `signpostctl checkconf` fails with the daemon's own
/// message on a library that is missing, is not a plugin, reports another
/// name or refuses its config. Returns the `NAME VERSION` it reported.
pub fn try_load(def: &PluginDef) -> Result<String, LoadError> {
    use std::io::BufRead;
    let mut child = host_command(def)?.spawn().map_err(LoadError::Spawn)?;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = std::io::BufReader::new(std::io::Read::take(stdout, MAX_LINE));
            let read = reader.read_line(&mut line).ok().filter(|&n| n > 0);
            let _ = tx.send(read.map(|_| line.trim_end_matches('\n').to_string()));
        });
    }
    let outcome = match rx.recv_timeout(def.timeout) {
        Ok(line) => ready(line.as_deref()).map(str::to_string),
        Err(_) => Err(LoadError::Timeout(def.timeout.as_secs_f64())),
    };
    // Closing its input ends a loaded host; the kill is for a hung one.
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// One poll's answer: the states and poll()'s return code.
async fn read_poll<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<(HashMap<String, (Outcome, String)>, i64), String> {
    let mut states = HashMap::new();
    loop {
        let Some(line) = read_line(reader).await else {
            return Err("exited during a poll".into());
        };
        if let Some(rc) = line.strip_prefix("end ") {
            return match rc.trim().parse() {
                Ok(rc) => Ok((states, rc)),
                Err(_) => Err(format!("garbage: {}", short(&line))),
            };
        }
        if let Some(g) = line.strip_prefix("garbage ") {
            return Err(format!("reported garbage: {g}"));
        }
        let mut parts = line.splitn(4, '\t');
        let (Some("state"), Some(target), Some(word), reason) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("garbage: {}", short(&line)));
        };
        let outcome = match word {
            "up" => Outcome::Up,
            "down" => Outcome::Down,
            "unknown" => Outcome::Unknown,
            _ => return Err(format!("garbage: {}", short(&line))),
        };
        if !signpost_plugin_abi::valid_target(target) || states.len() >= MAX_TARGETS {
            return Err(format!("garbage: {}", short(&line)));
        }
        states.insert(
            target.to_string(),
            (outcome, reason.unwrap_or("").to_string()),
        );
    }
}

/// One line without its newline; None at EOF, on a read error, on a line
/// longer than MAX_LINE or one that is not UTF-8 (the caller treats all
/// of those as a broken child).
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut buf = Vec::new();
    let n = reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await
        .ok()?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return None;
    }
    buf.pop();
    String::from_utf8(buf).ok()
}

fn short(line: &str) -> String {
    super::plugin_host::clean_reason(line)
        .chars()
        .take(60)
        .collect()
}

/// How long a child that said why it stops (or hung up) gets to exit on
/// its own before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// Ends the child and says how it ended. A child that exits on its own
/// (a refused load exits 1, a crash is a signal) has its exit described
/// when that adds something; one still running is killed, and that kill
/// is not reported as if it were the plugin's fault.
async fn ended(child: &mut Child, why: &str) -> String {
    if let Ok(Ok(status)) = tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        return match describe(status) {
            Some(how) => format!("{why} ({how})"),
            None => why.to_string(),
        };
    }
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    why.to_string()
}

/// How a child ended, unless it ended the way a plugin host does after
/// saying why (exit status 1: a refused load; 0: its input closed).
fn describe(status: ExitStatus) -> Option<String> {
    if matches!(status.code(), Some(0 | 1)) {
        return None;
    }
    Some(describe_status(status))
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            libc::SIGSEGV => " (SIGSEGV)",
            libc::SIGABRT => " (SIGABRT, e.g. a panic across the C boundary)",
            libc::SIGKILL => " (SIGKILL)",
            libc::SIGBUS => " (SIGBUS)",
            libc::SIGILL => " (SIGILL)",
            libc::SIGFPE => " (SIGFPE)",
            _ => "",
        };
        format!("killed by signal {sig}{name}")
    } else {
        format!("exit status {}", status.code().unwrap_or(-1))
    }
}
