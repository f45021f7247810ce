//! Authenticated denial by minimally covering NSEC records, "white lies"
//! (RFC 4470), made per answer.
//!
//! Why white lies and not Compact Denial of Existence (RFC 9824): both are
//! validated by BIND 9.18's `delv`, but compact denial answers NXDOMAIN as
//! NOERROR, which changes what non-validating clients and monitoring see,
//! and a wildcard answer still needs a covering NSEC, which is the white
//! lie construction anyway. White lies keep the rcode and need nothing new
//! from validators. Like compact denial, they reveal no neighbour names:
//! every NSEC here covers only names that do not exist.
//!
//! The names used, for a name `C = L.CE` that does not exist directly below
//! its closest encloser `CE`:
//!
//! ```text
//! predecessor(C) = L' . CE    L' = L with its last octet decremented and
//!                             padded with \255 octets (or L minus a trailing
//!                             \000); nothing existing sorts in between but
//!                             descendants of L'.CE, a name nobody uses
//! successor(C)   = L\000 . CE only C's own descendants sort in between,
//!                             and C does not exist, so neither do they
//! ```
//!
//! Both share exactly `CE` with any name below `C`, which is what a
//! validator takes as the closest encloser when it checks the wildcard
//! (so `next` must not be `\000.C`: that would name `C` as encloser).

use crate::proto::name::MAX_NAME_LEN;
use crate::proto::rtype;

const MAX_LABEL: usize = 63;

/// The type bitmap of RFC 4034 §4.1.2 for `types` (any order, repeats
/// allowed).
pub fn type_bitmap(types: &mut Vec<u16>) -> Vec<u8> {
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&first) = types.get(i) {
        let window = (first >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0usize;
        while let Some(&t) = types.get(i) {
            if (t >> 8) as u8 != window {
                break;
            }
            let low = usize::from(t & 0xff);
            if let Some(b) = bits.get_mut(low / 8) {
                *b |= 0x80 >> (low % 8);
            }
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(bits.get(..used).unwrap_or_default());
    }
    out
}

/// NSEC RDATA: next owner name, then the type bitmap with RRSIG and NSEC
/// (present at every NSEC owner we make) added.
pub fn nsec_rdata(next: &[u8], mut types: Vec<u16>) -> Vec<u8> {
    types.push(rtype::RRSIG);
    types.push(rtype::NSEC);
    let bitmap = type_bitmap(&mut types);
    let mut out = Vec::with_capacity(next.len() + bitmap.len());
    out.extend_from_slice(next);
    out.extend_from_slice(&bitmap);
    out
}

/// `C` (lowercased wire) split into its first label and the rest.
fn split_first(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(*name.first()?);
    if len == 0 {
        return None;
    }
    Some((name.get(1..1 + len)?, name.get(1 + len..)?))
}

fn with_label(label: &[u8], parent: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + label.len() + parent.len());
    out.push(label.len() as u8);
    out.extend_from_slice(label);
    out.extend_from_slice(parent);
    out
}

/// A name just before `name` in canonical order, sharing only its parent;
/// `None` when there is no such name (the label is a lone `\000`), in which
/// case the parent itself is the closest name before.
pub fn predecessor(name: &[u8]) -> Option<Vec<u8>> {
    let (label, parent) = split_first(name)?;
    let mut label = label.to_ascii_lowercase();
    let last = label.pop()?;
    if last == 0 {
        // "x\000" — "x" sorts just before (its descendants excepted).
        if label.is_empty() {
            return None;
        }
        return Some(with_label(&label, parent));
    }
    let mut dec = last - 1;
    // Canonical order compares lowercased; an uppercase octet would sort
    // as its lowercase form, after the original. '@' is the largest octet
    // below 'A' and compares as itself.
    if dec.is_ascii_uppercase() {
        dec = b'@';
    }
    label.push(dec);
    let room = MAX_NAME_LEN.saturating_sub(parent.len() + 1);
    let pad = MAX_LABEL.min(room).saturating_sub(label.len());
    label.extend(std::iter::repeat_n(0xff, pad));
    Some(with_label(&label, parent))
}

/// A name just after `name` and its descendants, sharing only its parent:
/// the first label with `\000` appended. When the label or name is already
/// as long as it can be, the first descendant `\000.name` is used instead
/// (still correct, though a validator then proves the wildcard below
/// `name`).
pub fn successor(name: &[u8]) -> Vec<u8> {
    if let Some((label, parent)) = split_first(name) {
        if label.len() < MAX_LABEL && name.len() < MAX_NAME_LEN {
            let mut label = label.to_ascii_lowercase();
            label.push(0);
            return with_label(&label, parent);
        }
    }
    first_child(name)
}

/// `\000.name`: the first name below `name` in canonical order. When no
/// child fits in 255 octets, the first name after `name` instead (its
/// descendants cannot exist).
pub fn first_child(name: &[u8]) -> Vec<u8> {
    if name.len() + 2 > MAX_NAME_LEN {
        return after_full_name(name);
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    out.extend_from_slice(&[1, 0]);
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out
}

/// The next name after `name` in canonical order, for a name too long to
/// have children: `L\000.parent` if one octet fits, else the first label
/// with its last octet raised (no label of the same parent sorts between:
/// a longer one would not fit). Uppercase octets do not exist in canonical
/// form, so `@` is raised past them. The name itself in the one case left
/// (a full label ending in `\255`): an NSEC proving only that name.
fn after_full_name(name: &[u8]) -> Vec<u8> {
    if let Some((label, parent)) = split_first(name) {
        let mut label = label.to_ascii_lowercase();
        if label.len() < MAX_LABEL && name.len() < MAX_NAME_LEN {
            label.push(0);
            return with_label(&label, parent);
        }
        if let Some(last) = label.last_mut().filter(|b| **b < u8::MAX) {
            *last += 1;
            if last.is_ascii_uppercase() {
                *last = b'Z' + 1;
            }
            return with_label(&label, parent);
        }
    }
    name.to_ascii_lowercase()
}

/// The name `qname` (at or below `encloser + 1 label`) truncated to the
/// label just below `encloser`: the highest name that does not exist.
pub fn child_of_encloser<'q>(qname: &'q [u8], encloser: &[u8]) -> Option<&'q [u8]> {
    let mut pos = 0usize;
    loop {
        let rest = qname.get(pos..)?;
        let len = usize::from(*rest.first()?);
        if len == 0 {
            return None;
        }
        let parent = rest.get(1 + len..)?;
        if parent.eq_ignore_ascii_case(encloser) {
            return Some(rest);
        }
        pos += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    /// A name of `len` octets: labels of 63 `a`s, then one to fill.
    fn long_name(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut left = len - 1;
        while left > 0 {
            let label = (left - 1).min(63);
            out.push(label as u8);
            out.extend(std::iter::repeat_n(b'a', label));
            left -= label + 1;
        }
        out.push(0);
        out
    }

    #[test]
    fn first_child_of_names_too_long_for_children() {
        for len in [253, 254, 255] {
            let name = long_name(len);
            assert_eq!(name.len(), len);
            let next = first_child(&name);
            assert!(next.len() <= MAX_NAME_LEN, "{len}: {}", next.len());
            assert_ne!(next, name, "{len}");
            assert_eq!(
                crate::proto::name::wire_name_len(&next),
                Some(next.len()),
                "{len}"
            );
        }
        // 253 octets still has room for \000: a real child.
        assert_eq!(first_child(&long_name(253))[..2], [1, 0]);
    }

    use super::*;
    use crate::proto::name::Name;
    use std::cmp::Ordering;

    fn n(text: &str) -> Name {
        Name::parse(text, None).unwrap()
    }
    fn w(wire: &[u8]) -> Name {
        Name::from_wire(wire).unwrap()
    }

    #[test]
    fn bitmap_of_rfc4034_example() {
        // A MX RRSIG NSEC TYPE1234 (RFC 4034 §4.3).
        let mut types = vec![1, 15, 46, 47, 1234];
        let bits = type_bitmap(&mut types);
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend([0u8; 26]);
        expected.push(0x20);
        assert_eq!(bits, expected);
    }

    #[test]
    fn neighbours_bracket_the_name_and_only_it() {
        for text in [
            "b.example.",
            "a.example.",
            "[.example.",
            "*.example.",
            "x\\000.example.",
            "WWW.example.",
        ] {
            let name = n(text).to_lowercase();
            let pred = predecessor(name.as_wire()).map(|p| w(&p));
            let succ = w(&successor(name.as_wire()));
            if let Some(pred) = &pred {
                assert_eq!(pred.canonical_cmp(&name), Ordering::Less, "{text}");
                assert_eq!(pred.parent(), name.parent());
            }
            assert_eq!(succ.canonical_cmp(&name), Ordering::Greater, "{text}");
            // Descendants of the name sort before the successor.
            let child = name.prepend_label(b"zzz").unwrap();
            assert_eq!(child.canonical_cmp(&succ), Ordering::Less, "{text}");
            assert_eq!(succ.parent(), name.parent());
        }
        assert!(predecessor(n("\\000.example.").as_wire()).is_none());
    }

    #[test]
    fn child_of_encloser_finds_the_label_below() {
        let q = n("a.b.c.example.");
        let ce = n("c.example.");
        assert_eq!(
            child_of_encloser(q.as_wire(), ce.as_wire()),
            Some(n("b.c.example.").as_wire())
        );
    }
}
