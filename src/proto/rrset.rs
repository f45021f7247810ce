//! A record set in answer-ready wire form, the unit every layer passes
//! around: the zone stores them, policies choose among them, the signer
//! signs them and the writer copies them into responses.

use super::rtype;

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
