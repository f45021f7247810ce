//! Operator-facing diagnostics: where something was written and what is
//! wrong with it, shown as `file:line:col: message`; the edit distance
//! "did you mean" hints are ranked by; and the notice, the log priority
//! between info and warning that `tracing` lacks.

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

/// Edit distance between two names, as "did you mean" hints measure it
/// (config keys, region names): insertions, deletions, substitutions and
/// swaps of neighbours count one each (optimal string alignment), over
/// bytes (the names are ASCII).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |row: &[usize], k: usize| row.get(k).copied().unwrap_or(usize::MAX);
    // Rows of the table for prefixes of `a`: two back (for swaps) and the
    // previous one.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let mut best = at(&previous, j + 1)
                .saturating_add(1)
                .min(at(&current, j).saturating_add(1))
                .min(at(&previous, j).saturating_add(usize::from(ca != cb)));
            let swapped = i > 0
                && j > 0
                && a.get(i - 1) == Some(&cb)
                && b.get(j - 1) == Some(&ca);
            if swapped {
                best = best.min(at(&before, j - 1).saturating_add(1));
            }
            current.push(best);
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod distance_tests {
    use super::edit_distance;

    #[test]
    fn edits_and_swaps_count_one_each() {
        assert_eq!(edit_distance("listen", "listen"), 0);
        assert_eq!(edit_distance("lisetn", "listen"), 1);
        assert_eq!(edit_distance("lsten", "listen"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("us-east1", "us-east-1"), 1);
    }
}
