//! Zone signing keys: generation, the files on disk, loading, and the
//! derived DNSKEY, key tag and DS.
//!
//! Design: one Combined Signing Key (CSK) per zone, DNSKEY flags 257 (Zone
//! Key + SEP). With online signing there is no offline KSK to protect — the
//! server needs a private key in memory either way — so a KSK/ZSK split
//! would only add a second key, a larger DNSKEY RRset and a rollover
//! procedure without adding safety. The parent's DS points at this key.
//!
//! Files in the key directory, named like BIND's so operators recognise them:
//!
//! ```text
//! K<zone>.+<alg>+<tag>.key   the DNSKEY in zone-file form (public, for DS tools; 0644)
//! K<zone>.+<alg>+<tag>.pk8   the private key, PKCS#8 DER as ring writes it (0600)
//! ```
//!
//! The `.pk8` is the only source of truth when loading; the public key is
//! derived from it. Key material is never logged or shown in `Debug`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::proto::name::Name;

/// DNSKEY flags of a CSK: Zone Key (bit 7) and Secure Entry Point (bit 15).
pub const CSK_FLAGS: u16 = 257;
/// DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
const PROTOCOL: u8 = 3;
/// TTL of the DNSKEY RRset we serve.
pub const DNSKEY_TTL: u32 = 3600;

/// The signing algorithms offered (RFC 8624 recommends both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    EcdsaP256Sha256,
    Ed25519,
}

impl SigningAlgorithm {
    pub fn number(self) -> u8 {
        match self {
            Self::EcdsaP256Sha256 => 13,
            Self::Ed25519 => 15,
        }
    }

    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            13 => Some(Self::EcdsaP256Sha256),
            15 => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// Parses the names `signpostctl keygen --algorithm` accepts.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "ecdsap256sha256" | "13" => Some(Self::EcdsaP256Sha256),
            "ed25519" | "15" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// Why a key could not be made or loaded; shown to the operator.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no key for zone {zone} in {dir} (expected K{zone}+013+NNNNN.pk8 or +015; run `signpostctl keygen {zone}`)")]
    Missing { zone: String, dir: String },
    #[error("several keys for zone {zone} in {dir}: {found}; keep one")]
    Several {
        zone: String,
        dir: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid PKCS#8 {algorithm} private key")]
    Invalid { path: String, algorithm: String },
    #[error("key generation failed")]
    Generate,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A loaded private key with its public DNSKEY data.
pub struct SigningKey {
    pair: Pair,
    rng: SystemRandom,
    pub algorithm: SigningAlgorithm,
    /// DNSKEY RDATA: flags, protocol, algorithm, public key.
    pub dnskey_rdata: Vec<u8>,
    pub key_tag: u16,
}

impl fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("key_tag", &self.key_tag)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 document for `algorithm`.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, der: &[u8]) -> Option<Self> {
        let rng = SystemRandom::new();
        let (pair, public) = match algorithm {
            SigningAlgorithm::EcdsaP256Sha256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &rng,
                )
                .ok()?;
                // ring gives the SEC1 uncompressed point 0x04 || X || Y;
                // DNSKEY carries X || Y (RFC 6605 §4).
                let public = pair.public_key().as_ref().get(1..)?.to_vec();
                (Pair::Ecdsa(pair), public)
            }
            SigningAlgorithm::Ed25519 => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?;
                let public = pair.public_key().as_ref().to_vec();
                (Pair::Ed25519(pair), public)
            }
        };
        let mut dnskey_rdata = Vec::with_capacity(4 + public.len());
        dnskey_rdata.extend_from_slice(&CSK_FLAGS.to_be_bytes());
        dnskey_rdata.push(PROTOCOL);
        dnskey_rdata.push(algorithm.number());
        dnskey_rdata.extend_from_slice(&public);
        let key_tag = key_tag(&dnskey_rdata);
        Some(Self {
            pair,
            rng,
            algorithm,
            dnskey_rdata,
            key_tag,
        })
    }

    /// Signs `data`; the result is in DNSSEC wire form (r || s for ECDSA,
    /// RFC 6605 §4; the 64-byte signature for Ed25519, RFC 8080 §3).
    pub fn sign(&self, data: &[u8]) -> Option<Vec<u8>> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair.sign(&self.rng, data).ok().map(|s| s.as_ref().to_vec()),
            Pair::Ed25519(pair) => Some(pair.sign(data).as_ref().to_vec()),
        }
    }
}

/// The key tag of RFC 4034 Appendix B over DNSKEY RDATA.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        acc += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

/// DS RDATA with a SHA-256 digest (digest type 2, RFC 4509) for the key.
pub fn ds_rdata(zone: &Name, dnskey_rdata: &[u8]) -> Vec<u8> {
    let owner = zone.to_lowercase();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(owner.as_wire());
    ctx.update(dnskey_rdata);
    let digest = ctx.finish();
    let mut out = Vec::with_capacity(4 + digest.as_ref().len());
    out.extend_from_slice(&key_tag(dnskey_rdata).to_be_bytes());
    out.push(dnskey_rdata.get(3).copied().unwrap_or(0));
    out.push(2);
    out.extend_from_slice(digest.as_ref());
    out
}

/// The zone name as it appears in key file names: lowercase, with the dot.
fn file_zone(zone: &Name) -> String {
    let text = zone.to_lowercase().to_string();
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

fn base_name(zone: &Name, algorithm: SigningAlgorithm, tag: u16) -> String {
    format!("K{}+{:03}+{:05}", file_zone(zone), algorithm.number(), tag)
}

/// The DNSKEY as one zone-file line.
pub fn dnskey_line(zone: &Name, key: &SigningKey) -> String {
    let public = key.dnskey_rdata.get(4..).unwrap_or_default();
    format!(
        "{} {} IN DNSKEY {} {} {} {}",
        file_zone(zone),
        DNSKEY_TTL,
        CSK_FLAGS,
        PROTOCOL,
        key.algorithm.number(),
        base64(public)
    )
}

/// The DS as one zone-file line.
pub fn ds_line(zone: &Name, key: &SigningKey) -> String {
    let ds = ds_rdata(zone, &key.dnskey_rdata);
    let digest: String = ds
        .get(4..)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!(
        "{} IN DS {} {} 2 {}",
        file_zone(zone),
        key.key_tag,
        key.algorithm.number(),
        digest
    )
}

/// Makes a new key and writes its two files, never overwriting: the
/// private `.pk8` mode 0600, the public `.key` mode 0644. Returns the key
/// and the path of its `.key` file.
pub fn generate(
    zone: &Name,
    algorithm: SigningAlgorithm,
    dir: &Path,
) -> Result<(SigningKey, PathBuf), KeyError> {
    let rng = SystemRandom::new();
    let der = match algorithm {
        SigningAlgorithm::EcdsaP256Sha256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?
        }
        SigningAlgorithm::Ed25519 => {
            Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?
        }
    };
    let key = SigningKey::from_pkcs8(algorithm, der.as_ref()).ok_or(KeyError::Generate)?;
    // Not `with_extension`: the zone name in the base is full of dots.
    let base = base_name(zone, algorithm, key.key_tag);
    let private = dir.join(format!("{base}.pk8"));
    let public = dir.join(format!("{base}.key"));
    write_new(&private, der.as_ref(), PRIVATE_MODE)?;
    write_new(&public, format!("{}\n", dnskey_line(zone, &key)).as_bytes(), PUBLIC_MODE)?;
    Ok((key, public))
}

/// The private key: the server's user alone may read it.
const PRIVATE_MODE: u32 = 0o600;
/// The DNSKEY is published in the zone anyway; DS tools and other users
/// (a `dnssec-dsfromkey` run by someone else) may read it.
const PUBLIC_MODE: u32 = 0o644;

/// Creates `path` with exactly `mode`. The file is created with that mode
/// (so the private key is never readable by others, even for a moment) and
/// then set to it, so the umask does not make the result depend on the
/// shell it was run from.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Loads the one key of `zone` from `dir`.
pub fn load(zone: &Name, dir: &Path) -> Result<SigningKey, KeyError> {
    let prefix = format!("K{}+", file_zone(zone));
    let entries = std::fs::read_dir(dir).map_err(|source| KeyError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut found: Vec<(PathBuf, SigningAlgorithm)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(rest) = rest.strip_suffix(".pk8") else {
            continue;
        };
        let alg = rest
            .split('+')
            .next()
            .and_then(|a| a.parse::<u8>().ok())
            .and_then(SigningAlgorithm::from_number);
        if let Some(alg) = alg {
            found.push((entry.path(), alg));
        }
    }
    let zone_text = file_zone(zone);
    let (path, algorithm) = match found.len() {
        0 => {
            return Err(KeyError::Missing {
                zone: zone_text,
                dir: dir.display().to_string(),
            })
        }
        1 => found.swap_remove(0),
        _ => {
            let names: Vec<String> = found
                .iter()
                .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Err(KeyError::Several {
                zone: zone_text,
                dir: dir.display().to_string(),
                found: names.join(", "),
            });
        }
    };
    let der = std::fs::read(&path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    SigningKey::from_pkcs8(algorithm, &der).ok_or_else(|| KeyError::Invalid {
        path: path.display().to_string(),
        algorithm: format!("algorithm {}", algorithm.number()),
    })
}

/// Standard base64 with padding (RFC 4648 §4), as DNSKEY presentation uses.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    crate::proto::codec::base64_encode(data, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn key_tag_of_rfc4034_example() {
        // Any RDATA: the tag is the folded 16-bit sum, checked by hand.
        assert_eq!(key_tag(&[0x01, 0x01, 0x03, 0x0d]), 0x0101 + 0x030d);
    }

    #[test]
    fn generated_keys_reload_with_the_same_tag() {
        let dir = std::env::temp_dir().join(format!("signpost-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zone = Name::parse("Example.TEST.", None).unwrap();
        for alg in [SigningAlgorithm::EcdsaP256Sha256, SigningAlgorithm::Ed25519] {
            let sub = dir.join(format!("{}", alg.number()));
            std::fs::create_dir_all(&sub).unwrap();
            let (key, path) = generate(&zone, alg, &sub).unwrap();
            let loaded = load(&zone, &sub).unwrap();
            assert_eq!(loaded.key_tag, key.key_tag);
            assert_eq!(loaded.dnskey_rdata, key.dnskey_rdata);
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            // The DNSKEY is public; the private key is for the server alone.
            assert_eq!(mode(&path), 0o644, "{}", path.display());
            let private = path.with_extension("pk8");
            assert_eq!(mode(&private), 0o600, "{}", private.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
