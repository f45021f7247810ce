//! Routing policies over the real binary: weighted draws, failover,
//! geolocation by ECS and by source address with the ECS scope, CIDR
//! collections, multivalue, ALIAS at the apex with evaluate-health, and
//! annotation errors with their positions.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{self, query, Server};

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]
workers = 1

[control]
socket = "DIR/control.sock"

[geo]
database = "GEO"

[[region]]
name = "eu-central"
latitude = 50.11
longitude = 8.68

[[region]]
name = "us-west"
latitude = 37.77
longitude = -122.42

[[latency]]
prefix = "127.0.0.4/32"
ms = { eu-central = 120, us-west = 15 }

[cidr.corp]
office = ["127.0.0.0/24"]
lab = ["127.0.0.2/32"]
vpn = ["192.0.2.0/24"]

[health.up]
state = "up"

[health.down]
state = "down"

[[zone]]
name = "policy.test"
file = "policy.test.zone"
"#;

const ZONE: &str = r#"$ORIGIN policy.test.
$TTL 60
@        IN SOA ns hostmaster 1 3600 600 86400 60
@        IN NS  ns
ns       IN A   192.0.2.53
; Apex ALIAS over a failover pair; evaluate-health sees the target's state.
@        IN ALIAS www
www      IN A   198.51.100.1 ;@ weighted id=blue weight=70
www      IN A   198.51.100.2 ;@ weighted id=green weight=30
zero     IN A   198.51.100.10 ;@ weighted id=a weight=0
zero     IN A   198.51.100.11 ;@ weighted id=b weight=0
standby  IN A   198.51.100.20 ;@ weighted id=main weight=100 health=down
standby  IN A   198.51.100.21 ;@ weighted id=spare weight=0 health=up
fo-up    IN A   192.0.2.1 ;@ failover id=p role=primary health=up
fo-up    IN A   192.0.2.2 ;@ failover id=s role=secondary health=up
fo-down  IN A   192.0.2.1 ;@ failover id=p role=primary health=down
fo-down  IN A   192.0.2.2 ;@ failover id=s role=secondary health=up
fo-both  IN A   192.0.2.1 ;@ failover id=p role=primary health=down
fo-both  IN A   192.0.2.2 ;@ failover id=s role=secondary health=down
geo      IN A   203.0.113.1 ;@ geolocation id=by subdivision=DE-BY
geo      IN A   203.0.113.2 ;@ geolocation id=de country=DE
geo      IN A   203.0.113.3 ;@ geolocation id=eu continent=EU
geo      IN A   203.0.113.4 ;@ geolocation id=us country=US
geo      IN A   203.0.113.9 ;@ geolocation id=any location=*
geo-sick IN A   203.0.113.1 ;@ geolocation id=by subdivision=DE-BY health=down
geo-sick IN A   203.0.113.2 ;@ geolocation id=de country=DE health=down
geo-sick IN A   203.0.113.3 ;@ geolocation id=eu continent=EU
nodef    IN A   203.0.113.4 ;@ geolocation id=us country=US
near     IN A   203.0.113.21 ;@ geoproximity id=eu region=eu-central
near     IN A   203.0.113.22 ;@ geoproximity id=us region=us-west
lat      IN A   203.0.113.31 ;@ latency id=eu region=eu-central
lat      IN A   203.0.113.32 ;@ latency id=us region=us-west
; Sao Paulo is 9,829 km from Frankfurt and 10,434 km from San Francisco:
; a bias of 10 on us-west (10,434 x 0.9 = 9,391) moves it west.
bias     IN A   203.0.113.41 ;@ geoproximity id=fra region=eu-central
bias     IN A   203.0.113.42 ;@ geoproximity id=sfo region=us-west bias=10
net      IN A   192.0.2.101 ;@ cidr id=office collection=corp location=office
net      IN A   192.0.2.102 ;@ cidr id=lab collection=corp location=lab
net      IN A   192.0.2.103 ;@ cidr id=other collection=corp location=*
mv       IN A   198.51.100.1 ;@ multivalue id=m1
mv       IN A   198.51.100.2 ;@ multivalue id=m2
mv       IN A   198.51.100.3 ;@ multivalue id=m3
mv       IN A   198.51.100.4 ;@ multivalue id=m4
mv       IN A   198.51.100.5 ;@ multivalue id=m5
mv       IN A   198.51.100.6 ;@ multivalue id=m6
mv       IN A   198.51.100.7 ;@ multivalue id=m7
mv       IN A   198.51.100.8 ;@ multivalue id=m8
mv       IN A   198.51.100.9 ;@ multivalue id=m9
mv       IN A   198.51.100.10 ;@ multivalue id=m10
mvdown   IN A   198.51.100.1 ;@ multivalue id=d1 health=down
mvdown   IN A   198.51.100.2 ;@ multivalue id=d2 health=down
mvdown   IN A   198.51.100.3 ;@ multivalue id=d3 health=down
plain    IN A   192.0.2.200
; ALIAS loops and ALIAS into a CNAME chain.
loop1    IN ALIAS loop2
loop2    IN ALIAS loop1
viacname IN ALIAS cn
cn    30 IN CNAME plain
; Two levels: geolocation picks a continent, failover inside it.
tree     IN ALIAS eu.tree ;@ geolocation id=eu continent=EU evaluate-health
tree     IN ALIAS us.tree ;@ geolocation id=rest location=* evaluate-health
eu.tree  IN A   192.0.2.61 ;@ failover id=p role=primary health=down
eu.tree  IN A   192.0.2.62 ;@ failover id=s role=secondary health=down
us.tree  IN A   192.0.2.71 ;@ failover id=p role=primary health=up
us.tree  IN A   192.0.2.72 ;@ failover id=s role=secondary health=up
"#;

struct Setup {
    server: Server,
    _dir: std::path::PathBuf,
}

fn start() -> Setup {
    let dir = common::scratch_dir("policies");
    let geo = common::repo_path("tests/data/geo/test-city.mmdb");
    let config = CONFIG
        .replace("GEO", &geo.display().to_string())
        .replace("DIR", &dir.display().to_string());
    std::fs::write(dir.join("signpost.toml"), config).unwrap();
    std::fs::write(dir.join("policy.test.zone"), ZONE).unwrap();
    let server =
        Server::start_args(&["-c".into(), dir.join("signpost.toml").display().to_string()]);
    Setup { server, _dir: dir }
}

/// A query with an optional ECS option, from a chosen loopback address.
fn ask_from(server: SocketAddr, from: &str, name: &str, ecs: Option<(&str, u8)>) -> Message {
    let mut msg = query(name, RecordType::A, true, false);
    if let Some((addr, prefix)) = ecs {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        let addr: IpAddr = addr.parse().unwrap();
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
        msg.set_edns(edns);
    }
    let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    sock.send_to(&msg.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("reply");
    Message::from_vec(&buf[..n]).unwrap()
}

fn addresses(msg: &Message) -> Vec<String> {
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

fn scope(msg: &Message) -> Option<u8> {
    match msg.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(s.scope_prefix()),
        _ => None,
    }
}

fn one(server: SocketAddr, name: &str, ecs: Option<(&str, u8)>) -> String {
    let reply = ask_from(server, "127.0.0.1", name, ecs);
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{name}"
    );
    let a = addresses(&reply);
    assert_eq!(a.len(), 1, "{name}: {a:?}");
    a[0].clone()
}

#[test]
fn weighted_draws_follow_the_weights() {
    let s = start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let total = 20_000;
    let mut buf = [0u8; 1500];
    // Windows of 50 in flight keep it quick and bounded.
    let mut sent = 0;
    while sent < total {
        let batch = 50.min(total - sent);
        for _ in 0..batch {
            let q = query("www.policy.test.", RecordType::A, false, false);
            sock.send_to(&q.to_vec().unwrap(), s.server.udp).unwrap();
        }
        for _ in 0..batch {
            let (n, _) = sock.recv_from(&mut buf).expect("reply");
            let reply = Message::from_vec(&buf[..n]).unwrap();
            for a in addresses(&reply) {
                *counts.entry(a).or_default() += 1;
            }
        }
        sent += batch;
    }
    let blue = f64::from(counts["198.51.100.1"]) / f64::from(total);
    let green = f64::from(counts["198.51.100.2"]) / f64::from(total);
    assert!((blue - 0.70).abs() <= 0.02, "blue {blue}");
    assert!((green - 0.30).abs() <= 0.02, "green {green}");

    // All weights zero: equal chances.
    let mut zero: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..400 {
        *zero
            .entry(one(s.server.udp, "zero.policy.test.", None))
            .or_default() += 1;
    }
    assert_eq!(zero.len(), 2, "{zero:?}");
    assert!(zero.values().all(|&c| c > 120), "{zero:?}");

    // The only weighted set is down: the healthy zero-weight set answers.
    for _ in 0..20 {
        assert_eq!(
            one(s.server.udp, "standby.policy.test.", None),
            "198.51.100.21"
        );
    }
}

#[test]
fn failover_follows_health() {
    let s = start();
    assert_eq!(one(s.server.udp, "fo-up.policy.test.", None), "192.0.2.1");
    assert_eq!(one(s.server.udp, "fo-down.policy.test.", None), "192.0.2.2");
    // Both down: the primary.
    assert_eq!(one(s.server.udp, "fo-both.policy.test.", None), "192.0.2.1");
}

#[test]
fn geolocation_by_ecs_and_by_source_with_scope() {
    let s = start();
    let udp = s.server.udp;
    // 192.0.2.0/24 is DE/BY in the test database.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("192.0.2.0", 24)),
    );
    assert_eq!(addresses(&r), ["203.0.113.1"]);
    assert_eq!(scope(&r), Some(24));
    // A /16 source prefix narrower than the database network: scope is capped.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("192.0.0.0", 16)),
    );
    assert_eq!(scope(&r).map(|s| s <= 16), Some(true));
    // FR: no subdivision or country set, so the continent.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("203.0.113.128", 25)),
    );
    assert_eq!(addresses(&r), ["203.0.113.3"]);
    assert_eq!(scope(&r), Some(25));
    // US/CA: country.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("198.51.100.0", 24)),
    );
    assert_eq!(addresses(&r), ["203.0.113.4"]);
    // ZA: only the default matches.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("100.80.0.0", 16)),
    );
    assert_eq!(addresses(&r), ["203.0.113.9"]);
    // A continent-only record.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "geo.policy.test.",
        Some(("100.101.0.0", 16)),
    );
    assert_eq!(addresses(&r), ["203.0.113.3"]);

    // By source address: 127.0.0.1 is DE/BY, 127.0.0.2 US/CA.
    let r = ask_from(udp, "127.0.0.1", "geo.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.1"]);
    let r = ask_from(udp, "127.0.0.2", "geo.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.4"]);

    // Unhealthy subdivision and country fall back to the continent.
    let r = ask_from(udp, "127.0.0.1", "geo-sick.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.3"]);

    // No match and no default: NODATA with the SOA.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "nodef.policy.test.",
        Some(("192.0.2.0", 24)),
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities.len(), 1);

    // Location did not matter: scope 0.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "plain.policy.test.",
        Some(("192.0.2.0", 24)),
    );
    assert_eq!(scope(&r), Some(0));
}

#[test]
fn geoproximity_latency_and_cidr() {
    let s = start();
    let udp = s.server.udp;
    // Munich is nearer Frankfurt, San Francisco nearer us-west.
    let r = ask_from(udp, "127.0.0.1", "near.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.21"]);
    let r = ask_from(udp, "127.0.0.2", "near.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.22"]);
    // New York: estimated latency (distance) favours us-west over Frankfurt?
    // NY-SF 4,130 km, NY-Frankfurt 6,200 km: us-west.
    let r = ask_from(udp, "127.0.0.3", "lat.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.32"]);

    // The latency table overrides distance: Paris (127.0.0.4) measured
    // 15 ms to us-west.
    let r = ask_from(udp, "127.0.0.4", "lat.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.32"]);
    // Without a table row, Paris is nearer Frankfurt.
    let r = ask_from(udp, "127.0.0.4", "near.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.21"]);
    // The bias moves the boundary client, and only it.
    let r = ask_from(udp, "127.0.0.7", "near.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.21"]);
    let r = ask_from(udp, "127.0.0.7", "bias.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.42"]);
    let r = ask_from(udp, "127.0.0.1", "bias.policy.test.", None);
    assert_eq!(addresses(&r), ["203.0.113.41"]);

    // CIDR: 127.0.0.2/32 (lab) beats 127.0.0.0/24 (office).
    let r = ask_from(udp, "127.0.0.2", "net.policy.test.", None);
    assert_eq!(addresses(&r), ["192.0.2.102"]);
    let r = ask_from(udp, "127.0.0.3", "net.policy.test.", None);
    assert_eq!(addresses(&r), ["192.0.2.101"]);
    // By ECS: vpn is not a location with a set, so the default.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "net.policy.test.",
        Some(("192.0.2.0", 24)),
    );
    assert_eq!(addresses(&r), ["192.0.2.103"]);
    assert_eq!(scope(&r), Some(24));
    let r = ask_from(udp, "127.0.0.1", "net.policy.test.", Some(("10.0.0.0", 8)));
    assert_eq!(addresses(&r), ["192.0.2.103"]);
}

#[test]
fn multivalue_answers_up_to_eight_shuffled() {
    let s = start();
    let mut orders = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let r = ask_from(s.server.udp, "127.0.0.1", "mv.policy.test.", None);
        let raw: Vec<String> = r.answers.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(raw.len(), 8, "{raw:?}");
        orders.insert(raw);
    }
    assert!(orders.len() > 5, "answers are not shuffled");
    // None healthy: the unhealthy ones.
    let r = ask_from(s.server.udp, "127.0.0.1", "mvdown.policy.test.", None);
    assert_eq!(addresses(&r).len(), 3);
}

#[test]
fn alias_at_apex_and_nested_tree() {
    let s = start();
    let udp = s.server.udp;
    let r = ask_from(udp, "127.0.0.1", "policy.test.", None);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    let a = addresses(&r);
    assert_eq!(a.len(), 1);
    assert!(a[0].starts_with("198.51.100."), "{a:?}");
    assert_eq!(r.answers[0].name.to_string(), "policy.test.");
    assert_eq!(r.answers[0].ttl, 60);
    // A loop ends in NODATA, not a hang or SERVFAIL.
    let r = ask_from(udp, "127.0.0.1", "loop1.policy.test.", None);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities.len(), 1);
    // Through a CNAME: the final A records under the ALIAS owner, with the
    // TTL of the records answered (60), the CNAME itself not shown.
    let r = ask_from(udp, "127.0.0.1", "viacname.policy.test.", None);
    assert_eq!(addresses(&r), ["192.0.2.200"]);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].name.to_string(), "viacname.policy.test.");
    // The SOA at the apex is still there.
    let soa = common::udp_exchange(udp, &query("policy.test.", RecordType::SOA, true, false));
    assert_eq!(soa.answers.len(), 1);

    // Europe's failover pair is all down, so evaluate-health moves an EU
    // client to the default branch.
    let r = ask_from(
        udp,
        "127.0.0.1",
        "tree.policy.test.",
        Some(("192.0.2.0", 24)),
    );
    assert_eq!(addresses(&r), ["192.0.2.71"]);
    let r = ask_from(
        udp,
        "127.0.0.1",
        "tree.policy.test.",
        Some(("198.51.100.0", 24)),
    );
    assert_eq!(addresses(&r), ["192.0.2.71"]);
}

#[test]
fn annotation_errors_have_positions() {
    let dir = common::scratch_dir("policy-errors");
    let zone = dir.join("bad.zone");
    std::fs::write(
        &zone,
        "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n\
         a A 192.0.2.1 ;@ weighted id=x weight=300\n\
         b A 192.0.2.1 ;@ sometimes id=x\n\
         c A 192.0.2.1 ;@ weighted id=x weight=1 health=nope\n\
         d A 192.0.2.1 ;@ weighted id=x weight=1\n\
         d A 192.0.2.2\n\
         e A 192.0.2.1 ;@ failover id=p role=primary\n\
         e A 192.0.2.2 ;@ failover id=q role=primary\n\
         f A 192.0.2.1 ;@ weighted weight=5\n\
         g A 192.0.2.1 ;@ latency id=x region=mars\n\
         h A 192.0.2.1 ;@ geoproximity id=x coordinates=91,0\n\
         i A 192.0.2.1 ;@ weighted id=x weight=1\n\
         i A 192.0.2.2 ;@ failover id=y role=primary\n\
         j A 192.0.2.1 ;@ geoproximity id=x coordinates=1,2 bias=150\n\
         k A 192.0.2.1 ;@ cidr id=x collection=nowhere location=*\n\
         l A 192.0.2.1 ;@ weighted id=x weight=1 colour=red\n\
         m A 192.0.2.1 ;@ weighted id=x weight=1\n\
         m A 192.0.2.2 ;@ weighted id=x weight=2\n",
    )
    .unwrap();
    let origin = signpost::proto::Name::parse("bad.test.", None).unwrap();
    let Err(errors) = signpost::compile::zone_file(&origin, &zone, None) else {
        panic!("the zone must fail to load");
    };
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let at = |line: u32, col: u32| format!("{}:{line}:{col}: ", zone.display());
    // (line, the word the error points at, what the message says)
    let expect = [
        (4, "weight=300", "weight"),
        (5, "sometimes", "unknown routing policy"),
        (6, "health=nope", "unknown health check"),
        (8, "d", "plain A record beside"),
        (10, "e", "duplicates"),
        (11, "weighted", "needs id="),
        (12, "region=mars", "unknown region"),
        (13, "coordinates=", "coordinates"),
        (15, "i", "one policy per record set"),
        (16, "bias=", "bias"),
        (17, "collection=", "unknown CIDR collection"),
        (18, "colour=", "unknown key"),
        (20, "m", "different settings"),
    ];
    let text = std::fs::read_to_string(&zone).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), expect.len(), "{shown:#?}");
    for ((line, word, message), got) in expect.iter().zip(&shown) {
        let col = lines[*line as usize - 1].find(word).unwrap() as u32 + 1;
        assert!(
            got.starts_with(&at(*line, col)),
            "want {line}:{col}, got {got}"
        );
        assert!(got.contains(message), "want {message:?} in {got}");
    }
}

#[test]
fn explain_shows_each_decision() {
    let s = start();
    let out = std::process::Command::new(common::signpostctl_path())
        .args([
            "explain",
            "tree.policy.test",
            "A",
            "--client",
            "192.0.2.0/24",
            "-c",
        ])
        .arg(s._dir.join("signpost.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for want in [
        "source: the running server's zones and live health states",
        "view: default",
        "zone: policy.test.",
        "client: 192.0.2.0/24 (as EDNS Client Subnet)",
        "geolocation policy",
        "continent=EU",
        "unhealthy",
        "chose set rest",
        "ALIAS to us.tree.policy.test.",
        "failover policy",
        "answer: tree.policy.test. 60 IN A 192.0.2.71",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

fn explain(s: &Setup, name: &str, client: &str, offline: bool) -> String {
    let mut cmd = std::process::Command::new(common::signpostctl_path());
    cmd.args(["explain", name, "A", "--client", client, "-c"])
        .arg(s._dir.join("signpost.toml"));
    if offline {
        cmd.arg("--offline");
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

/// Explain asks the running server, so an operator's override shows up at
/// once; `--offline` reads the files and the configured states instead.
#[test]
fn explain_uses_live_health_states() {
    let s = start();
    let before = explain(&s, "fo-down.policy.test", "127.0.0.1", false);
    assert!(
        before.contains("answer: fo-down.policy.test. 60 IN A 192.0.2.2"),
        "{before}"
    );
    let out = std::process::Command::new(common::signpostctl_path())
        .args(["health", "set", "down", "up", "--control"])
        .arg(s._dir.join("control.sock"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let live = explain(&s, "fo-down.policy.test", "127.0.0.1", false);
    assert!(live.contains("live health states"), "{live}");
    assert!(
        live.contains("answer: fo-down.policy.test. 60 IN A 192.0.2.1"),
        "{live}"
    );
    // The server itself answers the same.
    let reply = ask_from(s.server.udp, "127.0.0.1", "fo-down.policy.test.", None);
    assert_eq!(addresses(&reply), ["192.0.2.1"]);
    let offline = explain(&s, "fo-down.policy.test", "127.0.0.1", true);
    assert!(offline.contains("the files on disk"), "{offline}");
    assert!(
        offline.contains("answer: fo-down.policy.test. 60 IN A 192.0.2.2"),
        "{offline}"
    );
}

/// The `explain` example of signpostctl(8), run against the shipped
/// traffic example, prints what the page shows.
#[test]
fn man_page_explain_example_is_true() {
    let page = std::fs::read_to_string(common::repo_path("man/signpostctl.8")).unwrap();
    let start = page.find("$ signpostctl explain").expect("example");
    let end = start + page[start..].find("\n.EE").unwrap();
    let example = page[start..end].replace("\\-", "-");
    let mut lines = example.lines();
    let command = lines.next().unwrap().trim_start_matches("$ ");
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = std::process::Command::new(common::signpostctl_path())
        .args(&args)
        .current_dir(common::repo_path(""))
        .output()
        .unwrap();
    assert!(out.status.success());
    let got = String::from_utf8_lossy(&out.stdout);
    let want: Vec<&str> = lines.collect();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, want);
}
