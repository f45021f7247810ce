//! DNSSEC online signing: every answer is signed as it is produced,
//! because policy answers differ per query and cannot be signed ahead.
//!
//! ```text
//! key directory ─► keys::load ─► ZoneSigner (one per signed zone, in Zone) ─┐
//! query::dnssec (DO=1) ── RRset as answered ─► ZoneSigner::rrsig ───────────┤
//!                                                 cache hit? ─► RRSIG       │
//!                                                 miss ─► sign::rrsig_rdata │
//! negative answers / wildcards ─► denial (RFC 4470 NSEC white lies) ────────┘
//! ```
//!
//! This module owns keys, signatures, their cache, NSEC synthesis and the
//! zone's signing [`Settings`]; the query path's DNSSEC stage
//! (`query::dnssec`) decides *what* to sign. The compile stage attaches a
//! signer to each signed zone.

pub mod cache;
pub mod denial;
pub mod keys;
pub mod sign;

use std::path::PathBuf;

use crate::proto::{rtype, time, Name, Position, Rrset};

/// Default signature validity: 14 days from inception.
pub const DEFAULT_VALIDITY: u64 = 14 * 86400;
/// Default backdating of the inception, for clients whose clocks are slow.
pub const DEFAULT_INCEPTION_OFFSET: u64 = 3600;
/// Default: re-sign when less than this percentage of the validity is left.
pub const DEFAULT_REFRESH_PERCENT: u8 = 25;
/// Default bound on cached signatures per zone.
pub const DEFAULT_CACHE_SIZE: usize = 100_000;

/// Signature timing, from the zone's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Seconds from inception to expiration.
    pub validity: u64,
    /// Seconds the inception is put before the signing time.
    pub inception_offset: u64,
    /// Re-sign when less than this percentage of `validity` remains.
    pub refresh_percent: u8,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            validity: DEFAULT_VALIDITY,
            inception_offset: DEFAULT_INCEPTION_OFFSET,
            refresh_percent: DEFAULT_REFRESH_PERCENT,
        }
    }
}

/// A signed zone's settings: `dnssec = true` and the keys beside it in
/// its `[[zone]]` table (signpost.toml(5), section DNSSEC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settings {
    pub key_directory: PathBuf,
    pub timing: Timing,
    /// Where `dnssec = true` is written: key errors point there.
    pub position: Position,
}

/// A signer's key and signature-cache counters, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerStats {
    pub key_tag: u16,
    pub algorithm: u8,
    /// Signatures held in the cache.
    pub cached: usize,
    /// Answers signed from the cache.
    pub hits: u64,
    /// Signatures made (cache misses).
    pub signed: u64,
    pub evicted: u64,
}

/// Everything needed to sign one zone's answers.
#[derive(Debug)]
pub struct ZoneSigner {
    key: keys::SigningKey,
    /// Lowercased apex: the RRSIG signer name.
    apex: Vec<u8>,
    timing: Timing,
    /// The DNSKEY RRset served at the apex.
    pub dnskey: Rrset,
    pub cache: cache::Cache,
}

impl ZoneSigner {
    pub fn new(apex: &Name, key: keys::SigningKey, timing: Timing) -> Self {
        let dnskey = Rrset::new(rtype::DNSKEY, keys::DNSKEY_TTL, &[&key.dnskey_rdata]);
        Self {
            apex: apex.to_lowercase().as_wire().to_vec(),
            key,
            timing,
            dnskey,
            cache: cache::Cache::new(DEFAULT_CACHE_SIZE),
        }
    }

    pub fn key_tag(&self) -> u16 {
        self.key.key_tag
    }

    /// The key and the signature cache's counters now.
    pub fn stats(&self) -> SignerStats {
        let stats = &self.cache.stats;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        SignerStats {
            key_tag: self.key.key_tag,
            algorithm: self.key.algorithm.number(),
            cached: self.cache.len(),
            hits: load(&stats.hits),
            signed: load(&stats.misses),
            evicted: load(&stats.evictions),
        }
    }

    /// One line for `signpostctl status`: the key and the cache counters.
    pub fn describe(&self) -> String {
        let s = self.stats();
        format!(
            "key tag {} algorithm {}, {} signatures cached, {} hits, {} signed, {} evicted",
            s.key_tag, s.algorithm, s.cached, s.hits, s.signed, s.evicted
        )
    }

    /// The RRSIG RRset over `rrset` owned by `owner` (lowercased wire, or
    /// the wildcard `*.…` the RRset was expanded from). `None` only if the
    /// data cannot be signed; the answer then goes out without it and
    /// validators treat it as bogus rather than being misled.
    pub fn rrsig(&self, owner: &[u8], rrset: &Rrset) -> Option<std::sync::Arc<cache::Slot>> {
        let now = time::unix_now();
        let key = self.cache.key(owner, rrset);
        self.cache
            .get_or_sign(key, now, || self.make(owner, rrset, now))
    }

    fn make(&self, owner: &[u8], rrset: &Rrset, now: u64) -> cache::Signed {
        let t = self.timing;
        let inception = now.saturating_sub(t.inception_offset);
        let expiration = inception.saturating_add(t.validity);
        let left = t.validity.saturating_mul(u64::from(t.refresh_percent)) / 100;
        let refresh_at = expiration.saturating_sub(left);
        // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5): the low
        // 32 bits are what goes on the wire.
        let validity = sign::Validity {
            inception: inception as u32,
            expiration: expiration as u32,
        };
        let rrsig = sign::rrsig_rdata(&self.key, &self.apex, owner, rrset, validity)
            .map(|rdata| Rrset::new(rtype::RRSIG, rrset.ttl, &[&rdata]));
        cache::Signed { rrsig, refresh_at }
    }
}
