//! A loopback load generator that can put an EDNS Client Subnet option in
//! every query, which the shared harness's `dnsblast` cannot; `bench/ecs.sh`
//! runs it against plain and geolocation zones of the same server.
//!
//! ```text
//! cargo bench --bench ecsload -- 127.0.0.1:PORT QUERIES SECONDS [ADDR/PREFIX]
//! ```
//!
//! QUERIES is the harness's query file (`NAME TYPE` per line). Eight
//! connected UDP sockets keep 16 queries each in flight, sent and received
//! in batches with `sendmmsg`/`recvmmsg` so that the generator's core is not
//! what limits the server. Prints one line: answers per second, and how
//! many answers were NOERROR and carried a non-zero ECS scope. Without
//! arguments (as under `cargo test`) it prints its usage and exits.

// The batch syscalls need raw pointers, as in src/net/mmsg.rs.
#![allow(unsafe_code)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const SOCKETS: usize = 8;
const WINDOW: usize = 16;
const MAX_REPLY: usize = 1500;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [server, queries, seconds, rest @ ..] = args.as_slice() else {
        println!("usage: ecsload 127.0.0.1:PORT QUERIES SECONDS [ADDR/PREFIX]");
        return;
    };
    let server: SocketAddr = server.parse().expect("server address");
    assert!(server.ip().is_loopback(), "loopback only");
    let seconds: f64 = seconds.parse().expect("seconds");
    let ecs = rest.first().map(|s| parse_subnet(s));
    let option_len = ecs.map_or(0, |(_, prefix)| 8 + usize::from(prefix).div_ceil(8));
    let text = std::fs::read_to_string(queries).expect("query file");
    let packets: Vec<Vec<u8>> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(query(words.next()?, qtype(words.next()?)?, ecs))
        })
        .collect();
    assert!(!packets.is_empty(), "no queries in {queries}");

    let sockets: Vec<UdpSocket> = (0..SOCKETS)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.connect(server).expect("connect");
            s.set_nonblocking(true).expect("nonblocking");
            s
        })
        .collect();
    let mut in_flight = [0usize; SOCKETS];
    let mut last_reply = [Instant::now(); SOCKETS];
    let mut next = 0usize;
    let (mut answers, mut noerror, mut scoped) = (0u64, 0u64, 0u64);
    let mut replies = vec![[0u8; MAX_REPLY]; WINDOW];
    let mut lens = [0usize; WINDOW];
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    while started.elapsed() < limit {
        for (i, sock) in sockets.iter().enumerate() {
            // Lost queries free their slots after a quiet 200 ms.
            if in_flight[i] > 0 && last_reply[i].elapsed() > Duration::from_millis(200) {
                in_flight[i] = 0;
                last_reply[i] = Instant::now();
            }
            let room = WINDOW - in_flight[i];
            if room > 0 {
                let batch: Vec<&[u8]> = (0..room)
                    .map(|k| packets[(next + k) % packets.len()].as_slice())
                    .collect();
                let sent = send_batch(sock, &batch);
                next = next.wrapping_add(sent);
                in_flight[i] += sent;
            }
            let got = recv_batch(sock, &mut replies, &mut lens);
            if got > 0 {
                last_reply[i] = Instant::now();
            }
            in_flight[i] = in_flight[i].saturating_sub(got);
            for (reply, &len) in replies.iter().zip(&lens).take(got) {
                let reply = &reply[..len];
                if len < 12 {
                    continue;
                }
                answers += 1;
                if reply[3] & 0x0f == 0 {
                    noerror += 1;
                }
                if has_scope(reply, option_len) {
                    scoped += 1;
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "qps {:.0} answers {answers} noerror {noerror} ecs_scoped {scoped}",
        answers as f64 / secs
    );
}

fn parse_subnet(text: &str) -> (IpAddr, u8) {
    let (addr, prefix) = text.split_once('/').expect("ADDR/PREFIX");
    (
        addr.parse().expect("address"),
        prefix.parse().expect("prefix"),
    )
}

fn qtype(name: &str) -> Option<u16> {
    Some(match name {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "DS" => 43,
        _ => return None,
    })
}

/// A query with EDNS (1232 bytes) and, when given, an ECS option.
fn query(name: &str, qtype: u16, ecs: Option<(IpAddr, u8)>) -> Vec<u8> {
    let mut p = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    let mut option = Vec::new();
    if let Some((addr, prefix)) = ecs {
        let (family, bytes): (u16, Vec<u8>) = match addr {
            IpAddr::V4(a) => (1, a.octets().to_vec()),
            IpAddr::V6(a) => (2, a.octets().to_vec()),
        };
        let len = usize::from(prefix).div_ceil(8);
        option.extend_from_slice(&8u16.to_be_bytes());
        option.extend_from_slice(&((4 + len) as u16).to_be_bytes());
        option.extend_from_slice(&family.to_be_bytes());
        option.extend_from_slice(&[prefix, 0]);
        let mut address = bytes[..len].to_vec();
        // Bits past the source prefix must be zero (RFC 7871 §6).
        if let Some(last) = address.last_mut() {
            let spare = len * 8 - usize::from(prefix);
            *last &= 0xffu8 << spare;
        }
        option.extend_from_slice(&address);
    }
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    p.extend_from_slice(&(option.len() as u16).to_be_bytes());
    p.extend_from_slice(&option);
    p
}

/// Whether a reply ends with an ECS option of `option_len` bytes (ours,
/// echoed: OPT is the last record) whose scope is not zero.
fn has_scope(reply: &[u8], option_len: usize) -> bool {
    let Some(at) = reply.len().checked_sub(option_len) else {
        return false;
    };
    option_len > 0 && reply[at..at + 2] == [0, 8] && reply[at + 7] > 0
}

/// One message header per buffer, for a connected socket (no address).
fn headers(iov: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iov.iter_mut()
        .map(|v| {
            // SAFETY: an all-zero msghdr is valid; we fill in the iovec.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect()
}

fn send_batch(sock: &UdpSocket, packets: &[&[u8]]) -> usize {
    let mut iov: Vec<libc::iovec> = packets
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    let mut msgs = headers(&mut iov);
    // SAFETY: msgs and the buffers they point to outlive the call.
    let n = unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs.as_mut_ptr(), msgs.len() as u32, 0) };
    n.max(0) as usize
}

fn recv_batch(sock: &UdpSocket, bufs: &mut [[u8; MAX_REPLY]], lens: &mut [usize]) -> usize {
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut msgs = headers(&mut iov);
    // SAFETY: msgs and the buffers they point to outlive the call.
    let n = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let n = n.max(0) as usize;
    for (len, m) in lens.iter_mut().zip(&msgs).take(n) {
        *len = m.msg_len as usize;
    }
    n
}
