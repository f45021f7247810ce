//! The plugin host: the child process (`signpostd --plugin-host LIBRARY
//! NAME CONFIG`) that loads one health-source plugin with `libloading` and
//! answers the daemon's polls over a pipe. Loading and calling a C library
//! is `unsafe`, each block with a `// SAFETY:` comment; the crate's other
//! `unsafe` is in net/mmsg.rs (batch syscalls) and compile/memory.rs (the
//! allocator).
//!
//! Why a child: a panic unwinding out of `extern "C"` aborts, a segfault
//! cannot be caught, and a plugin can hang; in a process of its own none of
//! that reaches the daemon, which sees EOF or silence on the pipe and
//! restarts the child with backoff (health/plugin.rs).
//!
//! Protocol, one line each, child to parent on stdout:
//!
//! ```text
//! ready NAME VERSION                 after a good load (else `error MESSAGE`, exit 1)
//! state<TAB>TARGET<TAB>up|down|unknown<TAB>REASON   per target, for each `poll` read on stdin
//! end RC                             after each poll; RC is poll()'s return value
//! garbage MESSAGE                    the plugin reported something invalid (then exit 3)
//! ```
//!
//! The child checks what only it can see (UTF-8, state codes, name rules);
//! the parent checks the lines again, since a corrupted child could print
//! anything.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CString, OsString};
use std::io::{BufRead, Write};
use std::process::ExitCode;

use signpost_plugin_abi::{c_str, valid_target, EntryFn, Plugin, ABI_MAJOR, ENTRY_SYMBOL};

/// The flag that turns `signpostd` into a plugin host.
pub const FLAG: &str = "--plugin-host";
/// Longest reason passed on, in bytes.
pub const MAX_REASON: usize = 300;
/// Most targets one poll may report.
pub const MAX_TARGETS: usize = 10_000;

/// A loaded, created plugin instance. Field order matters: the instance
/// is destroyed (in Drop) before the library is unloaded.
struct Loaded {
    plugin: Plugin,
    instance: *mut c_void,
    _library: libloading::Library,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(destroy) = self.plugin.destroy {
            // SAFETY: `instance` came from this plugin's create() and is
            // destroyed once; the library is still loaded.
            unsafe { destroy(self.instance) };
        }
    }
}

/// Replaces control characters and cuts at MAX_REASON bytes (at a
/// character boundary), so a reason fits one protocol line.
pub fn clean_reason(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_REASON {
            break;
        }
        out.push(c);
    }
    out
}

/// Why a library is not a usable plugin; the text goes to the parent as
/// `error MESSAGE` and from there to the log and `signpostctl checkconf`.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("cannot load {path}: {source}")]
    Open {
        path: String,
        source: libloading::Error,
    },
    #[error("{path} is not a Signpost plugin for ABI {ABI_MAJOR}: {source}")]
    NoEntryPoint {
        path: String,
        source: libloading::Error,
    },
    #[error("the plugin's entry point returned NULL")]
    NullDescriptor,
    #[error("the plugin is built for ABI {major}.{minor}, this server speaks {ABI_MAJOR}.x")]
    OtherAbi { major: u32, minor: u32 },
    #[error("the plugin's descriptor is {size} bytes, ABI {ABI_MAJOR} needs {needed}")]
    ShortDescriptor { size: u32, needed: usize },
    #[error("the library is plugin \"{own}\", the config expects \"{expected}\" (set name = \"{own}\" if that is right)")]
    OtherName { own: String, expected: String },
    #[error("the plugin's descriptor lacks create, poll or destroy")]
    Incomplete,
    #[error("config contains a NUL byte")]
    NulInConfig,
    #[error("the plugin refused its config: {0}")]
    ConfigRefused(String),
}

fn load(library: &OsString, name: &str, config: &str) -> Result<(Loaded, String), Refusal> {
    let path = std::path::Path::new(library);
    // SAFETY: loading a library runs its initialisers; that is the point of
    // a plugin, and it happens in this throwaway process, not the daemon.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|source| Refusal::Open {
        path: path.display().to_string(),
        source,
    })?;
    // SAFETY: the symbol's type is fixed by the ABI (signpost_plugin.h);
    // the major version in its name guarantees the signature.
    let entry: libloading::Symbol<'_, EntryFn> =
        unsafe { lib.get(ENTRY_SYMBOL) }.map_err(|source| Refusal::NoEntryPoint {
            path: path.display().to_string(),
            source,
        })?;
    // SAFETY: calling the entry point as the ABI defines it.
    let descriptor = unsafe { entry() };
    if descriptor.is_null() {
        return Err(Refusal::NullDescriptor);
    }
    // Read the two leading fields first: only they are common to every
    // version, and struct_size says how much more there is.
    // SAFETY: non-null, and every version of the struct starts with these
    // two u32 fields.
    let (abi_version, struct_size) = unsafe {
        (
            std::ptr::addr_of!((*descriptor).abi_version).read_unaligned(),
            std::ptr::addr_of!((*descriptor).struct_size).read_unaligned(),
        )
    };
    if abi_version >> 16 != ABI_MAJOR {
        return Err(Refusal::OtherAbi {
            major: abi_version >> 16,
            minor: abi_version & 0xffff,
        });
    }
    if (struct_size as usize) < size_of::<Plugin>() {
        return Err(Refusal::ShortDescriptor {
            size: struct_size,
            needed: size_of::<Plugin>(),
        });
    }
    // SAFETY: struct_size says the whole v1 struct is there; it lives as
    // long as the library.
    let plugin = unsafe { descriptor.read_unaligned() };
    // SAFETY: the ABI requires NUL-terminated strings (or NULL).
    let own_name = unsafe { c_str(plugin.name) }
        .and_then(|s| s.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if own_name != name {
        return Err(Refusal::OtherName {
            own: own_name,
            expected: name.into(),
        });
    }
    // SAFETY: as above.
    let version = unsafe { c_str(plugin.version) }
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (Some(create), Some(_), Some(_)) = (plugin.create, plugin.poll, plugin.destroy) else {
        return Err(Refusal::Incomplete);
    };
    let config = CString::new(config).map_err(|_| Refusal::NulInConfig)?;
    let mut error = vec![0u8; 512];
    // SAFETY: config is NUL-terminated and outlives the call; error is a
    // writable buffer of the length passed.
    let instance = unsafe { create(config.as_ptr(), error.as_mut_ptr().cast(), error.len()) };
    if instance.is_null() {
        let end = error.iter().position(|&b| b == 0).unwrap_or(error.len());
        let message = String::from_utf8_lossy(error.get(..end).unwrap_or_default());
        return Err(Refusal::ConfigRefused(clean_reason(&message)));
    }
    Ok((
        Loaded {
            plugin,
            instance,
            _library: lib,
        },
        version,
    ))
}

/// What one poll reported, collected by [`report`].
#[derive(Default)]
struct Sink {
    states: Vec<(String, &'static str, String)>,
    garbage: Option<String>,
}

/// The report callback handed to poll(); must not unwind.
unsafe extern "C" fn report(
    sink: *mut c_void,
    target: *const c_char,
    state: i32,
    reason: *const c_char,
) {
    if sink.is_null() {
        return;
    }
    // SAFETY: `sink` is the &mut Sink passed to poll() by `serve`, alive
    // and not otherwise borrowed until poll returns; the ABI allows report
    // only during poll, from the polling thread.
    let sink = unsafe { &mut *sink.cast::<Sink>() };
    if sink.garbage.is_some() {
        return;
    }
    // SAFETY: the ABI requires NUL-terminated strings (or NULL).
    let target = match unsafe { c_str(target) }.map(|s| s.to_str()) {
        Some(Ok(t)) if valid_target(t) => t.to_string(),
        Some(Ok(t)) => {
            sink.garbage = Some(format!(
                "invalid target name \"{}\"",
                clean_reason(t).chars().take(40).collect::<String>()
            ));
            return;
        }
        Some(Err(_)) => {
            sink.garbage = Some("a target name is not UTF-8".into());
            return;
        }
        None => {
            sink.garbage = Some("a target name is NULL".into());
            return;
        }
    };
    let word = match state {
        signpost_plugin_abi::UP => "up",
        signpost_plugin_abi::DOWN => "down",
        signpost_plugin_abi::UNKNOWN => "unknown",
        other => {
            sink.garbage = Some(format!(
                "state {other} for target {target} is not 0, 1 or 2"
            ));
            return;
        }
    };
    // SAFETY: as for target.
    let reason = unsafe { c_str(reason) }
        .map(|s| clean_reason(&s.to_string_lossy()))
        .unwrap_or_default();
    if sink.states.len() >= MAX_TARGETS {
        sink.garbage = Some(format!("more than {MAX_TARGETS} targets"));
        return;
    }
    sink.states.push((target, word, reason));
}

/// `signpostd --plugin-host LIBRARY NAME CONFIG`: load, then answer polls
/// until stdin closes.
pub fn child_main(args: &[OsString]) -> ExitCode {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers and touches no
    // memory; it makes the kernel kill us if the daemon dies.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    }
    let mut out = std::io::stdout().lock();
    let [library, name, config] = args else {
        let _ = writeln!(out, "error usage: signpostd {FLAG} LIBRARY NAME CONFIG");
        return ExitCode::from(2);
    };
    let (name, config) = (name.to_string_lossy(), config.to_string_lossy());
    let (loaded, version) = match load(library, &name, &config) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(out, "error {}", clean_reason(&e.to_string()));
            let _ = out.flush();
            return ExitCode::from(1);
        }
    };
    let _ = writeln!(
        out,
        "ready {name} {}",
        clean_reason(&version).replace(' ', "_")
    );
    let _ = out.flush();
    let Some(poll) = loaded.plugin.poll else {
        return ExitCode::from(1);
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() != "poll" {
            continue;
        }
        let mut sink = Sink::default();
        // SAFETY: the instance is live; `report` matches ReportFn; the
        // sink pointer stays valid for the whole call.
        let rc = unsafe { poll(loaded.instance, report, std::ptr::addr_of_mut!(sink).cast()) };
        if let Some(g) = sink.garbage {
            let _ = writeln!(out, "garbage {}", clean_reason(&g));
            let _ = out.flush();
            return ExitCode::from(3);
        }
        let mut text = String::new();
        for (target, word, reason) in &sink.states {
            text.push_str(&format!("state\t{target}\t{word}\t{reason}\n"));
        }
        text.push_str(&format!("end {rc}\n"));
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    drop(loaded);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_one_line() {
        assert_eq!(clean_reason("a\tb\nc"), "a b c");
        let long = "é".repeat(400);
        let cut = clean_reason(&long);
        assert!(cut.len() <= MAX_REASON && cut.len() >= MAX_REASON - 1);
    }
}
