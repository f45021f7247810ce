//! The `command` health source: the exit status of commands, with the
//! conventions of Nagios/Icinga/Monitoring Plugins, so the thousands of
//! existing `check_*` programs can steer DNS answers.
//!
//! `config = "PATH [timeout=SECS]"`. The file has one target per line,
//! `TARGET COMMAND…`, run with `/bin/sh -c COMMAND` on every poll, all at
//! once; blank lines and `#` comments are skipped. Exit status 0 (OK) and
//! 1 (WARNING) are up, 2 (CRITICAL) is down, 3 (UNKNOWN), any other status,
//! a signal or running past `timeout` (default 10 s) is unknown. The first
//! line of the command's output is the reason. Keep the plugin's `timeout`
//! in the server config above this one.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use signpost_plugin_abi::{valid_target, Source, State};

pub struct CommandSource {
    path: PathBuf,
    timeout: Duration,
}

/// The most output read from one command.
const MAX_OUTPUT: u64 = 4096;

impl Source for CommandSource {
    fn create(config: &str) -> Result<Self, String> {
        let mut words = config.split_whitespace();
        let path = words
            .next()
            .ok_or("config must name the command file: \"PATH [timeout=SECS]\"")?;
        let mut timeout = Duration::from_secs(10);
        for word in words {
            match word.strip_prefix("timeout=").map(str::parse::<u64>) {
                Some(Ok(secs)) if secs > 0 => timeout = Duration::from_secs(secs),
                _ => return Err(format!("unknown option \"{word}\"; only timeout=SECS")),
            }
        }
        Ok(Self {
            path: PathBuf::from(path),
            timeout,
        })
    }

    fn poll(&mut self, report: &mut dyn FnMut(&str, State, &str)) -> Result<(), String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let jobs = parse(&text);
        let deadline = Instant::now() + self.timeout;
        let mut running: Vec<(&str, Option<Child>, mpsc::Receiver<String>)> = Vec::new();
        for (target, command) in &jobs {
            let (tx, rx) = mpsc::channel();
            let child = Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn();
            match child {
                Ok(mut child) => {
                    if let Some(mut out) = child.stdout.take() {
                        std::thread::spawn(move || {
                            let mut buf = Vec::new();
                            let _ = (&mut out).take(MAX_OUTPUT).read_to_end(&mut buf);
                            // Drain the rest so the command never blocks on a full pipe.
                            let _ = std::io::copy(&mut out, &mut std::io::sink());
                            let text = String::from_utf8_lossy(&buf);
                            let _ = tx.send(text.lines().next().unwrap_or("").trim().to_string());
                        });
                    }
                    running.push((target, Some(child), rx));
                }
                Err(e) => report(target, State::Unknown, &format!("cannot run: {e}")),
            }
        }
        for (target, child, output) in &mut running {
            let Some(mut c) = child.take() else { continue };
            let status = loop {
                match c.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break None;
                    }
                }
            };
            let text = output
                .recv_timeout(Duration::from_millis(200))
                .unwrap_or_default();
            let (state, reason) = match status.map(|s| s.code()) {
                None => (
                    State::Unknown,
                    format!("timed out after {} s", self.timeout.as_secs()),
                ),
                Some(Some(code)) => (
                    state_of(code),
                    if text.is_empty() {
                        format!("exit status {code}")
                    } else {
                        text
                    },
                ),
                Some(None) => (State::Unknown, "killed by a signal".to_string()),
            };
            report(target, state, &reason);
        }
        Ok(())
    }
}

/// Nagios plugin exit codes.
pub fn state_of(code: i32) -> State {
    match code {
        0 | 1 => State::Up,
        2 => State::Down,
        _ => State::Unknown,
    }
}

/// `(target, command)` for each line of the command file.
pub fn parse(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (target, command) = l.split_once(char::is_whitespace)?;
            (valid_target(target) && !command.trim().is_empty()).then(|| (target, command.trim()))
        })
        .collect()
}

signpost_plugin_abi::export_plugin!(CommandSource, "command");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_commands_and_maps_exit_codes() {
        let dir = std::env::temp_dir().join(format!("signpost-command-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("checks");
        std::fs::write(
            &file,
            "# t\nok echo fine; exit 0\nwarn exit 1\ncrit echo broken; exit 2\nodd exit 3\nslow sleep 5\n",
        )
        .unwrap();
        let mut source = CommandSource::create(&format!("{} timeout=1", file.display())).unwrap();
        let mut got = Vec::new();
        source
            .poll(&mut |t, s, r| got.push((t.to_string(), s, r.to_string())))
            .unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let states: Vec<(&str, State)> = got.iter().map(|(t, s, _)| (t.as_str(), *s)).collect();
        assert_eq!(
            states,
            vec![
                ("crit", State::Down),
                ("odd", State::Unknown),
                ("ok", State::Up),
                ("slow", State::Unknown),
                ("warn", State::Up),
            ]
        );
        assert_eq!(got[0].2, "broken");
        assert!(got[3].2.contains("timed out"), "{got:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
