//! Domain names in uncompressed wire form: [`Name`], the owned name used
//! from the zone parser to the query path, [`LowerName`], a lowercased name
//! on the stack for lookups, and [`read_name`], the one reader of names in
//! received messages.
//!
//! A `Name` is always absolute: a sequence of length-prefixed labels ending
//! with the root label (a zero byte). Comparison and hashing ignore ASCII case
//! (RFC 4343) while the stored bytes keep the case they were written with, so
//! answers can be case-preserving.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest name in wire form (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

#[derive(Clone)]
pub struct Name(Box<[u8]>);

/// Why a name could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in name (two dots in a row?)")]
    EmptyLabel,
    #[error("label longer than 63 octets")]
    LabelTooLong,
    #[error("name longer than 255 octets")]
    NameTooLong,
    #[error("bad escape sequence in name")]
    BadEscape,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Self(Box::new([0]))
    }

    /// Wraps wire bytes that are already known to be a valid uncompressed name.
    /// Returns `None` if they are not.
    pub fn from_wire(bytes: &[u8]) -> Option<Self> {
        let len = wire_name_len(bytes)?;
        if len != bytes.len() {
            return None;
        }
        Some(Self(bytes.into()))
    }

    /// Parses presentation format (`www.example.com.`, `\DDD` and `\X`
    /// escapes). A name without a trailing dot is relative to `origin`;
    /// `@` is the origin itself.
    pub fn parse(text: &str, origin: Option<&Self>) -> Result<Self, NameError> {
        if text == "@" {
            return origin.cloned().ok_or(NameError::EmptyLabel);
        }
        if text == "." {
            return Ok(Self::root());
        }
        let bytes = text.as_bytes();
        let mut wire: Vec<u8> = Vec::with_capacity(bytes.len() + 2);
        let mut label_start = 0usize;
        wire.push(0);
        let mut i = 0usize;
        let mut absolute = false;
        while let Some(&c) = bytes.get(i) {
            match c {
                b'.' => {
                    close_label(&mut wire, label_start)?;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    } else {
                        label_start = wire.len();
                        wire.push(0);
                    }
                    i += 1;
                }
                b'\\' => {
                    let (value, used) = unescape(bytes.get(i + 1..).unwrap_or_default())
                        .ok_or(NameError::BadEscape)?;
                    wire.push(value);
                    i += 1 + used;
                }
                _ => {
                    wire.push(c);
                    i += 1;
                }
            }
        }
        if !absolute {
            close_label(&mut wire, label_start)?;
            match origin {
                Some(origin) => wire.extend_from_slice(&origin.0),
                None => wire.push(0),
            }
        } else {
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Self(wire.into_boxed_slice()))
    }

    /// The wire form, with the case it was written in.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Length of the wire form, root label included.
    pub fn wire_len(&self) -> usize {
        self.0.len()
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The labels from the leftmost to the last before the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.0 }
    }

    /// The name with the leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        let skip = usize::from(*self.0.first()?);
        if skip == 0 {
            return None;
        }
        Some(Self(self.0.get(skip + 1..)?.into()))
    }

    /// A copy with ASCII letters lowered: the key form used by zone lookups.
    pub fn to_lowercase(&self) -> Self {
        Self(lowercase_wire(&self.0).into_boxed_slice())
    }

    /// True when `self` equals `ancestor` or lies below it.
    pub fn is_subdomain_of(&self, ancestor: &Self) -> bool {
        let (me, anc) = (&self.0, &ancestor.0);
        if anc.len() > me.len() {
            return false;
        }
        // Only a suffix that starts on a label boundary counts.
        let mut pos = 0usize;
        loop {
            let Some(rest) = me.get(pos..) else {
                return false;
            };
            if rest.len() == anc.len() {
                return rest.eq_ignore_ascii_case(anc);
            }
            let len = usize::from(rest.first().copied().unwrap_or(0));
            if len == 0 {
                return false;
            }
            pos += len + 1;
            if pos >= me.len() {
                return false;
            }
        }
    }

    /// A new name with one more label on the left.
    pub fn prepend_label(&self, label: &[u8]) -> Option<Self> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        if self.0.len() + label.len() + 1 > MAX_NAME_LEN {
            return None;
        }
        let mut wire = Vec::with_capacity(self.0.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.0);
        Some(Self(wire.into_boxed_slice()))
    }

    /// Replaces the suffix `old` (which `self` must be below) with `new`, as a
    /// DNAME substitution does. `None` if the result would be too long.
    pub fn replace_suffix(&self, old: &Self, new: &Self) -> Option<Self> {
        let keep = self.0.len().checked_sub(old.0.len())?;
        let total = keep + new.0.len();
        if total > MAX_NAME_LEN {
            return None;
        }
        let mut wire = Vec::with_capacity(total);
        wire.extend_from_slice(self.0.get(..keep)?);
        wire.extend_from_slice(&new.0);
        Some(Self(wire.into_boxed_slice()))
    }

    /// Compares in DNSSEC canonical order (RFC 4034 §6.1).
    pub fn canonical_cmp(&self, other: &Self) -> Ordering {
        let a: Vec<&[u8]> = self.labels().collect();
        let b: Vec<&[u8]> = other.labels().collect();
        for (la, lb) in a.iter().rev().zip(b.iter().rev()) {
            let ord = la
                .iter()
                .map(u8::to_ascii_lowercase)
                .cmp(lb.iter().map(u8::to_ascii_lowercase));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.len().cmp(&b.len())
    }
}

/// Writes the length octet of the label that starts at `label_start` and
/// runs to the end of `wire`, which must be 1 to 63 bytes long.
fn close_label(wire: &mut [u8], label_start: usize) -> Result<(), NameError> {
    let label_len = wire.len() - label_start - 1;
    if label_len == 0 {
        return Err(NameError::EmptyLabel);
    }
    if label_len > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    if let Some(b) = wire.get_mut(label_start) {
        *b = label_len as u8;
    }
    Ok(())
}

/// Lowercases ASCII letters of a wire-form name (length octets are < 64 and
/// never letters, so a plain byte map is safe).
pub fn lowercase_wire(wire: &[u8]) -> Vec<u8> {
    wire.iter().map(u8::to_ascii_lowercase).collect()
}

/// Length of the uncompressed name at the start of `bytes`, or `None` if it is
/// not a valid uncompressed name.
pub fn wire_name_len(bytes: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    loop {
        let len = usize::from(*bytes.get(pos)?);
        if len > MAX_LABEL_LEN {
            return None;
        }
        pos += len + 1;
        if pos > MAX_NAME_LEN {
            return None;
        }
        if len == 0 {
            return Some(pos);
        }
    }
}

/// Decodes the escape after a backslash: `\DDD` (decimal) or `\X`.
/// Returns the byte and how many input bytes were used.
pub fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        let digits = rest.get(..3)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        let value = u8::try_from(value).ok()?;
        Some((value, 3))
    } else {
        Some((first, 1))
    }
}

/// A lowercased wire-form name in a fixed buffer: the key form of zone
/// lookups, made without allocating.
#[derive(Clone)]
pub struct LowerName {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl LowerName {
    /// Lowercases `wire`, which must be a name of at most 255 bytes (its
    /// labels are not checked).
    #[inline]
    pub fn new(wire: &[u8]) -> Option<Self> {
        let mut name = Self {
            bytes: [0; MAX_NAME_LEN],
            len: u8::try_from(wire.len()).ok()?,
        };
        copy_lowercase(name.bytes.get_mut(..wire.len())?, wire);
        Some(name)
    }

    pub fn as_wire(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Length of the wire form, root label included.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true: even the root name has its zero byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for LowerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Name::from_wire(self.as_wire()) {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "{:?}", self.as_wire()),
        }
    }
}

/// Reads the possibly compressed name at `start` of `message`, lowercased.
/// Returns it and the offset just past where it was written. Every pointer
/// must point before the label that holds it, which rules out loops.
///
/// A name written without pointers took exactly as many bytes as its wire
/// form ([`LowerName::len`]); with a pointer it always took fewer.
#[inline]
pub fn read_name(message: &[u8], start: usize) -> Option<(LowerName, usize)> {
    let mut name = LowerName {
        bytes: [0; MAX_NAME_LEN],
        len: 0,
    };
    let mut out = 0usize;
    let mut pos = start;
    // Labels are checked one by one but copied a run at a time (the bytes
    // between pointers): this runs for every query.
    let mut run = start;
    let mut end = None;
    loop {
        let len = *message.get(pos)?;
        match len {
            0..=63 => {
                pos += 1 + usize::from(len);
                if len == 0 {
                    let bytes = message.get(run..pos)?;
                    copy_lowercase(name.bytes.get_mut(out..out + bytes.len())?, bytes);
                    out += bytes.len();
                    name.len = u8::try_from(out).ok()?;
                    return Some((name, end.unwrap_or(pos)));
                }
                if out + (pos - run) >= MAX_NAME_LEN {
                    return None;
                }
            }
            0xc0..=0xff => {
                let target = (usize::from(len & 0x3f) << 8) | usize::from(*message.get(pos + 1)?);
                if target >= pos {
                    return None;
                }
                let bytes = message.get(run..pos)?;
                copy_lowercase(name.bytes.get_mut(out..out + bytes.len())?, bytes);
                out += bytes.len();
                end.get_or_insert(pos + 2);
                pos = target;
                run = target;
            }
            _ => return None,
        }
    }
}

/// Copies `src` into `dest` (of the same length) with ASCII letters
/// lowered: a copy, then a lowering pass over the slice, which both run
/// many bytes at a time where a byte-by-byte map does not (measured with
/// bench/callgrind.sh). Length octets are below 64, which lowering leaves
/// alone.
#[inline]
fn copy_lowercase(dest: &mut [u8], src: &[u8]) {
    dest.copy_from_slice(src);
    dest.make_ascii_lowercase();
}

pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.rest.first()?);
        if len == 0 {
            return None;
        }
        let label = self.rest.get(1..=len)?;
        self.rest = self.rest.get(len + 1..)?;
        Some(label)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn parses_relative_and_absolute() {
        let origin = n("example.com.");
        assert_eq!(
            Name::parse("www", Some(&origin)).unwrap(),
            n("www.example.com.")
        );
        assert_eq!(Name::parse("@", Some(&origin)).unwrap(), origin);
        assert_eq!(n("WWW.Example.COM."), n("www.example.com."));
        assert_eq!(n(".").to_string(), ".");
        assert_eq!(n("a\\.b.c.").label_count(), 2);
        assert_eq!(n("a\\046b.c.").to_string(), "a\\.b.c.");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Name::parse("a..b.", None), Err(NameError::EmptyLabel));
        let long = "a".repeat(64);
        assert_eq!(Name::parse(&long, None), Err(NameError::LabelTooLong));
        let many = "abcdefghi.".repeat(26);
        assert_eq!(Name::parse(&many, None), Err(NameError::NameTooLong));
        assert_eq!(Name::parse("a\\25x.", None), Err(NameError::BadEscape));
        assert_eq!(Name::parse("a\\300.", None), Err(NameError::BadEscape));
    }

    #[test]
    fn subdomain_and_parent() {
        let name = n("a.b.example.com.");
        assert!(name.is_subdomain_of(&n("example.com.")));
        assert!(name.is_subdomain_of(&n("B.EXAMPLE.com.")));
        assert!(name.is_subdomain_of(&n(".")));
        assert!(!name.is_subdomain_of(&n("ample.com.")));
        assert!(!n("example.com.").is_subdomain_of(&name));
        assert_eq!(name.parent().unwrap(), n("b.example.com."));
        assert!(n(".").parent().is_none());
    }

    #[test]
    fn canonical_order() {
        let mut names: Vec<Name> = [
            "z.example.",
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ]
        .iter()
        .map(|s| n(s))
        .collect();
        names.sort_by(Name::canonical_cmp);
        let shown: Vec<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "example.",
                "a.example.",
                "yljkjljk.a.example.",
                "Z.a.example.",
                "z.example.",
                "\\001.z.example.",
                "*.z.example.",
                "\\200.z.example."
            ]
        );
    }

    #[test]
    fn reads_compressed_names() {
        // A header's worth of bytes, "www.example." at 12, then "FOO" and a
        // pointer to "example" at 16.
        let mut message = vec![0u8; 12];
        message.extend_from_slice(b"\x03www\x07example\x00");
        let at = message.len();
        message.extend_from_slice(b"\x03FOO\xc0\x10");
        let (name, end) = read_name(&message, at).unwrap();
        assert_eq!(name.as_wire(), b"\x03foo\x07example\x00");
        assert_eq!(end, at + 6);
        assert!(end - at < name.len(), "a pointer was used");
        let (plain, end) = read_name(&message, 12).unwrap();
        assert_eq!(end - 12, plain.len());
        // Pointers forward, to themselves, or past the end: rejected.
        for bad in [
            &b"\xc0\x40"[..],
            b"\x03foo\xc0\x1f",
            b"\x03foo",
            b"\x40a\x00",
        ] {
            let mut m = message.get(..at).unwrap().to_vec();
            m.extend_from_slice(bad);
            assert!(read_name(&m, at).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn lowercases_every_byte_value_in_any_position() {
        // Every byte value at every offset of a long and a short run: only
        // 'A'..='Z' change, by 0x20.
        for len in [3usize, 8, 13, 64] {
            for value in 0..=255u8 {
                for at in 0..len {
                    let mut src = vec![b'x'; len];
                    src[at] = value;
                    let mut dest = vec![0u8; len];
                    copy_lowercase(&mut dest, &src);
                    let want: Vec<u8> = src.iter().map(u8::to_ascii_lowercase).collect();
                    assert_eq!(dest, want, "{value:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn lowercases_on_the_stack() {
        let name = LowerName::new(b"\x03WwW\x00").unwrap();
        assert_eq!(name.as_wire(), b"\x03www\x00");
        assert!(LowerName::new(&[1; 256]).is_none());
    }
}
