//! Binary-to-text encodings used in RDATA presentation form: base64
//! (RFC 4648 §4), base32hex without padding (NSEC3, RFC 5155), hex, and the
//! DNSSEC `YYYYMMDDHHmmSS` timestamps (RFC 4034 §3.2).

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
pub(crate) fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
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

pub(crate) fn base64_encode(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let mut buf = [0u8; 3];
        for (slot, &b) in buf.iter_mut().zip(chunk) {
            *slot = b;
        }
        let acc = (u32::from(buf[0]) << 16) | (u32::from(buf[1]) << 8) | u32::from(buf[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((acc >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(B64[index]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes hex digits (an even number of them) and appends the bytes.
pub(crate) fn hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if text.len() % 2 != 0 {
        return Err("odd number of hex digits");
    }
    for pair in text.chunks_exact(2) {
        let hi = hex_value(pair[0]).ok_or("bad hex digit")?;
        let lo = hex_value(pair[1]).ok_or("bad hex digit")?;
        out.push((hi << 4) | lo);
    }
    Ok(())
}

pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn hex_encode(data: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in data {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// Decodes unpadded base32hex (either case) and appends the bytes.
pub(crate) fn base32hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
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

pub(crate) fn base32hex_encode(data: &[u8], out: &mut String) {
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32HEX[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(B32HEX[((acc << (5 - bits)) & 31) as usize]));
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an RRSIG time: `YYYYMMDDHHmmSS` (UTC), or plain seconds since the
/// epoch. Dates past 2106 wrap modulo 2^32 as serial arithmetic requires.
pub(crate) fn parse_sig_time(text: &[u8]) -> Option<u32> {
    if text.len() != 14 {
        return super::types::parse_decimal(text).and_then(|v| u32::try_from(v).ok());
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .unwrap_or_default()
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, min, sec) = (num(8..10), num(10..12), num(12..14));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day < 1 || day > month_len || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    Some((secs.rem_euclid(1 << 32)) as u32)
}

pub(crate) fn format_sig_time(value: u32) -> String {
    let secs = i64::from(value);
    let (year, month, day) = civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

    #[test]
    fn times() {
        assert_eq!(parse_sig_time(b"20240101000000"), Some(1_704_067_200));
        assert_eq!(format_sig_time(1_704_067_200), "20240101000000");
        assert_eq!(parse_sig_time(b"20240230000000"), None);
        assert_eq!(parse_sig_time(b"1704067200"), Some(1_704_067_200));
    }
}
