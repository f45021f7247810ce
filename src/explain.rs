//! `signpostctl explain`: what the server would answer a given client, and
//! why, one decision per line — the same lookup the query path runs, with
//! the policy trace switched on.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::health::HealthTable;
use crate::name::Name;
use crate::policy::select::Env;
use crate::policy::PolicyConfig;
use crate::query::lookup::{self, Entry, Owner};
use crate::query::{Client, Transport};
use crate::snapshot::{Snapshot, View, ViewMatch};
use crate::zonefile::rdata_to_text;

/// The client as given on the command line: `ADDR` or `ADDR/PREFIX` (the
/// latter as if sent in an ECS option).
#[derive(Debug, Clone, Copy)]
pub struct ExplainClient {
    pub addr: IpAddr,
    pub ecs_prefix: Option<u8>,
}

impl std::str::FromStr for ExplainClient {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (
                a,
                Some(
                    p.parse::<u8>()
                        .map_err(|_| format!("bad prefix in {text}"))?,
                ),
            ),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("\"{addr}\" is not an IP address"))?;
        Ok(Self {
            addr,
            ecs_prefix: prefix,
        })
    }
}

impl std::fmt::Display for ExplainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ecs_prefix {
            Some(p) => write!(f, "{}/{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// Explains one query against the zones and health states the running
/// server holds: the daemon's side of `signpostctl explain`.
pub fn explain_snapshot(
    snapshot: &Snapshot,
    qname: &str,
    qtype: u16,
    client: ExplainClient,
) -> Result<Vec<String>, String> {
    let name = Name::parse(qname, Some(&Name::root())).map_err(|e| format!("{qname}: {e}"))?;
    let mut lines = Vec::new();
    // The address alone picks the view: explain cannot know which local
    // address a real query would arrive on, so views that list
    // destinations are passed over, and said so.
    let as_client = Client {
        addr: std::net::SocketAddr::new(client.addr, 0),
        local: None,
        transport: Transport::Udp,
    };
    let mut chosen = None;
    for view in &snapshot.views {
        if view.matcher.matches(&as_client) {
            chosen = Some(view);
            break;
        }
        let unknowable = !view.matcher.destinations.is_empty() || !view.matcher.keys.is_empty();
        let by_source = ViewMatch {
            destinations: Vec::new(),
            keys: Vec::new(),
            ..view.matcher.clone()
        };
        if unknowable && by_source.matches(&as_client) {
            lines.push(format!(
                "view {}: skipped, it also matches on the local address or a TSIG key, which explain does not know",
                view.name
            ));
        }
    }
    let Some(view) = chosen else {
        lines.push(format!("client {}: no view matches: REFUSED", client.addr));
        return Ok(lines);
    };
    lines.push(format!("view: {}", view.name));
    let lower = name.to_lowercase();
    match view.find_zone(lower.as_wire()) {
        Some(zone) => lines.push(format!("zone: {} (serial {})", zone.apex, zone.serial)),
        None => lines.push("zone: none serves this name: REFUSED".into()),
    }
    let (client_ip, source_prefix) = match client.ecs_prefix {
        Some(p) => ((p > 0).then_some(client.addr), Some(p)),
        None => (Some(client.addr), None),
    };
    lines.push(match client.ecs_prefix {
        Some(p) => format!("client: {}/{p} (as EDNS Client Subnet)", client.addr),
        None => format!("client: {} (source address)", client.addr),
    });
    let health = snapshot.health.load();
    explain_in(
        view,
        &snapshot.policy,
        &health,
        &lower,
        qtype,
        client_ip,
        source_prefix,
        &mut lines,
    );
    Ok(lines)
}

/// Explains one query from the files alone, with the config's initial
/// health states: for when no server is running, or to try a change
/// before reloading it. Returns every error met while loading.
pub fn explain(
    config: &Config,
    qname: &str,
    qtype: u16,
    client: ExplainClient,
) -> Result<Vec<String>, Vec<String>> {
    let (policy, health) = config.policy.build().map_err(|e| vec![e])?;
    let policy = Arc::new(policy);
    let mut errors = Vec::new();
    let mut zones = Vec::new();
    for zc in &config.zones {
        match crate::zone::load_with(&zc.name, &zc.file, &policy) {
            Ok(built) => zones.push((zc, Arc::new(built.zone))),
            Err(es) => errors.extend(es.iter().map(ToString::to_string)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let views = config.build_views(|zc| {
        zones
            .iter()
            .find(|(loaded, _)| std::ptr::eq(*loaded, zc))
            .map(|(_, zone)| zone.clone())
    });
    let snapshot = Snapshot::with_views(views, config.edns_udp_size)
        .with_policy(policy, Arc::new(ArcSwap::from_pointee(health)));
    explain_snapshot(&snapshot, qname, qtype, client).map_err(|e| vec![e])
}

#[allow(clippy::too_many_arguments)]
fn explain_in(
    view: &View,
    policy: &PolicyConfig,
    health: &HealthTable,
    qname: &Name,
    qtype: u16,
    client_ip: Option<IpAddr>,
    source_prefix: Option<u8>,
    lines: &mut Vec<String>,
) {
    let mut env = Env::new(policy, health, client_ip, source_prefix);
    env.trace = Some(Vec::new());
    let answer = lookup::resolve(view, qname.as_wire(), qtype, &mut env);
    lines.extend(env.trace.take().unwrap_or_default());
    let rcode = match answer.rcode {
        0 => "NOERROR",
        3 => "NXDOMAIN",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        _ => "other",
    };
    lines.push(format!(
        "answer: {rcode}{}{}",
        if answer.authoritative {
            ", authoritative"
        } else {
            ""
        },
        env.scope
            .filter(|_| source_prefix.is_some())
            .map_or(String::new(), |s| format!(", ECS scope /{s}"))
    ));
    let mut show = |section: &str, entries: &[Entry<'_>]| {
        for e in entries {
            let owner = match &e.owner {
                Owner::Question => qname.to_string(),
                Owner::Wire(w) => Name::from_wire(w)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                Owner::Owned(n) => n.to_string(),
            };
            let rrset = e.rrset.get();
            for rdata in rrset.rdatas() {
                lines.push(format!(
                    "{section}: {owner} {} IN {} {}",
                    rrset.ttl,
                    crate::zonefile::rtype_name(rrset.rtype),
                    rdata_to_text(rrset.rtype, rdata)
                ));
            }
        }
    };
    show("answer", &answer.answer);
    show("authority", &answer.authority);
    show("additional", &answer.additional);
}
