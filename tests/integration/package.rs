//! The Debian package, as an operator meets it: `cargo deb` makes it,
//! lintian finds no error, `dpkg -i` installs the binaries, plugins, man
//! pages, config and unit and creates the signpost user; the installed
//! server, on the installed config moved to a high loopback port, answers
//! and reloads as that user; installing again upgrades; `dpkg -r` keeps
//! the config; `dpkg --purge` leaves no file behind.
//!
//! This installs a package on the machine running the tests (as root), as
//! the README's test command does on a fresh CI machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Server};

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `cargo deb` on the binaries and plugins the test command built.
fn build_package(dir: &Path) -> PathBuf {
    let deb = dir.join("signpost.deb");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["deb", "--no-build", "--strip", "--output"])
        .arg(&deb)
        .output()
        .expect("cargo deb (tests/run.sh installs cargo-deb)");
    assert!(
        out.status.success(),
        "cargo deb failed (run the suite with sh tests/run.sh, which builds the workspace first): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    deb
}

const INSTALLED: &[&str] = &[
    "/usr/sbin/signpostd",
    "/usr/sbin/signpostctl",
    "/usr/lib/signpost/plugins/libsignpost_plugin_file.so",
    "/usr/lib/signpost/plugins/libsignpost_plugin_command.so",
    "/usr/share/man/man8/signpostd.8.gz",
    "/usr/share/man/man8/signpostctl.8.gz",
    "/usr/share/man/man5/signpost.toml.5.gz",
    "/usr/share/man/man5/signpost-zone.5.gz",
    "/etc/signpost/signpost.toml",
    "/etc/signpost/zones/example.com.zone",
    "/lib/systemd/system/signpostd.service",
    "/usr/share/doc/signpost/copyright",
];

#[test]
fn the_debian_package_installs_serves_upgrades_and_purges_clean() {
    common::require_tool("lintian", "lintian");
    common::require_tool("dpkg-deb", "dpkg");
    let dir = common::scratch_dir("package");
    let deb = build_package(&dir);
    let deb = deb.to_str().unwrap();

    let (_, lint) = run("lintian", &[deb]);
    let errors: Vec<&str> = lint.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{lint}");

    // A leftover from an interrupted run would hide what this one does.
    let _ = run("dpkg", &["--purge", "signpost"]);
    let (ok, text) = run("dpkg", &["-i", deb]);
    assert!(ok, "dpkg -i: {text}");
    let (_, listed) = run("dpkg", &["-L", "signpost"]);
    for path in INSTALLED {
        // /lib and /usr/lib are one directory on merged-/usr systems.
        let usr = path.replace("/lib/systemd", "/usr/lib/systemd");
        assert!(
            listed.lines().any(|l| l == *path || l == usr),
            "{path} not in the package: {listed}"
        );
        assert!(
            Path::new(path).exists() || Path::new(&usr).exists(),
            "{path}"
        );
    }
    let (ok, passwd) = run("getent", &["passwd", "signpost"]);
    assert!(ok, "no signpost user");
    let uid: u32 = passwd.split(':').nth(2).unwrap().parse().unwrap();
    let (_, conffiles) = run(
        "dpkg-query",
        &["--showformat=${Conffiles}", "--show", "signpost"],
    );
    assert!(
        conffiles.contains("/etc/signpost/signpost.toml"),
        "{conffiles}"
    );

    // The unit's exposure, as systemd rates it.
    let unit = [
        "/lib/systemd/system/signpostd.service",
        "/usr/lib/systemd/system/signpostd.service",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap();
    let (_, security) = run("systemd-analyze", &["security", "--offline=true", unit]);
    let exposure: f64 = security
        .lines()
        .find_map(|l| l.split("signpostd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    assert!(exposure < 2.0, "exposure {exposure}:\n{security}");

    // The installed server on the installed config, on a high port.
    let installed = std::fs::read_to_string("/etc/signpost/signpost.toml").unwrap();
    let config = dir.join("signpost.toml");
    let moved: String = installed
        .lines()
        .map(|l| {
            if l.starts_with("listen = ") {
                "listen = [\"127.0.0.1:0\"]".to_string()
            } else if l.starts_with("file = \"zones/") {
                l.replace("\"zones/", "\"/etc/signpost/zones/")
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&config, moved).unwrap();
    let server = Server::start_binary(
        Path::new("/usr/sbin/signpostd"),
        &["-c".into(), config.display().to_string()],
        &[],
    );
    let answer = common::dig(server.udp, &["+short", "www.example.com", "A"]);
    assert_eq!(answer.lines().count(), 2, "{answer}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l == format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}")),
        "not running as signpost: {status}"
    );
    let (ok, text) = run(
        "/usr/sbin/signpostctl",
        &["reload", "-c", config.to_str().unwrap()],
    );
    assert!(ok, "reload: {text}");
    drop(server);

    // Upgrade (the same version again runs every maintainer script).
    let (ok, text) = run("dpkg", &["-i", deb]);
    assert!(ok, "upgrade: {text}");
    // Remove keeps the configuration, purge takes everything.
    let (ok, text) = run("dpkg", &["-r", "signpost"]);
    assert!(ok, "dpkg -r: {text}");
    assert!(!Path::new("/usr/sbin/signpostd").exists());
    assert!(Path::new("/etc/signpost/signpost.toml").exists());
    let (ok, text) = run("dpkg", &["--purge", "signpost"]);
    assert!(ok, "dpkg --purge: {text}");
    for left in [
        "/etc/signpost",
        "/var/lib/signpost",
        "/usr/lib/signpost",
        "/usr/share/doc/signpost",
        "/lib/systemd/system/signpostd.service",
        "/usr/lib/systemd/system/signpostd.service",
        "/etc/systemd/system/multi-user.target.wants/signpostd.service",
    ] {
        assert!(!Path::new(left).exists(), "{left} left behind by purge");
    }
    let (known, _) = run("dpkg-query", &["-W", "signpost"]);
    assert!(!known, "dpkg still knows signpost after purge");
}
