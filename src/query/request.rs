//! Parsing an incoming query: header, the one question, and the OPT record.
//!
//! Only what answering needs is decoded, straight from the packet bytes and
//! without allocation. Anything malformed is classified so the caller can
//! drop it (not a query at all) or answer FORMERR / NOTIMP / BADVERS.
//! A TSIG record is only located here (its checks are in `crate::tsig`),
//! so an unsigned query pays one type comparison per additional record.

use crate::proto::header::{HEADER_LEN, OPCODE_QUERY};
use crate::proto::{read_name, rtype, LowerName};
use crate::tsig::TsigRr;

/// The parts of an OPT record (RFC 6891 §6.1.2) that shape the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    pub(crate) udp_size: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
    pub(crate) client_subnet: Option<ClientSubnet>,
}

/// EDNS Client Subnet option code (RFC 7871 §6).
pub(crate) const OPTION_CLIENT_SUBNET: u16 = 8;

/// The EDNS Client Subnet option of a query (RFC 7871).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientSubnet {
    /// 1 = IPv4, 2 = IPv6.
    pub(crate) family: u16,
    pub(crate) source_prefix: u8,
    /// The address with every bit past the source prefix zero.
    pub(crate) addr: std::net::IpAddr,
}

impl ClientSubnet {
    /// The option a client in `addr`'s network of `source_prefix` bits
    /// sends: the address with every bit past the prefix cleared. `None`
    /// when the prefix is longer than the address.
    pub(crate) fn new(addr: std::net::IpAddr, source_prefix: u8) -> Option<Self> {
        let (family, addr) = match addr {
            std::net::IpAddr::V4(a) => {
                let net = ipnet::Ipv4Net::new(a, source_prefix).ok()?;
                (1, std::net::IpAddr::V4(net.network()))
            }
            std::net::IpAddr::V6(a) => {
                let net = ipnet::Ipv6Net::new(a, source_prefix).ok()?;
                (2, std::net::IpAddr::V6(net.network()))
            }
        };
        Some(Self {
            family,
            source_prefix,
            addr,
        })
    }

    /// Bytes of address the option carries: the source prefix, rounded up.
    pub(crate) fn address_len(&self) -> usize {
        usize::from(self.source_prefix).div_ceil(8)
    }

    pub(crate) fn address_bytes(&self) -> ([u8; 16], usize) {
        let mut out = [0u8; 16];
        let len = self.address_len().min(16);
        let bytes: &[u8] = match &self.addr {
            std::net::IpAddr::V4(a) => &a.octets(),
            std::net::IpAddr::V6(a) => &a.octets(),
        };
        if let (Some(dest), Some(src)) = (out.get_mut(..len), bytes.get(..len)) {
            dest.copy_from_slice(src);
        }
        (out, len)
    }
}

/// A well-formed query.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) id: u16,
    pub(crate) opcode: u8,
    pub(crate) recursion_desired: bool,
    pub(crate) checking_disabled: bool,
    /// The question section exactly as received (name with the client's
    /// case, type, class), echoed in the response.
    pub(crate) question: &'a [u8],
    /// Lowercased wire form of the question name.
    pub(crate) qname: LowerName,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
    /// Where the TSIG record is, when the query is signed.
    pub(crate) tsig: Option<TsigRr>,
}

/// Why a packet is not a query we can answer normally.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reject<'a> {
    /// Not worth a reply: too short to carry an ID, or itself a response.
    Drop,
    /// Malformed: FORMERR. The question is echoed when it parsed.
    FormErr {
        id: u16,
        flags: u16,
        question: Option<&'a [u8]>,
    },
    /// An opcode we do not implement: NOTIMP.
    NotImp {
        id: u16,
        flags: u16,
        question: Option<&'a [u8]>,
    },
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// Parses a query packet.
pub(crate) fn parse(packet: &[u8]) -> Result<Request<'_>, Reject<'_>> {
    let (Some(id), Some(flags)) = (be16(packet, 0), be16(packet, 2)) else {
        return Err(Reject::Drop);
    };
    if packet.len() < HEADER_LEN || flags & 0x8000 != 0 {
        return Err(Reject::Drop);
    }
    let opcode = ((flags >> 11) & 0xf) as u8;
    let counts = [
        be16(packet, 4).unwrap_or(0),
        be16(packet, 6).unwrap_or(0),
        be16(packet, 8).unwrap_or(0),
        be16(packet, 10).unwrap_or(0),
    ];
    let formerr = |question| Reject::FormErr {
        id,
        flags,
        question,
    };
    if counts[0] != 1 {
        return Err(if opcode == OPCODE_QUERY {
            formerr(None)
        } else {
            Reject::NotImp {
                id,
                flags,
                question: None,
            }
        });
    }
    // Plain labels only: a compression pointer in the question could only
    // point into the header. A name read through a pointer always took
    // fewer bytes than its length.
    let Some((qname, name_end)) =
        read_name(packet, HEADER_LEN).filter(|(name, end)| end - HEADER_LEN == name.len())
    else {
        return Err(formerr(None));
    };
    let name_len = name_end - HEADER_LEN;
    let qtype_at = HEADER_LEN + name_len;
    let (Some(qtype), Some(qclass)) = (be16(packet, qtype_at), be16(packet, qtype_at + 2)) else {
        return Err(formerr(None));
    };
    let question_end = qtype_at + 4;
    let question = packet.get(HEADER_LEN..question_end).unwrap_or_default();
    if opcode != OPCODE_QUERY {
        return Err(Reject::NotImp {
            id,
            flags,
            question: Some(question),
        });
    }
    // A query carries no answer or authority records (RFC 1035 §4.1.1).
    if counts[1] != 0 || counts[2] != 0 {
        return Err(formerr(Some(question)));
    }
    let mut edns = None;
    let mut tsig = None;
    let mut at = question_end;
    for i in 0..counts[3] {
        let Some(record) = parse_additional(packet, at) else {
            return Err(formerr(Some(question)));
        };
        if record.rtype == rtype::TSIG {
            // RFC 8945 §5.2: one TSIG, the last record, class ANY, TTL 0;
            // anything else is FORMERR.
            if i + 1 != counts[3] || record.class != rtype::CLASS_ANY || record.ttl != 0 {
                return Err(formerr(Some(question)));
            }
            tsig = Some(TsigRr {
                start: at,
                rdata_start: record.end - record.rdata.len(),
            });
        }
        at = record.end;
        if record.rtype == rtype::OPT {
            // One OPT, owned by the root (RFC 6891 §6.1.1).
            if edns.is_some() || !record.owner_is_root {
                return Err(formerr(Some(question)));
            }
            let Ok(client_subnet) = parse_options(record.rdata) else {
                return Err(formerr(Some(question)));
            };
            edns = Some(Edns {
                udp_size: record.class,
                version: (record.ttl >> 16) as u8,
                dnssec_ok: record.ttl & 0x8000 != 0,
                client_subnet,
            });
        }
    }
    if at != packet.len() {
        return Err(formerr(Some(question)));
    }
    Ok(Request {
        id,
        opcode,
        recursion_desired: flags & 0x0100 != 0,
        checking_disabled: flags & 0x0010 != 0,
        question,
        qname,
        qtype,
        qclass,
        edns,
        tsig,
    })
}

struct AdditionalRecord<'a> {
    owner_is_root: bool,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &'a [u8],
    end: usize,
}

fn parse_additional(packet: &[u8], start: usize) -> Option<AdditionalRecord<'_>> {
    let name_end = skip_name(packet, start)?;
    let rtype = be16(packet, name_end)?;
    let class = be16(packet, name_end + 2)?;
    let ttl =
        (u32::from(be16(packet, name_end + 4)?) << 16) | u32::from(be16(packet, name_end + 6)?);
    let rdlen = usize::from(be16(packet, name_end + 8)?);
    let rdata = packet.get(name_end + 10..name_end + 10 + rdlen)?;
    Some(AdditionalRecord {
        owner_is_root: name_end == start + 1 && packet.get(start) == Some(&0),
        rtype,
        class,
        ttl,
        rdata,
        end: name_end + 10 + rdlen,
    })
}

/// Skips a possibly compressed name; pointers must point backwards, which
/// also rules out loops.
fn skip_name(packet: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let len = *packet.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + usize::from(len),
            0xc0..=0xff => {
                let target = usize::from(be16(packet, pos)? & 0x3fff);
                if target >= pos {
                    return None;
                }
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// EDNS options are TLVs that must exactly fill the RDATA. Returns the
/// Client Subnet option if there is one; unknown options are ignored.
fn parse_options(mut rdata: &[u8]) -> Result<Option<ClientSubnet>, ()> {
    let mut subnet = None;
    while !rdata.is_empty() {
        let (Some(code), Some(len)) = (be16(rdata, 0), be16(rdata, 2)) else {
            return Err(());
        };
        let value = rdata.get(4..4 + usize::from(len)).ok_or(())?;
        if code == OPTION_CLIENT_SUBNET {
            if subnet.is_some() {
                return Err(());
            }
            subnet = Some(parse_client_subnet(value)?);
        }
        rdata = rdata.get(4 + usize::from(len)..).ok_or(())?;
    }
    Ok(subnet)
}

/// RFC 7871 §6 and §7.1.2: a known family, a prefix that fits it, exactly
/// the address bytes the prefix needs, SCOPE 0, no bits past the prefix.
fn parse_client_subnet(value: &[u8]) -> Result<ClientSubnet, ()> {
    let family = be16(value, 0).ok_or(())?;
    let source_prefix = *value.get(2).ok_or(())?;
    let scope = *value.get(3).ok_or(())?;
    let address = value.get(4..).ok_or(())?;
    let max_prefix = match family {
        1 => 32,
        2 => 128,
        _ => return Err(()),
    };
    if source_prefix > max_prefix || scope != 0 {
        return Err(());
    }
    if address.len() != usize::from(source_prefix).div_ceil(8) {
        return Err(());
    }
    let mut full = [0u8; 16];
    full.get_mut(..address.len())
        .ok_or(())?
        .copy_from_slice(address);
    // Bits past the prefix in the last byte must be zero.
    if let Some(&last) = address.last() {
        let used = source_prefix % 8;
        if used != 0 && last & (0xff >> used) != 0 {
            return Err(());
        }
    }
    let addr = if family == 1 {
        let [a, b, c, d, ..] = full;
        std::net::IpAddr::from([a, b, c, d])
    } else {
        std::net::IpAddr::from(full)
    };
    Ok(ClientSubnet {
        family,
        source_prefix,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&arcount.to_be_bytes());
        p.extend_from_slice(name);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p.extend_from_slice(extra);
        p
    }

    #[test]
    fn parses_plain_query_lowercased() {
        let p = query(b"\x03WwW\x07example\x00", &[], 0);
        let r = parse(&p).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.qname.as_wire(), b"\x03www\x07example\x00");
        assert_eq!(r.question.get(1..4), Some(&b"WwW"[..]));
        assert!(r.recursion_desired);
        assert!(r.edns.is_none());
    }

    #[test]
    fn parses_edns() {
        // An unknown option (65001) of length 0 is ignored.
        let opt = [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 4, 0xfd, 0xe9, 0, 0];
        let p = query(b"\x00", &opt[..15], 1);
        let r = parse(&p).unwrap();
        assert_eq!(
            r.edns,
            Some(Edns {
                udp_size: 4096,
                version: 0,
                dnssec_ok: true,
                client_subnet: None
            })
        );
    }

    #[test]
    fn parses_client_subnet() {
        // ECS 192.0.2.0/24: family 1, source 24, scope 0, three bytes.
        let ecs = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2];
        let mut opt = vec![0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, ecs.len() as u8];
        opt.extend_from_slice(&ecs);
        let packet = query(b"\x00", &opt, 1);
        let r = parse(&packet).unwrap();
        let subnet = r.edns.unwrap().client_subnet.unwrap();
        assert_eq!(subnet.source_prefix, 24);
        assert_eq!(subnet.addr, std::net::IpAddr::from([192, 0, 2, 0]));
        // Bits past the prefix, a non-zero scope, a wrong length: FORMERR.
        for bad in [
            [0, 8, 0, 7, 0, 1, 23, 0, 192, 0, 3],
            [0, 8, 0, 7, 0, 1, 24, 8, 192, 0, 2],
            [0, 8, 0, 7, 0, 1, 16, 0, 192, 0, 2],
            [0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2],
        ] {
            let mut opt = vec![0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, bad.len() as u8];
            opt.extend_from_slice(&bad);
            let p = query(b"\x00", &opt, 1);
            assert!(matches!(parse(&p), Err(Reject::FormErr { .. })), "{bad:?}");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(&[1, 2, 3]).unwrap_err(), Reject::Drop);
        let mut response = query(b"\x00", &[], 0);
        response[2] |= 0x80;
        assert_eq!(parse(&response).unwrap_err(), Reject::Drop);
        for bad in [
            query(b"\xc0\x0c", &[], 0),
            query(b"\x40aaaa\x00", &[], 0),
            query(b"\x00", &[1], 0),
            query(b"\x00", &[], 1),
            query(b"\x00", &[0, 0, 41, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0], 1),
        ] {
            assert!(
                matches!(parse(&bad), Err(Reject::FormErr { .. })),
                "{bad:?}"
            );
        }
        let mut notify = query(b"\x00", &[], 0);
        notify[2] = 0x20;
        assert!(matches!(parse(&notify), Err(Reject::NotImp { .. })));
    }
}
