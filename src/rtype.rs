//! Record type and class codes the server itself acts on.
//!
//! The zone parser knows many more types by name; these are the ones whose
//! meaning the lookup, additional-section and compression logic depend on.

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
pub const NSEC3: u16 = 50;
pub const SVCB: u16 = 64;
pub const HTTPS: u16 = 65;
/// Signpost's ALIAS (private-use code, see zonefile::types).
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
