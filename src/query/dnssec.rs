//! The DNSSEC stage of an answer (as Knot's `solve_*_dnssec` steps):
//!
//! 1. [`synthesize`]: the DNSKEY, NSEC and RRSIG records a question for
//!    those types gets from a signed zone, which holds none of them;
//! 2. for queries with DO=1 into signed zones, [`Signing`]: an RRSIG after
//!    every RRset that RFC 4035 §3.1.1 asks to be signed, and the NSEC or
//!    DS records that negative answers, wildcard answers and referrals
//!    must carry (§3.1.3, §3.1.4).
//!
//! [`lookup`](super::lookup) records the facts (wildcard expansions,
//! denials, DNSSEC questions) and signs nothing; this module turns them
//! into records with `dnssec::denial` and signs them through each zone's
//! `dnssec::ZoneSigner` (and its cache).

use super::lookup::{Answer, Denial, NamedRrset, Owner, RrsetRef, Synthesis};
use super::wire::{Full, Writer};
use crate::dnssec::denial;
use crate::proto::{rtype, LowerName, Rrset};
use crate::snapshot::View;
use crate::zone::{Node, Zone, FLAG_CUT, FLAG_OCCLUDED};

/// Which section an RRset is written to: glue in additional is never
/// signed (it is not authoritative data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Answer,
    Authority,
    Additional,
}

/// Signing context for one answer.
pub(crate) struct Signing<'v, 'a> {
    pub(crate) view: &'v View,
    /// The question name, lowercased.
    pub(crate) qname: &'v [u8],
    pub(crate) answer: &'v Answer<'a>,
}

/// Puts the records a DNSSEC question asks for into the answer section;
/// the lookup found the question, the zone's signer has the data.
pub(crate) fn synthesize<'a>(answer: &mut Answer<'a>) {
    let Some(synthesis) = answer.synthesis.take() else {
        return;
    };
    match *synthesis {
        Synthesis::Dnskey { zone, owner } => {
            if let Some(signer) = zone.signer.as_deref() {
                answer.answer.push(NamedRrset {
                    owner,
                    rrset: RrsetRef::Zone(&signer.dnskey),
                });
            }
        }
        Synthesis::Nsec {
            zone,
            owner,
            name,
            node,
        } => answer.answer.push(NamedRrset {
            owner,
            rrset: RrsetRef::Owned(own_nsec(zone, &name, node)),
        }),
        Synthesis::Rrsig {
            zone,
            owner,
            name,
            covered,
        } => {
            let Some(signer) = zone.signer.as_deref() else {
                return;
            };
            for rrset in &covered {
                let signed = signer.rrsig(&name, rrset.get());
                if let Some(rrsig) = signed
                    .as_ref()
                    .and_then(|s| s.get())
                    .and_then(|s| s.rrsig.clone())
                {
                    answer.answer.push(NamedRrset {
                        owner: owner.clone(),
                        rrset: RrsetRef::Owned(rrsig),
                    });
                }
            }
        }
    }
}

impl Signing<'_, '_> {
    /// Writes the RRSIG of an entry just written, when its zone is signed
    /// and the RRset is one that is signed. Returns the records written.
    pub(crate) fn sign_entry(
        &self,
        w: &mut Writer<'_>,
        entry: &NamedRrset<'_>,
        section: Section,
    ) -> Result<u16, Full> {
        let written = match &entry.owner {
            Owner::Question => None,
            Owner::Wire(name) => Some(*name),
            Owner::Owned(name) => Some(name.as_wire()),
        };
        let Some(lower) = LowerName::new(written.unwrap_or(self.qname)) else {
            return Ok(0);
        };
        let lower = lower.as_wire();
        let Some(zone) = self.view.find_zone(lower) else {
            return Ok(0);
        };
        let Some(signer) = &zone.signer else {
            return Ok(0);
        };
        let rrset = entry.rrset.get();
        // Signatures are not signed (RFC 4035 §2.2).
        if rrset.rtype == rtype::RRSIG {
            return Ok(0);
        }
        let at_apex = lower == zone.apex.as_wire();
        // RFC 4035 §2.2: the NS RRset of a delegation is not signed; nor
        // is glue (data at or below a cut).
        if rrset.rtype == rtype::NS && !at_apex {
            return Ok(0);
        }
        if section == Section::Additional {
            let glue = zone
                .node(lower)
                .is_none_or(|n| n.has(FLAG_OCCLUDED) || n.has(FLAG_CUT));
            if glue {
                return Ok(0);
            }
        }
        // A wildcard expansion is signed as the wildcard (labels field).
        let owner = self
            .answer
            .wildcards
            .iter()
            .find(|e| std::ptr::eq(e.zone, zone) && &*e.name == lower)
            .map_or(lower, |e| e.source);
        let Some(slot) = signer.rrsig(owner, rrset) else {
            return Ok(0);
        };
        match slot.get().and_then(|s| s.rrsig.as_ref()) {
            Some(rrsig) => w.rrset(written, rrsig),
            None => Ok(0),
        }
    }

    /// The NSEC and DS records (with their RRSIGs) that prove the negative
    /// parts of the answer. Written at the end of the authority section.
    pub(crate) fn proofs(&self, w: &mut Writer<'_>) -> Result<u16, Full> {
        let mut records: Vec<(&Zone, Vec<u8>, Rrset)> = Vec::new();
        for d in &self.answer.denials {
            match d {
                Denial::NoData {
                    zone,
                    name,
                    node,
                    qtype,
                    wildcard,
                } => {
                    if zone.signer.is_none() {
                        continue;
                    }
                    let at = wildcard.unwrap_or(name);
                    let types = node_types(zone, at, node, Some(*qtype));
                    let next = denial::first_child(at);
                    records.push((zone, at.to_vec(), nsec(zone, &next, types)));
                    if wildcard.is_some() {
                        if let Some(source) = wildcard {
                            cover_below(&mut records, zone, name, parent(source));
                        }
                    }
                }
                Denial::NxDomain {
                    zone,
                    name,
                    encloser,
                } => {
                    if zone.signer.is_none() {
                        continue;
                    }
                    cover_below(&mut records, zone, name, encloser);
                    let mut wild = Vec::with_capacity(encloser.len() + 2);
                    wild.extend_from_slice(&[1, b'*']);
                    wild.extend_from_slice(encloser);
                    cover(&mut records, zone, &wild, encloser);
                }
                Denial::Referral { zone, cut, node } => {
                    if zone.signer.is_none() {
                        continue;
                    }
                    match node.rrset(rtype::DS) {
                        Some(ds) => records.push((zone, cut.to_vec(), ds.clone())),
                        None => {
                            // RFC 4035 §3.1.4: an insecure delegation is
                            // proved by the NSEC at the cut without DS.
                            let types = node_types(zone, cut, node, Some(rtype::DS));
                            let next = denial::first_child(cut);
                            records.push((zone, cut.to_vec(), nsec(zone, &next, types)));
                        }
                    }
                }
            }
        }
        // A wildcard answer proves the name itself is absent (§3.1.3.3).
        for e in &self.answer.wildcards {
            let nodata = self.answer.denials.iter().any(
                |d| matches!(d, Denial::NoData { name, wildcard: Some(_), .. } if *name == e.name),
            );
            if e.zone.signer.is_some() && !nodata {
                cover_below(&mut records, e.zone, &e.name, parent(e.source));
            }
        }
        let mut count = 0u16;
        for (i, (zone, owner, rrset)) in records.iter().enumerate() {
            let repeat = records
                .get(..i)
                .is_some_and(|before| before.iter().any(|(_, o, r)| o == owner && r == rrset));
            if repeat {
                continue;
            }
            count = count.saturating_add(w.rrset(Some(owner), rrset)?);
            if let Some(signer) = &zone.signer {
                if let Some(slot) = signer.rrsig(owner, rrset) {
                    if let Some(rrsig) = slot.get().and_then(|s| s.rrsig.as_ref()) {
                        count = count.saturating_add(w.rrset(Some(owner), rrsig)?);
                    }
                }
            }
        }
        Ok(count)
    }
}

/// The name with its first label removed.
fn parent(name: &[u8]) -> &[u8] {
    let skip = name.first().map_or(0, |&l| usize::from(l) + 1);
    name.get(skip..).unwrap_or_default()
}

/// An NSEC RRset with the zone's negative TTL (RFC 4035 §2.3, RFC 9077).
fn nsec(zone: &Zone, next: &[u8], types: Vec<u16>) -> Rrset {
    Rrset::new(
        rtype::NSEC,
        zone.negative_soa.ttl,
        &[&denial::nsec_rdata(next, types)],
    )
}

/// The NSEC a name of a signed zone has, as a question for type NSEC gets
/// it: the next name is the first one below it, which cannot exist.
fn own_nsec(zone: &Zone, name: &[u8], node: &Node) -> Rrset {
    let next = denial::first_child(name);
    nsec(zone, &next, node_types(zone, name, node, None))
}

/// The types an NSEC at `name` lists: what the node can answer (policy
/// types, A and AAAA where an ALIAS answers them, the served DNSKEY at
/// the apex), minus `absent`, which the answer just denied. At a cut only
/// NS and DS are the zone's own data.
fn node_types(zone: &Zone, name: &[u8], node: &Node, absent: Option<u16>) -> Vec<u16> {
    let mut types: Vec<u16> = node.rrsets.iter().map(|r| r.rtype).collect();
    if let Some(groups) = &node.policies {
        types.extend(groups.iter().map(|g| g.rtype));
    }
    if types.contains(&rtype::ALIAS) {
        types.extend([rtype::A, rtype::AAAA]);
    }
    if name == zone.apex.as_wire() && zone.signer.is_some() {
        types.push(rtype::DNSKEY);
    } else if node.has(FLAG_CUT) {
        types.retain(|&t| t == rtype::NS || t == rtype::DS);
    }
    types.retain(|&t| Some(t) != absent && t != rtype::ALIAS);
    types
}

/// The NSEC covering the name just below `encloser` on the way to `name`.
fn cover_below<'z>(
    records: &mut Vec<(&'z Zone, Vec<u8>, Rrset)>,
    zone: &'z Zone,
    name: &[u8],
    encloser: &[u8],
) {
    if let Some(child) = denial::child_of_encloser(name, encloser) {
        cover(records, zone, child, encloser);
    }
}

/// A minimally covering NSEC for `missing`, a name directly below
/// `encloser` that does not exist.
fn cover<'z>(
    records: &mut Vec<(&'z Zone, Vec<u8>, Rrset)>,
    zone: &'z Zone,
    missing: &[u8],
    encloser: &[u8],
) {
    let next = denial::successor(missing);
    match denial::predecessor(missing) {
        Some(owner) => records.push((zone, owner, nsec(zone, &next, Vec::new()))),
        None => {
            // No name fits between the encloser and `missing`: the NSEC
            // is the encloser's own, with its real types.
            let types = zone
                .node(encloser)
                .map(|n| node_types(zone, encloser, n, None))
                .unwrap_or_default();
            records.push((zone, encloser.to_vec(), nsec(zone, &next, types)));
        }
    }
}
