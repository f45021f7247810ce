//! Semantic checks and compilation of parsed records into a [`Zone`].
//!
//! Errors (the zone is not loaded): no SOA or NS at the apex, SOA elsewhere,
//! CNAME beside other data or more than one CNAME/DNAME at a name, records
//! outside the zone. Warnings (loaded, logged): TTLs that differ inside an
//! RRset (the first one wins, as BIND does), data below a DNAME.

use std::path::Path;

use rustc_hash::FxHashMap;

use super::{Node, Rrset, Zone, FLAG_CUT, FLAG_DNAME, FLAG_OCCLUDED, FLAG_WILDCARD_CHILD};
use crate::name::{lowercase_wire, Name};
use crate::rtype;
use crate::zonefile::{Diagnostic, Position, Record};

/// What a successful build returns besides the zone.
pub struct Built {
    pub zone: Zone,
    pub warnings: Vec<Diagnostic>,
}

struct PendingRrset {
    rtype: u16,
    ttl: u32,
    rdatas: Vec<Box<[u8]>>,
    position: Position,
}

/// Zone-wide problems are reported at the start of the zone file.
fn file_start(source: &Path) -> Position {
    Position {
        file: source.into(),
        line: 1,
        col: 1,
    }
}

fn diag(position: &Position, message: String) -> Diagnostic {
    Diagnostic {
        position: position.clone(),
        message,
    }
}

/// Types that may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
fn allowed_beside_cname(rtype: u16) -> bool {
    matches!(
        rtype,
        rtype::CNAME | rtype::RRSIG | rtype::NSEC | 25 /* KEY */
    )
}

/// Compiles the records of one zone. `origin` is the zone's name; `source`
/// names the zone file in zone-wide messages (no SOA, …).
pub fn build_zone(
    origin: &Name,
    records: Vec<Record>,
    source: &Path,
) -> Result<Built, Vec<Diagnostic>> {
    let apex = origin.to_lowercase();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let record_count = records.len();

    // Group by owner, then type, dropping exact duplicates as BIND does.
    let mut owners: FxHashMap<Box<[u8]>, Vec<PendingRrset>> = FxHashMap::default();
    for record in records {
        if !record.owner.is_subdomain_of(&apex) {
            errors.push(diag(
                &record.position,
                format!(
                    "record owner \"{}\" is outside the zone \"{apex}\"",
                    record.owner
                ),
            ));
            continue;
        }
        if record.class != rtype::CLASS_IN {
            errors.push(diag(&record.position, "only class IN is served".into()));
            continue;
        }
        let key: Box<[u8]> = lowercase_wire(record.owner.as_wire()).into_boxed_slice();
        let sets = owners.entry(key).or_default();
        match sets.iter_mut().find(|s| s.rtype == record.rtype) {
            Some(set) => {
                if set.ttl != record.ttl {
                    warnings.push(diag(
                        &record.position,
                        format!(
                            "TTL {} differs from {} of the first {} record at this name (RFC 2181 §5.2); using {}",
                            record.ttl,
                            set.ttl,
                            type_name(record.rtype),
                            set.ttl
                        ),
                    ));
                }
                if !set.rdatas.iter().any(|r| **r == *record.rdata) {
                    set.rdatas.push(record.rdata);
                }
            }
            None => sets.push(PendingRrset {
                rtype: record.rtype,
                ttl: record.ttl,
                rdatas: vec![record.rdata],
                position: record.position,
            }),
        }
    }

    let mut serial = 0;
    let mut negative_soa = None;
    let mut nodes: FxHashMap<Box<[u8]>, Node> = FxHashMap::default();
    nodes.reserve(owners.len());
    for (key, mut sets) in owners {
        let is_apex = *key == *apex.as_wire();
        sets.sort_by_key(|s| s.rtype);
        check_node(&key, is_apex, &sets, &mut errors);
        if is_apex {
            if let Some(soa) = sets.iter().find(|s| s.rtype == rtype::SOA) {
                if let Some((s, minimum)) = soa.rdatas.first().and_then(|r| soa_numbers(r)) {
                    serial = s;
                    let rdatas: Vec<&[u8]> = soa.rdatas.iter().map(|r| &**r).collect();
                    negative_soa = Some(Rrset::new(rtype::SOA, soa.ttl.min(minimum), &rdatas));
                }
            }
        }
        let mut flags = 0;
        if !is_apex && sets.iter().any(|s| s.rtype == rtype::NS) {
            flags |= FLAG_CUT;
        }
        if sets.iter().any(|s| s.rtype == rtype::DNAME) {
            flags |= FLAG_DNAME;
        }
        let rrsets = sets
            .iter()
            .map(|s| {
                let rdatas: Vec<&[u8]> = s.rdatas.iter().map(|r| &**r).collect();
                Rrset::new(s.rtype, s.ttl, &rdatas)
            })
            .collect();
        nodes.insert(key, Node { rrsets, flags });
    }

    let Some(negative_soa) = negative_soa else {
        errors.push(Diagnostic {
            position: file_start(source),
            message: format!("zone \"{apex}\" has no SOA record at its apex"),
        });
        return Err(errors);
    };
    if nodes
        .get(apex.as_wire())
        .is_none_or(|n| n.rrset(rtype::NS).is_none())
    {
        errors.push(Diagnostic {
            position: file_start(source),
            message: format!("zone \"{apex}\" has no NS records at its apex"),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    add_empty_non_terminals(&apex, &mut nodes);
    mark_occluded_and_wildcards(&apex, &mut nodes, &mut warnings, source);

    Ok(Built {
        zone: Zone {
            apex,
            nodes,
            negative_soa,
            serial,
            record_count,
        },
        warnings,
    })
}

fn check_node(key: &[u8], is_apex: bool, sets: &[PendingRrset], errors: &mut Vec<Diagnostic>) {
    let name = Name::from_wire(key)
        .map(|n| n.to_string())
        .unwrap_or_default();
    for set in sets {
        match set.rtype {
            rtype::SOA if !is_apex => errors.push(diag(
                &set.position,
                format!("SOA record at \"{name}\", which is not the zone apex"),
            )),
            rtype::SOA if set.rdatas.len() > 1 => errors.push(diag(
                &set.position,
                "more than one SOA record at the apex".into(),
            )),
            rtype::CNAME if set.rdatas.len() > 1 => errors.push(diag(
                &set.position,
                format!("more than one CNAME record at \"{name}\""),
            )),
            rtype::DNAME if set.rdatas.len() > 1 => errors.push(diag(
                &set.position,
                format!("more than one DNAME record at \"{name}\""),
            )),
            _ => {}
        }
    }
    if let Some(cname) = sets.iter().find(|s| s.rtype == rtype::CNAME) {
        if is_apex {
            errors.push(diag(
                &cname.position,
                "CNAME at the zone apex (it would hide the SOA and NS records; use ALIAS)".into(),
            ));
        } else if let Some(other) = sets.iter().find(|s| !allowed_beside_cname(s.rtype)) {
            errors.push(diag(
                &other.position,
                format!(
                    "{} record beside a CNAME at \"{name}\" (RFC 1034 §3.6.2: a CNAME owner has no other data)",
                    type_name(other.rtype)
                ),
            ));
        }
    }
}

/// SOA serial and minimum from its RDATA.
fn soa_numbers(rdata: &[u8]) -> Option<(u32, u32)> {
    let mname = crate::name::wire_name_len(rdata)?;
    let rname = crate::name::wire_name_len(rdata.get(mname..)?)?;
    let numbers = rdata.get(mname + rname..)?;
    let serial = u32::from_be_bytes(numbers.get(0..4)?.try_into().ok()?);
    let minimum = u32::from_be_bytes(numbers.get(16..20)?.try_into().ok()?);
    Some((serial, minimum))
}

/// Every name between an owner and the apex exists in the tree (RFC 4592
/// §2.2.2: empty non-terminals), so the closest encloser is the first
/// ancestor found.
fn add_empty_non_terminals(apex: &Name, nodes: &mut FxHashMap<Box<[u8]>, Node>) {
    let owners: Vec<Box<[u8]>> = nodes.keys().cloned().collect();
    let apex_len = apex.wire_len();
    for owner in owners {
        let mut pos = 0usize;
        while let Some(&len) = owner.get(pos) {
            pos += usize::from(len) + 1;
            if owner.len() - pos <= apex_len || len == 0 {
                break;
            }
            let Some(ancestor) = owner.get(pos..) else {
                break;
            };
            if nodes.contains_key(ancestor) {
                // Its own ancestors were or will be added from it.
                break;
            }
            nodes.insert(ancestor.into(), Node::default());
        }
    }
}

fn mark_occluded_and_wildcards(
    apex: &Name,
    nodes: &mut FxHashMap<Box<[u8]>, Node>,
    warnings: &mut Vec<Diagnostic>,
    source: &Path,
) {
    let apex_len = apex.wire_len();
    let keys: Vec<Box<[u8]>> = nodes.keys().cloned().collect();
    let mut occluded = Vec::new();
    let mut wildcard_parents = Vec::new();
    let mut below_dname = Vec::new();
    for key in &keys {
        if key.get(..2) == Some(&[1, b'*']) {
            wildcard_parents.push(key.get(2..).unwrap_or_default().to_vec());
        }
        // Walk strict ancestors down to (not including) the apex.
        let mut pos = 0usize;
        while let Some(&len) = key.get(pos) {
            pos += usize::from(len) + 1;
            if key.len() - pos <= apex_len || len == 0 {
                break;
            }
            let Some(ancestor) = key.get(pos..) else {
                break;
            };
            let Some(node) = nodes.get(ancestor) else {
                continue;
            };
            if node.has(FLAG_CUT) || node.has(FLAG_DNAME) {
                occluded.push(key.clone());
                if node.has(FLAG_DNAME) && !nodes.get(&**key).is_none_or(Node::is_empty) {
                    below_dname.push(key.clone());
                }
                break;
            }
        }
        // Names below a DNAME at the apex are occluded too.
        if key.len() > apex_len && nodes.get(apex.as_wire()).is_some_and(|n| n.has(FLAG_DNAME)) {
            occluded.push(key.clone());
        }
    }
    for key in occluded {
        if let Some(node) = nodes.get_mut(&key) {
            node.flags |= FLAG_OCCLUDED;
        }
    }
    for parent in wildcard_parents {
        if let Some(node) = nodes.get_mut(parent.as_slice()) {
            node.flags |= FLAG_WILDCARD_CHILD;
        }
    }
    for key in below_dname {
        let name = Name::from_wire(&key)
            .map(|n| n.to_string())
            .unwrap_or_default();
        warnings.push(Diagnostic {
            position: file_start(source),
            message: format!("data at \"{name}\" is below a DNAME and will never be answered"),
        });
    }
}

fn type_name(rtype: u16) -> String {
    crate::zonefile::rtype_name(rtype)
}
