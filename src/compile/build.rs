//! Semantic checks and compilation of parsed records into a [`Zone`].
//!
//! Records stream in one at a time ([`ZoneBuilder::add`]) straight into the
//! final node table, so a large zone is never held twice. Errors (the zone
//! is not loaded): no SOA or NS at the apex, SOA elsewhere, CNAME beside
//! other data, more than one CNAME or DNAME at a name, records outside the
//! zone or of another class. Warnings (loaded, logged): TTLs that differ
//! inside an RRset (the first one wins, as BIND does), data below a DNAME.

use std::path::Path;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::policy::annotation::{self, Annotated};
use crate::policy::{PolicyConfig, PolicyGroup, PolicySet, Rule};
use crate::proto::name::wire_name_len;
use crate::proto::rtype::{self, name as rtype_name};
use crate::proto::{Diagnostic, LowerName, Name, Position, Rrset};
use crate::stats::{self, labels, LabelId};
use crate::zone::{Node, Zone, FLAG_CUT, FLAG_DNAME, FLAG_OCCLUDED, FLAG_WILDCARD_CHILD};
use crate::zonefile::Record;

/// What a successful build returns besides the zone.
pub struct Built {
    pub(crate) zone: Zone,
    pub warnings: Vec<Diagnostic>,
    /// ALIAS records whose target is outside this zone: the target and
    /// where the record is, for the check that something can answer it.
    pub(crate) foreign_aliases: Vec<(Name, Position)>,
}

impl Built {
    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.zone.serial
    }

    /// Records in the zone file (duplicates counted once).
    pub fn record_count(&self) -> usize {
        self.zone.record_count
    }

    /// Names, empty non-terminals included.
    pub fn name_count(&self) -> usize {
        self.zone.nodes.len()
    }

    /// Whether `name` exists in the zone (an empty non-terminal counts).
    pub fn has_name(&self, name: &Name) -> bool {
        self.zone.node(name.to_lowercase().as_wire()).is_some()
    }
}

/// Compiles a zone from records handed over one by one.
pub(crate) struct ZoneBuilder {
    apex: Name,
    policy: Arc<PolicyConfig>,
    source: Arc<Path>,
    nodes: FxHashMap<Box<[u8]>, Node>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    record_count: usize,
    foreign_aliases: Vec<(Name, Position)>,
}

/// Zone-wide problems are reported at the start of the zone file.
fn file_start(source: &Arc<Path>) -> Position {
    Position {
        file: source.clone(),
        line: 1,
        col: 1,
    }
}

fn diag(position: Position, message: String) -> Diagnostic {
    Diagnostic { position, message }
}

/// Types that may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
fn allowed_beside_cname(rtype: u16) -> bool {
    matches!(
        rtype,
        rtype::CNAME | rtype::RRSIG | rtype::NSEC | 25 /* KEY */
    )
}

fn show(key: &[u8]) -> String {
    Name::from_wire(key)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

impl ZoneBuilder {
    /// `origin` is the zone's name; `source` names the zone file in
    /// zone-wide messages (no SOA, …). Room is made for about `names`
    /// owner names, which spares a large zone repeated table growth.
    pub(crate) fn with_capacity(origin: &Name, source: &Path, names: usize) -> Self {
        let mut nodes = FxHashMap::default();
        nodes.reserve(names);
        Self {
            apex: origin.to_lowercase(),
            policy: Arc::default(),
            source: source.into(),
            nodes,
            errors: Vec::new(),
            warnings: Vec::new(),
            record_count: 0,
            foreign_aliases: Vec::new(),
        }
    }

    /// Resolves annotations against this config (health checks, regions,
    /// CIDR collections).
    pub(crate) fn with_policy(mut self, policy: Arc<PolicyConfig>) -> Self {
        self.policy = policy;
        self
    }

    pub(crate) fn add(&mut self, record: Record) {
        if !record.owner.is_subdomain_of(&self.apex) {
            let message = format!(
                "record owner \"{}\" is outside the zone \"{}\"",
                record.owner, self.apex
            );
            self.errors.push(diag(record.position, message));
            return;
        }
        if record.class != rtype::CLASS_IN {
            self.errors
                .push(diag(record.position, "only class IN is served".into()));
            return;
        }
        if record.rtype == rtype::ALIAS {
            let target = Name::from_wire(&record.rdata).map(|t| t.to_lowercase());
            if let Some(target) = target.filter(|t| !t.is_subdomain_of(&self.apex)) {
                self.foreign_aliases.push((target, record.position.clone()));
            }
        }
        let Some(lower) = LowerName::new(record.owner.as_wire()) else {
            return;
        };
        let key = lower.as_wire();
        let is_apex = key == self.apex.as_wire();
        let node = match self.nodes.get_mut(key) {
            Some(node) => node,
            None => self.nodes.entry(key.into()).or_default(),
        };
        if let Some(message) = conflict(node, is_apex, record.rtype, key) {
            self.errors.push(diag(record.position, message));
            return;
        }
        if let Some(annotation) = &record.annotation {
            let parsed = annotation::parse(&annotation.text, &self.policy);
            let result = parsed
                .map_err(|errors| {
                    errors
                        .into_iter()
                        .map(|e| {
                            let mut position = annotation.position.clone();
                            position.col += e.offset as u32;
                            diag(position, e.message)
                        })
                        .collect()
                })
                .and_then(|a| {
                    add_policy_record(node, a, &record)
                        .map_err(|e| vec![diag(record.position.clone(), e.to_string())])
                });
            match result {
                Ok(true) => self.record_count += 1,
                Ok(false) => {}
                Err(d) => self.errors.extend(d),
            }
            return;
        }
        if node.policy(record.rtype).is_some() {
            let message = format!(
                "plain {} record beside {} policy sets at \"{}\": annotate it with a set id, or remove the annotations (signpost-zone(5), ROUTING POLICIES)",
                rtype_name(record.rtype),
                node.policy(record.rtype).map_or("", |g| g.kind.name()),
                show(key)
            );
            self.errors.push(diag(record.position, message));
            return;
        }
        let index = match node.rrsets.binary_search_by_key(&record.rtype, |r| r.rtype) {
            Ok(i) => i,
            Err(i) => {
                node.rrsets
                    .insert(i, Rrset::empty(record.rtype, record.ttl));
                i
            }
        };
        let Some(rrset) = node.rrsets.get_mut(index) else {
            return;
        };
        if rrset.count > 0 {
            let single = matches!(record.rtype, rtype::SOA | rtype::CNAME | rtype::DNAME);
            if single && !rrset.rdatas().any(|r| r == &*record.rdata) {
                let message = format!(
                    "more than one {} record at \"{}\"",
                    rtype_name(record.rtype),
                    show(key)
                );
                self.errors.push(diag(record.position, message));
                return;
            }
            if rrset.ttl != record.ttl {
                let message = format!(
                    "TTL {} differs from {} of the first {} record at this name (RFC 2181 §5.2); using {}",
                    record.ttl,
                    rrset.ttl,
                    rtype_name(record.rtype),
                    rrset.ttl
                );
                self.warnings.push(diag(record.position, message));
            }
        }
        if rrset.push(&record.rdata) {
            self.record_count += 1;
        }
    }

    /// Warnings found while reading the file (the zone still loads).
    pub(crate) fn warn_all(&mut self, warnings: Vec<Diagnostic>) {
        self.warnings.extend(warnings);
    }

    /// The errors found so far (when parsing failed and no zone is built).
    pub(crate) fn into_errors(self) -> Vec<Diagnostic> {
        self.errors
    }

    /// Runs the zone-wide checks and computes the lookup flags.
    pub(crate) fn finish(mut self) -> Result<Built, Vec<Diagnostic>> {
        let apex_node = self.nodes.get(self.apex.as_wire());
        let soa = apex_node.and_then(|n| n.rrset(rtype::SOA));
        let numbers = soa.and_then(|s| s.rdatas().next().and_then(soa_numbers));
        let (Some(soa), Some((serial, minimum))) = (soa, numbers) else {
            let message = format!("zone \"{}\" has no SOA record at its apex", self.apex);
            self.errors.push(diag(file_start(&self.source), message));
            return Err(self.errors);
        };
        // RFC 2308 §3: negative answers carry min(SOA TTL, SOA MINIMUM).
        let negative_soa = soa.with_ttl(soa.ttl.min(minimum));
        if apex_node.is_none_or(|n| n.rrset(rtype::NS).is_none()) {
            let message = format!("zone \"{}\" has no NS records at its apex", self.apex);
            self.errors.push(diag(file_start(&self.source), message));
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }

        let apex = self.apex;
        let mut nodes = self.nodes;
        let mut warnings = self.warnings;
        for (key, node) in nodes.iter_mut() {
            node.rrsets.shrink_to_fit();
            for rrset in &mut node.rrsets {
                rrset.shrink();
            }
            if **key != *apex.as_wire() && node.rrset(rtype::NS).is_some() {
                node.flags |= FLAG_CUT;
            }
            if node.rrset(rtype::DNAME).is_some() {
                node.flags |= FLAG_DNAME;
            }
        }
        let zone_label = label_policy_sets(&apex, &mut nodes);
        add_empty_non_terminals(&apex, &mut nodes);
        mark_occluded_and_wildcards(&apex, &mut nodes, &mut warnings, &self.source);
        let mut alias_targets: Vec<Name> = self
            .foreign_aliases
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        alias_targets.sort_by(|a, b| a.as_wire().cmp(b.as_wire()));
        alias_targets.dedup();
        crate::proto::diag::sort(&mut warnings);

        Ok(Built {
            zone: Zone {
                apex,
                nodes,
                negative_soa,
                serial,
                record_count: self.record_count,
                signer: None,
                label: zone_label,
                alias_targets: alias_targets.into(),
            },
            warnings,
            foreign_aliases: self.foreign_aliases,
        })
    }
}

/// Numbers the zone and each policy set as metrics labels (zone, owner,
/// type, set id); returns the zone's.
fn label_policy_sets(apex: &Name, nodes: &mut FxHashMap<Box<[u8]>, Node>) -> LabelId {
    let zone = apex.to_string();
    for (key, node) in nodes.iter_mut() {
        let Some(groups) = node.policies.as_mut() else {
            continue;
        };
        let owner = Name::from_wire(key)
            .map(|n| n.to_string())
            .unwrap_or_default();
        for group in groups.iter_mut() {
            let rtype = rtype_name(group.rtype);
            for set in &mut group.sets {
                set.label = labels::intern(&[&zone, &owner, &rtype, &set.id]);
            }
        }
    }
    labels::intern(&[&zone])
}

/// Why an annotated record cannot join the policy sets of its name.
#[derive(Debug, thiserror::Error)]
enum PolicyRecordError {
    #[error("{kind} policy record beside plain {rtype} records at this name: annotate them all or none (signpost-zone(5), ROUTING POLICIES)")]
    BesidePlain { kind: &'static str, rtype: String },
    #[error("{kind} policy set \"{id}\" beside {other} policy sets for the same name and type: one policy per record set")]
    OtherPolicy {
        kind: &'static str,
        id: Box<str>,
        other: &'static str,
    },
    #[error("set id \"{0}\" is used again with different settings: every record of a set carries the same annotation")]
    OtherSettings(Box<str>),
    #[error("TTL {ttl} differs from {set_ttl} of set \"{id}\"")]
    Ttl {
        ttl: u32,
        set_ttl: u32,
        id: Box<str>,
    },
    #[error("set \"{id}\" duplicates what set \"{other}\" already covers (one {kind} set per role or location)")]
    Duplicate {
        id: Box<str>,
        other: Box<str>,
        kind: &'static str,
    },
    #[error("all cidr sets of a name and type use the same collection")]
    OtherCollection,
}

/// Adds an annotated record to its policy set, creating the group or the
/// set as needed. Returns whether the record was new.
fn add_policy_record(
    node: &mut Node,
    a: Annotated,
    record: &Record,
) -> Result<bool, PolicyRecordError> {
    if node.rrset(record.rtype).is_some() {
        return Err(PolicyRecordError::BesidePlain {
            kind: a.rule.kind().name(),
            rtype: rtype_name(record.rtype),
        });
    }
    let existing = node
        .policies
        .as_ref()
        .and_then(|g| g.iter().position(|g| g.rtype == record.rtype));
    let index = match existing {
        Some(i) => i,
        None => {
            let mut groups: Vec<PolicyGroup> =
                node.policies.take().map(Vec::from).unwrap_or_default();
            groups.push(PolicyGroup {
                rtype: record.rtype,
                kind: a.rule.kind(),
                sets: Vec::new(),
            });
            let index = groups.len() - 1;
            node.policies = Some(groups.into_boxed_slice());
            index
        }
    };
    let Some(group) = node.policies.as_mut().and_then(|g| g.get_mut(index)) else {
        return Ok(false);
    };
    if group.kind != a.rule.kind() {
        return Err(PolicyRecordError::OtherPolicy {
            kind: a.rule.kind().name(),
            id: a.id,
            other: group.kind.name(),
        });
    }
    if let Some(set) = group.sets.iter_mut().find(|s| s.id == a.id) {
        if set.rule != a.rule || set.health != a.health || set.evaluate_health != a.evaluate_health
        {
            return Err(PolicyRecordError::OtherSettings(a.id));
        }
        if set.rrset.ttl != record.ttl {
            return Err(PolicyRecordError::Ttl {
                ttl: record.ttl,
                set_ttl: set.rrset.ttl,
                id: a.id,
            });
        }
        return Ok(set.rrset.push(&record.rdata));
    }
    // A second set may not claim what an existing set already decides.
    let clash = group.sets.iter().find(|s| match (&s.rule, &a.rule) {
        (Rule::Failover { primary: x }, Rule::Failover { primary: y }) => x == y,
        (Rule::Geolocation(x), Rule::Geolocation(y)) => x == y,
        (Rule::Cidr { location: x, .. }, Rule::Cidr { location: y, .. }) => x == y,
        _ => false,
    });
    if let Some(other) = clash {
        return Err(PolicyRecordError::Duplicate {
            id: a.id,
            other: other.id.clone(),
            kind: group.kind.name(),
        });
    }
    if let (Some(Rule::Cidr { collection: x, .. }), Rule::Cidr { collection: y, .. }) =
        (group.sets.first().map(|s| &s.rule), &a.rule)
    {
        if x != y {
            return Err(PolicyRecordError::OtherCollection);
        }
    }
    let mut rrset = Rrset::empty(record.rtype, record.ttl);
    rrset.push(&record.rdata);
    group.sets.push(PolicySet {
        id: a.id,
        rule: a.rule,
        health: a.health,
        evaluate_health: a.evaluate_health,
        rrset,
        // Given once the zone is complete (label_policy_sets).
        label: stats::NONE,
    });
    Ok(true)
}

/// Why a record of `rtype` cannot join `node`, if it cannot.
fn conflict(node: &Node, is_apex: bool, rtype: u16, key: &[u8]) -> Option<String> {
    match rtype {
        rtype::SOA if !is_apex => {
            return Some(format!(
                "SOA record at \"{}\", which is not the zone apex",
                show(key)
            ))
        }
        rtype::CNAME if is_apex => {
            return Some(
                "CNAME at the zone apex (it would hide the SOA and NS records; use ALIAS)".into(),
            )
        }
        _ => {}
    }
    let has_cname = node.has_type(rtype::CNAME);
    let policy_types = node.policies.iter().flat_map(|p| p.iter().map(|g| g.rtype));
    let mut types = node.rrsets.iter().map(|r| r.rtype).chain(policy_types);
    let cname_clash = if rtype == rtype::CNAME {
        types.any(|t| !allowed_beside_cname(t))
    } else {
        has_cname && !allowed_beside_cname(rtype)
    };
    cname_clash.then(|| {
        format!(
            "{} record beside a CNAME at \"{}\" (RFC 1034 §3.6.2: a CNAME owner has no other data)",
            rtype_name(rtype),
            show(key)
        )
    })
}

/// SOA serial and minimum from its RDATA.
fn soa_numbers(rdata: &[u8]) -> Option<(u32, u32)> {
    let mname = wire_name_len(rdata)?;
    let rname = wire_name_len(rdata.get(mname..)?)?;
    let numbers = rdata.get(mname + rname..)?;
    let serial = u32::from_be_bytes(numbers.get(0..4)?.try_into().ok()?);
    let minimum = u32::from_be_bytes(numbers.get(16..20)?.try_into().ok()?);
    Some((serial, minimum))
}

/// The strict ancestors of `key` below the apex, nearest first.
fn ancestors(key: &[u8], apex_len: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let len = usize::from(*key.get(pos)?);
        pos += len + 1;
        if len == 0 || key.len().saturating_sub(pos) <= apex_len {
            return None;
        }
        key.get(pos..)
    })
}

/// Every name between an owner and the apex exists in the table (RFC 4592
/// §2.2.2: empty non-terminals), so the closest encloser is the first
/// ancestor found.
fn add_empty_non_terminals(apex: &Name, nodes: &mut FxHashMap<Box<[u8]>, Node>) {
    let apex_len = apex.wire_len();
    let mut missing: FxHashSet<&[u8]> = FxHashSet::default();
    for key in nodes.keys() {
        for ancestor in ancestors(key, apex_len) {
            // An existing ancestor has its own ancestors in the table.
            if nodes.contains_key(ancestor) || !missing.insert(ancestor) {
                break;
            }
        }
    }
    let missing: Vec<Box<[u8]>> = missing.into_iter().map(Box::from).collect();
    for key in missing {
        nodes.insert(key, Node::default());
    }
}

fn mark_occluded_and_wildcards(
    apex: &Name,
    nodes: &mut FxHashMap<Box<[u8]>, Node>,
    warnings: &mut Vec<Diagnostic>,
    source: &Arc<Path>,
) {
    let apex_len = apex.wire_len();
    let apex_has_dname = nodes.get(apex.as_wire()).is_some_and(|n| n.has(FLAG_DNAME));
    let any_cut = nodes.values().any(|n| n.has(FLAG_CUT) || n.has(FLAG_DNAME));
    let mut occluded = Vec::new();
    let mut wildcard_parents = Vec::new();
    for (key, node) in nodes.iter() {
        if key.get(..2) == Some(&[1, b'*']) {
            wildcard_parents.push(Box::<[u8]>::from(key.get(2..).unwrap_or_default()));
        }
        if !any_cut {
            continue;
        }
        let below_apex = key.len() > apex_len;
        let mut cover = ancestors(key, apex_len)
            .filter_map(|a| nodes.get(a))
            .find(|a| a.has(FLAG_CUT) || a.has(FLAG_DNAME))
            .map(|a| a.has(FLAG_DNAME));
        if cover.is_none() && below_apex && apex_has_dname {
            cover = Some(true);
        }
        if let Some(by_dname) = cover {
            occluded.push(key.clone());
            if by_dname && !node.is_empty() {
                warnings.push(diag(
                    file_start(source),
                    format!(
                        "data at \"{}\" is below a DNAME and will never be answered",
                        show(key)
                    ),
                ));
            }
        }
    }
    for key in occluded {
        if let Some(node) = nodes.get_mut(&key) {
            node.flags |= FLAG_OCCLUDED;
        }
    }
    for parent in wildcard_parents {
        if let Some(node) = nodes.get_mut(&parent) {
            node.flags |= FLAG_WILDCARD_CHILD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zonefile;

    const FILE: &str = "t.zone";

    fn origin() -> Name {
        Name::parse("example.test.", None).expect("origin")
    }

    fn build(text: &str) -> Result<Built, Vec<Diagnostic>> {
        let path = Path::new(FILE);
        let records = zonefile::parse_str(text, path, &origin()).expect("zone text parses");
        let mut builder = ZoneBuilder::with_capacity(&origin(), path, 0);
        for record in records {
            builder.add(record);
        }
        builder.finish()
    }

    fn built(text: &str) -> Built {
        build(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Every error as `file:line:col: message`.
    fn errors(text: &str) -> Vec<String> {
        match build(text) {
            Ok(_) => panic!("the zone must not load"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn node<'z>(zone: &'z Zone, name: &str) -> Option<&'z Node> {
        let name = Name::parse(name, Some(&origin())).expect("name");
        zone.node(name.to_lowercase().as_wire())
    }

    fn flags(zone: &Zone, name: &str) -> u8 {
        node(zone, name)
            .unwrap_or_else(|| panic!("no node {name}"))
            .flags
    }

    const HEAD: &str = "$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n";

    #[test]
    fn lookup_flags_are_computed() {
        let text = format!(
            "{HEAD}sub IN NS ns.sub\nns.sub IN A 192.0.2.53\ndeep.ns.sub IN A 192.0.2.54\nlegacy IN DNAME new\n*.apps IN A 192.0.2.100\nexisting.apps IN A 192.0.2.101\n"
        );
        let zone = built(&text).zone;
        // NS below the apex is a cut; the apex's own NS is not.
        assert_eq!(flags(&zone, "sub"), FLAG_CUT);
        assert_eq!(flags(&zone, "@") & FLAG_CUT, 0);
        // Below a cut: glue, occluded, never a cut itself.
        assert_eq!(flags(&zone, "ns.sub"), FLAG_OCCLUDED);
        assert_eq!(flags(&zone, "deep.ns.sub"), FLAG_OCCLUDED);
        assert_eq!(flags(&zone, "legacy"), FLAG_DNAME);
        // `*.apps` exists: its parent knows.
        assert_eq!(flags(&zone, "apps"), FLAG_WILDCARD_CHILD);
        assert_eq!(flags(&zone, "*.apps") & FLAG_WILDCARD_CHILD, 0);
        assert_eq!(flags(&zone, "existing.apps"), 0);
        assert_eq!(flags(&zone, "ns1"), 0);
    }

    #[test]
    fn empty_non_terminals_exist() {
        let zone = built(&format!(
            "{HEAD}host.a.b IN A 192.0.2.9\nx.y IN TXT \"t\"\n"
        ))
        .zone;
        for ent in ["a.b", "b", "y"] {
            let n = node(&zone, ent).unwrap_or_else(|| panic!("no ENT {ent}"));
            assert!(n.is_empty(), "{ent}");
        }
        assert!(!node(&zone, "host.a.b").expect("host").is_empty());
        // Only names at or between owners and the apex: nothing else.
        assert!(node(&zone, "c").is_none());
        assert_eq!(zone.nodes.len(), 7, "apex, ns1, host.a.b, a.b, b, x.y, y");
    }

    #[test]
    fn negative_soa_ttl_is_the_smaller_of_ttl_and_minimum() {
        // RFC 2308 §3: SOA TTL 3600, MINIMUM 300.
        let zone = built(HEAD).zone;
        assert_eq!(zone.negative_soa.ttl, 300);
        assert_eq!(zone.negative_soa.rtype, rtype::SOA);
        assert_eq!(zone.serial, 7);
        // SOA TTL 120, MINIMUM 600.
        let zone =
            built("@ 120 IN SOA ns1 hostmaster 8 7200 3600 1209600 600\n@ 3600 IN NS ns1\n").zone;
        assert_eq!(zone.negative_soa.ttl, 120);
        assert_eq!(zone.serial, 8);
        // The positive SOA keeps its own TTL.
        let apex = node(&zone, "@").expect("apex");
        assert_eq!(apex.rrset(rtype::SOA).expect("SOA").ttl, 120);
    }

    #[test]
    fn cname_beside_other_data_is_an_error_with_its_position() {
        // Either order: the second record is the one reported.
        let errs = errors(&format!("{HEAD}www IN A 192.0.2.80\nwww IN CNAME ns1\n"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(errs[0].contains("CNAME"), "{errs:?}");
        let errs = errors(&format!("{HEAD}www IN CNAME ns1\nwww IN A 192.0.2.80\n"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(errs[0].contains("beside a CNAME"), "{errs:?}");
        // CNAME at the apex hides SOA and NS.
        let errs = errors(&format!("{HEAD}@ IN CNAME www.other.test.\n"));
        assert!(errs[0].starts_with(&format!("{FILE}:6:1: ")), "{errs:?}");
    }

    #[test]
    fn soa_outside_the_apex_is_an_error() {
        let errs = errors(&format!(
            "{HEAD}www IN A 192.0.2.80\nwww IN SOA ns1 hostmaster 1 2 3 4 5\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(errs[0].contains("not the zone apex"), "{errs:?}");
    }

    #[test]
    fn zone_wide_errors_point_at_the_file_start() {
        let errs = errors("@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:1:1: ")), "{errs:?}");
        assert!(errs[0].contains("no SOA"), "{errs:?}");
    }

    #[test]
    fn every_error_is_reported() {
        let errs = errors(&format!(
            "{HEAD}a IN A 192.0.2.1\na IN CNAME ns1\nb IN SOA ns1 h 1 2 3 4 5\nc IN CNAME ns1\nc IN CNAME www\n"
        ));
        let lines: Vec<&str> = errs
            .iter()
            .map(|e| e.split(": ").next().unwrap_or_default())
            .collect();
        assert_eq!(
            lines,
            ["t.zone:7:1", "t.zone:8:1", "t.zone:10:1"],
            "{errs:?}"
        );
    }

    #[test]
    fn policy_and_plain_records_do_not_mix() {
        // Plain after policy sets.
        let errs = errors(&format!(
            "{HEAD}www IN A 192.0.2.1 ;@ weighted id=a weight=1\nwww IN A 192.0.2.2\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(
            errs[0].contains("plain A record beside weighted policy sets"),
            "{errs:?}"
        );
        // Policy after plain records.
        let errs = errors(&format!(
            "{HEAD}www IN A 192.0.2.2\nwww IN A 192.0.2.1 ;@ weighted id=a weight=1\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(errs[0].contains("beside plain A records"), "{errs:?}");
        // Two policies at one owner and type.
        let errs = errors(&format!(
            "{HEAD}www IN A 192.0.2.1 ;@ weighted id=a weight=1\nwww IN A 192.0.2.2 ;@ failover id=p role=primary\n"
        ));
        assert!(errs[0].starts_with(&format!("{FILE}:7:1: ")), "{errs:?}");
        assert!(errs[0].contains("one policy per record set"), "{errs:?}");
        // Other types at the same owner are fine.
        let zone = built(&format!(
            "{HEAD}www IN A 192.0.2.1 ;@ weighted id=a weight=1\nwww IN AAAA 2001:db8::1\n"
        ))
        .zone;
        let www = node(&zone, "www").expect("www");
        assert!(www.policy(rtype::A).is_some() && www.rrset(rtype::AAAA).is_some());
    }

    #[test]
    fn policy_records_group_into_sets() {
        let zone = built(&format!(
            "{HEAD}www IN A 192.0.2.1 ;@ weighted id=a weight=70\nwww IN A 192.0.2.2 ;@ weighted id=a weight=70\nwww IN A 192.0.2.3 ;@ weighted id=b weight=30\n"
        ))
        .zone;
        let group = node(&zone, "www")
            .and_then(|n| n.policy(rtype::A))
            .expect("group");
        assert_eq!(group.kind, crate::policy::Kind::Weighted);
        let sets: Vec<(&str, u16)> = group.sets.iter().map(|s| (&*s.id, s.rrset.count)).collect();
        assert_eq!(sets, [("a", 2), ("b", 1)]);
    }

    #[test]
    fn data_below_a_dname_is_a_warning_and_occluded() {
        let b = built(&format!(
            "{HEAD}legacy IN DNAME new\nwww.legacy IN A 192.0.2.9\n"
        ));
        assert_eq!(flags(&b.zone, "www.legacy"), FLAG_OCCLUDED);
        assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
        assert!(b.warnings[0].message.contains("below a DNAME"));
    }

    #[test]
    fn differing_ttls_in_an_rrset_warn_and_the_first_wins() {
        let b = built(&format!(
            "{HEAD}www 300 IN A 192.0.2.1\nwww 600 IN A 192.0.2.2\n"
        ));
        assert_eq!(b.warnings.len(), 1);
        assert_eq!(b.warnings[0].position.line, 7);
        let www = node(&b.zone, "www")
            .and_then(|n| n.rrset(rtype::A))
            .expect("A");
        assert_eq!((www.ttl, www.count), (300, 2));
    }
}
