//! A compiled zone: every name of the zone (empty non-terminals included) in
//! one hash table keyed by the lowercased wire name, each with its RRsets
//! already in wire form, and the flags the lookup needs precomputed.
//!
//! Built once by [`build::build_zone`], then immutable and shared by `Arc`
//! between the query workers until a reload replaces it.

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

pub mod build;

use rustc_hash::FxHashMap;

use crate::name::Name;
use crate::policy::{PolicyConfig, PolicyGroup};
use crate::rtype;
use crate::zonefile::Diagnostic;

/// Node flag: NS here and not the apex, a delegation point.
pub const FLAG_CUT: u8 = 1;
/// Node flag: a DNAME here.
pub const FLAG_DNAME: u8 = 2;
/// Node flag: strictly below a delegation or DNAME; the data here is glue or
/// occluded and never answered authoritatively.
pub const FLAG_OCCLUDED: u8 = 4;
/// Node flag: `*.<this node>` exists.
pub const FLAG_WILDCARD_CHILD: u8 = 8;

/// The records of one owner and type, in answer-ready wire form.
///
/// `wire` holds each record as TYPE, CLASS, TTL, RDLENGTH, RDATA (RFC 1035
/// §4.1.3) with the owner left out, so the answer writer adds the (usually
/// compressed) owner and copies the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrset {
    pub rtype: u16,
    pub ttl: u32,
    pub count: u16,
    wire: Vec<u8>,
}

impl Rrset {
    /// Builds the wire form from RDATAs; every record gets `ttl`.
    pub fn new(rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> Self {
        let mut rrset = Self::empty(rtype, ttl);
        for rdata in rdatas {
            rrset.push(rdata);
        }
        rrset
    }

    /// An RRset with no records yet.
    pub fn empty(rtype: u16, ttl: u32) -> Self {
        Self {
            rtype,
            ttl,
            count: 0,
            wire: Vec::new(),
        }
    }

    /// Appends one record unless an identical one is there (RFC 2181 §5:
    /// an RRset has no duplicates). Returns whether it was added.
    pub fn push(&mut self, rdata: &[u8]) -> bool {
        if self.rdatas().any(|r| r == rdata) || self.count == u16::MAX {
            return false;
        }
        self.wire.reserve(10 + rdata.len());
        self.wire.extend_from_slice(&self.rtype.to_be_bytes());
        self.wire.extend_from_slice(&rtype::CLASS_IN.to_be_bytes());
        self.wire.extend_from_slice(&self.ttl.to_be_bytes());
        // RDATA comes from the parser, which caps it at 65535 bytes.
        self.wire
            .extend_from_slice(&(rdata.len().min(0xffff) as u16).to_be_bytes());
        self.wire.extend_from_slice(rdata);
        self.count += 1;
        true
    }

    /// Gives back spare capacity once the RRset is complete.
    pub fn shrink(&mut self) {
        self.wire.shrink_to_fit();
    }

    /// The same records with another TTL (negative-answer SOA, ALIAS).
    pub fn with_ttl(&self, ttl: u32) -> Self {
        let rdatas: Vec<&[u8]> = self.rdatas().collect();
        Self::new(self.rtype, ttl, &rdatas)
    }

    /// Each record as TYPE..RDATA, ready to follow an owner name.
    pub fn records(&self) -> RecordChunks<'_> {
        RecordChunks { rest: &self.wire }
    }

    /// Each record's RDATA alone.
    pub fn rdatas(&self) -> impl Iterator<Item = &[u8]> {
        self.records()
            .map(|chunk| chunk.get(10..).unwrap_or_default())
    }

    /// Total size of the records without owner names.
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }
}

/// Iterator over the records of an [`Rrset`], each TYPE..RDATA.
pub struct RecordChunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RecordChunks<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len_bytes = self.rest.get(8..10)?;
        let total = 10 + usize::from(u16::from_be_bytes(len_bytes.try_into().ok()?));
        let chunk = self.rest.get(..total)?;
        self.rest = self.rest.get(total..)?;
        Some(chunk)
    }
}

/// One name of the zone.
#[derive(Debug, Default)]
pub struct Node {
    /// The RRsets here in type order, few enough that a linear scan beats
    /// any map.
    pub rrsets: Vec<Rrset>,
    /// Routing-policy groups (rare, so boxed out of the common node).
    pub policies: Option<Box<[PolicyGroup]>>,
    pub flags: u8,
}

impl Node {
    pub fn rrset(&self, rtype: u16) -> Option<&Rrset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    pub fn policy(&self, rtype: u16) -> Option<&PolicyGroup> {
        self.policies.as_ref()?.iter().find(|g| g.rtype == rtype)
    }

    /// Whether any data (plain or policy) of this type is here.
    pub fn has_type(&self, rtype: u16) -> bool {
        self.rrset(rtype).is_some() || self.policy(rtype).is_some()
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// An empty non-terminal: exists only because names exist below it.
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.policies.is_none()
    }
}

/// A compiled zone.
#[derive(Debug)]
pub struct Zone {
    /// The origin, lowercased.
    pub apex: Name,
    pub nodes: FxHashMap<Box<[u8]>, Node>,
    /// The apex SOA with the negative-caching TTL of RFC 2308 §3:
    /// min(SOA TTL, SOA MINIMUM), for the authority section of negative answers.
    pub negative_soa: Rrset,
    pub serial: u32,
    pub record_count: usize,
    /// The zone's DNSSEC signer when `dnssec = true` (set after loading,
    /// before the zone is shared).
    pub signer: Option<std::sync::Arc<crate::dnssec::Signer>>,
}

impl Zone {
    /// The node for a lowercased wire name.
    pub fn node(&self, lower_wire: &[u8]) -> Option<&Node> {
        self.nodes.get(lower_wire)
    }

    /// The node and the zone's own copy of its key.
    pub fn node_entry(&self, lower_wire: &[u8]) -> Option<(&[u8], &Node)> {
        self.nodes.get_key_value(lower_wire).map(|(k, n)| (&**k, n))
    }

    pub fn apex_node(&self) -> Option<&Node> {
        self.nodes.get(self.apex.as_wire())
    }
}

/// Reads, parses and compiles one zone file, records streaming from the
/// parser into the builder. Syntax and semantic errors are reported
/// together, in file order.
pub fn load(origin: &Name, file: &std::path::Path) -> Result<build::Built, Vec<Diagnostic>> {
    load_with(origin, file, &std::sync::Arc::new(PolicyConfig::default()))
}

/// Like [`load`], resolving routing-policy annotations against `policy`
/// (health checks, regions, CIDR collections of the config).
pub fn load_with(
    origin: &Name,
    file: &std::path::Path,
    policy: &std::sync::Arc<PolicyConfig>,
) -> Result<build::Built, Vec<Diagnostic>> {
    // A master-file line is rarely under 40 bytes; the estimate only sizes
    // the name table up front.
    let estimate = std::fs::metadata(file).map_or(0, |m| (m.len() / 40) as usize);
    let mut builder = build::ZoneBuilder::with_capacity(origin, file, estimate.min(1 << 24))
        .with_policy(policy.clone());
    // Parsing and compiling take about the same time, so a large zone is
    // parsed on a second thread and handed over in batches: start-up and
    // reload use two cores. Small zones are not worth a thread.
    let parsed = if estimate < PIPELINE_MIN_RECORDS {
        crate::zonefile::parse_file_each(file, origin, &mut |r| builder.add(r))
    } else {
        pipelined(file, origin, &mut builder)
    };
    match parsed {
        Ok(()) => builder.finish(),
        Err(mut errors) => {
            errors.extend(builder.into_errors());
            errors.sort_by(|a, b| {
                (&a.position.file, a.position.line, a.position.col).cmp(&(
                    &b.position.file,
                    b.position.line,
                    b.position.col,
                ))
            });
            Err(errors)
        }
    }
}

/// Zones of about this many records or more are parsed on a second thread.
const PIPELINE_MIN_RECORDS: usize = 50_000;
/// Records handed from the parser thread to the builder at a time.
const PIPELINE_BATCH: usize = 4096;

fn pipelined(
    file: &std::path::Path,
    origin: &Name,
    builder: &mut build::ZoneBuilder,
) -> Result<(), Vec<Diagnostic>> {
    use crate::zonefile::Record;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(8);
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut batch = Vec::with_capacity(PIPELINE_BATCH);
            let result = crate::zonefile::parse_file_each(file, origin, &mut |r| {
                batch.push(r);
                if batch.len() == PIPELINE_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(PIPELINE_BATCH));
                    // The builder only stops receiving when this thread ends.
                    let _ = tx.send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            result
        });
        for batch in rx {
            for record in batch {
                builder.add(record);
            }
        }
        let result = parser.join();
        release_parser_memory();
        result.unwrap_or_else(|_| {
            Err(vec![Diagnostic {
                position: crate::zonefile::Position {
                    file: file.into(),
                    line: 1,
                    col: 1,
                },
                message: "the zone parser failed unexpectedly; please report this".into(),
            }])
        })
    })
}

/// The parser thread's records were freed on the builder's thread; ask the
/// allocator to hand those pages back now rather than after a delay, so the
/// resident size after loading is that of the zone alone (measured: 256 MB
/// without, 203 MB with, for the 1M-record zone).
#[allow(unsafe_code)]
fn release_parser_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists; it takes
    // no pointers from us and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
