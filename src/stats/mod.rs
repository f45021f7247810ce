//! The counters behind `/metrics` and `signpostctl stats`.
//!
//! ```text
//! UDP worker ─┐ lock its own tally once per batch   ┌─ scrape: lock each tally
//! TCP thread ─┘ (once per message), record outcomes └─ in turn, copy, sum
//! ```
//!
//! Every thread that answers queries owns a [`Tally`] behind its own
//! mutex, registered here the first time it records. Only the scraper ever
//! contends for it, so a worker's lock is one uncontended atomic per batch
//! and no counter is shared between workers. Label values are numbers
//! ([`labels`]) fixed when a snapshot is assembled, so recording a query
//! is a hash-map increment on integers.
//!
//! Events off the query path (reloads, health transitions, TCP
//! connections) are plain process-wide counters.

pub mod labels;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use crate::proto::{header, rtype, Transport};
pub use labels::{LabelId, NONE};

/// Upper bounds of the response size histogram, in bytes: the classic
/// 512, the EDNS default of 1232, and powers of two to the TCP maximum.
pub const SIZE_BUCKETS: [u32; 9] = [64, 128, 256, 512, 1232, 2048, 4096, 16384, 65535];

/// Policy sets recorded per answer; a multivalue answer of more sets
/// counts its first ones.
const MAX_CHOSEN: usize = 8;

/// The policy sets an answer was made from, by label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chosen {
    ids: [LabelId; MAX_CHOSEN],
    len: u8,
}

impl Chosen {
    pub fn push(&mut self, id: LabelId) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = id;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[LabelId] {
        self.ids.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// What answering one query decided, for the counters and the query log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub zone: LabelId,
    pub view: LabelId,
    pub qtype: u16,
    /// The full response code (extended RCODE included: BADVERS is 16).
    pub rcode: u16,
    pub policy: Chosen,
    /// The EDNS Client Subnet the query carried: address and source prefix.
    pub ecs: Option<(IpAddr, u8)>,
}

impl Outcome {
    /// A query answered before any view or zone was chosen: malformed,
    /// refused early, or failing its TSIG check.
    pub fn early(qtype: u16, rcode: impl Into<u16>) -> Self {
        Self {
            qtype,
            rcode: rcode.into(),
            ..Self::default()
        }
    }
}

/// The label set of `signpost_queries_total`. `qtype` 0 is "other": types
/// without a mnemonic are counted together, so a client cannot make
/// labels without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryKey {
    pub zone: LabelId,
    pub view: LabelId,
    pub qtype: u16,
    pub rcode: u16,
    pub transport: Transport,
}

/// Response sizes of one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Responses of at most `SIZE_BUCKETS[i]` bytes (not cumulative).
    pub buckets: [u64; SIZE_BUCKETS.len()],
    pub count: u64,
    pub sum: u64,
}

impl Histogram {
    fn observe(&mut self, bytes: usize) {
        let bucket = SIZE_BUCKETS.partition_point(|&bound| (bound as usize) < bytes);
        if let Some(b) = self.buckets.get_mut(bucket) {
            *b += 1;
        }
        self.count += 1;
        self.sum += bytes as u64;
    }

    fn add(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// The counts one thread made (or, summed, the whole server).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub queries: FxHashMap<QueryKey, u64>,
    pub policy_answers: FxHashMap<LabelId, u64>,
    /// Indexed by [`transport_index`].
    pub sizes: [Histogram; 2],
    pub truncated: [u64; 2],
    /// Packets that got no response at all (too short to be DNS, or a
    /// response).
    pub dropped: [u64; 2],
}

/// 0 for UDP, 1 for TCP.
pub fn transport_index(transport: Transport) -> usize {
    match transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    }
}

impl Tally {
    /// Counts one answered query; `response` is the message sent.
    #[inline]
    pub fn record(&mut self, outcome: &Outcome, transport: Transport, response: &[u8]) {
        let key = QueryKey {
            zone: outcome.zone,
            view: outcome.view,
            qtype: if rtype::is_known(outcome.qtype) {
                outcome.qtype
            } else {
                0
            },
            rcode: outcome.rcode,
            transport,
        };
        *self.queries.entry(key).or_default() += 1;
        for id in outcome.policy.as_slice() {
            *self.policy_answers.entry(*id).or_default() += 1;
        }
        let t = transport_index(transport);
        if let Some(h) = self.sizes.get_mut(t) {
            h.observe(response.len());
        }
        if header::is_truncated(response) {
            if let Some(n) = self.truncated.get_mut(t) {
                *n += 1;
            }
        }
    }

    /// Counts a query answered with `response`, or (`None`) dropped.
    #[inline]
    pub fn count(&mut self, outcome: Option<&Outcome>, transport: Transport, response: &[u8]) {
        match outcome {
            Some(outcome) => self.record(outcome, transport, response),
            None => self.record_dropped(transport),
        }
    }

    /// Counts a packet that got no response.
    pub fn record_dropped(&mut self, transport: Transport) {
        if let Some(n) = self.dropped.get_mut(transport_index(transport)) {
            *n += 1;
        }
    }

    fn add(&mut self, other: &Self) {
        for (key, n) in &other.queries {
            *self.queries.entry(*key).or_default() += n;
        }
        for (id, n) in &other.policy_answers {
            *self.policy_answers.entry(*id).or_default() += n;
        }
        for (a, b) in self.sizes.iter_mut().zip(&other.sizes) {
            a.add(b);
        }
        for (a, b) in self.truncated.iter_mut().zip(other.truncated) {
            *a += b;
        }
        for (a, b) in self.dropped.iter_mut().zip(other.dropped) {
            *a += b;
        }
    }
}

type Slot = Arc<Mutex<Tally>>;

/// Every thread's tally, for the scraper.
static SLOTS: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Slot = {
        let slot = Slot::default();
        SLOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(slot.clone());
        slot
    };
}

/// Runs `f` on this thread's tally, locked. (While the thread exits, when
/// its tally is gone, on a throwaway one: the work in `f` still happens.)
#[inline]
pub fn with_tally(f: impl FnOnce(&mut Tally)) {
    let mut f = Some(f);
    let _ = MINE.try_with(|slot| {
        if let Some(f) = f.take() {
            f(&mut slot.lock().unwrap_or_else(PoisonError::into_inner));
        }
    });
    if let Some(f) = f {
        f(&mut Tally::default());
    }
}

/// The sum of every thread's tally.
pub fn total() -> Tally {
    let slots: Vec<Slot> = SLOTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut sum = Tally::default();
    for slot in slots {
        // Copy under the lock, add outside it: a worker waits only for the copy.
        let copy = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
        sum.add(&copy);
    }
    sum
}

/// Counters of events off the query path.
#[derive(Debug, Default)]
pub struct Events {
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub tcp_accepted: AtomicU64,
    pub tcp_closed: AtomicU64,
    /// Connections closed at once because every slot was taken.
    pub tcp_refused: AtomicU64,
    /// Health state changes, by check label.
    health_transitions: Mutex<FxHashMap<LabelId, u64>>,
}

pub static EVENTS: LazyLock<Events> = LazyLock::new(Events::default);

impl Events {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload(&self, ok: bool) {
        Self::count(if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        });
    }

    pub fn health_transition(&self, check: &str) {
        let id = labels::intern(&[check]);
        *self
            .health_transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default() += 1;
    }

    pub fn health_transitions(&self) -> FxHashMap<LabelId, u64> {
        self.health_transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_by_label_size_and_flags() {
        let zone = labels::intern(&["tally.example."]);
        let mut outcome = Outcome {
            zone,
            view: NONE,
            qtype: rtype::A,
            rcode: 0,
            policy: Chosen::default(),
            ecs: None,
        };
        outcome.policy.push(7);
        let mut tally = Tally::default();
        let plain = [0u8; 100];
        let mut truncated = [0u8; 600];
        truncated[2] = (header::FLAG_TC >> 8) as u8;
        tally.record(&outcome, Transport::Udp, &plain);
        tally.record(&outcome, Transport::Udp, &truncated);
        outcome.qtype = 65280; // no mnemonic: "other"
        tally.record(&outcome, Transport::Tcp, &plain);
        tally.record_dropped(Transport::Udp);

        let key = |qtype, transport| QueryKey {
            zone,
            view: NONE,
            qtype,
            rcode: 0,
            transport,
        };
        assert_eq!(tally.queries[&key(rtype::A, Transport::Udp)], 2);
        assert_eq!(tally.queries[&key(0, Transport::Tcp)], 1);
        assert_eq!(tally.policy_answers[&7], 3);
        assert_eq!(tally.truncated, [1, 0]);
        assert_eq!(tally.dropped, [1, 0]);
        let udp = tally.sizes[0];
        assert_eq!((udp.count, udp.sum), (2, 700));
        // 100 bytes in the ≤128 bucket, 600 in the ≤1232 one.
        assert_eq!(udp.buckets[1], 1);
        assert_eq!(udp.buckets[4], 1);

        let mut sum = tally.clone();
        sum.add(&tally);
        assert_eq!(sum.queries[&key(rtype::A, Transport::Udp)], 4);
        assert_eq!(sum.sizes[0].sum, 1400);
    }

    #[test]
    fn chosen_keeps_the_first_sets() {
        let mut chosen = Chosen::default();
        for id in 1..=10 {
            chosen.push(id);
        }
        assert_eq!(chosen.as_slice(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
