//! TSIG (RFC 8945): the configured keys, checking a signed request, and
//! signing its response.
//!
//! ```text
//! request::parse ── finds the TSIG RR (last, class ANY, TTL 0) ──► TsigRr
//! verify(keys, packet, TsigRr, now)
//!   1. key known, algorithm matches?    no ─► UnsignedError(BADKEY)
//!   2. MAC length allowed (§5.2.2.1)?   no ─► Malformed (FORMERR)
//!   3. MAC verifies?                    no ─► UnsignedError(BADSIG)
//!   4. time within fudge?               no ─► SignedError(BADTIME)
//!   5. MAC full length (our policy)?    no ─► SignedError(BADTRUNC)
//!                                           └► Valid(ReplySigner)
//! query::respond answers (views may match on ReplySigner::key_name), then
//! ReplySigner::sign appends the response's TSIG RR.
//! ```
//!
//! Secrets never leave this module: `Debug` shows key names and algorithms
//! only, and no error message quotes a secret.

use std::fmt;

use ring::hmac;

use crate::proto::{read_name, rtype, time, LowerName, Name};

/// Where a request's TSIG record is (RFC 8945 §4.2), found by the query
/// parser and already known to be the last record, of class ANY and with
/// TTL 0. Offsets are into the packet: the MAC covers everything before
/// `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TsigRr {
    /// Where the owner name (the key name) begins.
    pub(crate) start: usize,
    /// Where the RDATA begins; it runs to the end of the packet.
    pub(crate) rdata_start: usize,
}

/// TSIG error codes (RFC 8945 §3).
pub(crate) const BADSIG: u16 = 16;
pub(crate) const BADKEY: u16 = 17;
pub(crate) const BADTIME: u16 = 18;
pub(crate) const BADTRUNC: u16 = 22;

/// The fudge we put in responses: the usual five minutes.
pub(crate) const FUDGE: u16 = 300;

/// Longest MAC of any algorithm we support (HMAC-SHA512).
const MAX_MAC_LEN: usize = 64;

/// The HMAC algorithms `ring` provides. HMAC-MD5 and HMAC-SHA224 are left
/// out: `ring` has neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// The config spellings, default first.
    pub(crate) const NAMES: [&'static str; 4] = ["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1"];

    /// From its name in the config (`hmac-sha256`), any case, an optional
    /// trailing dot.
    pub(crate) fn from_name(text: &str) -> Option<Self> {
        let text = text.strip_suffix('.').unwrap_or(text);
        [
            Self::HmacSha256,
            Self::HmacSha384,
            Self::HmacSha512,
            Self::HmacSha1,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(text))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm name in canonical wire form (RFC 8945 §6).
    pub(crate) fn wire(self) -> &'static [u8] {
        match self {
            Self::HmacSha1 => b"\x09hmac-sha1\x00",
            Self::HmacSha256 => b"\x0bhmac-sha256\x00",
            Self::HmacSha384 => b"\x0bhmac-sha384\x00",
            Self::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Self::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::HmacSha256 => hmac::HMAC_SHA256,
            Self::HmacSha384 => hmac::HMAC_SHA384,
            Self::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// Length of the full MAC.
    pub(crate) fn mac_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    /// Shortest MAC a message may carry: the larger of 10 octets and half
    /// the hash (RFC 8945 §5.2.2.1, rule 3).
    fn min_mac_len(self) -> usize {
        (self.mac_len() / 2).max(10)
    }
}

/// One shared secret.
#[derive(Clone)]
pub(crate) struct Key {
    /// Lowercased wire form.
    name: Box<[u8]>,
    algorithm: Algorithm,
    hmac: hmac::Key,
    /// Kept only so that two configs can be compared.
    secret: Box<[u8]>,
}

impl Key {
    /// `name` is the key's wire form (any case).
    pub(crate) fn new(name: &[u8], algorithm: Algorithm, secret: &[u8]) -> Self {
        Self {
            name: crate::proto::name::lowercase_wire(name).into(),
            algorithm,
            hmac: hmac::Key::new(algorithm.ring(), secret),
            secret: secret.into(),
        }
    }

    /// The lowercased wire form of the key's name.
    pub(crate) fn name(&self) -> &[u8] {
        &self.name
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.algorithm == other.algorithm && self.secret == other.secret
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &display_name(&self.name))
            .field("algorithm", &self.algorithm.name())
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// Every configured key, found by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    pub(crate) fn new(keys: Vec<Key>) -> Self {
        Self { keys }
    }

    /// The key named by the lowercased wire name `name`. A handful of keys
    /// is the usual case: a scan beats hashing.
    pub(crate) fn get(&self, name: &[u8]) -> Option<&Key> {
        self.keys.iter().find(|k| *k.name == *name)
    }
}

/// A key name or algorithm for messages, from wire form.
fn display_name(wire: &[u8]) -> String {
    Name::from_wire(wire).map_or_else(|| format!("{wire:?}"), |n| n.to_string())
}

/// The TSIG RDATA fields of a request (RFC 8945 §4.2).
struct Fields<'a> {
    key_name: LowerName,
    algorithm: LowerName,
    time_signed: u64,
    fudge: u16,
    mac: &'a [u8],
    /// Original ID, error, other length and other data, as sent.
    tail: &'a [u8],
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be48(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 6)?;
    Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Decodes the TSIG record; `None` when it cannot be interpreted, which is
/// FORMERR (RFC 8945 §5.2).
fn parse_fields<'a>(packet: &'a [u8], rr: &TsigRr) -> Option<Fields<'a>> {
    let (key_name, _) = read_name(packet, rr.start)?;
    let (algorithm, at) = read_name(packet, rr.rdata_start)?;
    let time_signed = be48(packet, at)?;
    let fudge = be16(packet, at + 6)?;
    let mac_len = usize::from(be16(packet, at + 8)?);
    let mac = packet.get(at + 10..at + 10 + mac_len)?;
    let at = at + 10 + mac_len;
    let other_len = usize::from(be16(packet, at + 4)?);
    if at + 6 + other_len != packet.len() {
        return None;
    }
    Some(Fields {
        key_name,
        algorithm,
        time_signed,
        fudge,
        mac,
        tail: packet.get(at..)?,
    })
}

/// What to do with a signed request.
#[derive(Debug)]
pub(crate) enum Verdict<'k> {
    /// Answer it, and sign the answer.
    Valid(ReplySigner<'k>),
    /// Authentic, but stale or truncated past our policy: NOTAUTH, signed
    /// (RFC 8945 §5.2.3, §5.2.4).
    SignedError(ReplySigner<'k>),
    /// Unknown key or a MAC that does not verify: NOTAUTH with an unsigned
    /// TSIG (RFC 8945 §5.3.2).
    UnsignedError(Box<Unsigned>),
    /// The TSIG record cannot be interpreted, or its MAC length is not
    /// allowed: FORMERR.
    Malformed,
}

/// Checks a request's TSIG record, in the order RFC 8945 §5.2 lays down:
/// key, MAC, time, truncation. `now` is seconds since the epoch.
pub(crate) fn verify<'k>(keys: &'k Keyring, packet: &[u8], rr: &TsigRr, now: u64) -> Verdict<'k> {
    let Some(fields) = parse_fields(packet, rr) else {
        return Verdict::Malformed;
    };
    let unsigned = |error| {
        Verdict::UnsignedError(Box::new(Unsigned {
            key_name: fields.key_name.clone(),
            algorithm: fields.algorithm.clone(),
            error,
        }))
    };
    let key = match keys.get(fields.key_name.as_wire()) {
        Some(key) if key.algorithm.wire() == fields.algorithm.as_wire() => key,
        _ => return unsigned(BADKEY),
    };
    let algorithm = key.algorithm;
    let mac_len = fields.mac.len();
    if mac_len > algorithm.mac_len() || mac_len < algorithm.min_mac_len() {
        return Verdict::Malformed;
    }
    if !request_mac_matches(key, packet, rr, &fields) {
        return unsigned(BADSIG);
    }
    let mut request_mac = [0u8; MAX_MAC_LEN];
    if let Some(slot) = request_mac.get_mut(..mac_len) {
        slot.copy_from_slice(fields.mac);
    }
    let mut signer = ReplySigner {
        key,
        request_mac,
        request_mac_len: mac_len,
        error: 0,
        badtime: None,
    };
    if now.abs_diff(fields.time_signed) > u64::from(fields.fudge) {
        signer.error = BADTIME;
        signer.badtime = Some(fields.time_signed);
        return Verdict::SignedError(signer);
    }
    // Our policy takes full-length MACs only, as BIND does for a key not
    // configured for truncation; a shorter one that verified gets BADTRUNC.
    if mac_len < algorithm.mac_len() {
        signer.error = BADTRUNC;
        return Verdict::SignedError(signer);
    }
    Verdict::Valid(signer)
}

/// RFC 8945 §4.3.3: the request without its TSIG RR (ARCOUNT one less, the
/// ID the signer used), then the TSIG variables. The original ID and the
/// error come straight from the packet; the names are taken canonical.
fn request_mac_matches(key: &Key, packet: &[u8], rr: &TsigRr, fields: &Fields<'_>) -> bool {
    let (Some(body), Some(header)) = (packet.get(12..rr.start), packet.get(..12)) else {
        return false;
    };
    let (Some(original_id), Some(tail)) = (fields.tail.get(..2), fields.tail.get(2..)) else {
        return false;
    };
    let arcount = be16(packet, 10).unwrap_or(0).wrapping_sub(1);
    let mut data = Vec::with_capacity(rr.start + 2 * MAX_NAME_WIRE + 16 + tail.len());
    data.extend_from_slice(original_id);
    data.extend_from_slice(header.get(2..10).unwrap_or_default());
    data.extend_from_slice(&arcount.to_be_bytes());
    data.extend_from_slice(body);
    data.extend_from_slice(fields.key_name.as_wire());
    data.extend_from_slice(&rtype::CLASS_ANY.to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 0]);
    data.extend_from_slice(fields.algorithm.as_wire());
    data.extend_from_slice(&time48(fields.time_signed));
    data.extend_from_slice(&fields.fudge.to_be_bytes());
    data.extend_from_slice(tail);
    if fields.mac.len() == key.algorithm.mac_len() {
        hmac::verify(&key.hmac, &data, fields.mac).is_ok()
    } else {
        // A truncated MAC is compared with the same prefix of ours
        // (RFC 8945 §5.2.2.1, rule 4), still in constant time.
        let full = hmac::sign(&key.hmac, &data);
        let ours = full.as_ref().get(..fields.mac.len()).unwrap_or_default();
        constant_time_eq(ours, fields.mac)
    }
}

const MAX_NAME_WIRE: usize = crate::proto::name::MAX_NAME_LEN;

/// Compares without an early exit, so the time taken says nothing about
/// where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn time48(secs: u64) -> [u8; 6] {
    let b = secs.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Seconds since the epoch, for Time Signed.
pub(crate) fn now() -> u64 {
    time::unix_now()
}

/// Signs the response to a request whose MAC verified.
#[derive(Debug)]
pub(crate) struct ReplySigner<'k> {
    key: &'k Key,
    request_mac: [u8; MAX_MAC_LEN],
    request_mac_len: usize,
    /// 0, BADTIME or BADTRUNC.
    error: u16,
    /// For BADTIME: the request's Time Signed, echoed, while our own
    /// clock goes in Other Data so the client can see the skew.
    badtime: Option<u64>,
}

impl ReplySigner<'_> {
    /// The verified key's lowercased wire name; views match on it.
    pub(crate) fn key_name(&self) -> &[u8] {
        self.key.name()
    }

    pub(crate) fn error(&self) -> u16 {
        self.error
    }

    /// Bytes the TSIG RR will add: the UDP size limit keeps room for it,
    /// so even a truncated (TC) response is signed.
    pub(crate) fn reserve(&self) -> usize {
        let other = if self.badtime.is_some() { 6 } else { 0 };
        self.key.name.len()
            + 10
            + self.key.algorithm.wire().len()
            + 16
            + self.key.algorithm.mac_len()
            + other
    }

    /// Appends the TSIG RR to the finished response in `out` and counts it
    /// in ARCOUNT. The MAC covers the request MAC, the response as it
    /// stands, and the TSIG variables (RFC 8945 §4.3.1, §4.3.3).
    pub(crate) fn sign(&self, out: &mut Vec<u8>, now: u64) {
        let (time_signed, other) = match self.badtime {
            Some(request_time) => (request_time, Some(time48(now))),
            None => (now, None),
        };
        let other = other.as_ref().map_or(&[][..], |o| o.as_slice());
        let request_mac = self
            .request_mac
            .get(..self.request_mac_len)
            .unwrap_or_default();
        let mac = response_mac(
            self.key,
            request_mac,
            out,
            &Variables {
                time_signed,
                fudge: FUDGE,
                error: self.error,
                other,
            },
        );
        let original_id = be16(out, 0).unwrap_or(0);
        append_rr(
            out,
            &self.key.name,
            self.key.algorithm.wire(),
            &Variables {
                time_signed,
                fudge: FUDGE,
                error: self.error,
                other,
            },
            mac.as_ref(),
            original_id,
        );
    }
}

/// The TSIG fields that go into the MAC after the names.
struct Variables<'a> {
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &'a [u8],
}

/// The MAC of a response: request MAC (length first), the response message
/// without its TSIG RR, then the TSIG variables.
fn response_mac(key: &Key, request_mac: &[u8], message: &[u8], vars: &Variables<'_>) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(&key.hmac);
    let mac_len = u16::try_from(request_mac.len()).unwrap_or(0);
    ctx.update(&mac_len.to_be_bytes());
    ctx.update(request_mac);
    ctx.update(message);
    ctx.update(&key.name);
    ctx.update(&rtype::CLASS_ANY.to_be_bytes());
    ctx.update(&[0, 0, 0, 0]);
    ctx.update(key.algorithm.wire());
    ctx.update(&time48(vars.time_signed));
    ctx.update(&vars.fudge.to_be_bytes());
    ctx.update(&vars.error.to_be_bytes());
    let other_len = u16::try_from(vars.other.len()).unwrap_or(0);
    ctx.update(&other_len.to_be_bytes());
    ctx.update(vars.other);
    ctx.sign()
}

/// The TSIG RR of an error response that must not be signed: unknown key
/// (BADKEY) or a MAC that did not verify (BADSIG). Names as the request
/// had them (lowercased), MAC empty.
#[derive(Debug)]
pub(crate) struct Unsigned {
    key_name: LowerName,
    algorithm: LowerName,
    error: u16,
}

impl Unsigned {
    pub(crate) fn error(&self) -> u16 {
        self.error
    }

    /// The key name the request named, for logs.
    pub(crate) fn key_name(&self) -> String {
        display_name(self.key_name.as_wire())
    }

    pub(crate) fn append(&self, out: &mut Vec<u8>, now: u64) {
        let original_id = be16(out, 0).unwrap_or(0);
        append_rr(
            out,
            self.key_name.as_wire(),
            self.algorithm.as_wire(),
            &Variables {
                time_signed: now,
                fudge: FUDGE,
                error: self.error,
                other: &[],
            },
            &[],
            original_id,
        );
    }
}

/// Appends a TSIG RR (names uncompressed) and adds one to ARCOUNT.
fn append_rr(
    out: &mut Vec<u8>,
    key_name: &[u8],
    algorithm: &[u8],
    vars: &Variables<'_>,
    mac: &[u8],
    original_id: u16,
) {
    let rdlen = algorithm.len() + 16 + mac.len() + vars.other.len();
    out.extend_from_slice(key_name);
    out.extend_from_slice(&rtype::TSIG.to_be_bytes());
    out.extend_from_slice(&rtype::CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&u16::try_from(rdlen).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(algorithm);
    out.extend_from_slice(&time48(vars.time_signed));
    out.extend_from_slice(&vars.fudge.to_be_bytes());
    out.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(mac);
    out.extend_from_slice(&original_id.to_be_bytes());
    out.extend_from_slice(&vars.error.to_be_bytes());
    out.extend_from_slice(&u16::try_from(vars.other.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(vars.other);
    let arcount = be16(out, 10).unwrap_or(0).saturating_add(1);
    if let Some(b) = out.get_mut(10..12) {
        b.copy_from_slice(&arcount.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::request;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Known answers, made without this code: `dig -y` (BIND 9.18) signed
    /// the request and Knot DNS 3.2 signed the response, which dig
    /// verified. Secrets are the bytes 1, 2, 3, … as long as the hash.
    struct Kat {
        key: &'static [u8],
        algorithm: Algorithm,
        request: &'static str,
        response: &'static str,
    }

    const KATS: [Kat; 3] = [
        // dig -y hmac-sha256:kat.example:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=
        //   www.example.test A +norec (EDNS with a cookie)
        Kat {
            key: b"\x03kat\x07example\x00",
            algorithm: Algorithm::HmacSha256,
            request: "66b70020000100000000000203777777076578616d706c650474657374000001000100002904d000000000000c000a00084575b8ed9652c350036b6174076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b0429ac012c0020643427ef063c769831be23c8fef6617e93e74a8deab99bfa0245928e8acd712466b700000000",
            response: "66b78400000100010000000203777777076578616d706c6504746573740000010001c00c000100010000012c0004c000025000002904d0000000000000036b6174076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b0429ac012c00203631a6fa5fc70983ed84b597b42d7ba4913770123df3afd4370c39a1144b055666b700000000",
        },
        // dig -y hmac-sha512:kat512.example:… +noedns
        Kat {
            key: b"\x06kat512\x07example\x00",
            algorithm: Algorithm::HmacSha512,
            request: "b8d50020000100000000000103777777076578616d706c6504746573740000010001066b6174353132076578616d706c650000fa00ff00000000005d0b686d61632d7368613531320000006b042a3e012c0040c1a0da48eb3f8dea769defd355c83b3e24c3a25ec6c98b74a68ddc44ae5b714498b909c40eee7b535673d32b9b33353e26f74581db3e0adff2c46939c87e4771b8d500000000",
            response: "b8d58400000100010000000103777777076578616d706c6504746573740000010001c00c000100010000012c0004c0000250066b6174353132076578616d706c650000fa00ff00000000005d0b686d61632d7368613531320000006b042a3e012c00400f6909bf50c65e3c8c6fe7093194df6fd372d0d6545d42db32626a5222b444a22cf9c2384514818b3552e6491159503f3e3d5af1398c69d78e00b8a5984bd372b8d500000000",
        },
        // dig -y hmac-sha1:kat1.example:AQIDBAUGBwgJCgsMDQ4PEBESExQ= +noedns
        Kat {
            key: b"\x04kat1\x07example\x00",
            algorithm: Algorithm::HmacSha1,
            request: "14b60020000100000000000103777777076578616d706c6504746573740000010001046b617431076578616d706c650000fa00ff00000000002f09686d61632d736861310000006b042a3f012c0014e67be60114b07167f88014153f416b6807e29f0014b600000000",
            response: "14b68400000100010000000103777777076578616d706c6504746573740000010001c00c000100010000012c0004c0000250046b617431076578616d706c650000fa00ff00000000002f09686d61632d736861310000006b042a3f012c0014e4e13caac1ec099a848a1c76e341b71a2674f56814b600000000",
        },
    ];

    fn secret(algorithm: Algorithm) -> Vec<u8> {
        (1..=algorithm.mac_len() as u8).collect()
    }

    fn ring_for(kat: &Kat) -> Keyring {
        Keyring::new(vec![Key::new(
            kat.key,
            kat.algorithm,
            &secret(kat.algorithm),
        )])
    }

    fn located(packet: &[u8]) -> TsigRr {
        request::parse(packet).unwrap().tsig.expect("a TSIG record")
    }

    /// Time Signed of the TSIG record that ends `packet`.
    fn time_signed(packet: &[u8], key: &[u8]) -> u64 {
        let rdata = tsig_start(packet, key) + key.len() + 10;
        let algorithm_len = crate::proto::name::wire_name_len(&packet[rdata..]).unwrap();
        be48(packet, rdata + algorithm_len).unwrap()
    }

    fn tsig_start(packet: &[u8], key: &[u8]) -> usize {
        let mut needle = key.to_vec();
        needle.extend_from_slice(&[0, 0xfa, 0, 0xff]);
        packet
            .windows(needle.len())
            .rposition(|w| w == needle)
            .unwrap()
    }

    #[test]
    fn dig_requests_verify_and_responses_match_knot_byte_for_byte() {
        for kat in &KATS {
            let request = hex(kat.request);
            let keys = ring_for(kat);
            let now = time_signed(&request, kat.key);
            let Verdict::Valid(signer) = verify(&keys, &request, &located(&request), now) else {
                panic!("{:?}: request did not verify", kat.algorithm);
            };
            assert_eq!(signer.key_name(), kat.key);

            // Knot's response without its TSIG RR, signed by us at the
            // same second, must come out exactly as Knot sent it.
            let response = hex(kat.response);
            let start = tsig_start(&response, kat.key);
            let mut out = response[..start].to_vec();
            out[11] -= 1;
            let before = out.len();
            signer.sign(&mut out, time_signed(&response, kat.key));
            assert_eq!(out, response, "{:?}", kat.algorithm);
            assert_eq!(out.len() - before, signer.reserve());
        }
    }

    #[test]
    fn a_request_verifies_within_the_fudge_only() {
        let kat = &KATS[0];
        let request = hex(kat.request);
        let keys = ring_for(kat);
        let rr = located(&request);
        let t = time_signed(&request, kat.key);
        for now in [t - 300, t + 300] {
            assert!(matches!(
                verify(&keys, &request, &rr, now),
                Verdict::Valid(_)
            ));
        }
        for now in [t - 301, t + 301] {
            let Verdict::SignedError(signer) = verify(&keys, &request, &rr, now) else {
                panic!("expected BADTIME at {now}");
            };
            assert_eq!(signer.error(), BADTIME);
            // The request's time goes back, ours in Other Data.
            let mut out =
                hex("66b78009000100000000000003777777076578616d706c650474657374000001000100");
            out.truncate(12 + 22);
            signer.sign(&mut out, now);
            assert_eq!(be16(&out, 10), Some(1));
            let rdata = 12 + 22 + kat.key.len() + 10;
            assert_eq!(be48(&out, rdata + 13), Some(t));
            let other_at = out.len() - 6;
            assert_eq!(be48(&out, other_at), Some(now));
            assert_eq!(be16(&out, other_at - 4), Some(BADTIME));
            assert_eq!(out.len() - (12 + 22), signer.reserve());
        }
    }

    #[test]
    fn unknown_keys_and_bad_macs_are_refused_unsigned() {
        let kat = &KATS[0];
        let request = hex(kat.request);
        let rr = located(&request);
        let now = time_signed(&request, kat.key);
        let check = |keys: &Keyring, packet: &[u8], want: u16| match verify(keys, packet, &rr, now)
        {
            Verdict::UnsignedError(u) => assert_eq!(u.error(), want),
            other => panic!("expected error {want}, got {other:?}"),
        };
        // No keys at all; another key name; the right name with another
        // algorithm: BADKEY.
        check(&Keyring::default(), &request, BADKEY);
        let other = Key::new(
            b"\x05other\x00",
            Algorithm::HmacSha256,
            &secret(Algorithm::HmacSha256),
        );
        check(&Keyring::new(vec![other]), &request, BADKEY);
        let sha512 = Key::new(
            kat.key,
            Algorithm::HmacSha512,
            &secret(Algorithm::HmacSha256),
        );
        check(&Keyring::new(vec![sha512]), &request, BADKEY);
        // Key names compare without regard to case.
        let upper = Key::new(
            b"\x03KAT\x07Example\x00",
            kat.algorithm,
            &secret(kat.algorithm),
        );
        assert!(matches!(
            verify(&Keyring::new(vec![upper]), &request, &rr, now),
            Verdict::Valid(_)
        ));
        // Another secret, or a changed byte anywhere it covers: BADSIG.
        let wrong = Key::new(kat.key, kat.algorithm, &[7u8; 32]);
        check(&Keyring::new(vec![wrong]), &request, BADSIG);
        let keys = ring_for(kat);
        let mut flipped = request.clone();
        flipped[13] ^= 0x20; // the question's case
        check(&keys, &flipped, BADSIG);
        let mut other_id = request.clone();
        other_id[request.len() - 6] ^= 1; // Original ID
        check(&keys, &other_id, BADSIG);

        // The unsigned TSIG echoes the key and algorithm, with no MAC.
        let Verdict::UnsignedError(u) = verify(&Keyring::default(), &request, &rr, now) else {
            panic!()
        };
        let mut out = vec![0x66, 0xb7, 0x80, 0x09, 0, 1, 0, 0, 0, 0, 0, 0];
        u.append(&mut out, now);
        assert_eq!(be16(&out, 10), Some(1));
        assert_eq!(&out[12..12 + kat.key.len()], kat.key);
        assert_eq!(
            &out[out.len() - 8..],
            &[0, 0, 0x66, 0xb7, 0, BADKEY as u8, 0, 0]
        );
    }

    /// `request` with its MAC cut to `len` bytes (MAC Size and RDLENGTH
    /// adjusted).
    fn with_mac_len(request: &[u8], key: &[u8], len: usize) -> Vec<u8> {
        let start = tsig_start(request, key);
        let rdlen_at = start + key.len() + 8;
        let size_at = rdlen_at + 2 + 13 + 8;
        let old = usize::from(be16(request, size_at).unwrap());
        let mut out = request[..size_at].to_vec();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&request[size_at + 2..size_at + 2 + len]);
        out.extend_from_slice(&request[size_at + 2 + old..]);
        let rdlen = usize::from(be16(request, rdlen_at).unwrap()) - old + len;
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        out
    }

    #[test]
    fn truncated_macs() {
        let kat = &KATS[0];
        let request = hex(kat.request);
        let keys = ring_for(kat);
        let now = time_signed(&request, kat.key);
        // SHA-256: 16 octets is the shortest allowed. A verified truncated
        // MAC is BADTRUNC (full length is our policy), signed.
        let cut = with_mac_len(&request, kat.key, 16);
        match verify(&keys, &cut, &located(&cut), now) {
            Verdict::SignedError(s) => assert_eq!(s.error(), BADTRUNC),
            other => panic!("{other:?}"),
        }
        // A truncated MAC that does not match is still BADSIG.
        let mut bad = cut.clone();
        let last = bad.len() - 7;
        bad[last] ^= 1;
        match verify(&keys, &bad, &located(&bad), now) {
            Verdict::UnsignedError(u) => assert_eq!(u.error(), BADSIG),
            other => panic!("{other:?}"),
        }
        // Shorter than allowed, or longer than the hash: FORMERR.
        for len in [0, 8, 15] {
            let short = with_mac_len(&request, kat.key, len);
            assert!(
                matches!(
                    verify(&keys, &short, &located(&short), now),
                    Verdict::Malformed
                ),
                "{len}"
            );
        }
        let mut long = with_mac_len(&request, kat.key, 32);
        let size_at = tsig_start(&long, kat.key) + kat.key.len() + 10 + 13 + 6;
        long[size_at + 1] = 33;
        long.insert(size_at + 2 + 32, 0);
        let rdlen_at = tsig_start(&long, kat.key) + kat.key.len() + 8;
        long[rdlen_at + 1] += 1;
        assert!(matches!(
            verify(&keys, &long, &located(&long), now),
            Verdict::Malformed
        ));
    }

    #[test]
    fn misplaced_or_malformed_tsig_is_formerr() {
        let request = hex(KATS[1].request);
        let key = KATS[1].key;
        let start = tsig_start(&request, key);
        let formerr = |p: &[u8]| matches!(request::parse(p), Err(request::Reject::FormErr { .. }));
        // Class other than ANY, TTL other than 0.
        let mut class = request.clone();
        class[start + key.len() + 3] = 1;
        assert!(formerr(&class));
        let mut ttl = request.clone();
        ttl[start + key.len() + 7] = 1;
        assert!(formerr(&ttl));
        // Not the last record: an OPT after it.
        let mut not_last = request.clone();
        not_last.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        not_last[11] = 2;
        assert!(formerr(&not_last));
        // RDATA that does not add up: cannot be interpreted.
        let mut short = request.clone();
        short.truncate(short.len() - 1);
        let rdlen_at = start + key.len() + 8;
        short[rdlen_at + 1] -= 1;
        let rr = located(&short);
        assert!(matches!(
            verify(&ring_for(&KATS[1]), &short, &rr, 0),
            Verdict::Malformed
        ));
    }

    #[test]
    fn algorithm_names_and_debug_hides_secrets() {
        assert_eq!(
            Algorithm::from_name("HMAC-SHA256."),
            Some(Algorithm::HmacSha256)
        );
        assert_eq!(Algorithm::from_name("hmac-sha1"), Some(Algorithm::HmacSha1));
        assert_eq!(Algorithm::from_name("hmac-md5"), None);
        assert_eq!(Algorithm::from_name("hmac-sha224"), None);
        let key = Key::new(b"\x01k\x00", Algorithm::HmacSha384, b"super-secret-bytes");
        let shown = format!("{:?}", Keyring::new(vec![key]));
        assert!(
            shown.contains("hmac-sha384") && shown.contains("k."),
            "{shown}"
        );
        assert!(
            !shown.contains("super") && !shown.contains("115"),
            "{shown}"
        );
    }
}
