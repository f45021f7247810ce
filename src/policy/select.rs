//! Choosing the sets of a policy group for one query, with exactly the
//! health rules of SPEC §3, and recording why (for `signpostctl explain`)
//! and how specific the client's network had to be (the ECS scope).

use std::net::IpAddr;

use arc_swap::ArcSwap;

use super::random::Random;
use super::{GeoMatch, Kind, PolicyConfig, PolicyGroup, PolicySet, Rule};
use crate::geo::{distance_km, Location};
use crate::health::HealthTable;
use crate::upstream;
use crate::proto::canonical;
use crate::stats::Chosen;

/// Most records a multivalue answer carries (SPEC §3).
const MULTIVALUE_MAX: usize = 8;

/// The per-query inputs of policy decisions, and what they produced.
pub(crate) struct Env<'a> {
    pub(crate) config: &'a PolicyConfig,
    pub(crate) health: &'a HealthTable,
    /// The address whose location decides: the ECS address when the query
    /// carries one, else the source address. `None`: location unknown
    /// (ECS with source prefix 0).
    pub(crate) client_ip: Option<IpAddr>,
    /// The ECS source prefix length, when the query had ECS.
    pub(crate) source_prefix: Option<u8>,
    location: Option<Option<(Location, u8)>>,
    /// The narrowest client network (longest prefix) any decision in this
    /// answer depended on; `None` when location did not matter.
    pub(crate) scope: Option<u8>,
    /// Lines explaining each decision, when asked for.
    pub(crate) trace: Option<Vec<String>>,
    /// Some decision had to answer with an unhealthy set (everything was
    /// down): what `evaluate-health` on an ALIAS looks at.
    pub(crate) degraded: bool,
    /// Weighted draws and multivalue shuffles.
    pub(crate) random: &'a dyn Random,
    /// The sets answered with, for metrics and the query log.
    pub(crate) chosen: Chosen,
    /// Addresses of ALIAS targets outside our zones (none: nothing is
    /// resolved, as offline).
    pub(crate) aliases: Option<&'a ArcSwap<upstream::Cache>>,
    /// With `[health_ttl]`: the TTL the answer carries at most, because a
    /// decision in it depended on a check that is failing or recovering.
    pub(crate) ttl_cap: Option<u32>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(
        config: &'a PolicyConfig,
        health: &'a HealthTable,
        client_ip: Option<IpAddr>,
        source_prefix: Option<u8>,
        random: &'a dyn Random,
    ) -> Self {
        Self {
            config,
            health,
            client_ip,
            source_prefix,
            location: None,
            scope: None,
            trace: None,
            degraded: false,
            random,
            chosen: Chosen::default(),
            aliases: None,
            ttl_cap: None,
        }
    }

    /// Caps the answer's TTL at `ttl` (the lowest cap wins).
    #[inline]
    pub(crate) fn cap_ttl(&mut self, ttl: Option<u32>) {
        if let Some(ttl) = ttl {
            self.ttl_cap = Some(self.ttl_cap.map_or(ttl, |cap| cap.min(ttl)));
        }
    }

    /// A number in `0..n` (n > 0).
    fn below(&self, n: u64) -> u64 {
        self.random.below(n)
    }

    pub(crate) fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(line());
        }
    }

    /// The client's location from the GeoIP database, looked up once.
    #[inline]
    fn location(&mut self) -> Option<(Location, u8)> {
        if self.location.is_none() {
            let found = match (self.client_ip, &self.config.geo) {
                (Some(ip), Some(db)) => db.locate(canonical(ip)),
                _ => None,
            };
            self.location = Some(found);
        }
        self.location.flatten()
    }

    /// Records that the answer depended on the client's network at this
    /// prefix length (or, unknown, on the whole source prefix).
    fn depends_on(&mut self, prefix: Option<u8>) {
        let prefix = prefix.or(self.source_prefix).unwrap_or(0);
        let prefix = match self.source_prefix {
            Some(source) => prefix.min(source),
            None => prefix,
        };
        self.scope = Some(self.scope.map_or(prefix, |s| s.max(prefix)));
    }
}

/// Sets per policy group whose health fits on the stack.
const INLINE_SETS: usize = 16;

/// Chooses the sets of `group` to answer with. `extra_health` adds the
/// ALIAS `evaluate-health` verdict of a set. Empty: no set applies (NODATA).
pub(crate) fn select<'g>(
    group: &'g PolicyGroup,
    env: &mut Env<'_>,
    extra_health: &mut dyn FnMut(&PolicySet) -> bool,
) -> Vec<&'g PolicySet> {
    // Health of each set, on the stack for the usual handful of sets: this
    // runs for every policy answer.
    let mut inline = [false; INLINE_SETS];
    let mut spilled = Vec::new();
    let healthy: &mut [bool] = match inline.get_mut(..group.sets.len()) {
        Some(slots) => slots,
        None => {
            spilled.resize(group.sets.len(), false);
            &mut spilled
        }
    };
    let capped_before = env.ttl_cap;
    for (set, slot) in group.sets.iter().zip(healthy.iter_mut()) {
        let by_check = set.health.is_none_or(|i| env.health.is_healthy(i));
        // A failing or recovering check anywhere in the group may change
        // what the group answers soon: the whole answer gets a short TTL.
        if let Some(i) = set.health {
            env.cap_ttl(env.health.lowered_ttl(i));
        }
        let ok = by_check && (!set.evaluate_health || extra_health(set));
        env.note(|| {
            format!(
                "  set {:<12} {:<28} {}",
                set.id,
                describe(&set.rule, env.config),
                if ok { "healthy" } else { "unhealthy" }
            )
        });
        *slot = ok;
    }
    let healthy: &[bool] = healthy;
    if env.ttl_cap != capped_before {
        let cap = env.ttl_cap.unwrap_or(0);
        env.note(|| {
            format!(
                "  a check of this group is failing or recovering: TTL at most {cap} s ([health_ttl])"
            )
        });
    }
    let chosen = match group.kind {
        Kind::Weighted => weighted(group, healthy, env),
        Kind::Failover => failover(group, healthy),
        Kind::Geolocation => geolocation(group, healthy, env),
        Kind::Geoproximity | Kind::Latency => nearest(group, healthy, env),
        Kind::Cidr => cidr(group, healthy, env),
        Kind::Multivalue => {
            if !healthy.iter().any(|&h| h) {
                env.degraded = true;
            }
            let sets = multivalue(group, healthy, env);
            for set in &sets {
                env.chosen.push(set.label);
            }
            return sets;
        }
    };
    if chosen.is_some_and(|i| !healthy.get(i).copied().unwrap_or(false)) {
        env.degraded = true;
    }
    match chosen {
        Some(i) => {
            let set = group.sets.get(i);
            env.note(|| format!("  chose set {}", set.map_or("?", |s| &s.id)));
            if let Some(set) = set {
                env.chosen.push(set.label);
            }
            set.into_iter().collect()
        }
        None => {
            env.note(|| "  no set applies: NODATA".to_string());
            Vec::new()
        }
    }
}

fn describe(rule: &Rule, config: &PolicyConfig) -> String {
    match rule {
        Rule::Weighted { weight } => format!("weight={weight}"),
        Rule::Failover { primary } => {
            format!("role={}", if *primary { "primary" } else { "secondary" })
        }
        Rule::Geolocation(GeoMatch::Default) => "location=*".into(),
        Rule::Geolocation(GeoMatch::Continent(c)) => format!("continent={}", show2(c)),
        Rule::Geolocation(GeoMatch::Country(c)) => format!("country={}", show2(c)),
        Rule::Geolocation(GeoMatch::Subdivision(c, s)) => format!("subdivision={}-{s}", show2(c)),
        Rule::Geoproximity { coordinates, bias } => {
            format!("at {:.2},{:.2} bias={bias}", coordinates.0, coordinates.1)
        }
        Rule::Latency { region } => format!(
            "region={}",
            config
                .regions
                .get(*region as usize)
                .map_or("?", |r| &r.name)
        ),
        Rule::Cidr {
            collection,
            location,
        } => {
            let c = config.collections.get(*collection as usize);
            let loc = location
                .and_then(|l| c?.locations.get(l as usize))
                .map_or("*", |(n, _)| n.as_str());
            format!("cidr={}/{loc}", c.map_or("?", |c| &c.name))
        }
        Rule::Multivalue => "multivalue".into(),
    }
}

fn show2(code: &[u8; 2]) -> String {
    String::from_utf8_lossy(code).into_owned()
}

fn weight_of(set: &PolicySet) -> u64 {
    match set.rule {
        Rule::Weighted { weight } => u64::from(weight),
        _ => 0,
    }
}

/// Probability weight/sum among healthy sets; zero-weight sets only when
/// every weighted set is down; everything when all are down.
fn weighted(group: &PolicyGroup, healthy: &[bool], env: &mut Env<'_>) -> Option<usize> {
    let ok = |i: usize| healthy.get(i).copied().unwrap_or(false);
    // The first tier with any member draws; no allocation on this path.
    type Eligible<'f> = &'f dyn Fn(usize, &PolicySet) -> bool;
    let tiers: [Eligible<'_>; 3] = [
        &|i, s| ok(i) && weight_of(s) > 0,
        &|i, s| ok(i) && weight_of(s) == 0,
        &|_, _| true,
    ];
    for (tier, eligible) in tiers.iter().enumerate() {
        let members = || {
            group
                .sets
                .iter()
                .enumerate()
                .filter(|(i, s)| eligible(*i, s))
        };
        let count = members().count();
        if count == 0 {
            continue;
        }
        match tier {
            1 => env.note(|| "  every weighted set is down: using healthy zero-weight sets".into()),
            2 => env.note(|| "  every set is down: all count as healthy".into()),
            _ => {}
        }
        let total: u64 = members().map(|(_, s)| weight_of(s)).sum();
        if total == 0 {
            return members()
                .nth(env.below(count as u64) as usize)
                .map(|(i, _)| i);
        }
        let mut draw = env.below(total);
        for (i, set) in members() {
            let w = weight_of(set);
            if draw < w {
                return Some(i);
            }
            draw -= w;
        }
        return members().next_back().map(|(i, _)| i);
    }
    None
}

fn failover(group: &PolicyGroup, healthy: &[bool]) -> Option<usize> {
    let find = |primary: bool| {
        group
            .sets
            .iter()
            .position(|s| s.rule == Rule::Failover { primary })
    };
    let primary = find(true);
    let secondary = find(false);
    let ok = |i: Option<usize>| i.filter(|&i| healthy.get(i).copied().unwrap_or(false));
    ok(primary).or(ok(secondary)).or(primary).or(secondary)
}

/// Subdivision, then country, then continent, then default; an unhealthy
/// match gives way to the next broader healthy one.
fn geolocation(group: &PolicyGroup, healthy: &[bool], env: &mut Env<'_>) -> Option<usize> {
    let located = env.location();
    env.depends_on(located.as_ref().map(|(_, prefix)| *prefix));
    let location = located.map(|(l, _)| l).unwrap_or_default();
    env.note(|| {
        format!(
            "  client location: continent={} country={} subdivision={}",
            location.continent.as_ref().map_or("-".into(), show2),
            location.country.as_ref().map_or("-".into(), show2),
            location.subdivision.as_ref().map_or("-", |s| s.as_str())
        )
    });
    let rank = |m: &GeoMatch| -> Option<u8> {
        match m {
            GeoMatch::Subdivision(c, s) => (location.country == Some(*c)
                && location.subdivision.as_ref().map(|l| l.as_str()) == Some(&**s))
            .then_some(0),
            GeoMatch::Country(c) => (location.country == Some(*c)).then_some(1),
            GeoMatch::Continent(c) => (location.continent == Some(*c)).then_some(2),
            GeoMatch::Default => Some(3),
        }
    };
    // The most specific matching set that is healthy, else the most
    // specific matching set at all; ties go to the first in the file.
    let mut best_healthy: Option<(u8, usize)> = None;
    let mut best: Option<(u8, usize)> = None;
    for (i, set) in group.sets.iter().enumerate() {
        let Rule::Geolocation(m) = &set.rule else {
            continue;
        };
        let Some(r) = rank(m) else { continue };
        if best.is_none_or(|b| (r, i) < b) {
            best = Some((r, i));
        }
        if healthy.get(i).copied().unwrap_or(false) && best_healthy.is_none_or(|b| (r, i) < b) {
            best_healthy = Some((r, i));
        }
    }
    best_healthy.or(best).map(|(_, i)| i)
}

/// Geoproximity (biased distance) and latency (measured or estimated):
/// the lowest cost among healthy sets.
fn nearest(group: &PolicyGroup, healthy: &[bool], env: &mut Env<'_>) -> Option<usize> {
    let config = env.config;
    let row = match (group.kind, env.client_ip) {
        (Kind::Latency, Some(ip)) => config.latency_row(canonical(ip)),
        _ => None,
    };
    let coordinates = if let Some(row) = row {
        env.depends_on(Some(row.prefix.prefix_len()));
        env.note(|| format!("  latency table row {}", row.prefix));
        None
    } else {
        let located = env.location();
        env.depends_on(located.as_ref().map(|(_, p)| *p));
        located.and_then(|(l, _)| l.coordinates)
    };
    if row.is_none() && coordinates.is_none() {
        env.note(|| "  client location unknown: first healthy set in file order".into());
    }
    let cost = |set: &PolicySet| -> f64 {
        match (&set.rule, row, coordinates) {
            (Rule::Latency { region }, Some(row), _) => row
                .ms
                .iter()
                .find(|(r, _)| r == region)
                .map_or(f64::INFINITY, |(_, ms)| f64::from(*ms)),
            (Rule::Latency { region }, None, Some(client)) => config
                .regions
                .get(*region as usize)
                .map_or(f64::INFINITY, |r| distance_km(client, r.coordinates)),
            (Rule::Geoproximity { coordinates, bias }, _, Some(client)) => {
                distance_km(client, *coordinates) * (1.0 - f64::from(*bias) / 100.0)
            }
            _ => 0.0,
        }
    };
    let mut best: Option<(f64, usize)> = None;
    let mut best_any: Option<(f64, usize)> = None;
    for (i, set) in group.sets.iter().enumerate() {
        let c = cost(set);
        env.note(|| {
            let located = row.is_some() || coordinates.is_some();
            format!("  set {} cost {}", set.id, cost_text(set, row.is_some(), located, c))
        });
        if best_any.is_none_or(|(b, _)| c < b) {
            best_any = Some((c, i));
        }
        if healthy.get(i).copied().unwrap_or(false) && best.is_none_or(|(b, _)| c < b) {
            best = Some((c, i));
        }
    }
    best.or(best_any).map(|(_, i)| i)
}

/// A cost as `explain` shows it, with its unit: milliseconds from the
/// latency table, else kilometres (great-circle, biased for
/// geoproximity).
fn cost_text(set: &PolicySet, measured: bool, located: bool, cost: f64) -> String {
    match (&set.rule, measured) {
        _ if !located => "unknown (no client location)".into(),
        _ if cost.is_infinite() => "unknown (not measured in this row: tried last)".into(),
        (Rule::Latency { .. }, true) => format!("{cost:.0} ms (latency table)"),
        (Rule::Latency { .. }, false) => format!("{cost:.0} km (distance, no latency table row)"),
        (Rule::Geoproximity { bias: 0, .. }, _) => format!("{cost:.0} km (distance)"),
        (Rule::Geoproximity { bias, .. }, _) => {
            format!("{cost:.0} km (distance x (1 - {bias}/100))")
        }
        _ => format!("{cost:.1}"),
    }
}

fn cidr(group: &PolicyGroup, healthy: &[bool], env: &mut Env<'_>) -> Option<usize> {
    let collection = group.sets.iter().find_map(|s| match s.rule {
        Rule::Cidr { collection, .. } => Some(collection),
        _ => None,
    })?;
    let matched = env
        .client_ip
        .and_then(|ip| env.config.cidr_match(collection, canonical(ip)));
    env.depends_on(matched.map(|(_, len)| len));
    let set_for = |location: Option<u32>| {
        group.sets.iter().position(|s| match s.rule {
            Rule::Cidr { location: l, .. } => l == location,
            _ => false,
        })
    };
    let default = set_for(None);
    if let Some((location, len)) = matched {
        env.note(|| format!("  client matches location #{location} (/{len})"));
        if let Some(i) = set_for(Some(location)) {
            if healthy.get(i).copied().unwrap_or(false) || default.is_none() {
                return Some(i);
            }
            env.note(|| "  matched set is unhealthy: default".into());
        }
    }
    default
}

fn multivalue<'g>(
    group: &'g PolicyGroup,
    healthy: &[bool],
    env: &mut Env<'_>,
) -> Vec<&'g PolicySet> {
    let mut pool: Vec<&PolicySet> = group
        .sets
        .iter()
        .zip(healthy)
        .filter(|(_, ok)| **ok)
        .map(|(s, _)| s)
        .collect();
    if pool.is_empty() {
        env.note(|| "  no healthy record: answering with unhealthy ones".into());
        pool = group.sets.iter().collect();
    }
    // Fisher-Yates, stopping once the first eight are drawn.
    let take = pool.len().min(MULTIVALUE_MAX);
    for i in 0..take {
        let j = i + env.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(take);
    env.note(|| {
        let ids: Vec<&str> = pool.iter().map(|s| &*s.id).collect();
        format!("  chose {}", ids.join(", "))
    });
    pool
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::path::Path;

    use super::*;
    use crate::geo::GeoDb;
    use crate::policy::{Collection, LatencyRow, Region};
    use crate::proto::{rtype, Rrset};

    /// Hands out given draws and records the bound of each.
    struct Draws {
        values: RefCell<VecDeque<u64>>,
        asked: RefCell<Vec<u64>>,
    }

    impl Draws {
        fn new(values: &[u64]) -> Self {
            Self {
                values: RefCell::new(values.iter().copied().collect()),
                asked: RefCell::new(Vec::new()),
            }
        }

        fn asked(&self) -> Vec<u64> {
            self.asked.borrow().clone()
        }
    }

    impl Random for Draws {
        fn below(&self, n: u64) -> u64 {
            self.asked.borrow_mut().push(n);
            let v = self.values.borrow_mut().pop_front().expect("a scripted draw");
            assert!(v < n, "draw {v} not below {n}");
            v
        }
    }

    /// Always draws 0: no weighted or shuffled choice changes anything.
    struct Zeros;

    impl Random for Zeros {
        fn below(&self, _n: u64) -> u64 {
            0
        }
    }

    fn set(id: &str, rule: Rule, health: Option<u32>) -> PolicySet {
        PolicySet {
            id: id.into(),
            rule,
            health,
            evaluate_health: false,
            rrset: Rrset::new(rtype::A, 60, &[&[192, 0, 2, 1]]),
            label: 0,
        }
    }

    fn group(kind: Kind, sets: Vec<PolicySet>) -> PolicyGroup {
        PolicyGroup {
            rtype: rtype::A,
            kind,
            sets,
        }
    }

    fn geo_config() -> PolicyConfig {
        let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geo/test-city.mmdb");
        let regions = vec![
            Region {
                name: "eu-central".into(),
                coordinates: (50.11, 8.68),
            },
            Region {
                name: "us-west".into(),
                coordinates: (37.77, -122.42),
            },
        ];
        let collections = vec![Collection {
            name: "corp".into(),
            locations: vec![
                ("office".into(), vec!["127.0.0.0/24".parse().unwrap()]),
                ("lab".into(), vec!["127.0.0.2/32".parse().unwrap()]),
            ],
        }];
        let latency = vec![LatencyRow {
            prefix: "127.0.0.4/32".parse().unwrap(),
            ms: vec![(0, 120), (1, 15)],
        }];
        PolicyConfig::new(
            Vec::new(),
            regions,
            collections,
            latency,
            Some(GeoDb::open(&db).expect("test GeoIP database")),
        )
    }

    /// What one decision chose (set ids), its ECS scope and whether it
    /// had to answer with an unhealthy set.
    struct Outcome {
        ids: Vec<String>,
        scope: Option<u8>,
        degraded: bool,
    }

    fn choose(
        group: &PolicyGroup,
        config: &PolicyConfig,
        healthy: &[bool],
        client: Option<(&str, Option<u8>)>,
        random: &dyn Random,
    ) -> Outcome {
        let health = HealthTable::new(healthy.to_vec());
        let ip = client.map(|(a, _)| a.parse().expect("address"));
        let prefix = client.and_then(|(_, p)| p);
        let mut env = Env::new(config, &health, ip, prefix, random);
        let chosen = select(group, &mut env, &mut |_| true);
        Outcome {
            ids: chosen.iter().map(|s| s.id.to_string()).collect(),
            scope: env.scope,
            degraded: env.degraded,
        }
    }

    fn weighted_group() -> PolicyGroup {
        group(
            Kind::Weighted,
            vec![
                set("blue", Rule::Weighted { weight: 70 }, Some(0)),
                set("green", Rule::Weighted { weight: 30 }, Some(1)),
                set("spare1", Rule::Weighted { weight: 0 }, Some(2)),
                set("spare2", Rule::Weighted { weight: 0 }, Some(3)),
            ],
        )
    }

    #[test]
    fn weighted_draws_and_health_rules() {
        let config = PolicyConfig::default();
        let g = weighted_group();
        // (health of blue, green, spare1, spare2; draw; bound; chosen; degraded)
        let cases: [([bool; 4], u64, u64, &str, bool); 8] = [
            ([true; 4], 0, 100, "blue", false),
            ([true; 4], 69, 100, "blue", false),
            ([true; 4], 70, 100, "green", false),
            ([true; 4], 99, 100, "green", false),
            // Unhealthy sets leave the draw.
            ([false, true, true, true], 0, 30, "green", false),
            // Every non-zero set down: the healthy zero-weight sets, equally.
            ([false, false, true, true], 1, 2, "spare2", false),
            ([false, false, false, true], 0, 1, "spare2", false),
            // Everything down: all count as healthy, weights again.
            ([false; 4], 70, 100, "green", true),
        ];
        for (healthy, draw, bound, want, degraded) in cases {
            let draws = Draws::new(&[draw]);
            let out = choose(&g, &config, &healthy, None, &draws);
            assert_eq!(out.ids, [want], "{healthy:?} draw {draw}");
            assert_eq!(draws.asked(), [bound], "{healthy:?} draw {draw}");
            assert_eq!(out.degraded, degraded, "{healthy:?}");
            assert_eq!(out.scope, None, "weights do not depend on location");
        }
        // All weights zero: equal chances.
        let zeros = group(
            Kind::Weighted,
            vec![
                set("a", Rule::Weighted { weight: 0 }, None),
                set("b", Rule::Weighted { weight: 0 }, None),
                set("c", Rule::Weighted { weight: 0 }, None),
            ],
        );
        let draws = Draws::new(&[2]);
        assert_eq!(choose(&zeros, &config, &[], None, &draws).ids, ["c"]);
        assert_eq!(draws.asked(), [3]);
    }

    #[test]
    fn failover_primary_while_healthy() {
        let config = PolicyConfig::default();
        // Secondary first in the file: the role decides, not the order.
        let g = group(
            Kind::Failover,
            vec![
                set("s", Rule::Failover { primary: false }, Some(1)),
                set("p", Rule::Failover { primary: true }, Some(0)),
            ],
        );
        for (healthy, want, degraded) in [
            ([true, true], "p", false),
            ([false, true], "s", false),
            ([true, false], "p", false),
            ([false, false], "p", true),
        ] {
            let out = choose(&g, &config, &healthy, None, &Zeros);
            assert_eq!(out.ids, [want], "{healthy:?}");
            assert_eq!(out.degraded, degraded, "{healthy:?}");
            assert_eq!(out.scope, None);
        }
    }

    fn geo_group() -> PolicyGroup {
        group(
            Kind::Geolocation,
            vec![
                set("any", Rule::Geolocation(GeoMatch::Default), Some(4)),
                set("eu", Rule::Geolocation(GeoMatch::Continent(*b"EU")), Some(2)),
                set(
                    "by",
                    Rule::Geolocation(GeoMatch::Subdivision(*b"DE", "BY".into())),
                    Some(0),
                ),
                set("de", Rule::Geolocation(GeoMatch::Country(*b"DE")), Some(1)),
                set("us", Rule::Geolocation(GeoMatch::Country(*b"US")), Some(3)),
            ],
        )
    }

    #[test]
    fn geolocation_most_specific_healthy_match() {
        let config = geo_config();
        let g = geo_group();
        let munich = Some(("127.0.0.1", None));
        // health: by, de, eu, us, any
        for (healthy, want) in [
            ([true; 5], "by"),
            ([false, true, true, true, true], "de"),
            ([false, false, true, true, true], "eu"),
            ([false, false, false, true, true], "any"),
        ] {
            let out = choose(&g, &config, &healthy, munich, &Zeros);
            assert_eq!(out.ids, [want], "{healthy:?}");
            assert!(!out.degraded);
            // The database network of 127.0.0.1 is a /32.
            assert_eq!(out.scope, Some(32));
        }
        let all_down = choose(&g, &config, &[false; 5], munich, &Zeros);
        assert_eq!(all_down.ids.len(), 1);
        assert!(all_down.degraded);

        for (client, want, scope) in [
            (("127.0.0.2", None), "us", Some(32)),
            (("127.0.0.4", None), "eu", Some(32)),
            (("127.0.0.8", None), "any", Some(32)),
            // By ECS: the scope is the database network, at most the source.
            (("192.0.2.0", Some(24)), "by", Some(24)),
            (("192.0.2.77", Some(32)), "by", Some(24)),
            (("100.64.0.0", Some(12)), "any", Some(12)),
        ] {
            let out = choose(&g, &config, &[true; 5], Some(client), &Zeros);
            assert_eq!(out.ids, [want], "{client:?}");
            assert_eq!(out.scope, scope, "{client:?}");
        }
        // Location unknown (ECS /0): the default, scope 0.
        let health = HealthTable::new(vec![true; 5]);
        let mut env = Env::new(&config, &health, None, Some(0), &Zeros);
        let chosen = select(&g, &mut env, &mut |_| true);
        assert_eq!(chosen.len(), 1);
        assert_eq!(&*chosen[0].id, "any");
        assert_eq!(env.scope, Some(0));

        // No match and no default: nothing (NODATA).
        let nodef = group(
            Kind::Geolocation,
            vec![set("us", Rule::Geolocation(GeoMatch::Country(*b"US")), None)],
        );
        assert!(choose(&nodef, &config, &[], munich, &Zeros).ids.is_empty());
    }

    #[test]
    fn geoproximity_smallest_biased_distance_among_healthy() {
        let config = geo_config();
        let g = |bias: i8| {
            group(
                Kind::Geoproximity,
                vec![
                    set(
                        "fra",
                        Rule::Geoproximity {
                            coordinates: (50.11, 8.68),
                            bias: 0,
                        },
                        Some(0),
                    ),
                    set(
                        "sfo",
                        Rule::Geoproximity {
                            coordinates: (37.77, -122.42),
                            bias,
                        },
                        Some(1),
                    ),
                ],
            )
        };
        let sao_paulo = Some(("127.0.0.7", None));
        // 9829 km to Frankfurt, 10434 km to San Francisco.
        assert_eq!(choose(&g(0), &config, &[true; 2], sao_paulo, &Zeros).ids, ["fra"]);
        // 10434 × (1 − 0.10) = 9391 < 9829.
        assert_eq!(choose(&g(10), &config, &[true; 2], sao_paulo, &Zeros).ids, ["sfo"]);
        // 10434 × (1 − 0.05) = 9912 > 9829.
        assert_eq!(choose(&g(5), &config, &[true; 2], sao_paulo, &Zeros).ids, ["fra"]);
        // Negative bias shrinks a set's area: Munich still nearest Frankfurt.
        let munich = Some(("127.0.0.1", None));
        assert_eq!(choose(&g(-99), &config, &[true; 2], munich, &Zeros).ids, ["fra"]);
        // Unhealthy sets are skipped.
        let out = choose(&g(0), &config, &[false, true], munich, &Zeros);
        assert_eq!(out.ids, ["sfo"]);
        assert!(!out.degraded);
        assert_eq!(out.scope, Some(32));
    }

    #[test]
    fn latency_table_row_else_distance() {
        let config = geo_config();
        let g = group(
            Kind::Latency,
            vec![
                set("eu", Rule::Latency { region: 0 }, Some(0)),
                set("us", Rule::Latency { region: 1 }, Some(1)),
            ],
        );
        // Paris has a row (eu 120 ms, us 15 ms); by distance it is 478 km
        // from eu-central.
        let out = choose(&g, &config, &[true; 2], Some(("127.0.0.4", None)), &Zeros);
        assert_eq!(out.ids, ["us"]);
        assert_eq!(out.scope, Some(32), "the row's prefix");
        // New York has no row: 4129 km to us-west, 6203 km to eu-central.
        let out = choose(&g, &config, &[true; 2], Some(("127.0.0.3", None)), &Zeros);
        assert_eq!(out.ids, ["us"]);
        let out = choose(&g, &config, &[true; 2], Some(("127.0.0.1", None)), &Zeros);
        assert_eq!(out.ids, ["eu"]);
        // The lowest latency down: the next.
        let out = choose(&g, &config, &[true, false], Some(("127.0.0.4", None)), &Zeros);
        assert_eq!(out.ids, ["eu"]);
        // By ECS, without a row: the database network's scope.
        let out = choose(&g, &config, &[true; 2], Some(("198.51.100.0", Some(24))), &Zeros);
        assert_eq!(out.ids, ["us"]);
        assert_eq!(out.scope, Some(24));
    }

    #[test]
    fn cidr_longest_prefix_with_default() {
        let config = geo_config();
        let cidr = |location: Option<u32>| Rule::Cidr {
            collection: 0,
            location,
        };
        let g = group(
            Kind::Cidr,
            vec![
                set("office", cidr(Some(0)), Some(0)),
                set("lab", cidr(Some(1)), Some(1)),
                set("other", cidr(None), None),
            ],
        );
        let pick = |client: (&str, Option<u8>), healthy: &[bool]| {
            choose(&g, &config, healthy, Some(client), &Zeros)
        };
        let out = pick(("127.0.0.3", None), &[true; 2]);
        assert_eq!((out.ids, out.scope), (vec!["office".to_string()], Some(24)));
        let out = pick(("127.0.0.2", None), &[true; 2]);
        assert_eq!((out.ids, out.scope), (vec!["lab".to_string()], Some(32)));
        // Unhealthy match: the default.
        let out = pick(("127.0.0.3", None), &[false, true]);
        assert_eq!(out.ids, ["other"]);
        // No match: the default.
        assert_eq!(pick(("192.0.2.1", None), &[true; 2]).ids, ["other"]);
        // ECS narrower than the matched prefix: the scope is capped.
        let out = pick(("127.0.0.0", Some(16)), &[true; 2]);
        assert_eq!(out.scope, Some(16));

        // Without a default: no match gives nothing.
        let nodef = group(Kind::Cidr, vec![set("office", cidr(Some(0)), None)]);
        let out = choose(&nodef, &config, &[], Some(("192.0.2.1", None)), &Zeros);
        assert!(out.ids.is_empty());
    }

    #[test]
    fn multivalue_up_to_eight_healthy() {
        let config = PolicyConfig::default();
        let ten = group(
            Kind::Multivalue,
            (0..10)
                .map(|i| set(&format!("m{i}"), Rule::Multivalue, Some(i)))
                .collect(),
        );
        // All healthy: eight distinct, and the shuffle draws from what is left.
        let draws = Draws::new(&[9, 0, 0, 0, 0, 0, 0, 0]);
        let out = choose(&ten, &config, &[true; 10], None, &draws);
        assert_eq!(out.ids.len(), 8);
        assert_eq!(out.ids[0], "m9");
        assert_eq!(draws.asked(), [10, 9, 8, 7, 6, 5, 4, 3]);
        assert!(!out.degraded);
        assert_eq!(out.scope, None);

        // Only the healthy ones.
        let mut healthy = [false; 10];
        healthy[2] = true;
        healthy[5] = true;
        let mut ids = choose(&ten, &config, &healthy, None, &Zeros).ids;
        ids.sort();
        assert_eq!(ids, ["m2", "m5"]);

        // None healthy: up to eight of the unhealthy ones.
        let out = choose(&ten, &config, &[false; 10], None, &Zeros);
        let mut distinct = out.ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8);
        assert!(out.degraded);
    }

    #[test]
    fn evaluate_health_adds_the_alias_target_verdict() {
        let config = PolicyConfig::default();
        let mut primary = set("p", Rule::Failover { primary: true }, None);
        primary.evaluate_health = true;
        let g = group(
            Kind::Failover,
            vec![primary, set("s", Rule::Failover { primary: false }, None)],
        );
        let health = HealthTable::default();
        let mut env = Env::new(&config, &health, None, None, &Zeros);
        let chosen = select(&g, &mut env, &mut |s| &*s.id != "p");
        assert_eq!(chosen.len(), 1);
        assert_eq!(&*chosen[0].id, "s");
        let mut env = Env::new(&config, &health, None, None, &Zeros);
        let chosen = select(&g, &mut env, &mut |_| true);
        assert_eq!(&*chosen[0].id, "p");
    }

    #[test]
    fn an_unsettled_check_in_the_group_caps_the_ttl() {
        let config = PolicyConfig::default();
        let g = group(
            Kind::Failover,
            vec![
                set("p", Rule::Failover { primary: true }, Some(0)),
                set("s", Rule::Failover { primary: false }, Some(1)),
            ],
        );
        let cap = |healthy: Vec<bool>, unsettled: Vec<bool>| {
            let health = HealthTable::with_lowering(healthy, unsettled, 5);
            let mut env = Env::new(&config, &health, None, None, &Zeros);
            let chosen = select(&g, &mut env, &mut |_| true);
            (chosen[0].id.to_string(), env.ttl_cap)
        };
        // Off (no unsettled list): never capped.
        assert_eq!(cap(vec![false, true], Vec::new()), ("s".into(), None));
        // The primary failing: the secondary's answer is short-lived.
        assert_eq!(cap(vec![false, true], vec![true, false]), ("s".into(), Some(5)));
        // The secondary recovering changes nothing the primary answers
        // now, but the group depends on it: capped too.
        assert_eq!(cap(vec![true, true], vec![false, true]), ("p".into(), Some(5)));
        assert_eq!(cap(vec![true, true], vec![false, false]), ("p".into(), None));
        // A lower cap already in force stays.
        let health = HealthTable::with_lowering(vec![false, true], vec![true, false], 5);
        let mut env = Env::new(&config, &health, None, None, &Zeros);
        env.cap_ttl(Some(2));
        select(&g, &mut env, &mut |_| true);
        assert_eq!(env.ttl_cap, Some(2));
    }
}
