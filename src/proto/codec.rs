//! Binary-to-text encodings of the presentation form: base64 (RFC 4648
//! §4: DNSKEY, RRSIG, TSIG secrets), base32hex without padding (NSEC3, RFC
//! 5155) and hex.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

fn b64_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes base64 (padding required where RFC 4648 puts it) and appends it.
pub fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if text.len() % 4 != 0 {
        return Err("base64 text length is not a multiple of 4");
    }
    let mut chunks = text.chunks_exact(4).peekable();
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err("misplaced \"=\" padding in base64");
        }
        let mut acc = 0u32;
        for &c in chunk.iter().take(4 - pad) {
            acc = (acc << 6) | b64_value(c).ok_or("bad base64 character")?;
        }
        acc <<= 6 * pad as u32;
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(bytes.get(1..4 - pad).unwrap_or_default());
    }
    Ok(())
}

pub fn base64_encode(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let mut buf = [0u8; 3];
        for (slot, &b) in buf.iter_mut().zip(chunk) {
            *slot = b;
        }
        let [a, b, c] = buf;
        let acc = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((acc >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(B64.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes hex digits (an even number of them) and appends the bytes.
pub fn hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if text.len() % 2 != 0 {
        return Err("odd number of hex digits");
    }
    for pair in text.chunks_exact(2) {
        let [hi, lo] = [pair.first(), pair.get(1)]
            .map(|c| c.copied().and_then(hex_value).ok_or("bad hex digit"));
        let (hi, lo) = (hi?, lo?);
        out.push((hi << 4) | lo);
    }
    Ok(())
}

pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub fn hex_encode(data: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in data {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
}

/// Decodes unpadded base32hex (either case) and appends the bytes.
pub fn base32hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &c in text {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'v' => c - b'a' + 10,
            b'A'..=b'V' => c - b'A' + 10,
            _ => return Err("bad base32hex character"),
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding, and a whole 5-bit group of
    // leftovers means the length was impossible.
    if acc != 0 || bits >= 5 {
        return Err("base32hex text has trailing bits");
    }
    Ok(())
}

fn b32hex_digit(value: u32) -> char {
    char::from(B32HEX.get((value & 31) as usize).copied().unwrap_or(b'0'))
}

pub fn base32hex_encode(data: &[u8], out: &mut String) {
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(b32hex_digit(acc >> bits));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(b32hex_digit(acc << (5 - bits)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let mut text = String::new();
            base64_encode(data, &mut text);
            let mut back = Vec::new();
            base64_decode(text.as_bytes(), &mut back).unwrap();
            assert_eq!(back, data);
        }
        let mut out = Vec::new();
        assert!(base64_decode(b"Zg=a", &mut out).is_err());
        assert!(base64_decode(b"Zg", &mut out).is_err());
    }

    #[test]
    fn base32_round_trip() {
        let data: Vec<u8> = (0u8..20).map(|i| i.wrapping_mul(37)).collect();
        let mut text = String::new();
        base32hex_encode(&data, &mut text);
        assert_eq!(text.len(), 32);
        let mut back = Vec::new();
        base32hex_decode(text.as_bytes(), &mut back).unwrap();
        assert_eq!(back, data);
    }
}
