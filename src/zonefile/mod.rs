//! Master-file reader (RFC 1035 §5 plus BIND's extensions).
//!
//! ```text
//! text ─► lexer (nom: tokens, parentheses, quotes, escapes, comments, ;@ annotations)
//!      ─► directives ($ORIGIN $TTL $INCLUDE $GENERATE) and entries (owner/TTL/class defaults)
//!      ─► rdata (presentation form → uncompressed wire form, per type; RFC 3597 \#)
//!      ─► Vec<Record>, or every error as `file:line:col: message`
//! ```
//!
//! The output is deliberately plain: owner, TTL, class, type and the rdata in
//! uncompressed wire form. Semantic checks (CNAME beside other data, records
//! outside the zone, policy annotations) belong to `zone::build`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::name::Name;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.message)
    }
}

/// The raw text of a `;@ …` trailing comment, kept for the policy compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Text after `;@`, trimmed.
    pub text: String,
    /// Position of the first character after `;@`.
    pub position: Position,
}

/// One resource record as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub ttl: u32,
    pub class: u16,
    pub rtype: u16,
    /// Uncompressed wire form of the RDATA.
    pub rdata: Box<[u8]>,
    pub annotation: Option<Annotation>,
    /// Where the entry starts.
    pub position: Position,
}
