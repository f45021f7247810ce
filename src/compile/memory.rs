//! The allocator's one control the compile stage uses. `unsafe` lives in
//! one module per concern: this one, the plugin host
//! (health/plugin_host.rs) and the UDP batch syscalls (net/mmsg.rs).

#![allow(unsafe_code)]

/// Asks mimalloc to return freed pages to the system now rather than after
/// a delay, so the resident size after loading a large zone is that of the
/// zone alone (measured: 256 MB without, 203 MB with, for the 1M-record
/// zone whose parser ran on another thread).
pub(super) fn release_free_pages() {
    // SAFETY: mi_collect only walks the allocator's own free lists; it takes
    // no pointers from us and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
