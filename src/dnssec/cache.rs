//! The signature cache: each distinct RRset as answered (owner as signed,
//! type, TTL, RDATA bytes) is signed once and its RRSIG reused until it is
//! due for refresh.
//!
//! ```text
//! key = 128-bit keyed hash of (owner, type, TTL, records)
//!        │
//!   shard = key % SHARDS ──► Mutex<HashMap<key, Arc<Slot>>>
//!                                     │  (lock held only to find/insert)
//!                                     ▼
//!                            Slot = OnceLock<signed RRSIG>
//! ```
//!
//! The lock is never held while signing: a miss inserts an empty slot and
//! signs into it outside the lock; concurrent askers of the same RRset wait
//! on that slot's `OnceLock`, so each RRset is signed once even under
//! concurrency, and other RRsets of the shard are not held up.
//!
//! The key is two independent SipHash values with random keys per cache,
//! so collisions cannot be engineered by a client and are negligible by
//! chance (2^-128 per pair); storing only the hash keeps a hit free of
//! allocation.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use std::collections::hash_map::RandomState;

use crate::proto::Rrset;

const SHARDS: usize = 16;

/// One cached signature: the RRSIG as an RRset ready to write.
#[derive(Debug)]
pub struct Signed {
    pub rrsig: Option<Rrset>,
    /// Unix seconds after which it is signed again.
    pub refresh_at: u64,
}

pub type Slot = OnceLock<Signed>;
type Shard = Mutex<HashMap<u128, Arc<Slot>>>;

/// Counters, read by status and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
}

#[derive(Debug)]
pub struct Cache {
    shards: Box<[Shard]>,
    per_shard: usize,
    hash_a: RandomState,
    hash_b: RandomState,
    pub stats: Stats,
}

impl Cache {
    /// A cache holding at most about `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hash_a: RandomState::new(),
            hash_b: RandomState::new(),
            stats: Stats::default(),
        }
    }

    pub fn key(&self, owner: &[u8], rrset: &Rrset) -> u128 {
        let feed = |h: &mut dyn Hasher| {
            h.write(owner);
            h.write_u16(rrset.rtype);
            h.write_u32(rrset.ttl);
            for record in rrset.records() {
                h.write(record);
            }
        };
        let mut a = self.hash_a.build_hasher();
        feed(&mut a);
        let mut b = self.hash_b.build_hasher();
        feed(&mut b);
        (u128::from(a.finish()) << 64) | u128::from(b.finish())
    }

    /// The signature for `key`, made with `sign` when missing or due for
    /// refresh at `now`.
    pub fn get_or_sign(
        &self,
        key: u128,
        now: u64,
        sign: impl FnOnce() -> Signed,
    ) -> Option<Arc<Slot>> {
        let shard = self.shards.get((key % SHARDS as u128) as usize)?;
        let slot = {
            // A poisoned shard only means another thread panicked while
            // holding it; the map itself is still consistent.
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = map.get(&key).filter(|slot| match slot.get() {
                Some(signed) => signed.refresh_at > now,
                // Being signed right now by another thread: wait for it.
                None => true,
            });
            match fresh {
                Some(slot) => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    slot.clone()
                }
                None => {
                    self.stats.misses.fetch_add(1, Ordering::Relaxed);
                    if map.len() >= self.per_shard && !map.contains_key(&key) {
                        evict(&mut map, now);
                        self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                    let slot = Arc::new(Slot::new());
                    map.insert(key, slot.clone());
                    slot
                }
            }
        };
        slot.get_or_init(sign);
        Some(slot)
    }

    /// Entries held now (for tests and the memory estimate).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room in a full shard: drop what is due for refresh anyway, else
/// one arbitrary entry (the cache is a cache: a dropped RRSIG is re-made).
fn evict(map: &mut HashMap<u128, Arc<Slot>>, now: u64) {
    let before = map.len();
    map.retain(|_, slot| slot.get().is_none_or(|s| s.refresh_at > now));
    if map.len() == before {
        if let Some(k) = map.keys().next().copied() {
            map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(n: u8, refresh_at: u64) -> Signed {
        Signed {
            rrsig: Some(Rrset::new(46, 60, &[&[n]])),
            refresh_at,
        }
    }

    #[test]
    fn signs_once_then_hits_then_refreshes() {
        let cache = Cache::new(100);
        let rrset = Rrset::new(1, 300, &[&[192, 0, 2, 1]]);
        let key = cache.key(b"\x01a\x00", &rrset);
        let mut calls = 0;
        for _ in 0..3 {
            cache.get_or_sign(key, 10, || {
                calls += 1;
                signed(1, 100)
            });
        }
        assert_eq!(calls, 1);
        assert_eq!(cache.stats.hits.load(Ordering::Relaxed), 2);
        cache.get_or_sign(key, 100, || {
            calls += 1;
            signed(2, 200)
        });
        assert_eq!(calls, 2);
    }

    #[test]
    fn owner_and_ttl_change_the_key() {
        let cache = Cache::new(100);
        let a = Rrset::new(1, 300, &[&[192, 0, 2, 1]]);
        let b = Rrset::new(1, 301, &[&[192, 0, 2, 1]]);
        assert_ne!(cache.key(b"\x01a\x00", &a), cache.key(b"\x01b\x00", &a));
        assert_ne!(cache.key(b"\x01a\x00", &a), cache.key(b"\x01a\x00", &b));
    }

    #[test]
    fn stays_bounded() {
        let cache = Cache::new(32);
        for i in 0..1000u32 {
            let rrset = Rrset::new(1, 300, &[&i.to_be_bytes()]);
            let key = cache.key(b"\x00", &rrset);
            cache.get_or_sign(key, 0, || signed(0, 100));
        }
        assert!(cache.len() <= 32, "{}", cache.len());
    }

    #[test]
    fn concurrent_askers_sign_once() {
        let cache = Arc::new(Cache::new(100));
        let calls = Arc::new(AtomicU64::new(0));
        let rrset = Rrset::new(1, 300, &[&[192, 0, 2, 1]]);
        let key = cache.key(b"\x00", &rrset);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                std::thread::spawn(move || {
                    cache.get_or_sign(key, 0, || {
                        calls.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        signed(0, 100)
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
