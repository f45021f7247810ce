//! Differential test: the same corpus through signpostd and knotd.
//!
//! Every zone in `tests/data/corpus/*.zone` is served by `knotd` (the oracle,
//! fed a copy flattened by `named-compilezone`, because Knot does not read
//! `$GENERATE`) and by `signpostd` (fed the original files). Every query of
//! `queries.txt` goes to both over UDP and over TCP; the replies are compared
//! as sets of records. A difference fails the test unless `allowlist.txt`
//! names it together with the RFC that permits it.
//!
//! `SIGNPOST_DIFF_PEER=knot` replaces signpostd by a second knotd, which
//! proves the harness itself (it must then report no difference at all).
//!
//! Packets are built and parsed here rather than with hickory-proto so that
//! the comparison sees the rdata bytes as sent, whatever the type.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

const CORPUS: &str = "tests/data/corpus";
const KNOTD: &str = "/usr/sbin/knotd";
const COMPILEZONE: &str = "named-compilezone";
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// A peer that misses this many replies in a row is declared dead, so a
/// broken server fails the test in seconds rather than minutes.
const MAX_CONSECUTIVE_TIMEOUTS: usize = 3;

// ---------------------------------------------------------------------------
// Corpus

/// `(origin, file)` for every `ORIGIN.zone` in the corpus, sorted by origin.
fn corpus_zones() -> Vec<(String, PathBuf)> {
    let dir = common::repo_path(CORPUS);
    let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let origin = path
                .file_name()?
                .to_str()?
                .strip_suffix(".zone")?
                .to_string();
            Some((origin, path))
        })
        .collect();
    zones.sort();
    assert!(zones.len() >= 6, "corpus has only {} zones", zones.len());
    zones
}

/// Writes `DIR/ORIGIN.zone` for every zone with `$INCLUDE` and `$GENERATE`
/// expanded. Runs in the corpus directory so that relative `$INCLUDE` paths
/// resolve as Signpost resolves them (relative to the including file).
fn flatten_zones(zones: &[(String, PathBuf)], out_dir: &Path) {
    for (origin, file) in zones {
        let out = out_dir.join(format!("{origin}.zone"));
        let output = Command::new(COMPILEZONE)
            .current_dir(common::repo_path(CORPUS))
            .args(["-i", "local", "-s", "full", "-o"])
            .arg(&out)
            .arg(origin)
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("run {COMPILEZONE} (apt-get install bind9-utils): {e}"));
        assert!(
            output.status.success(),
            "{COMPILEZONE} rejected {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[derive(Clone, Debug)]
struct QuerySpec {
    /// The line as written (whitespace normalised), used in reports.
    text: String,
    name: String,
    qtype: u16,
    qclass: u16,
    /// `(udp size, version, DO)`, or None for a query without OPT.
    edns: Option<(u16, u8, bool)>,
    rd: bool,
    cd: bool,
}

fn parse_queries(text: &str) -> Vec<QuerySpec> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let q = parse_query_line(line)
            .unwrap_or_else(|e| panic!("queries.txt:{}: {e}: {line:?}", n + 1));
        out.push(q);
    }
    out
}

fn parse_query_line(line: &str) -> Result<QuerySpec, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [name, rtype, flags @ ..] = words.as_slice() else {
        return Err("expected NAME TYPE [flags]".into());
    };
    let qtype = type_from_str(rtype).ok_or_else(|| format!("unknown type {rtype}"))?;
    let mut q = QuerySpec {
        text: words.join(" "),
        name: name.to_string(),
        qtype,
        qclass: 1,
        edns: Some((1232, 0, false)),
        rd: false,
        cd: false,
    };
    for flag in flags {
        let edns = q.edns.get_or_insert((1232, 0, false));
        match *flag {
            "noedns" => q.edns = None,
            "do" => edns.2 = true,
            "rd" => q.rd = true,
            "cd" => q.cd = true,
            other => {
                if let Some(v) = other.strip_prefix("bufsize=") {
                    edns.0 = v.parse().map_err(|_| format!("bad {other}"))?;
                } else if let Some(v) = other.strip_prefix("ednsver=") {
                    edns.1 = v.parse().map_err(|_| format!("bad {other}"))?;
                } else if let Some(v) = other.strip_prefix("class=") {
                    q.qclass = match v.to_ascii_uppercase().as_str() {
                        "IN" => 1,
                        "CH" => 3,
                        "HS" => 4,
                        "ANY" => 255,
                        _ => return Err(format!("bad {other}")),
                    };
                } else {
                    return Err(format!("unknown flag {other}"));
                }
            }
        }
    }
    // `noedns` wins over flags that would otherwise add an OPT record.
    if flags.contains(&"noedns") {
        q.edns = None;
    }
    Ok(q)
}

const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AAAA", 28),
    ("LOC", 29),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("DNAME", 39),
    ("OPT", 41),
    ("DS", 43),
    ("SSHFP", 44),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("TLSA", 52),
    ("OPENPGPKEY", 61),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("ANY", 255),
    ("URI", 256),
    ("CAA", 257),
];

fn type_from_str(s: &str) -> Option<u16> {
    let upper = s.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    TYPES
        .iter()
        .find(|(name, _)| *name == upper)
        .map(|(_, v)| *v)
}

fn type_to_string(t: u16) -> String {
    match TYPES.iter().find(|(_, v)| *v == t) {
        Some((name, _)) => (*name).to_string(),
        None => format!("TYPE{t}"),
    }
}

/// One `allowlist.txt` entry: the query (NAME may be `*`), the aspects
/// (comma-separated in the file), why.
#[derive(Debug)]
struct Allowed {
    name: String,
    rest: String,
    aspects: Vec<String>,
    reason: String,
    used: std::cell::Cell<usize>,
}

fn parse_allowlist(text: &str) -> Vec<Allowed> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        let [query, aspect, reason] = parts.as_slice() else {
            panic!(
                "allowlist.txt:{}: expected `QUERY | ASPECT | REASON`",
                n + 1
            );
        };
        assert!(
            reason.contains("RFC") || reason.contains("SPEC"),
            "allowlist.txt:{}: the reason must cite the RFC (or SPEC section) that allows it",
            n + 1
        );
        let mut words = query.split_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        let rest = words.collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        out.push(Allowed {
            name,
            rest,
            aspects: aspect.split(',').map(|a| a.trim().to_string()).collect(),
            reason: reason.to_string(),
            used: std::cell::Cell::new(0),
        });
    }
    out
}

fn find_allowed<'a>(list: &'a [Allowed], q: &QuerySpec, aspect: &str) -> Option<&'a Allowed> {
    let mut words = q.text.split_whitespace();
    let name = words.next().unwrap_or_default().to_ascii_lowercase();
    let rest = words.collect::<Vec<_>>().join(" ").to_ascii_uppercase();
    list.iter().find(|a| {
        (a.name == "*" || a.name == name) && a.rest == rest && a.aspects.iter().any(|x| x == aspect)
    })
}

// ---------------------------------------------------------------------------
// Wire format

fn encode_name(name: &str, out: &mut Vec<u8>) {
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.is_empty() {
        for label in name.split('.') {
            assert!(
                !label.is_empty() && label.len() < 64,
                "bad label in {name:?}"
            );
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
}

fn build_query(q: &QuerySpec, id: u16) -> Vec<u8> {
    let mut flags: u16 = 0;
    if q.rd {
        flags |= 0x0100;
    }
    if q.cd {
        flags |= 0x0010;
    }
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&u16::from(q.edns.is_some()).to_be_bytes());
    encode_name(&q.name, &mut out);
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&q.qclass.to_be_bytes());
    if let Some((size, version, dnssec_ok)) = q.edns {
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        let ttl = (u32::from(version) << 16) | if dnssec_ok { 0x8000 } else { 0 };
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
    }
    out
}

/// One resource record in comparable form: names lowercased and
/// uncompressed, rdata as wire bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rr {
    owner: String,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

impl std::fmt::Display for Rr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let class = match self.class {
            1 => "IN".to_string(),
            3 => "CH".to_string(),
            c => format!("CLASS{c}"),
        };
        write!(
            f,
            "{} {} {} {} {}",
            self.owner,
            self.ttl,
            class,
            type_to_string(self.rtype),
            render_rdata(self.rtype, &self.rdata)
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Header {
    id: u16,
    qr: bool,
    opcode: u8,
    aa: bool,
    tc: bool,
    rd: bool,
    ra: bool,
    ad: bool,
    cd: bool,
}

#[derive(Clone, Debug, Default)]
struct Reply {
    header: Header,
    /// RCODE including the EDNS extended bits.
    rcode: u16,
    /// `(name as sent, case preserved; type; class)`.
    question: Vec<(String, u16, u16)>,
    answer: BTreeSet<Rr>,
    authority: BTreeSet<Rr>,
    additional: BTreeSet<Rr>,
    /// `(version, DO)` of the OPT record, if any.
    edns: Option<(u8, bool)>,
}

struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, String> {
        let b = *self.msg.get(self.pos).ok_or("short message")?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok((u32::from(self.u16()?) << 16) | u32::from(self.u16()?))
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).ok_or("overflow")?;
        let s = self.msg.get(self.pos..end).ok_or("short message")?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a possibly compressed name; returns its labels as sent.
    fn name(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut labels = Vec::new();
        let mut pos = self.pos;
        let mut jumped = false;
        let mut hops = 0;
        loop {
            let len = *self.msg.get(pos).ok_or("name runs off the message")?;
            match len & 0xC0 {
                0x00 => {
                    pos += 1;
                    if len == 0 {
                        break;
                    }
                    let label = self
                        .msg
                        .get(pos..pos + len as usize)
                        .ok_or("label runs off the message")?;
                    labels.push(label.to_vec());
                    pos += len as usize;
                }
                0xC0 => {
                    let low = *self.msg.get(pos + 1).ok_or("short pointer")?;
                    if !jumped {
                        self.pos = pos + 2;
                    }
                    jumped = true;
                    hops += 1;
                    if hops > 128 {
                        return Err("compression loop".into());
                    }
                    pos = (usize::from(len & 0x3F) << 8) | usize::from(low);
                }
                _ => return Err(format!("bad label type {len:#x}")),
            }
        }
        if !jumped {
            self.pos = pos;
        }
        Ok(labels)
    }
}

fn labels_to_string(labels: &[Vec<u8>]) -> String {
    if labels.is_empty() {
        return ".".into();
    }
    let mut s = String::new();
    for label in labels {
        for &b in label {
            match b {
                b'.' | b'\\' => {
                    s.push('\\');
                    s.push(b as char);
                }
                0x21..=0x7E => s.push(b as char),
                _ => {
                    let _ = write!(s, "\\{b:03}");
                }
            }
        }
        s.push('.');
    }
    s
}

fn push_lower_name(labels: &[Vec<u8>], out: &mut Vec<u8>) {
    for label in labels {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
}

/// Rdata layouts with embedded domain names (RFC 3597 §4 and RFC 4034 §6.2):
/// `F(n)` = n fixed bytes, `N` = a name, `C` = a character-string.
#[derive(Clone, Copy)]
enum Field {
    Fixed(usize),
    Name,
    CharString,
}

fn rdata_layout(rtype: u16) -> Option<&'static [Field]> {
    use Field::{CharString as C, Fixed as F, Name as N};
    Some(match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[N],
        6 => &[N, N, F(20)],
        // MX, AFSDB, RT, KX
        15 | 18 | 21 | 36 => &[F(2), N],
        // RP, MINFO
        17 | 14 => &[N, N],
        33 => &[F(6), N],
        35 => &[F(4), C, C, C, N],
        26 => &[F(2), N, N],
        _ => return None,
    })
}

/// Decompresses and lowercases the names inside rdata; other rdata is kept
/// byte for byte.
fn canonical_rdata(msg: &[u8], start: usize, len: usize, rtype: u16) -> Result<Vec<u8>, String> {
    let raw = msg
        .get(start..start + len)
        .ok_or("rdata runs off the message")?;
    let Some(layout) = rdata_layout(rtype) else {
        return Ok(raw.to_vec());
    };
    let mut r = Reader { msg, pos: start };
    let mut out = Vec::with_capacity(len + 16);
    for field in layout {
        match field {
            Field::Fixed(n) => out.extend_from_slice(r.bytes(*n)?),
            Field::Name => push_lower_name(&r.name()?, &mut out),
            Field::CharString => {
                let n = r.u8()?;
                out.push(n);
                out.extend_from_slice(r.bytes(n.into())?);
            }
        }
    }
    if r.pos != start + len {
        return Err(format!(
            "rdata of {} has trailing bytes",
            type_to_string(rtype)
        ));
    }
    Ok(out)
}

fn parse_reply(msg: &[u8]) -> Result<Reply, String> {
    let mut r = Reader { msg, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    let mut reply = Reply {
        header: Header {
            id,
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0xF) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            ad: flags & 0x0020 != 0,
            cd: flags & 0x0010 != 0,
        },
        rcode: flags & 0xF,
        ..Reply::default()
    };
    for _ in 0..counts[0] {
        let name = labels_to_string(&r.name()?);
        reply.question.push((name, r.u16()?, r.u16()?));
    }
    for (section, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            let owner = labels_to_string(&r.name()?).to_ascii_lowercase();
            let rtype = r.u16()?;
            let class = r.u16()?;
            let ttl = r.u32()?;
            let len = usize::from(r.u16()?);
            let start = r.pos;
            r.bytes(len)?;
            if rtype == 41 {
                if section != 2 || reply.edns.is_some() {
                    return Err("misplaced or repeated OPT".into());
                }
                reply.rcode |= ((ttl >> 24) as u16) << 4;
                reply.edns = Some(((ttl >> 16) as u8, ttl & 0x8000 != 0));
                continue;
            }
            let rr = Rr {
                owner,
                rtype,
                class,
                ttl,
                rdata: canonical_rdata(msg, start, len, rtype)?,
            };
            let set = match section {
                0 => &mut reply.answer,
                1 => &mut reply.authority,
                _ => &mut reply.additional,
            };
            set.insert(rr);
        }
    }
    if r.pos != msg.len() {
        return Err(format!("{} trailing bytes", msg.len() - r.pos));
    }
    Ok(reply)
}

fn render_rdata(rtype: u16, rdata: &[u8]) -> String {
    let name_at = |pos: usize| -> Option<(String, usize)> {
        let mut r = Reader { msg: rdata, pos };
        let labels = r.name().ok()?;
        Some((labels_to_string(&labels), r.pos))
    };
    let rendered = match (rtype, rdata.len()) {
        (1, 4) => Some(format!(
            "{}.{}.{}.{}",
            rdata[0], rdata[1], rdata[2], rdata[3]
        )),
        (28, 16) => {
            let octets: [u8; 16] = rdata.try_into().unwrap_or([0; 16]);
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }
        (2 | 5 | 12 | 39, _) => name_at(0).map(|(n, _)| n),
        (15 | 36, 3..) => {
            name_at(2).map(|(n, _)| format!("{} {n}", u16::from_be_bytes([rdata[0], rdata[1]])))
        }
        (33, 7..) => name_at(6).map(|(n, _)| {
            let f = |i: usize| u16::from_be_bytes([rdata[i], rdata[i + 1]]);
            format!("{} {} {} {n}", f(0), f(2), f(4))
        }),
        (6, _) => name_at(0).and_then(|(m, p)| {
            let (r, p) = name_at(p)?;
            let nums: Vec<String> = rdata
                .get(p..p + 20)?
                .chunks(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]).to_string())
                .collect();
            Some(format!("{m} {r} {}", nums.join(" ")))
        }),
        (16 | 99, _) => {
            let mut parts = Vec::new();
            let mut i = 0;
            while i < rdata.len() {
                let n = rdata[i] as usize;
                let s = rdata.get(i + 1..i + 1 + n).unwrap_or_default();
                let text: String = s
                    .iter()
                    .map(|&b| match b {
                        b'"' | b'\\' => format!("\\{}", b as char),
                        0x20..=0x7E => (b as char).to_string(),
                        _ => format!("\\{b:03}"),
                    })
                    .collect();
                parts.push(if text.len() > 40 {
                    format!("\"{}...\"({n} bytes)", &text[..40])
                } else {
                    format!("\"{text}\"")
                });
                i += 1 + n;
            }
            Some(parts.join(" "))
        }
        _ => None,
    };
    rendered.unwrap_or_else(|| {
        let hex: String = rdata.iter().map(|b| format!("{b:02X}")).collect();
        format!("\\# {} {hex}", rdata.len())
    })
}

// ---------------------------------------------------------------------------
// Transport

/// Sends queries to one server over UDP and over one TCP connection.
struct Client {
    label: String,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    udp: UdpSocket,
    tcp: Option<TcpStream>,
    next_id: u16,
    consecutive_timeouts: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Client {
    fn new(label: &str, udp_addr: SocketAddr, tcp_addr: SocketAddr) -> Self {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        Self {
            label: label.to_string(),
            udp_addr,
            tcp_addr,
            udp,
            tcp: None,
            next_id: 0x5150,
            consecutive_timeouts: 0,
        }
    }

    fn exchange(&mut self, q: &QuerySpec, transport: Transport) -> Result<Reply, String> {
        assert!(
            self.consecutive_timeouts < MAX_CONSECUTIVE_TIMEOUTS,
            "{} stopped answering ({} timeouts in a row); giving up",
            self.label,
            self.consecutive_timeouts
        );
        self.next_id = self.next_id.wrapping_add(7919);
        let id = self.next_id;
        let packet = build_query(q, id);
        let raw = match transport {
            Transport::Udp => self.udp_exchange(&packet, id),
            Transport::Tcp => self.tcp_exchange(&packet, id),
        };
        let raw = match raw {
            Ok(raw) => {
                self.consecutive_timeouts = 0;
                raw
            }
            Err(e) => {
                self.consecutive_timeouts += 1;
                return Err(e);
            }
        };
        let reply = parse_reply(&raw).map_err(|e| format!("unparsable reply: {e}"))?;
        if reply.header.id != id || !reply.header.qr {
            return Err(format!(
                "reply id {} qr {} for query id {id}",
                reply.header.id, reply.header.qr
            ));
        }
        Ok(reply)
    }

    fn udp_exchange(&mut self, packet: &[u8], id: u16) -> Result<Vec<u8>, String> {
        self.udp
            .send_to(packet, self.udp_addr)
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 65535];
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.udp.recv_from(&mut buf) {
                // A late reply to an earlier, timed-out query: skip it.
                Ok((n, _)) if n >= 2 && buf[..2] != id.to_be_bytes() => {}
                Ok((n, _)) => return Ok(buf[..n].to_vec()),
                Err(e) => return Err(format!("no UDP reply: {e}")),
            }
            if Instant::now() > deadline {
                return Err("no UDP reply".into());
            }
        }
    }

    fn tcp_exchange(&mut self, packet: &[u8], id: u16) -> Result<Vec<u8>, String> {
        // One connection per server, reused; reconnect once if the server
        // closed it (idle timeout, or it closes after an error).
        for attempt in 0..2 {
            if self.tcp.is_none() {
                let stream = TcpStream::connect_timeout(&self.tcp_addr, REPLY_TIMEOUT)
                    .map_err(|e| format!("TCP connect: {e}"))?;
                stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
                stream.set_nodelay(true).unwrap();
                self.tcp = Some(stream);
            }
            let stream = self.tcp.as_mut().unwrap();
            let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(packet);
            let result = stream
                .write_all(&framed)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    let mut len = [0u8; 2];
                    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
                    let mut buf = vec![0u8; u16::from_be_bytes(len).into()];
                    stream.read_exact(&mut buf).map_err(|e| e.to_string())?;
                    Ok(buf)
                });
            match result {
                Ok(buf) if buf.len() >= 2 && buf[..2] == id.to_be_bytes() => return Ok(buf),
                Ok(buf) => {
                    self.tcp = None;
                    return Err(format!("TCP reply with wrong id ({} bytes)", buf.len()));
                }
                Err(e) => {
                    self.tcp = None;
                    if attempt == 1 {
                        return Err(format!("no TCP reply: {e}"));
                    }
                }
            }
        }
        unreachable!()
    }
}

// ---------------------------------------------------------------------------
// knotd

/// A running `knotd`, killed by PID when dropped.
struct Knot {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Knot {
    fn start(tag: &str, zones: &[(String, PathBuf)]) -> Self {
        assert!(
            Path::new(KNOTD).exists(),
            "{KNOTD} missing: apt-get install -y knot bind9-utils"
        );
        let dir = common::scratch_dir(tag);
        let zone_dir = dir.join("zones");
        for sub in ["zones", "run", "db"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        flatten_zones(zones, &zone_dir);
        let port = common::free_port();
        let mut conf = format!(
            "server:\n    rundir: \"{run}\"\n    listen: 127.0.0.1@{port}\n\
             log:\n  - target: stderr\n    any: warning\n\
             database:\n    storage: \"{db}\"\n\
             template:\n  - id: default\n    storage: \"{zones}\"\n    file: \"%s.zone\"\n\
             \x20   zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
             zone:\n",
            run = dir.join("run").display(),
            db = dir.join("db").display(),
            zones = zone_dir.display(),
        );
        for (origin, _) in zones {
            let _ = writeln!(conf, "  - domain: \"{origin}.\"");
        }
        let conf_path = dir.join("knot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = dir.join("knotd.log");
        let child = Command::new(KNOTD)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("knotd.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {KNOTD}: {e}"));
        let mut knot = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        knot.wait_ready(zones);
        knot
    }

    /// Waits until knotd answers SOA authoritatively for every zone.
    fn wait_ready(&mut self, zones: &[(String, PathBuf)]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut pending: Vec<&str> = zones.iter().map(|(o, _)| o.as_str()).collect();
        let mut buf = vec![0u8; 65535];
        while !pending.is_empty() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("knotd exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "knotd not ready for {pending:?}:\n{}",
                self.log_text()
            );
            let origin = pending[0];
            let q = parse_query_line(&format!("{origin} SOA")).unwrap();
            let _ = sock.send_to(&build_query(&q, 1), self.addr);
            let ready = match sock.recv_from(&mut buf) {
                Ok((n, _)) => parse_reply(&buf[..n])
                    .map(|r| r.rcode == 0 && r.header.aa && !r.answer.is_empty())
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                pending.remove(0);
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// Comparison

/// One aspect in which two replies differ.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Difference {
    aspect: &'static str,
    detail: String,
}

fn set_difference(
    aspect: &'static str,
    ours: &str,
    theirs: &str,
    a: &BTreeSet<Rr>,
    b: &BTreeSet<Rr>,
) -> Option<Difference> {
    if a == b {
        return None;
    }
    let mut detail = String::new();
    for rr in a.difference(b) {
        let _ = write!(detail, "\n        only {ours}: {rr}");
    }
    for rr in b.difference(a) {
        let _ = write!(detail, "\n        only {theirs}: {rr}");
    }
    Some(Difference { aspect, detail })
}

/// Compares the oracle's reply `a` (from `oracle`) with `b` (from `peer`).
fn compare(oracle: &str, peer: &str, a: &Reply, b: &Reply) -> Vec<Difference> {
    let mut diffs = Vec::new();
    let mut flag =
        |aspect: &'static str, what: &str, x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| {
            diffs.push(Difference {
                aspect,
                detail: format!("{what}: {oracle} {x:?}, {peer} {y:?}"),
            });
        };
    if a.rcode != b.rcode {
        flag("rcode", "rcode", &rcode_name(a.rcode), &rcode_name(b.rcode));
    }
    let (ha, hb) = (&a.header, &b.header);
    for (aspect, x, y) in [
        ("flag:opcode", u32::from(ha.opcode), u32::from(hb.opcode)),
        ("flag:AA", ha.aa.into(), hb.aa.into()),
        ("flag:TC", ha.tc.into(), hb.tc.into()),
        ("flag:RD", ha.rd.into(), hb.rd.into()),
        ("flag:RA", ha.ra.into(), hb.ra.into()),
        ("flag:AD", ha.ad.into(), hb.ad.into()),
        ("flag:CD", ha.cd.into(), hb.cd.into()),
    ] {
        if x != y {
            flag(aspect, aspect, &x, &y);
        }
    }
    if a.question != b.question {
        flag("question", "question", &a.question, &b.question);
    }
    if a.edns != b.edns {
        flag("edns", "OPT (version, DO)", &a.edns, &b.edns);
    }
    // RFC 2181 §9: a truncated reply's sections are incomplete by design and
    // the client retries over TCP, so only the header counts when both
    // servers truncate.
    if !(ha.tc && hb.tc) {
        let sections = [
            ("answer", &a.answer, &b.answer),
            ("authority", &a.authority, &b.authority),
            ("additional", &a.additional, &b.additional),
        ];
        for (aspect, x, y) in sections {
            diffs.extend(set_difference(aspect, oracle, peer, x, y));
        }
    }
    diffs
}

fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        9 => "NOTAUTH",
        16 => "BADVERS",
        _ => return format!("RCODE{rcode}"),
    };
    name.to_string()
}

/// Knot stops a CNAME/DNAME chain where it leaves the zone; Signpost goes on
/// into any other served zone (RFC 1034 §4.3.2 step 3a allows it, SPEC §2
/// requires it). So that the chased part is checked too, not allow-listed,
/// the oracle's reply is extended the same way: ask knotd for the chain's
/// last target and merge (answer and additional added, rcode and authority
/// from the last step, RFC 6604 §2.1). Returns the reply and the hop count.
fn chase_across_zones(
    oracle: &mut Client,
    q: &QuerySpec,
    transport: Transport,
    mut reply: Reply,
    origins: &[String],
) -> (Reply, usize) {
    if matches!(q.qtype, 5 | 255) || q.qclass != 1 {
        return (reply, 0);
    }
    let mut hops = 0;
    loop {
        // Only a NOERROR reply without SOA that ends in a CNAME can have
        // stopped at a zone edge: a chain that ends inside knot's own zone
        // ends in data, NODATA (SOA) or NXDOMAIN.
        if reply.rcode != 0 || !reply.authority.is_empty() || hops >= 8 {
            return (reply, hops);
        }
        let mut current = format!("{}.", q.name.trim_end_matches('.')).to_ascii_lowercase();
        let mut visited = BTreeSet::from([current.clone()]);
        while let Some(cname) = reply
            .answer
            .iter()
            .find(|rr| rr.rtype == 5 && rr.owner == current)
        {
            let mut r = Reader {
                msg: &cname.rdata,
                pos: 0,
            };
            let Ok(labels) = r.name() else {
                return (reply, hops);
            };
            current = labels_to_string(&labels);
            if !visited.insert(current.clone()) {
                return (reply, hops); // a loop: both servers stop here
            }
        }
        let has_data = reply
            .answer
            .iter()
            .any(|rr| rr.owner == current && rr.rtype == q.qtype);
        let served = origins
            .iter()
            .any(|o| current == *o || current.ends_with(&format!(".{o}")));
        if has_data || !served || current == format!("{}.", q.name).to_ascii_lowercase() {
            return (reply, hops);
        }
        let mut next = q.clone();
        next.name = current;
        let Ok(more) = oracle.exchange(&next, transport) else {
            return (reply, hops);
        };
        hops += 1;
        reply.rcode = more.rcode;
        reply.header.tc |= more.header.tc;
        reply.answer.extend(more.answer);
        reply.authority = more.authority;
        reply.additional.extend(more.additional);
    }
}

// ---------------------------------------------------------------------------
// The test

struct Peer {
    label: &'static str,
    udp: SocketAddr,
    tcp: SocketAddr,
    /// Keeps the server alive; dropped (killed) at the end of the test.
    _guard: Box<dyn std::any::Any>,
    stderr: Box<dyn Fn() -> String>,
    /// True when the peer is knotd too, which needs the same chasing.
    is_knot: bool,
}

fn start_peer(zones: &[(String, PathBuf)]) -> Peer {
    if std::env::var("SIGNPOST_DIFF_PEER").as_deref() == Ok("knot") {
        let knot = Knot::start("knotd-peer", zones);
        let log = knot.log.clone();
        return Peer {
            label: "knotd#2",
            udp: knot.addr,
            tcp: knot.addr,
            _guard: Box::new(knot),
            stderr: Box::new(move || std::fs::read_to_string(&log).unwrap_or_default()),
            is_knot: true,
        };
    }
    let refs: Vec<(&str, &Path)> = zones
        .iter()
        .map(|(o, p)| (o.as_str(), p.as_path()))
        .collect();
    let server = common::Server::start_zones(&refs, &[]);
    let log = server.stderr_path.clone();
    Peer {
        label: "signpostd",
        udp: server.udp,
        tcp: server.tcp,
        _guard: Box::new(server),
        stderr: Box::new(move || std::fs::read_to_string(&log).unwrap_or_default()),
        is_knot: false,
    }
}

#[test]
fn corpus_matches_knot() {
    let started = Instant::now();
    let zones = corpus_zones();
    let queries = parse_queries(
        &std::fs::read_to_string(common::repo_path(&format!("{CORPUS}/queries.txt"))).unwrap(),
    );
    assert!(queries.len() >= 400, "only {} queries", queries.len());
    let allowlist = parse_allowlist(
        &std::fs::read_to_string(common::repo_path(&format!("{CORPUS}/allowlist.txt"))).unwrap(),
    );

    let knot = Knot::start("knotd-oracle", &zones);
    let peer = start_peer(&zones);
    let mut oracle = Client::new("knotd", knot.addr, knot.addr);
    let mut other = Client::new(peer.label, peer.udp, peer.tcp);

    let origins: Vec<String> = zones.iter().map(|(o, _)| format!("{o}.")).collect();
    let mut chased = 0;
    let mut report = String::new();
    let (mut compared, mut total, mut allowed, mut unexpected) = (0, 0, 0, 0);
    let mut failures_by_aspect: BTreeMap<&str, usize> = BTreeMap::new();
    for q in &queries {
        for transport in [Transport::Udp, Transport::Tcp] {
            compared += 1;
            let a = oracle.exchange(q, transport).map(|reply| {
                let (reply, hops) = chase_across_zones(&mut oracle, q, transport, reply, &origins);
                if hops > 0 {
                    chased += 1;
                }
                reply
            });
            let mut b = other.exchange(q, transport);
            if peer.is_knot {
                b = b.map(|r| chase_across_zones(&mut other, q, transport, r, &origins).0);
            }
            let diffs = match (&a, &b) {
                (Ok(a), Ok(b)) => compare("knotd", peer.label, a, b),
                (Err(e), _) => panic!("oracle knotd failed on {} {transport:?}: {e}", q.text),
                (Ok(_), Err(e)) => vec![Difference {
                    aspect: "reply",
                    detail: format!("{}: {e}", peer.label),
                }],
            };
            for d in diffs {
                total += 1;
                let verdict = match find_allowed(&allowlist, q, d.aspect) {
                    Some(entry) => {
                        allowed += 1;
                        entry.used.set(entry.used.get() + 1);
                        format!("allowed: {}", entry.reason)
                    }
                    None => {
                        unexpected += 1;
                        *failures_by_aspect.entry(d.aspect).or_default() += 1;
                        "UNEXPECTED".to_string()
                    }
                };
                let _ = writeln!(
                    report,
                    "{} [{transport:?}] {}: {verdict}: {}",
                    q.text, d.aspect, d.detail
                );
            }
        }
    }
    for entry in allowlist.iter().filter(|e| e.used.get() == 0) {
        let _ = writeln!(
            report,
            "note: allow-list entry never used: {} {} | {}",
            entry.name,
            entry.rest,
            entry.aspects.join(",")
        );
    }
    eprint!("{report}");
    eprintln!(
        "differential knotd vs {}: {} queries, {compared} exchanges compared \
         ({chased} knotd replies chased across zones), {total} differences, \
         {allowed} allowed, {unexpected} unexpected {failures_by_aspect:?} ({:.1?})",
        peer.label,
        queries.len(),
        started.elapsed()
    );
    assert!(
        unexpected == 0,
        "{unexpected} unexpected differences between knotd and {} (see above); {} stderr:\n{}",
        peer.label,
        peer.label,
        (peer.stderr)()
    );
}

// ---------------------------------------------------------------------------
// Self-checks of the harness: the comparison must be able to fail.

fn reply_with(answer: &[Rr]) -> Reply {
    Reply {
        header: Header {
            qr: true,
            aa: true,
            ..Header::default()
        },
        question: vec![("www.example.com.".into(), 1, 1)],
        answer: answer.iter().cloned().collect(),
        edns: Some((0, false)),
        ..Reply::default()
    }
}

fn a_record(owner: &str, ttl: u32, last: u8) -> Rr {
    Rr {
        owner: owner.into(),
        rtype: 1,
        class: 1,
        ttl,
        rdata: vec![192, 0, 2, last],
    }
}

#[test]
fn compare_reports_every_kind_of_difference() {
    let base = reply_with(&[
        a_record("www.example.com.", 300, 1),
        a_record("www.example.com.", 300, 2),
    ]);
    // Same set in another order: no difference.
    let reordered = reply_with(&[
        a_record("www.example.com.", 300, 2),
        a_record("www.example.com.", 300, 1),
    ]);
    assert!(compare("a", "b", &base, &reordered).is_empty());

    let other_rdata = reply_with(&[a_record("www.example.com.", 300, 1)]);
    let d = compare("a", "b", &base, &other_rdata);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].aspect, "answer");
    assert!(
        d[0].detail
            .contains("only a: www.example.com. 300 IN A 192.0.2.2"),
        "{d:?}"
    );

    let other_ttl = reply_with(&[
        a_record("www.example.com.", 60, 1),
        a_record("www.example.com.", 300, 2),
    ]);
    assert_eq!(compare("a", "b", &base, &other_ttl)[0].aspect, "answer");

    let mut no_aa = base.clone();
    no_aa.header.aa = false;
    assert_eq!(compare("a", "b", &base, &no_aa)[0].aspect, "flag:AA");

    let mut nx = base.clone();
    nx.rcode = 3;
    assert_eq!(compare("a", "b", &base, &nx)[0].aspect, "rcode");

    let mut no_edns = base.clone();
    no_edns.edns = None;
    assert_eq!(compare("a", "b", &base, &no_edns)[0].aspect, "edns");

    let mut extra = base.clone();
    extra
        .additional
        .insert(a_record("ns1.example.com.", 300, 53));
    assert_eq!(compare("a", "b", &base, &extra)[0].aspect, "additional");

    // Both truncated: sections are not compared (RFC 2181 §9)...
    let (mut t1, mut t2) = (base.clone(), other_rdata.clone());
    t1.header.tc = true;
    t2.header.tc = true;
    assert!(compare("a", "b", &t1, &t2).is_empty());
    // ...but one truncated and the other not is a difference.
    t2.header.tc = false;
    assert!(compare("a", "b", &t1, &t2).len() >= 2);
}

#[test]
fn parse_reply_decompresses_and_lowercases_names_in_rdata() {
    // www.Example.com. CNAME -> pointer to "Example.com." (compressed), and
    // the same record written uncompressed in lower case.
    let q = parse_query_line("www.Example.com CNAME").unwrap();
    let mut msg = build_query(&q, 7);
    msg[2] |= 0x84; // QR, AA
    msg[7] = 1; // ANCOUNT
    msg[11] = 0; // no OPT
    msg.truncate(12 + 17 + 4);
    let mut compressed = msg.clone();
    compressed.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 16]);
    let mut plain = msg;
    plain.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 13]);
    plain.extend_from_slice(b"\x07example\x03com\x00");
    let a = parse_reply(&compressed).unwrap();
    let b = parse_reply(&plain).unwrap();
    assert_eq!(a.answer, b.answer);
    assert_eq!(a.question[0].0, "www.Example.com.");
    assert_eq!(
        a.answer.first().unwrap().to_string(),
        "www.example.com. 60 IN CNAME example.com."
    );

    // Opaque rdata stays byte for byte: a TXT differing in case differs.
    let txt = |s: &[u8]| Rr {
        owner: "t.".into(),
        rtype: 16,
        class: 1,
        ttl: 1,
        rdata: s.to_vec(),
    };
    let x = reply_with(&[txt(b"\x01A")]);
    let y = reply_with(&[txt(b"\x01a")]);
    assert_eq!(compare("a", "b", &x, &y).len(), 1);
}

#[test]
fn allowlist_matches_query_and_aspect() {
    let list = parse_allowlist(
        "# comment\n* ANY | answer | RFC 8482 §4.1: any subset\n\
         tonet.example.com A | answer | RFC 1034 §4.3.2 step 3a\n",
    );
    let any = parse_query_line("Example.COM  ANY").unwrap();
    let a = parse_query_line("tonet.example.com A").unwrap();
    let a_tcp_flags = parse_query_line("tonet.example.com A noedns").unwrap();
    assert!(find_allowed(&list, &any, "answer").is_some());
    assert!(find_allowed(&list, &any, "rcode").is_none());
    assert!(find_allowed(&list, &a, "answer").is_some());
    assert!(find_allowed(&list, &a_tcp_flags, "answer").is_none());
}
