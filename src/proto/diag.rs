//! Operator-facing diagnostics: where something was written and what is
//! wrong with it, shown as `file:line:col: message`; and the notice, the
//! log priority between info and warning that `tracing` lacks.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// Shared by every record of a file, so positions cost a pointer.
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl Position {
    /// The start of `file`, where whole-file problems are reported.
    pub fn file_start(file: &Path) -> Self {
        Self {
            file: file.into(),
            line: 1,
            col: 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One operator-facing error, shown as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub position: Position,
    pub message: String,
}

impl Diagnostic {
    pub fn new(position: Position, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.message)
    }
}

/// Sorts diagnostics into file order (file, line, column).
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.position.file, a.position.line, a.position.col).cmp(&(
            &b.position.file,
            b.position.line,
            b.position.col,
        ))
    });
}

/// The field that makes an INFO event a notice (syslog priority 5): a
/// normal but significant event an operator should see, such as a health
/// check changing state. The daemon's log output shows it as `NOTICE`
/// (daemon/log.rs).
pub const NOTICE: &str = "notice";

/// `tracing::info!` marked as a notice (see [`NOTICE`]).
macro_rules! notice {
    ($($arg:tt)+) => {
        ::tracing::info!(notice = true, $($arg)+)
    };
}
pub(crate) use notice;
