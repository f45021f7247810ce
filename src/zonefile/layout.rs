//! The fixed RDATA layouts: each type's sequence of fields, read by the
//! parser (rdata.rs) and the printer (present.rs) alike, and the SvcParamKey
//! names of SVCB/HTTPS.

/// A field of a fixed-layout RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    U8,
    U16,
    U32,
    /// A 32-bit time interval that accepts BIND units (`1h30m`).
    Period,
    Name,
    Ipv4,
    Ipv6,
    /// One length-prefixed <character-string>.
    Str,
    /// One or more <character-string>s, to the end.
    Strs,
    /// A <character-string> that may be left out (last field only).
    OptStr,
    /// A DNSSEC algorithm, number or mnemonic.
    Alg,
    /// A type mnemonic (RRSIG "type covered").
    Type,
    /// An RRSIG time.
    Time,
    /// Base64 to the end (may be split over tokens).
    Base64,
    /// Hex to the end (may be split over tokens).
    Hex,
    /// Type bitmap to the end (RFC 4034 §4.1.2).
    Bitmap,
    /// Length-prefixed hex, or `-` for none (NSEC3 salt).
    Salt,
    /// Length-prefixed base32hex (NSEC3 next hashed owner).
    Base32,
    /// Four groups of 16 bits in hex (`NID`, `L64`).
    Hex64,
    Eui48,
    Eui64,
    /// CERT type, number or mnemonic.
    CertType,
    /// One string taking the rest of the RDATA, no length octet (URI, CAA).
    Rest,
    /// Length-prefixed alphanumeric CAA tag.
    Tag,
}

use Field as F;

/// The fixed layout of a type, with a name for each field used in messages.
pub(crate) fn layout(rtype: u16) -> Option<&'static [(Field, &'static str)]> {
    Some(match rtype {
        1 => &[(F::Ipv4, "address")],
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 23 | 39 | 65401 => &[(F::Name, "target name")],
        6 => &[
            (F::Name, "primary server name"),
            (F::Name, "responsible mailbox"),
            (F::U32, "serial"),
            (F::Period, "refresh"),
            (F::Period, "retry"),
            (F::Period, "expire"),
            (F::Period, "minimum"),
        ],
        13 => &[(F::Str, "CPU"), (F::Str, "OS")],
        14 => &[(F::Name, "responsible mailbox"), (F::Name, "error mailbox")],
        15 | 18 | 21 | 36 | 107 => &[(F::U16, "preference"), (F::Name, "host name")],
        16 | 99 | 56 | 258 | 261 | 262 => &[(F::Strs, "text")],
        17 => &[(F::Name, "mailbox"), (F::Name, "TXT name")],
        19 => &[(F::Str, "PSDN address")],
        20 => &[(F::Str, "ISDN address"), (F::OptStr, "subaddress")],
        24 | 46 => &[
            (F::Type, "type covered"),
            (F::Alg, "algorithm"),
            (F::U8, "labels"),
            (F::Period, "original TTL"),
            (F::Time, "expiration"),
            (F::Time, "inception"),
            (F::U16, "key tag"),
            (F::Name, "signer name"),
            (F::Base64, "signature"),
        ],
        25 | 48 | 57 | 60 => &[
            (F::U16, "flags"),
            (F::U8, "protocol"),
            (F::Alg, "algorithm"),
            (F::Base64, "public key"),
        ],
        26 => &[
            (F::U16, "preference"),
            (F::Name, "MAP822 name"),
            (F::Name, "MAPX400 name"),
        ],
        27 => &[
            (F::Str, "longitude"),
            (F::Str, "latitude"),
            (F::Str, "altitude"),
        ],
        28 => &[(F::Ipv6, "address")],
        33 => &[
            (F::U16, "priority"),
            (F::U16, "weight"),
            (F::U16, "port"),
            (F::Name, "target name"),
        ],
        35 => &[
            (F::U16, "order"),
            (F::U16, "preference"),
            (F::Str, "flags"),
            (F::Str, "services"),
            (F::Str, "regexp"),
            (F::Name, "replacement"),
        ],
        37 => &[
            (F::CertType, "certificate type"),
            (F::U16, "key tag"),
            (F::Alg, "algorithm"),
            (F::Base64, "certificate"),
        ],
        43 | 59 | 32768 | 32769 => &[
            (F::U16, "key tag"),
            (F::Alg, "algorithm"),
            (F::U8, "digest type"),
            (F::Hex, "digest"),
        ],
        44 => &[
            (F::U8, "algorithm"),
            (F::U8, "fingerprint type"),
            (F::Hex, "fingerprint"),
        ],
        47 => &[(F::Name, "next name"), (F::Bitmap, "type bitmap")],
        49 => &[(F::Base64, "data")],
        50 => &[
            (F::U8, "hash algorithm"),
            (F::U8, "flags"),
            (F::U16, "iterations"),
            (F::Salt, "salt"),
            (F::Base32, "next hashed owner"),
            (F::Bitmap, "type bitmap"),
        ],
        51 => &[
            (F::U8, "hash algorithm"),
            (F::U8, "flags"),
            (F::U16, "iterations"),
            (F::Salt, "salt"),
        ],
        52 | 53 => &[
            (F::U8, "certificate usage"),
            (F::U8, "selector"),
            (F::U8, "matching type"),
            (F::Hex, "certificate association data"),
        ],
        58 => &[(F::Name, "previous name"), (F::Name, "next name")],
        61 => &[(F::Base64, "public key")],
        62 => &[
            (F::U32, "SOA serial"),
            (F::U16, "flags"),
            (F::Bitmap, "type bitmap"),
        ],
        63 => &[
            (F::U32, "serial"),
            (F::U8, "scheme"),
            (F::U8, "hash algorithm"),
            (F::Hex, "digest"),
        ],
        104 | 106 => &[(F::U16, "preference"), (F::Hex64, "locator")],
        105 => &[(F::U16, "preference"), (F::Ipv4, "locator")],
        108 => &[(F::Eui48, "address")],
        109 => &[(F::Eui64, "address")],
        256 => &[
            (F::U16, "priority"),
            (F::U16, "weight"),
            (F::Rest, "target"),
        ],
        257 => &[(F::U8, "flags"), (F::Tag, "tag"), (F::Rest, "value")],
        _ => return None,
    })
}

/// SvcParamKey names (RFC 9460 §14.3.2).
pub(crate) const SVC_KEYS: &[(u16, &str)] = &[
    (0, "mandatory"),
    (1, "alpn"),
    (2, "no-default-alpn"),
    (3, "port"),
    (4, "ipv4hint"),
    (5, "ech"),
    (6, "ipv6hint"),
    (7, "dohpath"),
    (8, "ohttp"),
];
