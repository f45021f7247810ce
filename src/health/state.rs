//! The state of every check and the rules that turn probe results into
//! published states: anti-flap thresholds, inversion, operator overrides,
//! calculated checks and the fail-open/fail-closed state of plugin
//! targets whose plugin cannot say. Pure and synchronous: the monitor
//! feeds it results and publishes what it computes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::check::{CheckDef, CheckKind};
use crate::stats::EVENTS;

/// Counts consecutive results that disagree with the current state; that
/// many (the threshold) flip it, in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tracker {
    pub up: bool,
    pub streak: u8,
}

impl Tracker {
    /// Healthy until proven otherwise (see the module docs of health/).
    pub(super) fn new() -> Self {
        Self {
            up: true,
            streak: 0,
        }
    }

    /// Returns whether the state flipped.
    pub(super) fn observe(&mut self, ok: bool, threshold: u8) -> bool {
        if ok == self.up {
            self.streak = 0;
            return false;
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak >= threshold.max(1) {
            self.up = ok;
            self.streak = 0;
            true
        } else {
            false
        }
    }
}

/// What one probe or plugin report said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Up,
    Down,
    /// The plugin could not say (crashed, hung, garbage, target missing).
    Unknown,
}

impl Outcome {
    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Up => "ok",
            Self::Down => "fail",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Observation {
    pub(super) outcome: Outcome,
    pub reason: String,
    pub latency: Option<Duration>,
    pub at: SystemTime,
}

/// One check on the board: its definition and everything known of it.
#[derive(Debug, Clone)]
pub(super) struct CheckState {
    pub def: CheckDef,
    /// Which probe task may report: results from a task started for an
    /// older definition are dropped.
    pub epoch: u64,
    pub tracker: Tracker,
    /// The plugin cannot say; the check's `unknown` state applies.
    pub unknown: bool,
    pub forced: Option<bool>,
    pub last: Option<Observation>,
    /// As last published.
    pub up: bool,
    pub changed: SystemTime,
}

/// Every check's state, in index order.
#[derive(Debug, Default)]
pub(super) struct Board {
    pub entries: Vec<CheckState>,
    index: HashMap<String, usize>,
    next_epoch: u64,
}

impl Board {
    pub(super) fn new(defs: &[CheckDef]) -> Self {
        let mut board = Self::default();
        board.reconfigure(defs);
        board
    }

    fn fresh(&mut self, def: &CheckDef) -> CheckState {
        self.next_epoch += 1;
        CheckState {
            def: def.clone(),
            epoch: self.next_epoch,
            tracker: Tracker::new(),
            unknown: false,
            forced: None,
            last: None,
            up: true,
            changed: SystemTime::now(),
        }
    }

    /// Takes a new list of checks. A check whose name was already there
    /// keeps its state, its override and its last result; a changed
    /// definition gets a new epoch (its old probe task is replaced).
    /// Returns whether the names or their order changed (the published
    /// table then has a new layout).
    pub(super) fn reconfigure(&mut self, defs: &[CheckDef]) -> bool {
        let mut old: HashMap<String, CheckState> = self
            .entries
            .drain(..)
            .map(|e| (e.def.name.clone(), e))
            .collect();
        let same_layout = defs.len() == self.index.len()
            && defs
                .iter()
                .enumerate()
                .all(|(i, d)| self.index.get(&d.name) == Some(&i));
        let mut entries = Vec::with_capacity(defs.len());
        let mut fresh = Vec::new();
        for def in defs {
            let entry = match old.remove(&def.name) {
                Some(mut e) => {
                    if e.def != *def {
                        self.next_epoch += 1;
                        e.epoch = self.next_epoch;
                        if e.def.kind.type_name() != def.kind.type_name() {
                            // Another kind of probe: its old results say
                            // nothing about the new one, but the state
                            // stays until the new probe has a verdict.
                            e.tracker.streak = 0;
                            e.unknown = false;
                        }
                        e.def = def.clone();
                    }
                    e
                }
                None => {
                    fresh.push(entries.len());
                    self.fresh(def)
                }
            };
            entries.push(entry);
        }
        self.index = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        self.entries = entries;
        // Checks that are new start from their computed state, without
        // counting as a change.
        let up = self.compute();
        for i in fresh {
            if let (Some(e), Some(&up)) = (self.entries.get_mut(i), up.get(i)) {
                e.up = up;
            }
        }
        self.settle();
        !same_layout
    }

    pub(super) fn get(&self, name: &str) -> Option<&CheckState> {
        self.index.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Records a probe result. Returns whether any published state changed.
    pub(super) fn observe(&mut self, name: &str, epoch: u64, obs: Observation) -> bool {
        let Some(&i) = self.index.get(name) else {
            return false;
        };
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        if e.epoch != epoch {
            return false;
        }
        Self::apply(e, obs);
        !self.settle().is_empty()
    }

    fn apply(e: &mut CheckState, obs: Observation) {
        match obs.outcome {
            Outcome::Unknown => e.unknown = true,
            Outcome::Up | Outcome::Down => {
                e.unknown = false;
                e.tracker
                    .observe(obs.outcome == Outcome::Up, e.def.threshold);
            }
        }
        e.last = Some(obs);
    }

    /// Records what a plugin said about its targets (`Err`: it could not
    /// say anything, e.g. it crashed). Returns whether any published state
    /// changed.
    pub(super) fn observe_plugin(
        &mut self,
        plugin: &str,
        report: Result<&HashMap<String, (Outcome, String)>, &str>,
        at: SystemTime,
    ) -> bool {
        for e in &mut self.entries {
            let CheckKind::Plugin(p) = &e.def.kind else {
                continue;
            };
            if p.plugin != plugin {
                continue;
            }
            let (outcome, reason) = match report {
                Ok(states) => match states.get(&p.target) {
                    Some((o, r)) => (*o, r.clone()),
                    None => (
                        Outcome::Unknown,
                        format!("plugin {plugin} did not report target {}", p.target),
                    ),
                },
                Err(why) => (Outcome::Unknown, why.to_string()),
            };
            Self::apply(
                e,
                Observation {
                    outcome,
                    reason,
                    latency: None,
                    at,
                },
            );
        }
        !self.settle().is_empty()
    }

    /// Sets or clears (None) an operator override. Err: no such check.
    pub(super) fn force(&mut self, name: &str, state: Option<bool>) -> Result<bool, ()> {
        let i = *self.index.get(name).ok_or(())?;
        if let Some(e) = self.entries.get_mut(i) {
            e.forced = state;
        }
        Ok(!self.settle().is_empty())
    }

    /// The published state of every check, by index.
    pub(super) fn effective(&self) -> Vec<bool> {
        self.entries.iter().map(|e| e.up).collect()
    }

    /// What every check's state should be now.
    fn compute(&self) -> Vec<bool> {
        let mut memo: Vec<Option<bool>> = vec![None; self.entries.len()];
        for i in 0..self.entries.len() {
            self.eval(i, &mut memo, 0);
        }
        memo.into_iter().map(|v| v.unwrap_or(true)).collect()
    }

    fn eval(&self, i: usize, memo: &mut Vec<Option<bool>>, depth: usize) -> bool {
        if let Some(Some(v)) = memo.get(i) {
            return *v;
        }
        let Some(e) = self.entries.get(i) else {
            return true;
        };
        let raw = match &e.def.kind {
            CheckKind::Static { up } => *up,
            CheckKind::Http(_) | CheckKind::Tcp(_) => e.tracker.up,
            CheckKind::Plugin(p) if e.unknown => p.unknown_up,
            CheckKind::Plugin(_) => e.tracker.up,
            // Validation refuses cycles; the depth bound is a backstop.
            CheckKind::Calculated { .. } if depth > self.entries.len() => true,
            CheckKind::Calculated {
                children,
                min_healthy,
            } => {
                let healthy = children
                    .iter()
                    .filter_map(|c| self.index.get(c).copied())
                    .filter(|&c| self.eval(c, memo, depth + 1))
                    .count();
                healthy >= *min_healthy
            }
        };
        let value = e.forced.unwrap_or(raw != e.def.inverted);
        if let Some(slot) = memo.get_mut(i) {
            *slot = Some(value);
        }
        value
    }

    /// Brings the published states in line with the computed ones; returns
    /// the names that flipped (and logs each flip).
    fn settle(&mut self) -> Vec<String> {
        let now = SystemTime::now();
        let mut flipped = Vec::new();
        let computed = self.compute();
        for (e, up) in self.entries.iter_mut().zip(computed) {
            if e.up != up {
                e.up = up;
                e.changed = now;
                let reason = e.last.as_ref().map_or("", |l| l.reason.as_str());
                let how = if e.forced.is_some() { "forced " } else { "" };
                // A notice either way: normal operation an operator wants
                // to see (journald priority 5), not a fault of the server.
                let state = if up { "up" } else { "down" };
                crate::proto::diag::notice!(
                    check = %e.def.name,
                    "health check {how}{state}: {reason}"
                );
                flipped.push(e.def.name.clone());
                EVENTS.health_transition(&e.def.name);
            }
        }
        flipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::check::{Endpoint, PluginTarget};

    fn tcp(name: &str, threshold: u8, inverted: bool) -> CheckDef {
        CheckDef {
            name: name.into(),
            kind: CheckKind::Tcp(Endpoint {
                address: "127.0.0.1".into(),
                port: 1,
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }),
            threshold,
            inverted,
        }
    }

    fn obs(outcome: Outcome) -> Observation {
        Observation {
            outcome,
            reason: String::new(),
            latency: None,
            at: SystemTime::now(),
        }
    }

    fn feed(board: &mut Board, name: &str, outcome: Outcome) {
        let epoch = board.get(name).unwrap().epoch;
        board.observe(name, epoch, obs(outcome));
    }

    #[test]
    fn threshold_flips_both_ways() {
        let mut t = Tracker::new();
        assert!(!t.observe(false, 3));
        assert!(!t.observe(false, 3));
        assert!(!t.observe(true, 3)); // resets the streak
        assert!(!t.observe(false, 3));
        assert!(!t.observe(false, 3));
        assert!(t.observe(false, 3));
        assert!(!t.up);
        assert!(!t.observe(true, 3));
        assert!(!t.observe(true, 3));
        assert!(t.observe(true, 3));
        assert!(t.up);
    }

    #[test]
    fn inverted_calculated_and_forced() {
        let calc = CheckDef {
            name: "calc".into(),
            kind: CheckKind::Calculated {
                children: vec!["a".into(), "b".into(), "c".into()],
                min_healthy: 2,
            },
            threshold: 1,
            inverted: false,
        };
        let defs = vec![
            tcp("a", 1, false),
            tcp("b", 1, false),
            tcp("c", 1, true),
            calc,
        ];
        let mut board = Board::new(&defs);
        // c is inverted: its endpoint starts "up", so it is down.
        assert_eq!(board.effective(), [true, true, false, true]);
        feed(&mut board, "a", Outcome::Down);
        assert_eq!(board.effective(), [false, true, false, false]);
        feed(&mut board, "c", Outcome::Down);
        assert_eq!(board.effective(), [false, true, true, true]);
        board.force("b", Some(false)).unwrap();
        assert_eq!(board.effective(), [false, false, true, false]);
        board.force("b", None).unwrap();
        assert_eq!(board.effective(), [false, true, true, true]);
        assert!(board.force("nope", None).is_err());
    }

    #[test]
    fn reconfigure_keeps_state_overrides_and_drops_stale_results() {
        let mut board = Board::new(&[tcp("a", 1, false), tcp("b", 1, false)]);
        feed(&mut board, "a", Outcome::Down);
        board.force("b", Some(false)).unwrap();
        let old_epoch = board.get("a").unwrap().epoch;
        // New order, a new check, a changed definition of a.
        let moved =
            board.reconfigure(&[tcp("new", 1, false), tcp("b", 1, false), tcp("a", 2, false)]);
        assert!(moved);
        assert_eq!(board.effective(), [true, false, false]);
        assert_eq!(board.get("b").unwrap().forced, Some(false));
        assert!(!board.observe("a", old_epoch, obs(Outcome::Up)));
        assert!(!board.get("a").unwrap().up);
        assert!(!board.reconfigure(&[
            tcp("new", 1, false),
            tcp("b", 1, false),
            tcp("a", 2, false)
        ]));
    }

    #[test]
    fn plugin_targets_unknown_fail_open_or_closed() {
        let plugin = |name: &str, target: &str, unknown_up| CheckDef {
            name: name.into(),
            kind: CheckKind::Plugin(PluginTarget {
                plugin: "p".into(),
                target: target.into(),
                unknown_up,
            }),
            threshold: 1,
            inverted: false,
        };
        let mut board = Board::new(&[plugin("open", "a", true), plugin("closed", "b", false)]);
        let mut states = HashMap::new();
        states.insert("a".to_string(), (Outcome::Down, "x".to_string()));
        states.insert("b".to_string(), (Outcome::Up, "y".to_string()));
        board.observe_plugin("p", Ok(&states), SystemTime::now());
        assert_eq!(board.effective(), [false, true]);
        board.observe_plugin("p", Err("crashed"), SystemTime::now());
        assert_eq!(board.effective(), [true, false]);
        states.remove("b");
        board.observe_plugin("p", Ok(&states), SystemTime::now());
        assert_eq!(board.effective(), [false, false]);
        assert!(board
            .get("closed")
            .unwrap()
            .last
            .as_ref()
            .unwrap()
            .reason
            .contains("did not report"));
    }
}
