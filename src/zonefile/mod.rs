//! Master-file reader (RFC 1035 §5 plus BIND's extensions).
//!
//! ```text
//! text ─► lexer (nom: tokens, parentheses, quotes, escapes, comments)
//!      ─► comments (;@ annotations; misspelled or misplaced ones reported)
//!      ─► directives ($ORIGIN $TTL $INCLUDE $GENERATE) and entries (owner/TTL/class defaults)
//!      ─► rdata (presentation form → uncompressed wire form, per type; RFC 3597 \#)
//!      ─► Vec<Record>, or every error as `file:line:col: message`
//! ```
//!
//! The output is deliberately plain: owner, TTL, class, type and the rdata in
//! uncompressed wire form. Semantic checks (CNAME beside other data, records
//! outside the zone, policy annotations) belong to `compile::build`.

mod comments;
mod generate;
mod layout;
mod lexer;
mod loader;
mod present;
mod rdata;
mod types;

use std::path::Path;

use crate::proto::name::Name;
use crate::proto::{Diagnostic, Position};

pub use present::{rdata_to_text, record_to_text};

/// Reads a zone file (and the files it `$INCLUDE`s) for the zone `origin`.
///
/// Returns every record, or every problem found when there is at least one
/// (warnings are left out: see [`parse_file_each`]).
pub fn parse_file(path: &Path, origin: &Name) -> Result<Vec<Record>, Vec<Diagnostic>> {
    let mut records = Vec::new();
    parse_file_each(path, origin, &mut |r| records.push(r))?;
    Ok(records)
}

/// Like [`parse_file`], handing each record to `sink` as it is parsed, and
/// returning the warnings (problems that do not stop the zone from
/// loading, such as an annotation on a line without a record). On error,
/// records already handed over must be discarded by the caller.
pub fn parse_file_each(
    path: &Path,
    origin: &Name,
    sink: &mut dyn FnMut(Record),
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let text = std::fs::read(path).map_err(|e| {
        vec![Diagnostic {
            position: Position {
                file: path.into(),
                line: 1,
                col: 1,
            },
            message: format!("zone file cannot be read: {}", loader::io_reason(&e)),
        }]
    })?;
    parse_bytes(&text, path, origin, sink)
}

/// Like [`parse_file`], with the text already in memory; `file` names it in
/// messages and anchors relative `$INCLUDE` paths.
pub fn parse_str(text: &str, file: &Path, origin: &Name) -> Result<Vec<Record>, Vec<Diagnostic>> {
    let mut records = Vec::new();
    parse_bytes(text.as_bytes(), file, origin, &mut |r| records.push(r))?;
    Ok(records)
}

/// Like [`parse_str`], with the warnings beside the records.
pub fn parse_str_warnings(
    text: &str,
    file: &Path,
    origin: &Name,
) -> Result<(Vec<Record>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut records = Vec::new();
    let warnings = parse_bytes(text.as_bytes(), file, origin, &mut |r| records.push(r))?;
    Ok((records, warnings))
}

fn parse_bytes(
    text: &[u8],
    file: &Path,
    origin: &Name,
    sink: &mut dyn FnMut(Record),
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let top = std::fs::canonicalize(file).ok();
    let mut loader = loader::Loader::new(origin.clone(), top, sink);
    loader.load_text(text, file, origin.clone());
    if loader.diags.is_empty() {
        Ok(loader.warnings)
    } else {
        Err(loader.diags)
    }
}

/// The raw text of a `;@ …` trailing comment, kept for the policy compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Text after `;@` up to any further `;` (a comment), trimmed.
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
