//! Making one RRSIG (RFC 4034 §3, signature input of §3.1.8.1): canonical
//! owner and RDATA (§6.2), records in canonical order (§6.3), the labels
//! field for wildcard owners, and the original TTL.

use std::borrow::Cow;

use super::keys::SigningKey;
use crate::proto::name::wire_name_len;
use crate::proto::rtype;
use crate::proto::Rrset;

/// The times a signature is valid for, in seconds since the epoch (RRSIG
/// uses serial-number arithmetic on 32 bits, RFC 4034 §3.1.5).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub inception: u32,
    pub expiration: u32,
}

/// Labels in an owner name for the RRSIG labels field: root not counted,
/// and a leading `*` not counted (RFC 4034 §3.1.3).
pub fn rrsig_labels(owner: &[u8]) -> u8 {
    let mut count = 0u8;
    let mut pos = 0usize;
    while let Some(&len) = owner.get(pos) {
        if len == 0 {
            break;
        }
        count = count.saturating_add(1);
        pos += usize::from(len) + 1;
    }
    if owner.get(..2) == Some(&[1, b'*']) {
        count = count.saturating_sub(1);
    }
    count
}

/// Signs `rrset` owned by `owner` (lowercased wire; for a wildcard
/// expansion, the wildcard `*.…` itself). Returns the RRSIG RDATA, or
/// `None` if the record data is malformed or signing failed.
pub fn rrsig_rdata(
    key: &SigningKey,
    signer: &[u8],
    owner: &[u8],
    rrset: &Rrset,
    validity: Validity,
) -> Option<Vec<u8>> {
    let mut rdata = Vec::with_capacity(18 + signer.len() + 64);
    rdata.extend_from_slice(&rrset.rtype.to_be_bytes());
    rdata.push(key.algorithm.number());
    rdata.push(rrsig_labels(owner));
    rdata.extend_from_slice(&rrset.ttl.to_be_bytes());
    rdata.extend_from_slice(&validity.expiration.to_be_bytes());
    rdata.extend_from_slice(&validity.inception.to_be_bytes());
    rdata.extend_from_slice(&key.key_tag.to_be_bytes());
    rdata.extend_from_slice(signer);

    let mut records: Vec<Cow<'_, [u8]>> = rrset
        .rdatas()
        .map(|r| canonical_rdata(rrset.rtype, r))
        .collect();
    // RFC 4034 §6.3: sorted as left-justified octet strings, no duplicates.
    records.sort();
    records.dedup();

    let mut data = Vec::with_capacity(rdata.len() + records.len() * (owner.len() + 40));
    data.extend_from_slice(&rdata);
    for record in &records {
        data.extend_from_slice(owner);
        data.extend_from_slice(&rrset.rtype.to_be_bytes());
        data.extend_from_slice(&rtype::CLASS_IN.to_be_bytes());
        data.extend_from_slice(&rrset.ttl.to_be_bytes());
        let len = u16::try_from(record.len()).ok()?;
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(record);
    }
    let signature = key.sign(&data)?;
    rdata.extend_from_slice(&signature);
    Some(rdata)
}

/// Where the domain names sit in RDATA of the types whose names are
/// lowercased for signing (RFC 4034 §6.2 as amended by RFC 6840 §5.1,
/// which removed NSEC): octets before the first name, and how many
/// names follow one another.
fn names_in(rtype: u16) -> Option<(usize, usize)> {
    match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME: the RDATA is a name.
        rtype::NS
        | 3
        | 4
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR
        | rtype::DNAME => Some((0, 1)),
        // SOA (MNAME, RNAME), MINFO, RP: two names.
        rtype::SOA | rtype::MINFO | 17 => Some((0, 2)),
        // MX, AFSDB, RT, KX: a 16-bit preference, then a name.
        rtype::MX | 18 | 21 | 36 => Some((2, 1)),
        // PX: preference, then two names.
        26 => Some((2, 2)),
        // SRV: priority, weight, port, then the target.
        rtype::SRV => Some((6, 1)),
        _ => None,
    }
}

/// RDATA in canonical form: names of the listed types lowercased (label
/// octets only, never length octets).
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> Cow<'_, [u8]> {
    let Some((mut pos, count)) = names_in(rtype) else {
        return Cow::Borrowed(rdata);
    };
    if !rdata.iter().any(u8::is_ascii_uppercase) {
        return Cow::Borrowed(rdata);
    }
    let mut out = rdata.to_vec();
    for _ in 0..count {
        let Some(rest) = out.get(pos..) else { break };
        let Some(len) = wire_name_len(rest) else {
            break;
        };
        lowercase_labels(out.get_mut(pos..pos + len).unwrap_or_default());
        pos += len;
    }
    Cow::Owned(out)
}

/// Lowercases the label octets of an uncompressed wire name in place.
pub fn lowercase_labels(name: &mut [u8]) {
    let mut pos = 0usize;
    while let Some(&len) = name.get(pos) {
        if len == 0 || len > 63 {
            break;
        }
        let end = pos + 1 + usize::from(len);
        if let Some(label) = name.get_mut(pos + 1..end) {
            label.make_ascii_lowercase();
        }
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_skip_root_and_wildcard() {
        assert_eq!(rrsig_labels(b"\x03www\x07example\x03com\x00"), 3);
        assert_eq!(rrsig_labels(b"\x01*\x07example\x03com\x00"), 2);
        assert_eq!(rrsig_labels(b"\x00"), 0);
    }

    #[test]
    fn canonical_rdata_lowers_names_not_lengths() {
        // A label of length 65 would be 'A'; MX preference 0x4142 is "AB".
        let mx = b"\x41\x42\x02Mx\x07Example\x00";
        assert_eq!(
            &*canonical_rdata(rtype::MX, mx),
            b"\x41\x42\x02mx\x07example\x00"
        );
        assert_eq!(&*canonical_rdata(rtype::TXT, b"\x02AB"), b"\x02AB");
    }
}
