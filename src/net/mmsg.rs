//! Batched UDP I/O with `recvmmsg(2)`/`sendmmsg(2)`: one system call moves
//! up to [`BATCH`] datagrams each way, which is most of what separates a
//! fast authoritative server from a merely correct one under load.
//!
//! `unsafe` lives in one module per concern: this one (the two calls need
//! raw `mmsghdr` arrays), the plugin host (health/plugin_host.rs) and the
//! allocator control (compile/memory.rs). Every pointer handed to the
//! kernel points into buffers owned by [`Batch`], which outlives the call.

#![allow(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 32;
/// Receive buffer per datagram. Longer datagrams arrive truncated
/// (MSG_TRUNC) and are dropped: no query is that long.
pub(crate) const RECV_SIZE: usize = 4096;

/// Buffers for one batch of requests and their responses.
pub(crate) struct Batch {
    recv: Box<[[u8; RECV_SIZE]]>,
    addrs: Box<[libc::sockaddr_storage]>,
    lens: [usize; BATCH],
    truncated: [bool; BATCH],
    addr_lens: [libc::socklen_t; BATCH],
    /// One response buffer per slot, reused across batches.
    responses: Vec<Vec<u8>>,
    /// Which slots have a response to send.
    reply: [bool; BATCH],
    iov: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
}

impl Batch {
    pub(crate) fn new() -> Self {
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for
        // which all-zero bytes are a valid (empty) value.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let zero_iov: libc::iovec = unsafe { std::mem::zeroed() };
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            recv: vec![[0u8; RECV_SIZE]; BATCH].into_boxed_slice(),
            addrs: vec![zero_addr; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            truncated: [false; BATCH],
            addr_lens: [0; BATCH],
            responses: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
            reply: [false; BATCH],
            iov: vec![zero_iov; BATCH].into_boxed_slice(),
            hdrs: vec![zero_hdr; BATCH].into_boxed_slice(),
        }
    }

    /// Receives up to [`BATCH`] datagrams: waits for the first, then takes
    /// whatever else is already queued (MSG_WAITFORONE). Returns how many
    /// arrived.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        for i in 0..BATCH {
            let (Some(iov), Some(hdr), Some(buf), Some(addr)) = (
                self.iov.get_mut(i),
                self.hdrs.get_mut(i),
                self.recv.get_mut(i),
                self.addrs.get_mut(i),
            ) else {
                break;
            };
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = RECV_SIZE;
            hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        // SAFETY: `hdrs` holds BATCH initialised headers whose name and iov
        // pointers refer to `addrs`, `iov` and `recv`, all owned by `self`
        // and not moved during the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(BATCH);
        let slots = self
            .hdrs
            .iter()
            .zip(self.lens.iter_mut().zip(self.truncated.iter_mut()))
            .zip(self.addr_lens.iter_mut().zip(self.reply.iter_mut()))
            .take(n);
        for ((hdr, (len, truncated)), (addr_len, reply)) in slots {
            *len = (hdr.msg_len as usize).min(RECV_SIZE);
            *truncated = hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            *addr_len = hdr.msg_hdr.msg_namelen;
            *reply = false;
        }
        Ok(n)
    }

    /// Calls `answer(request, sender, response)` for each of the first `n`
    /// datagrams that arrived whole; its result says whether to reply.
    pub(crate) fn answer_each(
        &mut self,
        n: usize,
        mut answer: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool,
    ) {
        let slots = self
            .recv
            .iter()
            .zip(self.lens.iter().zip(&self.truncated))
            .zip(self.addrs.iter().zip(&self.addr_lens))
            .zip(self.responses.iter_mut().zip(self.reply.iter_mut()))
            .take(n);
        for (((buf, (&len, &truncated)), (addr, &addr_len)), (out, reply)) in slots {
            let peer = sockaddr_to_std(addr, addr_len);
            *reply = match (truncated, buf.get(..len), peer) {
                (false, Some(request), Some(peer)) => answer(request, peer, out),
                _ => false,
            };
        }
    }

    /// Sends every response marked in `reply` for the first `n` slots, back
    /// to each request's sender. Returns how many were handed to the kernel
    /// before it stopped accepting (the rest are dropped, as a full socket
    /// buffer would drop them anyway).
    pub(crate) fn send(&mut self, fd: RawFd, n: usize) -> usize {
        let mut count = 0usize;
        let slots = self
            .reply
            .iter()
            .zip(self.responses.iter_mut())
            .zip(self.addrs.iter_mut().zip(self.addr_lens.iter()))
            .take(n.min(BATCH))
            .filter(|((reply, _), _)| **reply);
        for ((_, response), (addr, &addr_len)) in slots {
            let (Some(iov), Some(hdr)) = (self.iov.get_mut(count), self.hdrs.get_mut(count)) else {
                break;
            };
            iov.iov_base = response.as_mut_ptr().cast();
            iov.iov_len = response.len();
            hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            hdr.msg_hdr.msg_namelen = addr_len;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
            count += 1;
        }
        let mut sent = 0usize;
        // A few retries cover a partially accepted batch; EAGAIN ends it.
        for _ in 0..4 {
            if sent >= count {
                break;
            }
            // SAFETY: headers [sent, count) were initialised above and point
            // into `iov`, `addrs` and `responses`, owned by `self` and
            // unchanged during the call.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs.as_mut_ptr().add(sent),
                    (count - sent) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r <= 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // One bad destination must not sink the rest of the batch.
                if r < 0 && err.kind() != io::ErrorKind::WouldBlock {
                    sent += 1;
                    continue;
                }
                break;
            }
            sent += r as usize;
        }
        sent
    }
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

fn sockaddr_to_std(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
