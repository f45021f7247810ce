//! Answering one query, top to bottom:
//!
//! ```text
//! respond(snapshot, packet, client) ─► request::parse ─► TSIG (tsig::verify)
//!   ─► answer: refuse_early ─► resolve: view ─► client location (ECS or
//!      source) ─► lookup (RFC 1034 §4.3.2, policies) ─► dnssec::synthesize
//!   ─► write_answer: sections, dnssec::Signing (DO=1), EDNS, TC ─► bytes
//! ```
//!
//! [`respond`] is a plain synchronous function over an immutable
//! [`Snapshot`]; only `net` is async. It takes no lock and allocates only
//! for the section lists (and for DNAME-synthesised names). [`resolve`] is
//! the part that decides, shared with `signpostctl explain` and the
//! in-process tests.

pub(crate) mod dnssec;
pub(crate) mod lookup;
pub(crate) mod request;
pub(crate) mod wire;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::net::IpAddr;

use crate::policy::random::{with_thread_random, Random};
use crate::policy::select::Env;
use crate::proto::header::{FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, OPCODE_MASK};
use crate::proto::{rcode, rtype, Client, Transport};
use crate::snapshot::{RrsetOrder, Snapshot, View};
use crate::stats::{Chosen, Outcome};
use crate::tsig::{self, ReplySigner, Verdict};
use dnssec::Section;
use lookup::{Answer, NamedRrset, Owner};
use request::{ClientSubnet, Edns, Reject, Request};
use wire::{Full, Order, Writer, OPT_LEN};

/// Smallest UDP payload every client accepts (RFC 1035 §4.2.1).
const MIN_UDP_SIZE: u16 = 512;
/// Extended RCODE BADVERS (16), upper eight bits as carried in OPT.
const BADVERS_HIGH: u8 = 1;

/// Writes the response to `packet` into `out`, drawing policy decisions
/// from this thread's random source. Returns what was decided, for the
/// counters and the query log; `None` when the packet deserves no
/// response at all.
pub(crate) fn respond(
    snapshot: &Snapshot,
    packet: &[u8],
    client: &Client,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    with_thread_random(|random| respond_with(snapshot, packet, client, random, out))
}

/// [`respond`] with the random source given: tests pass a seeded one.
pub(crate) fn respond_with(
    snapshot: &Snapshot,
    packet: &[u8],
    client: &Client,
    random: &dyn Random,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let request = match request::parse(packet) {
        Ok(request) => request,
        Err(Reject::Drop) => return None,
        Err(Reject::FormErr {
            id,
            flags,
            question,
        }) => {
            error_reply(out, id, flags, question.unwrap_or_default(), rcode::FORMERR);
            return Some(Outcome::early(0, rcode::FORMERR));
        }
        Err(Reject::NotImp {
            id,
            flags,
            question,
        }) => {
            error_reply(out, id, flags, question.unwrap_or_default(), rcode::NOTIMP);
            return Some(Outcome::early(0, rcode::NOTIMP));
        }
    };
    let Some(rr) = request.tsig else {
        return Some(answer(snapshot, &request, client, None, random, out));
    };
    // Signed (RFC 8945 §5.2): every outcome but FORMERR carries a TSIG RR.
    let now = tsig::now();
    let outcome = match tsig::verify(&snapshot.keys, packet, &rr, now) {
        Verdict::Valid(signer) => {
            let outcome = answer(snapshot, &request, client, Some(&signer), random, out);
            signer.sign(out, now);
            outcome
        }
        Verdict::SignedError(signer) => {
            tracing::debug!(
                client = %client.addr,
                error = signer.error(),
                "TSIG: request time or MAC length refused"
            );
            notauth(snapshot, &request, out);
            signer.sign(out, now);
            Outcome::early(request.qtype, rcode::NOTAUTH)
        }
        Verdict::UnsignedError(unsigned) => {
            tracing::debug!(
                client = %client.addr,
                key = %unsigned.key_name(),
                error = unsigned.error(),
                "TSIG: unknown key or bad MAC"
            );
            notauth(snapshot, &request, out);
            unsigned.append(out, now);
            Outcome::early(request.qtype, rcode::NOTAUTH)
        }
        Verdict::Malformed => {
            error_reply(
                out,
                request.id,
                reply_flags(&request),
                request.question,
                rcode::FORMERR,
            );
            Outcome::early(request.qtype, rcode::FORMERR)
        }
    };
    Some(outcome)
}

/// One question as the query path decides it, however it arrived.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Question<'q> {
    /// Lowercased wire form.
    pub(crate) qname: &'q [u8],
    pub(crate) qtype: u16,
    pub(crate) client: &'q Client,
    /// The EDNS Client Subnet option, when the query had one.
    pub(crate) subnet: Option<ClientSubnet>,
    /// The verified TSIG key's lowercased wire name, when signed.
    pub(crate) key: Option<&'q [u8]>,
}

/// What [`resolve`] decided.
#[derive(Debug)]
pub(crate) struct Resolution<'s> {
    pub(crate) view: &'s View,
    pub(crate) answer: Answer<'s>,
    /// The narrowest client network the answer depends on (the ECS scope).
    pub(crate) scope: Option<u8>,
    /// The TTL the answer section carries at most: a policy decision in it
    /// depended on a failing or recovering check (`[health_ttl]`).
    pub(crate) ttl_cap: Option<u32>,
    /// One line per decision, when asked for (`signpostctl explain`).
    pub(crate) trace: Vec<String>,
    /// The policy sets answered with.
    pub(crate) chosen: Chosen,
}

/// Where policies locate a client: by its ECS subnet when it sends one
/// (RFC 7871; none at all for a /0), else by the source address. Returns
/// the address and the ECS source prefix.
pub(crate) fn client_location(
    client: &Client,
    subnet: Option<ClientSubnet>,
) -> (Option<IpAddr>, Option<u8>) {
    match subnet {
        Some(subnet) => (
            (subnet.source_prefix > 0).then_some(subnet.addr),
            Some(subnet.source_prefix),
        ),
        None => (Some(client.addr.ip()), None),
    }
}

/// Picks the view, locates the client, looks the name up (policies
/// included) and makes the DNSSEC records the question asks for. `None`:
/// no view serves this client (REFUSED).
#[inline(always)]
pub(crate) fn resolve<'s>(
    snapshot: &'s Snapshot,
    question: &Question<'_>,
    random: &dyn Random,
    trace: bool,
) -> Option<Resolution<'s>> {
    let view = snapshot.view_for(question.client, question.key)?;
    let health = snapshot.health.load();
    let (client_ip, source_prefix) = client_location(question.client, question.subnet);
    let mut env = Env::new(&snapshot.policy, &health, client_ip, source_prefix, random);
    env.aliases = Some(&snapshot.aliases);
    if trace {
        env.trace = Some(Vec::new());
    }
    let mut answer = lookup::resolve(view, question.qname, question.qtype, &mut env);
    if answer.synthesis.is_some() {
        dnssec::synthesize(&mut answer);
    }
    Some(Resolution {
        view,
        answer,
        scope: env.scope,
        ttl_cap: env.ttl_cap,
        trace: env.trace.unwrap_or_default(),
        chosen: env.chosen,
    })
}

thread_local! {
    /// Answers written by this thread: where a cyclic order starts.
    static TURN: Cell<usize> = const { Cell::new(0) };
}

/// The next rotation of `rrset_order = "cyclic"` (per thread: each worker
/// rotates its own answers).
fn next_turn() -> usize {
    TURN.with(|turn| {
        let n = turn.get();
        turn.set(n.wrapping_add(1));
        n
    })
}

/// Answers a query that is unsigned (`signer` None) or whose TSIG
/// verified; the caller signs the result.
fn answer(
    snapshot: &Snapshot,
    request: &Request<'_>,
    client: &Client,
    signer: Option<&ReplySigner<'_>>,
    random: &dyn Random,
    out: &mut Vec<u8>,
) -> Outcome {
    let flags = reply_flags(request);
    if let Some(edns) = request.edns {
        if edns.version != 0 {
            // RFC 6891 §6.1.3: BADVERS, answered with the version we speak.
            let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
            w.opt(snapshot.edns_udp_size, BADVERS_HIGH, edns.dnssec_ok, None);
            w.set_count(3, 1);
            return Outcome::early(request.qtype, rcode::BADVERS);
        }
    }
    if let Some(code) = refuse_early(request) {
        let flags = flags | u16::from(code);
        let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
        finish_opt(&mut w, snapshot, request.edns, 0, 0);
        return Outcome::early(request.qtype, code);
    }
    let question = Question {
        qname: request.qname.as_wire(),
        qtype: request.qtype,
        client,
        subnet: request.edns.and_then(|e| e.client_subnet),
        key: signer.map(ReplySigner::key_name),
    };
    let Some(resolved) = resolve(snapshot, &question, random, false) else {
        // No view serves this client (signpost.toml(5), [[view]]).
        let flags = flags | u16::from(rcode::REFUSED);
        let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
        finish_opt(&mut w, snapshot, request.edns, 0, 0);
        return Outcome::early(request.qtype, rcode::REFUSED);
    };
    let signing = request
        .edns
        .is_some_and(|e| e.dnssec_ok)
        .then_some(dnssec::Signing {
            view: resolved.view,
            qname: request.qname.as_wire(),
            answer: &resolved.answer,
        });
    // Room for the TSIG RR, so that a truncated answer is signed too.
    let limit = size_limit(snapshot, request, client.transport)
        .saturating_sub(signer.map_or(0, ReplySigner::reserve));
    let order = match snapshot.rrset_order {
        RrsetOrder::Random => Order::Shuffled(random),
        RrsetOrder::Cyclic => Order::Rotated(next_turn()),
        RrsetOrder::Fixed => Order::AsStored,
    };
    write_answer(
        snapshot,
        request,
        &resolved,
        signing.as_ref(),
        (limit, order),
        out,
    );
    Outcome {
        zone: resolved.answer.zone,
        view: resolved.view.label,
        qtype: request.qtype,
        rcode: u16::from(resolved.answer.rcode),
        policy: resolved.chosen,
        ecs: question.subnet.map(|s| (s.addr, s.source_prefix)),
    }
}

/// NOTAUTH for a signed request that failed TSIG checks; the caller adds
/// the TSIG RR carrying the error.
fn notauth(snapshot: &Snapshot, request: &Request<'_>, out: &mut Vec<u8>) {
    let flags = reply_flags(request) | u16::from(rcode::NOTAUTH);
    let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
    finish_opt(&mut w, snapshot, request.edns, 0, 0);
}

/// Flags every reply starts with: QR, the opcode, and RD and CD copied
/// (RFC 1035 §4.1.1, RFC 4035 §3.1.6). RA stays clear: no recursion here.
fn reply_flags(request: &Request<'_>) -> u16 {
    let mut flags = FLAG_QR | (u16::from(request.opcode) << 11);
    if request.recursion_desired {
        flags |= FLAG_RD;
    }
    if request.checking_disabled {
        flags |= FLAG_CD;
    }
    flags
}

/// Questions refused before any lookup: other classes, zone transfers
/// (not offered), and meta types that are not questions. QCLASS `*` is
/// answered from IN, the only class served (RFC 1035 §3.2.5).
fn refuse_early(request: &Request<'_>) -> Option<u8> {
    if request.qclass != rtype::CLASS_IN && request.qclass != rtype::CLASS_ANY {
        return Some(rcode::REFUSED);
    }
    match request.qtype {
        rtype::OPT | rtype::TSIG | rtype::TKEY => Some(rcode::FORMERR),
        rtype::AXFR | rtype::IXFR => Some(rcode::REFUSED),
        rtype::MAILA | rtype::MAILB => Some(rcode::NOTIMP),
        _ => None,
    }
}

fn error_reply(out: &mut Vec<u8>, id: u16, query_flags: u16, question: &[u8], code: u8) {
    // Keep opcode, RD and CD; everything else is ours.
    let flags = FLAG_QR | (query_flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | u16::from(code);
    Writer::new(out, id, flags, question, usize::MAX);
}

/// Adds our OPT when the query had one; `scope` is the ECS scope prefix.
fn finish_opt(
    w: &mut Writer<'_>,
    snapshot: &Snapshot,
    edns: Option<Edns>,
    additional: u16,
    scope: u8,
) {
    match edns {
        Some(edns) => {
            let subnet = edns.client_subnet.as_ref().map(|s| (s, scope));
            w.opt(snapshot.edns_udp_size, 0, edns.dnssec_ok, subnet);
            w.set_count(3, additional + 1);
        }
        None => w.set_count(3, additional),
    }
}

fn size_limit(snapshot: &Snapshot, request: &Request<'_>, transport: Transport) -> usize {
    match (transport, request.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => usize::from(MIN_UDP_SIZE),
        (Transport::Udp, Some(edns)) => {
            let size = edns
                .udp_size
                .clamp(MIN_UDP_SIZE, snapshot.edns_udp_size.max(MIN_UDP_SIZE));
            let subnet = edns.client_subnet.map_or(0, |s| 8 + s.address_len());
            usize::from(size) - OPT_LEN - subnet
        }
    }
}

/// Writes the reply: at most `limit` bytes, answer RRsets in `order`.
fn write_answer(
    snapshot: &Snapshot,
    request: &Request<'_>,
    resolved: &Resolution<'_>,
    signing: Option<&dnssec::Signing<'_, '_>>,
    (limit, order): (usize, Order<'_>),
    out: &mut Vec<u8>,
) {
    let answer = &resolved.answer;
    let scope = resolved.scope.unwrap_or(0);
    let mut flags = reply_flags(request);
    if answer.authoritative {
        flags |= FLAG_AA;
    }
    flags |= u16::from(answer.rcode & 0xf);
    let mut w = Writer::new(out, request.id, flags, request.question, limit);
    let question_end = w.len();

    // The answer section only: the SOA and NS of the other sections do not
    // depend on health.
    w.set_ttl_cap(resolved.ttl_cap);
    let answered = write_section(&mut w, &answer.answer, signing, Section::Answer, order);
    w.set_ttl_cap(None);
    let sections = answered.and_then(|an| {
        let ns = write_section(&mut w, &answer.authority, signing, Section::Authority, Order::AsStored)?;
        let proofs = match signing {
            Some(s) => s.proofs(&mut w)?,
            None => 0,
        };
        Ok((an, ns.saturating_add(proofs)))
    });
    let additional = match sections {
        Ok((an, ns)) => {
            w.set_count(1, an);
            w.set_count(2, ns);
            // Additional data is optional: what does not fit is left out.
            let mut ar = 0u16;
            for entry in &answer.additional {
                match w.rrset(owner_wire(&entry.owner), entry.rrset.get()) {
                    Ok(n) => ar = ar.saturating_add(n),
                    Err(Full) => break,
                }
                // RFC 4035 §3.1.1: signatures in additional only as space
                // permits.
                if let Some(s) = signing {
                    match s.sign_entry(&mut w, entry, Section::Additional) {
                        Ok(n) => ar = ar.saturating_add(n),
                        Err(Full) => break,
                    }
                }
            }
            ar
        }
        Err(Full) => {
            // RFC 2181 §9: a required RRset did not fit; send the question
            // with TC so the client retries over TCP.
            w.truncate(question_end);
            w.set_count(1, 0);
            w.set_count(2, 0);
            w.set_flags(w.flags() | FLAG_TC);
            0
        }
    };
    finish_opt(&mut w, snapshot, request.edns, additional, scope);
}

fn write_section(
    w: &mut Writer<'_>,
    entries: &[NamedRrset<'_>],
    signing: Option<&dnssec::Signing<'_, '_>>,
    section: Section,
    order: Order<'_>,
) -> Result<u16, Full> {
    let mut count = 0u16;
    for entry in entries {
        count = count.saturating_add(w.rrset_in(owner_wire(&entry.owner), entry.rrset.get(), order)?);
        if let Some(s) = signing {
            count = count.saturating_add(s.sign_entry(w, entry, section)?);
        }
    }
    Ok(count)
}

fn owner_wire<'e>(owner: &'e Owner<'_>) -> Option<&'e [u8]> {
    match owner {
        Owner::Question => None,
        Owner::Wire(w) => Some(w),
        Owner::Owned(name) => Some(name.as_wire()),
    }
}
