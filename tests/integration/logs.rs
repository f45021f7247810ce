//! What the daemon logs (issue 14, item 8): journald priorities when
//! standard error is the journal (a failed reload is an error, a health
//! transition a notice) and `[log] format = "json"` for log shippers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{self, scratch_dir, Server};
use crate::views::common_wait;

const ZONE: &str = "$ORIGIN logs.test.\n$TTL 1\n@ IN SOA ns admin 1 3600 600 86400 1\n@ IN NS ns\nns IN A 192.0.2.53\nfo IN A 192.0.2.1 ;@ failover id=p role=primary health=dead\nfo IN A 192.0.2.2 ;@ failover id=s role=secondary\n";

/// A config serving logs.test with one TCP check against a port nothing
/// listens on, which goes down at its first probe.
fn setup(tag: &str, extra: &str) -> PathBuf {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("logs.test.zone"), ZONE).unwrap();
    std::fs::write(
        dir.join("signpost.toml"),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n\n[control]\nsocket = \"ctl.sock\"\n\n{extra}[[zone]]\nname = \"logs.test\"\nfile = \"logs.test.zone\"\n\n[health.dead]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = {dead}\ninterval = 0.3\ntimeout = 0.25\nthreshold = 1\n"
        ),
    )
    .unwrap();
    dir
}

fn config_args(dir: &Path) -> Vec<String> {
    vec!["-c".into(), dir.join("signpost.toml").display().to_string()]
}

/// Breaks the zone file and asks for a reload, which must fail.
fn failed_reload(dir: &Path) {
    std::fs::write(
        dir.join("logs.test.zone"),
        format!("{ZONE}www IN A 192.0.2.300\n"),
    )
    .unwrap();
    let out = Command::new(common::signpostctl_path())
        .args(["reload", "--control"])
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// The first stderr line containing `needle`, waiting for it.
fn line_with(server: &Server, needle: &str) -> String {
    let found = common_wait(Duration::from_secs(10), || server.stderr().contains(needle));
    let log = server.stderr();
    assert!(found, "no line with {needle:?} in:\n{log}");
    log.lines()
        .find(|l| l.contains(needle))
        .unwrap()
        .to_string()
}

#[test]
fn journald_gets_the_priority_of_every_line() {
    let dir = setup("logs-journal", "");
    let server = Server::start_args_journal(&config_args(&dir));

    let transition = line_with(&server, "health check down");
    assert!(
        transition.starts_with("<5>NOTICE signpost::health"),
        "{transition}"
    );
    failed_reload(&dir);
    let failed = line_with(&server, "reload failed");
    assert!(failed.starts_with("<3>ERROR "), "{failed}");
    let position = line_with(&server, "logs.test.zone:8:");
    assert!(position.starts_with("<3>"), "{position}");
    let loaded = line_with(&server, "zone loaded");
    assert!(loaded.starts_with("<6>INFO "), "{loaded}");

    // Every line has a priority (a line without would be logged as info)
    // and no timestamp: the journal stamps its entries itself.
    let log = server.stderr();
    for line in log.lines() {
        let rest = line
            .strip_prefix('<')
            .and_then(|l| l.split_once('>'))
            .filter(|(n, _)| matches!(*n, "3" | "4" | "5" | "6" | "7"))
            .map(|(_, rest)| rest);
        let Some(rest) = rest else {
            panic!("line without a priority: {line:?}\n{log}");
        };
        assert!(
            !rest.starts_with(|c: char| c.is_ascii_digit()),
            "timestamp in the journal: {line:?}"
        );
    }
}

#[test]
fn a_stale_journal_stream_is_not_the_journal() {
    // JOURNAL_STREAM inherited from a service whose output went to the
    // journal, while this process writes to a file: plain lines.
    let dir = setup("logs-stale", "");
    let server =
        Server::start_args_env(&config_args(&dir), &[("JOURNAL_STREAM", Path::new("1:1"))]);
    let transition = line_with(&server, "health check down");
    assert!(!transition.starts_with('<'), "{transition}");
    assert!(
        transition.contains(" NOTICE signpost::health"),
        "{transition}"
    );
}

#[test]
fn json_lines_for_log_shippers() {
    let dir = setup("logs-json", "[log]\nformat = \"json\"\n\n");
    let server = Server::start_args(&config_args(&dir));
    line_with(&server, "health check down");
    failed_reload(&dir);
    line_with(&server, "reload failed");

    let log = server.stderr();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    for e in &events {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["fields", "level", "message", "target", "timestamp"],
            "{e}"
        );
        assert!(e["fields"].is_object(), "{e}");
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    let find = |message: &str| {
        events
            .iter()
            .find(|e| e["message"].as_str().unwrap().contains(message))
            .unwrap_or_else(|| panic!("no {message:?} in:\n{log}"))
    };
    let transition = find("health check down");
    assert_eq!(transition["level"], "NOTICE");
    assert_eq!(transition["fields"]["check"], "dead");
    assert!(transition["target"]
        .as_str()
        .unwrap()
        .starts_with("signpost::health"));
    let loaded = find("zone loaded");
    assert_eq!(loaded["level"], "INFO");
    assert_eq!(loaded["fields"]["serial"], 1);
    assert_eq!(loaded["fields"]["zone"], "logs.test.");
    assert_eq!(find("reload failed")["level"], "ERROR");
    assert_eq!(find("logs.test.zone:8:")["level"], "ERROR");
}

#[test]
fn json_startup_errors_with_log_format_flag() {
    let dir = setup("logs-json-bad", "[log]\nformat = \"yaml\"\n\n");
    let out = Command::new(common::signpostd_path())
        .args(config_args(&dir))
        .args(["--log-format", "json"])
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(
        message.contains("signpost.toml:10:10: ") && message.contains("yaml"),
        "{message}"
    );
}
