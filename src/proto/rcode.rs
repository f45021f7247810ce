//! Response codes (RFC 1035 §4.1.1, RFC 2136, RFC 6672, RFC 8945) and their
//! mnemonics.

pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;
/// The name a DNAME substitution makes is too long (RFC 6672 §2.2).
pub const YXDOMAIN: u8 = 6;
/// A TSIG check failed (RFC 8945 §5.2).
pub const NOTAUTH: u8 = 9;

/// The extended response code for an unsupported EDNS version (RFC 6891
/// §6.1.3): 16, more than the header's four bits hold.
pub const BADVERS: u16 = 16;

/// The mnemonic of a full (extended) response code.
pub fn name_extended(code: u16) -> String {
    match u8::try_from(code) {
        Ok(code) if code < 16 => name(code),
        _ if code == BADVERS => "BADVERS".into(),
        _ => format!("RCODE{code}"),
    }
}

/// The mnemonic of a response code, as `dig` prints it.
pub fn name(rcode: u8) -> String {
    match rcode {
        NOERROR => "NOERROR".into(),
        FORMERR => "FORMERR".into(),
        SERVFAIL => "SERVFAIL".into(),
        NXDOMAIN => "NXDOMAIN".into(),
        NOTIMP => "NOTIMP".into(),
        REFUSED => "REFUSED".into(),
        YXDOMAIN => "YXDOMAIN".into(),
        NOTAUTH => "NOTAUTH".into(),
        other => format!("RCODE{other}"),
    }
}
