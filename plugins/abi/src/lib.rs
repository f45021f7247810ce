//! The C ABI of Signpost health-source plugins, major version 1: the Rust
//! mirror of `include/signpost_plugin.h`, and a safe way to write a plugin
//! in Rust ([`Source`] plus [`export_plugin!`]).
//!
//! ```text
//! signpostd ──spawn──► signpostd --plugin-host LIB NAME CONFIG   (child process)
//!                        dlopen LIB, call signpost_health_plugin_v1()
//!                        check abi_version, struct_size, name; create(CONFIG)
//!           ◄─ pipe ──   "ready" / per poll: "state TARGET up|down|unknown REASON" … "end"
//! ```
//!
//! The host side lives in `signpost::health::plugin_host`; this crate has
//! no dependencies so that a plugin links nothing it does not need.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The major version, also in the entry symbol's name.
pub const ABI_MAJOR: u32 = 1;
/// Minor versions append fields to [`Plugin`].
pub const ABI_MINOR: u32 = 0;
/// `abi_version` as a plugin built against this crate reports it.
pub const ABI_VERSION: u32 = (ABI_MAJOR << 16) | ABI_MINOR;

/// The one symbol a plugin exports (NUL-terminated, for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"signpost_health_plugin_v1\0";

/// `state` values passed to [`ReportFn`].
pub const DOWN: i32 = 0;
pub const UP: i32 = 1;
pub const UNKNOWN: i32 = 2;

/// Longest target name, in bytes.
pub const MAX_TARGET: usize = 255;

/// `void (*)(void *sink, const char *target, int32_t state, const char *reason)`
pub type ReportFn = unsafe extern "C" fn(
    sink: *mut c_void,
    target: *const c_char,
    state: i32,
    reason: *const c_char,
);

/// `const struct signpost_plugin *signpost_health_plugin_v1(void)`
pub type EntryFn = unsafe extern "C" fn() -> *const Plugin;

/// `struct signpost_plugin`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    pub abi_version: u32,
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub create: Option<
        unsafe extern "C" fn(
            config: *const c_char,
            error: *mut c_char,
            error_len: usize,
        ) -> *mut c_void,
    >,
    pub poll: Option<
        unsafe extern "C" fn(instance: *mut c_void, report: ReportFn, sink: *mut c_void) -> i32,
    >,
    pub destroy: Option<unsafe extern "C" fn(instance: *mut c_void)>,
}

// SAFETY: a descriptor is immutable after construction and only points at
// 'static strings and functions, so sharing it between threads is sound.
unsafe impl Sync for Plugin {}

/// The state of one target, as a plugin reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Down,
    Up,
    Unknown,
}

impl State {
    pub fn code(self) -> i32 {
        match self {
            Self::Down => DOWN,
            Self::Up => UP,
            Self::Unknown => UNKNOWN,
        }
    }
}

/// Is `name` an acceptable target name?
pub fn valid_target(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TARGET
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A health source written in Rust. [`export_plugin!`] turns it into the C
/// descriptor; panics inside are caught at the boundary and reported as a
/// failed create or poll rather than aborting the host process.
pub trait Source: Sized + 'static {
    /// Builds the instance from the `config` string of the plugin's table.
    fn create(config: &str) -> Result<Self, String>;

    /// Reports every known target through `report(target, state, reason)`.
    fn poll(&mut self, report: &mut dyn FnMut(&str, State, &str)) -> Result<(), String>;
}

impl Plugin {
    /// The descriptor of `T`; `name` and `version` must end with a NUL.
    pub const fn new<T: Source>(name: &'static str, version: &'static str) -> Self {
        Self {
            abi_version: ABI_VERSION,
            struct_size: std::mem::size_of::<Self>() as u32,
            name: name.as_ptr().cast(),
            version: version.as_ptr().cast(),
            create: Some(create_shim::<T>),
            poll: Some(poll_shim::<T>),
            destroy: Some(destroy_shim::<T>),
        }
    }
}

/// Copies `message` into the host's error buffer, NUL-terminated.
///
/// # Safety
/// `buf` must be null or point at `len` writable bytes.
unsafe fn write_error(buf: *mut c_char, len: usize, message: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let n = message.len().min(len - 1);
    // SAFETY: the caller guarantees `len` writable bytes at `buf`; we write
    // n + 1 <= len of them.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

unsafe extern "C" fn create_shim<T: Source>(
    config: *const c_char,
    error: *mut c_char,
    error_len: usize,
) -> *mut c_void {
    let config = if config.is_null() {
        String::new()
    } else {
        // SAFETY: the host passes a NUL-terminated string that outlives
        // this call.
        unsafe { CStr::from_ptr(config) }
            .to_string_lossy()
            .into_owned()
    };
    match catch_unwind(|| T::create(&config)) {
        Ok(Ok(instance)) => Box::into_raw(Box::new(instance)).cast(),
        Ok(Err(message)) => {
            // SAFETY: the host's buffer is error_len bytes long.
            unsafe { write_error(error, error_len, &message) };
            std::ptr::null_mut()
        }
        Err(_) => {
            // SAFETY: as above.
            unsafe { write_error(error, error_len, "the plugin panicked in create") };
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn poll_shim<T: Source>(
    instance: *mut c_void,
    report: ReportFn,
    sink: *mut c_void,
) -> i32 {
    if instance.is_null() {
        return -1;
    }
    // SAFETY: `instance` came from create_shim::<T> and the host calls poll
    // from one thread at a time.
    let source = unsafe { &mut *instance.cast::<T>() };
    let mut emit = |target: &str, state: State, reason: &str| {
        let (Ok(target), Ok(reason)) = (
            std::ffi::CString::new(target),
            std::ffi::CString::new(reason.replace('\0', " ")),
        ) else {
            return;
        };
        // SAFETY: both strings live until report returns; `sink` is the
        // host's, passed back unchanged.
        unsafe { report(sink, target.as_ptr(), state.code(), reason.as_ptr()) };
    };
    match catch_unwind(AssertUnwindSafe(|| source.poll(&mut emit))) {
        Ok(Ok(())) => 0,
        Ok(Err(_)) => 1,
        Err(_) => 2,
    }
}

unsafe extern "C" fn destroy_shim<T: Source>(instance: *mut c_void) {
    if !instance.is_null() {
        // SAFETY: `instance` came from Box::into_raw in create_shim::<T>
        // and the host destroys it once.
        drop(unsafe { Box::from_raw(instance.cast::<T>()) });
    }
}

/// Exports `signpost_health_plugin_v1` for a [`Source`] type:
/// `signpost_plugin_abi::export_plugin!(MySource, "my-plugin");`
#[macro_export]
macro_rules! export_plugin {
    ($ty:ty, $name:expr) => {
        #[no_mangle]
        pub extern "C" fn signpost_health_plugin_v1() -> *const $crate::Plugin {
            static PLUGIN: $crate::Plugin = $crate::Plugin::new::<$ty>(
                concat!($name, "\0"),
                concat!(env!("CARGO_PKG_VERSION"), "\0"),
            );
            &PLUGIN
        }
    };
}

/// Reads a NUL-terminated C string the host got from a plugin.
///
/// # Safety
/// `p` must be null or point at a NUL-terminated string.
pub unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        None
    } else {
        // SAFETY: checked non-null; the caller guarantees termination.
        Some(unsafe { CStr::from_ptr(p) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_layout() {
        assert_eq!(ABI_VERSION >> 16, 1);
        assert_eq!(
            std::mem::size_of::<Plugin>(),
            8 + 5 * std::mem::size_of::<usize>()
        );
        assert!(valid_target("web-1"));
        assert!(!valid_target("a b"));
        assert!(!valid_target(""));
    }
}
