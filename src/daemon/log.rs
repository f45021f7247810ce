//! What the daemon's log lines look like: one line per `tracing` event on
//! standard error, as text for people or as JSON for log shippers
//! (`[log] format`), and with the syslog priority prefix journald reads
//! when standard error is the journal.
//!
//! ```text
//! text      2026-11-23T10:00:00.123456Z NOTICE signpost::health::state: health check down: ... check=web
//! journal   <5>NOTICE signpost::health::state: health check down: ... check=web
//! json      {"timestamp":"2026-11-23T10:00:00.123456Z","level":"NOTICE","target":"signpost::health::state",
//!            "message":"health check down: ...","fields":{"check":"web"}}
//! ```
//!
//! `tracing` has no level between INFO and WARN; a notice is an INFO event
//! marked with the [`NOTICE`] field (the `notice!` macro of
//! `proto::diag`), shown as `NOTICE` and journald priority 5. Under
//! journald (sd-daemon(3): systemd sets `JOURNAL_STREAM` to the device
//! and inode of the stream it gave us) each line starts with `<N>`, which
//! journald strips and records as the entry's priority, and text lines
//! lose their timestamp (the journal stamps every entry). JSON lines keep
//! theirs and get the prefix too, so the journal stores pure JSON with the
//! right priority.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogConfig, LogFormat};
pub use crate::proto::diag::NOTICE;

/// The environment variable whose filter directives override `[log] level`.
pub const ENV_FILTER: &str = "SIGNPOST_LOG";

/// Severity as syslog and journald know it; `tracing`'s levels plus
/// notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Error,
    Warning,
    Notice,
    Info,
    Debug,
    Trace,
}

impl Severity {
    fn of(level: Level, notice: bool) -> Self {
        match level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warning,
            Level::INFO if notice => Self::Notice,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            _ => Self::Trace,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warning => "WARN",
            Self::Notice => "NOTICE",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
            Self::Trace => "TRACE",
        }
    }

    /// The sd-daemon(3) / syslog(3) priority: `LOG_ERR` 3 … `LOG_DEBUG` 7.
    fn priority(self) -> u8 {
        match self {
            Self::Error => 3,
            Self::Warning => 4,
            Self::Notice => 5,
            Self::Info => 6,
            Self::Debug | Self::Trace => 7,
        }
    }

    /// ANSI colour for a terminal.
    fn colour(self) -> &'static str {
        match self {
            Self::Error => "\x1b[31m",
            Self::Warning => "\x1b[33m",
            Self::Notice => "\x1b[1;32m",
            Self::Info => "\x1b[32m",
            Self::Debug => "\x1b[34m",
            Self::Trace => "\x1b[35m",
        }
    }
}

/// One field value, typed as far as JSON cares.
#[derive(Debug)]
enum Value {
    /// Recorded as a string (`field = "text"`): quoted in text lines.
    Str(String),
    /// Recorded through `Debug` or `Display` (`field = %x`, `?x`): as is.
    Shown(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Value {
    fn json(&self) -> serde_json::Value {
        match self {
            Self::Str(s) | Self::Shown(s) => s.as_str().into(),
            Self::I64(n) => (*n).into(),
            Self::U64(n) => (*n).into(),
            Self::F64(n) => serde_json::Number::from_f64(*n)
                .map_or_else(|| n.to_string().into(), serde_json::Value::Number),
            Self::Bool(b) => (*b).into(),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Shown(s) => f.write_str(s),
            Self::I64(n) => write!(f, "{n}"),
            Self::U64(n) => write!(f, "{n}"),
            Self::F64(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// An event's message and fields, in the order they were written.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, Value)>,
    notice: bool,
    /// The `log` crate's target, for records that came through `log`
    /// (rustls, notify): their `tracing` target is just "log".
    log_target: Option<String>,
}

impl Fields {
    fn of(event: &Event<'_>) -> Self {
        let mut fields = Self::default();
        event.record(&mut fields);
        fields
    }

    fn add(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", value) => {
                self.message = match value {
                    Value::Str(s) | Value::Shown(s) => s,
                    other => other.to_string(),
                }
            }
            (NOTICE, Value::Bool(b)) => self.notice = b,
            ("log.target", Value::Str(s) | Value::Shown(s)) => self.log_target = Some(s),
            (name, _) if name.starts_with("log.") => {}
            (name, value) => self.fields.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.add(field, Value::Shown(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, Value::Str(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, Value::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, Value::Bool(value));
    }
}

/// The event formatter for every form of line.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    pub format: LogFormat,
    /// Standard error is the journal: `<N>` prefixes, no text timestamp.
    pub journal: bool,
}

impl Lines {
    /// One line (no newline) for an event of `severity`.
    fn render(&self, severity: Severity, target: &str, fields: &Fields, ansi: bool) -> String {
        let mut line = String::new();
        if self.journal {
            let _ = write!(line, "<{}>", severity.priority());
        }
        match self.format {
            LogFormat::Json => {
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .fields
                    .iter()
                    .map(|(name, value)| ((*name).to_string(), value.json()))
                    .collect();
                // Written by hand to keep the keys in this order; serde_json
                // escapes every value.
                let text = |s: &str| serde_json::Value::from(s).to_string();
                let _ = write!(
                    line,
                    "{{\"timestamp\":{},\"level\":\"{}\",\"target\":{},\"message\":{},\"fields\":{}}}",
                    text(&now()),
                    severity.word(),
                    text(target),
                    text(&fields.message),
                    serde_json::Value::Object(object)
                );
            }
            LogFormat::Text => {
                if !self.journal {
                    let _ = write!(line, "{} ", now());
                }
                if ansi {
                    let _ = write!(line, "{}{:>6}\x1b[0m", severity.colour(), severity.word());
                } else if self.journal {
                    line.push_str(severity.word());
                } else {
                    let _ = write!(line, "{:>6}", severity.word());
                }
                let _ = write!(line, " {target}: {}", fields.message);
                for (name, value) in &fields.fields {
                    let _ = write!(line, " {name}={value}");
                }
                if self.journal {
                    // journald makes each line an entry of its own: keep
                    // the priority on the lines of a multi-line message.
                    line = line.replace('\n', &format!("\n<{}>", severity.priority()));
                }
            }
        }
        line
    }
}

/// The time now, RFC 3339 in UTC with microseconds.
fn now() -> String {
    let mut text = String::new();
    let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut text));
    text
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let fields = Fields::of(event);
        let meta = event.metadata();
        let severity = Severity::of(*meta.level(), fields.notice);
        let target = fields.log_target.as_deref().unwrap_or(meta.target());
        let ansi = writer.has_ansi_escapes();
        writeln!(writer, "{}", self.render(severity, target, &fields, ansi))
    }
}

/// Whether the `JOURNAL_STREAM` value (`DEVICE:INODE`, decimal) names the
/// file standard error is: inherited by a child of the service whose
/// output goes elsewhere, it must not count.
fn journal_matches(journal_stream: Option<&str>, device: u64, inode: u64) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    dev.parse() == Ok(device) && ino.parse() == Ok(inode)
}

/// Whether standard error is connected to the systemd journal.
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| journal_matches(Some(&value), m.dev(), m.ino()))
}

/// Installs the subscriber for the rest of the process: the format of
/// `[log]` (or `--log-format`), its level unless `SIGNPOST_LOG` is set.
pub fn init(config: &LogConfig) {
    let journal = stderr_is_journal();
    let filter = tracing_subscriber::EnvFilter::try_from_env(ENV_FILTER).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(config.level.as_deref().unwrap_or("info"))
    });
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for journald or a file.
        .with_ansi(terminal && !journal && config.format == LogFormat::Text)
        .with_env_filter(filter)
        .event_format(Lines {
            format: config.format,
            journal,
        })
        .init();
}

/// An error from before logging started (the config did not load), in
/// the form log lines take: a plain line (with `<3>` under journald)
/// for text, a JSON error event for JSON.
pub fn startup_error(format: LogFormat, message: &str) -> String {
    let lines = Lines {
        format,
        journal: stderr_is_journal(),
    };
    match format {
        LogFormat::Text if lines.journal => format!("<3>{message}"),
        LogFormat::Text => message.to_string(),
        LogFormat::Json => {
            let fields = Fields {
                message: message.to_string(),
                ..Fields::default()
            };
            lines.render(Severity::Error, "signpostd", &fields, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The lines `emit` logs at `debug` and up, formatted as `lines` does.
    fn capture(lines: Lines, emit: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(Level::DEBUG)
            .event_format(lines)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn every_kind() {
        tracing::error!(zone = %"example.com.", "zone not reloaded");
        tracing::warn!("serial went backwards");
        crate::proto::diag::notice!(check = %"web", "health check down: refused");
        tracing::info!(serial = 7u32, ms = 3u64, "zone loaded");
        tracing::debug!(text = "a \"quoted\" word", ok = true, "control client");
    }

    #[test]
    fn journal_lines_carry_the_priority_and_no_time() {
        let lines = capture(
            Lines {
                format: LogFormat::Text,
                journal: true,
            },
            every_kind,
        );
        let target = module_path!();
        assert_eq!(
            lines,
            [
                format!("<3>ERROR {target}: zone not reloaded zone=example.com."),
                format!("<4>WARN {target}: serial went backwards"),
                format!("<5>NOTICE {target}: health check down: refused check=web"),
                format!("<6>INFO {target}: zone loaded serial=7 ms=3"),
                format!("<7>DEBUG {target}: control client text=\"a \\\"quoted\\\" word\" ok=true"),
            ]
        );
    }

    #[test]
    fn text_lines_start_with_the_time() {
        let lines = capture(
            Lines {
                format: LogFormat::Text,
                journal: false,
            },
            every_kind,
        );
        assert_eq!(lines.len(), 5);
        let (time, rest) = lines[2].split_once(' ').unwrap();
        // 2026-11-23T10:00:00.123456Z
        assert!(time.len() >= 20 && time.ends_with('Z'), "{time}");
        assert_eq!(time.as_bytes()[10], b'T', "{time}");
        assert_eq!(
            rest,
            format!(
                "NOTICE {}: health check down: refused check=web",
                module_path!()
            )
        );
        assert!(lines[3].contains("   INFO "), "{}", lines[3]);
    }

    #[test]
    fn json_lines_are_objects_with_typed_fields() {
        let lines = capture(
            Lines {
                format: LogFormat::Json,
                journal: false,
            },
            every_kind,
        );
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let levels: Vec<&str> = parsed
            .iter()
            .map(|v| v["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["ERROR", "WARN", "NOTICE", "INFO", "DEBUG"]);
        for v in &parsed {
            assert_eq!(v["target"], module_path!());
            assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(parsed[2]["message"], "health check down: refused");
        assert_eq!(parsed[2]["fields"], serde_json::json!({"check": "web"}));
        assert_eq!(
            parsed[3]["fields"],
            serde_json::json!({"serial": 7, "ms": 3})
        );
        assert_eq!(
            parsed[4]["fields"],
            serde_json::json!({"text": "a \"quoted\" word", "ok": true})
        );
        // Under journald the object follows the prefix journald strips.
        let journal = capture(
            Lines {
                format: LogFormat::Json,
                journal: true,
            },
            every_kind,
        );
        let (prefix, rest) = journal[2].split_at(3);
        assert_eq!(prefix, "<5>");
        let v: serde_json::Value = serde_json::from_str(rest).unwrap();
        assert_eq!(v["level"], "NOTICE");
    }

    #[test]
    fn multi_line_messages_keep_their_priority_in_the_journal() {
        let lines = capture(
            Lines {
                format: LogFormat::Text,
                journal: true,
            },
            || tracing::error!("first\nsecond"),
        );
        assert_eq!(
            lines,
            [
                format!("<3>ERROR {}: first", module_path!()),
                "<3>second".into()
            ]
        );
    }

    #[test]
    fn journal_stream_must_name_this_stream() {
        assert!(journal_matches(Some("8:12345"), 8, 12345));
        assert!(!journal_matches(Some("8:12345"), 8, 12346));
        assert!(!journal_matches(Some("9:12345"), 8, 12345));
        assert!(!journal_matches(Some("garbage"), 8, 12345));
        assert!(!journal_matches(None, 8, 12345));
    }

    #[test]
    fn startup_errors_in_json_are_error_events() {
        let line = startup_error(LogFormat::Json, "t.toml:3:1: unknown field");
        // The test runner's standard error is not the journal (or if it
        // is, the object follows the prefix).
        let json = line.trim_start_matches("<3>");
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["message"], "t.toml:3:1: unknown field");
    }
}
