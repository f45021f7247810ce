//! Calendar arithmetic without a date crate: UTC timestamps for status
//! lines and logs, and the RRSIG `YYYYMMDDHHmmSS` form (RFC 4034 §3.2).

use std::time::SystemTime;

/// Seconds since the epoch, now (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

/// The date of a day number (Howard Hinnant's civil-from-days).
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

/// Date and time of day of a count of seconds since the epoch.
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day, h, m, s) = civil(i64::try_from(secs).unwrap_or(0));
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Parses an RRSIG time: `YYYYMMDDHHmmSS` (UTC), or plain seconds since the
/// epoch. Dates past 2106 wrap modulo 2^32 as serial arithmetic requires.
pub fn parse_sig_time(text: &[u8]) -> Option<u32> {
    if !text.iter().all(u8::is_ascii_digit) || text.is_empty() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .unwrap_or_default()
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    if text.len() != 14 {
        // Seconds since the epoch: at most ten digits, within 32 bits.
        return (text.len() <= 10)
            .then(|| u32::try_from(num(0..text.len())).ok())
            .flatten();
    }
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

/// An RRSIG time as `YYYYMMDDHHmmSS`.
pub fn format_sig_time(value: u32) -> String {
    let (year, month, day, h, m, s) = civil(i64::from(value));
    format!("{year:04}{month:02}{day:02}{h:02}{m:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        let at = |s: u64| utc(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn signature_times() {
        assert_eq!(parse_sig_time(b"20240101000000"), Some(1_704_067_200));
        assert_eq!(format_sig_time(1_704_067_200), "20240101000000");
        assert_eq!(parse_sig_time(b"20240230000000"), None);
        assert_eq!(parse_sig_time(b"1704067200"), Some(1_704_067_200));
        assert_eq!(parse_sig_time(b"4294967296"), None);
        assert_eq!(parse_sig_time(b""), None);
    }
}
