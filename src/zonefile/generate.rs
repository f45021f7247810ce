//! BIND's `$GENERATE range[/step] lhs [ttl] [class] type rhs`.
//!
//! In `lhs` and `rhs`, `$` is the iterator, `${offset[,width[,base]]}`
//! formats it (bases d, o, x, X, n, N — the last two as reversed nibble
//! labels for ip6.arpa), `\$` is a literal dollar and `$$` too. The expanded
//! `rhs` is tokenised again, so a quoted `rhs` may hold several fields
//! (`"10 mail$"` for MX).
//!
//! This module expands the text; the loader (`Loader::generate`) makes
//! records of it.

use std::fmt::Write as _;

/// Bound on one `$GENERATE`, so a typo cannot exhaust memory.
pub(super) const MAX_ITERATIONS: u64 = 1 << 24;

/// `start-stop[/step]`.
pub(super) struct Range {
    pub(super) start: u32,
    pub(super) stop: u32,
    pub(super) step: u32,
}

pub(super) fn parse_range(text: &[u8]) -> Option<Range> {
    let s = std::str::from_utf8(text).ok()?;
    let (range, step) = match s.split_once('/') {
        Some((r, st)) => (r, st.parse().ok()?),
        None => (s, 1),
    };
    let (start, stop) = match range.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let v = range.parse().ok()?;
            (v, v)
        }
    };
    (start <= stop && step > 0).then_some(Range { start, stop, step })
}

/// Nibble form as BIND prints it: `width` counts characters, dots included.
fn nibbles(out: &mut String, mut value: u64, mut width: u64, upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    loop {
        out.push(char::from(digits[(value & 15) as usize]));
        value >>= 4;
        width = width.saturating_sub(1);
        if width > 0 || value != 0 {
            out.push('.');
            width = width.saturating_sub(1);
        }
        if value == 0 && width == 0 {
            break;
        }
    }
}

/// Expands one template for iterator value `n`.
pub(super) fn expand(template: &[u8], n: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(template.len() + 8);
    let mut i = 0;
    while let Some(&c) = template.get(i) {
        match c {
            b'\\' => {
                // Keep the escape for the name/RDATA parser, which reads `\$`
                // as a literal `$`.
                out.push(c);
                if let Some(&next) = template.get(i + 1) {
                    out.push(next);
                }
                i += 2;
            }
            b'$' if template.get(i + 1) == Some(&b'$') => {
                out.extend_from_slice(b"\\$");
                i += 2;
            }
            b'$' if template.get(i + 1) == Some(&b'{') => {
                let body_start = i + 2;
                let Some(len) = template
                    .get(body_start..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'}'))
                else {
                    return Err("\"${\" without a closing \"}\"".to_string());
                };
                let body = template
                    .get(body_start..body_start + len)
                    .unwrap_or_default();
                let body =
                    std::str::from_utf8(body).map_err(|_| "bad ${…} modifier".to_string())?;
                let mut parts = body.split(',');
                let bad = || {
                    format!("bad modifier \"${{{body}}}\" (write ${{offset,width,base}}, base one of d o x X n N)")
                };
                let offset: i64 = parts
                    .next()
                    .unwrap_or("0")
                    .trim()
                    .parse()
                    .map_err(|_| bad())?;
                let width: u64 = match parts.next() {
                    Some(w) => w.trim().parse().map_err(|_| bad())?,
                    None => 0,
                };
                let base = parts.next().unwrap_or("d").trim();
                if parts.next().is_some() || width > 255 {
                    return Err(bad());
                }
                let value = i64::from(n).checked_add(offset).ok_or_else(bad)?;
                let w = width as usize;
                let mut s = String::new();
                let _ = match base {
                    "d" => write!(s, "{value:0w$}"),
                    "o" => write!(s, "{value:0w$o}"),
                    "x" => write!(s, "{value:0w$x}"),
                    "X" => write!(s, "{value:0w$X}"),
                    "n" | "N" if value >= 0 => {
                        nibbles(&mut s, value as u64, width, base == "N");
                        Ok(())
                    }
                    _ => return Err(bad()),
                };
                out.extend_from_slice(s.as_bytes());
                i = body_start + len + 1;
            }
            b'$' => {
                let mut s = String::new();
                let _ = write!(s, "{n}");
                out.extend_from_slice(s.as_bytes());
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(t: &str, n: u32) -> String {
        String::from_utf8(expand(t.as_bytes(), n).unwrap()).unwrap()
    }

    #[test]
    fn substitutions() {
        assert_eq!(ex("host$", 7), "host7");
        assert_eq!(ex("h${10}", 7), "h17");
        assert_eq!(ex("h${0,3}", 7), "h007");
        assert_eq!(ex("h${0,4,x}", 255), "h00ff");
        assert_eq!(ex("h${0,2,X}", 255), "hFF");
        assert_eq!(ex("h${0,0,o}", 8), "h10");
        assert_eq!(ex("${0,0,n}", 0x1a), "a.1");
        assert_eq!(ex("${0,7,N}", 0xa), "A.0.0.0");
        assert_eq!(ex("a\\$b$", 1), "a\\$b1");
        assert_eq!(ex("a$$", 1), "a\\$");
        assert!(expand(b"${1,2", 1).is_err());
        assert!(expand(b"${1,2,q}", 1).is_err());
        assert!(expand(b"${9223372036854775807}", 1).is_err());
        assert!(expand(b"${-5,0,n}", 1).is_err());
    }

    #[test]
    fn ranges() {
        let r = parse_range(b"1-10/2").unwrap();
        assert_eq!((r.start, r.stop, r.step), (1, 10, 2));
        assert!(parse_range(b"10-1").is_none());
        assert!(parse_range(b"1-10/0").is_none());
    }
}
