//! Tokeniser for master files: splits the text into entries (one logical
//! line, parentheses joining physical lines) made of tokens that borrow the
//! input.
//!
//! Tokens keep their escapes undecoded, so the common case (an unescaped,
//! unquoted word) costs no allocation; the consumers decode `\DDD`/`\X` only
//! where a field needs it. The lexer works on bytes, not `str`, because
//! zone files may legally carry raw non-UTF-8 octets inside TXT data.

use nom::branch::alt;
use nom::bytes::complete::{is_not, take, take_while};
use nom::character::complete::char;
use nom::multi::many1_count;
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// One word of an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    /// The text as written (without the quotes of a quoted string), escapes
    /// not yet decoded.
    pub(crate) text: &'a [u8],
    /// Written as a `"quoted string"`.
    pub(crate) quoted: bool,
    /// Byte offset of the token (its opening quote when quoted) in the input.
    pub(crate) offset: usize,
    /// 1-based line of the token.
    pub(crate) line: u32,
}

/// A comment: from its `;` to the end of the line (the loader tells a
/// `;@` annotation from a plain comment).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawComment<'a> {
    /// The text, starting with the `;`.
    pub(crate) text: &'a [u8],
    /// Byte offset of the `;` in the input.
    pub(crate) offset: usize,
    pub(crate) line: u32,
}

/// A problem found while splitting the text into tokens.
#[derive(Debug, Clone)]
pub(crate) struct LexError {
    pub(crate) offset: usize,
    pub(crate) line: u32,
    pub(crate) message: &'static str,
}

/// One logical line: the tokens of an entry and what surrounds them.
#[derive(Debug, Default)]
pub(crate) struct Entry<'a> {
    pub(crate) tokens: Vec<Token<'a>>,
    /// The entry's first physical line begins with blank space, so the owner
    /// is omitted (RFC 1035 §5.1).
    pub(crate) leading_blank: bool,
    /// The comments of the entry's lines, in order.
    pub(crate) comments: Vec<RawComment<'a>>,
    /// The first problem found in this entry, if any.
    pub(crate) error: Option<LexError>,
}

impl Entry<'_> {
    fn clear(&mut self) {
        self.tokens.clear();
        self.leading_blank = false;
        self.comments.clear();
        self.error = None;
    }
}

/// Iterates over the entries of one text.
pub(crate) struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
    line: u32,
    /// Comments with an `@` on lines without a record, seen since the
    /// caller last took them: a misplaced annotation must not vanish.
    loose: Vec<RawComment<'a>>,
}

/// Bytes that end an unquoted token (besides the end of input).
const DELIMITERS: &str = " \t\r\n;()\"\\";

/// An unquoted word: runs of ordinary bytes and `\`-escaped bytes (an
/// escaped delimiter, such as `\;` or `\ `, stays part of the word).
fn word(i: &[u8]) -> IResult<&[u8], usize> {
    many1_count(alt((
        is_not(DELIMITERS),
        preceded(char('\\'), take(1usize)),
    )))
    .parse(i)
}

/// The inside of a quoted string up to (not including) the closing quote or
/// the end of the line, whichever comes first.
fn quoted_body(i: &[u8]) -> IResult<&[u8], usize> {
    many1_count(alt((is_not("\"\\\n"), preceded(char('\\'), take(1usize))))).parse(i)
}

fn blanks(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c| c == b' ' || c == b'\t' || c == b'\r')(i)
}

fn rest_of_line(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c| c != b'\n')(i)
}

fn count_newlines(bytes: &[u8]) -> u32 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u32
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            line: 1,
            loose: Vec::new(),
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// Moves past `rest` having been consumed down to `remaining`.
    fn advance_to(&mut self, remaining: &'a [u8]) {
        self.pos = self.input.len() - remaining.len();
    }

    /// The comments with an `@` found on lines without a record since the
    /// last call.
    pub(crate) fn take_loose(&mut self) -> Vec<RawComment<'a>> {
        std::mem::take(&mut self.loose)
    }

    /// Keeps the `@` comments of a line that turned out to hold no record.
    fn keep_loose(&mut self, entry: &Entry<'a>) {
        self.loose.extend(
            entry
                .comments
                .iter()
                .filter(|c| c.text.contains(&b'@'))
                .copied(),
        );
    }

    /// Fills `entry` with the next entry that has at least one token (or a
    /// lexical error). Returns false at the end of the input.
    pub(crate) fn next_entry(&mut self, entry: &mut Entry<'a>) -> bool {
        entry.clear();
        let mut depth = 0u32;
        let mut open_paren: Option<(usize, u32)> = None;
        let mut at_line_start = true;
        loop {
            let rest = self.rest();
            let Some(&c) = rest.first() else {
                if depth > 0 && entry.error.is_none() {
                    if let Some((offset, line)) = open_paren {
                        entry.error = Some(LexError {
                            offset,
                            line,
                            message: "unbalanced parenthesis: \"(\" is never closed",
                        });
                    }
                }
                let found = !entry.tokens.is_empty() || entry.error.is_some();
                if !found {
                    self.keep_loose(entry);
                }
                return found;
            };
            if at_line_start && entry.tokens.is_empty() && depth == 0 {
                entry.leading_blank = c == b' ' || c == b'\t';
            }
            at_line_start = false;
            match c {
                b' ' | b'\t' | b'\r' => {
                    if let Ok((remaining, _)) = blanks(rest) {
                        self.advance_to(remaining);
                    }
                }
                b';' => {
                    if let Ok((remaining, comment)) = rest_of_line(rest) {
                        entry.comments.push(RawComment {
                            text: comment,
                            offset: self.pos,
                            line: self.line,
                        });
                        self.advance_to(remaining);
                    }
                }
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    at_line_start = true;
                    if depth == 0 && (!entry.tokens.is_empty() || entry.error.is_some()) {
                        return true;
                    }
                    if depth == 0 {
                        // A blank or comment-only line: the next line starts a
                        // fresh entry, so forget what this one looked like.
                        self.keep_loose(entry);
                        entry.clear();
                    }
                }
                b'(' => {
                    if depth == 0 {
                        open_paren = Some((self.pos, self.line));
                    }
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        if entry.error.is_none() {
                            entry.error = Some(LexError {
                                offset: self.pos,
                                line: self.line,
                                message: "unbalanced parenthesis: \")\" without \"(\"",
                            });
                        }
                    } else {
                        depth -= 1;
                    }
                    self.pos += 1;
                }
                b'"' => self.quoted(entry),
                _ => {
                    let start = self.pos;
                    let line = self.line;
                    match word(rest) {
                        Ok((remaining, _)) => {
                            let text = rest.get(..rest.len() - remaining.len()).unwrap_or_default();
                            if text.contains(&b'\\') {
                                self.line += count_newlines(text);
                            }
                            entry.tokens.push(Token {
                                text,
                                quoted: false,
                                offset: start,
                                line,
                            });
                            self.advance_to(remaining);
                        }
                        Err(_) => {
                            // Only a lone backslash at the very end can fail.
                            entry.tokens.push(Token {
                                text: rest,
                                quoted: false,
                                offset: start,
                                line,
                            });
                            self.pos = self.input.len();
                        }
                    }
                }
            }
        }
    }

    fn quoted(&mut self, entry: &mut Entry<'a>) {
        let start = self.pos;
        let line = self.line;
        let body = self.input.get(start + 1..).unwrap_or_default();
        let remaining = match quoted_body(body) {
            Ok((remaining, _)) => remaining,
            Err(_) => body,
        };
        let text = body.get(..body.len() - remaining.len()).unwrap_or_default();
        self.line += count_newlines(text);
        entry.tokens.push(Token {
            text,
            quoted: true,
            offset: start,
            line,
        });
        if remaining.first() == Some(&b'"') {
            self.advance_to(remaining.get(1..).unwrap_or_default());
        } else {
            // Stop at the end of the line; the newline ends the entry.
            if entry.error.is_none() {
                entry.error = Some(LexError {
                    offset: start,
                    line,
                    message: "unterminated quoted string",
                });
            }
            self.advance_to(remaining);
        }
    }
}

/// Splits a short piece of text (the right-hand side of a `$GENERATE`
/// after substitution) into tokens, ignoring line structure.
pub(crate) fn tokens_of(text: &[u8]) -> Result<Vec<Token<'_>>, &'static str> {
    let mut lexer = Lexer::new(text);
    let mut entry = Entry::default();
    let mut out = Vec::new();
    while lexer.next_entry(&mut entry) {
        if let Some(err) = &entry.error {
            return Err(err.message);
        }
        out.extend_from_slice(&entry.tokens);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(bool, Vec<String>, Option<String>)> {
        let mut lexer = Lexer::new(text.as_bytes());
        let mut entry = Entry::default();
        let mut out = Vec::new();
        while lexer.next_entry(&mut entry) {
            let toks = entry
                .tokens
                .iter()
                .map(|t| {
                    let s = String::from_utf8_lossy(t.text).into_owned();
                    if t.quoted {
                        format!("\"{s}\"")
                    } else {
                        s
                    }
                })
                .collect();
            let err = entry.error.as_ref().map(|e| e.message.to_string());
            out.push((entry.leading_blank, toks, err));
        }
        out
    }

    #[test]
    fn splits_lines_and_parentheses() {
        let got = entries("a 1 IN A 1.2.3.4 ; c\n\n  ; only comment\n\tB ( x\n y ) z\r\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, ["a", "1", "IN", "A", "1.2.3.4"]);
        assert!(!got[0].0);
        assert!(got[1].0);
        assert_eq!(got[1].1, ["B", "x", "y", "z"]);
    }

    #[test]
    fn quotes_and_escapes() {
        let got = entries("a TXT \"x y\\\" z\" b\\ c \\; d\\");
        assert_eq!(
            got[0].1,
            ["a", "TXT", "\"x y\\\" z\"", "b\\ c", "\\;", "d", "\\"]
        );
    }

    #[test]
    fn errors() {
        let got = entries("a TXT \"open\nb A 1.2.3.4\nc ) x\nd ( y\n");
        assert_eq!(got[0].2.as_deref(), Some("unterminated quoted string"));
        assert_eq!(got[1].2, None);
        assert!(got[2].2.as_deref().unwrap_or("").contains("without"));
        assert!(got[3].2.as_deref().unwrap_or("").contains("never closed"));
    }

    #[test]
    fn comments_kept() {
        let mut lexer = Lexer::new(b"a A ( 1.2.3.4 ;@ geo eu \n ) ; x\n; @ b\n;c\n; @ d");
        let mut entry = Entry::default();
        assert!(lexer.next_entry(&mut entry));
        let got: Vec<(&[u8], usize, u32)> = entry
            .comments
            .iter()
            .map(|c| (c.text, c.offset, c.line))
            .collect();
        assert_eq!(got, [(&b";@ geo eu "[..], 14, 1), (&b"; x"[..], 28, 2)]);
        assert!(!lexer.next_entry(&mut entry));
        let loose: Vec<(&[u8], u32)> = lexer
            .take_loose()
            .iter()
            .map(|c| (c.text, c.line))
            .collect();
        assert_eq!(loose, [(&b"; @ b"[..], 3), (&b"; @ d"[..], 5)]);
    }
}
