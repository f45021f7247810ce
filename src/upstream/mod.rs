//! ALIAS targets outside the served zones (SPEC §3): the load balancer, CDN
//! or bucket a Route 53 user aliases the apex to. Their addresses come from
//! the configured upstream resolvers, fetched in the background and never
//! on a query thread:
//!
//! ```text
//! compile: ALIAS targets no zone of the view holds ─► Refresher::set_targets
//! Refresher (own runtime, hickory-resolver): per target, A and AAAA,
//!   fetched again at 3/4 of their TTL, retried with backoff while upstreams fail
//!   ─► Cache (published apart) ── ArcSwap ──► query: Cache::lookup
//! ```
//!
//! An answer carries what is left of upstream's TTL (the ALIAS record's
//! own TTL caps it, in `query::lookup`). While upstreams fail, the last
//! good addresses are served after they expire, with a short TTL, for at
//! most `max_stale` (serve-stale, RFC 8767); a target never resolved, or
//! stale for longer, answers SERVFAIL.

mod refresh;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use rustc_hash::FxHashMap;

use crate::proto::{rtype, Rrset};

pub use refresh::Refresher;

/// Seconds an upstream has to answer one query, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the last good answer is served while upstreams fail (RFC 8767
/// §5 suggests one to three days).
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(86_400);
/// TTL of an answer served stale (RFC 8767 §4: 30 seconds).
pub const DEFAULT_STALE_TTL: u32 = 30;

/// `[resolver]` of the config, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Recursive resolvers asked in turn, over UDP and then TCP.
    pub upstreams: Vec<SocketAddr>,
    pub timeout: Duration,
    pub max_stale: Duration,
    pub stale_ttl: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_stale: DEFAULT_MAX_STALE,
            stale_ttl: DEFAULT_STALE_TTL,
        }
    }
}

/// What upstream last said about one address type of a target.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The addresses, with upstream's TTL (the smallest along a CNAME
    /// chain). Empty: upstream said the name has none (NXDOMAIN/NODATA),
    /// and the TTL is its negative TTL.
    pub(crate) rrset: Rrset,
    pub(crate) at: Instant,
    pub(crate) expires: Instant,
}

/// One target's addresses and how its last fetch went.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub(crate) a: Option<Resolved>,
    pub(crate) aaaa: Option<Resolved>,
    /// The last fetch failed: since when upstreams fail, and why.
    pub(crate) failing: Option<(SystemTime, String)>,
}

impl Target {
    fn family(&self, rtype: u16) -> Option<&Resolved> {
        match rtype {
            rtype::A => self.a.as_ref(),
            rtype::AAAA => self.aaaa.as_ref(),
            _ => None,
        }
    }
}

/// The addresses of every external target, as queries read them.
#[derive(Debug, Default)]
pub struct Cache {
    /// By lowercased wire name.
    targets: FxHashMap<Box<[u8]>, Target>,
    max_stale: Duration,
    stale_ttl: u32,
}

/// What a query may answer for an external target.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'c> {
    /// Addresses to answer with (none: NODATA), for `ttl` seconds.
    Addresses {
        rrset: &'c Rrset,
        ttl: u32,
        /// Since upstream said it.
        age: Duration,
        /// Expired, and served because upstreams fail.
        stale: bool,
    },
    /// Nothing resolved yet, or stale beyond `max_stale`: SERVFAIL.
    Unresolved {
        /// Why the last fetch failed, if one did.
        failing: Option<&'c str>,
    },
}

impl Cache {
    /// What to answer for the A or AAAA records (`rtype`) of the target
    /// `name` (lowercased wire form) at `now`.
    pub(crate) fn lookup(&self, name: &[u8], rtype: u16, now: Instant) -> Lookup<'_> {
        let target = self.targets.get(name);
        let failing = target.and_then(|t| t.failing.as_ref()).map(|f| f.1.as_str());
        let Some(resolved) = target.and_then(|t| t.family(rtype)) else {
            return Lookup::Unresolved { failing };
        };
        let age = now.saturating_duration_since(resolved.at);
        if now < resolved.expires {
            // Whole seconds, rounded up: 39.9 s left is 40, as at the
            // moment upstream gave it.
            let left = resolved.expires.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Lookup::Addresses {
                rrset: &resolved.rrset,
                ttl: u32::try_from(secs).unwrap_or(u32::MAX),
                age,
                stale: false,
            };
        }
        if now.saturating_duration_since(resolved.expires) <= self.max_stale {
            return Lookup::Addresses {
                rrset: &resolved.rrset,
                ttl: self.stale_ttl.min(resolved.rrset.ttl),
                age,
                stale: true,
            };
        }
        Lookup::Unresolved { failing }
    }

    /// Whether `name` has at least one address of `rtype` to answer with:
    /// what `evaluate-health` on an external ALIAS looks at.
    pub(crate) fn has_addresses(&self, name: &[u8], rtype: u16, now: Instant) -> bool {
        matches!(self.lookup(name, rtype, now), Lookup::Addresses { rrset, .. } if rrset.count > 0)
    }
}

#[cfg(test)]
impl Cache {
    /// A cache as if each `(name, type, TTL, RDATAs)` had been fetched
    /// `age` ago (an empty list: upstream said there are none).
    pub(crate) fn fetched(entries: &[(&str, u16, u32, &[&[u8]])], age: Duration) -> Self {
        let at = Instant::now() - age;
        let mut targets: FxHashMap<Box<[u8]>, Target> = FxHashMap::default();
        for &(name, rtype, ttl, rdatas) in entries {
            let name = crate::proto::Name::parse(name, None).expect("a name").to_lowercase();
            let target = targets.entry(name.as_wire().into()).or_default();
            let resolved = Resolved {
                rrset: Rrset::new(rtype, ttl, rdatas),
                at,
                expires: at + Duration::from_secs(u64::from(ttl)),
            };
            match rtype {
                rtype::A => target.a = Some(resolved),
                _ => target.aaaa = Some(resolved),
            }
        }
        Self {
            targets,
            max_stale: DEFAULT_MAX_STALE,
            stale_ttl: DEFAULT_STALE_TTL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &[u8] = b"\x02lb\x07example\x00";

    fn cache(a: Option<Resolved>, failing: bool) -> Cache {
        let target = Target {
            a,
            aaaa: None,
            failing: failing.then(|| (SystemTime::now(), "timed out".into())),
        };
        Cache {
            targets: [(NAME.into(), target)].into_iter().collect(),
            max_stale: Duration::from_secs(3600),
            stale_ttl: 30,
        }
    }

    fn resolved(at: Instant, ttl: u32, addresses: &[[u8; 4]]) -> Resolved {
        let rdatas: Vec<&[u8]> = addresses.iter().map(|a| &a[..]).collect();
        Resolved {
            rrset: Rrset::new(rtype::A, ttl, &rdatas),
            at,
            expires: at + Duration::from_secs(u64::from(ttl)),
        }
    }

    #[test]
    fn fresh_answers_carry_the_ttl_left() {
        let t0 = Instant::now();
        let c = cache(Some(resolved(t0, 60, &[[192, 0, 2, 1]])), false);
        let Lookup::Addresses {
            rrset, ttl, stale, ..
        } = c.lookup(NAME, rtype::A, t0 + Duration::from_secs(15))
        else {
            panic!("expected addresses");
        };
        assert_eq!((rrset.count, ttl, stale), (1, 45, false));
        let Lookup::Addresses { ttl, .. } =
            c.lookup(NAME, rtype::A, t0 + Duration::from_millis(15_500))
        else {
            panic!("expected addresses");
        };
        assert_eq!(ttl, 45, "44.5 s left rounds up");
        assert!(c.has_addresses(NAME, rtype::A, t0));
        // AAAA was never resolved; another name was never asked for.
        assert_eq!(
            c.lookup(NAME, rtype::AAAA, t0),
            Lookup::Unresolved { failing: None }
        );
        assert!(!c.has_addresses(b"\x01x\x00", rtype::A, t0));
    }

    #[test]
    fn expired_answers_are_served_stale_with_a_short_ttl_then_dropped() {
        let t0 = Instant::now();
        let c = cache(Some(resolved(t0, 300, &[[192, 0, 2, 1]])), true);
        let later = t0 + Duration::from_secs(300 + 600);
        let Lookup::Addresses { ttl, stale, .. } = c.lookup(NAME, rtype::A, later) else {
            panic!("expected a stale answer");
        };
        assert_eq!((ttl, stale), (30, true));
        // A stale TTL never exceeds what upstream gave.
        let short = cache(Some(resolved(t0, 5, &[[192, 0, 2, 1]])), true);
        let Lookup::Addresses { ttl, .. } = short.lookup(NAME, rtype::A, later) else {
            panic!("expected a stale answer");
        };
        assert_eq!(ttl, 5);
        let too_late = t0 + Duration::from_secs(300 + 3601);
        assert_eq!(
            c.lookup(NAME, rtype::A, too_late),
            Lookup::Unresolved {
                failing: Some("timed out")
            }
        );
    }

    #[test]
    fn no_addresses_upstream_is_not_healthy() {
        let t0 = Instant::now();
        let c = cache(Some(resolved(t0, 60, &[])), false);
        assert!(matches!(
            c.lookup(NAME, rtype::A, t0),
            Lookup::Addresses { rrset, .. } if rrset.count == 0
        ));
        assert!(!c.has_addresses(NAME, rtype::A, t0));
    }
}
