//! RDATA wire form → presentation text, close to what BIND's
//! `named-compilezone` prints, and always text our own parser reads back to
//! the same bytes. Data that does not decode as its type is shown in the
//! RFC 3597 `\# length hex` form, so nothing is ever lost.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::layout::{layout, Field, SVC_KEYS};
use super::Record;
use crate::proto::name::{wire_name_len, Name};
use crate::proto::rtype::name as rtype_name;
use crate::proto::{codec, time};

/// Presentation form of an RDATA.
pub fn rdata_to_text(rtype: u16, rdata: &[u8]) -> String {
    typed_text(rtype, rdata).unwrap_or_else(|| generic_text(rdata))
}

/// `owner ttl IN TYPE rdata` on one line.
pub fn record_to_text(record: &Record) -> String {
    let class = if record.class == 1 {
        "IN".to_string()
    } else {
        format!("CLASS{}", record.class)
    };
    format!(
        "{} {} {class} {} {}",
        record.owner,
        record.ttl,
        rtype_name(record.rtype),
        rdata_to_text(record.rtype, &record.rdata)
    )
}

/// RFC 3597 §5 form.
pub(crate) fn generic_text(rdata: &[u8]) -> String {
    let mut s = format!("\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        codec::hex_encode(rdata, &mut s);
    }
    s
}

/// Reads wire data front to back; every read fails cleanly at the end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }
    fn name(&mut self) -> Option<Name> {
        let rest = self.data.get(self.pos..)?;
        let len = wire_name_len(rest)?;
        Name::from_wire(self.take(len)?)
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = self.data.get(self.pos..).unwrap_or_default();
        self.pos = self.data.len();
        r
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Writes a <character-string> quoted, escaping what must be escaped.
pub(crate) fn quote(bytes: &[u8], s: &mut String) {
    s.push('"');
    escape_into(bytes, s);
    s.push('"');
}

fn escape_into(bytes: &[u8], s: &mut String) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let _ = write!(s, "\\{b:03}");
            }
        }
    }
}

/// The typed presentation, or `None` when the data does not decode as
/// `rtype` (or the type has no typed form).
pub(crate) fn typed_text(rtype: u16, rdata: &[u8]) -> Option<String> {
    let mut r = Reader {
        data: rdata,
        pos: 0,
    };
    let mut s = String::new();
    if let Some(fields) = layout(rtype) {
        for &(field, _) in fields {
            if field == Field::OptStr && r.done() {
                break;
            }
            if !s.is_empty() && !matches!(field, Field::Bitmap) {
                s.push(' ');
            }
            field_text(&mut r, field, &mut s)?;
        }
    } else {
        match rtype {
            29 => loc_text(&mut r, &mut s)?,
            42 => apl_text(&mut r, &mut s)?,
            45 => ipseckey_text(&mut r, &mut s)?,
            55 => hip_text(&mut r, &mut s)?,
            64 | 65 => svcb_text(&mut r, &mut s)?,
            _ => return None,
        }
    }
    r.done().then_some(s)
}

fn field_text(r: &mut Reader<'_>, field: Field, s: &mut String) -> Option<()> {
    match field {
        Field::U8 | Field::Alg => {
            let _ = write!(s, "{}", r.u8()?);
        }
        Field::U16 | Field::CertType => {
            let _ = write!(s, "{}", r.u16()?);
        }
        Field::U32 | Field::Period => {
            let _ = write!(s, "{}", r.u32()?);
        }
        Field::Name => {
            let _ = write!(s, "{}", r.name()?);
        }
        Field::Ipv4 => {
            let b: [u8; 4] = r.take(4)?.try_into().ok()?;
            let _ = write!(s, "{}", Ipv4Addr::from(b));
        }
        Field::Ipv6 => {
            let b: [u8; 16] = r.take(16)?.try_into().ok()?;
            let _ = write!(s, "{}", Ipv6Addr::from(b));
        }
        Field::Str | Field::OptStr => {
            let len = r.u8()?;
            quote(r.take(usize::from(len))?, s);
        }
        Field::Strs => {
            let mut first = true;
            loop {
                if !first {
                    s.push(' ');
                }
                first = false;
                let len = r.u8()?;
                quote(r.take(usize::from(len))?, s);
                if r.done() {
                    break;
                }
            }
        }
        Field::Type => s.push_str(&rtype_name(r.u16()?)),
        Field::Time => s.push_str(&time::format_sig_time(r.u32()?)),
        Field::Base64 => {
            let rest = r.rest();
            if rest.is_empty() {
                return None;
            }
            codec::base64_encode(rest, s);
        }
        Field::Hex => {
            let rest = r.rest();
            if rest.is_empty() {
                return None;
            }
            codec::hex_encode(rest, s);
        }
        Field::Bitmap => bitmap_text(r.rest(), s)?,
        Field::Salt => {
            let len = r.u8()?;
            if len == 0 {
                s.push('-');
            } else {
                codec::hex_encode(r.take(usize::from(len))?, s);
            }
        }
        Field::Base32 => {
            let len = r.u8()?;
            if len == 0 {
                return None;
            }
            codec::base32hex_encode(r.take(usize::from(len))?, s);
        }
        Field::Hex64 => {
            for i in 0..4 {
                if i > 0 {
                    s.push(':');
                }
                let _ = write!(s, "{:04x}", r.u16()?);
            }
        }
        Field::Eui48 | Field::Eui64 => {
            let n = if field == Field::Eui48 { 6 } else { 8 };
            for (i, b) in r.take(n)?.iter().enumerate() {
                if i > 0 {
                    s.push('-');
                }
                let _ = write!(s, "{b:02x}");
            }
        }
        Field::Rest => quote(r.rest(), s),
        Field::Tag => {
            let len = r.u8()?;
            let tag = r.take(usize::from(len))?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            s.push_str(std::str::from_utf8(tag).ok()?);
        }
    }
    Some(())
}

/// Type bitmap (each type preceded by a space); strict about window order.
fn bitmap_text(mut data: &[u8], s: &mut String) -> Option<()> {
    let mut last_window: Option<u8> = None;
    while !data.is_empty() {
        let window = *data.first()?;
        let len = usize::from(*data.get(1)?);
        if len == 0 || len > 32 || last_window.is_some_and(|w| w >= window) {
            return None;
        }
        last_window = Some(window);
        let bits = data.get(2..2 + len)?;
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let t = (u16::from(window) << 8) | (i * 8 + bit) as u16;
                    s.push(' ');
                    s.push_str(&rtype_name(t));
                }
            }
        }
        data = data.get(2 + len..)?;
    }
    Some(())
}

fn loc_size_text(b: u8, s: &mut String) -> Option<()> {
    let (mant, exp) = (u64::from(b >> 4), u32::from(b & 15));
    if mant > 9 || exp > 9 {
        return None;
    }
    let cm = mant * 10u64.pow(exp);
    let _ = write!(s, " {}.{:02}m", cm / 100, cm % 100);
    Some(())
}

fn loc_text(r: &mut Reader<'_>, s: &mut String) -> Option<()> {
    if r.u8()? != 0 {
        return None;
    }
    let sizes = [r.u8()?, r.u8()?, r.u8()?];
    for (n, hemis) in [b"NS", b"EW"].into_iter().enumerate() {
        let raw = i64::from(r.u32()?) - (1i64 << 31);
        let max = if n == 0 { 90 } else { 180 } * 3_600_000;
        if raw.abs() > max {
            return None;
        }
        let hemi = if raw >= 0 { hemis[0] } else { hemis[1] };
        let v = raw.abs();
        if n > 0 {
            s.push(' ');
        }
        let _ = write!(
            s,
            "{} {} {}.{:03} {}",
            v / 3_600_000,
            v / 60_000 % 60,
            v / 1000 % 60,
            v % 1000,
            char::from(hemi)
        );
    }
    let alt = i64::from(r.u32()?) - 10_000_000;
    let sign = if alt < 0 { "-" } else { "" };
    let _ = write!(s, " {sign}{}.{:02}m", alt.abs() / 100, alt.abs() % 100);
    for b in sizes {
        loc_size_text(b, s)?;
    }
    Some(())
}

fn apl_text(r: &mut Reader<'_>, s: &mut String) -> Option<()> {
    let mut first = true;
    while !r.done() {
        let afi = r.u16()?;
        let prefix = r.u8()?;
        let nlen = r.u8()?;
        let data = r.take(usize::from(nlen & 0x7f))?;
        if !first {
            s.push(' ');
        }
        first = false;
        if nlen & 0x80 != 0 {
            s.push('!');
        }
        match afi {
            1 if data.len() <= 4 && prefix <= 32 => {
                let mut b = [0u8; 4];
                b.get_mut(..data.len())?.copy_from_slice(data);
                let _ = write!(s, "1:{}/{prefix}", Ipv4Addr::from(b));
            }
            2 if data.len() <= 16 && prefix <= 128 => {
                let mut b = [0u8; 16];
                b.get_mut(..data.len())?.copy_from_slice(data);
                let _ = write!(s, "2:{}/{prefix}", Ipv6Addr::from(b));
            }
            _ => return None,
        }
    }
    Some(())
}

fn ipseckey_text(r: &mut Reader<'_>, s: &mut String) -> Option<()> {
    let (prec, gw_type, alg) = (r.u8()?, r.u8()?, r.u8()?);
    let _ = write!(s, "{prec} {gw_type} {alg} ");
    match gw_type {
        0 => s.push('.'),
        1 => field_text(r, Field::Ipv4, s)?,
        2 => field_text(r, Field::Ipv6, s)?,
        3 => field_text(r, Field::Name, s)?,
        _ => return None,
    }
    let key = r.rest();
    if !key.is_empty() {
        s.push(' ');
        codec::base64_encode(key, s);
    }
    Some(())
}

fn hip_text(r: &mut Reader<'_>, s: &mut String) -> Option<()> {
    let hit_len = r.u8()?;
    let alg = r.u8()?;
    let key_len = r.u16()?;
    let hit = r.take(usize::from(hit_len))?;
    let key = r.take(usize::from(key_len))?;
    if hit.is_empty() || key.is_empty() {
        return None;
    }
    let _ = write!(s, "{alg} ");
    codec::hex_encode(hit, s);
    s.push(' ');
    codec::base64_encode(key, s);
    while !r.done() {
        let _ = write!(s, " {}", r.name()?);
    }
    Some(())
}

fn svc_key_name(key: u16) -> String {
    match SVC_KEYS.iter().find(|(k, _)| *k == key) {
        Some((_, name)) => (*name).to_string(),
        None => format!("key{key}"),
    }
}

/// Escapes one item of a comma-separated value list (commas and backslashes
/// get a backslash, which the quoting then doubles).
fn list_item(item: &[u8], s: &mut String) {
    let mut escaped = Vec::with_capacity(item.len());
    for &b in item {
        if b == b',' || b == b'\\' {
            escaped.push(b'\\');
        }
        escaped.push(b);
    }
    escape_into(&escaped, s);
}

fn svcb_text(r: &mut Reader<'_>, s: &mut String) -> Option<()> {
    let priority = r.u16()?;
    let target = r.name()?;
    let _ = write!(s, "{priority} {target}");
    let mut last: Option<u16> = None;
    while !r.done() {
        let key = r.u16()?;
        if last.is_some_and(|l| l >= key) {
            return None;
        }
        last = Some(key);
        let len = r.u16()?;
        let value = r.take(usize::from(len))?;
        let mut v = Reader {
            data: value,
            pos: 0,
        };
        let _ = write!(s, " {}", svc_key_name(key));
        match key {
            0 => {
                if value.is_empty() || value.len() % 2 != 0 {
                    return None;
                }
                s.push('=');
                let mut first = true;
                while !v.done() {
                    if !first {
                        s.push(',');
                    }
                    first = false;
                    s.push_str(&svc_key_name(v.u16()?));
                }
            }
            1 => {
                if value.is_empty() {
                    return None;
                }
                s.push_str("=\"");
                let mut first = true;
                while !v.done() {
                    if !first {
                        s.push(',');
                    }
                    first = false;
                    let l = v.u8()?;
                    if l == 0 {
                        return None;
                    }
                    list_item(v.take(usize::from(l))?, s);
                }
                s.push('"');
            }
            2 | 8 => {
                if !value.is_empty() {
                    return None;
                }
            }
            3 => {
                s.push('=');
                let port = v.u16()?;
                let _ = write!(s, "{port}");
            }
            4 | 6 => {
                let size = if key == 4 { 4 } else { 16 };
                if value.is_empty() || value.len() % size != 0 {
                    return None;
                }
                s.push('=');
                for (i, chunk) in value.chunks(size).enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    if let Ok(b) = <[u8; 4]>::try_from(chunk) {
                        let _ = write!(s, "{}", Ipv4Addr::from(b));
                    } else {
                        let b: [u8; 16] = chunk.try_into().ok()?;
                        let _ = write!(s, "{}", Ipv6Addr::from(b));
                    }
                }
                v.pos = value.len();
            }
            5 => {
                if value.is_empty() {
                    return None;
                }
                s.push('=');
                codec::base64_encode(value, s);
                v.pos = value.len();
            }
            _ => {
                if key == 7 && (value.is_empty() || std::str::from_utf8(value).is_err()) {
                    return None;
                }
                if !value.is_empty() {
                    s.push('=');
                    quote(value, s);
                }
                v.pos = value.len();
            }
        }
        if !v.done() {
            return None;
        }
    }
    Some(())
}
