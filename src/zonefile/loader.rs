//! Entries and directives: turns the lexer's entries into records, applying
//! RFC 1035 §5.1 defaults (omitted owner, TTL, class) the way BIND does, and
//! runs `$ORIGIN`, `$TTL`, `$INCLUDE` and `$GENERATE`.
//!
//! Every problem becomes a [`Diagnostic`]; the entry is dropped and reading
//! goes on with the next entry, so one run reports every error in the file.

use std::path::{Path, PathBuf};

use super::comments::{self, Shape};
use super::generate;
use super::lexer::{tokens_of, Entry, Lexer, RawComment, Token};
use super::rdata::{self, parse_name, parse_ttl, show};
use super::types::{self, class_from_bytes, Class};
use super::{Annotation, Record};
use crate::proto::name::Name;
use crate::proto::rtype::{from_bytes as rtype_from_bytes, name as rtype_name};
use crate::proto::{Diagnostic, Position};

/// How deep `$INCLUDE` may nest.
const MAX_INCLUDE_DEPTH: usize = 16;
/// TTLs above this are treated as 0 (RFC 2181 §8), as BIND does.
const MAX_TTL: u32 = 0x7fff_ffff;

/// State shared across the top file and everything it includes.
pub(crate) struct Loader<'s> {
    zone: Name,
    /// Receives each record as soon as it is parsed, so a large zone is
    /// never held twice in memory.
    sink: &'s mut dyn FnMut(Record),
    pub(crate) diags: Vec<Diagnostic>,
    /// Problems that do not stop the zone from loading.
    pub(crate) warnings: Vec<Diagnostic>,
    /// `$TTL`, once seen.
    default_ttl: Option<u32>,
    /// The last TTL written explicitly (used while there is no `$TTL`).
    last_ttl: Option<u32>,
    /// Canonical paths of the files being read, outermost first.
    include_stack: Vec<PathBuf>,
    /// Scratch buffer for RDATA, reused so each record allocates once.
    rdata: Vec<u8>,
}

/// Per-file state: `$ORIGIN` and the last owner are local to a file, since
/// RFC 1035 §5.1 says an `$INCLUDE` does not change them for the includer.
pub(crate) struct FileState<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) path: &'a Path,
    /// The same path, shared by the positions of every record.
    shared_path: std::sync::Arc<Path>,
    pub(crate) origin: Name,
    last_owner: Option<Name>,
}

impl FileState<'_> {
    pub(crate) fn position(&self, offset: usize, line: u32) -> Position {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let prefix = before.get(line_start..).unwrap_or_default();
        // Count characters, not bytes, so columns match what editors show.
        let col = prefix.iter().filter(|&&b| (b & 0xc0) != 0x80).count() + 1;
        Position {
            file: self.shared_path.clone(),
            line,
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn token_position(&self, tok: &Token<'_>) -> Position {
        self.position(tok.offset, tok.line)
    }
}

/// Describes an I/O error without Rust's ` (os error N)` suffix.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(cut) => text.get(..cut).unwrap_or(&text).to_string(),
        None => text,
    }
}

/// What TTL/class/type prefix parsing produced.
pub(crate) struct Head {
    pub(crate) ttl: Option<u32>,
    pub(crate) rtype: u16,
    /// Index of the first RDATA token.
    pub(crate) rdata_start: usize,
}

impl<'s> Loader<'s> {
    pub(crate) fn new(zone: Name, top: Option<PathBuf>, sink: &'s mut dyn FnMut(Record)) -> Self {
        Self {
            zone,
            sink,
            diags: Vec::new(),
            warnings: Vec::new(),
            default_ttl: None,
            last_ttl: None,
            include_stack: top.into_iter().collect(),
            rdata: Vec::with_capacity(512),
        }
    }

    pub(crate) fn error(&mut self, position: Position, message: String) {
        self.diags.push(Diagnostic { position, message });
    }

    pub(crate) fn warn(&mut self, position: Position, message: String) {
        self.warnings.push(Diagnostic { position, message });
    }

    /// Reads every entry of one file's text.
    pub(crate) fn load_text(&mut self, text: &[u8], path: &Path, origin: Name) {
        let mut fs = FileState {
            text,
            path,
            shared_path: path.into(),
            origin,
            last_owner: None,
        };
        let mut lexer = Lexer::new(text);
        let mut entry = Entry::default();
        while lexer.next_entry(&mut entry) {
            self.loose_comments(&fs, &lexer.take_loose());
            if let Some(err) = &entry.error {
                let pos = fs.position(err.offset, err.line);
                self.error(pos, err.message.to_string());
                continue;
            }
            let Some(first) = entry.tokens.first() else {
                continue;
            };
            if !entry.leading_blank && !first.quoted && first.text.first() == Some(&b'$') {
                if !first.text.eq_ignore_ascii_case(b"$GENERATE") {
                    // No record to annotate.
                    self.loose_comments(&fs, &entry.comments);
                }
                self.directive(&mut fs, &entry);
            } else {
                self.record(&mut fs, &entry);
            }
        }
        self.loose_comments(&fs, &lexer.take_loose());
    }

    /// The annotation of a record's entry. A second annotation, or a
    /// misspelled one, is an error; a policy annotation written without
    /// its `@` is a warning (comments.rs).
    pub(crate) fn entry_annotation(
        &mut self,
        fs: &FileState<'_>,
        entry: &Entry<'_>,
    ) -> Option<Annotation> {
        let mut found: Option<Annotation> = None;
        for c in &entry.comments {
            let position = fs.position(c.offset, c.line);
            match comments::shape(c.text) {
                Shape::Plain => {}
                Shape::Annotation { text, at, trailing } => {
                    if found.is_some() {
                        self.error(position, comments::SECOND.into());
                    } else {
                        found = Some(annotation(fs, text, c.offset + at, c.line));
                    }
                    // What follows the annotation is a comment, unless it
                    // is another annotation.
                    if let Some((rest, rest_at)) = trailing {
                        let position = fs.position(c.offset + rest_at, c.line);
                        match comments::shape(rest) {
                            Shape::Annotation { .. } => {
                                self.error(position, comments::SECOND.into());
                            }
                            Shape::Misspelled { prefix, text } => {
                                self.error(position, comments::misspelled(prefix, text));
                            }
                            _ => {}
                        }
                    }
                }
                Shape::Misspelled { prefix, text } => {
                    self.error(position, comments::misspelled(prefix, text));
                }
                Shape::NoAt { text } => self.warn(position, comments::without_at(text)),
            }
        }
        found
    }

    /// Comments on lines without a record: an annotation there is ignored,
    /// which deserves a warning.
    fn loose_comments(&mut self, fs: &FileState<'_>, found: &[RawComment<'_>]) {
        for c in found {
            let text = match comments::shape(c.text) {
                Shape::Annotation { text, .. } if comments::meant_as_annotation(text) => text,
                Shape::Misspelled { text, .. } => text,
                _ => continue,
            };
            self.warn(fs.position(c.offset, c.line), comments::loose(text));
        }
    }

    fn record(&mut self, fs: &mut FileState<'_>, entry: &Entry<'_>) {
        let toks = &entry.tokens;
        let Some(first) = toks.first() else { return };
        let (owner, start) = if entry.leading_blank {
            match &fs.last_owner {
                Some(owner) => (owner.clone(), 0),
                None => {
                    let pos = fs.token_position(first);
                    self.error(
                        pos,
                        "this line starts with blank space (meaning \"same owner as before\") but no earlier record names an owner".to_string(),
                    );
                    return;
                }
            }
        } else {
            match parse_name(first.text, &fs.origin) {
                Ok(owner) => {
                    fs.last_owner = Some(owner.clone());
                    (owner, 1)
                }
                Err(e) => {
                    let pos = fs.token_position(first);
                    self.error(pos, format!("owner name {e}"));
                    return;
                }
            }
        };
        if !self.check_in_zone(fs, first, &owner) {
            return;
        }
        let Some(head) = self.head(fs, toks, start) else {
            return;
        };
        let rdata_toks = toks.get(head.rdata_start..).unwrap_or_default();
        let annotation = self.entry_annotation(fs, entry);
        let origin = fs.origin.clone();
        self.finish_record(
            fs, owner, head, rdata_toks, &origin, toks, annotation, first,
        );
    }

    /// Checks the owner lies inside the zone being loaded.
    pub(crate) fn check_in_zone(
        &mut self,
        fs: &FileState<'_>,
        tok: &Token<'_>,
        owner: &Name,
    ) -> bool {
        if owner.is_subdomain_of(&self.zone) {
            return true;
        }
        let pos = fs.token_position(tok);
        let msg = format!(
            "record for \"{owner}\" is outside the zone \"{}\"",
            self.zone
        );
        self.error(pos, msg);
        false
    }

    /// Parses the optional TTL and class (either order) and the type.
    pub(crate) fn head(
        &mut self,
        fs: &FileState<'_>,
        toks: &[Token<'_>],
        mut i: usize,
    ) -> Option<Head> {
        let mut ttl = None;
        let mut class_seen = false;
        while let Some(tok) = toks.get(i) {
            if !class_seen {
                match class_from_bytes(tok.text) {
                    Some(Class::In) => {
                        class_seen = true;
                        i += 1;
                        continue;
                    }
                    Some(Class::Other(name)) => {
                        let pos = fs.token_position(tok);
                        self.error(
                            pos,
                            format!("class {name} is not served: Signpost serves only class IN"),
                        );
                        return None;
                    }
                    None => {}
                }
            }
            if ttl.is_none() && tok.text.first().is_some_and(u8::is_ascii_digit) {
                match parse_ttl(tok.text) {
                    Some(v) => {
                        ttl = Some(if v > MAX_TTL { 0 } else { v });
                        i += 1;
                        continue;
                    }
                    None => {
                        let pos = fs.token_position(tok);
                        self.error(
                            pos,
                            format!(
                                "TTL {} is not a number or a BIND duration (like 1h30m)",
                                show(tok.text)
                            ),
                        );
                        return None;
                    }
                }
            }
            break;
        }
        let Some(tok) = toks.get(i) else {
            let last = toks.last()?;
            let pos = fs.token_position(last);
            self.error(pos, "record has no type".to_string());
            return None;
        };
        let Some(rtype) = rtype_from_bytes(tok.text) else {
            let pos = fs.token_position(tok);
            self.error(pos, format!("unknown record type {}", show(tok.text)));
            return None;
        };
        if types::is_meta_type(rtype) {
            let pos = fs.token_position(tok);
            self.error(
                pos,
                format!("type {} cannot be used in a zone file", rtype_name(rtype)),
            );
            return None;
        }
        Some(Head {
            ttl,
            rtype,
            rdata_start: i + 1,
        })
    }

    /// Parses the RDATA, settles the TTL and stores the record. `all_toks`
    /// locates "missing field" errors (reported at the last token).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_record(
        &mut self,
        fs: &FileState<'_>,
        owner: Name,
        head: Head,
        rdata_toks: &[Token<'_>],
        origin: &Name,
        all_toks: &[Token<'_>],
        annotation: Option<Annotation>,
        first: &Token<'_>,
    ) -> bool {
        self.rdata.clear();
        if let Err(e) = rdata::parse(head.rtype, rdata_toks, origin, &mut self.rdata) {
            let tok = rdata_toks.get(e.token).or(all_toks.last()).unwrap_or(first);
            let pos = fs.token_position(tok);
            self.error(pos, e.message);
            return false;
        }
        let Some(ttl) = self.settle_ttl(head.ttl, head.rtype) else {
            let pos = fs.token_position(first);
            self.error(
                pos,
                "record has no TTL and there is no $TTL or earlier TTL to use; add a $TTL line at the top".to_string(),
            );
            return false;
        };
        (self.sink)(Record {
            owner,
            ttl,
            class: 1,
            rtype: head.rtype,
            rdata: Box::from(&self.rdata[..]),
            annotation,
            position: fs.token_position(first),
        });
        true
    }

    /// BIND's TTL defaulting: explicit, else `$TTL`, else the last explicit
    /// TTL, else (for the SOA only) the SOA minimum, which then acts as `$TTL`.
    fn settle_ttl(&mut self, explicit: Option<u32>, rtype: u16) -> Option<u32> {
        if let Some(ttl) = explicit {
            self.last_ttl = Some(ttl);
            return Some(ttl);
        }
        if let Some(ttl) = self.default_ttl.or(self.last_ttl) {
            return Some(ttl);
        }
        if rtype == crate::proto::rtype::SOA {
            let tail = self.rdata.len().checked_sub(4)?;
            let min: [u8; 4] = self.rdata.get(tail..)?.try_into().ok()?;
            let ttl = u32::from_be_bytes(min);
            // BIND then keeps the minimum as if it had been a $TTL.
            self.default_ttl = Some(ttl);
            self.last_ttl = Some(ttl);
            return Some(ttl);
        }
        None
    }

    fn directive(&mut self, fs: &mut FileState<'_>, entry: &Entry<'_>) {
        let toks = &entry.tokens;
        let Some(first) = toks.first() else { return };
        let name = first.text.to_ascii_uppercase();
        match name.as_slice() {
            b"$ORIGIN" => {
                let Some(arg) = self.args(fs, toks, 1, 1, "$ORIGIN needs a domain name") else {
                    return;
                };
                match parse_name(arg[0].text, &fs.origin) {
                    Ok(origin) => fs.origin = origin,
                    Err(e) => {
                        let pos = fs.token_position(&arg[0]);
                        self.error(pos, format!("$ORIGIN {e}"));
                    }
                }
            }
            b"$TTL" => {
                let Some(arg) = self.args(fs, toks, 1, 1, "$TTL needs a TTL") else {
                    return;
                };
                match parse_ttl(arg[0].text) {
                    Some(v) => {
                        let v = if v > MAX_TTL { 0 } else { v };
                        self.default_ttl = Some(v);
                        self.last_ttl = Some(v);
                    }
                    None => {
                        let pos = fs.token_position(&arg[0]);
                        self.error(
                            pos,
                            format!(
                                "TTL {} is not a number or a BIND duration (like 1h30m)",
                                show(arg[0].text)
                            ),
                        );
                    }
                }
            }
            b"$INCLUDE" => {
                let Some(args) = self.args(fs, toks, 1, 2, "$INCLUDE needs a file name") else {
                    return;
                };
                self.include(fs, args);
            }
            b"$GENERATE" => self.generate(fs, entry),
            _ => {
                let pos = fs.token_position(first);
                self.error(pos, format!("unknown directive {}", show(first.text)));
            }
        }
    }

    /// The arguments of a directive, checking their count.
    fn args<'t, 'a>(
        &mut self,
        fs: &FileState<'_>,
        toks: &'t [Token<'a>],
        min: usize,
        max: usize,
        missing: &str,
    ) -> Option<&'t [Token<'a>]> {
        let args = toks.get(1..).unwrap_or_default();
        if args.len() < min {
            let pos = toks.first().map(|t| fs.token_position(t))?;
            self.error(pos, missing.to_string());
            return None;
        }
        if let Some(extra) = args.get(max) {
            let pos = fs.token_position(extra);
            self.error(
                pos,
                format!(
                    "unexpected {} after the directive's arguments",
                    show(extra.text)
                ),
            );
            return None;
        }
        Some(args)
    }

    fn include(&mut self, fs: &FileState<'_>, args: &[Token<'_>]) {
        let Some(file_tok) = args.first() else { return };
        let mut file_text = Vec::new();
        if let Err(e) = rdata::decode_string(file_tok.text, &mut file_text) {
            let pos = fs.token_position(file_tok);
            self.error(pos, format!("$INCLUDE file name: {e}"));
            return;
        }
        let written = String::from_utf8_lossy(&file_text).into_owned();
        let origin = match args.get(1) {
            None => fs.origin.clone(),
            Some(tok) => match parse_name(tok.text, &fs.origin) {
                Ok(o) => o,
                Err(e) => {
                    let pos = fs.token_position(tok);
                    self.error(pos, format!("$INCLUDE origin {e}"));
                    return;
                }
            },
        };
        let rel = PathBuf::from(&written);
        let path = if rel.is_absolute() {
            rel
        } else {
            fs.path.parent().unwrap_or(Path::new("")).join(rel)
        };
        let pos = fs.token_position(file_tok);
        if self.include_stack.len() > MAX_INCLUDE_DEPTH {
            self.error(
                pos,
                format!(
                    "$INCLUDE file \"{written}\" nests more than {MAX_INCLUDE_DEPTH} files deep"
                ),
            );
            return;
        }
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) => {
                self.error(
                    pos,
                    format!(
                        "$INCLUDE file \"{written}\" cannot be read: {}",
                        io_reason(&e)
                    ),
                );
                return;
            }
        };
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.include_stack.contains(&canonical) {
            self.error(
                pos,
                format!(
                    "$INCLUDE file \"{written}\" includes itself (directly or through other files)"
                ),
            );
            return;
        }
        self.include_stack.push(canonical);
        self.load_text(&text, &path, origin);
        self.include_stack.pop();
    }

    /// `$GENERATE`: one record per value of the range (generate.rs
    /// expands the templates).
    fn generate(&mut self, fs: &FileState<'_>, entry: &Entry<'_>) {
        let toks = &entry.tokens;
        let Some(first) = toks.first() else { return };
        let (Some(range_tok), Some(lhs)) = (toks.get(1), toks.get(2)) else {
            let pos = fs.token_position(first);
            self.error(
                pos,
                "$GENERATE needs a range, an owner, a type and RDATA: $GENERATE 1-10 host$ A 10.0.0.$"
                    .to_string(),
            );
            return;
        };
        let Some(range) = generate::parse_range(range_tok.text) else {
            let pos = fs.token_position(range_tok);
            self.error(
                pos,
                format!(
                    "bad $GENERATE range {} (write start-stop or start-stop/step)",
                    show(range_tok.text)
                ),
            );
            return;
        };
        let count = u64::from(range.stop - range.start) / u64::from(range.step) + 1;
        if count > generate::MAX_ITERATIONS {
            let pos = fs.token_position(range_tok);
            self.error(
                pos,
                format!(
                    "$GENERATE range makes {count} records, more than {}",
                    generate::MAX_ITERATIONS
                ),
            );
            return;
        }
        let Some(head) = self.head(fs, toks, 3) else {
            return;
        };
        let Some(rhs) = toks.get(head.rdata_start) else {
            let pos = fs.token_position(toks.last().unwrap_or(first));
            self.error(pos, "$GENERATE is missing its RDATA template".to_string());
            return;
        };
        if let Some(extra) = toks.get(head.rdata_start + 1) {
            let pos = fs.token_position(extra);
            self.error(
                pos,
                format!(
                    "unexpected {} after the $GENERATE RDATA template (quote a template that has spaces)",
                    show(extra.text)
                ),
            );
            return;
        }
        let annotation = self.entry_annotation(fs, entry);
        let mut n = u64::from(range.start);
        while n <= u64::from(range.stop) {
            let value = n as u32;
            if !self.generate_one(fs, &head, lhs, rhs, value, annotation.clone(), first) {
                // One diagnostic per $GENERATE line is enough.
                return;
            }
            n += u64::from(range.step);
        }
    }

    /// One `$GENERATE` record; false after an error (one per line).
    #[allow(clippy::too_many_arguments)]
    fn generate_one(
        &mut self,
        fs: &FileState<'_>,
        head: &Head,
        lhs: &Token<'_>,
        rhs: &Token<'_>,
        value: u32,
        annotation: Option<Annotation>,
        first: &Token<'_>,
    ) -> bool {
        let owner_text = match generate::expand(lhs.text, value) {
            Ok(t) => t,
            Err(e) => {
                self.error(fs.token_position(lhs), e);
                return false;
            }
        };
        let owner = match parse_name(&owner_text, &fs.origin) {
            Ok(o) => o,
            Err(e) => {
                self.error(fs.token_position(lhs), format!("generated owner name {e}"));
                return false;
            }
        };
        if !self.check_in_zone(fs, lhs, &owner) {
            return false;
        }
        let rdata_text = match generate::expand(rhs.text, value) {
            Ok(t) => t,
            Err(e) => {
                self.error(fs.token_position(rhs), e);
                return false;
            }
        };
        let rdata_toks = match tokens_of(&rdata_text) {
            Ok(t) => t,
            Err(e) => {
                self.error(fs.token_position(rhs), format!("generated RDATA: {e}"));
                return false;
            }
        };
        // RDATA errors point at the template token, since the generated text
        // exists nowhere in the file.
        let located: Vec<Token<'_>> = rdata_toks
            .iter()
            .map(|t| Token {
                text: t.text,
                quoted: t.quoted,
                offset: rhs.offset,
                line: rhs.line,
            })
            .collect();
        let head = Head {
            ttl: head.ttl,
            rtype: head.rtype,
            rdata_start: 0,
        };
        let origin = fs.origin.clone();
        self.finish_record(
            fs,
            owner,
            head,
            &located,
            &origin,
            std::slice::from_ref(rhs),
            annotation,
            first,
        )
    }
}

/// The annotation whose text (after `;@`) starts at byte `offset`.
fn annotation(fs: &FileState<'_>, text: &[u8], offset: usize, line: u32) -> Annotation {
    // The position is that of the trimmed text, so offsets into it map
    // straight to columns.
    let leading = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
    Annotation {
        text: String::from_utf8_lossy(text).trim().to_string(),
        position: fs.position(offset + leading, line),
    }
}
