//! A plugin that misbehaves on purpose, for the tests of the plugin host.
//! Its `config` picks how: `ok` (reports `a` up and `b` down), `panic`,
//! `segfault`, `garbage` (invalid state codes and names), `hang`, `abort`
//! and `fail-create`. With `after=N`, it behaves for N polls first.
//! It is raw C ABI on purpose: no catch_unwind, so a panic really crosses
//! (and aborts) the boundary as a careless plugin's would.

#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_void, CStr};

use signpost_plugin_abi::{Plugin, ReportFn, ABI_VERSION};

struct Instance {
    mode: String,
    after: u32,
    polls: u32,
}

unsafe extern "C" fn create(config: *const c_char, error: *mut c_char, len: usize) -> *mut c_void {
    let config = unsafe { CStr::from_ptr(config) }
        .to_string_lossy()
        .into_owned();
    let mut words = config.split_whitespace();
    let mode = words.next().unwrap_or("ok").to_string();
    let after = words
        .find_map(|w| w.strip_prefix("after=")?.parse().ok())
        .unwrap_or(0);
    if mode == "fail-create" {
        let msg = b"told to fail\0";
        if len >= msg.len() {
            unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr().cast(), error, msg.len()) };
        }
        return std::ptr::null_mut();
    }
    Box::into_raw(Box::new(Instance {
        mode,
        after,
        polls: 0,
    }))
    .cast()
}

unsafe extern "C" fn poll(instance: *mut c_void, report: ReportFn, sink: *mut c_void) -> i32 {
    let inst = unsafe { &mut *instance.cast::<Instance>() };
    inst.polls += 1;
    let good = |report: ReportFn, sink| unsafe {
        report(sink, c"a".as_ptr(), 1, c"fine".as_ptr());
        report(sink, c"b".as_ptr(), 0, c"broken".as_ptr());
    };
    if inst.polls <= inst.after {
        good(report, sink);
        return 0;
    }
    match inst.mode.as_str() {
        "panic" => panic!("the testing plugin panics"),
        "segfault" => unsafe {
            std::ptr::null_mut::<u32>().write_volatile(7);
        },
        "abort" => std::process::abort(),
        "hang" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        "garbage" => unsafe {
            report(sink, c"a".as_ptr(), 77, c"??".as_ptr());
            report(sink, c"\xff\xfe".as_ptr(), 1, std::ptr::null());
        },
        _ => good(report, sink),
    }
    0
}

unsafe extern "C" fn destroy(instance: *mut c_void) {
    drop(unsafe { Box::from_raw(instance.cast::<Instance>()) });
}

static PLUGIN: Plugin = Plugin {
    abi_version: ABI_VERSION,
    struct_size: std::mem::size_of::<Plugin>() as u32,
    name: c"testing".as_ptr(),
    version: c"0".as_ptr(),
    create: Some(create),
    poll: Some(poll),
    destroy: Some(destroy),
};

#[no_mangle]
pub extern "C" fn signpost_health_plugin_v1() -> *const Plugin {
    &PLUGIN
}
