//! The state of every check and the rules that turn probe results into
//! published states: anti-flap thresholds, inversion, operator overrides,
//! calculated checks and the fail-open/fail-closed state of plugin
//! targets whose plugin cannot say. Pure and synchronous: the monitor
//! feeds it results and publishes what it computes.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::check::{CheckDef, CheckKind, TtlLowering, WhenUnknown};
use super::HealthTable;
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
    /// When the published state last flipped (not set by being
    /// configured): what `[health_ttl] window` counts from.
    pub flipped: Option<Instant>,
}

/// Every check's state, in index order.
#[derive(Debug, Default)]
pub(super) struct Board {
    pub entries: Vec<CheckState>,
    index: HashMap<String, usize>,
    next_epoch: u64,
    /// `[health_ttl]`, when configured.
    pub lowering: Option<TtlLowering>,
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
            flipped: None,
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

    /// Which checks are failing or recovering at `now` (with
    /// `[health_ttl]`; empty without).
    pub(super) fn unsettled(&self, now: Instant) -> Vec<bool> {
        let Some(lowering) = self.lowering else {
            return Vec::new();
        };
        self.entries
            .iter()
            .map(|e| {
                !e.up
                    || e
                        .flipped
                        .is_some_and(|t| now.saturating_duration_since(t) < lowering.window)
            })
            .collect()
    }

    /// The table to publish at `now`.
    pub(super) fn table(&self, now: Instant) -> HealthTable {
        match self.lowering {
            None => HealthTable::new(self.effective()),
            Some(lowering) => HealthTable::with_lowering(
                self.effective(),
                self.unsettled(now),
                lowering.ttl,
            ),
        }
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
            CheckKind::Plugin(p) if e.unknown => match p.unknown {
                WhenUnknown::Up => true,
                WhenUnknown::Down => false,
                // The tracker holds the last verdict reported.
                WhenUnknown::LastKnown => e.tracker.up,
            },
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

    /// Why a check is in its state, as `signpostctl health` and the log
    /// say it: the last probe's reason, or what decides a check that is
    /// not probed. A calculated check names the children that decided.
    pub(super) fn reason(&self, e: &CheckState) -> String {
        let mut reason = match (&e.def.kind, &e.last) {
            (CheckKind::Calculated { children, min_healthy }, _) => {
                self.children_reason(children, *min_healthy)
            }
            (CheckKind::Static { .. }, _) => "fixed in the config".to_string(),
            (CheckKind::Plugin(p), Some(last)) if e.unknown => match p.unknown {
                WhenUnknown::LastKnown => {
                    format!("{}; last known state kept (unknown = \"last_known\")", last.reason)
                }
                other => format!("{}; unknown = \"{}\"", last.reason, other.word()),
            },
            (_, Some(last)) => last.reason.clone(),
            (_, None) => "not checked yet".to_string(),
        };
        if e.def.inverted {
            reason.push_str("; inverted");
        }
        reason
    }

    /// `1 of 3 healthy (s2), needs 2; down: s1, s3`.
    fn children_reason(&self, children: &[String], min_healthy: usize) -> String {
        let state = |c: &String| self.get(c).is_none_or(|e| e.up);
        let up: Vec<&str> = children
            .iter()
            .filter(|c| state(c))
            .map(String::as_str)
            .collect();
        let down: Vec<&str> = children
            .iter()
            .filter(|c| !state(c))
            .map(String::as_str)
            .collect();
        let mut text = format!("{} of {} healthy", up.len(), children.len());
        if !up.is_empty() {
            text.push_str(&format!(" ({})", up.join(", ")));
        }
        text.push_str(&format!(", needs {min_healthy}"));
        if !down.is_empty() {
            text.push_str(&format!("; down: {}", down.join(", ")));
        }
        text
    }

    /// Brings the published states in line with the computed ones; returns
    /// the names that flipped (and logs each flip, once every state is
    /// updated, so that a calculated check's reason sees its children's).
    fn settle(&mut self) -> Vec<String> {
        let now = SystemTime::now();
        let instant = Instant::now();
        let mut flipped = Vec::new();
        let computed = self.compute();
        for (i, (e, up)) in self.entries.iter_mut().zip(computed).enumerate() {
            if e.up != up {
                e.up = up;
                e.changed = now;
                e.flipped = Some(instant);
                flipped.push(i);
            }
        }
        flipped
            .into_iter()
            .filter_map(|i| self.entries.get(i))
            .map(|e| {
                let reason = self.reason(e);
                let how = if e.forced.is_some() { "forced " } else { "" };
                // A notice either way: normal operation an operator wants
                // to see (journald priority 5), not a fault of the server.
                let state = if e.up { "up" } else { "down" };
                crate::proto::diag::notice!(
                    check = %e.def.name,
                    "health check {how}{state}: {reason}"
                );
                EVENTS.health_transition(&e.def.name);
                e.def.name.clone()
            })
            .collect()
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

    fn plugin(name: &str, target: &str, unknown: WhenUnknown) -> CheckDef {
        CheckDef {
            name: name.into(),
            kind: CheckKind::Plugin(PluginTarget {
                plugin: "p".into(),
                target: target.into(),
                unknown,
            }),
            threshold: 1,
            inverted: false,
        }
    }

    fn report(board: &mut Board, states: &[(&str, Outcome)]) {
        let states: HashMap<String, (Outcome, String)> = states
            .iter()
            .map(|(t, o)| (t.to_string(), (*o, format!("{t} says {}", o.word()))))
            .collect();
        board.observe_plugin("p", Ok(&states), SystemTime::now());
    }

    #[test]
    fn plugin_targets_unknown_fail_open_or_closed() {
        let mut board = Board::new(&[
            plugin("open", "a", WhenUnknown::Up),
            plugin("closed", "b", WhenUnknown::Down),
        ]);
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

    #[test]
    fn last_known_keeps_the_last_reported_state_while_unknown() {
        let mut board = Board::new(&[
            plugin("was-down", "a", WhenUnknown::LastKnown),
            plugin("was-up", "b", WhenUnknown::LastKnown),
            plugin("never", "c", WhenUnknown::LastKnown),
            plugin("open", "a", WhenUnknown::Up),
        ]);
        report(&mut board, &[("a", Outcome::Down), ("b", Outcome::Up)]);
        // c was never reported: unknown, with no last state to keep, so
        // healthy (fail open).
        assert_eq!(board.effective(), [false, true, true, false]);
        // The plugin crashes: unknown for every target.
        board.observe_plugin("p", Err("plugin p: crashed"), SystemTime::now());
        assert_eq!(board.effective(), [false, true, true, true]);
        let reason = board.reason(board.get("was-down").unwrap());
        assert!(reason.contains("crashed") && reason.contains("last known state kept"), "{reason}");
        // Unknown for a target alone (left out of a report) is the same.
        report(&mut board, &[("b", Outcome::Up)]);
        assert_eq!(board.effective(), [false, true, true, true]);
        // A new verdict is taken as usual, then kept in turn.
        report(&mut board, &[("a", Outcome::Up), ("b", Outcome::Down)]);
        assert_eq!(board.effective(), [true, false, true, true]);
        board.observe_plugin("p", Err("plugin p: hung"), SystemTime::now());
        assert_eq!(board.effective(), [true, false, true, true]);
    }

    #[test]
    fn calculated_reason_names_the_children_that_decided() {
        let calc = |min_healthy, inverted| CheckDef {
            name: "calc".into(),
            kind: CheckKind::Calculated {
                children: vec!["s1".into(), "s2".into(), "s3".into()],
                min_healthy,
            },
            threshold: 1,
            inverted,
        };
        let mut board = Board::new(&[
            tcp("s1", 1, false),
            tcp("s2", 1, false),
            tcp("s3", 1, false),
            calc(2, false),
        ]);
        let reason = |board: &Board| board.reason(board.get("calc").unwrap());
        assert_eq!(reason(&board), "3 of 3 healthy (s1, s2, s3), needs 2");
        feed(&mut board, "s1", Outcome::Down);
        assert_eq!(reason(&board), "2 of 3 healthy (s2, s3), needs 2; down: s1");
        assert!(board.get("calc").unwrap().up);
        feed(&mut board, "s3", Outcome::Down);
        assert!(!board.get("calc").unwrap().up);
        assert_eq!(reason(&board), "1 of 3 healthy (s2), needs 2; down: s1, s3");
        feed(&mut board, "s2", Outcome::Down);
        assert_eq!(reason(&board), "0 of 3 healthy, needs 2; down: s1, s2, s3");
        // An override of a child counts as its state.
        board.force("s2", Some(true)).unwrap();
        assert_eq!(reason(&board), "1 of 3 healthy (s2), needs 2; down: s1, s3");
        board.reconfigure(&[
            tcp("s1", 1, false),
            tcp("s2", 1, false),
            tcp("s3", 1, false),
            calc(1, true),
        ]);
        assert_eq!(
            reason(&board),
            "1 of 3 healthy (s2), needs 1; down: s1, s3; inverted"
        );
        assert!(!board.get("calc").unwrap().up);
    }

    #[test]
    fn unsettled_while_down_and_within_the_window_after_a_flip() {
        let mut board = Board::new(&[tcp("a", 1, false), tcp("b", 1, false)]);
        let now = Instant::now();
        // Off: nothing is ever unsettled.
        feed(&mut board, "a", Outcome::Down);
        assert!(board.unsettled(now).is_empty());
        assert_eq!(board.table(now).lowered_ttl(0), None);
        board.lowering = Some(TtlLowering {
            ttl: 7,
            window: Duration::from_secs(60),
        });
        // a is down; b never changed (being configured is no change).
        assert_eq!(board.unsettled(Instant::now()), [true, false]);
        feed(&mut board, "a", Outcome::Up);
        let flipped = board.get("a").unwrap().flipped.unwrap();
        // Recovering within the window, settled after it.
        assert_eq!(board.unsettled(flipped + Duration::from_secs(59)), [true, false]);
        assert_eq!(board.unsettled(flipped + Duration::from_secs(60)), [false, false]);
        let table = board.table(flipped + Duration::from_secs(1));
        assert_eq!(table.lowered_ttl(0), Some(7));
        assert_eq!(table.lowered_ttl(1), None);
        assert_eq!(table.lowered_ttl(9), None);
    }
}
