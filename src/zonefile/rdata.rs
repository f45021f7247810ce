//! RDATA presentation form → uncompressed wire form, per record type.
//!
//! Most types are a fixed sequence of fields, described once in
//! `layout.rs` and shared with the printer in `present.rs`, so the two
//! directions cannot drift apart. Types with their own grammar (LOC, APL, SVCB/HTTPS,
//! IPSECKEY, HIP) have hand-written functions. Every type also accepts the
//! RFC 3597 `\# length hex` form.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::layout::{layout, Field, Field as F, SVC_KEYS};
use super::lexer::Token;
use super::present;
use super::types::{self, parse_decimal};
use crate::proto::name::{Name, NameError};
use crate::proto::rtype::{from_bytes as rtype_from_bytes, name as rtype_name};
use crate::proto::{codec, time};

/// Types with a hand-written grammar (no fixed layout).
pub(crate) fn is_special(rtype: u16) -> bool {
    matches!(rtype, 29 | 42 | 45 | 55 | 64 | 65)
}

/// A problem in the RDATA: which token (an index into the RDATA tokens; the
/// length means "after the last one") and what is wrong.
#[derive(Debug)]
pub(crate) struct RdataError {
    pub(crate) token: usize,
    pub(crate) message: String,
}

type Result<T> = std::result::Result<T, RdataError>;

/// Shows token text in a message, quoted, lossy for non-UTF-8 bytes.
pub(crate) fn show(text: &[u8]) -> String {
    format!("\"{}\"", String::from_utf8_lossy(text))
}

struct Cursor<'t, 'a> {
    toks: &'t [Token<'a>],
    i: usize,
    rtype: u16,
}

impl<'t, 'a> Cursor<'t, 'a> {
    fn err<T>(&self, token: usize, message: String) -> Result<T> {
        Err(RdataError { token, message })
    }

    /// The next token, or an error naming the missing field.
    fn next(&mut self, what: &str) -> Result<(usize, &'t Token<'a>)> {
        match self.toks.get(self.i) {
            Some(tok) => {
                self.i += 1;
                Ok((self.i - 1, tok))
            }
            None => self.err(
                self.i,
                format!("{} record is missing its {what}", rtype_name(self.rtype)),
            ),
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn finish(&self) -> Result<()> {
        match self.toks.get(self.i) {
            None => Ok(()),
            Some(tok) => self.err(
                self.i,
                format!(
                    "unexpected {} after the end of the {} data",
                    show(tok.text),
                    rtype_name(self.rtype)
                ),
            ),
        }
    }

    /// Concatenates the remaining tokens (base64 and hex may be split).
    fn rest_joined(&mut self, what: &str) -> Result<(usize, Vec<u8>)> {
        let (first, tok) = self.next(what)?;
        let mut joined = tok.text.to_vec();
        while let Some(tok) = self.toks.get(self.i) {
            joined.extend_from_slice(tok.text);
            self.i += 1;
        }
        Ok((first, joined))
    }
}

/// Parses the RDATA tokens of a record of type `rtype` and appends the wire
/// form to `out`. Names are relative to `origin`.
pub(crate) fn parse(
    rtype: u16,
    toks: &[Token<'_>],
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut cur = Cursor { toks, i: 0, rtype };
    if let Some(first) = toks.first() {
        if !first.quoted && first.text == b"\\#" {
            return generic(&mut cur, out);
        }
    }
    if let Some(fields) = layout(rtype) {
        for &(field, what) in fields {
            parse_field(&mut cur, field, what, origin, out)?;
        }
        if matches!(rtype, 43 | 59 | 32768 | 32769) {
            check_digest(&cur, out, 3, ds_digest_len)?;
        }
        if rtype == 63 {
            check_digest(&cur, out, 5, zonemd_digest_len)?;
        }
        return cur.finish();
    }
    match rtype {
        29 => loc(&mut cur, out)?,
        42 => apl(&mut cur, out)?,
        45 => ipseckey(&mut cur, origin, out)?,
        55 => hip(&mut cur, origin, out)?,
        64 | 65 => svcb(&mut cur, origin, out)?,
        _ => {
            return cur.err(
                0,
                format!(
                    "{} data can only be written in the RFC 3597 form \\# length hex",
                    rtype_name(rtype)
                ),
            )
        }
    }
    cur.finish()
}

/// RFC 3597 `\# length hex…`.
fn generic(cur: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<()> {
    cur.i = 1;
    let (li, len_tok) = cur.next("\\# data length")?;
    let Some(len) = parse_decimal(len_tok.text).filter(|&l| l <= 65535) else {
        return cur.err(
            li,
            format!(
                "\\# length {} is not a number from 0 to 65535",
                show(len_tok.text)
            ),
        );
    };
    let start = out.len();
    if len > 0 {
        let (hi, hex) = cur.rest_joined("\\# hex data")?;
        if let Err(e) = codec::hex_decode(&hex, out) {
            return cur.err(hi, format!("bad \\# hex data: {e}"));
        }
        let got = out.len() - start;
        if got as u64 != len {
            return cur.err(
                hi,
                format!("\\# says the data is {len} bytes long but {got} bytes of hex follow"),
            );
        }
    }
    cur.finish()?;
    // Known types must still be well-formed in wire form.
    if layout(cur.rtype).is_some() || is_special(cur.rtype) {
        if let Some(data) = out.get(start..) {
            if present::typed_text(cur.rtype, data).is_none() {
                return cur.err(
                    0,
                    format!("\\# data is not valid {} data", rtype_name(cur.rtype)),
                );
            }
        }
    }
    Ok(())
}

/// DS digest sizes by digest type (RFC 4509, RFC 6605); `None` = any size.
fn ds_digest_len(digest_type: u8) -> Option<std::ops::RangeInclusive<usize>> {
    match digest_type {
        1 => Some(20..=20),
        2 => Some(32..=32),
        4 => Some(48..=48),
        _ => None,
    }
}

/// ZONEMD digest sizes (RFC 8976 §2.2.4: SHA-384, SHA-512, and at least
/// 12 bytes for every other hash).
fn zonemd_digest_len(hash: u8) -> Option<std::ops::RangeInclusive<usize>> {
    match hash {
        1 => Some(48..=48),
        2 => Some(64..=64),
        _ => Some(12..=usize::MAX),
    }
}

/// Checks the digest length. The digest type is the wire byte at `offset`
/// and the digest follows it; in both DS and ZONEMD the digest is token 3.
fn check_digest(
    cur: &Cursor<'_, '_>,
    out: &[u8],
    offset: usize,
    sizes: fn(u8) -> Option<std::ops::RangeInclusive<usize>>,
) -> Result<()> {
    let digest_type = out.get(offset).copied().unwrap_or(0);
    let Some(want) = sizes(digest_type) else {
        return Ok(());
    };
    let got = out.len().saturating_sub(offset + 1);
    if !want.contains(&got) {
        let size = if want.start() == want.end() {
            format!("{}", want.start())
        } else {
            format!("at least {}", want.start())
        };
        return cur.err(
            3,
            format!("digest type {digest_type} needs a digest of {size} bytes, this one has {got}"),
        );
    }
    Ok(())
}

fn number(cur: &Cursor<'_, '_>, idx: usize, text: &[u8], what: &str, max: u64) -> Result<u64> {
    match parse_decimal(text) {
        Some(v) if v <= max => Ok(v),
        _ => cur.err(
            idx,
            format!("{what} {} is not a number from 0 to {max}", show(text)),
        ),
    }
}

/// Parses a TTL or time interval: plain seconds or BIND units (`1w2d3h4m5s`).
pub(crate) fn parse_ttl(text: &[u8]) -> Option<u32> {
    if let Some(v) = parse_decimal(text) {
        return u32::try_from(v).ok();
    }
    if text.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut current: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            let v = current.unwrap_or(0) * 10 + u64::from(c - b'0');
            if v > u64::from(u32::MAX) {
                return None;
            }
            current = Some(v);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total += current.take()? * unit;
        if total > u64::from(u32::MAX) {
            return None;
        }
    }
    if current.is_some() {
        // BIND requires a unit after every number once units are used.
        return None;
    }
    u32::try_from(total).ok()
}

/// Decodes a <character-string>'s escapes and appends the bytes.
pub(crate) fn decode_string(
    text: &[u8],
    out: &mut Vec<u8>,
) -> std::result::Result<(), &'static str> {
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'\\' {
            let rest = text.get(i + 1..).unwrap_or_default();
            let (value, used) = crate::proto::name::unescape(rest)
                .ok_or("bad escape (\\DDD must be 000 to 255)")?;
            out.push(value);
            i += 1 + used;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(())
}

fn string(cur: &Cursor<'_, '_>, idx: usize, text: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let at = out.len();
    out.push(0);
    if let Err(e) = decode_string(text, out) {
        return cur.err(idx, format!("{e} in {}", show(text)));
    }
    let len = out.len() - at - 1;
    let Ok(len) = u8::try_from(len) else {
        return cur.err(
            idx,
            format!("character-string is {len} bytes long, more than 255; split it into several quoted strings"),
        );
    };
    if let Some(slot) = out.get_mut(at) {
        *slot = len;
    }
    Ok(())
}

/// A name token that is not a valid name: the token as written and why.
#[derive(Debug, thiserror::Error)]
#[error("{shown} {}", why(.error))]
pub(crate) struct BadName {
    shown: String,
    error: NameError,
}

fn why(error: &NameError) -> &'static str {
    match error {
        NameError::EmptyLabel => "has an empty label",
        NameError::LabelTooLong => "has a label longer than 63 bytes",
        NameError::NameTooLong => "is longer than 255 bytes",
        NameError::BadEscape => "has a bad escape (\\DDD must be 000 to 255)",
    }
}

/// Parses a domain name token relative to `origin`.
pub(crate) fn parse_name(text: &[u8], origin: &Name) -> std::result::Result<Name, BadName> {
    let parsed = match std::str::from_utf8(text) {
        Ok(s) => Name::parse(s, Some(origin)),
        Err(_) => {
            // Raw non-UTF-8 octets: spell them as \DDD so Name::parse sees text.
            let mut s = String::with_capacity(text.len() * 2);
            for &b in text {
                if b.is_ascii() {
                    s.push(char::from(b));
                } else {
                    s.push_str(&format!("\\{b:03}"));
                }
            }
            Name::parse(&s, Some(origin))
        }
    };
    parsed.map_err(|error| BadName {
        shown: show(text),
        error,
    })
}

fn name_field(
    cur: &Cursor<'_, '_>,
    idx: usize,
    text: &[u8],
    what: &str,
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<()> {
    match parse_name(text, origin) {
        Ok(name) => {
            out.extend_from_slice(name.as_wire());
            Ok(())
        }
        Err(e) => cur.err(idx, format!("{what} {e}")),
    }
}

fn ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse_field(
    cur: &mut Cursor<'_, '_>,
    field: Field,
    what: &str,
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<()> {
    match field {
        F::Strs => {
            let (idx, tok) = cur.next(what)?;
            string(cur, idx, tok.text, out)?;
            while let Some(tok) = cur.toks.get(cur.i) {
                string(cur, cur.i, tok.text, out)?;
                cur.i += 1;
            }
            return Ok(());
        }
        F::OptStr => {
            if let Some(tok) = cur.toks.get(cur.i) {
                string(cur, cur.i, tok.text, out)?;
                cur.i += 1;
            }
            return Ok(());
        }
        F::Base64 => {
            let (idx, text) = cur.rest_joined(what)?;
            if let Err(e) = codec::base64_decode(&text, out) {
                return cur.err(idx, format!("{what}: {e}"));
            }
            return Ok(());
        }
        F::Hex => {
            let (idx, text) = cur.rest_joined(what)?;
            if let Err(e) = codec::hex_decode(&text, out) {
                return cur.err(idx, format!("{what}: {e}"));
            }
            return Ok(());
        }
        F::Bitmap => {
            let mut types = Vec::new();
            while let Some(tok) = cur.toks.get(cur.i) {
                match rtype_from_bytes(tok.text) {
                    Some(t) => types.push(t),
                    None => {
                        return cur.err(
                            cur.i,
                            format!("unknown record type {} in the type bitmap", show(tok.text)),
                        )
                    }
                }
                cur.i += 1;
            }
            encode_bitmap(&mut types, out);
            return Ok(());
        }
        _ => {}
    }
    let (idx, tok) = cur.next(what)?;
    let text = tok.text;
    match field {
        F::U8 => out.push(number(cur, idx, text, what, 255)? as u8),
        F::U16 => {
            out.extend_from_slice(&(number(cur, idx, text, what, 65535)? as u16).to_be_bytes())
        }
        F::U32 => out.extend_from_slice(
            &(number(cur, idx, text, what, u64::from(u32::MAX))? as u32).to_be_bytes(),
        ),
        F::Period => match parse_ttl(text) {
            Some(v) => out.extend_from_slice(&v.to_be_bytes()),
            None => {
                return cur.err(
                    idx,
                    format!(
                        "{what} {} is not a number or a BIND duration (like 1h30m)",
                        show(text)
                    ),
                )
            }
        },
        F::Name => name_field(cur, idx, text, what, origin, out)?,
        F::Ipv4 => match ipv4(text) {
            Some(a) => out.extend_from_slice(&a.octets()),
            None => return cur.err(idx, format!("bad IPv4 address {}", show(text))),
        },
        F::Ipv6 => match ipv6(text) {
            Some(a) => out.extend_from_slice(&a.octets()),
            None => return cur.err(idx, format!("bad IPv6 address {}", show(text))),
        },
        F::Str => string(cur, idx, text, out)?,
        F::Alg => match types::algorithm_from_bytes(text) {
            Some(a) => out.push(a),
            None => out.push(number(cur, idx, text, what, 255)? as u8),
        },
        F::CertType => match types::cert_type_from_bytes(text) {
            Some(t) => out.extend_from_slice(&t.to_be_bytes()),
            None => {
                out.extend_from_slice(&(number(cur, idx, text, what, 65535)? as u16).to_be_bytes())
            }
        },
        F::Type => match rtype_from_bytes(text) {
            Some(t) => out.extend_from_slice(&t.to_be_bytes()),
            None => return cur.err(idx, format!("unknown record type {}", show(text))),
        },
        F::Time => match time::parse_sig_time(text) {
            Some(t) => out.extend_from_slice(&t.to_be_bytes()),
            None => {
                return cur.err(
                    idx,
                    format!("{what} {} is not a YYYYMMDDHHmmSS time", show(text)),
                )
            }
        },
        F::Salt => {
            let at = out.len();
            out.push(0);
            if text != b"-" {
                if let Err(e) = codec::hex_decode(text, out) {
                    return cur.err(idx, format!("{what} {}: {e}", show(text)));
                }
            }
            let len = out.len() - at - 1;
            match (u8::try_from(len), out.get_mut(at)) {
                (Ok(l), Some(slot)) => *slot = l,
                _ => return cur.err(idx, format!("{what} is longer than 255 bytes")),
            }
        }
        F::Base32 => {
            let at = out.len();
            out.push(0);
            if let Err(e) = codec::base32hex_decode(text, out) {
                return cur.err(idx, format!("{what} {}: {e}", show(text)));
            }
            let len = out.len() - at - 1;
            match (u8::try_from(len), out.get_mut(at)) {
                (Ok(l), Some(slot)) if l > 0 => *slot = l,
                _ => return cur.err(idx, format!("{what} must be 1 to 255 bytes")),
            }
        }
        F::Hex64 => {
            let groups: Vec<&[u8]> = text.split(|&c| c == b':').collect();
            let ok = groups.len() == 4
                && groups
                    .iter()
                    .all(|g| (1..=4).contains(&g.len()) && g.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return cur.err(
                    idx,
                    format!(
                        "{what} {} is not four groups of hex like 0014:4fff:ff20:ee64",
                        show(text)
                    ),
                );
            }
            for g in groups {
                let v = g.iter().fold(0u16, |acc, &c| {
                    (acc << 4) | u16::from(codec::hex_value(c).unwrap_or(0))
                });
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        F::Eui48 | F::Eui64 => {
            let want = if field == F::Eui48 { 6 } else { 8 };
            let parts: Vec<&[u8]> = text.split(|&c| c == b'-').collect();
            let ok = parts.len() == want && parts.iter().all(|p| p.len() == 2);
            let start = out.len();
            if !ok || parts.iter().any(|p| codec::hex_decode(p, out).is_err()) {
                out.truncate(start);
                return cur.err(
                    idx,
                    format!(
                        "bad EUI-{} address {} (write {want} hex pairs joined by -)",
                        want * 8,
                        show(text)
                    ),
                );
            }
        }
        F::Rest => {
            if let Err(e) = decode_string(text, out) {
                return cur.err(idx, format!("{e} in {}", show(text)));
            }
        }
        F::Tag => {
            if text.is_empty() || text.len() > 255 || !text.iter().all(u8::is_ascii_alphanumeric) {
                return cur.err(
                    idx,
                    format!("CAA tag {} must be 1 to 255 letters and digits", show(text)),
                );
            }
            out.push(text.len() as u8);
            out.extend_from_slice(text);
        }
        F::Strs | F::OptStr | F::Base64 | F::Hex | F::Bitmap => {}
    }
    Ok(())
}

/// Appends an NSEC-style type bitmap for `types` (RFC 4034 §4.1.2).
pub(crate) fn encode_bitmap(types: &mut [u16], out: &mut Vec<u8>) {
    types.sort_unstable();
    let mut i = 0;
    while let Some(&first) = types.get(i) {
        let window = first >> 8;
        let mut bits = [0u8; 32];
        let mut used = 0usize;
        while let Some(&t) = types.get(i) {
            if t >> 8 != window {
                break;
            }
            let low = usize::from(t & 0xff);
            if let Some(b) = bits.get_mut(low / 8) {
                *b |= 0x80 >> (low % 8);
            }
            used = used.max(low / 8 + 1);
            i += 1;
        }
        out.push(window as u8);
        out.push(used as u8);
        out.extend_from_slice(bits.get(..used).unwrap_or_default());
    }
}

// ---------------------------------------------------------------- LOC

/// Parses a decimal with up to `places` fractional digits, scaled by
/// 10^places. Returns (value, negative).
fn scaled_decimal(text: &[u8], places: u32) -> Option<(u64, bool)> {
    let (neg, body) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = body.splitn(2, |&c| c == b'.');
    let int = parts.next()?;
    let frac = parts.next().unwrap_or_default();
    if int.is_empty() && frac.is_empty() || frac.len() > places as usize {
        return None;
    }
    let int_v = if int.is_empty() {
        0
    } else {
        parse_decimal(int)?
    };
    let frac_v = if frac.is_empty() {
        0
    } else {
        parse_decimal(frac)?
    };
    let scale = 10u64.pow(places);
    let frac_scaled = frac_v * 10u64.pow(places - frac.len() as u32);
    Some((int_v.checked_mul(scale)?.checked_add(frac_scaled)?, neg))
}

/// Encodes a size in centimetres as LOC's mantissa/exponent byte.
fn loc_size(cm: u64) -> u8 {
    let mut exp = 0u32;
    while exp < 9 && cm >= 10u64.pow(exp + 1) {
        exp += 1;
    }
    let mant = (cm / 10u64.pow(exp)).min(9);
    ((mant as u8) << 4) | exp as u8
}

fn loc(cur: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<()> {
    let mut coords = [0u32; 2];
    for (n, (hemis, max_deg)) in [(b"NS", 90u64), (b"EW", 180u64)].into_iter().enumerate() {
        let what = if n == 0 { "latitude" } else { "longitude" };
        let (di, deg_tok) = cur.next(what)?;
        let deg = number(cur, di, deg_tok.text, &format!("{what} degrees"), max_deg)?;
        let mut min = 0u64;
        let mut msec = 0u64;
        let mut hemi = None;
        for step in 0..3 {
            let (i, tok) = cur.next(&format!("{what} hemisphere"))?;
            let upper: Vec<u8> = tok.text.to_ascii_uppercase();
            if upper.len() == 1 && hemis.contains(&upper[0]) {
                hemi = Some(upper[0]);
                break;
            }
            match step {
                0 => min = number(cur, i, tok.text, &format!("{what} minutes"), 59)?,
                1 => match scaled_decimal(tok.text, 3) {
                    Some((v, false)) if v < 60_000 => msec = v,
                    _ => {
                        return cur.err(
                            i,
                            format!("{what} seconds {} must be 0 to 59.999", show(tok.text)),
                        )
                    }
                },
                _ => {
                    return cur.err(
                        i,
                        format!(
                            "expected {} or {} after the {what}, found {}",
                            char::from(hemis[0]),
                            char::from(hemis[1]),
                            show(tok.text)
                        ),
                    )
                }
            }
        }
        let Some(hemi) = hemi else {
            return cur.err(
                cur.i,
                format!("LOC record is missing its {what} hemisphere"),
            );
        };
        let total = (deg * 3600 + min * 60) * 1000 + msec;
        if total > max_deg * 3_600_000 {
            return cur.err(di, format!("{what} is more than {max_deg} degrees"));
        }
        let total = total as i64;
        let signed = if hemi == hemis[0] { total } else { -total };
        coords[n] = (i64::from(1u32 << 31) + signed) as u32;
    }
    let (ai, alt_tok) = cur.next("altitude")?;
    let alt_text = alt_tok.text.strip_suffix(b"m").unwrap_or(alt_tok.text);
    let altitude = match scaled_decimal(alt_text, 2) {
        Some((cm, neg)) => {
            let v = 10_000_000i64 + if neg { -(cm as i64) } else { cm as i64 };
            u32::try_from(v).ok()
        }
        None => None,
    };
    let Some(altitude) = altitude else {
        return cur.err(
            ai,
            format!(
                "altitude {} must be -100000.00m to 42849672.95m",
                show(alt_tok.text)
            ),
        );
    };
    // Defaults from RFC 1876: size 1m, horizontal 10000m, vertical 10m.
    let mut sizes = [100u64, 1_000_000, 1_000];
    for (slot, what) in sizes
        .iter_mut()
        .zip(["size", "horizontal precision", "vertical precision"])
    {
        let Some(tok) = cur.toks.get(cur.i) else {
            break;
        };
        let text = tok.text.strip_suffix(b"m").unwrap_or(tok.text);
        match scaled_decimal(text, 2) {
            Some((cm, false)) if cm <= 9_000_000_000 => *slot = cm,
            _ => {
                return cur.err(
                    cur.i,
                    format!(
                        "LOC {what} {} must be 0.00m to 90000000.00m",
                        show(tok.text)
                    ),
                )
            }
        }
        cur.i += 1;
    }
    out.push(0);
    for s in sizes {
        out.push(loc_size(s));
    }
    for c in coords {
        out.extend_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(&altitude.to_be_bytes());
    Ok(())
}

// ---------------------------------------------------------------- APL

fn apl(cur: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<()> {
    while let Some(tok) = cur.toks.get(cur.i) {
        let idx = cur.i;
        cur.i += 1;
        let bad = || -> Result<()> {
            cur.err(
                idx,
                format!(
                    "bad APL item {} (write [!]1:192.0.2.0/24 or [!]2:2001:db8::/32)",
                    show(tok.text)
                ),
            )
        };
        let (neg, body) = match tok.text.strip_prefix(b"!") {
            Some(rest) => (true, rest),
            None => (false, tok.text),
        };
        let mut colon = body.splitn(2, |&c| c == b':');
        let afi = colon.next().and_then(parse_decimal);
        let Some(rest) = colon.next() else {
            return bad();
        };
        let mut slash = rest.splitn(2, |&c| c == b'/');
        let addr = slash.next().unwrap_or_default();
        let prefix = slash.next().and_then(parse_decimal);
        let (afi, bytes, max): (u16, Vec<u8>, u64) = match afi {
            Some(1) => match ipv4(addr) {
                Some(a) => (1, a.octets().to_vec(), 32),
                None => return bad(),
            },
            Some(2) => match ipv6(addr) {
                Some(a) => (2, a.octets().to_vec(), 128),
                None => return bad(),
            },
            _ => return bad(),
        };
        let Some(prefix) = prefix.filter(|&p| p <= max) else {
            return bad();
        };
        let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        out.extend_from_slice(&afi.to_be_bytes());
        out.push(prefix as u8);
        out.push(used as u8 | if neg { 0x80 } else { 0 });
        out.extend_from_slice(bytes.get(..used).unwrap_or_default());
    }
    Ok(())
}

// ---------------------------------------------------------------- IPSECKEY

fn ipseckey(cur: &mut Cursor<'_, '_>, origin: &Name, out: &mut Vec<u8>) -> Result<()> {
    let (i, t) = cur.next("precedence")?;
    out.push(number(cur, i, t.text, "precedence", 255)? as u8);
    let (gi, t) = cur.next("gateway type")?;
    let gw_type = number(cur, gi, t.text, "gateway type", 3)? as u8;
    out.push(gw_type);
    let (i, t) = cur.next("algorithm")?;
    out.push(number(cur, i, t.text, "algorithm", 255)? as u8);
    let (i, t) = cur.next("gateway")?;
    match gw_type {
        0 if t.text == b"." => {}
        0 => return cur.err(i, "gateway type 0 needs \".\" as the gateway".to_string()),
        1 => match ipv4(t.text) {
            Some(a) => out.extend_from_slice(&a.octets()),
            None => return cur.err(i, format!("bad IPv4 address {}", show(t.text))),
        },
        2 => match ipv6(t.text) {
            Some(a) => out.extend_from_slice(&a.octets()),
            None => return cur.err(i, format!("bad IPv6 address {}", show(t.text))),
        },
        _ => name_field(cur, i, t.text, "gateway", origin, out)?,
    }
    if !cur.at_end() {
        let (i, text) = cur.rest_joined("public key")?;
        if let Err(e) = codec::base64_decode(&text, out) {
            return cur.err(i, format!("public key: {e}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- HIP

fn hip(cur: &mut Cursor<'_, '_>, origin: &Name, out: &mut Vec<u8>) -> Result<()> {
    let (i, t) = cur.next("public key algorithm")?;
    let alg = number(cur, i, t.text, "public key algorithm", 255)? as u8;
    let (hi, t) = cur.next("HIT")?;
    let mut hit = Vec::new();
    if let Err(e) = codec::hex_decode(t.text, &mut hit) {
        return cur.err(hi, format!("HIT {}: {e}", show(t.text)));
    }
    let (ki, t) = cur.next("public key")?;
    let mut key = Vec::new();
    if let Err(e) = codec::base64_decode(t.text, &mut key) {
        return cur.err(ki, format!("public key: {e}"));
    }
    let (Ok(hit_len), Ok(key_len)) = (u8::try_from(hit.len()), u16::try_from(key.len())) else {
        return cur.err(hi, "HIT or public key too long".to_string());
    };
    if hit_len == 0 {
        return cur.err(hi, "HIT must not be empty".to_string());
    }
    out.push(hit_len);
    out.push(alg);
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(&hit);
    out.extend_from_slice(&key);
    while let Some(t) = cur.toks.get(cur.i) {
        name_field(cur, cur.i, t.text, "rendezvous server", origin, out)?;
        cur.i += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------- SVCB

fn svc_key(text: &[u8]) -> Option<u16> {
    if let Some(&(k, _)) = SVC_KEYS.iter().find(|(_, n)| n.as_bytes() == text) {
        return Some(k);
    }
    let digits = text.strip_prefix(b"key")?;
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None;
    }
    u16::try_from(parse_decimal(digits)?).ok()
}

/// Splits a decoded value list on commas; `\,` and `\\` keep their second
/// byte literally (RFC 9460 Appendix A.1).
fn split_list(value: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while let Some(&c) = value.get(i) {
        match c {
            b'\\' => {
                if let (Some(&next), Some(item)) = (value.get(i + 1), items.last_mut()) {
                    item.push(next);
                }
                i += 2;
                continue;
            }
            b',' => items.push(Vec::new()),
            _ => {
                if let Some(item) = items.last_mut() {
                    item.push(c);
                }
            }
        }
        i += 1;
    }
    items
}

fn svcb(cur: &mut Cursor<'_, '_>, origin: &Name, out: &mut Vec<u8>) -> Result<()> {
    let (i, t) = cur.next("priority")?;
    out.extend_from_slice(&(number(cur, i, t.text, "priority", 65535)? as u16).to_be_bytes());
    let (i, t) = cur.next("target name")?;
    name_field(cur, i, t.text, "target name", origin, out)?;
    let mut params: Vec<(u16, Vec<u8>, usize)> = Vec::new();
    while let Some(tok) = cur.toks.get(cur.i) {
        let idx = cur.i;
        cur.i += 1;
        let (key_text, mut raw_value) = match tok.text.iter().position(|&c| c == b'=') {
            Some(eq) => (
                tok.text.get(..eq).unwrap_or_default(),
                Some(tok.text.get(eq + 1..).unwrap_or_default()),
            ),
            None => (tok.text, None),
        };
        // `key="quoted value"` reaches us as `key=` and a quoted token.
        if raw_value == Some(b"") {
            if let Some(next) = cur.toks.get(cur.i).filter(|n| n.quoted) {
                raw_value = Some(next.text);
                cur.i += 1;
            }
        }
        let Some(key) = svc_key(key_text) else {
            return cur.err(idx, format!("unknown SvcParamKey {}", show(key_text)));
        };
        if params.iter().any(|(k, _, _)| *k == key) {
            return cur.err(idx, format!("SvcParamKey {} appears twice", show(key_text)));
        }
        let mut value_bytes = Vec::new();
        if let Some(raw) = raw_value {
            if let Err(e) = decode_string(raw, &mut value_bytes) {
                return cur.err(idx, format!("{e} in {}", show(raw)));
            }
        }
        let bad =
            |msg: &str| -> Result<Vec<u8>> { cur.err(idx, format!("{} {msg}", show(tok.text))) };
        let wire = match key {
            0 => {
                let mut keys = Vec::new();
                for item in split_list(&value_bytes) {
                    match svc_key(&item) {
                        Some(0) | None => {
                            return bad("lists a key that cannot be mandatory").map(|_| ())
                        }
                        Some(k) => keys.push(k),
                    }
                }
                keys.sort_unstable();
                if keys.windows(2).any(|w| w[0] == w[1]) {
                    return bad("lists a key twice").map(|_| ());
                }
                keys.iter().flat_map(|k| k.to_be_bytes()).collect()
            }
            1 => {
                let mut w = Vec::new();
                for item in split_list(&value_bytes) {
                    match u8::try_from(item.len()) {
                        Ok(l) if l > 0 => {
                            w.push(l);
                            w.extend_from_slice(&item);
                        }
                        _ => return bad("has an empty or too long ALPN id").map(|_| ()),
                    }
                }
                w
            }
            2 => {
                if raw_value.is_some() {
                    return bad("takes no value").map(|_| ());
                }
                Vec::new()
            }
            3 => match std::str::from_utf8(&value_bytes)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
            {
                Some(p) => p.to_be_bytes().to_vec(),
                None => bad("needs a port number from 0 to 65535")?,
            },
            4 => {
                let mut w = Vec::new();
                for item in split_list(&value_bytes) {
                    match ipv4(&item) {
                        Some(a) => w.extend_from_slice(&a.octets()),
                        None => return bad("has a bad IPv4 address").map(|_| ()),
                    }
                }
                w
            }
            6 => {
                let mut w = Vec::new();
                for item in split_list(&value_bytes) {
                    match ipv6(&item) {
                        Some(a) => w.extend_from_slice(&a.octets()),
                        None => return bad("has a bad IPv6 address").map(|_| ()),
                    }
                }
                w
            }
            5 => {
                let mut w = Vec::new();
                if codec::base64_decode(&value_bytes, &mut w).is_err() || w.is_empty() {
                    return bad("needs base64 data").map(|_| ());
                }
                w
            }
            8 => {
                if raw_value.is_some() {
                    return bad("takes no value").map(|_| ());
                }
                Vec::new()
            }
            7 => {
                if value_bytes.is_empty() || std::str::from_utf8(&value_bytes).is_err() {
                    return bad("needs a UTF-8 URI template").map(|_| ());
                }
                value_bytes
            }
            _ => value_bytes,
        };
        if matches!(key, 0 | 1 | 3 | 4 | 6) && wire.is_empty() {
            return cur.err(idx, format!("SvcParamKey {} needs a value", show(key_text)));
        }
        params.push((key, wire, idx));
    }
    params.sort_by_key(|(k, _, _)| *k);
    for (key, value, idx) in params {
        let Ok(len) = u16::try_from(value.len()) else {
            return cur.err(idx, "SvcParamValue longer than 65535 bytes".to_string());
        };
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl(b"3600"), Some(3600));
        assert_eq!(parse_ttl(b"1h30m"), Some(5400));
        assert_eq!(parse_ttl(b"1W"), Some(604_800));
        assert_eq!(parse_ttl(b"1h30"), None);
        assert_eq!(parse_ttl(b"1x"), None);
        assert_eq!(parse_ttl(b""), None);
        assert_eq!(parse_ttl(b"99999999999"), None);
    }

    #[test]
    fn loc_sizes() {
        assert_eq!(loc_size(100), 0x12);
        assert_eq!(loc_size(1_000_000), 0x16);
        assert_eq!(loc_size(1_000), 0x13);
        assert_eq!(loc_size(0), 0x00);
    }
}
