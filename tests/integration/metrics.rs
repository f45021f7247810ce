//! Prometheus metrics and `signpostctl stats`, scraped after a known mix
//! of queries: two zones (and a third that never loads), NOERROR,
//! NXDOMAIN, REFUSED outside every zone, a type without a mnemonic, policy
//! answers, UDP and TCP, a failed reload and a health transition. Every
//! count is checked exactly, on what Python's `prometheus_client` parser
//! reads from `GET /metrics`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{query, scratch_dir, signpostctl_path, tcp_exchange, udp_exchange, Server};

const ZONE_A: &str = "$ORIGIN a.test.\n$TTL 60\n\
@ IN SOA ns admin 7 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
www IN A 192.0.2.1\n\
w IN A 198.51.100.1 ;@ weighted id=blue weight=50 health=site\n\
w IN A 198.51.100.2 ;@ weighted id=green weight=50 health=site\n\
mv IN A 198.51.100.11 ;@ multivalue id=one\n\
mv IN A 198.51.100.12 ;@ multivalue id=two\n";

const ZONE_B: &str = "$ORIGIN b.test.\n$TTL 60\n\
@ IN SOA ns admin 42 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
www IN AAAA 2001:db8::1\n";

/// A loopback port free right now, for the metrics listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// The samples of an exposition as Python's prometheus_client parses
/// them: `name{k="v",…}` (labels sorted) → value.
fn parse_with_prometheus_client(text: &str) -> BTreeMap<String, f64> {
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ','.join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        print('%s{%s} %r' % (s.name, labels, s.value))
"#;
    // Debian's interpreter, where python3-prometheus-client installs.
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (tests/run.sh installs python3-prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client cannot parse the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn ctl(config: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(signpostctl_path())
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn metrics_count_a_known_mix_of_queries_exactly() {
    let dir = scratch_dir("metrics");
    std::fs::write(dir.join("a.test.zone"), ZONE_A).unwrap();
    std::fs::write(dir.join("b.test.zone"), ZONE_B).unwrap();
    // Never loads: no SOA.
    std::fs::write(
        dir.join("c.test.zone"),
        "$ORIGIN c.test.\nwww 60 IN A 192.0.2.9\n",
    )
    .unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("signpost.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 2\nwatch = false\n\n\
[metrics]\nlisten = \"{metrics}\"\n\n\
[health.site]\nstate = \"up\"\n\n\
[[zone]]\nname = \"a.test\"\nfile = \"a.test.zone\"\n\n\
[[zone]]\nname = \"b.test\"\nfile = \"b.test.zone\"\n\n\
[[zone]]\nname = \"c.test\"\nfile = \"c.test.zone\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_args(&["-c".into(), config.display().to_string()]);

    let ask =
        |name: &str, rtype: RecordType| udp_exchange(server.udp, &query(name, rtype, true, false));
    for _ in 0..3 {
        assert_eq!(ask("www.a.test.", RecordType::A).answers.len(), 1);
    }
    for _ in 0..2 {
        assert_eq!(
            ask("nope.a.test.", RecordType::A).metadata.response_code,
            ResponseCode::NXDomain
        );
    }
    for _ in 0..4 {
        assert_eq!(ask("w.a.test.", RecordType::A).answers.len(), 1);
    }
    assert_eq!(ask("mv.a.test.", RecordType::A).answers.len(), 2);
    assert_eq!(
        ask("x.elsewhere.", RecordType::A).metadata.response_code,
        ResponseCode::Refused
    );
    // TYPE65280 has no mnemonic: counted as "other".
    ask("www.a.test.", RecordType::Unknown(65280));
    let over_tcp = tcp_exchange(
        server.tcp,
        &query("www.b.test.", RecordType::AAAA, true, false),
    );
    assert_eq!(over_tcp.answers.len(), 1);

    // A reload that fails: b.test breaks and keeps serving serial 42.
    std::fs::write(
        dir.join("b.test.zone"),
        format!("{ZONE_B}broken IN A not-an-address\n"),
    )
    .unwrap();
    let (ok, text) = ctl(&config, &["reload"]);
    assert!(!ok, "a broken zone must fail the reload: {text}");
    // A health transition, by override.
    let (ok, text) = ctl(&config, &["health", "set", "site", "down"]);
    assert!(ok, "{text}");

    let (head, body) = http_get(metrics, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let samples = parse_with_prometheus_client(&body);
    let value = |key: &str| -> f64 {
        *samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key} in:\n{body}"))
    };
    let q = |zone: &str, qtype: &str, rcode: &str, transport: &str| {
        value(&format!(
            "signpost_queries_total{{qtype=\"{qtype}\",rcode=\"{rcode}\",transport=\"{transport}\",view=\"default\",zone=\"{zone}\"}}"
        ))
    };
    // 3 www + 4 w + 1 mv.
    assert_eq!(q("a.test.", "A", "NOERROR", "udp"), 8.0);
    assert_eq!(q("a.test.", "A", "NXDOMAIN", "udp"), 2.0);
    assert_eq!(q("", "A", "REFUSED", "udp"), 1.0);
    assert_eq!(q("a.test.", "other", "NOERROR", "udp"), 1.0);
    assert_eq!(q("b.test.", "AAAA", "NOERROR", "tcp"), 1.0);
    let total: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("signpost_queries_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 13.0, "{body}");

    let policy = |name: &str, set: &str| {
        samples
            .get(&format!(
                "signpost_policy_answers_total{{name=\"{name}\",set=\"{set}\",type=\"A\",zone=\"a.test.\"}}"
            ))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(
        policy("w.a.test.", "blue") + policy("w.a.test.", "green"),
        4.0,
        "{body}"
    );
    assert_eq!(policy("mv.a.test.", "one"), 1.0);
    assert_eq!(policy("mv.a.test.", "two"), 1.0);

    assert_eq!(
        value("signpost_response_size_bytes_count{transport=\"udp\"}"),
        12.0
    );
    assert_eq!(
        value("signpost_response_size_bytes_count{transport=\"tcp\"}"),
        1.0
    );
    assert_eq!(
        value("signpost_responses_truncated_total{transport=\"udp\"}"),
        0.0
    );
    assert_eq!(value("signpost_reloads_total{result=\"failure\"}"), 1.0);
    assert_eq!(value("signpost_reloads_total{result=\"success\"}"), 0.0);
    assert_eq!(value("signpost_health_up{check=\"site\"}"), 0.0);
    assert_eq!(
        value("signpost_health_transitions_total{check=\"site\"}"),
        1.0
    );
    let zone = |metric: &str, zone: &str, file: &str| {
        value(&format!(
            "{metric}{{file=\"{}\",zone=\"{zone}\"}}",
            dir.join(file).display()
        ))
    };
    assert_eq!(zone("signpost_zone_loaded", "a.test.", "a.test.zone"), 1.0);
    assert_eq!(zone("signpost_zone_loaded", "b.test.", "b.test.zone"), 1.0);
    assert_eq!(zone("signpost_zone_loaded", "c.test.", "c.test.zone"), 0.0);
    assert_eq!(zone("signpost_zone_serial", "a.test.", "a.test.zone"), 7.0);
    assert_eq!(zone("signpost_zone_serial", "b.test.", "b.test.zone"), 42.0);
    assert_eq!(value("signpost_tcp_connections_total{}"), 1.0);
    assert!(samples
        .keys()
        .any(|k| k.starts_with("signpost_build_info{")));

    // signpostctl stats prints the same families.
    let (ok, stats) = ctl(&config, &["stats"]);
    assert!(ok, "{stats}");
    let from_ctl = parse_with_prometheus_client(&stats);
    assert_eq!(
        from_ctl.get("signpost_reloads_total{result=\"failure\"}"),
        Some(&1.0)
    );
    assert!(from_ctl
        .keys()
        .any(|k| k.starts_with("signpost_queries_total{")));

    // Anything but /metrics is 404.
    let (head, _) = http_get(metrics, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}
