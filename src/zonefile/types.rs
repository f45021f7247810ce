//! Record type mnemonics and codes (IANA "Resource Record (RR) TYPEs"), and
//! the DNSSEC algorithm and CERT type mnemonics that RDATA fields accept.

/// Every type the zone parser knows by name.
const TYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (40, "SINK"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
    (258, "AVC"),
    (260, "AMTRELAY"),
    (261, "RESINFO"),
    (262, "WALLET"),
    (32768, "TA"),
    (32769, "DLV"),
    // Signpost's apex-capable alias (SPEC §3), from the private-use range
    // (RFC 6895 §3.1); its RDATA is one target name.
    (65401, "ALIAS"),
];

/// Parses a type mnemonic (any case) or `TYPEnnn` (RFC 3597 §5).
pub fn rtype_from_str(text: &str) -> Option<u16> {
    rtype_from_bytes(text.as_bytes())
}

pub(crate) fn rtype_from_bytes(text: &[u8]) -> Option<u16> {
    if let Some(&(code, _)) = TYPES
        .iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(text))
    {
        return Some(code);
    }
    let digits = strip_prefix_ignore_case(text, b"TYPE")?;
    parse_decimal(digits).and_then(|v| u16::try_from(v).ok())
}

/// The mnemonic of a type, or `TYPEnnn` for one without a name.
pub fn rtype_name(code: u16) -> String {
    match TYPES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => (*name).to_string(),
        None => format!("TYPE{code}"),
    }
}

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
    fn mnemonics() {
        assert_eq!(rtype_from_str("aaaa"), Some(28));
        assert_eq!(rtype_from_str("Type65534"), Some(65534));
        assert_eq!(rtype_from_str("TYPE65536"), None);
        assert_eq!(rtype_from_str("TYPE"), None);
        assert_eq!(rtype_from_str("AA"), None);
        assert_eq!(rtype_name(65), "HTTPS");
        assert_eq!(rtype_name(65280), "TYPE65280");
        for &(code, name) in TYPES {
            assert_eq!(rtype_from_str(name), Some(code));
            assert_eq!(rtype_name(code), name);
        }
    }

    #[test]
    fn classes() {
        assert!(matches!(class_from_bytes(b"in"), Some(Class::In)));
        assert!(matches!(class_from_bytes(b"CLASS1"), Some(Class::In)));
        assert!(matches!(class_from_bytes(b"CH"), Some(Class::Other(_))));
        assert!(class_from_bytes(b"A").is_none());
    }
}
