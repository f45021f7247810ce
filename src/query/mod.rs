//! Answering one query, top to bottom: parse → checks → lookup → wire.
//!
//! [`respond`] is a plain synchronous function over an immutable
//! [`Snapshot`]; only `net` is async. It takes no lock and allocates only
//! for the section lists (and for DNAME-synthesised names).

// The query path must not panic on any input.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod lookup;
pub mod request;
pub mod secure;
pub mod wire;

use crate::policy::select::Env;
use crate::rtype;
use crate::snapshot::Snapshot;
use crate::tsig::{self, Signer, Verdict};
use lookup::{Answer, Entry, Owner, RCODE_FORMERR, RCODE_NOTIMP, RCODE_REFUSED};
use request::{Edns, Reject, Request};
use secure::Section;
use wire::{Full, Writer, FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, OPT_LEN};

/// How the query arrived; it decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Who asked, and how: the source address selects views and, without an
/// EDNS Client Subnet option, the client's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: std::net::SocketAddr,
    /// The local address the query arrived on, when known.
    pub local: Option<std::net::SocketAddr>,
    pub transport: Transport,
}

/// Smallest UDP payload every client accepts (RFC 1035 §4.2.1).
const MIN_UDP_SIZE: u16 = 512;
/// NOTAUTH (RFC 8945 §5.2): a TSIG check failed.
const RCODE_NOTAUTH: u8 = 9;
/// Extended RCODE BADVERS (16), upper eight bits as carried in OPT.
const BADVERS_HIGH: u8 = 1;

/// Writes the response to `packet` into `out`. Returns false when the
/// packet deserves no response at all.
pub fn respond(snapshot: &Snapshot, packet: &[u8], client: &Client, out: &mut Vec<u8>) -> bool {
    let request = match request::parse(packet) {
        Ok(request) => request,
        Err(Reject::Drop) => return false,
        Err(Reject::FormErr {
            id,
            flags,
            question,
        }) => {
            error_reply(out, id, flags, question.unwrap_or_default(), RCODE_FORMERR);
            return true;
        }
        Err(Reject::NotImp {
            id,
            flags,
            question,
        }) => {
            error_reply(out, id, flags, question.unwrap_or_default(), RCODE_NOTIMP);
            return true;
        }
    };
    let Some(rr) = request.tsig else {
        answer(snapshot, &request, client, None, out);
        return true;
    };
    // Signed (RFC 8945 §5.2): every outcome but FORMERR carries a TSIG RR.
    let now = tsig::now();
    match tsig::verify(&snapshot.keys, packet, &rr, now) {
        Verdict::Valid(signer) => {
            answer(snapshot, &request, client, Some(&signer), out);
            signer.sign(out, now);
        }
        Verdict::SignedError(signer) => {
            tracing::debug!(
                client = %client.addr,
                error = signer.error(),
                "TSIG: request time or MAC length refused"
            );
            notauth(snapshot, &request, out);
            signer.sign(out, now);
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
        }
        Verdict::Malformed => {
            error_reply(
                out,
                request.id,
                reply_flags(&request),
                request.question,
                RCODE_FORMERR,
            );
        }
    }
    true
}

/// Answers a query that is unsigned (`signer` None) or whose TSIG
/// verified; the caller signs the result.
fn answer(
    snapshot: &Snapshot,
    request: &Request<'_>,
    client: &Client,
    signer: Option<&Signer<'_>>,
    out: &mut Vec<u8>,
) {
    let transport = client.transport;
    let flags = reply_flags(request);

    if let Some(edns) = request.edns {
        if edns.version != 0 {
            // RFC 6891 §6.1.3: BADVERS, answered with the version we speak.
            let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
            w.opt(snapshot.edns_udp_size, BADVERS_HIGH, edns.dnssec_ok, None);
            w.set_count(3, 1);
            return;
        }
    }
    if let Some(rcode) = refuse_early(request) {
        let mut w = Writer::new(
            out,
            request.id,
            flags | u16::from(rcode),
            request.question,
            usize::MAX,
        );
        finish_opt(&mut w, snapshot, request.edns, 0, 0);
        return;
    }

    let Some(view) = snapshot.view_for_key(client, signer.map(Signer::key_name)) else {
        // No view serves this client (SPEC §5).
        let flags = flags | u16::from(RCODE_REFUSED);
        let mut w = Writer::new(out, request.id, flags, request.question, usize::MAX);
        finish_opt(&mut w, snapshot, request.edns, 0, 0);
        return;
    };
    // Policies locate the client by its ECS subnet when it sends one
    // (RFC 7871), else by the source address.
    let health = snapshot.health.load();
    let (client_ip, source_prefix) = match request.edns.and_then(|e| e.client_subnet) {
        Some(subnet) => (
            (subnet.source_prefix > 0).then_some(subnet.addr),
            Some(subnet.source_prefix),
        ),
        None => (Some(client.addr.ip()), None),
    };
    let mut env = Env::new(&snapshot.policy, &health, client_ip, source_prefix);
    let answer = lookup::resolve(view, request.qname.as_wire(), request.qtype, &mut env);
    let scope = env.scope.unwrap_or(0);
    let signing = request
        .edns
        .is_some_and(|e| e.dnssec_ok)
        .then_some(secure::Signing {
            view,
            qname: request.qname.as_wire(),
            answer: &answer,
        });
    // Room for the TSIG RR, so that a truncated answer is signed too.
    let limit =
        size_limit(snapshot, request, transport).saturating_sub(signer.map_or(0, Signer::reserve));
    write_answer(
        snapshot,
        request,
        &answer,
        signing.as_ref(),
        limit,
        scope,
        out,
    );
}

/// NOTAUTH for a signed request that failed TSIG checks; the caller adds
/// the TSIG RR carrying the error.
fn notauth(snapshot: &Snapshot, request: &Request<'_>, out: &mut Vec<u8>) {
    let flags = reply_flags(request) | u16::from(RCODE_NOTAUTH);
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
        return Some(RCODE_REFUSED);
    }
    match request.qtype {
        rtype::OPT | rtype::TSIG | rtype::TKEY => Some(RCODE_FORMERR),
        rtype::AXFR | rtype::IXFR => Some(RCODE_REFUSED),
        rtype::MAILA | rtype::MAILB => Some(RCODE_NOTIMP),
        _ => None,
    }
}

fn error_reply(out: &mut Vec<u8>, id: u16, query_flags: u16, question: &[u8], rcode: u8) {
    // Keep opcode, RD and CD; everything else is ours.
    let flags = FLAG_QR | (query_flags & (0x7800 | FLAG_RD | FLAG_CD)) | u16::from(rcode);
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

fn write_answer(
    snapshot: &Snapshot,
    request: &Request<'_>,
    answer: &Answer<'_>,
    signing: Option<&secure::Signing<'_, '_>>,
    limit: usize,
    scope: u8,
    out: &mut Vec<u8>,
) {
    let mut flags = reply_flags(request);
    if answer.authoritative {
        flags |= FLAG_AA;
    }
    flags |= u16::from(answer.rcode & 0xf);
    let mut w = Writer::new(out, request.id, flags, request.question, limit);
    let question_end = w.len();

    let sections = write_section(&mut w, &answer.answer, signing, Section::Answer).and_then(|an| {
        let ns = write_section(&mut w, &answer.authority, signing, Section::Authority)?;
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
    entries: &[Entry<'_>],
    signing: Option<&secure::Signing<'_, '_>>,
    section: Section,
) -> Result<u16, Full> {
    let mut count = 0u16;
    for entry in entries {
        count = count.saturating_add(w.rrset(owner_wire(&entry.owner), entry.rrset.get())?);
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
