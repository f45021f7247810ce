//! The mnemonics RDATA fields and entries accept beyond type names (which
//! live in `proto::rtype`): classes, DNSSEC algorithms and CERT types.

/// Types that may not appear in a zone file (meta and query types).
pub(crate) fn is_meta_type(code: u16) -> bool {
    code == 0 || code == 41 || (128..=255).contains(&code)
}

/// What a class token means to us.
pub(crate) enum Class {
    In,
    Other(String),
}

/// Recognises a class token (`IN`, `CH`, `HS`, `CS`, `NONE`, `ANY`,
/// `CLASSnnn`); `None` when the token is not a class at all.
pub(crate) fn class_from_bytes(text: &[u8]) -> Option<Class> {
    const NAMED: &[(u16, &str)] = &[
        (1, "IN"),
        (2, "CS"),
        (3, "CH"),
        (4, "HS"),
        (254, "NONE"),
        (255, "ANY"),
    ];
    let code = match NAMED
        .iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(text))
    {
        Some(&(code, _)) => code,
        None => {
            let digits = strip_prefix_ignore_case(text, b"CLASS")?;
            u16::try_from(parse_decimal(digits)?).ok()?
        }
    };
    if code == 1 {
        Some(Class::In)
    } else {
        Some(Class::Other(
            String::from_utf8_lossy(text).to_ascii_uppercase(),
        ))
    }
}

/// DNSSEC algorithm mnemonics (RFC 4034 Appendix A.1 and successors).
pub(crate) fn algorithm_from_bytes(text: &[u8]) -> Option<u8> {
    const ALGS: &[(u8, &str)] = &[
        (1, "RSAMD5"),
        (2, "DH"),
        (3, "DSA"),
        (5, "RSASHA1"),
        (6, "NSEC3DSA"),
        (6, "DSA-NSEC3-SHA1"),
        (7, "NSEC3RSASHA1"),
        (7, "RSASHA1-NSEC3-SHA1"),
        (8, "RSASHA256"),
        (10, "RSASHA512"),
        (12, "ECCGOST"),
        (13, "ECDSAP256SHA256"),
        (14, "ECDSAP384SHA384"),
        (15, "ED25519"),
        (16, "ED448"),
        (252, "INDIRECT"),
        (253, "PRIVATEDNS"),
        (254, "PRIVATEOID"),
    ];
    ALGS.iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(text))
        .map(|&(code, _)| code)
}

/// CERT type mnemonics (RFC 4398 §2.1).
pub(crate) fn cert_type_from_bytes(text: &[u8]) -> Option<u16> {
    const CERTS: &[(u16, &str)] = &[
        (1, "PKIX"),
        (2, "SPKI"),
        (3, "PGP"),
        (4, "IPKIX"),
        (5, "ISPKI"),
        (6, "IPGP"),
        (7, "ACPKIX"),
        (8, "IACPKIX"),
        (253, "URI"),
        (254, "OID"),
    ];
    CERTS
        .iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(text))
        .map(|&(code, _)| code)
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// A plain unsigned decimal (no sign, no units), at most 10 digits.
pub(crate) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 10 {
        return None;
    }
    let mut value = 0u64;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(matches!(class_from_bytes(b"in"), Some(Class::In)));
        assert!(matches!(class_from_bytes(b"CLASS1"), Some(Class::In)));
        assert!(matches!(class_from_bytes(b"CH"), Some(Class::Other(_))));
        assert!(class_from_bytes(b"A").is_none());
    }
}
