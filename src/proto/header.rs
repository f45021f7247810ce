//! The message header (RFC 1035 §4.1.1): its size, flag bits and opcodes.

/// Bytes before the question section.
pub const HEADER_LEN: usize = 12;

/// Header flag bits.
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_CD: u16 = 0x0010;
/// The opcode field's bits.
pub const OPCODE_MASK: u16 = 0x7800;

/// Whether a whole message (header first) has TC set.
pub fn is_truncated(message: &[u8]) -> bool {
    message
        .get(2..4)
        .and_then(|flags| <[u8; 2]>::try_from(flags).ok())
        .is_some_and(|flags| u16::from_be_bytes(flags) & FLAG_TC != 0)
}

/// The opcode of a standard query.
pub const OPCODE_QUERY: u8 = 0;
