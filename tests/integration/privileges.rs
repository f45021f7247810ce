//! Running unprivileged: started as root with `[server] user`, every
//! thread of signpostd and every health-check child runs as that user with
//! no capability left; started as root without a user, it refuses.
//!
//! The server, its config, zone and plugin live in a fresh directory under
//! /tmp, so that `nobody` can read them wherever the checkout is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Server};

const ZONE: &str = "$ORIGIN priv.test.\n$TTL 60\n@ IN SOA ns admin 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
www IN A 192.0.2.1 ;@ failover id=p role=primary health=cmd\n\
www IN A 192.0.2.2 ;@ failover id=s role=secondary health=tcp\n";

/// A directory every user can read, with the server binary, the command
/// plugin, a zone and its command file.
fn world_readable_dir(tag: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("signpost-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(common::signpostd_path(), dir.join("signpostd")).unwrap();
    std::fs::copy(
        crate::health::library("command"),
        dir.join("libsignpost_plugin_command.so"),
    )
    .unwrap();
    std::fs::write(dir.join("priv.test.zone"), ZONE).unwrap();
    std::fs::write(dir.join("commands"), "web exit 0\n").unwrap();
    dir
}

fn config(dir: &Path, user: &str) -> PathBuf {
    let path = dir.join("signpost.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 2\nwatch = false\n{user}\n\n\
             [[zone]]\nname = \"priv.test\"\nfile = \"priv.test.zone\"\n\n\
             [plugin.cmd]\nname = \"command\"\nlibrary = \"libsignpost_plugin_command.so\"\nconfig = \"{}/commands\"\ninterval = 0.2\n\n\
             [health.cmd]\ntype = \"plugin\"\nplugin = \"cmd\"\ntarget = \"web\"\n\
             [health.tcp]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = 9\ninterval = 1\n",
            dir.display()
        ),
    )
    .unwrap();
    path
}

/// `Uid:` and `CapEff:` (and the other capability sets) of a status file.
fn ids(status: &str) -> (Vec<u32>, Vec<u64>) {
    let mut uids = Vec::new();
    let mut caps = Vec::new();
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Uid:") {
            uids = v.split_whitespace().map(|u| u.parse().unwrap()).collect();
        }
        for field in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
            if let Some(v) = line.strip_prefix(field) {
                caps.push(u64::from_str_radix(v.trim(), 16).unwrap());
            }
        }
    }
    (uids, caps)
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let want = format!("PPid:\t{pid}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .is_ok_and(|s| s.lines().any(|l| l == want))
        })
        .collect()
}

#[test]
fn every_thread_and_health_child_runs_as_the_configured_user() {
    if !nix_is_root() {
        panic!("this test starts signpostd as root: run the suite as root (sh tests/run.sh)");
    }
    let dir = world_readable_dir("privileges");
    let config = config(&dir, "user = \"nobody\"\ngroup = \"nogroup\"");
    let server = Server::start_binary(
        &dir.join("signpostd"),
        &["-c".into(), config.display().to_string()],
        &[],
    );
    let nobody = 65534;
    // The plugin host starts after the drop; wait for it.
    let started = Instant::now();
    let mut hosts = children(server.pid());
    while hosts.is_empty() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        hosts = children(server.pid());
    }
    assert!(!hosts.is_empty(), "no plugin host started");
    let tasks: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .map(|e| e.unwrap().path().join("status"))
        .collect();
    assert!(tasks.len() > 3, "expected worker, TCP and health threads");
    for status in tasks.iter().chain(
        hosts
            .iter()
            .map(|p| PathBuf::from(format!("/proc/{p}/status")))
            .collect::<Vec<_>>()
            .iter(),
    ) {
        let Ok(text) = std::fs::read_to_string(status) else {
            continue; // a thread that ended meanwhile
        };
        let (uids, caps) = ids(&text);
        assert_eq!(uids, [nobody; 4], "{}: {text}", status.display());
        assert!(
            caps.iter().all(|&c| c == 0),
            "{}: {caps:?}",
            status.display()
        );
    }
    // It serves, and the plugin (run as nobody) reports the check up.
    let reply = common::dig(server.udp, &["+short", "www.priv.test", "A"]);
    assert_eq!(reply.trim(), "192.0.2.1");
    // The control socket was handed over, and reload works after the drop.
    let out = Command::new(common::signpostctl_path())
        .args(["reload", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn root_without_a_user_is_refused() {
    if !nix_is_root() {
        panic!("this test starts signpostd as root: run the suite as root (sh tests/run.sh)");
    }
    let dir = world_readable_dir("privileges-refused");
    let config = config(&dir, "");
    let out = Command::new(dir.join("signpostd"))
        .args(["-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to run as root: set [server] user"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| ids(&s).0.first() == Some(&0))
        .unwrap_or(false)
}
