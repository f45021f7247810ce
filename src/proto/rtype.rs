//! Record types and classes: the codes the server itself acts on, and the
//! mnemonic of every type (IANA "Resource Record (RR) TYPEs").

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const MB: u16 = 7;
pub const MG: u16 = 8;
pub const MR: u16 = 9;
pub const PTR: u16 = 12;
pub const MINFO: u16 = 14;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const DS: u16 = 43;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
pub const DNSKEY: u16 = 48;
pub const SVCB: u16 = 64;
pub const HTTPS: u16 = 65;
/// Signpost's ALIAS, from the private-use range (RFC 6895 §3.1).
pub const ALIAS: u16 = 65401;
pub const TKEY: u16 = 249;
pub const TSIG: u16 = 250;
pub const IXFR: u16 = 251;
pub const AXFR: u16 = 252;
pub const MAILB: u16 = 253;
pub const MAILA: u16 = 254;
pub const ANY: u16 = 255;

pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

/// Where the names inside an RDATA of this type sit, for name compression in
/// answers. Only the RFC 1035 types may be compressed (RFC 3597 §4); all
/// others are copied as they are.
pub enum RdataNames {
    /// No compressible name.
    None,
    /// One name starting at this byte offset, then opaque bytes.
    One(usize),
    /// Two names back to back from offset 0, then opaque bytes (SOA, MINFO).
    Two,
}

pub fn compressible_names(rtype: u16) -> RdataNames {
    match rtype {
        NS | CNAME | PTR | MB | MG | MR | 3 | 4 => RdataNames::One(0),
        MX => RdataNames::One(2),
        SOA | MINFO => RdataNames::Two,
        _ => RdataNames::None,
    }
}

/// Every type known by name.
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
pub fn from_str(text: &str) -> Option<u16> {
    from_bytes(text.as_bytes())
}

pub fn from_bytes(text: &[u8]) -> Option<u16> {
    if let Some(&(code, _)) = TYPES
        .iter()
        .find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(text))
    {
        return Some(code);
    }
    let digits = text
        .get(..4)
        .filter(|head| head.eq_ignore_ascii_case(b"TYPE"))
        .and(text.get(4..))?;
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    u16::try_from(value).ok()
}

/// One bit per type code: set for the types with a mnemonic.
// Evaluated at compile time: an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
static KNOWN: [u64; 1024] = {
    let mut bits = [0u64; 1024];
    let mut i = 0;
    while i < TYPES.len() {
        let code = TYPES[i].0 as usize;
        bits[code / 64] |= 1 << (code % 64);
        i += 1;
    }
    bits
};

/// Whether `code` has a mnemonic; constant time, for the query path.
pub fn is_known(code: u16) -> bool {
    let code = usize::from(code);
    KNOWN.get(code / 64).is_some_and(|word| word & (1 << (code % 64)) != 0)
}

/// The mnemonic of a type, or `TYPEnnn` for one without a name.
pub fn name(code: u16) -> String {
    match TYPES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => (*name).to_string(),
        None => format!("TYPE{code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics() {
        assert_eq!(from_str("aaaa"), Some(28));
        assert_eq!(from_str("Type65534"), Some(65534));
        assert_eq!(from_str("TYPE65536"), None);
        assert_eq!(from_str("TYPE"), None);
        assert_eq!(from_str("AA"), None);
        assert_eq!(name(65), "HTTPS");
        assert_eq!(name(65280), "TYPE65280");
        for &(code, mnemonic) in TYPES {
            assert_eq!(from_str(mnemonic), Some(code));
            assert_eq!(name(code), mnemonic);
            assert!(is_known(code));
        }
        assert!(!is_known(65280) && !is_known(0) && is_known(65401));
    }
}
