//! `signpostctl` as scripts use it (issue 14, item 9): `status --json` and
//! `health --json` against a running server, and shell completions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, scratch_dir, Server};
use crate::views::common_wait;

fn zone(origin: &str, serial: u32) -> String {
    format!("$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns admin {serial} 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.1\n")
}

/// Runs signpostctl with `args` against the socket in `dir`: exit code,
/// standard output, standard error.
fn ctl(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::signpostctl_path())
        .args(args)
        .arg("--control")
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON `args` print (one object on one line), and the exit code.
fn ctl_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = ctl(dir, args);
    assert_eq!(stdout.lines().count(), 1, "{stdout}{stderr}");
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (code, json)
}

fn zone_named<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == name)
        .unwrap_or_else(|| panic!("no zone {name} in {status}"))
}

fn is_utc_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T')
}

struct Setup {
    dir: PathBuf,
    server: Server,
    key_tag: u64,
}

/// good.test (signed), broken.test (a bad address: never served), a
/// fixed-down check and a TCP check against a closed port.
fn start(tag: &str) -> Setup {
    let dir = scratch_dir(tag);
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.join("good.zone"), zone("good.test", 7)).unwrap();
    std::fs::write(
        dir.join("broken.zone"),
        zone("broken.test", 1) + "bad IN A 192.0.2.300\n",
    )
    .unwrap();
    let keygen = Command::new(common::signpostctl_path())
        .args(["keygen", "good.test", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    // good.test. 3600 IN DS TAG 13 2 DIGEST
    let ds = String::from_utf8_lossy(&keygen.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let words: Vec<&str> = ds.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "DS").unwrap();
    let key_tag = words[at + 1].parse().unwrap();
    std::fs::write(
        dir.join("signpost.toml"),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n\n[control]\nsocket = \"ctl.sock\"\n\n\
             [[zone]]\nname = \"good.test\"\nfile = \"good.zone\"\ndnssec = true\nkey_directory = \".\"\n\n\
             [[zone]]\nname = \"broken.test\"\nfile = \"broken.zone\"\n\n\
             [health.fixed]\nstate = \"down\"\n\n\
             [health.dead]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = {dead}\ninterval = 0.3\ntimeout = 0.25\nthreshold = 1\n"
        ),
    )
    .unwrap();
    let server =
        Server::start_args(&["-c".into(), dir.join("signpost.toml").display().to_string()]);
    Setup {
        dir,
        server,
        key_tag,
    }
}

#[test]
fn status_json_reports_what_serves_and_what_failed() {
    let s = start("ctl-status-json");
    let (code, status) = ctl_json(&s.dir, &["status", "--json"]);
    // A configured zone is not served: exit 1, as the text form does.
    assert_eq!(code, 1, "{status}");
    assert_eq!(status["ok"], false);
    assert_eq!(status["server"]["pid"], s.server.pid());
    let config = std::fs::canonicalize(s.dir.join("signpost.toml")).unwrap();
    assert_eq!(status["server"]["config"], config.display().to_string());
    assert_eq!(
        status["listeners"],
        serde_json::json!([{"udp": s.server.udp.to_string(), "tcp": s.server.tcp.to_string()}])
    );
    assert_eq!(status["workers"], 1);
    assert!(is_utc_time(&status["started"]), "{status}");
    assert!(status["uptime_seconds"].is_u64());
    assert_eq!(status["watched_directories"], Value::Null);
    assert_eq!(status["views"][0]["name"], "default");
    assert_eq!(
        status["views"][0]["zones"],
        serde_json::json!(["good.test.", "broken.test."])
    );

    let good = zone_named(&status, "good.test.");
    assert_eq!(good["served"], true);
    assert_eq!(good["serial"], 7);
    assert!(is_utc_time(&good["loaded_at"]), "{good}");
    assert_eq!(good["last_reload"]["result"], "loaded");
    assert_eq!(good["last_reload"]["error_count"], 0);
    assert_eq!(good["last_reload"]["errors"], serde_json::json!([]));
    assert!(good["file"].as_str().unwrap().ends_with("good.zone"));

    let broken = zone_named(&status, "broken.test.");
    assert_eq!(broken["served"], false);
    assert_eq!(broken["serial"], Value::Null);
    assert_eq!(broken["loaded_at"], Value::Null);
    assert_eq!(broken["last_reload"]["result"], "failed");
    assert_eq!(broken["last_reload"]["error_count"], 1);
    let error = broken["last_reload"]["errors"][0].as_str().unwrap();
    assert!(error.contains("broken.zone:7:"), "{error}");

    let signing = &status["signing"];
    assert_eq!(signing.as_array().unwrap().len(), 1, "{signing}");
    assert_eq!(signing[0]["zone"], "good.test.");
    assert_eq!(signing[0]["key_tag"], s.key_tag);
    assert_eq!(signing[0]["algorithm"], 13);
    for key in ["signatures_cached", "hits", "signed", "evicted"] {
        assert!(signing[0][key].is_u64(), "{key}: {signing}");
    }
    // The text form says the same.
    let (code, text, _) = ctl(&s.dir, &["status"]);
    assert_eq!(code, 1);
    let records = good["records"].as_u64().unwrap();
    assert!(records >= 4, "{good}");
    assert!(
        text.contains(&format!("serial 7, {records} records")),
        "{text}"
    );
    assert!(text.contains("not served"), "{text}");

    // Repaired and reloaded: every zone serves, exit 0.
    std::fs::write(s.dir.join("broken.zone"), zone("broken.test", 2)).unwrap();
    let (code, _, _) = ctl(&s.dir, &["reload"]);
    assert_eq!(code, 0);
    let (code, status) = ctl_json(&s.dir, &["status", "--json"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["ok"], true);
    assert_eq!(status["reloads"], 1);
    assert_eq!(status["last_reload"]["ok"], true);
    assert_eq!(
        status["last_reload"]["config_errors"],
        serde_json::json!([])
    );
    let broken = zone_named(&status, "broken.test.");
    assert_eq!(broken["served"], true);
    assert_eq!(broken["serial"], 2);
    assert_eq!(broken["last_reload"]["result"], "loaded");
    assert_eq!(
        zone_named(&status, "good.test.")["last_reload"]["result"],
        "unchanged"
    );

    // A config that does not load: exit 1, and why.
    let config_path = s.dir.join("signpost.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("workers = 1", "workers = 1\nbogus = 2"),
    )
    .unwrap();
    let (code, _, _) = ctl(&s.dir, &["reload"]);
    assert_eq!(code, 1);
    let (code, status) = ctl_json(&s.dir, &["status", "--json"]);
    assert_eq!(code, 1, "{status}");
    assert_eq!(status["ok"], false);
    assert_eq!(status["last_reload"]["ok"], false);
    let errors = status["last_reload"]["config_errors"].as_array().unwrap();
    assert!(
        errors[0].as_str().unwrap().contains("signpost.toml:4:1: ")
            && errors[0].as_str().unwrap().contains("bogus"),
        "{errors:?}"
    );
}

#[test]
fn health_json_lists_every_check() {
    let s = start("ctl-health-json");
    // name → check
    let checks = |s: &Setup| -> std::collections::BTreeMap<String, Value> {
        let (code, json) = ctl_json(&s.dir, &["health", "--json"]);
        assert_eq!(code, 0, "{json}");
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c.clone()))
            .collect()
    };
    let dead_down = common_wait(Duration::from_secs(10), || {
        checks(&s)["dead"]["state"] == "down"
    });
    assert!(dead_down, "{:?}", checks(&s));
    let list = checks(&s);
    assert_eq!(list.len(), 2, "{list:?}");
    let fixed = &list["fixed"];
    assert_eq!(fixed["state"], "down");
    assert_eq!(fixed["mode"], "auto");
    assert_eq!(fixed["type"], "static");
    assert_eq!(fixed["last"], "none");
    assert_eq!(fixed["latency_ms"], Value::Null);
    assert_eq!(fixed["checked"], Value::Null);
    assert!(is_utc_time(&fixed["since"]), "{fixed}");
    assert_eq!(fixed["reason"], "fixed in the config");
    let dead = &list["dead"];
    assert_eq!(dead["type"], "tcp");
    assert_eq!(dead["mode"], "auto");
    assert_eq!(dead["last"], "fail");
    assert!(dead["latency_ms"].as_f64().unwrap() >= 0.0, "{dead}");
    assert!(is_utc_time(&dead["checked"]), "{dead}");
    assert!(
        dead["reason"].as_str().unwrap().contains("refused"),
        "{dead}"
    );
    // The text form lists the same checks with the same facts.
    let (_, text, _) = ctl(&s.dir, &["health"]);
    let dead_line = text.lines().find(|l| l.starts_with("dead ")).unwrap();
    assert!(
        dead_line.starts_with("dead down auto tcp last=fail"),
        "{text}"
    );
    assert!(
        dead_line.contains(&format!("changed={}", dead["since"].as_str().unwrap())),
        "{dead_line} vs {dead}"
    );

    let (code, _, _) = ctl(&s.dir, &["health", "set", "dead", "up"]);
    assert_eq!(code, 0);
    let list = checks(&s);
    assert_eq!(list["dead"]["state"], "up");
    assert_eq!(list["dead"]["mode"], "forced");

    // --json lists; it does not go with `set`.
    let (code, stdout, stderr) = ctl(&s.dir, &["health", "--json", "set", "dead", "auto"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(checks(&s)["dead"]["mode"], "forced");
}

/// The subcommands `signpostctl --help` lists.
fn subcommands() -> Vec<String> {
    let out = Command::new(common::signpostctl_path())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let list: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    assert!(list.len() >= 10, "{help}");
    list
}

fn completion_script(shell: &str) -> String {
    let out = Command::new(common::signpostctl_path())
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What bash offers for the last of `words` with the script loaded, as
/// pressing Tab there would.
fn bash_offers(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_signpostctl signpostctl '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completion_offers_every_subcommand_and_flag() {
    let script = completion_script("bash");
    let dir = scratch_dir("ctl-completions");
    let path = dir.join("signpostctl.bash");
    std::fs::write(&path, &script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {syntax:?}");
    assert!(script.contains("complete -F _signpostctl"), "{script}");

    let offered = bash_offers(&path, &["signpostctl", ""]);
    for sub in subcommands() {
        assert!(offered.contains(&sub), "{sub} not offered: {offered:?}");
    }
    let mut st = bash_offers(&path, &["signpostctl", "st"]);
    st.sort();
    assert_eq!(st, ["stats", "status", "stop"]);
    let health = bash_offers(&path, &["signpostctl", "health", ""]);
    for word in ["set", "--json", "--control"] {
        assert!(health.contains(&word.to_string()), "{word}: {health:?}");
    }
    assert!(bash_offers(&path, &["signpostctl", "status", "--"]).contains(&"--json".to_string()));
    let shells = bash_offers(&path, &["signpostctl", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.contains(&shell.to_string()), "{shells:?}");
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    let zsh = completion_script("zsh");
    assert!(zsh.starts_with("#compdef signpostctl"), "{zsh}");
    let fish = completion_script("fish");
    assert!(fish.contains("complete -c signpostctl"), "{fish}");
    for sub in subcommands() {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh lacks {sub}");
        assert!(fish.contains(&format!("-a \"{sub}\"")), "fish lacks {sub}");
    }
    let out = Command::new(common::signpostctl_path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
