//! Hostile input: malformed packets and TCP abuse never take the server down.
//!
//! Every case sends something a well-behaved client would not, then checks
//! two things: the reply to the hostile input (if any) is what RFC 1035, 6891
//! and 7766 allow, and a plain `www.example.com A` query right after it still
//! gets the right answer from a process that is still running.
//!
//! Packets are built byte by byte here rather than with hickory-proto, since
//! most of them are things an encoder refuses to produce; replies are decoded
//! with hickory-proto.
//!
//! Knobs: `HOSTILE_FUZZ_SEED` and `HOSTILE_FUZZ_ITERATIONS` (default 10,000
//! UDP mutants, a fifth of that over TCP). `HOSTILE_TARGET=knotd` runs the
//! same tests against a hand-started `knotd` to check an expectation against
//! the reference; knotd 3.2 differs in two cases, where the tests follow RFC
//! 6891 instead: it answers an OPT whose owner is not the root, and gives
//! FORMERR for an EDNS UDP size of 1 (which must count as 512).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::common::{scratch_dir, Server};

// ---------------------------------------------------------------------------
// The zone and the server
// ---------------------------------------------------------------------------

const ORIGIN: &str = "example.com.";
const WWW: &[&str] = &["www", "example", "com"];
const WWW_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
/// Number of strings (one TXT record each) at `big.example.com`.
const BIG_TXT_COUNT: usize = 40;

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

const RCODE_NOERROR: u16 = 0;
const RCODE_FORMERR: u16 = 1;
const RCODE_NOTIMP: u16 = 4;
const RCODE_REFUSED: u16 = 5;
const RCODE_NOTAUTH: u16 = 9;
const RCODE_BADVERS: u16 = 16;

fn zone_text() -> String {
    let mut z = String::from(
        "$ORIGIN example.com.\n\
         $TTL 300\n\
         @      IN SOA   ns1 hostmaster 2024010101 3600 900 604800 60\n\
         @      IN NS    ns1\n\
         ns1    IN A     192.0.2.53\n\
         www    IN A     192.0.2.80\n\
         www    IN AAAA  2001:db8::80\n\
         txt    IN TXT   \"hello world\"\n\
         alias  IN CNAME www\n",
    );
    for i in 0..BIG_TXT_COUNT {
        let filler: String = std::iter::repeat_n(char::from(b'a' + (i % 26) as u8), 200).collect();
        z.push_str(&format!("big    IN TXT   \"{i:02}-{filler}\"\n"));
    }
    z
}

fn write_zone() -> PathBuf {
    let dir = scratch_dir("hostile-zone");
    let path = dir.join("example.com.zone");
    std::fs::write(&path, zone_text()).unwrap();
    path
}

/// The server under test plus what the tests need to know about it.
struct Target {
    proc: Proc,
    udp: SocketAddr,
    tcp: SocketAddr,
}

enum Proc {
    Signpost(Server),
    Knot(Child, PathBuf),
}

impl Target {
    fn start(extra: &[&str]) -> Self {
        let zone = write_zone();
        if std::env::var("HOSTILE_TARGET").as_deref() == Ok("knotd") {
            return start_knot(&zone, extra);
        }
        let server = Server::start_zones(&[(ORIGIN, zone.as_path())], extra);
        let (udp, tcp) = (server.udp, server.tcp);
        let target = Self {
            proc: Proc::Signpost(server),
            udp,
            tcp,
        };
        target.wait_ready();
        target
    }

    fn stderr(&self) -> String {
        match &self.proc {
            Proc::Signpost(s) => s.stderr(),
            Proc::Knot(_, p) => std::fs::read_to_string(p).unwrap_or_default(),
        }
    }

    fn is_running(&mut self) -> bool {
        match &mut self.proc {
            Proc::Signpost(s) => s.is_running(),
            Proc::Knot(c, _) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// The `listening` line means the sockets are bound; this also waits
    /// until the zone answers, so a slow load is not mistaken for a bug.
    fn wait_ready(&self) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        for attempt in 0..50u16 {
            let id = 0xfe00 + attempt;
            let _ = sock.send_to(&www_query(id), self.udp);
            let mut buf = [0u8; 4096];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if check_www_answer(&buf[..n], id).is_ok() {
                    return;
                }
            }
        }
        panic!(
            "server never answered www.example.com A correctly; stderr:\n{}",
            self.stderr()
        );
    }

    /// The process is still running and has not logged a panic.
    fn assert_alive(&mut self) {
        let running = self.is_running();
        assert!(running, "server process exited; stderr:\n{}", self.stderr());
        let stderr = self.stderr();
        assert!(
            !stderr.contains("panicked"),
            "server stderr reports a panic:\n{stderr}"
        );
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Proc::Knot(c, _) = &mut self.proc {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_knot(zone: &std::path::Path, extra: &[&str]) -> Target {
    let dir = scratch_dir("hostile-knot");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = format!(
        "server:\n    rundir: {d}\n    listen: 127.0.0.1@{port}\n    udp-workers: 2\n    tcp-workers: 2\n    background-workers: 1\n",
        d = dir.display()
    );
    for pair in extra.chunks(2) {
        match pair {
            ["--tcp-idle-timeout", v] => server.push_str(&format!("    tcp-idle-timeout: {v}\n")),
            ["--tcp-max-connections", v] => server.push_str(&format!("    tcp-max-clients: {v}\n")),
            _ => {}
        }
    }
    let conf = format!(
        "{server}database:\n    storage: {d}\nlog:\n  - target: stderr\n    any: info\ntemplate:\n  - id: default\n    storage: {d}\n    journal-content: none\nzone:\n  - domain: {ORIGIN}\n    file: {z}\n",
        d = dir.display(),
        z = zone.display()
    );
    let conf_path = dir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let stderr_path = dir.join("stderr.log");
    let child = Command::new("knotd")
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let target = Target {
        proc: Proc::Knot(child, stderr_path),
        udp: addr,
        tcp: addr,
    };
    target.wait_ready();
    target
}

// ---------------------------------------------------------------------------
// Building packets by hand
// ---------------------------------------------------------------------------

const QR: u16 = 0x8000;

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(512);
    for v in [id, flags, qd, an, ns, ar] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

fn opcode_flags(opcode: u8) -> u16 {
    u16::from(opcode & 0x0f) << 11
}

fn push_name(buf: &mut Vec<u8>, labels: &[&str]) {
    for l in labels {
        buf.push(l.len() as u8);
        buf.extend_from_slice(l.as_bytes());
    }
    buf.push(0);
}

fn push_question(buf: &mut Vec<u8>, labels: &[&str], qtype: u16) {
    push_name(buf, labels);
    buf.extend_from_slice(&qtype.to_be_bytes());
    buf.extend_from_slice(&CLASS_IN.to_be_bytes());
}

/// An OPT RR owned by the root.
fn opt_rr(payload: u16, version: u8, dnssec_ok: bool, options: &[(u16, &[u8])]) -> Vec<u8> {
    let mut rdata = Vec::new();
    for (code, data) in options {
        rdata.extend_from_slice(&code.to_be_bytes());
        rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
        rdata.extend_from_slice(data);
    }
    let mut rr = vec![0u8];
    rr.extend_from_slice(&TYPE_OPT.to_be_bytes());
    rr.extend_from_slice(&payload.to_be_bytes());
    rr.push(0); // extended rcode
    rr.push(version);
    rr.extend_from_slice(&(if dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
    rr.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    rr.extend_from_slice(&rdata);
    rr
}

/// A standard query for `labels`/`qtype`, with `opt` appended as the one
/// additional record when given.
fn query_bytes(id: u16, labels: &[&str], qtype: u16, opt: Option<Vec<u8>>) -> Vec<u8> {
    let mut p = header(id, 0, 1, 0, 0, u16::from(opt.is_some()));
    push_question(&mut p, labels, qtype);
    if let Some(opt) = opt {
        p.extend_from_slice(&opt);
    }
    p
}

fn www_query(id: u16) -> Vec<u8> {
    query_bytes(id, WWW, TYPE_A, Some(opt_rr(1232, 0, false, &[])))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Reading replies
// ---------------------------------------------------------------------------

fn wire_id(p: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*p.first()?, *p.get(1)?]))
}

fn wire_flags(p: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]))
}

fn wire_qdcount(p: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]))
}

/// The full 12-bit rcode: header bits plus the OPT's extended bits.
fn ext_rcode(raw: &[u8], msg: &Message) -> u16 {
    let low = wire_flags(raw).unwrap_or(0) & 0x000f;
    let high = msg.edns.as_ref().map_or(0, |e| u16::from(e.rcode_high()));
    (high << 4) | low
}

/// The first question of a packet, decoded as a server should decode it.
fn first_question(packet: &[u8]) -> Option<Query> {
    if wire_qdcount(packet)? == 0 {
        return None;
    }
    let mut d = BinDecoder::new(packet);
    d.read_slice(12).ok()?;
    Query::read(&mut d).ok()
}

/// Checks a reply to `query` against what any reply must satisfy: the query
/// deserved one, the ID and opcode are copied, QR is set, it decodes, and a
/// question section (if any) echoes the query's well-formed question.
/// Returns the decoded reply and its full rcode.
fn check_reply(query: &[u8], reply: &[u8]) -> Result<(Message, u16), String> {
    if query.len() < 12 {
        return Err(format!(
            "answered a {}-byte packet (shorter than a header)",
            query.len()
        ));
    }
    let qflags = wire_flags(query).unwrap_or(0);
    if qflags & QR != 0 {
        return Err("answered a packet with QR=1 (a response)".into());
    }
    if reply.len() < 12 {
        return Err(format!("reply is only {} bytes", reply.len()));
    }
    if wire_id(reply) != wire_id(query) {
        return Err(format!(
            "reply ID {:?} != query ID {:?}",
            wire_id(reply),
            wire_id(query)
        ));
    }
    let rflags = wire_flags(reply).unwrap_or(0);
    if rflags & QR == 0 {
        return Err("reply has QR=0".into());
    }
    if (rflags >> 11) & 0xf != (qflags >> 11) & 0xf {
        return Err(format!(
            "reply opcode {} != query opcode {}",
            (rflags >> 11) & 0xf,
            (qflags >> 11) & 0xf
        ));
    }
    let msg = Message::from_vec(reply).map_err(|e| format!("reply does not decode: {e}"))?;
    let rcode = ext_rcode(reply, &msg);
    match msg.queries.len() {
        0 => {}
        1 => match first_question(query) {
            Some(q) => {
                let r = &msg.queries[0];
                if !(r.name.eq_case(&q.name)
                    && r.query_type == q.query_type
                    && r.query_class == q.query_class)
                {
                    return Err(format!(
                        "reply question {r:?} is not the query's question {q:?} (rcode {rcode})"
                    ));
                }
            }
            None => {
                return Err(format!(
                    "reply (rcode {rcode}) echoes a question, but the query's question \
                     section is malformed or absent: {:?}",
                    msg.queries[0]
                ));
            }
        },
        n => return Err(format!("reply has {n} questions")),
    }
    Ok((msg, rcode))
}

/// Checks the reply to a `www.example.com A` query with ID `id`.
fn check_www_answer(reply: &[u8], id: u16) -> Result<Message, String> {
    let query = www_query(id);
    let (msg, rcode) = check_reply(&query, reply)?;
    if rcode != RCODE_NOERROR {
        return Err(format!("www.example.com A: rcode {rcode}, want NOERROR"));
    }
    if !msg.metadata.authoritative {
        return Err("www.example.com A: AA bit clear".into());
    }
    let has_addr = msg
        .answers
        .iter()
        .any(|r| matches!(&r.data, RData::A(a) if a.0 == WWW_ADDR));
    if !has_addr {
        return Err(format!(
            "www.example.com A: answer lacks {WWW_ADDR}: {:?}",
            msg.answers
        ));
    }
    Ok(msg)
}

/// The reply checks themselves must be able to fail, or every test above
/// that relies on them proves nothing.
#[test]
fn reply_checks_reject_bad_replies() {
    let q = www_query(0x0101);
    let mut good = header(0x0101, QR | 0x0400, 1, 1, 0, 0);
    push_question(&mut good, WWW, TYPE_A);
    good.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 80]);
    check_www_answer(&good, 0x0101).unwrap();

    let mut wrong_id = good.clone();
    wrong_id[1] = 0x02;
    assert!(check_reply(&q, &wrong_id).is_err(), "wrong ID accepted");
    let mut no_qr = good.clone();
    no_qr[2] &= 0x7f;
    assert!(check_reply(&q, &no_qr).is_err(), "QR=0 accepted");
    let mut wrong_addr = good.clone();
    let n = wrong_addr.len();
    wrong_addr[n - 1] = 81;
    assert!(
        check_www_answer(&wrong_addr, 0x0101).is_err(),
        "wrong address accepted"
    );
    assert!(
        check_reply(&q[..11], &good).is_err(),
        "reply to 11 bytes accepted"
    );
    assert!(
        check_reply(&good, &good).is_err(),
        "reply to a response accepted"
    );
    assert!(
        check_reply(&q, &good[..good.len() - 3]).is_err(),
        "cut reply accepted"
    );

    // FORMERR echoing a question when the query's own question is a loop.
    let mut looped = header(0x0101, 0, 1, 0, 0, 0);
    looped.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let mut formerr = header(0x0101, QR | 1, 1, 0, 0, 0);
    push_question(&mut formerr, WWW, TYPE_A);
    assert!(
        check_reply(&looped, &formerr).is_err(),
        "garbage echo accepted"
    );
    let bare_formerr = header(0x0101, QR | 1, 0, 0, 0, 0);
    assert_eq!(
        check_reply(&looped, &bare_formerr).unwrap().1,
        RCODE_FORMERR
    );
    // A different question echoed back.
    let mut other = header(0x0101, QR | 0x0400, 1, 0, 0, 0);
    push_question(&mut other, &["txt", "example", "com"], TYPE_A);
    assert!(
        check_reply(&q, &other).is_err(),
        "foreign question accepted"
    );
}

// ---------------------------------------------------------------------------
// UDP: one hostile packet, then a probe on the same socket
// ---------------------------------------------------------------------------

struct UdpClient {
    sock: UdpSocket,
    server: SocketAddr,
    next_probe: u16,
}

impl UdpClient {
    fn new(server: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Self {
            sock,
            server,
            next_probe: 0,
        }
    }

    /// Receives one datagram, or None once `deadline` has passed.
    fn recv_until(&self, deadline: Instant) -> Option<Vec<u8>> {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        self.sock.set_read_timeout(Some(left)).unwrap();
        let mut buf = vec![0u8; 65536];
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Some(buf)
            }
            Err(_) => None,
        }
    }

    /// Sends a `www.example.com A` probe (IDs 0x8000..) and waits up to
    /// `timeout` for its correct answer, retrying once. Other datagrams that
    /// arrive meanwhile are returned for the caller to judge.
    fn probe(&mut self, timeout: Duration) -> Result<Vec<Vec<u8>>, String> {
        let mut others = Vec::new();
        for _ in 0..2 {
            let id = 0x8000 | (self.next_probe & 0x7fff);
            self.next_probe = self.next_probe.wrapping_add(1);
            self.sock
                .send_to(&www_query(id), self.server)
                .map_err(|e| format!("send probe: {e}"))?;
            let deadline = Instant::now() + timeout;
            while let Some(d) = self.recv_until(deadline) {
                if wire_id(&d) == Some(id) {
                    check_www_answer(&d, id).map_err(|e| format!("probe: {e}"))?;
                    return Ok(others);
                }
                others.push(d);
            }
        }
        Err(format!(
            "no answer to www.example.com A within 2 x {timeout:?}"
        ))
    }

    /// Sends `packet`, proves the server still answers, and returns every
    /// datagram received other than the probe's reply (waiting a little
    /// longer for a late reply to `packet`).
    fn hostile(&mut self, packet: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        self.sock
            .send_to(packet, self.server)
            .map_err(|e| format!("send: {e}"))?;
        let mut others = self.probe(Duration::from_secs(1))?;
        let deadline = Instant::now() + Duration::from_millis(60);
        while let Some(d) = self.recv_until(deadline) {
            others.push(d);
        }
        Ok(others)
    }
}

/// What the server may do with a hand-made hostile packet.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// No reply at all.
    Drop,
    /// FORMERR, or no reply.
    FormErrOrDrop,
    /// Exactly NOTIMP.
    NotImp,
    /// NOTIMP, REFUSED or NOTAUTH (opcodes a server may know but refuse).
    Rejected,
    /// BADVERS (16) with an OPT of version 0.
    BadVers,
    /// A correct NOERROR answer to `www.example.com A`.
    WwwAnswer,
}

struct Case {
    name: &'static str,
    packet: Vec<u8>,
    expect: Expect,
}

fn case(name: &'static str, packet: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        packet,
        expect,
    }
}

/// Judges the replies received for one case; returns a description of what
/// is wrong, if anything.
fn judge(case: &Case, replies: &[Vec<u8>]) -> Result<(), String> {
    if replies.len() > 1 {
        return Err(format!("{} replies to one packet", replies.len()));
    }
    let Some(reply) = replies.first() else {
        return match case.expect {
            Expect::Drop | Expect::FormErrOrDrop => Ok(()),
            other => Err(format!("no reply, want {other:?}")),
        };
    };
    let (msg, rcode) = check_reply(&case.packet, reply)?;
    let ok = match case.expect {
        Expect::Drop => false,
        Expect::FormErrOrDrop => rcode == RCODE_FORMERR,
        Expect::NotImp => rcode == RCODE_NOTIMP,
        Expect::Rejected => [RCODE_NOTIMP, RCODE_REFUSED, RCODE_NOTAUTH].contains(&rcode),
        Expect::BadVers => {
            let version = msg.edns.as_ref().map(|e| e.version());
            if rcode == RCODE_BADVERS && version != Some(0) {
                return Err(format!(
                    "BADVERS with OPT version {version:?}, want Some(0)"
                ));
            }
            if !msg.answers.is_empty() {
                return Err("BADVERS reply carries answers".into());
            }
            rcode == RCODE_BADVERS
        }
        Expect::WwwAnswer => {
            check_www_answer(reply, wire_id(&case.packet).unwrap_or(0))?;
            true
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("reply rcode {rcode}, want {:?}", case.expect))
    }
}

/// Runs every case over UDP, then asserts that all of them behaved and the
/// server is alive.
fn run_udp_cases(target: &mut Target, cases: &[Case]) {
    let mut client = UdpClient::new(target.udp);
    let mut failures = Vec::new();
    for case in cases {
        match client.hostile(&case.packet) {
            Ok(replies) => {
                if let Err(e) = judge(case, &replies) {
                    let got: Vec<String> = replies.iter().map(|r| hex(r)).collect();
                    failures.push(format!(
                        "{}: {e}\n    sent  {}\n    got   {got:?}",
                        case.name,
                        hex(&case.packet)
                    ));
                }
            }
            Err(e) => {
                target.assert_alive();
                panic!(
                    "{}: the server stopped answering after it: {e}\n    sent {}",
                    case.name,
                    hex(&case.packet)
                );
            }
        }
    }
    target.assert_alive();
    assert!(
        failures.is_empty(),
        "{} of {} hostile UDP cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The hand-made cases
// ---------------------------------------------------------------------------

/// Packets whose header is readable but whose body is not, and packets that
/// must be ignored outright.
fn malformed_cases() -> Vec<Case> {
    use Expect::*;
    let mut cases = Vec::new();
    let id = 0x1100;

    cases.push(case("empty datagram", Vec::new(), Drop));
    cases.push(case("1 byte", vec![0x11], Drop));
    cases.push(case(
        "11 bytes of header",
        header(id, 0, 1, 0, 0, 0)[..11].to_vec(),
        Drop,
    ));

    let mut response = header(id + 1, QR | 0x0400, 1, 1, 0, 0);
    push_question(&mut response, WWW, TYPE_A);
    response.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 80]);
    cases.push(case("a response (QR=1) with an answer", response, Drop));

    let mut qr_query = header(id + 2, QR, 1, 0, 0, 0);
    push_question(&mut qr_query, WWW, TYPE_A);
    cases.push(case("a query with QR=1", qr_query, Drop));
    cases.push(case(
        "bare header, QR=1",
        header(id + 3, QR, 0, 0, 0, 0),
        Drop,
    ));

    cases.push(case(
        "QDCOUNT=0, nothing else",
        header(id + 4, 0, 0, 0, 0, 0),
        FormErrOrDrop,
    ));
    cases.push(case(
        "QDCOUNT=1 but no question bytes",
        header(id + 5, 0, 1, 0, 0, 0),
        FormErrOrDrop,
    ));

    let mut two = header(id + 6, 0, 2, 0, 0, 0);
    push_question(&mut two, WWW, TYPE_A);
    push_question(&mut two, &["txt", "example", "com"], TYPE_TXT);
    cases.push(case("QDCOUNT=2", two, FormErrOrDrop));

    let mut qd_big = header(id + 7, 0, 0xffff, 0, 0, 0);
    push_question(&mut qd_big, WWW, TYPE_A);
    cases.push(case("QDCOUNT=65535, one question", qd_big, FormErrOrDrop));

    let mut label_past_end = header(id + 8, 0, 1, 0, 0, 0);
    label_past_end.extend_from_slice(&[3, b'w', b'w', b'w', 40, b'e', b'x']);
    cases.push(case(
        "label length past the end",
        label_past_end,
        FormErrOrDrop,
    ));

    let mut label64 = header(id + 9, 0, 1, 0, 0, 0);
    label64.push(64);
    label64.extend_from_slice(&[b'a'; 64]);
    label64.extend_from_slice(&[
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ]);
    cases.push(case("64-byte label (type 0x40)", label64, FormErrOrDrop));

    let mut label_0x80 = header(id + 10, 0, 1, 0, 0, 0);
    label_0x80.extend_from_slice(&[0x80, 0x01, b'x', 0, 0, 1, 0, 1]);
    cases.push(case("reserved label type 0x80", label_0x80, FormErrOrDrop));

    let mut long_name = header(id + 11, 0, 1, 0, 0, 0);
    for _ in 0..5 {
        long_name.push(63);
        long_name.extend_from_slice(&[b'x'; 63]);
    }
    long_name.extend_from_slice(&[0, 0, 1, 0, 1]);
    cases.push(case("320-byte name", long_name, FormErrOrDrop));

    // 128 one-byte labels: 257 bytes on the wire, one over the limit.
    let mut long_name2 = header(id + 12, 0, 1, 0, 0, 0);
    for _ in 0..128 {
        long_name2.extend_from_slice(&[1, b'a']);
    }
    long_name2.extend_from_slice(&[0, 0, 1, 0, 1]);
    cases.push(case(
        "257-byte name of 1-byte labels",
        long_name2,
        FormErrOrDrop,
    ));

    let mut self_ptr = header(id + 13, 0, 1, 0, 0, 0);
    self_ptr.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    cases.push(case(
        "compression pointer to itself",
        self_ptr,
        FormErrOrDrop,
    ));

    // qname at 12 points to 14; the bytes at 14 (read as qtype) point back.
    let mut two_ptr = header(id + 14, 0, 1, 0, 0, 0);
    two_ptr.extend_from_slice(&[0xc0, 0x0e, 0xc0, 0x0c, 0, 1]);
    cases.push(case("two-pointer loop", two_ptr, FormErrOrDrop));

    let mut label_loop = header(id + 15, 0, 1, 0, 0, 0);
    label_loop.extend_from_slice(&[1, b'a', 0xc0, 0x0c, 0, 1, 0, 1]);
    cases.push(case(
        "label then pointer back to it",
        label_loop,
        FormErrOrDrop,
    ));

    let mut fwd = header(id + 16, 0, 1, 0, 0, 0);
    fwd.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1]);
    push_name(&mut fwd, WWW);
    cases.push(case("forward compression pointer", fwd, FormErrOrDrop));

    let mut oob = header(id + 17, 0, 1, 0, 0, 0);
    oob.extend_from_slice(&[0xff, 0xff, 0, 1, 0, 1]);
    cases.push(case("pointer past the end", oob, FormErrOrDrop));

    let mut no_qtype = header(id + 18, 0, 1, 0, 0, 0);
    push_name(&mut no_qtype, WWW);
    no_qtype.push(0);
    cases.push(case("truncated qtype", no_qtype, FormErrOrDrop));

    let mut no_qclass = header(id + 19, 0, 1, 0, 0, 0);
    push_name(&mut no_qclass, WWW);
    no_qclass.extend_from_slice(&[0, 1, 0]);
    cases.push(case("truncated qclass", no_qclass, FormErrOrDrop));

    let mut no_root = header(id + 20, 0, 1, 0, 0, 0);
    no_root.extend_from_slice(&[3, b'w', b'w', b'w']);
    cases.push(case("name without its root label", no_root, FormErrOrDrop));

    let mut trailing = www_query(id + 21);
    trailing.extend_from_slice(b"garbage after the last record");
    cases.push(case("trailing garbage after OPT", trailing, FormErrOrDrop));

    let mut trailing_noedns = query_bytes(id + 22, WWW, TYPE_A, None);
    trailing_noedns.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    cases.push(case(
        "trailing garbage after question",
        trailing_noedns,
        FormErrOrDrop,
    ));

    let mut ar_missing = header(id + 23, 0, 1, 0, 0, 1);
    push_question(&mut ar_missing, WWW, TYPE_A);
    cases.push(case("ARCOUNT=1, no record", ar_missing, FormErrOrDrop));

    let mut an_garbage = header(id + 24, 0, 1, 1, 0, 0);
    push_question(&mut an_garbage, WWW, TYPE_A);
    an_garbage.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 200, 1, 2]);
    cases.push(case(
        "ANCOUNT=1 with a truncated record",
        an_garbage,
        FormErrOrDrop,
    ));

    // Malformed OPT records.
    let mut opt = opt_rr(1232, 0, false, &[]);
    let n = opt.len();
    opt[n - 2..].copy_from_slice(&20u16.to_be_bytes());
    cases.push(case(
        "OPT RDLENGTH past the end",
        query_bytes(id + 25, WWW, TYPE_A, Some(opt)),
        FormErrOrDrop,
    ));

    let mut opt = opt_rr(1232, 0, false, &[(10, &[1, 2, 3, 4, 5, 6, 7, 8])]);
    // Option length 8 -> 200, RDLENGTH unchanged.
    let n = opt.len();
    opt[n - 10..n - 8].copy_from_slice(&200u16.to_be_bytes());
    cases.push(case(
        "EDNS option length past RDATA",
        query_bytes(id + 26, WWW, TYPE_A, Some(opt)),
        FormErrOrDrop,
    ));

    let mut opt = opt_rr(1232, 0, false, &[]);
    let n = opt.len();
    opt[n - 2..].copy_from_slice(&3u16.to_be_bytes());
    opt.extend_from_slice(&[0, 10, 0]);
    cases.push(case(
        "EDNS option header cut short",
        query_bytes(id + 27, WWW, TYPE_A, Some(opt)),
        FormErrOrDrop,
    ));

    let mut two_opt = header(id + 28, 0, 1, 0, 0, 2);
    push_question(&mut two_opt, WWW, TYPE_A);
    two_opt.extend_from_slice(&opt_rr(1232, 0, false, &[]));
    two_opt.extend_from_slice(&opt_rr(512, 0, false, &[]));
    cases.push(case("two OPT RRs", two_opt, FormErrOrDrop));

    let mut opt_owner = header(id + 29, 0, 1, 0, 0, 1);
    push_question(&mut opt_owner, WWW, TYPE_A);
    let opt = opt_rr(1232, 0, false, &[]);
    opt_owner.extend_from_slice(&[0xc0, 0x0c]); // owner www.example.com
    opt_owner.extend_from_slice(&opt[1..]);
    cases.push(case("OPT owner not the root", opt_owner, FormErrOrDrop));

    let mut opt_answer = header(id + 30, 0, 1, 1, 0, 0);
    push_question(&mut opt_answer, WWW, TYPE_A);
    opt_answer.extend_from_slice(&opt_rr(1232, 0, false, &[]));
    cases.push(case("OPT in the answer section", opt_answer, FormErrOrDrop));

    cases
}

fn opcode_and_edns_cases() -> Vec<Case> {
    use Expect::*;
    let mut cases = Vec::new();
    let id = 0x2200;

    for (name, opcode) in [
        ("opcode 15", 15u8),
        ("opcode 3 (unassigned)", 3),
        ("opcode 7", 7),
    ] {
        let mut p = header(id + u16::from(opcode), opcode_flags(opcode), 1, 0, 0, 0);
        push_question(&mut p, WWW, TYPE_A);
        cases.push(case(name, p, NotImp));
    }

    // UPDATE for example.com with one prerequisite-free delete.
    let mut update = header(id + 0x20, opcode_flags(5), 1, 0, 1, 0);
    push_question(&mut update, &["example", "com"], TYPE_SOA);
    update.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 0x0c]);
    update.extend_from_slice(&[0, 1, 0, 255, 0, 0, 0, 0, 0, 0]); // A, ANY, ttl 0, rdlen 0
    cases.push(case("UPDATE (opcode 5)", update, Rejected));

    let mut notify = header(id + 0x21, opcode_flags(4) | 0x0400, 1, 0, 0, 0);
    push_question(&mut notify, &["example", "com"], TYPE_SOA);
    cases.push(case(
        "NOTIFY (opcode 4) for an unconfigured zone",
        notify,
        Rejected,
    ));

    cases.push(case(
        "EDNS version 1",
        query_bytes(id + 0x30, WWW, TYPE_A, Some(opt_rr(1232, 1, false, &[]))),
        BadVers,
    ));
    cases.push(case(
        "EDNS version 255",
        query_bytes(id + 0x31, WWW, TYPE_A, Some(opt_rr(1232, 255, false, &[]))),
        BadVers,
    ));
    cases.push(case(
        "unknown EDNS option",
        query_bytes(
            id + 0x32,
            WWW,
            TYPE_A,
            Some(opt_rr(1232, 0, false, &[(65001, b"whatever")])),
        ),
        WwwAnswer,
    ));
    cases.push(case(
        "several EDNS options",
        query_bytes(
            id + 0x33,
            WWW,
            TYPE_A,
            Some(opt_rr(
                1232,
                0,
                true,
                &[
                    (3, &[]),                          // NSID request
                    (10, &[1, 2, 3, 4, 5, 6, 7, 8]),   // client cookie
                    (8, &[0, 1, 24, 0, 198, 51, 100]), // client subnet
                    (12, &[0; 16]),                    // padding
                    (65001, &[]),                      // unknown, empty
                    (60000, &[0xff; 40]),              // unknown
                    (65001, b"again"),                 // repeated unknown
                ],
            )),
        ),
        WwwAnswer,
    ));
    cases.push(case(
        "EDNS UDP size 0",
        query_bytes(id + 0x34, WWW, TYPE_A, Some(opt_rr(0, 0, false, &[]))),
        WwwAnswer,
    ));
    cases.push(case(
        "EDNS UDP size 1",
        query_bytes(id + 0x35, WWW, TYPE_A, Some(opt_rr(1, 0, false, &[]))),
        WwwAnswer,
    ));
    cases.push(case(
        "EDNS UDP size 65535",
        query_bytes(id + 0x36, WWW, TYPE_A, Some(opt_rr(65535, 0, false, &[]))),
        WwwAnswer,
    ));
    cases.push(case(
        "unknown EDNS flag bits",
        query_bytes(id + 0x37, WWW, TYPE_A, {
            let mut o = opt_rr(1232, 0, true, &[]);
            o[7] = 0xff;
            o[8] = 0xff;
            Some(o)
        }),
        WwwAnswer,
    ));
    cases
}

fn oversized_cases() -> Vec<Case> {
    use Expect::*;
    let mut rng = SmallRng::seed_from_u64(4000);
    let mut cases = Vec::new();

    let mut junk = vec![0u8; 4000];
    rng.fill(&mut junk[..]);
    junk[..12].copy_from_slice(&header(0x3300, 0, 1, 0, 0, 0));
    cases.push(case("4000 bytes: header then junk", junk, FormErrOrDrop));

    let mut zeros = www_query(0x3301);
    zeros.resize(4000, 0);
    cases.push(case("4000 bytes: query then zeros", zeros, FormErrOrDrop));

    let mut counts = vec![0u8; 4000];
    rng.fill(&mut counts[..]);
    counts[..12].copy_from_slice(&header(0x3302, 0, 0xffff, 0xffff, 0xffff, 0xffff));
    cases.push(case("4000 bytes: all counts 65535", counts, FormErrOrDrop));

    let mut huge = vec![0u8; 65000];
    rng.fill(&mut huge[..]);
    huge[..12].copy_from_slice(&header(0x3303, 0, 1, 0, 0, 0));
    cases.push(case("65000 bytes of junk", huge, FormErrOrDrop));

    // Many tiny labels, each a pointer back to the previous one.
    let mut chain = header(0x3304, 0, 1, 0, 0, 0);
    chain.extend_from_slice(&[1, b'a', 0]);
    for i in 0..1500u16 {
        let prev = 12 + if i == 0 { 0 } else { 3 + (i - 1) * 4 };
        chain.extend_from_slice(&[1, b'a', 0xc0 | (prev >> 8) as u8, prev as u8]);
    }
    chain.extend_from_slice(&[0, 1, 0, 1]);
    cases.push(case(
        "long pointer chain (name > 255)",
        chain,
        FormErrOrDrop,
    ));
    cases
}

#[test]
fn udp_malformed_packets_get_formerr_or_silence() {
    let mut target = Target::start(&[]);
    run_udp_cases(&mut target, &malformed_cases());
}

#[test]
fn udp_unknown_opcodes_and_edns_edge_cases() {
    let mut target = Target::start(&[]);
    run_udp_cases(&mut target, &opcode_and_edns_cases());
}

#[test]
fn udp_oversized_datagrams_are_dropped_or_formerr() {
    let mut target = Target::start(&[]);
    run_udp_cases(&mut target, &oversized_cases());
}

/// The UDP size in OPT decides how much fits: 0 means 512, a huge value is
/// capped, and what does not fit sets TC rather than being cut mid-record.
#[test]
fn udp_payload_size_is_floored_and_capped() {
    let mut target = Target::start(&[]);
    let mut client = UdpClient::new(target.udp);
    let big = ["big", "example", "com"];
    let cases: [(&str, Option<u16>, usize); 5] = [
        ("no EDNS", None, 512),
        ("EDNS size 0", Some(0), 512),
        ("EDNS size 100", Some(100), 512),
        ("EDNS size 1232", Some(1232), 1232),
        ("EDNS size 65535", Some(65535), 4096),
    ];
    for (i, (name, size, limit)) in cases.into_iter().enumerate() {
        let id = 0x4400 + i as u16;
        let q = query_bytes(id, &big, TYPE_TXT, size.map(|s| opt_rr(s, 0, false, &[])));
        let replies = client.hostile(&q).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            replies.len(),
            1,
            "{name}: want one reply, got {}",
            replies.len()
        );
        let reply = &replies[0];
        let (msg, rcode) = check_reply(&q, reply).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rcode, RCODE_NOERROR, "{name}: rcode");
        assert!(
            reply.len() <= limit,
            "{name}: {}-byte reply exceeds {limit}",
            reply.len()
        );
        let txt = msg
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::TXT)
            .count();
        assert!(
            msg.metadata.truncation || txt == BIG_TXT_COUNT,
            "{name}: TC clear but only {txt} of {BIG_TXT_COUNT} TXT records"
        );
        // 40 x 200+ bytes never fits in 4096.
        assert!(msg.metadata.truncation, "{name}: TC not set");
        assert_eq!(
            msg.edns.is_some(),
            size.is_some(),
            "{name}: OPT in reply iff OPT in query"
        );
    }
    target.assert_alive();
}

// ---------------------------------------------------------------------------
// Mutation fuzz over UDP
// ---------------------------------------------------------------------------

fn fuzz_seed() -> u64 {
    std::env::var("HOSTILE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5167_9057)
}

fn fuzz_iterations() -> usize {
    std::env::var("HOSTILE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// Valid queries the mutations start from.
fn fuzz_seeds() -> Vec<Vec<u8>> {
    let edns = || Some(opt_rr(1232, 0, false, &[]));
    let ex: &[&str] = &["example", "com"];
    let mut mixed_case = header(0, 0, 1, 0, 0, 1);
    push_question(&mut mixed_case, &["WwW", "ExAmPlE", "cOm"], TYPE_A);
    mixed_case.extend_from_slice(&opt_rr(4096, 0, true, &[]));
    vec![
        query_bytes(0, WWW, TYPE_A, None),
        query_bytes(0, WWW, TYPE_A, edns()),
        query_bytes(0, WWW, TYPE_AAAA, Some(opt_rr(1232, 0, true, &[]))),
        query_bytes(
            0,
            &["txt", "example", "com"],
            TYPE_TXT,
            Some(opt_rr(512, 0, false, &[])),
        ),
        query_bytes(0, &["big", "example", "com"], TYPE_TXT, None),
        query_bytes(
            0,
            &["big", "example", "com"],
            TYPE_TXT,
            Some(opt_rr(65535, 0, false, &[])),
        ),
        query_bytes(
            0,
            &["alias", "example", "com"],
            TYPE_A,
            Some(opt_rr(1232, 0, false, &[(10, &[9, 8, 7, 6, 5, 4, 3, 2])])),
        ),
        query_bytes(
            0,
            &["nope", "example", "com"],
            TYPE_A,
            Some(opt_rr(1232, 0, false, &[(8, &[0, 1, 24, 0, 198, 51, 100])])),
        ),
        query_bytes(0, ex, TYPE_SOA, edns()),
        query_bytes(0, ex, TYPE_NS, None),
        query_bytes(0, ex, TYPE_ANY, edns()),
        query_bytes(0, &["alias", "example", "com"], TYPE_CNAME, edns()),
        query_bytes(0, &["outside", "org"], TYPE_A, None),
        mixed_case,
    ]
}

/// Offsets where the question name starts and ends (the root label).
fn qname_span(p: &[u8]) -> (usize, usize) {
    let mut i = 12;
    while i < p.len() && p[i] != 0 && p[i] < 64 {
        i += 1 + p[i] as usize;
    }
    (12, i.min(p.len()))
}

fn mutate(rng: &mut SmallRng, seed: &[u8]) -> Vec<u8> {
    let mut p = seed.to_vec();
    let rounds = rng.random_range(1..=3);
    for _ in 0..rounds {
        let len = p.len();
        match rng.random_range(0..12) {
            // Flip one bit.
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                p[i] ^= 1 << rng.random_range(0..8);
            }
            // Overwrite a byte with a random or boundary value.
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                p[i] = *[0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff, rng.random()]
                    .get(rng.random_range(0..9))
                    .unwrap_or(&0);
            }
            // Truncate.
            2 if len > 0 => p.truncate(rng.random_range(0..len)),
            // Extend with random bytes.
            3 => {
                let n = rng.random_range(1..=64);
                p.extend((0..n).map(|_| rng.random::<u8>()));
            }
            // Change one of the four section counts.
            4 if len >= 12 => {
                let at = 4 + 2 * rng.random_range(0..4);
                let v: u16 = *[0, 1, 2, 3, 0x7fff, 0xffff, rng.random()]
                    .get(rng.random_range(0..7))
                    .unwrap_or(&0);
                p[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
            // Put a compression pointer inside or at the end of the qname.
            5 if len > 13 => {
                let (start, end) = qname_span(&p);
                let at = rng.random_range(start..=end.min(len - 2));
                let to: u16 = match rng.random_range(0..4) {
                    0 => at as u16,                                // itself
                    1 => 12,                                       // qname start: loop
                    2 => (at + 2 + rng.random_range(0..8)) as u16, // forward
                    _ => rng.random_range(0..0x4000),
                };
                p[at] = 0xc0 | (to >> 8) as u8;
                p[at + 1] = to as u8;
            }
            // Append an OPT with garbage options (and count it, or not).
            6 if len >= 12 => {
                let mut data = vec![0u8; rng.random_range(0..48)];
                rng.fill(&mut data[..]);
                let code = *[3u16, 8, 10, 12, 15, rng.random()]
                    .get(rng.random_range(0..6))
                    .unwrap_or(&0);
                let mut opt = opt_rr(rng.random(), 0, rng.random(), &[(code, &data)]);
                if rng.random_bool(0.5) {
                    // Lie about the option length.
                    let n = opt.len() - data.len();
                    opt[n - 2..n].copy_from_slice(&rng.random::<u16>().to_be_bytes());
                }
                p.extend_from_slice(&opt);
                if rng.random_bool(0.8) {
                    let ar = u16::from_be_bytes([p[10], p[11]]).wrapping_add(1);
                    p[10..12].copy_from_slice(&ar.to_be_bytes());
                }
            }
            // Garble a label length in the qname.
            7 if len > 13 => {
                let (start, end) = qname_span(&p);
                let at = rng.random_range(start..=end.min(len - 1));
                p[at] = rng.random_range(0x30..=0xff);
            }
            // Random opcode / flag bits / rcode in the header.
            8 if len >= 4 => {
                let i = rng.random_range(2..4);
                p[i] = rng.random();
            }
            // Duplicate a slice in place.
            9 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 40));
                let chunk = p[a..b].to_vec();
                let at = rng.random_range(0..=len);
                p.splice(at..at, chunk);
            }
            // Delete a slice.
            10 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 16));
                p.drain(a..b);
            }
            // Garble the OPT header (size, version, flags, rdlength).
            11 if len > 11 => {
                let i = rng.random_range(len.saturating_sub(11)..len);
                p[i] = rng.random();
            }
            _ => {}
        }
    }
    p.truncate(65000);
    p
}

/// Thousands of mutated queries; after each, the server must still answer
/// `www.example.com A` correctly, and any reply to the mutant must be a
/// well-formed response to it.
#[test]
fn udp_mutation_fuzz() {
    let seed = fuzz_seed();
    let iterations = fuzz_iterations();
    // Two workers: the SO_REUSEPORT path, not just a single socket.
    let mut target = Target::start(&["--workers", "2"]);
    let mut rng = SmallRng::seed_from_u64(seed);
    let seeds = fuzz_seeds();
    let mut client = UdpClient::new(target.udp);
    // Mutants by ID (0..0x8000; probes use 0x8000..), kept so that a late
    // reply can still be matched to its packet.
    let mut sent: HashMap<u16, Vec<u8>> = HashMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut failure_count = 0usize;
    let mut replied = 0usize;
    let started = Instant::now();

    let mut judge_reply =
        |sent: &HashMap<u16, Vec<u8>>, reply: &[u8], failures: &mut Vec<String>| {
            let id = wire_id(reply);
            let verdict = match id.and_then(|id| sent.get(&id)) {
                Some(packet) => check_reply(packet, reply).map(|_| ()).map_err(|e| {
                    format!("{e}\n    sent  {}\n    got   {}", hex(packet), hex(reply))
                }),
                None => Err(format!("reply with an ID no mutant had: {}", hex(reply))),
            };
            if let Err(e) = verdict {
                failure_count += 1;
                if failures.len() < 20 {
                    failures.push(e);
                }
            }
        };

    for i in 0..iterations {
        let base = &seeds[rng.random_range(0..seeds.len())];
        let mut packet = mutate(&mut rng, base);
        let id = (i & 0x7fff) as u16;
        if packet.len() >= 2 {
            packet[..2].copy_from_slice(&id.to_be_bytes());
        }
        sent.insert(id, packet.clone());
        let _ = client.sock.send_to(&packet, target.udp);
        match client.probe(Duration::from_secs(1)) {
            Ok(others) => {
                for reply in others {
                    replied += 1;
                    judge_reply(&sent, &reply, &mut failures);
                }
            }
            Err(e) => {
                let alive = target.is_running();
                panic!(
                    "seed {seed}, iteration {i}: after mutant {} the server {}: {e}\nstderr:\n{}",
                    hex(&packet),
                    if alive { "stopped answering" } else { "died" },
                    target.stderr()
                );
            }
        }
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    while let Some(reply) = client.recv_until(deadline) {
        replied += 1;
        judge_reply(&sent, &reply, &mut failures);
    }
    let elapsed = started.elapsed();
    eprintln!("fuzz seed {seed}: {iterations} mutants, {replied} replies, {elapsed:?}");
    target.assert_alive();
    // Most mutants keep a readable header; if none got a reply the harness
    // is not seeing the server's answers at all.
    assert!(
        replied >= iterations / 10,
        "only {replied} replies to {iterations} mutants"
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {failure_count} bad replies to {iterations} mutants \
         ({replied} replies in {elapsed:?}); first {}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------

/// What the next read on a TCP connection produced.
#[derive(Debug)]
enum Frame {
    Message(Vec<u8>),
    /// EOF or reset, with any bytes of a partial frame.
    Closed(usize),
    TimedOut,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        // Small writes go out at once, as a DNS client sends them.
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn send_msg(&mut self, msg: &[u8]) -> std::io::Result<()> {
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        self.send_raw(&framed)
    }

    /// The next whole DNS message, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Frame {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buf.len() >= 2 {
                let n = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
                if self.buf.len() >= 2 + n {
                    let msg = self.buf[2..2 + n].to_vec();
                    self.buf.drain(..2 + n);
                    return Frame::Message(msg);
                }
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Frame::TimedOut;
            };
            if left.is_zero() {
                return Frame::TimedOut;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Frame::Closed(self.buf.len()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Frame::TimedOut
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Frame::Closed(self.buf.len()),
            }
        }
    }

    /// Waits for the server to close the connection, discarding messages;
    /// returns when it closed, or None if it stayed open for `timeout`.
    fn wait_closed(&mut self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        for _ in 0..1000 {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.next(left) {
                Frame::Message(_) => {}
                Frame::Closed(_) => return Some(Instant::now()),
                Frame::TimedOut => return None,
            }
        }
        None
    }
}

/// One `www.example.com A` over a fresh TCP connection, answered correctly
/// within `timeout`.
fn tcp_www(addr: SocketAddr, id: u16, timeout: Duration) -> Result<(), String> {
    let mut c = Conn::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.send_msg(&www_query(id))
        .map_err(|e| format!("send: {e}"))?;
    match c.next(timeout) {
        Frame::Message(m) => check_www_answer(&m, id).map(|_| ()),
        other => Err(format!("tcp www query: {other:?}")),
    }
}

/// UDP `www.example.com A` answered correctly within `timeout`.
fn udp_www(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut c = UdpClient::new(addr);
    c.probe(timeout).map(|_| ())
}

/// Framed hostile messages: a FORMERR (or NOTIMP for opcodes) reply or a
/// close, never a hang of the server; a fresh connection is served after.
#[test]
fn tcp_malformed_messages() {
    let mut target = Target::start(&["--tcp-idle-timeout", "2"]);
    let mut cases: Vec<Case> = malformed_cases()
        .into_iter()
        .filter(|c| {
            c.name.contains("pointer")
                || c.name.contains("QDCOUNT")
                || c.name.contains("OPT")
                || c.name.contains("bytes")
                || c.name.contains("QR=1")
                || c.name.contains("label")
        })
        .collect();
    cases.extend(
        opcode_and_edns_cases()
            .into_iter()
            .filter(|c| c.name.starts_with("opcode 15") || c.name == "EDNS version 1"),
    );
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut c = match Conn::connect(target.tcp) {
            Ok(c) => c,
            Err(e) => panic!("{}: connect: {e}", case.name),
        };
        if let Err(e) = c.send_msg(&case.packet) {
            failures.push(format!("{}: send: {e}", case.name));
            continue;
        }
        // A silent server must close by the idle timeout (2 s).
        let verdict = match c.next(Duration::from_secs(5)) {
            Frame::Message(m) => judge(case, &[m]),
            Frame::Closed(_) => judge(case, &[]),
            Frame::TimedOut => Err("no reply and not closed within 5 s".into()),
        };
        if let Err(e) = verdict {
            failures.push(format!(
                "{}: {e}\n    sent {}",
                case.name,
                hex(&case.packet)
            ));
        }
        if let Err(e) = tcp_www(target.tcp, 0x8800 + i as u16, Duration::from_secs(2)) {
            target.assert_alive();
            panic!(
                "{}: a fresh connection is not served after it: {e}",
                case.name
            );
        }
    }
    target.assert_alive();
    assert!(
        failures.is_empty(),
        "{} of {} hostile TCP cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The mutants again, framed over TCP: after each, a `www.example.com A` on
/// the same connection is answered, unless the server closed the connection
/// (allowed after malformed input), in which case a fresh one is served.
#[test]
fn tcp_mutation_fuzz() {
    let seed = fuzz_seed() ^ 0x7cb;
    let iterations = (fuzz_iterations() / 5).max(1);
    let mut target = Target::start(&["--tcp-idle-timeout", "5"]);
    let mut rng = SmallRng::seed_from_u64(seed);
    let seeds = fuzz_seeds();
    let mut conn = Conn::connect(target.tcp).unwrap();
    let mut failures: Vec<String> = Vec::new();
    let (mut failure_count, mut replies, mut closes) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    for i in 0..iterations {
        let base = &seeds[rng.random_range(0..seeds.len())];
        let mut packet = mutate(&mut rng, base);
        let id = (i & 0x7fff) as u16;
        if packet.len() >= 2 {
            packet[..2].copy_from_slice(&id.to_be_bytes());
        }
        let probe_id = 0x8000 | id;
        let sent = conn.send_msg(&packet).is_ok() && conn.send_msg(&www_query(probe_id)).is_ok();
        let mut reconnect = !sent;
        for _ in 0..4 {
            if reconnect {
                break;
            }
            match conn.next(Duration::from_secs(2)) {
                Frame::Message(m) if wire_id(&m) == Some(probe_id) => {
                    if let Err(e) = check_www_answer(&m, probe_id) {
                        panic!(
                            "seed {seed}, iteration {i}: probe after mutant {}: {e}",
                            hex(&packet)
                        );
                    }
                    break;
                }
                Frame::Message(m) => {
                    replies += 1;
                    if let Err(e) = check_reply(&packet, &m) {
                        failure_count += 1;
                        if failures.len() < 20 {
                            failures.push(format!(
                                "{e}\n    sent  {}\n    got   {}",
                                hex(&packet),
                                hex(&m)
                            ));
                        }
                    }
                }
                Frame::Closed(_) => reconnect = true,
                Frame::TimedOut => panic!(
                    "seed {seed}, iteration {i}: no answer and no close within 2 s after \
                     mutant {}",
                    hex(&packet)
                ),
            }
        }
        if reconnect {
            closes += 1;
            conn = Conn::connect(target.tcp)
                .unwrap_or_else(|e| panic!("iteration {i}: reconnect after close: {e}"));
            if let Err(e) = tcp_www(target.tcp, probe_id, Duration::from_secs(2)) {
                target.assert_alive();
                panic!(
                    "seed {seed}, iteration {i}: after mutant {} closed the connection, a fresh \
                     one is not served: {e}",
                    hex(&packet)
                );
            }
        }
    }
    eprintln!(
        "tcp fuzz seed {seed}: {iterations} mutants, {replies} replies, {closes} closes, {:?}",
        started.elapsed()
    );
    target.assert_alive();
    assert!(
        failures.is_empty(),
        "seed {seed}: {failure_count} bad TCP replies to {iterations} mutants; first {}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A client that promises 100 bytes, sends 10 and stalls is dropped after
/// the idle timeout; other TCP and UDP clients are served meanwhile.
#[test]
fn tcp_stalled_partial_message_times_out() {
    let mut target = Target::start(&["--tcp-idle-timeout", "1"]);
    let mut staller = Conn::connect(target.tcp).unwrap();
    let mut partial = 100u16.to_be_bytes().to_vec();
    partial.extend_from_slice(&www_query(0x5500)[..10]);
    staller.send_raw(&partial).unwrap();
    let sent_at = Instant::now();

    for i in 0..3u16 {
        tcp_www(target.tcp, 0x5501 + i, Duration::from_millis(800))
            .unwrap_or_else(|e| panic!("other TCP client while one stalls: {e}"));
        udp_www(target.udp, Duration::from_millis(800))
            .unwrap_or_else(|e| panic!("UDP while a TCP client stalls: {e}"));
    }

    let closed = staller.wait_closed(Duration::from_secs(6));
    let Some(closed) = closed else {
        panic!("stalled connection still open 6 s after its last byte (idle timeout 1 s)");
    };
    // Closing a half-sent message sooner than the idle timeout is fine
    // (knotd uses a separate 0.5 s I/O timeout); holding it longer is not.
    let after = closed.duration_since(sent_at);
    assert!(
        after <= Duration::from_secs(4),
        "stalled connection closed {after:?} after its last byte, want at most 4 s"
    );
    target.assert_alive();
}

/// A zero length prefix is not a message: the server closes the connection,
/// or skips it and answers the next message; it never replies with junk.
#[test]
fn tcp_zero_length_prefix() {
    let mut target = Target::start(&["--tcp-idle-timeout", "2"]);
    let mut c = Conn::connect(target.tcp).unwrap();
    let mut bytes = vec![0u8, 0];
    let id = 0x6600;
    let q = www_query(id);
    bytes.extend_from_slice(&(q.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&q);
    // The follow-up query may fail to send if the server already closed.
    let _ = c.send_raw(&bytes);
    match c.next(Duration::from_secs(5)) {
        Frame::Closed(_) => {}
        Frame::Message(m) => {
            check_www_answer(&m, id).unwrap_or_else(|e| panic!("after a zero-length message: {e}"));
        }
        Frame::TimedOut => panic!("zero-length message: no answer and no close within 5 s"),
    }
    tcp_www(target.tcp, id + 1, Duration::from_secs(2)).unwrap();
    target.assert_alive();
}

/// A length prefix larger than the data, then the client goes away: many
/// times over, and the server keeps serving (no leaked slots or tasks).
#[test]
fn tcp_short_message_then_close() {
    let mut target = Target::start(&["--tcp-max-connections", "16"]);
    let q = www_query(0x7700);
    for i in 0..64u16 {
        let mut c = Conn::connect(target.tcp).unwrap_or_else(|e| panic!("connect {i}: {e}"));
        let mut bytes = 512u16.to_be_bytes().to_vec();
        bytes.extend_from_slice(&q[..(i as usize % q.len())]);
        let _ = c.send_raw(&bytes);
        if i % 2 == 0 {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        drop(c);
    }
    // 64 abandoned connections, limit 16: every slot must be freed once the
    // server has seen the client's FIN (give it a moment to read them).
    let gone = Instant::now();
    let mut last = Err(String::new());
    for i in 0..20u16 {
        last = tcp_www(target.tcp, 0x7701 + i, Duration::from_secs(1));
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let waited = gone.elapsed();
    eprintln!("short message then close: served again after {waited:?}");
    if let Err(e) = last {
        panic!("no TCP service {waited:?} after 64 abandoned connections: {e}");
    }
    for i in 0..5u16 {
        tcp_www(target.tcp, 0x7780 + i, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("after 64 abandoned connections: {e}"));
    }
    udp_www(target.udp, Duration::from_secs(1)).unwrap();
    target.assert_alive();
}

/// 50 queries in one write: 50 answers, IDs matching, each correct for its
/// own question (RFC 7766 §6.2.1.1 allows any order).
#[test]
fn tcp_pipelining_50_queries() {
    let mut target = Target::start(&[]);
    let names: [(&[&str], u16); 5] = [
        (WWW, TYPE_A),
        (WWW, TYPE_AAAA),
        (&["txt", "example", "com"], TYPE_TXT),
        (&["alias", "example", "com"], TYPE_A),
        (&["big", "example", "com"], TYPE_TXT),
    ];
    let mut queries: HashMap<u16, Vec<u8>> = HashMap::new();
    let mut all = Vec::new();
    for i in 0..50u16 {
        let id = 0x9000 + i * 3;
        let (labels, qtype) = names[usize::from(i) % names.len()];
        let q = query_bytes(id, labels, qtype, Some(opt_rr(1232, 0, false, &[])));
        all.extend_from_slice(&(q.len() as u16).to_be_bytes());
        all.extend_from_slice(&q);
        queries.insert(id, q);
    }
    let mut c = Conn::connect(target.tcp).unwrap();
    c.send_raw(&all).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered: HashMap<u16, usize> = HashMap::new();
    for _ in 0..50 {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = match c.next(left) {
            Frame::Message(m) => m,
            other => panic!(
                "after {} of 50 pipelined answers: {other:?}",
                answered.values().sum::<usize>()
            ),
        };
        let id = wire_id(&m).unwrap_or(0);
        let q = queries
            .get(&id)
            .unwrap_or_else(|| panic!("answer with unknown ID {id:#06x}"));
        let (msg, rcode) = check_reply(q, &m).unwrap_or_else(|e| panic!("ID {id:#06x}: {e}"));
        assert_eq!(rcode, RCODE_NOERROR, "ID {id:#06x}");
        assert!(!msg.metadata.truncation, "ID {id:#06x}: TC set over TCP");
        let want = match msg.queries[0].query_type {
            RecordType::TXT if msg.queries[0].name.to_ascii().starts_with("big") => BIG_TXT_COUNT,
            RecordType::A if msg.queries[0].name.to_ascii().starts_with("alias") => 2,
            _ => 1,
        };
        assert_eq!(msg.answers.len(), want, "ID {id:#06x}: answer count");
        *answered.entry(id).or_default() += 1;
    }
    assert_eq!(answered.len(), 50, "distinct IDs answered");
    assert!(answered.values().all(|&n| n == 1), "an ID answered twice");
    let www = www_query(0x9fff);
    c.send_msg(&www).unwrap();
    match c.next(Duration::from_secs(2)) {
        Frame::Message(m) => {
            check_www_answer(&m, 0x9fff).unwrap();
        }
        other => panic!("connection unusable after pipelining: {other:?}"),
    }
    target.assert_alive();
}

/// More connections than `--tcp-max-connections`: UDP is unaffected, the
/// limit bites, and once the crowd leaves new connections are served.
#[test]
fn tcp_connection_limit() {
    const LIMIT: usize = 8;
    const CROWD: usize = 40;
    let mut target = Target::start(&["--tcp-max-connections", "8", "--tcp-idle-timeout", "30"]);

    // Under the limit everything works, on connections kept open.
    let mut early: Vec<Conn> = Vec::new();
    for i in 0..LIMIT / 2 {
        let id = 0xa000 + i as u16;
        let mut c = Conn::connect(target.tcp).unwrap();
        c.send_msg(&www_query(id)).unwrap();
        match c.next(Duration::from_secs(2)) {
            Frame::Message(m) => {
                check_www_answer(&m, id).unwrap_or_else(|e| panic!("connection {i}: {e}"))
            }
            other => panic!("connection {i} of {LIMIT} allowed: {other:?}"),
        };
        early.push(c);
    }

    // The crowd: connect (the kernel accepts into the backlog even when the
    // server does not), then send one query on each.
    let mut crowd: Vec<Conn> = Vec::new();
    for _ in 0..CROWD {
        match Conn::connect(target.tcp) {
            Ok(c) => crowd.push(c),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..3 {
        udp_www(target.udp, Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("UDP with {CROWD} extra TCP connections ({i}): {e}"));
    }
    let mut all: Vec<Conn> = early.into_iter().chain(crowd).collect();
    for (i, c) in all.iter_mut().enumerate() {
        let _ = c.send_msg(&www_query(0xa100 + i as u16));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (mut answered, mut closed, mut pending) = (0, 0, 0);
    for (i, c) in all.iter_mut().enumerate() {
        match c.next(Duration::from_millis(50)) {
            Frame::Message(m) => {
                check_www_answer(&m, 0xa100 + i as u16)
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"));
                answered += 1;
            }
            Frame::Closed(_) => closed += 1,
            Frame::TimedOut => pending += 1,
        }
    }
    eprintln!("connection limit: answered {answered}, closed {closed}, pending {pending}");
    assert!(
        answered >= 1,
        "no TCP connection answered (closed {closed}, pending {pending})"
    );
    assert!(
        closed + pending >= 1,
        "all {} connections answered: --tcp-max-connections {LIMIT} not enforced",
        all.len()
    );
    udp_www(target.udp, Duration::from_secs(1)).unwrap();
    drop(all);

    // Once the crowd has gone, a fresh connection gets served within 3 s.
    let start = Instant::now();
    let mut last = String::new();
    for i in 0..6u16 {
        match tcp_www(target.tcp, 0xa200 + i, Duration::from_millis(500)) {
            Ok(()) => {
                last.clear();
                break;
            }
            Err(e) => last = e,
        }
    }
    assert!(
        last.is_empty(),
        "no TCP service {:?} after the crowd left: {last}",
        start.elapsed()
    );
    target.assert_alive();
}

/// `--tcp-idle-timeout 1`: a connection with no query, and one idle after a
/// query, are both closed 1-4 s later (not at once).
#[test]
fn tcp_idle_connections_are_closed() {
    let mut target = Target::start(&["--tcp-idle-timeout", "1"]);

    let opened = Instant::now();
    let mut silent = Conn::connect(target.tcp).unwrap();

    let mut used = Conn::connect(target.tcp).unwrap();
    used.send_msg(&www_query(0xb000)).unwrap();
    match used.next(Duration::from_secs(2)) {
        Frame::Message(m) => {
            check_www_answer(&m, 0xb000).unwrap();
        }
        other => panic!("query before idling: {other:?}"),
    }
    let answered = Instant::now();

    for (what, conn, since) in [
        ("silent", &mut silent, opened),
        ("used", &mut used, answered),
    ] {
        let Some(closed) = conn.wait_closed(Duration::from_secs(6)) else {
            panic!("{what} connection still open after 6 s (idle timeout 1 s)");
        };
        let after = closed.duration_since(since);
        assert!(
            after >= Duration::from_millis(700) && after <= Duration::from_secs(4),
            "{what} connection closed {after:?} after going idle, want 1-4 s"
        );
    }
    target.assert_alive();
}

/// A client trickling a query one byte per 100 ms does not hold up others.
#[test]
fn tcp_slowloris_does_not_block_others() {
    let mut target = Target::start(&["--tcp-idle-timeout", "3"]);
    let tcp = target.tcp;
    let slow = std::thread::spawn(move || {
        let mut c = Conn::connect(tcp).unwrap();
        let q = www_query(0xc000);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        for b in framed {
            if c.send_raw(&[b]).is_err() {
                return "closed while trickling".to_string();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        match c.next(Duration::from_secs(4)) {
            Frame::Message(m) => match check_www_answer(&m, 0xc000) {
                Ok(_) => "answered".into(),
                Err(e) => format!("bad answer: {e}"),
            },
            other => format!("{other:?}"),
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    for i in 0..20u16 {
        let t = Instant::now();
        tcp_www(target.tcp, 0xc001 + i, Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("query {i} during slowloris: {e}"));
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let outcome = slow.join().unwrap();
    assert!(
        !outcome.starts_with("bad answer"),
        "slow client got a wrong answer: {outcome}"
    );
    assert!(worst < Duration::from_secs(1), "slowest answer {worst:?}");
    target.assert_alive();
}
