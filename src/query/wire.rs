//! Writing a response: header, echoed question, records with name
//! compression (RFC 1035 §4.1.4), OPT, and the size limit that decides TC.
//!
//! Owner names that equal the question name become a pointer to offset 12,
//! which also keeps the client's spelling of the name (case preservation).
//! Names inside RDATA are compressed only for the RFC 1035 types.

use super::request::{ClientSubnet, OPTION_CLIENT_SUBNET};
use crate::policy::random::Random;
use crate::proto::name::wire_name_len;
use crate::proto::rtype::{self, RdataNames};
use crate::proto::Rrset;

/// Size of the OPT record we add: root, type, class, TTL, RDLENGTH 0.
pub(crate) const OPT_LEN: usize = 11;

/// The order an RRset's records are written in (`[server] rrset_order`).
#[derive(Clone, Copy)]
pub(crate) enum Order<'r> {
    /// As in the zone file.
    AsStored,
    /// Starting from the record at this index (mod the count), wrapping.
    Rotated(usize),
    /// A random permutation.
    Shuffled(&'r dyn Random),
}

/// Most records shuffled in full; larger RRsets start at a random record.
const MAX_SHUFFLED: usize = 16;

/// The record did not fit under the size limit.
#[derive(Debug)]
pub(crate) struct Full;

/// Most offsets worth remembering for compression; later names are written
/// in full, which is only a little larger.
const MAX_TARGETS: usize = 48;

pub(crate) struct Writer<'b> {
    buf: &'b mut Vec<u8>,
    limit: usize,
    /// Offsets of labels already written that later names may point to.
    targets: [u16; MAX_TARGETS],
    n_targets: usize,
    /// Records written carry at most this TTL (`[health_ttl]`).
    ttl_cap: Option<u32>,
}

impl<'b> Writer<'b> {
    /// Starts a response: `header` flags and the echoed question (which may
    /// be empty). `limit` bounds the total size.
    pub(crate) fn new(buf: &'b mut Vec<u8>, id: u16, flags: u16, question: &[u8], limit: usize) -> Self {
        buf.clear();
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        let qdcount: u16 = if question.is_empty() { 0 } else { 1 };
        buf.extend_from_slice(&qdcount.to_be_bytes());
        buf.extend_from_slice(&[0; 6]);
        buf.extend_from_slice(question);
        let mut writer = Self {
            buf,
            limit,
            targets: [0; MAX_TARGETS],
            n_targets: 0,
            ttl_cap: None,
        };
        if !question.is_empty() {
            let name_len = wire_name_len(question).unwrap_or(1);
            writer.remember_labels(12, name_len);
        }
        writer
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Cuts the message back to `len` bytes, forgetting compression targets
    /// that pointed past it.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
        let mut kept = 0;
        for i in 0..self.n_targets.min(MAX_TARGETS) {
            let t = self.targets.get(i).copied().unwrap_or(u16::MAX);
            if usize::from(t) < len {
                if let Some(slot) = self.targets.get_mut(kept) {
                    *slot = t;
                }
                kept += 1;
            }
        }
        self.n_targets = kept;
    }

    pub(crate) fn set_flags(&mut self, flags: u16) {
        if let Some(b) = self.buf.get_mut(2..4) {
            b.copy_from_slice(&flags.to_be_bytes());
        }
    }

    pub(crate) fn flags(&self) -> u16 {
        self.buf
            .get(2..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u16::from_be_bytes)
    }

    /// Sets one of the section counts (1 = answer, 2 = authority, 3 = additional).
    pub(crate) fn set_count(&mut self, section: usize, count: u16) {
        let at = 4 + section * 2;
        if let Some(b) = self.buf.get_mut(at..at + 2) {
            b.copy_from_slice(&count.to_be_bytes());
        }
    }

    /// Appends every record of `rrset` under `owner`, as stored. `owner`
    /// of `None` means the question name. On [`Full`] the message is left
    /// as it was.
    pub(crate) fn rrset(&mut self, owner: Option<&[u8]>, rrset: &Rrset) -> Result<u16, Full> {
        self.rrset_in(owner, rrset, Order::AsStored)
    }

    /// Like [`rrset`](Self::rrset), with the records in `order`.
    pub(crate) fn rrset_in(
        &mut self,
        owner: Option<&[u8]>,
        rrset: &Rrset,
        order: Order<'_>,
    ) -> Result<u16, Full> {
        let start = self.buf.len();
        let n = usize::from(rrset.count);
        let written = match order {
            Order::Shuffled(random) if (2..=MAX_SHUFFLED).contains(&n) => {
                // Fisher–Yates over the records, on the stack.
                let mut chunks: [&[u8]; MAX_SHUFFLED] = [&[]; MAX_SHUFFLED];
                for (slot, chunk) in chunks.iter_mut().zip(rrset.records()) {
                    *slot = chunk;
                }
                let chunks = chunks.get_mut(..n).unwrap_or_default();
                for i in (1..n).rev() {
                    let j = random.below(i as u64 + 1) as usize;
                    if j < i {
                        chunks.swap(i, j);
                    }
                }
                self.records(owner, rrset.rtype, chunks.iter().copied())
            }
            // Too many to shuffle on the stack: a random first record.
            Order::Shuffled(random) if n > MAX_SHUFFLED => {
                let first = random.below(n as u64) as usize;
                self.rotated(owner, rrset, first)
            }
            Order::Rotated(turn) if n > 1 => self.rotated(owner, rrset, turn % n),
            _ => self.records(owner, rrset.rtype, rrset.records()),
        };
        match written {
            Ok(()) => Ok(rrset.count),
            Err(Full) => {
                self.truncate(start);
                Err(Full)
            }
        }
    }

    /// The records from the `first`th on, then those before it.
    fn rotated(&mut self, owner: Option<&[u8]>, rrset: &Rrset, first: usize) -> Result<(), Full> {
        let records = rrset.records().skip(first).chain(rrset.records().take(first));
        self.records(owner, rrset.rtype, records)
    }

    /// Writes `records` (each TYPE..RDATA) under `owner`; [`Full`] as soon
    /// as one passes the limit (the caller cuts back).
    fn records<'r>(
        &mut self,
        owner: Option<&[u8]>,
        rtype: u16,
        records: impl Iterator<Item = &'r [u8]>,
    ) -> Result<(), Full> {
        let mut first_owner_at: Option<u16> = None;
        for record in records {
            // Owner: the question, or the name written once and pointed to
            // from the second record on.
            match (owner, first_owner_at) {
                (None, _) => self.buf.extend_from_slice(&[0xc0, 12]),
                (Some(_), Some(at)) => self.buf.extend_from_slice(&(0xc000 | at).to_be_bytes()),
                (Some(name), None) => {
                    let at = self.buf.len();
                    self.name(name);
                    // A pointer only reaches the first 16 KiB.
                    if at < 0x3fff {
                        first_owner_at = Some(at as u16);
                    }
                }
            }
            let body_at = self.buf.len();
            self.record_body(rtype, record);
            if let Some(cap) = self.ttl_cap {
                self.cap_ttl_at(body_at + 4, cap);
            }
            if self.buf.len() > self.limit {
                return Err(Full);
            }
        }
        Ok(())
    }

    /// Caps the TTL of the records written from now on (`None`: as
    /// stored).
    pub(crate) fn set_ttl_cap(&mut self, cap: Option<u32>) {
        self.ttl_cap = cap;
    }

    /// Lowers the TTL field at `at` to `cap` if it is higher.
    fn cap_ttl_at(&mut self, at: usize, cap: u32) {
        let Some(field) = self.buf.get_mut(at..at + 4) else {
            return;
        };
        let ttl = <[u8; 4]>::try_from(&*field).map_or(0, u32::from_be_bytes);
        if ttl > cap {
            field.copy_from_slice(&cap.to_be_bytes());
        }
    }

    /// TYPE, CLASS, TTL, RDLENGTH, RDATA, compressing RDATA names where allowed.
    fn record_body(&mut self, rtype: u16, record: &[u8]) {
        let (fixed, rdata) = record.split_at(record.len().min(10));
        match rtype::compressible_names(rtype) {
            RdataNames::None => self.buf.extend_from_slice(record),
            names => {
                self.buf
                    .extend_from_slice(fixed.get(..8).unwrap_or_default());
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0, 0]);
                let start = self.buf.len();
                self.compressed_rdata(names, rdata);
                let written = (self.buf.len() - start).min(0xffff) as u16;
                if let Some(b) = self.buf.get_mut(len_at..len_at + 2) {
                    b.copy_from_slice(&written.to_be_bytes());
                }
            }
        }
    }

    fn compressed_rdata(&mut self, names: RdataNames, rdata: &[u8]) {
        let mut pos = 0usize;
        let count = match names {
            RdataNames::None => 0,
            RdataNames::One(at) => {
                self.buf
                    .extend_from_slice(rdata.get(..at).unwrap_or_default());
                pos = at;
                1
            }
            RdataNames::Two => 2,
        };
        for _ in 0..count {
            let rest = rdata.get(pos..).unwrap_or_default();
            let Some(len) = wire_name_len(rest) else {
                break;
            };
            self.name(rest.get(..len).unwrap_or_default());
            pos += len;
        }
        self.buf
            .extend_from_slice(rdata.get(pos..).unwrap_or_default());
    }

    /// Writes a name, pointing at the longest suffix already in the message.
    pub(crate) fn name(&mut self, name: &[u8]) {
        let mut pos = 0usize;
        while let Some(&len) = name.get(pos) {
            if len == 0 {
                break;
            }
            let suffix = name.get(pos..).unwrap_or_default();
            if let Some(target) = self.find_target(suffix) {
                let start = self.buf.len();
                self.buf
                    .extend_from_slice(name.get(..pos).unwrap_or_default());
                self.buf.extend_from_slice(&(0xc000 | target).to_be_bytes());
                self.remember_labels(start, pos);
                return;
            }
            pos += usize::from(len) + 1;
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(name);
        self.remember_labels(start, name.len());
    }

    fn remember_labels(&mut self, start: usize, len: usize) {
        let mut pos = start;
        while pos < start + len {
            let Some(&label) = self.buf.get(pos) else {
                break;
            };
            if label == 0 || label >= 0xc0 || pos >= 0x3fff {
                break;
            }
            if let Some(slot) = self.targets.get_mut(self.n_targets) {
                *slot = pos as u16;
                self.n_targets += 1;
            }
            pos += usize::from(label) + 1;
        }
    }

    fn find_target(&self, suffix: &[u8]) -> Option<u16> {
        let targets = self.targets.get(..self.n_targets)?;
        targets
            .iter()
            .copied()
            .find(|&t| names_equal_at(self.buf, usize::from(t), suffix))
    }

    /// Appends the OPT record of our reply (RFC 6891 §6.1.2), with the
    /// client's ECS option echoed and our scope prefix (RFC 7871 §7.2.1).
    pub(crate) fn opt(
        &mut self,
        udp_size: u16,
        extended_rcode: u8,
        dnssec_ok: bool,
        subnet: Option<(&ClientSubnet, u8)>,
    ) {
        self.buf.push(0);
        self.buf.extend_from_slice(&rtype::OPT.to_be_bytes());
        self.buf.extend_from_slice(&udp_size.to_be_bytes());
        self.buf.push(extended_rcode);
        self.buf.push(0); // version
        self.buf.push(if dnssec_ok { 0x80 } else { 0 });
        self.buf.push(0);
        match subnet {
            None => self.buf.extend_from_slice(&[0, 0]),
            Some((subnet, scope)) => {
                let (address, len) = subnet.address_bytes();
                let option_len = 4 + len as u16;
                self.buf.extend_from_slice(&(option_len + 4).to_be_bytes());
                self.buf
                    .extend_from_slice(&OPTION_CLIENT_SUBNET.to_be_bytes());
                self.buf.extend_from_slice(&option_len.to_be_bytes());
                self.buf.extend_from_slice(&subnet.family.to_be_bytes());
                self.buf.push(subnet.source_prefix);
                self.buf.push(scope);
                self.buf
                    .extend_from_slice(address.get(..len).unwrap_or_default());
            }
        }
    }
}

/// Compares the (possibly compressed) name at `at` in `msg` with the
/// uncompressed `name`, ignoring ASCII case.
fn names_equal_at(msg: &[u8], mut at: usize, name: &[u8]) -> bool {
    let mut pos = 0usize;
    // Pointers we wrote always go backwards; the hop bound is belt and braces.
    for _ in 0..128 {
        let Some(&len) = msg.get(at) else {
            return false;
        };
        if len >= 0xc0 {
            let Some(&low) = msg.get(at + 1) else {
                return false;
            };
            at = (usize::from(len & 0x3f) << 8) | usize::from(low);
            continue;
        }
        let Some(&want) = name.get(pos) else {
            return false;
        };
        if len != want {
            return false;
        }
        if len == 0 {
            return true;
        }
        let end = usize::from(len) + 1;
        let (Some(a), Some(b)) = (msg.get(at + 1..at + end), name.get(pos + 1..pos + end)) else {
            return false;
        };
        if !a.eq_ignore_ascii_case(b) {
            return false;
        }
        at += end;
        pos += end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::FLAG_QR;

    #[test]
    fn compresses_owner_and_rdata_names() {
        let mut buf = Vec::new();
        let question = b"\x03www\x07example\x03com\x00\x00\x0f\x00\x01";
        let mut w = Writer::new(&mut buf, 1, FLAG_QR, question, 512);
        let mx_rdata = b"\x00\x0a\x04mail\x07example\x03com\x00";
        let rrset = Rrset::new(rtype::MX, 300, &[&mx_rdata[..]]);
        let n = w.rrset(None, &rrset).unwrap();
        w.set_count(1, n);
        // owner pointer (2) + fixed (10) + preference (2) + "mail" label (5) + pointer (2)
        assert_eq!(buf.len(), 12 + question.len() + 2 + 10 + 2 + 5 + 2);
        let parsed = hickory_proto::op::Message::from_vec(&buf).unwrap();
        assert_eq!(parsed.answers[0].data.to_string(), "10 mail.example.com.");
    }

    #[test]
    fn full_leaves_message_unchanged() {
        let mut buf = Vec::new();
        let question = b"\x01a\x00\x00\x10\x00\x01";
        let mut w = Writer::new(&mut buf, 1, FLAG_QR, question, 100);
        let big = [b'x'; 200];
        let rrset = Rrset::new(rtype::TXT, 300, &[&big[..]]);
        let before = w.len();
        assert!(w.rrset(None, &rrset).is_err());
        assert_eq!(w.len(), before);
    }
}
