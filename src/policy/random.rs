//! The random source of weighted draws and multivalue shuffles. The query
//! path hands one to every decision, so tests inject a seeded or scripted
//! source and check draws exactly; servers use one generator per thread,
//! which takes no lock.

use std::cell::Cell;

/// Where draws come from.
pub(crate) trait Random {
    /// A number in `0..n`; `n` is at least 1.
    fn below(&self, n: u64) -> u64;
}

/// SplitMix64: fast, well distributed, one word of state.
#[derive(Debug)]
pub(crate) struct SplitMix(Cell<u64>);

impl SplitMix {
    /// The same seed gives the same sequence.
    pub(crate) fn seeded(seed: u64) -> Self {
        Self(Cell::new(seed))
    }

    /// A different sequence per thread and run.
    fn unpredictable() -> Self {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let stack = &time as *const u64 as u64;
        Self::seeded(time ^ stack.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.0.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Random for SplitMix {
    fn below(&self, n: u64) -> u64 {
        // The modulo bias is below 2^-40 for the small n used here.
        self.next() % n.max(1)
    }
}

thread_local! {
    static THREAD: SplitMix = SplitMix::unpredictable();
}

/// Runs `f` with this thread's generator.
pub(crate) fn with_thread_random<R>(f: impl FnOnce(&dyn Random) -> R) -> R {
    THREAD.with(|random| f(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_range() {
        let (a, b) = (SplitMix::seeded(7), SplitMix::seeded(7));
        let first: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let second: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(first, second);
        assert!(first.iter().all(|&x| x < 10));
        // All ten values turn up: not a constant or a short cycle.
        assert!((0..10).all(|v| first.contains(&v)));
        assert_eq!(SplitMix::seeded(1).below(1), 0);
    }
}
