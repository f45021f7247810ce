//! ALIAS to names outside our zones (a load balancer, a CDN), resolved
//! through `[resolver]` upstreams: here a real `knotd` serving `elb.test.`
//! on loopback stands in for the cloud's DNS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{self, query, scratch_dir, tcp_exchange, udp_exchange, Server};
use crate::views::{a_of, common_wait};

const KNOTD: &str = "/usr/sbin/knotd";

/// `knotd` serving one zone from a file; killed by PID when dropped.
struct Knot {
    child: Option<Child>,
    addr: SocketAddr,
    zone_file: PathBuf,
}

fn elb_zone(serial: u32, lb: &str) -> String {
    format!(
        "$ORIGIN elb.test.\n$TTL 5\n@ SOA ns admin {serial} 3600 600 86400 5\n@ NS ns\nns A 192.0.2.53\n\
         lb A {lb}\nlb AAAA 2001:db8::10\nother A 198.51.100.7\nonly6 AAAA 2001:db8::6\n\
         cdn CNAME lb\n"
    )
}

impl Knot {
    fn start(dir: &Path, zone: &str) -> Self {
        assert!(
            Path::new(KNOTD).exists(),
            "{KNOTD} missing: run the tests with `sh tests/run.sh`, which installs knot"
        );
        for sub in ["zones", "run", "db"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let zone_file = dir.join("zones/elb.test.zone");
        std::fs::write(&zone_file, zone).unwrap();
        let port = common::free_port();
        let conf = format!(
            "server:\n    rundir: \"{run}\"\n    listen: 127.0.0.1@{port}\n\
             log:\n  - target: stderr\n    any: warning\n\
             database:\n    storage: \"{db}\"\n\
             zone:\n  - domain: elb.test.\n    file: \"{file}\"\n\
             \x20   zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n",
            run = dir.join("run").display(),
            db = dir.join("db").display(),
            file = zone_file.display(),
        );
        let conf_path = dir.join("knot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(KNOTD)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("knotd.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {KNOTD}: {e}"));
        let knot = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone_file,
        };
        let soa = query("elb.test.", RecordType::SOA, false, false);
        let ready = common_wait(Duration::from_secs(15), || {
            common::udp_raw(
                knot.addr,
                &soa.to_vec().unwrap(),
                Duration::from_millis(200),
            )
            .and_then(|r| Message::from_vec(&r).ok())
            .is_some_and(|m| !m.answers.is_empty())
        });
        assert!(ready, "knotd did not serve elb.test. in 15 s");
        knot
    }

    /// New zone content, reloaded by SIGHUP.
    fn replace(&self, zone: &str) {
        std::fs::write(&self.zone_file, zone).unwrap();
        let pid = self.child.as_ref().unwrap().id();
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        self.stop();
    }
}

const ZONE: &str = "$ORIGIN example.com.\n$TTL 300\n\
@ SOA ns admin 1 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n\
@ ALIAS lb.elb.test.\n\
cdn 300 ALIAS cdn.elb.test.\n\
short 2 ALIAS lb.elb.test.\n\
v6 ALIAS only6.elb.test.\n\
w ALIAS lb.elb.test. ;@ weighted id=lb weight=1\n\
w ALIAS other.elb.test. ;@ weighted id=other weight=1\n\
fo ALIAS gone.elb.test. ;@ failover id=main role=primary evaluate-health\n\
fo ALIAS other.elb.test. ;@ failover id=backup role=secondary\n\
up ALIAS lb.elb.test. ;@ failover id=main role=primary evaluate-health\n\
up ALIAS other.elb.test. ;@ failover id=backup role=secondary\n";

fn config(upstream: SocketAddr, extra: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n\n\
         [[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n\n\
         [resolver]\nupstreams = [\"{upstream}\"]\ntimeout = 0.5\n{extra}"
    )
}

fn start_signpost(dir: &Path, config_text: &str) -> Server {
    std::fs::write(dir.join("example.com.zone"), ZONE).unwrap();
    std::fs::write(dir.join("signpost.toml"), config_text).unwrap();
    Server::start_args(&["-c".into(), dir.join("signpost.toml").display().to_string()])
}

fn ask(server: &Server, name: &str, rtype: RecordType) -> Message {
    udp_exchange(server.udp, &query(name, rtype, true, false))
}

fn ttl_of(msg: &Message) -> u32 {
    msg.answers.first().map(|r| r.ttl).expect("an answer")
}

#[test]
fn apex_alias_follows_an_external_target_and_outlives_its_upstream() {
    let dir = scratch_dir("alias-external");
    let mut knot = Knot::start(&dir.join("knot"), &elb_zone(1, "192.0.2.10"));
    let server = start_signpost(&dir, &config(knot.addr, "stale_ttl = 1\n"));

    // The apex answers with the balancer's addresses under our name, over
    // UDP and TCP, with TTL = min(upstream's 5, the record's 300).
    let a = ask(&server, "example.com.", RecordType::A);
    assert_eq!(a.response_code, ResponseCode::NoError);
    assert!(a.authoritative);
    assert_eq!(a_of(&a), ["192.0.2.10"], "{a:?}");
    assert!(ttl_of(&a) <= 5, "{a:?}");
    assert_eq!(a.answers[0].name.to_ascii(), "example.com.");
    let tcp = tcp_exchange(
        server.tcp,
        &query("example.com.", RecordType::AAAA, true, false),
    );
    let six: Vec<String> = tcp
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::AAAA(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(six, ["2001:db8::10"]);
    // A CNAME upstream is followed; the record's own TTL caps the answer.
    let cdn = ask(&server, "cdn.example.com.", RecordType::A);
    assert_eq!(a_of(&cdn), ["192.0.2.10"]);
    let short = ask(&server, "short.example.com.", RecordType::A);
    assert!(ttl_of(&short) <= 2, "{short:?}");
    // A target with no A records: NODATA with our SOA; other types too.
    let v6 = ask(&server, "v6.example.com.", RecordType::A);
    assert_eq!(v6.response_code, ResponseCode::NoError);
    assert!(
        v6.answers.is_empty() && !v6.authorities.is_empty(),
        "{v6:?}"
    );
    let mx = ask(&server, "example.com.", RecordType::MX);
    assert!(mx.answers.is_empty() && mx.response_code == ResponseCode::NoError);

    // explain shows where the addresses came from and how old they are.
    let out = Command::new(common::signpostctl_path())
        .args([
            "explain",
            "example.com.",
            "A",
            "--client",
            "127.0.0.1",
            "-c",
        ])
        .arg(dir.join("signpost.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ALIAS to lb.elb.test. (outside our zones): 192.0.2.10 from upstream ")
            && text.contains(" s ago, TTL "),
        "{text}"
    );

    // Policies over external aliases: both weighted sets answer, and a
    // failover primary whose target does not resolve falls over.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        seen.extend(a_of(&ask(&server, "w.example.com.", RecordType::A)));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["192.0.2.10", "198.51.100.7"]
    );
    assert_eq!(
        a_of(&ask(&server, "fo.example.com.", RecordType::A)),
        ["198.51.100.7"]
    );
    assert_eq!(
        a_of(&ask(&server, "up.example.com.", RecordType::A)),
        ["192.0.2.10"]
    );

    // A change upstream shows within the target's TTL (5 s): fetched
    // again at 3/4 of it.
    knot.replace(&elb_zone(2, "192.0.2.20"));
    let changed_at = Instant::now();
    let followed = common_wait(Duration::from_secs(12), || {
        a_of(&ask(&server, "example.com.", RecordType::A)) == ["192.0.2.20"]
    });
    assert!(followed, "the apex never followed the upstream change");
    assert!(
        changed_at.elapsed() <= Duration::from_secs(5 + 2),
        "took {:?}",
        changed_at.elapsed()
    );

    // Upstream gone: past the TTL the last answer is still served, with
    // the short stale TTL, and failover decisions stand.
    knot.stop();
    std::thread::sleep(Duration::from_secs(7));
    let stale = ask(&server, "example.com.", RecordType::A);
    assert_eq!(stale.response_code, ResponseCode::NoError);
    assert_eq!(a_of(&stale), ["192.0.2.20"]);
    assert!(ttl_of(&stale) <= 1, "{stale:?}");
    assert_eq!(
        a_of(&ask(&server, "up.example.com.", RecordType::A)),
        ["192.0.2.20"]
    );
}

#[test]
fn never_resolved_targets_answer_servfail() {
    let dir = scratch_dir("alias-unresolved");
    // Nothing listens there: no answer was ever had.
    let dead = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let server = start_signpost(&dir, &config(dead, ""));
    let a = ask(&server, "example.com.", RecordType::A);
    assert_eq!(a.response_code, ResponseCode::ServFail, "{a:?}");
    // Both failover targets unresolved: the primary answers (SPEC §3,
    // both unhealthy → primary), and it has nothing either.
    let fo = ask(&server, "up.example.com.", RecordType::A);
    assert_eq!(fo.response_code, ResponseCode::ServFail, "{fo:?}");
}

#[test]
fn an_external_alias_without_a_resolver_is_a_load_error() {
    let dir = scratch_dir("alias-no-resolver");
    std::fs::write(dir.join("example.com.zone"), ZONE).unwrap();
    std::fs::write(
        dir.join("signpost.toml"),
        "[[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n",
    )
    .unwrap();
    let out = Command::new(common::signpostctl_path())
        .arg("checkconf")
        .arg(dir.join("signpost.toml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Every external ALIAS record is named, at its line.
    let zone = dir.join("example.com.zone");
    for line in 6..=15 {
        assert!(
            text.contains(&format!("{}:{line}:1: ALIAS target", zone.display())),
            "line {line} not reported:\n{text}"
        );
    }
    assert!(text.contains("[resolver]"), "{text}");
}
