//! The authoritative answer algorithm of RFC 1034 §4.3.2, with wildcards
//! (RFC 4592), DNAME (RFC 6672) and RFC 2308 negative answers.
//!
//! The result is an [`Answer`]: rcode, AA and three sections of references
//! into the snapshot, plus the facts the DNSSEC stage (`query::dnssec`)
//! needs: wildcard expansions, denials, and the DNSSEC records a question
//! asks for. Nothing here signs, and nothing knows about wire format or
//! sizes.

use std::net::IpAddr;
use std::time::Instant;

use crate::stats::LabelId;
use crate::policy::select::{select, Env};
use crate::policy::{PolicyGroup, PolicySet};
use crate::proto::name::wire_name_len;
use crate::proto::{rcode, rtype, LowerName, Name, Rrset};
use crate::snapshot::View;
use crate::upstream::Lookup;
use crate::zone::{Node, Zone, FLAG_CUT, FLAG_DNAME, FLAG_OCCLUDED, FLAG_WILDCARD_CHILD};

/// How long a CNAME/DNAME chain we follow before answering with what we have.
const MAX_CHAIN: usize = 16;

/// The owner name a record set is written with.
#[derive(Debug, Clone)]
pub(crate) enum Owner<'a> {
    /// The question name, as the client spelled it.
    Question,
    /// A name stored in the snapshot (a node key or a name inside RDATA).
    Wire(&'a [u8]),
    /// A name made for this answer (the target of a DNAME substitution).
    Owned(Name),
}

#[derive(Debug)]
pub(crate) enum RrsetRef<'a> {
    Zone(&'a Rrset),
    Owned(Rrset),
}

impl RrsetRef<'_> {
    pub(crate) fn get(&self) -> &Rrset {
        match self {
            Self::Zone(r) => r,
            Self::Owned(r) => r,
        }
    }
}

/// An RRset and the owner name it is written under.
#[derive(Debug)]
pub(crate) struct NamedRrset<'a> {
    pub(crate) owner: Owner<'a>,
    pub(crate) rrset: RrsetRef<'a>,
}

/// What to send, before it becomes wire format.
#[derive(Debug, Default)]
pub(crate) struct Answer<'a> {
    pub(crate) rcode: u8,
    /// The metrics label of the zone the question fell in (`NONE`: none).
    pub(crate) zone: LabelId,
    pub(crate) authoritative: bool,
    pub(crate) answer: Vec<NamedRrset<'a>>,
    pub(crate) authority: Vec<NamedRrset<'a>>,
    pub(crate) additional: Vec<NamedRrset<'a>>,
    /// Names answered from a wildcard, for the RRSIG labels field and
    /// the proof that the name itself does not exist (RFC 4035 §3.1.3.3).
    pub(crate) wildcards: Vec<Expansion<'a>>,
    /// What a negative answer or referral must prove when signed.
    pub(crate) denials: Vec<Denial<'a>>,
    /// DNSSEC records the question asks for, which the DNSSEC stage makes.
    /// Boxed: rare, and an answer is moved about on every query.
    pub(crate) synthesis: Option<Box<Synthesis<'a>>>,
}

/// A question about a signed zone's own DNSSEC records, which are made per
/// answer (the zone holds none): found here, answered by `query::dnssec`.
#[derive(Debug)]
pub(crate) enum Synthesis<'a> {
    /// DNSKEY at the apex: the zone's key.
    Dnskey { zone: &'a Zone, owner: Owner<'a> },
    /// NSEC at a name that exists: the name's own NSEC.
    Nsec {
        zone: &'a Zone,
        owner: Owner<'a>,
        /// The name, lowercased.
        name: Box<[u8]>,
        node: &'a Node,
    },
    /// RRSIG: a signature over each RRset the name holds, as this client
    /// would get it (policy sets chosen for it).
    Rrsig {
        zone: &'a Zone,
        owner: Owner<'a>,
        name: Box<[u8]>,
        covered: Vec<RrsetRef<'a>>,
    },
}

/// A name answered through `*.<closest encloser>`.
#[derive(Debug)]
pub(crate) struct Expansion<'a> {
    pub(crate) zone: &'a Zone,
    /// The name as looked up, lowercased.
    pub(crate) name: Box<[u8]>,
    /// The wildcard's own name (`*.…`), a node key.
    pub(crate) source: &'a [u8],
}

/// The facts the signer turns into NSEC/DS records (RFC 4035 §3.1.3).
#[derive(Debug)]
pub(crate) enum Denial<'a> {
    /// `name` exists (or matched `wildcard`) but has no data of `qtype`.
    NoData {
        zone: &'a Zone,
        name: Box<[u8]>,
        node: &'a Node,
        qtype: u16,
        wildcard: Option<&'a [u8]>,
    },
    /// `name` does not exist; `encloser` is its closest encloser.
    NxDomain {
        zone: &'a Zone,
        name: Box<[u8]>,
        encloser: &'a [u8],
    },
    /// A referral to `cut`: DS, or proof there is none.
    Referral {
        zone: &'a Zone,
        cut: &'a [u8],
        node: &'a Node,
    },
}

impl<'a> Answer<'a> {
    fn push_answer(&mut self, owner: Owner<'a>, rrset: &'a Rrset) {
        self.answer.push(NamedRrset {
            owner,
            rrset: RrsetRef::Zone(rrset),
        });
    }
}

/// Where a name landed inside a zone.
enum Found<'a> {
    /// The name exists.
    Exact(&'a Node),
    /// The name does not exist but `*.<closest encloser>` (the key) does.
    Wildcard(&'a [u8], &'a Node),
    /// At or below a delegation point (`key` is the cut).
    Delegation(&'a [u8], &'a Node),
    /// Strictly below a DNAME owner.
    Dname(&'a [u8], &'a Node),
    /// With the closest encloser, when known.
    NxDomain(Option<&'a [u8]>),
}

/// The name currently being looked up: its lowercased key (the question
/// as parsed, or a chain target lowered into `resolve_depth`'s buffer) and
/// how to write it.
struct Current<'k, 'a> {
    key: &'k [u8],
    owner: Owner<'a>,
}

impl<'k> Current<'k, '_> {
    fn key(&self) -> &'k [u8] {
        self.key
    }
}

/// The wire form of the name an owner stands for (not the question).
fn owner_name<'o>(owner: &'o Owner<'_>) -> &'o [u8] {
    match owner {
        Owner::Question => &[],
        Owner::Wire(w) => w,
        Owner::Owned(n) => n.as_wire(),
    }
}

/// How deep ALIAS targets may nest (an ALIAS to a name that is an ALIAS…).
const MAX_ALIAS_DEPTH: u8 = 8;

/// Answers `qname`/`qtype` from the zones of a view. `qname` must be
/// lowercased. Policy decisions read and record into `env`.
pub(crate) fn resolve<'a>(view: &'a View, qname: &[u8], qtype: u16, env: &mut Env<'_>) -> Answer<'a> {
    resolve_depth(view, qname, qtype, env, 0)
}

fn resolve_depth<'a>(
    view: &'a View,
    qname: &[u8],
    qtype: u16,
    env: &mut Env<'_>,
    depth: u8,
) -> Answer<'a> {
    let mut answer = Answer::default();
    let Some(mut zone) = view.find_zone(qname) else {
        answer.rcode = rcode::REFUSED;
        return answer;
    };
    answer.zone = zone.label;
    answer.authoritative = true;
    let mut current = Current {
        key: qname,
        owner: Owner::Question,
    };
    // Where a chain target's lowered name lives while it is looked up.
    let mut lowered;
    for _ in 0..MAX_CHAIN {
        let next = match find(zone, current.key()) {
            Found::Exact(node) => {
                let at = At {
                    view,
                    zone,
                    node,
                    depth,
                    wildcard: None,
                };
                answer_node(&at, &current, qtype, env, &mut answer)
            }
            Found::Wildcard(source, node) => {
                answer.wildcards.push(Expansion {
                    zone,
                    name: current.key().into(),
                    source,
                });
                let at = At {
                    view,
                    zone,
                    node,
                    depth,
                    wildcard: Some(source),
                };
                answer_node(&at, &current, qtype, env, &mut answer)
            }
            Found::Delegation(cut, node) => {
                referral(zone, cut, node, &mut answer);
                answer.denials.push(Denial::Referral { zone, cut, node });
                // Only the first name decides AA (RFC 1035 §4.1.1).
                if answer.answer.is_empty() {
                    answer.authoritative = false;
                }
                None
            }
            Found::Dname(owner, node) => {
                let next = dname(owner, node, &current, &mut answer);
                // Asked for the CNAME: the synthesised one is the answer.
                next.filter(|_| qtype != rtype::CNAME)
            }
            Found::NxDomain(encloser) => {
                answer.rcode = rcode::NXDOMAIN;
                negative(zone, &mut answer);
                answer.denials.push(Denial::NxDomain {
                    zone,
                    name: current.key().into(),
                    encloser: encloser.unwrap_or(zone.apex.as_wire()),
                });
                None
            }
        };
        let Some(next) = next else { return answer };
        let Some(next_key) = LowerName::new(owner_name(&next)) else {
            return answer;
        };
        lowered = next_key;
        // Follow the chain: into any served zone, never in a circle.
        if chain_revisits(qname, &answer, lowered.as_wire()) {
            return answer;
        }
        let Some(next_zone) = view.find_zone(lowered.as_wire()) else {
            return answer;
        };
        zone = next_zone;
        current = Current {
            key: lowered.as_wire(),
            owner: next,
        };
    }
    answer
}

/// True when `next` (lowercased) is the question or already owns an answer
/// record.
fn chain_revisits(qname: &[u8], answer: &Answer<'_>, next: &[u8]) -> bool {
    if next == qname {
        return true;
    }
    // Every name looked up so far owns a CNAME in the answer (a DNAME's own
    // owner was not looked up, so it does not count).
    let cnames = answer
        .answer
        .iter()
        .filter(|e| e.rrset.get().rtype == rtype::CNAME);
    cnames.into_iter().any(|entry| match &entry.owner {
        Owner::Wire(w) => w.eq_ignore_ascii_case(next),
        Owner::Owned(n) => n.as_wire().eq_ignore_ascii_case(next),
        Owner::Question => false,
    })
}

fn find<'a>(zone: &'a Zone, key: &[u8]) -> Found<'a> {
    if let Some(node) = zone.node(key) {
        if !node.has(FLAG_OCCLUDED) {
            // A cut itself is also Exact: answer_node refers every type but
            // DS, which the parent side answers.
            return Found::Exact(node);
        }
        return find_cut(zone, key);
    }
    // Walk up to the closest encloser; ENTs exist as nodes, so the first
    // ancestor present is it.
    let apex_len = zone.apex.wire_len();
    let mut pos = 0usize;
    while let Some(&len) = key.get(pos) {
        if len == 0 || key.len() - pos <= apex_len {
            break;
        }
        pos += usize::from(len) + 1;
        let Some(ancestor) = key.get(pos..) else {
            break;
        };
        let Some((ancestor, node)) = zone.node_entry(ancestor) else {
            continue;
        };
        if node.has(FLAG_OCCLUDED) {
            return find_cut(zone, ancestor);
        }
        if node.has(FLAG_CUT) {
            return Found::Delegation(ancestor, node);
        }
        if node.has(FLAG_DNAME) {
            return Found::Dname(ancestor, node);
        }
        if node.has(FLAG_WILDCARD_CHILD) {
            let mut wild = [0u8; crate::proto::name::MAX_NAME_LEN + 2];
            wild[0] = 1;
            wild[1] = b'*';
            if let Some(dest) = wild.get_mut(2..2 + ancestor.len()) {
                dest.copy_from_slice(ancestor);
                let wild = wild.get(..2 + ancestor.len()).unwrap_or_default();
                if let Some((source, node)) = zone.node_entry(wild) {
                    return Found::Wildcard(source, node);
                }
            }
        }
        return Found::NxDomain(Some(ancestor));
    }
    Found::NxDomain(None)
}

/// For a name at or below occluded data: the topmost delegation or DNAME
/// above it decides.
fn find_cut<'a>(zone: &'a Zone, key: &[u8]) -> Found<'a> {
    let apex_len = zone.apex.wire_len();
    let mut starts = [0usize; 128];
    let mut n = 0usize;
    let mut pos = 0usize;
    while let Some(&len) = key.get(pos) {
        if len == 0 || key.len() - pos <= apex_len {
            break;
        }
        if let Some(slot) = starts.get_mut(n) {
            *slot = pos;
            n += 1;
        }
        pos += usize::from(len) + 1;
    }
    // From the name just below the apex downwards.
    for &start in starts.get(..n).unwrap_or_default().iter().rev() {
        let Some(ancestor) = key.get(start..) else {
            continue;
        };
        let Some((ancestor, node)) = zone.node_entry(ancestor) else {
            continue;
        };
        let is_qname = start == 0;
        if node.has(FLAG_CUT) {
            return Found::Delegation(ancestor, node);
        }
        if node.has(FLAG_DNAME) && !is_qname {
            return Found::Dname(ancestor, node);
        }
    }
    // A DNAME at the apex occludes everything below it.
    if let Some(apex) = zone.apex_node() {
        if apex.has(FLAG_DNAME) && key.len() > apex_len {
            return Found::Dname(zone.apex.as_wire(), apex);
        }
    }
    Found::NxDomain(None)
}

/// Answers at a node that exists (or a wildcard standing in for it).
/// Returns the next name when a CNAME must be followed.
/// Where an answer is being made.
struct At<'a> {
    view: &'a View,
    zone: &'a Zone,
    node: &'a Node,
    depth: u8,
    /// The wildcard's name when `node` stands in for the looked-up name.
    wildcard: Option<&'a [u8]>,
}

fn answer_node<'a>(
    at: &At<'a>,
    current: &Current<'_, 'a>,
    qtype: u16,
    env: &mut Env<'_>,
    answer: &mut Answer<'a>,
) -> Option<Owner<'a>> {
    let (zone, node) = (at.zone, at.node);
    if node.has(FLAG_CUT) && qtype != rtype::DS {
        if let Some(cut) = zone.nodes.get_key_value(current.key()) {
            referral(zone, cut.0, node, answer);
            answer.denials.push(Denial::Referral {
                zone,
                cut: cut.0,
                node,
            });
            if answer.answer.is_empty() {
                answer.authoritative = false;
            }
        }
        return None;
    }
    if qtype == rtype::ANY {
        return any(at, current, answer);
    }
    // A signed zone's DNSKEY, NSEC and RRSIG records are made per answer,
    // so the node holds none; asked for by type, the DNSSEC stage makes
    // them. (A NODATA for NSEC or RRSIG would contradict its own proof,
    // whose bitmap lists both types.)
    if zone.signer.is_some() && at.wildcard.is_none() {
        let owner = current.owner.clone();
        let name = || Box::<[u8]>::from(current.key());
        match qtype {
            rtype::DNSKEY if current.key() == zone.apex.as_wire() => {
                answer.synthesis = Some(Box::new(Synthesis::Dnskey { zone, owner }));
                return None;
            }
            rtype::NSEC => {
                let name = name();
                answer.synthesis = Some(Box::new(Synthesis::Nsec {
                    zone,
                    owner,
                    name,
                    node,
                }));
                return None;
            }
            rtype::RRSIG => {
                let covered = covered_by_signatures(at, current, env);
                if !covered.is_empty() {
                    let name = name();
                    answer.synthesis = Some(Box::new(Synthesis::Rrsig {
                        zone,
                        owner,
                        name,
                        covered,
                    }));
                    return None;
                }
            }
            _ => {}
        }
    }
    if let Some(rrset) = node.rrset(qtype) {
        answer.push_answer(current.owner.clone(), rrset);
        add_additional(zone, rrset, answer);
        return None;
    }
    if let Some(group) = node.policy(qtype) {
        let sets = select_sets(at, group, qtype, env);
        if sets.is_empty() {
            nodata(at, current, qtype, answer);
            return None;
        }
        for set in &sets {
            add_additional(zone, &set.rrset, answer);
        }
        answer.answer.push(NamedRrset {
            owner: current.owner.clone(),
            rrset: merge(&sets),
        });
        return None;
    }
    let cname = node.rrset(rtype::CNAME).or_else(|| {
        let group = node.policy(rtype::CNAME)?;
        select_sets(at, group, qtype, env).first().map(|s| &s.rrset)
    });
    if qtype != rtype::ALIAS {
        let alias = node.rrset(rtype::ALIAS).or_else(|| {
            let group = node.policy(rtype::ALIAS)?;
            select_sets(at, group, qtype, env).first().map(|s| &s.rrset)
        });
        if let Some(alias) = alias.filter(|_| cname.is_none()) {
            alias_answer(at, alias, current, qtype, env, answer);
            return None;
        }
    }
    if let Some(cname) = cname {
        answer.push_answer(current.owner.clone(), cname);
        let target = cname.rdatas().next()?;
        let len = wire_name_len(target)?;
        return Some(Owner::Wire(target.get(..len)?));
    }
    nodata(at, current, qtype, answer);
    None
}

/// What a question for type RRSIG in a signed zone gets signatures over:
/// each RRset the name holds, as this client would get it (policy sets
/// chosen for it; ALIAS answers, which depend on their target zone, are
/// left out).
fn covered_by_signatures<'a>(
    at: &At<'a>,
    current: &Current<'_, 'a>,
    env: &mut Env<'_>,
) -> Vec<RrsetRef<'a>> {
    let mut covered: Vec<RrsetRef<'a>> = at
        .node
        .rrsets
        .iter()
        // Made per answer in a signed zone, so never taken from the file.
        .filter(|r| {
            !matches!(
                r.rtype,
                rtype::ALIAS | rtype::RRSIG | rtype::NSEC | rtype::DNSKEY
            )
        })
        .map(RrsetRef::Zone)
        .collect();
    if let Some(signer) = at.zone.signer.as_deref() {
        if current.key() == at.zone.apex.as_wire() {
            covered.push(RrsetRef::Zone(&signer.dnskey));
        }
    }
    for group in at.node.policies.iter().flat_map(|g| g.iter()) {
        if group.rtype == rtype::ALIAS {
            continue;
        }
        let sets = select_sets(at, group, group.rtype, env);
        if !sets.is_empty() {
            covered.push(merge(&sets));
        }
    }
    covered
}

/// The sets a policy picks for this query. ALIAS sets with
/// `evaluate-health` are healthy when their target has a healthy answer.
fn select_sets<'a>(
    at: &At<'a>,
    group: &'a PolicyGroup,
    qtype: u16,
    env: &mut Env<'_>,
) -> Vec<&'a PolicySet> {
    env.note(|| {
        format!(
            "{} policy for type {}",
            group.kind.name(),
            rtype::name(group.rtype)
        )
    });
    let view = at.view;
    let depth = at.depth;
    // Copied out, not borrowed: `select` holds `env` mutably meanwhile.
    let (config, health, ip, source, random, aliases) = (
        env.config,
        env.health,
        env.client_ip,
        env.source_prefix,
        env.random,
        env.aliases,
    );
    // A target decided by a failing or recovering check shortens this
    // answer's TTL too ([health_ttl]).
    let mut target_cap: Option<u32> = None;
    let mut target_healthy = |set: &PolicySet| {
        let Some(target) = set.rrset.rdatas().next() else {
            return false;
        };
        if set.rrset.rtype != rtype::ALIAS || depth >= MAX_ALIAS_DEPTH {
            return true;
        }
        let Some(lower) = LowerName::new(target) else {
            return false;
        };
        let asked = if qtype == rtype::ANY { rtype::A } else { qtype };
        if view.find_zone(lower.as_wire()).is_none() {
            // Outside our zones: healthy while upstream gives addresses.
            return aliases.is_some_and(|cell| {
                cell.load()
                    .has_addresses(lower.as_wire(), asked, Instant::now())
            });
        }
        // The target's own policy decides afresh for the same client.
        let mut sub = Env::new(config, health, ip, source, random);
        sub.aliases = aliases;
        let found = resolve_depth(view, lower.as_wire(), asked, &mut sub, depth + 1);
        if let Some(cap) = sub.ttl_cap {
            target_cap = Some(target_cap.map_or(cap, |c| c.min(cap)));
        }
        !sub.degraded && found.answer.iter().any(|e| e.rrset.get().rtype == asked)
    };
    let sets = select(group, env, &mut target_healthy);
    env.cap_ttl(target_cap);
    sets
}

/// One set answers as it is; several (multivalue) become one RRset.
fn merge<'a>(sets: &[&'a PolicySet]) -> RrsetRef<'a> {
    match sets {
        [one] => RrsetRef::Zone(&one.rrset),
        _ => {
            let first = sets.first().map(|s| &s.rrset);
            let rdatas: Vec<&[u8]> = sets.iter().flat_map(|s| s.rrset.rdatas()).collect();
            let ttl = sets.iter().map(|s| s.rrset.ttl).min().unwrap_or(0);
            RrsetRef::Owned(Rrset::new(first.map_or(0, |r| r.rtype), ttl, &rdatas))
        }
    }
}

/// ALIAS: the target's records of the asked type under the queried name,
/// with the target's TTL (SPEC §3), resolved inside the server. NODATA when
/// the target has none.
fn alias_answer<'a>(
    at: &At<'a>,
    alias: &'a Rrset,
    current: &Current<'_, 'a>,
    qtype: u16,
    env: &mut Env<'_>,
    answer: &mut Answer<'a>,
) {
    let target = alias
        .rdatas()
        .next()
        .and_then(|t| LowerName::new(t.get(..wire_name_len(t)?)?));
    let found = match target {
        Some(target) if at.view.find_zone(target.as_wire()).is_none() => {
            external_alias_answer(at, alias, target.as_wire(), current, qtype, env, answer);
            return;
        }
        Some(target) if at.depth < MAX_ALIAS_DEPTH => {
            env.note(|| {
                format!(
                    "ALIAS to {}",
                    Name::from_wire(target.as_wire())
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                )
            });
            resolve_depth(at.view, target.as_wire(), qtype, env, at.depth + 1)
        }
        _ => Answer::default(),
    };
    let records: Vec<&Rrset> = found
        .answer
        .iter()
        .map(|e| e.rrset.get())
        .filter(|r| r.rtype == qtype)
        .collect();
    if records.is_empty() {
        nodata(at, current, qtype, answer);
        return;
    }
    let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
    let rdatas: Vec<&[u8]> = records.iter().flat_map(|r| r.rdatas()).collect();
    answer.answer.push(NamedRrset {
        owner: current.owner.clone(),
        rrset: RrsetRef::Owned(Rrset::new(qtype, ttl, &rdatas)),
    });
}

/// ALIAS to a name outside our zones: the addresses the upstream
/// resolvers gave (`upstream`), with TTL = min(what is left of upstream's,
/// the ALIAS record's). Only A and AAAA are synthesised; other types are
/// NODATA. SERVFAIL when nothing was ever resolved (or it is stale beyond
/// `max_stale`).
fn external_alias_answer<'a>(
    at: &At<'a>,
    alias: &Rrset,
    target: &[u8],
    current: &Current<'_, 'a>,
    qtype: u16,
    env: &mut Env<'_>,
    answer: &mut Answer<'a>,
) {
    let shown = || {
        Name::from_wire(target)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    if !matches!(qtype, rtype::A | rtype::AAAA) {
        env.note(|| format!("ALIAS to {} (outside our zones): only A and AAAA are answered", shown()));
        nodata(at, current, qtype, answer);
        return;
    }
    let cache = env.aliases.map(|cell| cell.load());
    let found = cache
        .as_deref()
        .map(|c| c.lookup(target, qtype, Instant::now()));
    match found {
        Some(Lookup::Addresses {
            rrset,
            ttl,
            age,
            stale,
        }) => {
            env.note(|| {
                let addresses: Vec<String> = rrset
                    .rdatas()
                    .filter_map(address)
                    .map(|ip| ip.to_string())
                    .collect();
                format!(
                    "ALIAS to {} (outside our zones): {} from upstream {} s ago{}, TTL {} s",
                    shown(),
                    if addresses.is_empty() {
                        format!("no {} records", rtype::name(qtype))
                    } else {
                        addresses.join(" ")
                    },
                    age.as_secs(),
                    if stale { ", stale: upstreams fail" } else { "" },
                    ttl.min(alias.ttl)
                )
            });
            if rrset.count == 0 {
                nodata(at, current, qtype, answer);
                return;
            }
            let rdatas: Vec<&[u8]> = rrset.rdatas().collect();
            answer.answer.push(NamedRrset {
                owner: current.owner.clone(),
                rrset: RrsetRef::Owned(Rrset::new(qtype, ttl.min(alias.ttl), &rdatas)),
            });
        }
        Some(Lookup::Unresolved { failing }) => {
            env.note(|| {
                format!(
                    "ALIAS to {} (outside our zones): not resolved{}; SERVFAIL",
                    shown(),
                    failing.map(|f| format!(" (upstreams: {f})")).unwrap_or_default()
                )
            });
            answer.rcode = rcode::SERVFAIL;
            answer.authoritative = false;
        }
        None => {
            env.note(|| format!("ALIAS to {} (outside our zones): no resolver here; SERVFAIL", shown()));
            answer.rcode = rcode::SERVFAIL;
            answer.authoritative = false;
        }
    }
}

/// The address in A or AAAA RDATA, for explanations.
fn address(rdata: &[u8]) -> Option<IpAddr> {
    match rdata.len() {
        4 => <[u8; 4]>::try_from(rdata).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(rdata).ok().map(IpAddr::from),
        _ => None,
    }
}

/// RFC 8482 §4.2: one RRset answers ANY, so ANY cannot be used to amplify.
/// We pick the first RRset of the node in type order, which is stable.
fn any<'a>(at: &At<'a>, current: &Current<'_, 'a>, answer: &mut Answer<'a>) -> Option<Owner<'a>> {
    match at.node.rrsets.first() {
        Some(rrset) => {
            answer.push_answer(current.owner.clone(), rrset);
            add_additional(at.zone, rrset, answer);
        }
        None => nodata(at, current, rtype::ANY, answer),
    }
    None
}

/// NODATA at a node that exists (or a wildcard standing in for it).
fn nodata<'a>(at: &At<'a>, current: &Current<'_, 'a>, qtype: u16, answer: &mut Answer<'a>) {
    negative(at.zone, answer);
    answer.denials.push(Denial::NoData {
        zone: at.zone,
        name: current.key().into(),
        node: at.node,
        qtype,
        wildcard: at.wildcard,
    });
}

/// NXDOMAIN or NODATA: the SOA with the negative TTL in authority.
fn negative<'a>(zone: &'a Zone, answer: &mut Answer<'a>) {
    answer.authority.push(NamedRrset {
        owner: Owner::Wire(zone.apex.as_wire()),
        rrset: RrsetRef::Zone(&zone.negative_soa),
    });
}

/// A referral: the cut's NS in authority and the addresses of its name
/// servers that we hold (glue or in-zone data) in additional.
fn referral<'a>(zone: &'a Zone, cut: &'a [u8], node: &'a Node, answer: &mut Answer<'a>) {
    let Some(ns) = node.rrset(rtype::NS) else {
        return;
    };
    answer.authority.push(NamedRrset {
        owner: Owner::Wire(cut),
        rrset: RrsetRef::Zone(ns),
    });
    for target in ns.rdatas() {
        add_addresses(zone, target, answer);
    }
}

/// A DNAME above the name: the DNAME itself, a CNAME synthesised from it
/// (RFC 6672 §3.4, TTL of the DNAME), then the substituted name to follow.
fn dname<'a>(
    owner: &'a [u8],
    node: &'a Node,
    current: &Current<'_, 'a>,
    answer: &mut Answer<'a>,
) -> Option<Owner<'a>> {
    let dname = node.rrset(rtype::DNAME)?;
    answer.push_answer(Owner::Wire(owner), dname);
    let target = dname.rdatas().next()?;
    let target = Name::from_wire(target.get(..wire_name_len(target)?)?)?;
    let query_name = Name::from_wire(current.key())?;
    let old_suffix = Name::from_wire(owner)?;
    let Some(substituted) = query_name.replace_suffix(&old_suffix, &target) else {
        // RFC 6672 §2.2: the result is too long.
        answer.rcode = rcode::YXDOMAIN;
        return None;
    };
    let cname = Rrset::new(rtype::CNAME, dname.ttl, &[substituted.as_wire()]);
    answer.answer.push(NamedRrset {
        owner: current.owner.clone(),
        rrset: RrsetRef::Owned(cname),
    });
    Some(Owner::Owned(substituted))
}

/// Additional-section processing (RFC 1035 §3.3, RFC 9460 §4.1): addresses
/// of the names an NS, MX, SRV, SVCB or HTTPS answer points to, when this
/// zone holds them.
fn add_additional<'a>(zone: &'a Zone, rrset: &'a Rrset, answer: &mut Answer<'a>) {
    let offset = match rrset.rtype {
        rtype::NS => 0,
        rtype::MX => 2,
        rtype::SRV => 6,
        rtype::SVCB | rtype::HTTPS => 2,
        _ => return,
    };
    for rdata in rrset.rdatas() {
        if let Some(target) = rdata.get(offset..) {
            add_addresses(zone, target, answer);
        }
    }
}

fn add_addresses<'a>(zone: &'a Zone, target: &'a [u8], answer: &mut Answer<'a>) {
    let Some(len) = wire_name_len(target) else {
        return;
    };
    let Some(target) = target.get(..len) else {
        return;
    };
    let Some(lower) = LowerName::new(target) else {
        return;
    };
    let Some(node) = zone.node(lower.as_wire()) else {
        return;
    };
    let already = answer.additional.iter().any(|e| match e.owner {
        Owner::Wire(w) => w.eq_ignore_ascii_case(target),
        _ => false,
    });
    if already {
        return;
    }
    for rtype in [rtype::A, rtype::AAAA] {
        if let Some(rrset) = node.rrset(rtype) {
            answer.additional.push(NamedRrset {
                owner: Owner::Wire(target),
                rrset: RrsetRef::Zone(rrset),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::random::SplitMix;
    use crate::query::tests::{example_world, signed_world, World};

    fn wire(name: &str) -> Vec<u8> {
        Name::parse(name, None)
            .expect("name")
            .to_lowercase()
            .as_wire()
            .to_vec()
    }

    /// Looks `qname` up in the world's first view, with every check up and
    /// the client's location unknown.
    fn lookup<'w>(world: &'w World, qname: &str, qtype: u16) -> Answer<'w> {
        world.set_down(&[]);
        let health = world.snapshot.health.load();
        let random = SplitMix::seeded(1);
        let mut env = Env::new(&world.snapshot.policy, &health, None, None, &random);
        resolve(&world.snapshot.views[0], &wire(qname), qtype, &mut env)
    }

    fn types(entries: &[NamedRrset<'_>]) -> Vec<u16> {
        entries.iter().map(|e| e.rrset.get().rtype).collect()
    }

    #[test]
    fn positive_answer_records_nothing_to_prove() {
        let world = example_world();
        let a = lookup(&world, "www.example.test.", rtype::A);
        assert_eq!(a.rcode, rcode::NOERROR);
        assert!(a.authoritative);
        assert_eq!(types(&a.answer), [rtype::A]);
        assert!(matches!(a.answer[0].owner, Owner::Question));
        assert!(a.authority.is_empty() && a.additional.is_empty());
        assert!(a.wildcards.is_empty() && a.denials.is_empty() && a.synthesis.is_none());
    }

    #[test]
    fn nxdomain_records_the_closest_encloser() {
        let world = example_world();
        for (qname, encloser) in [
            ("nope.example.test.", "example.test."),
            ("a.b.nope.example.test.", "example.test."),
            ("x.existing.apps.example.test.", "existing.apps.example.test."),
            // An empty non-terminal is the closest encloser (RFC 4592 §3.3.1).
            ("x.ent.apps.example.test.", "ent.apps.example.test."),
        ] {
            let a = lookup(&world, qname, rtype::A);
            assert_eq!(a.rcode, rcode::NXDOMAIN, "{qname}");
            assert!(a.authoritative, "{qname}");
            assert_eq!(types(&a.authority), [rtype::SOA], "{qname}");
            // RFC 2308 §3: min(SOA TTL 3600, MINIMUM 300).
            assert_eq!(a.authority[0].rrset.get().ttl, 300, "{qname}");
            match a.denials.as_slice() {
                [Denial::NxDomain { name, encloser: e, .. }] => {
                    assert_eq!(&**name, wire(qname).as_slice(), "{qname}");
                    assert_eq!(*e, wire(encloser).as_slice(), "{qname}");
                }
                other => panic!("{qname}: {other:?}"),
            }
            assert!(a.wildcards.is_empty(), "{qname}");
        }
    }

    #[test]
    fn nodata_records_the_name_and_type() {
        let world = example_world();
        for (qname, qtype) in [
            ("www.example.test.", rtype::MX),
            ("dept.example.test.", rtype::A),
            ("existing.apps.example.test.", rtype::TXT),
        ] {
            let a = lookup(&world, qname, qtype);
            assert_eq!(a.rcode, rcode::NOERROR, "{qname}");
            assert!(a.authoritative && a.answer.is_empty(), "{qname}");
            assert_eq!(types(&a.authority), [rtype::SOA], "{qname}");
            match a.denials.as_slice() {
                [Denial::NoData {
                    name,
                    qtype: t,
                    wildcard: None,
                    ..
                }] => {
                    assert_eq!(&**name, wire(qname).as_slice());
                    assert_eq!(*t, qtype);
                }
                other => panic!("{qname}: {other:?}"),
            }
            assert!(a.wildcards.is_empty(), "{qname}: no wildcard at an existing name");
        }
    }

    #[test]
    fn wildcard_answers_record_the_expansion() {
        let world = example_world();
        let a = lookup(&world, "a.b.apps.example.test.", rtype::A);
        assert_eq!((a.rcode, a.authoritative), (rcode::NOERROR, true));
        assert_eq!(types(&a.answer), [rtype::A]);
        assert!(a.denials.is_empty());
        match a.wildcards.as_slice() {
            [e] => {
                assert_eq!(&*e.name, wire("a.b.apps.example.test.").as_slice());
                assert_eq!(e.source, wire("*.apps.example.test.").as_slice());
            }
            other => panic!("{other:?}"),
        }

        // Wildcard without the type: the expansion and a NODATA at it.
        let a = lookup(&world, "x.apps.example.test.", rtype::MX);
        assert!(a.answer.is_empty());
        assert_eq!(a.wildcards.len(), 1);
        match a.denials.as_slice() {
            [Denial::NoData {
                name,
                wildcard: Some(source),
                ..
            }] => {
                assert_eq!(&**name, wire("x.apps.example.test.").as_slice());
                assert_eq!(*source, wire("*.apps.example.test.").as_slice());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn referral_is_not_authoritative_and_records_the_cut() {
        let world = example_world();
        for qname in ["www.sub.example.test.", "sub.example.test.", "ns.sub.example.test."] {
            let a = lookup(&world, qname, rtype::A);
            assert_eq!(a.rcode, rcode::NOERROR, "{qname}");
            assert!(!a.authoritative, "{qname}");
            assert!(a.answer.is_empty(), "{qname}");
            assert_eq!(types(&a.authority), [rtype::NS], "{qname}");
            assert_eq!(types(&a.additional), [rtype::A], "{qname}");
            match a.denials.as_slice() {
                [Denial::Referral { cut, .. }] => {
                    assert_eq!(*cut, wire("sub.example.test.").as_slice(), "{qname}");
                }
                other => panic!("{qname}: {other:?}"),
            }
        }
        // DS is the parent's: answered authoritatively at the cut.
        let a = lookup(&world, "secure.example.test.", rtype::DS);
        assert!(a.authoritative);
        assert_eq!(types(&a.answer), [rtype::DS]);
        assert!(a.denials.is_empty());
    }

    #[test]
    fn cname_and_dname_chains() {
        let world = example_world();
        let a = lookup(&world, "chain.example.test.", rtype::A);
        assert_eq!(types(&a.answer), [rtype::CNAME, rtype::CNAME, rtype::A]);
        assert!(a.authoritative);

        // Into the second zone: its data, still authoritative.
        let a = lookup(&world, "out.example.test.", rtype::A);
        assert_eq!(types(&a.answer), [rtype::CNAME, rtype::A]);
        assert!(a.authoritative && a.rcode == rcode::NOERROR);

        // DNAME: the DNAME under its own owner, then a CNAME for the
        // question with the DNAME's TTL (RFC 6672 §3.4), then the target.
        let a = lookup(&world, "www.legacy.example.test.", rtype::A);
        assert_eq!(types(&a.answer), [rtype::DNAME, rtype::CNAME, rtype::A]);
        assert!(matches!(&a.answer[0].owner, Owner::Wire(w) if *w == wire("legacy.example.test.").as_slice()));
        assert!(matches!(a.answer[1].owner, Owner::Question));
        assert_eq!(a.answer[1].rrset.get().ttl, 600);
        assert_eq!(
            a.answer[1].rrset.get().rdatas().next(),
            Some(wire("www.new.example.test.").as_slice())
        );

        // A loop ends once every name has answered.
        let a = lookup(&world, "loop1.example.test.", rtype::A);
        assert_eq!(types(&a.answer), [rtype::CNAME, rtype::CNAME]);
        assert_eq!(a.rcode, rcode::NOERROR);
    }

    #[test]
    fn names_outside_every_zone_are_refused() {
        let world = example_world();
        let a = lookup(&world, "www.unserved.test.", rtype::A);
        assert_eq!(a.rcode, rcode::REFUSED);
        assert!(!a.authoritative);
        assert!(a.answer.is_empty() && a.authority.is_empty() && a.denials.is_empty());
    }

    #[test]
    fn dnssec_questions_in_a_signed_zone_are_left_to_synthesis() {
        let world = signed_world();
        let a = lookup(&world, "signed.test.", rtype::DNSKEY);
        assert!(matches!(a.synthesis.as_deref(), Some(Synthesis::Dnskey { .. })));
        assert!(a.answer.is_empty() && a.denials.is_empty());

        let a = lookup(&world, "www.signed.test.", rtype::NSEC);
        match a.synthesis.as_deref() {
            Some(Synthesis::Nsec { name, .. }) => {
                assert_eq!(&**name, wire("www.signed.test.").as_slice());
            }
            other => panic!("{other:?}"),
        }
        assert!(a.denials.is_empty());

        // RRSIG: one signature per RRset the name holds.
        for (qname, want) in [
            ("www.signed.test.", vec![rtype::A, rtype::AAAA]),
            (
                "signed.test.",
                vec![rtype::NS, rtype::SOA, rtype::DNSKEY],
            ),
        ] {
            let a = lookup(&world, qname, rtype::RRSIG);
            match a.synthesis.as_deref() {
                Some(Synthesis::Rrsig { name, covered, .. }) => {
                    assert_eq!(&**name, wire(qname).as_slice());
                    let mut got: Vec<u16> = covered.iter().map(|r| r.get().rtype).collect();
                    got.sort_unstable();
                    let mut want = want.clone();
                    want.sort_unstable();
                    assert_eq!(got, want, "{qname}");
                }
                other => panic!("{qname}: {other:?}"),
            }
        }

        // DNSKEY below the apex is an ordinary NODATA.
        let a = lookup(&world, "www.signed.test.", rtype::DNSKEY);
        assert!(a.synthesis.is_none());
        assert!(matches!(a.denials.as_slice(), [Denial::NoData { .. }]));

        // A wildcard expansion holds no DNSSEC records of its own.
        let a = lookup(&world, "x.wild.signed.test.", rtype::NSEC);
        assert!(a.synthesis.is_none());
        assert!(matches!(
            a.denials.as_slice(),
            [Denial::NoData {
                wildcard: Some(_),
                ..
            }]
        ));
    }

    #[test]
    fn unsigned_zones_synthesise_nothing() {
        let world = example_world();
        for qtype in [rtype::NSEC, rtype::RRSIG, rtype::DNSKEY] {
            let a = lookup(&world, "example.test.", qtype);
            assert!(a.synthesis.is_none(), "type {qtype}");
            assert!(matches!(a.denials.as_slice(), [Denial::NoData { .. }]));
        }
    }
}
