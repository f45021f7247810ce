//! `signpostctl explain`: what the server would answer a given client, and
//! why, one decision per line. It runs the query path's own
//! [`query::resolve`] (view choice, ECS handling, lookup, policies) with
//! the policy trace switched on, over the running server's snapshot or one
//! the compile stage makes from the files.

use std::net::{IpAddr, SocketAddr};

use crate::compile;
use crate::config::Config;
use crate::policy::random::with_thread_random;
use crate::proto::{rcode, rtype, Client, Diagnostic, Name, Transport};
use crate::query::lookup::{NamedRrset, Owner};
use crate::query::request::ClientSubnet;
use crate::query::{self, Question};
use crate::snapshot::{Snapshot, ViewMatch};
use crate::zonefile::rdata_to_text;

/// The client as given on the command line: `ADDR` or `ADDR/PREFIX` (the
/// latter as if sent in an ECS option).
#[derive(Debug, Clone, Copy)]
pub struct ExplainClient {
    pub addr: IpAddr,
    pub ecs_prefix: Option<u8>,
}

/// A `--client` value that is not `ADDR` or `ADDR/PREFIX`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("\"{0}\" is not an IP address")]
    Address(String),
    #[error("bad prefix in {0} (at most 32 for IPv4, 128 for IPv6)")]
    Prefix(String),
}

impl std::str::FromStr for ExplainClient {
    type Err = ClientError;
    fn from_str(text: &str) -> Result<Self, ClientError> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (
                a,
                Some(
                    p.parse::<u8>()
                        .map_err(|_| ClientError::Prefix(text.into()))?,
                ),
            ),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| ClientError::Address(addr.into()))?;
        let client = Self {
            addr,
            ecs_prefix: prefix,
        };
        if prefix.is_some() && client.subnet().is_none() {
            return Err(ClientError::Prefix(text.into()));
        }
        Ok(client)
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

impl ExplainClient {
    /// The ECS option a query from this client would carry.
    fn subnet(&self) -> Option<ClientSubnet> {
        ClientSubnet::new(self.addr, self.ecs_prefix?)
    }
}

/// A question explain cannot ask.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {source}")]
pub struct ExplainError {
    name: String,
    source: crate::proto::NameError,
}

/// Explains one query against the zones and health states of `snapshot`:
/// the daemon's side of `signpostctl explain`.
pub(crate) fn explain_snapshot(
    snapshot: &Snapshot,
    qname: &str,
    qtype: u16,
    client: ExplainClient,
) -> Result<Vec<String>, ExplainError> {
    let name = Name::parse(qname, Some(&Name::root())).map_err(|source| ExplainError {
        name: qname.into(),
        source,
    })?;
    let lower = name.to_lowercase();
    // The address alone picks the view: explain cannot know which local
    // address a real query would arrive on, nor sign it.
    let as_client = Client {
        addr: SocketAddr::new(client.addr, 0),
        local: None,
        transport: Transport::Udp,
    };
    let question = Question {
        qname: lower.as_wire(),
        qtype,
        client: &as_client,
        subnet: client.subnet(),
        key: None,
    };
    let resolved = with_thread_random(|random| query::resolve(snapshot, &question, random, true));
    let mut lines = skipped_views(
        snapshot,
        &as_client,
        resolved.as_ref().map(|r| r.view.name.as_str()),
    );
    let Some(resolved) = resolved else {
        lines.push(format!("client {}: no view matches: REFUSED", client.addr));
        return Ok(lines);
    };
    lines.push(format!("view: {}", resolved.view.name));
    match resolved.view.find_zone(lower.as_wire()) {
        Some(zone) => lines.push(format!("zone: {} (serial {})", zone.apex, zone.serial)),
        None => lines.push("zone: none serves this name: REFUSED".into()),
    }
    lines.push(match client.ecs_prefix {
        Some(p) => format!("client: {}/{p} (as EDNS Client Subnet)", client.addr),
        None => format!("client: {} (source address)", client.addr),
    });
    lines.extend(resolved.trace);
    let answer = &resolved.answer;
    lines.push(format!(
        "answer: {}{}{}",
        rcode::name(answer.rcode),
        if answer.authoritative {
            ", authoritative"
        } else {
            ""
        },
        resolved
            .scope
            .filter(|_| client.ecs_prefix.is_some())
            .map_or(String::new(), |s| format!(", ECS scope /{s}"))
    ));
    let mut show = |section: &str, entries: &[NamedRrset<'_>]| {
        for e in entries {
            let owner = match &e.owner {
                Owner::Question => name.to_string(),
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
                    rtype::name(rrset.rtype),
                    rdata_to_text(rrset.rtype, rdata)
                ));
            }
        }
    };
    show("answer", &answer.answer);
    show("authority", &answer.authority);
    show("additional", &answer.additional);
    Ok(lines)
}

/// Views before `chosen` that the client's address matches but that also
/// match on what explain cannot know (the local address, a TSIG key).
fn skipped_views(snapshot: &Snapshot, client: &Client, chosen: Option<&str>) -> Vec<String> {
    snapshot
        .views
        .iter()
        .take_while(|v| Some(v.name.as_str()) != chosen)
        .filter(|v| !v.matcher.destinations.is_empty() || !v.matcher.keys.is_empty())
        .filter(|v| {
            let by_source = ViewMatch {
                destinations: Vec::new(),
                keys: Vec::new(),
                ..v.matcher.clone()
            };
            by_source.matches(client, None)
        })
        .map(|v| {
            format!(
                "view {}: skipped, it also matches on the local address or a TSIG key, which explain does not know",
                v.name
            )
        })
        .collect()
}

/// Explains one query from the files alone, with the config's initial
/// health states: for when no server is running, or to try a change
/// before reloading it. Returns every error met while compiling.
pub fn explain(
    config: &Config,
    qname: &str,
    qtype: u16,
    client: ExplainClient,
) -> Result<Vec<String>, Vec<String>> {
    let compiled = compile::everything(config)
        .map_err(|errors| errors.iter().map(Diagnostic::to_string).collect::<Vec<_>>())?;
    explain_snapshot(&compiled.snapshot, qname, qtype, client).map_err(|e| vec![e.to_string()])
}
