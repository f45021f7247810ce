//! The `file` health source: target states from a text file that another
//! tool writes (a deploy script, a maintenance switch, a cluster manager).
//!
//! `config = "PATH [max_age=SECS]"`. The file has one target per line,
//! `TARGET up|down [REASON…]`; blank lines and `#` comments are skipped.
//! The file is re-read on every poll, so writers should replace it
//! atomically (write a temporary file, then rename it over the old one).
//! With `max_age`, a file not modified for that long is stale and every
//! target is reported unknown: the tool that writes it has probably died.
//! A missing or unreadable file makes every target unknown too.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use signpost_plugin_abi::{valid_target, Source, State};

pub struct FileSource {
    path: PathBuf,
    max_age: Option<Duration>,
}

impl Source for FileSource {
    fn create(config: &str) -> Result<Self, String> {
        let mut words = config.split_whitespace();
        let path = words
            .next()
            .ok_or("config must name the state file: \"PATH [max_age=SECS]\"")?;
        let mut max_age = None;
        for word in words {
            match word.strip_prefix("max_age=").map(str::parse::<u64>) {
                Some(Ok(secs)) if secs > 0 => max_age = Some(Duration::from_secs(secs)),
                _ => return Err(format!("unknown option \"{word}\"; only max_age=SECS")),
            }
        }
        Ok(Self {
            path: PathBuf::from(path),
            max_age,
        })
    }

    fn poll(&mut self, report: &mut dyn FnMut(&str, State, &str)) -> Result<(), String> {
        let meta =
            std::fs::metadata(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        if let (Some(max), Ok(modified)) = (self.max_age, meta.modified()) {
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default();
            if age > max {
                return Err(format!(
                    "{} is stale ({} s old, max_age {} s)",
                    self.path.display(),
                    age.as_secs(),
                    max.as_secs()
                ));
            }
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        for (target, state, reason) in parse(&text) {
            report(target, state, reason);
        }
        Ok(())
    }
}

/// The valid lines of a state file; a line that is not `TARGET up|down …`
/// makes its target unknown rather than guessing.
pub fn parse(text: &str) -> Vec<(&str, State, &str)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (target, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if !valid_target(target) {
            continue;
        }
        let rest = rest.trim_start();
        let (word, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let state = match word.to_ascii_lowercase().as_str() {
            "up" | "healthy" | "ok" => State::Up,
            "down" | "unhealthy" | "fail" => State::Down,
            _ => State::Unknown,
        };
        let reason = if state == State::Unknown {
            "unreadable state (want up or down)"
        } else {
            reason.trim()
        };
        out.push((target, state, reason));
    }
    out
}

signpost_plugin_abi::export_plugin!(FileSource, "file");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let got = parse("# comment\nweb-1 up\n\nweb-2 DOWN draining for deploy\nweb-3 maybe\n");
        assert_eq!(
            got,
            vec![
                ("web-1", State::Up, ""),
                ("web-2", State::Down, "draining for deploy"),
                (
                    "web-3",
                    State::Unknown,
                    "unreadable state (want up or down)"
                ),
            ]
        );
    }

    #[test]
    fn config_options() {
        assert!(FileSource::create("").is_err());
        assert!(FileSource::create("/x max_age=0").is_err());
        let s = FileSource::create("/x max_age=30").unwrap();
        assert_eq!(s.max_age, Some(Duration::from_secs(30)));
    }
}
