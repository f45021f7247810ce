//! The query log: one JSON line per query with the client, name, type,
//! response code, view, zone, policy set and ECS; the same queries as
//! dnstap AUTH_QUERY/AUTH_RESPONSE pairs in a file `dnstap-read` reads and
//! on a Unix socket to `fstrm_capture`, a Frame Streams collector; and
//! exactly one query in N with `sample = N`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::common::{
    query, require_tool, scratch_dir, signpostctl_path, tcp_exchange, udp_exchange, Server,
};

const ZONE: &str = "$ORIGIN a.test.\n$TTL 60\n\
@ IN SOA ns admin 7 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
www IN A 192.0.2.1\n\
w IN A 198.51.100.1 ;@ cidr id=in collection=nets location=inside\n\
w IN A 198.51.100.2 ;@ cidr id=out collection=nets location=*\n";

fn write_config(dir: &Path, log: &str) -> PathBuf {
    std::fs::write(dir.join("a.test.zone"), ZONE).unwrap();
    let config = dir.join("signpost.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n\n\
[query_log]\n{log}\n\n\
[cidr.nets]\ninside = [\"198.51.100.0/24\"]\n\n\
[[zone]]\nname = \"a.test\"\nfile = \"a.test.zone\"\n"
        ),
    )
    .unwrap();
    config
}

/// `signpostctl stop`, then waits for the server to exit (so the log is
/// complete and each dnstap stream ended).
fn stop(mut server: Server, config: &Path) {
    let out = Command::new(signpostctl_path())
        .args(["stop", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.is_running() {
        assert!(Instant::now() < deadline, "signpostd did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `dnstap-read FILE`: one line per message.
fn dnstap_read(file: &Path) -> Vec<String> {
    let out = Command::new("dnstap-read").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "dnstap-read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A Frame Streams collector, ended by SIGTERM to its PID.
struct Capture(Child);

impl Capture {
    fn start(socket: &Path, file: &Path) -> Self {
        let child = Command::new("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
            .arg(socket)
            .arg("-w")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fstrm_capture (tests/run.sh installs fstrm-bin)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "fstrm_capture made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child)
    }

    fn finish(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_query_is_logged_as_json_and_dnstap() {
    require_tool("dnstap-read", "bind9-dnsutils");
    require_tool("fstrm_capture", "fstrm-bin");
    let dir = scratch_dir("querylog");
    let capture_socket = dir.join("collector.sock");
    let captured = dir.join("captured.dnstap");
    let capture = Capture::start(&capture_socket, &captured);
    let config = write_config(
        &dir,
        "json = \"queries.jsonl\"\ndnstap_file = \"queries.dnstap\"\ndnstap_socket = \"collector.sock\"",
    );
    let server = Server::start_args(&["-c".into(), config.display().to_string()]);

    let ask = |name: &str| udp_exchange(server.udp, &query(name, RecordType::A, true, false));
    ask("www.a.test.");
    ask("nope.a.test.");
    ask("w.a.test.");
    let mut with_ecs = query("w.a.test.", RecordType::A, true, false);
    let mut edns = with_ecs.edns.clone().unwrap();
    edns.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::new(
            "198.51.100.0".parse().unwrap(),
            24,
            0,
        )));
    with_ecs.set_edns(edns);
    let reply = udp_exchange(server.udp, &with_ecs);
    assert_eq!(reply.answers.len(), 1);
    ask("x.elsewhere.");
    tcp_exchange(
        server.tcp,
        &query("www.a.test.", RecordType::AAAA, true, false),
    );
    stop(server, &config);
    capture.finish();

    let text = std::fs::read_to_string(dir.join("queries.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 6, "{text}");
    let field = |i: usize, key: &str| records[i][key].clone();
    let names: Vec<Value> = (0..6).map(|i| field(i, "qname")).collect();
    assert_eq!(
        names,
        [
            "www.a.test.",
            "nope.a.test.",
            "w.a.test.",
            "w.a.test.",
            "x.elsewhere.",
            "www.a.test."
        ]
        .map(Value::from)
    );
    for (i, rcode) in [
        "NOERROR", "NXDOMAIN", "NOERROR", "NOERROR", "REFUSED", "NOERROR",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(field(i, "rcode"), rcode, "{text}");
        assert_eq!(field(i, "client"), "127.0.0.1");
        assert_eq!(field(i, "view"), "default");
        assert!(field(i, "size").as_u64().unwrap() > 12);
    }
    assert_eq!(field(0, "zone"), "a.test.");
    assert_eq!(field(0, "qtype"), "A");
    assert_eq!(field(0, "transport"), "udp");
    assert_eq!(field(4, "zone"), Value::Null);
    assert_eq!(field(5, "transport"), "tcp");
    assert_eq!(field(5, "qtype"), "AAAA");
    // The CIDR policy: the source 127.0.0.1 is outside, the ECS subnet inside.
    let set = |i: usize| field(i, "policy")[0]["set"].clone();
    assert_eq!(set(2), "out");
    assert_eq!(field(2, "ecs"), Value::Null);
    assert_eq!(set(3), "in");
    assert_eq!(field(3, "policy")[0]["name"], "w.a.test.");
    assert_eq!(field(3, "ecs"), "198.51.100.0/24");
    assert_eq!(field(0, "policy"), Value::Array(Vec::new()));

    // dnstap: a query and a response per query, from the file and from
    // the collector alike.
    for file in [dir.join("queries.dnstap"), captured] {
        let lines = dnstap_read(&file);
        assert_eq!(lines.len(), 12, "{}: {lines:#?}", file.display());
        for (pair, name) in lines.chunks(2).zip([
            "www.a.test/IN/A",
            "nope.a.test/IN/A",
            "w.a.test/IN/A",
            "w.a.test/IN/A",
            "x.elsewhere/IN/A",
            "www.a.test/IN/AAAA",
        ]) {
            assert!(
                pair[0].contains(" AQ 127.0.0.1:") && pair[0].ends_with(name),
                "{pair:?}"
            );
            assert!(
                pair[1].contains(" AR 127.0.0.1:") && pair[1].ends_with(name),
                "{pair:?}"
            );
        }
        assert!(lines[10].contains(" TCP "), "{}", lines[10]);
    }
}

#[test]
fn sample_logs_one_query_in_n() {
    let dir = scratch_dir("querylog-sample");
    let config = write_config(&dir, "json = \"queries.jsonl\"\nsample = 4");
    let server = Server::start_args(&["-c".into(), config.display().to_string()]);
    // One UDP worker: every query is counted by the same thread.
    for i in 0..20 {
        udp_exchange(
            server.udp,
            &query(&format!("q{i}.a.test."), RecordType::A, true, false),
        );
    }
    stop(server, &config);
    let text = std::fs::read_to_string(dir.join("queries.jsonl")).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["qname"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "q3.a.test.",
            "q7.a.test.",
            "q11.a.test.",
            "q15.a.test.",
            "q19.a.test."
        ]
    );
}

/// logrotate moves the files away: the server notices within a second and
/// writes to new files at the configured paths; the old ones end cleanly.
#[test]
fn moved_log_files_are_made_anew() {
    require_tool("dnstap-read", "bind9-dnsutils");
    let dir = scratch_dir("querylog-rotate");
    let config = write_config(&dir, "json = \"q.jsonl\"\ndnstap_file = \"q.dnstap\"");
    let server = Server::start_args(&["-c".into(), config.display().to_string()]);
    let ask = |name: &str| udp_exchange(server.udp, &query(name, RecordType::A, true, false));
    let lines = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_default()
            .lines()
            .count()
    };
    ask("before1.a.test.");
    ask("before2.a.test.");
    let deadline = Instant::now() + Duration::from_secs(5);
    while lines("q.jsonl") < 2 {
        assert!(
            Instant::now() < deadline,
            "the first records were not written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::rename(dir.join("q.jsonl"), dir.join("q.jsonl.1")).unwrap();
    std::fs::rename(dir.join("q.dnstap"), dir.join("q.dnstap.1")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dir.join("q.jsonl").exists() || !dir.join("q.dnstap").exists() {
        assert!(
            Instant::now() < deadline,
            "the moved files were not made anew"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for name in ["after1.a.test.", "after2.a.test.", "after3.a.test."] {
        ask(name);
    }
    stop(server, &config);
    assert_eq!(lines("q.jsonl.1"), 2);
    assert_eq!(lines("q.jsonl"), 3);
    let old = dnstap_read(&dir.join("q.dnstap.1"));
    let new = dnstap_read(&dir.join("q.dnstap"));
    assert_eq!(old.len(), 4, "{old:#?}");
    assert_eq!(new.len(), 6, "{new:#?}");
    assert!(new[0].ends_with("after1.a.test/IN/A"), "{new:#?}");
}

/// A log that cannot be written (a full disk: /dev/full) costs no answer,
/// and is reported once, not once per record.
#[test]
fn an_unwritable_log_is_reported_once_and_answers_go_on() {
    let dir = scratch_dir("querylog-full");
    let config = write_config(&dir, "json = \"/dev/full\"");
    let server = Server::start_args(&["-c".into(), config.display().to_string()]);
    for i in 0..50 {
        let reply = udp_exchange(
            server.udp,
            &query(&format!("q{i}.a.test."), RecordType::A, true, false),
        );
        assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    }
    // The writer flushes when its queue is empty, at the latest each second.
    std::thread::sleep(Duration::from_millis(1500));
    for i in 0..50 {
        udp_exchange(
            server.udp,
            &query(&format!("r{i}.a.test."), RecordType::A, true, false),
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    let stderr = server.stderr();
    let reports = stderr.matches("cannot write /dev/full").count();
    assert_eq!(reports, 1, "{stderr}");
    stop(server, &config);
}
