//! The daemon as an operator meets it: the shipped config, UDP and TCP
//! answers, EDNS sizes and TC, SIGHUP reload keeping the last good data,
//! and `signpostctl checkzone`/`checkconf`.

use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::common::{self, query, tcp_exchange, udp_exchange, Server};

fn write_zone(dir: &std::path::Path, serial: u32, www: &str) -> std::path::PathBuf {
    let path = dir.join("example.test.zone");
    let mut text = format!(
        "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 admin {serial} 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A {www}\n"
    );
    // Enough TXT data that the answer cannot fit in 512 bytes.
    for i in 0..12 {
        text.push_str(&format!("big IN TXT \"{i:02}{}\"\n", "x".repeat(60)));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn a_records(msg: &hickory_proto::op::Message) -> Vec<String> {
    let mut v: Vec<String> = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

#[test]
fn shipped_config_serves_example_zone() {
    // Same zone as conf/signpost.toml, on an ephemeral port.
    let server = Server::start_args(&[
        "-c".into(),
        common::repo_path("conf/signpost.toml")
            .display()
            .to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ]);
    let reply = udp_exchange(
        server.udp,
        &query("www.example.com.", RecordType::A, true, false),
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert!(!reply.metadata.recursion_available);
    assert_eq!(a_records(&reply), ["192.0.2.80", "192.0.2.81"]);

    let reply = tcp_exchange(
        server.tcp,
        &query("WwW.ExAmPlE.CoM.", RecordType::A, false, false),
    );
    assert_eq!(a_records(&reply), ["192.0.2.80", "192.0.2.81"]);
    // Case-preserving: the owner is spelled as asked.
    assert_eq!(reply.answers[0].name.to_string(), "WwW.ExAmPlE.CoM.");

    let reply = udp_exchange(
        server.udp,
        &query("nope.example.com.", RecordType::A, true, false),
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(reply.authorities.len(), 1);
    // RFC 2308: min(SOA TTL 3600, minimum 300).
    assert_eq!(reply.authorities[0].ttl, 300);

    let reply = udp_exchange(
        server.udp,
        &query("example.org.", RecordType::A, true, false),
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(!reply.metadata.authoritative);
}

#[test]
fn truncates_over_udp_and_answers_over_tcp() {
    let dir = common::scratch_dir("basics-tc");
    let zone = write_zone(&dir, 1, "192.0.2.80");
    let server = Server::start_zones(&[("example.test", &zone)], &["--workers", "1"]);

    let small = udp_exchange(
        server.udp,
        &query("big.example.test.", RecordType::TXT, false, false),
    );
    assert!(small.metadata.truncation, "no EDNS: 512 bytes, must be TC");
    assert!(small.answers.is_empty());

    let big = udp_exchange(
        server.udp,
        &query("big.example.test.", RecordType::TXT, true, false),
    );
    assert!(
        !big.metadata.truncation,
        "EDNS 1232 fits twelve 62-byte strings"
    );
    assert_eq!(big.answers.len(), 12);
    let edns = big.edns.as_ref().expect("OPT in reply");
    assert_eq!(edns.max_payload(), 1232);

    let tcp = tcp_exchange(
        server.tcp,
        &query("big.example.test.", RecordType::TXT, false, false),
    );
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 12);
}

#[test]
fn sighup_reloads_and_broken_edit_keeps_old_data() {
    let dir = common::scratch_dir("basics-hup");
    let zone = write_zone(&dir, 1, "192.0.2.80");
    let server = Server::start_zones(&[("example.test", &zone)], &["--workers", "1"]);
    let ask = || {
        udp_exchange(
            server.udp,
            &query("www.example.test.", RecordType::A, true, false),
        )
    };
    assert_eq!(a_records(&ask()), ["192.0.2.80"]);

    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if a_records(&ask()) == [want] {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };

    write_zone(&dir, 2, "192.0.2.99");
    hup();
    assert!(wait_for("192.0.2.99"), "SIGHUP did not load the new data");

    // A broken edit: reported with file:line:col, old data keeps serving.
    std::fs::write(
        &zone,
        "$ORIGIN example.test.\n@ 300 IN SOA ns1 admin 3 3600 600 86400 60\n@ 300 IN NS ns1\nwww 300 IN A 192.0.2.300\n",
    )
    .unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("not reloaded") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.stderr();
    assert!(
        log.contains("example.test.zone:4:"),
        "no position in log: {log}"
    );
    assert_eq!(a_records(&ask()), ["192.0.2.99"]);
}

#[test]
fn checkzone_and_checkconf() {
    let ok = Command::new(common::signpostctl_path())
        .args(["checkzone"])
        .arg(common::repo_path("zones/example.com.zone"))
        .arg("example.com")
        .output()
        .unwrap();
    assert!(ok.status.success());
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("serial 2026112301"), "{text}");

    let dir = common::scratch_dir("basics-check");
    let bad = dir.join("bad.zone");
    std::fs::write(
        &bad,
        "$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n@ IN NS ns\nns IN A 1.2.3\nx IN BOGUS 1\n",
    )
    .unwrap();
    let out = Command::new(common::signpostctl_path())
        .args(["checkzone"])
        .arg(&bad)
        .arg("bad.test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{}:4:", bad.display())),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!("{}:5:", bad.display())),
        "{lines:?}"
    );

    let conf = Command::new(common::signpostctl_path())
        .args(["checkconf"])
        .arg(common::repo_path("conf/signpost.toml"))
        .output()
        .unwrap();
    assert!(
        conf.status.success(),
        "{}",
        String::from_utf8_lossy(&conf.stdout)
    );
}

/// Every table of every shipped config rejects a key it does not know, with
/// the key's position (a typo must never be silently ignored).
#[test]
fn shipped_configs_reject_unknown_keys() {
    let dir = common::repo_path("conf");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        signpost::config::parse(&text, &path).expect("shipped config parses");
        let tables: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with('['))
            // A [cidr.NAME] table's keys are location names the operator
            // chooses: any key is valid there.
            .filter(|(_, l)| !l.trim_start().starts_with("[cidr."))
            .collect();
        assert!(!tables.is_empty());
        for (line_no, header) in tables {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.insert(line_no + 1, "bogus_key = 1");
            let broken = lines.join("\n");
            let errors = signpost::config::parse(&broken, &path)
                .expect_err(&format!("bogus key accepted in {header}"));
            let shown = errors[0].to_string();
            assert!(
                shown.starts_with(&format!("{}:{}:", path.display(), line_no + 2)),
                "{shown}"
            );
            assert!(shown.contains("bogus_key"), "{shown}");
        }
    }
}

/// The first `.EX` … `.EE` block of a man page's EXAMPLE section.
fn man_example(page: &str) -> String {
    let text = std::fs::read_to_string(common::repo_path(&format!("man/{page}"))).unwrap();
    let section = text.find(".SH EXAMPLE\n").expect("EXAMPLE section");
    let start = section + text[section..].find(".EX\n").expect("an example block") + 4;
    let end = start + text[start..].find("\n.EE").unwrap();
    text[start..end].replace("\\e", "\\")
}

#[test]
fn man_page_examples_load() {
    let dir = common::scratch_dir("basics-man");
    let zone = dir.join("example.com.zone");
    std::fs::write(&zone, man_example("signpost-zone.5")).unwrap();
    let origin = signpost::proto::Name::parse("example.com.", None).unwrap();
    let built = signpost::compile::zone_file(&origin, &zone, None).expect("zone example loads");
    assert_eq!(built.serial(), 2026112301);
    // $GENERATE made host1..host4.
    let host4 = signpost::proto::Name::parse("host4.example.com.", None).unwrap();
    assert!(built.has_name(&host4));

    let conf = man_example("signpost.toml.5");
    signpost::config::parse(&conf, &common::repo_path("conf/example.toml"))
        .expect("config example parses");
}

/// Two servers with two configs never share a control socket: each
/// config's socket sits next to it, `signpostctl -c CONFIG` finds it, and
/// every reply names the server (pid and config) that gave it.
#[test]
fn each_config_has_its_own_control_socket() {
    let start = |tag: &str| {
        let dir = common::scratch_dir(tag);
        std::fs::copy(
            common::repo_path("zones/example.com.zone"),
            dir.join("example.com.zone"),
        )
        .unwrap();
        let config = dir.join("signpost.toml");
        std::fs::write(
            &config,
            "[server]\nlisten = [\"127.0.0.1:0\"]\nwatch = false\n\n[[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n",
        )
        .unwrap();
        let server = Server::start_args(&["-c".into(), config.display().to_string()]);
        (server, config)
    };
    let (a, config_a) = start("basics-socket-a");
    let (b, config_b) = start("basics-socket-b");
    for (server, config) in [(&a, &config_a), (&b, &config_b)] {
        assert!(config.with_extension("sock").exists());
        let out = Command::new(common::signpostctl_path())
            .args(["status", "-c"])
            .arg(config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("config {}", config.display())),
            "{stdout}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let canonical = std::fs::canonicalize(config).unwrap();
        assert_eq!(
            stderr.trim(),
            format!("signpostd pid {} ({})", server.pid(), canonical.display())
        );
    }
}

/// `signpostctl status` exits 1 while a configured zone is not served or
/// the last reload failed, and 0 once all is well; `signpostctl stop`
/// stops the server as SIGTERM does. `--version` names the git revision.
#[test]
fn status_exit_code_follows_the_zones_and_stop_stops() {
    let dir = common::scratch_dir("basics-status");
    let zone = dir.join("example.com.zone");
    std::fs::write(&zone, "this is not a zone\n").unwrap();
    let config = dir.join("signpost.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\nwatch = false\n\n[[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n",
    )
    .unwrap();
    let mut server = Server::start_args(&["-c".into(), config.display().to_string()]);
    let ctl = |args: &[&str]| {
        let out = Command::new(common::signpostctl_path())
            .args(args)
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = ctl(&["status"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("not served"), "{text}");

    std::fs::copy(common::repo_path("zones/example.com.zone"), &zone).unwrap();
    let (code, text) = ctl(&["reload"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = ctl(&["status"]);
    assert_eq!(code, Some(0), "{text}");

    // A failed reload keeps the old zone serving, and status says so.
    std::fs::write(&zone, "broken again\n").unwrap();
    let (code, _) = ctl(&["reload"]);
    assert_eq!(code, Some(1));
    let (code, text) = ctl(&["status"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("serial 2026112301"), "{text}");

    let (code, text) = ctl(&["stop"]);
    assert_eq!(code, Some(0), "{text}");
    let started = Instant::now();
    while server.is_running() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !server.is_running(),
        "signpostctl stop did not stop the server"
    );
    assert!(!config.with_extension("sock").exists());

    let version = Command::new(common::signpostctl_path())
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!("signpostctl {} (git ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

/// Under systemd (Type=notify), the server says READY=1 with the zones it
/// serves once every zone is loaded and every socket bound, RELOADING=1
/// then READY=1 around a reload, and STOPPING=1 on the way out.
#[test]
fn the_service_manager_hears_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = common::scratch_dir("basics-notify");
    let notify_path = dir.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let next = || {
        let mut buf = [0u8; 1024];
        let n = notify.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let config = dir.join("signpost.toml");
    std::fs::copy(
        common::repo_path("zones/example.com.zone"),
        dir.join("example.com.zone"),
    )
    .unwrap();
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\nwatch = false\n\n[[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n",
    )
    .unwrap();
    let _server = Server::start_args_env(
        &["-c".into(), config.display().to_string()],
        &[("NOTIFY_SOCKET", &notify_path)],
    );
    assert_eq!(
        next(),
        "READY=1\nSTATUS=serving 1 of 1 zone: example.com. 2026112301"
    );
    let ctl = |command: &str| {
        let out = Command::new(common::signpostctl_path())
            .args([command, "-c"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    ctl("reload");
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(
        next(),
        "READY=1\nSTATUS=serving 1 of 1 zone: example.com. 2026112301"
    );
    ctl("stop");
    assert_eq!(next(), "STOPPING=1\nSTATUS=stopping");
}
