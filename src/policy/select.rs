//! Choosing the sets of a policy group for one query, with exactly the
//! health rules of SPEC §3, and recording why (for `signpostctl explain`)
//! and how specific the client's network had to be (the ECS scope).

use std::net::IpAddr;

use super::random::Random;
use super::{GeoMatch, Kind, PolicyConfig, PolicyGroup, PolicySet, Rule};
use crate::geo::{distance_km, Location};
use crate::health::HealthTable;
use crate::proto::canonical;

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
        }
    }

    /// A fresh environment for a nested decision (an ALIAS target's own
    /// policy): the same client, health and random source, nothing
    /// recorded yet.
    pub(crate) fn nested(&self) -> Self {
        Self::new(
            self.config,
            self.health,
            self.client_ip,
            self.source_prefix,
            self.random,
        )
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
    for (set, slot) in group.sets.iter().zip(healthy.iter_mut()) {
        let by_check = set.health.is_none_or(|i| env.health.is_healthy(i));
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
            return multivalue(group, healthy, env);
        }
    };
    if chosen.is_some_and(|i| !healthy.get(i).copied().unwrap_or(false)) {
        env.degraded = true;
    }
    match chosen {
        Some(i) => {
            let set = group.sets.get(i);
            env.note(|| format!("  chose set {}", set.map_or("?", |s| &s.id)));
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
        env.note(|| format!("  set {} cost {c:.1}", set.id));
        if best_any.is_none_or(|(b, _)| c < b) {
            best_any = Some((c, i));
        }
        if healthy.get(i).copied().unwrap_or(false) && best.is_none_or(|(b, _)| c < b) {
            best = Some((c, i));
        }
    }
    best.or(best_any).map(|(_, i)| i)
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
