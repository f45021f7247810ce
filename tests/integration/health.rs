//! Health checks (SPEC §4, issue 5) against the real binary: HTTP servers
//! on loopback that stop and come back behind failover and weighted sets,
//! thresholds, inversion, calculated checks, body and status matching,
//! HTTPS with a private CA, `signpostctl health` and overrides across
//! reloads, and plugins that work or misbehave in every way we know.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::common::{self, query, scratch_dir, udp_exchange, Server};
use crate::views::{a_of, common_wait};

// ---------------------------------------------------------------------
// A tiny HTTP(S) responder that can be stopped and started again on the
// same port.

type Responses = Arc<Mutex<HashMap<String, (u16, String)>>>;

struct Web {
    port: u16,
    responses: Responses,
    /// (path, status) of every request answered.
    log: Arc<Mutex<Vec<(String, u16)>>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Web {
    fn start() -> Self {
        Self::start_with(None)
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let mut web = Self {
            port: 0,
            responses: Arc::default(),
            log: Arc::default(),
            tls,
            stop: Arc::default(),
            thread: None,
        };
        web.listen();
        web
    }

    fn listen(&mut self) {
        let listener =
            TcpListener::bind(("127.0.0.1", self.port)).expect("bind the test web server");
        self.port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (responses, log, tls) = (self.responses.clone(), self.log.clone(), self.tls.clone());
        self.thread = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (responses, log, tls) = (responses.clone(), log.clone(), tls.clone());
                        std::thread::spawn(move || serve(stream, &responses, &log, tls));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    /// Closes the listening socket: connections are refused from now on.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    fn restart(&mut self) {
        self.listen();
    }

    fn set(&self, path: &str, status: u16, body: &str) {
        self.responses
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, body.to_string()));
    }

    /// Requests to `path` answered with a status outside 200-399 since
    /// `from` entries of the log.
    fn failures(&self, path: &str, from: usize) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .skip(from)
            .filter(|(p, s)| p == path && !(200..400).contains(s))
            .count()
    }

    fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    stream: TcpStream,
    responses: &Responses,
    log: &Mutex<Vec<(String, u16)>>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    match tls {
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            if respond(&mut tls, responses, log) {
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
        None => {
            let mut stream = stream;
            respond(&mut stream, responses, log);
        }
    }
}

fn respond(
    stream: &mut impl ReadWrite,
    responses: &Responses,
    log: &Mutex<Vec<(String, u16)>>,
) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = responses
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or((200, "ok".into()));
    log.lock().unwrap().push((path, status));
    let reply = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).is_ok()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------
// The server under test.

struct Setup {
    dir: PathBuf,
    server: Server,
}

const ZONE_HEAD: &str = "$ORIGIN health.test.\n$TTL 1\n@ IN SOA ns admin 1 3600 600 86400 1\n@ IN NS ns\nns IN A 192.0.2.53\n";

fn config_text(checks: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n\n[control]\nsocket = \"ctl.sock\"\n\n[[zone]]\nname = \"health.test\"\nfile = \"health.test.zone\"\n\n{checks}"
    )
}

fn start(tag: &str, checks: &str, zone: &str) -> Setup {
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("signpost.toml"), config_text(checks)).unwrap();
    std::fs::write(dir.join("health.test.zone"), format!("{ZONE_HEAD}{zone}")).unwrap();
    let server =
        Server::start_args(&["-c".into(), dir.join("signpost.toml").display().to_string()]);
    Setup { dir, server }
}

impl Setup {
    fn a(&self, name: &str) -> Vec<String> {
        a_of(&udp_exchange(
            self.server.udp,
            &query(&format!("{name}.health.test."), RecordType::A, true, false),
        ))
    }

    fn ctl(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(common::signpostctl_path())
            .args(args)
            .arg("--control")
            .arg(self.dir.join("ctl.sock"))
            .arg("--timeout")
            .arg("20")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// `signpostctl health` as name → the rest of its line.
    fn health(&self) -> HashMap<String, String> {
        let (code, text) = self.ctl(&["health"]);
        assert_eq!(code, 0, "{text}");
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, rest)| (n.to_string(), rest.to_string()))
            .collect()
    }

    /// `up` or `down`, as listed.
    fn state(&self, check: &str) -> String {
        let all = self.health();
        let line = all
            .get(check)
            .unwrap_or_else(|| panic!("{check} not listed: {all:?}"));
        line.split_whitespace().next().unwrap().to_string()
    }

    fn wait_state(&self, check: &str, want: &str, limit: Duration) -> bool {
        common_wait(limit, || self.state(check) == want)
    }

    fn hup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.server.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn rewrite_config(&self, checks: &str) {
        std::fs::write(self.dir.join("signpost.toml"), config_text(checks)).unwrap();
    }
}

/// An HTTP check probing every second, threshold 2 unless `extra` says.
fn http_check(name: &str, port: u16, extra: &str) -> String {
    let threshold = if extra.contains("threshold") {
        ""
    } else {
        "threshold = 2\n"
    };
    format!(
        "[health.{name}]\ntype = \"http\"\naddress = \"127.0.0.1\"\nport = {port}\ninterval = 1\ntimeout = 0.5\n{threshold}{extra}\n"
    )
}

/// How long until `f` holds, polling every 20 ms; panics after `limit`.
fn time_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if f() {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------

#[test]
fn failover_and_weighted_follow_a_real_endpoint() {
    let mut web_a = Web::start();
    let web_b = Web::start();
    let checks = http_check("web-a", web_a.port, "") + &http_check("web-b", web_b.port, "");
    let zone = "\
fo IN A 192.0.2.1 ;@ failover id=p role=primary health=web-a
fo IN A 192.0.2.2 ;@ failover id=s role=secondary health=web-b
wt IN A 198.51.100.1 ;@ weighted id=a weight=50 health=web-a
wt IN A 198.51.100.2 ;@ weighted id=b weight=50 health=web-b
";
    let s = start("health-e2e", &checks, zone);
    // Both checked at least once.
    assert!(
        common_wait(Duration::from_secs(5), || {
            let h = s.health();
            h.values().filter(|l| l.contains("last=ok")).count() == 2
        }),
        "{:?}",
        s.health()
    );
    assert_eq!(s.a("fo"), ["192.0.2.1"]);
    // interval 1 s × threshold 2 + TTL 1 s + 1 s.
    let bound = Duration::from_secs(4);
    let only_b = |s: &Setup| (0..10).all(|_| s.a("wt") == ["198.51.100.2"]);

    web_a.stop();
    let down = time_until(bound, "failover after web-a stopped", || {
        s.a("fo") == ["192.0.2.2"] && only_b(&s)
    });
    eprintln!("failover took {down:?}");
    // Stays failed over.
    for _ in 0..10 {
        assert_eq!(s.a("fo"), ["192.0.2.2"]);
    }
    let line = &s.health()["web-a"];
    assert!(line.starts_with("down auto http last=fail"), "{line}");
    assert!(line.contains("Connection refused"), "{line}");

    web_a.restart();
    let up = time_until(bound, "fail-back after web-a came back", || {
        s.a("fo") == ["192.0.2.1"] && (0..20).any(|_| s.a("wt") == ["198.51.100.1"])
    });
    eprintln!("fail-back took {up:?}");
    assert!(s.health()["web-a"].starts_with("up auto http last=ok"));
}

#[test]
fn thresholds_inversion_calculated_body_and_status() {
    let web = Web::start();
    web.set("/body", 200, "status: ready");
    web.set("/status", 204, "");
    web.set("/big", 200, &("x".repeat(6000) + "ready"));
    let p = web.port;
    let dead = closed_port();
    let fast = |name: &str, path: &str, extra: &str| {
        format!(
            "[health.{name}]\ntype = \"http\"\naddress = \"127.0.0.1\"\nport = {p}\npath = \"{path}\"\ninterval = 0.3\ntimeout = 0.25\n{extra}\n"
        )
    };
    let checks = [
        fast("t3", "/t3", "threshold = 3"),
        fast("inv", "/inv", "threshold = 1\ninverted = true"),
        fast("body", "/body", "threshold = 1\nbody_contains = \"ready\""),
        fast("big", "/big", "threshold = 1\nbody_contains = \"ready\""),
        fast("status", "/status", "threshold = 1\nexpect_status = \"200\""),
        fast("range", "/status", "threshold = 1\nexpect_status = \"200-204\""),
        format!("[health.dead]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = {dead}\ninterval = 0.3\ntimeout = 0.25\nthreshold = 1\n"),
        "[health.two-of-three]\ntype = \"calculated\"\nchildren = [\"t3\", \"body\", \"dead\"]\nmin_healthy = 2\n".into(),
        "[health.fixed]\nstate = \"down\"\n".into(),
    ]
    .concat();
    let zone = "calc IN A 192.0.2.1 ;@ failover id=p role=primary health=two-of-three\n\
                calc IN A 192.0.2.2 ;@ failover id=s role=secondary\n";
    let s = start("health-rules", &checks, zone);
    let limit = Duration::from_secs(5);

    assert!(s.wait_state("dead", "down", limit));
    assert!(
        s.wait_state("inv", "down", limit),
        "inverted check of a live endpoint"
    );
    assert!(s.wait_state("status", "down", limit));
    assert!(s.wait_state("big", "down", limit));
    let all = s.health();
    assert!(
        all["status"].contains("HTTP 204") && all["status"].contains("expected 200"),
        "{}",
        all["status"]
    );
    assert!(all["big"].contains("first 5120 bytes"), "{}", all["big"]);
    assert!(
        common_wait(limit, || s.health()["range"]
            .starts_with("up auto http last=ok")),
        "{}",
        all["range"]
    );
    assert!(all["body"].starts_with("up auto"), "{}", all["body"]);
    assert!(
        all["fixed"].starts_with("down auto static"),
        "{}",
        all["fixed"]
    );
    assert!(all["dead"].contains("latency="), "{}", all["dead"]);
    // t3 and body up, dead down: 2 of 3.
    assert_eq!(s.state("two-of-three"), "up");
    assert_eq!(s.a("calc"), ["192.0.2.1"]);

    // Thresholds: t3 flips only after three consecutive failures.
    let mark = web.log_len();
    web.set("/t3", 503, "no");
    web.set("/inv", 503, "no");
    web.set("/body", 200, "starting");
    assert!(s.wait_state("t3", "down", limit));
    let failures = web.failures("/t3", mark);
    assert!(
        (3..=4).contains(&failures),
        "t3 went down after {failures} failures"
    );
    assert!(
        s.wait_state("inv", "up", limit),
        "inverted check of a failing endpoint"
    );
    assert!(s.wait_state("body", "down", limit));
    assert!(s.health()["body"].contains("do not contain \"ready\""));
    assert!(s.wait_state("two-of-three", "down", limit));
    assert!(common_wait(limit, || s.a("calc") == ["192.0.2.2"]));

    // And back: three consecutive successes.
    let mark = web.log_len();
    web.set("/t3", 200, "ok");
    let started = Instant::now();
    assert!(s.wait_state("t3", "up", limit));
    let oks = web.log.lock().unwrap()[mark..]
        .iter()
        .filter(|(p, s)| p == "/t3" && *s == 200)
        .count();
    assert!((3..=4).contains(&oks), "t3 came back after {oks} successes");
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn overrides_and_states_survive_reloads() {
    let web = Web::start();
    let dead = closed_port();
    let checks = |extra: &str| {
        format!(
            "{extra}{}[health.dead]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = {dead}\ninterval = 1\ntimeout = 0.5\nthreshold = 1\n",
            http_check("web", web.port, "threshold = 1")
        )
    };
    let zone = "\
fo IN A 192.0.2.1 ;@ failover id=p role=primary health=web
fo IN A 192.0.2.2 ;@ failover id=s role=secondary
gone IN A 192.0.2.11 ;@ failover id=p role=primary health=dead
gone IN A 192.0.2.12 ;@ failover id=s role=secondary
";
    let s = start("health-reload", &checks(""), zone);
    assert!(s.wait_state("dead", "down", Duration::from_secs(5)));
    assert!(common_wait(Duration::from_secs(5), || s.health()["web"]
        .contains("last=ok")));
    assert_eq!(s.a("fo"), ["192.0.2.1"]);
    assert_eq!(s.a("gone"), ["192.0.2.12"]);

    let (code, text) = s.ctl(&["health", "set", "web", "down"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("web: down (forced"), "{text}");
    assert!(s.health()["web"].starts_with("down forced http"));
    assert_eq!(s.a("fo"), ["192.0.2.2"]);
    let (code, text) = s.ctl(&["health", "set", "nope", "up"]);
    assert_eq!(code, 1);
    assert!(text.contains("no health check is named \"nope\""), "{text}");
    let dead_changed = changed(&s.health()["dead"]);

    // Reload twice: once with the same checks, once with a new check in
    // front (every index moves, the zone is recompiled). Queries all the
    // while must never see a state reset to the initial "healthy".
    for extra in ["", "[health.aaa]\nstate = \"up\"\n"] {
        s.rewrite_config(&checks(extra));
        let (code, text) = s.ctl(&["reload"]);
        assert_eq!(code, 0, "{text}");
        s.hup();
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            assert_eq!(s.a("fo"), ["192.0.2.2"], "override lost in a reload");
            assert_eq!(s.a("gone"), ["192.0.2.12"], "state flapped in a reload");
        }
        let h = s.health();
        assert!(h["web"].starts_with("down forced"), "{h:?}");
        assert!(h["dead"].starts_with("down auto"), "{h:?}");
        assert_eq!(changed(&h["dead"]), dead_changed, "{h:?}");
    }
    assert!(s.health().contains_key("aaa"));

    let (code, _) = s.ctl(&["health", "set", "web", "auto"]);
    assert_eq!(code, 0);
    assert!(s.health()["web"].starts_with("up auto"));
    assert_eq!(s.a("fo"), ["192.0.2.1"]);
}

fn changed(line: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("changed="))
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------
// HTTPS

struct Pki {
    ca_pem: String,
    good: Arc<rustls::ServerConfig>,
    expired: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Signpost test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server = |expired: bool| {
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["good.test".to_string()]).unwrap();
        if expired {
            leaf.not_before = rcgen::date_time_ymd(2000, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
        Arc::new(config)
    };
    Pki {
        ca_pem: ca_cert.pem(),
        good: server(false),
        expired: server(true),
    }
}

#[test]
fn https_checks_verify_name_and_validity() {
    let pki = pki();
    let good = Web::start_with(Some(pki.good.clone()));
    let expired = Web::start_with(Some(pki.expired.clone()));
    let tls = |name: &str, port: u16, extra: &str| {
        format!(
            "[health.{name}]\ntype = \"https\"\naddress = \"127.0.0.1\"\nport = {port}\nhost = \"good.test\"\ninterval = 0.5\ntimeout = 0.5\nthreshold = 1\n{extra}\n"
        )
    };
    let checks = [
        tls(
            "ok",
            good.port,
            "ca_file = \"ca.pem\"\nbody_contains = \"ok\"",
        ),
        tls(
            "wrong-name",
            good.port,
            "ca_file = \"ca.pem\"\nsni = \"other.test\"",
        ),
        tls("expired", expired.port, "ca_file = \"ca.pem\""),
        tls("public-roots", good.port, ""),
        tls(
            "unverified",
            expired.port,
            "sni = \"other.test\"\ntls_verify = false",
        ),
    ]
    .concat();
    let dir = scratch_dir("health-tls-ca");
    // The CA file sits beside the config, which start() writes elsewhere:
    // refer to it by absolute path.
    std::fs::write(dir.join("ca.pem"), &pki.ca_pem).unwrap();
    let checks = checks.replace(
        "\"ca.pem\"",
        &format!("\"{}\"", dir.join("ca.pem").display()),
    );
    let zone = "s IN A 192.0.2.1 ;@ failover id=p role=primary health=wrong-name\n\
                s IN A 192.0.2.2 ;@ failover id=s role=secondary health=ok\n";
    let s = start("health-tls", &checks, zone);
    let limit = Duration::from_secs(5);
    for down in ["wrong-name", "expired", "public-roots"] {
        assert!(
            s.wait_state(down, "down", limit),
            "{down}: {:?}",
            s.health()
        );
    }
    assert!(
        common_wait(limit, || s.health()["ok"].contains("last=ok")),
        "{:?}",
        s.health()
    );
    assert!(
        common_wait(limit, || s.health()["unverified"].contains("last=ok")),
        "{:?}",
        s.health()
    );
    let h = s.health();
    assert!(h["ok"].starts_with("up auto https"), "{}", h["ok"]);
    assert!(
        h["wrong-name"].contains("not valid for name"),
        "{}",
        h["wrong-name"]
    );
    assert!(
        h["wrong-name"].contains("SNI other.test"),
        "{}",
        h["wrong-name"]
    );
    assert!(h["expired"].contains("expired"), "{}", h["expired"]);
    assert!(
        h["public-roots"].contains("UnknownIssuer"),
        "{}",
        h["public-roots"]
    );
    assert_eq!(s.a("s"), ["192.0.2.2"]);
}

#[test]
fn bad_health_config_is_reported_with_positions() {
    let dir = scratch_dir("health-badconf");
    std::fs::write(dir.join("health.test.zone"), ZONE_HEAD).unwrap();
    let text = config_text(
        "[health.x]\ntype = \"https\"\naddress = \"127.0.0.1\"\nca_file = \"missing.pem\"\nthreshold = 0\n",
    );
    std::fs::write(dir.join("signpost.toml"), &text).unwrap();
    let out = Command::new(common::signpostctl_path())
        .arg("checkconf")
        .arg(dir.join("signpost.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("signpost.toml:17:13: threshold must be from 1 to 10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("signpost.toml:16:11: cannot read CA file"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------
// Plugins

/// Builds the plugins once (into a target directory of their own, so as
/// not to wait on the lock of the build running these tests).
fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "-q",
                "-p",
                "signpost-plugin-file",
                "-p",
                "signpost-plugin-command",
            ])
            .args(["-p", "signpost-plugin-testing", "--target-dir"])
            .arg(&target);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo to build the plugins");
        assert!(status.success(), "building the plugins failed");
        target.join(if release { "release" } else { "debug" })
    })
    .clone()
}

pub(crate) fn library(name: &str) -> String {
    plugin_dir()
        .join(format!("libsignpost_plugin_{name}.so"))
        .display()
        .to_string()
}

#[test]
fn file_and_command_plugins_steer_answers() {
    let dir = scratch_dir("health-plugin-files");
    let states = dir.join("states");
    std::fs::write(&states, "web-1 up\nweb-2 down draining for a deploy\n").unwrap();
    let commands = dir.join("commands");
    std::fs::write(
        &commands,
        "ok echo all fine; exit 0\ncrit echo disk full; exit 2\n",
    )
    .unwrap();
    let checks = format!(
        "[plugin.files]\nname = \"file\"\nlibrary = \"{}\"\nconfig = \"{}\"\ninterval = 0.2\ntimeout = 2\n\n\
         [plugin.command]\nlibrary = \"{}\"\nconfig = \"{} timeout=2\"\ninterval = 0.5\ntimeout = 4\n\n\
         [health.w1]\ntype = \"plugin\"\nplugin = \"files\"\ntarget = \"web-1\"\n\
         [health.w2]\ntype = \"plugin\"\nplugin = \"files\"\ntarget = \"web-2\"\n\
         [health.missing]\ntype = \"plugin\"\nplugin = \"files\"\ntarget = \"web-3\"\nunknown = \"down\"\n\
         [health.ok]\ntype = \"plugin\"\nplugin = \"command\"\n\
         [health.crit]\ntype = \"plugin\"\nplugin = \"command\"\n",
        library("file"),
        states.display(),
        library("command"),
        commands.display()
    );
    let zone = "fo IN A 192.0.2.1 ;@ failover id=p role=primary health=w1\n\
                fo IN A 192.0.2.2 ;@ failover id=s role=secondary health=w2\n";
    let s = start("health-plugins", &checks, zone);
    let limit = Duration::from_secs(8);
    assert!(s.wait_state("w2", "down", limit), "{:?}", s.health());
    assert!(s.wait_state("missing", "down", limit), "{:?}", s.health());
    assert!(s.wait_state("crit", "down", limit), "{:?}", s.health());
    let h = s.health();
    assert!(h["w1"].starts_with("up auto plugin last=ok"), "{}", h["w1"]);
    assert!(h["w2"].contains("draining for a deploy"), "{}", h["w2"]);
    assert!(
        h["missing"].contains("did not report target web-3"),
        "{}",
        h["missing"]
    );
    assert!(h["ok"].contains("all fine"), "{}", h["ok"]);
    assert!(h["crit"].contains("disk full"), "{}", h["crit"]);
    assert_eq!(s.a("fo"), ["192.0.2.1"]);

    // Another tool rewrites the file (atomically, by renaming).
    std::fs::write(dir.join("states.new"), "web-1 down maintenance\nweb-2 up\n").unwrap();
    std::fs::rename(dir.join("states.new"), &states).unwrap();
    let took = time_until(Duration::from_secs(3), "file plugin flip", || {
        s.a("fo") == ["192.0.2.2"]
    });
    eprintln!("file plugin flip took {took:?}");
    assert!(s.health()["w1"].contains("maintenance"));
}

fn not_a_library() -> String {
    let path = scratch_dir("health-not-a-library").join("libnothing.so");
    std::fs::write(&path, "this is not ELF\n").unwrap();
    path.display().to_string()
}

#[test]
fn misbehaving_plugins_never_take_the_server_down() {
    let lib = library("testing");
    let plugin = |id: &str, config: &str| {
        format!(
            "[plugin.{id}]\nname = \"testing\"\nlibrary = \"{lib}\"\nconfig = \"{config}\"\ninterval = 0.2\ntimeout = 1\n\n\
             [health.{id}-open]\ntype = \"plugin\"\nplugin = \"{id}\"\ntarget = \"a\"\n\
             [health.{id}-closed]\ntype = \"plugin\"\nplugin = \"{id}\"\ntarget = \"a\"\nunknown = \"down\"\n"
        )
    };
    let checks = [
        plugin("good", "ok"),
        plugin("segv", "segfault after=2"),
        plugin("panics", "panic after=2"),
        plugin("garbage", "garbage after=2"),
        plugin("hangs", "hang after=2"),
        plugin("refuses", "fail-create"),
        // A file that is not a library at all, and a wrong name.
        format!("[plugin.notaplugin]\nlibrary = \"{}\"\n\n[health.np]\ntype = \"plugin\"\nplugin = \"notaplugin\"\nunknown = \"down\"\n", not_a_library()),
        format!("[plugin.misnamed]\nlibrary = \"{lib}\"\n\n[health.mn]\ntype = \"plugin\"\nplugin = \"misnamed\"\nunknown = \"down\"\n"),
    ]
    .concat();
    let zone = "\
seg IN A 192.0.2.1 ;@ failover id=p role=primary health=segv-closed
seg IN A 192.0.2.2 ;@ failover id=s role=secondary health=good-open
good IN A 192.0.2.3
";
    let s = start("health-bad-plugins", &checks, zone);
    let h = || s.health();
    let limit = Duration::from_secs(10);
    let wants = [
        ("segv-closed", "SIGSEGV"),
        ("panics-closed", "SIGABRT"),
        ("garbage-closed", "reported garbage: state 77 for target a"),
        ("hangs-closed", "did not answer a poll within 1 s"),
        (
            "refuses-closed",
            "failed to load: the plugin refused its config: told to fail",
        ),
        ("np", "failed to load: cannot load"),
        ("mn", "the config expects \"misnamed\""),
    ];
    // Meanwhile the server answers every query, correctly.
    let started = Instant::now();
    let mut seen: HashMap<&str, bool> = HashMap::new();
    while started.elapsed() < limit && seen.len() < wants.len() {
        assert_eq!(s.a("good"), ["192.0.2.3"]);
        let all = h();
        for (check, why) in wants {
            if all[check].contains(why) && all[check].contains("restarting in") {
                seen.insert(check, true);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = h();
    for (check, why) in wants {
        assert!(
            seen.contains_key(check),
            "{check} never showed {why:?}: {}",
            all[check]
        );
    }
    // Unknown is fail-open or fail-closed as each check says.
    assert!(
        all["refuses-open"].starts_with("up auto plugin last=unknown"),
        "{}",
        all["refuses-open"]
    );
    assert!(
        all["refuses-closed"].starts_with("down auto plugin last=unknown"),
        "{}",
        all["refuses-closed"]
    );
    assert!(
        all["good-open"].starts_with("up auto plugin last=ok"),
        "{}",
        all["good-open"]
    );
    // The crashing plugins are restarted: each new child polls well twice
    // before failing again, so "ok" results keep coming back.
    let ok_again = common_wait(Duration::from_secs(8), || {
        h()["segv-open"].contains("last=ok")
    });
    assert!(
        ok_again,
        "segv plugin was not restarted: {}",
        h()["segv-open"]
    );
    assert!(s.server.stderr().contains("restarting in"));
    let mut server = s.server;
    assert!(server.is_running());
}

/// The config examples of the HEALTH CHECKS and PLUGINS sections of
/// signpost.toml(5) use only keys and values that exist; the files they
/// name (a CA file, a plugin library) are the only complaints.
#[test]
fn man_page_health_examples_parse() {
    let page = std::fs::read_to_string(common::repo_path("man/signpost.toml.5")).unwrap();
    let start = page.find(".SH HEALTH CHECKS").unwrap();
    let end = page.find(".SH EXAMPLE").unwrap();
    let mut examples = String::new();
    for block in page[start..end].split(".EX\n").skip(1) {
        let block = &block[..block.find("\n.EE").unwrap()];
        if block.starts_with('[') {
            examples.push_str(&block.replace("\\-", "-"));
            examples.push('\n');
        }
    }
    assert!(examples.contains("[health.site]") && examples.contains("[plugin.deploy]"));
    let text = format!("[server]\nlisten = [\"127.0.0.1:53\"]\n{examples}");
    let errors = signpost::config::parse(&text, Path::new("man.toml")).unwrap_err();
    for e in &errors {
        let e = e.to_string();
        assert!(
            e.contains("cannot read CA file") || e.contains("plugin library"),
            "{e}"
        );
    }
    assert_eq!(errors.len(), 2, "{errors:?}");
}

/// A plugin written in C against plugins/abi/include/signpost_plugin.h
/// works, and the host refuses, with the reason in `signpostctl health`,
/// one built for another major version and a library without the entry
/// point.
#[test]
fn c_plugins_use_the_header_and_wrong_abis_are_refused() {
    let dir = scratch_dir("health-c-plugins");
    let source = |abi: &str, entry: &str| {
        format!(
            r#"#include <signpost_plugin.h>
static int instance;
static void *create(const char *config, char *error, size_t len) {{
    (void)config; (void)error; (void)len;
    return &instance;
}}
static int32_t poll(void *inst, signpost_report_fn report, void *sink) {{
    (void)inst;
    report(sink, "edge-1", SIGNPOST_UP, "reported from C");
    report(sink, "edge-2", SIGNPOST_DOWN, "link down");
    return 0;
}}
static void destroy(void *inst) {{ (void)inst; }}
static const struct signpost_plugin plugin = {{
    {abi}, sizeof(struct signpost_plugin), "cplug", "1.0", create, poll, destroy
}};
const struct signpost_plugin *{entry}(void) {{ return &plugin; }}
"#
        )
    };
    let build = |name: &str, text: String| -> String {
        let c = dir.join(format!("{name}.c"));
        let so = dir.join(format!("lib{name}.so"));
        std::fs::write(&c, text).unwrap();
        let out = Command::new("cc")
            .args(["-shared", "-fPIC", "-Wall", "-Werror", "-I"])
            .arg(common::repo_path("plugins/abi/include"))
            .arg("-o")
            .arg(&so)
            .arg(&c)
            .output()
            .expect("a C compiler (cc), which the Rust toolchain needs anyway");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        so.display().to_string()
    };
    let good = build(
        "good",
        source("SIGNPOST_PLUGIN_ABI_VERSION", "signpost_health_plugin_v1"),
    );
    let future = build("future", source("(2u << 16)", "signpost_health_plugin_v1"));
    let v2_only = build("v2only", source("(2u << 16)", "signpost_health_plugin_v2"));
    let plugin = |id: &str, lib: &str, target: &str| {
        format!(
            "[plugin.{id}]\nname = \"cplug\"\nlibrary = \"{lib}\"\ninterval = 0.2\ntimeout = 1\n\n\
             [health.{id}]\ntype = \"plugin\"\nplugin = \"{id}\"\ntarget = \"{target}\"\nunknown = \"down\"\n"
        )
    };
    let checks = [
        plugin("c1", &good, "edge-1"),
        plugin("c2", &good, "edge-2"),
        plugin("future", &future, "edge-1"),
        plugin("v2only", &v2_only, "edge-1"),
    ]
    .concat();
    let zone = "e IN A 192.0.2.1 ;@ failover id=p role=primary health=future\n\
                e IN A 192.0.2.2 ;@ failover id=s role=secondary health=c1\n";
    let s = start("health-c-plugins", &checks, zone);
    let limit = Duration::from_secs(8);
    assert!(s.wait_state("c2", "down", limit), "{:?}", s.health());
    let wants = [
        ("c1", "reported from C"),
        ("c2", "link down"),
        ("future", "built for ABI 2.0, this server speaks 1.x"),
        ("v2only", "is not a Signpost plugin for ABI 1"),
    ];
    let ok = common_wait(limit, || {
        let h = s.health();
        wants.iter().all(|(c, why)| h[*c].contains(why))
    });
    let h = s.health();
    assert!(ok, "{h:?}");
    assert!(h["c1"].starts_with("up auto plugin last=ok"), "{}", h["c1"]);
    assert!(
        h["future"].starts_with("down auto plugin last=unknown"),
        "{}",
        h["future"]
    );
    // The refused plugin's check is down (unknown = "down"): the
    // secondary, steered by the C plugin, answers.
    assert_eq!(s.a("e"), ["192.0.2.2"]);
}

/// Regression (issue 13): checkconf loads each plugin once, in a child as
/// the daemon does, so a library that reports another name fails the check
/// with the daemon's own message, at the plugin's table.
#[test]
fn checkconf_loads_plugins_as_the_daemon_does() {
    let dir = scratch_dir("health-checkconf-plugin");
    std::fs::write(dir.join("health.test.zone"), ZONE_HEAD).unwrap();
    let lib = library("testing");
    let write = |name: &str| {
        let checks = format!(
            "[plugin.deploy]\nname = \"{name}\"\nlibrary = \"{lib}\"\nconfig = \"ok\"\n\n\
             [health.d]\ntype = \"plugin\"\nplugin = \"deploy\"\ntarget = \"a\"\n"
        );
        std::fs::write(dir.join("signpost.toml"), config_text(&checks)).unwrap();
    };
    let checkconf = || {
        Command::new(common::signpostctl_path())
            .arg("checkconf")
            .arg(dir.join("signpost.toml"))
            .output()
            .unwrap()
    };
    write("deploy");
    let out = checkconf();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let want = format!(
        "{}:13:1: plugin deploy: failed to load: the library is plugin \"testing\", the config expects \"deploy\" (set name = \"testing\" if that is right)",
        dir.join("signpost.toml").display()
    );
    assert!(stdout.contains(&want), "want {want:?} in:\n{stdout}");

    write("testing");
    let out = checkconf();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---------------------------------------------------------------------
// Issue 15: config errors in one run, last_known, TTL lowering.

/// Five misspelt keys in five tables: one `checkconf` run reports all
/// five, in file order, each at its line and column with the key meant.
#[test]
fn checkconf_reports_every_unknown_key_in_one_run() {
    let dir = scratch_dir("health-five-typos");
    std::fs::write(dir.join("health.test.zone"), ZONE_HEAD).unwrap();
    let text = "[server]\nlisten = [\"127.0.0.1:0\"]\nworker = 1\n\n\
                [control]\nsockt = \"ctl.sock\"\n\n\
                [[zone]]\nname = \"health.test\"\nfile = \"health.test.zone\"\nview = [\"x\"]\n\n\
                [health.web]\ntype = \"http\"\naddress = \"127.0.0.1\"\ntreshold = 2\n\n\
                [health_tll]\nttl = 5\n";
    std::fs::write(dir.join("signpost.toml"), text).unwrap();
    let out = Command::new(common::signpostctl_path())
        .arg("checkconf")
        .arg(dir.join("signpost.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let file = dir.join("signpost.toml").display().to_string();
    let want = [
        "3:1: unknown key \"worker\" in [server]; did you mean \"workers\"?",
        "6:1: unknown key \"sockt\" in [control]; did you mean \"socket\"?",
        "11:1: unknown key \"view\" in [[zone]]; did you mean \"views\"?",
        "16:1: unknown key \"treshold\" in [health.web]; did you mean \"threshold\"?",
        "18:2: unknown table [health_tll]; did you mean [health_ttl]?",
    ];
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .collect();
    assert_eq!(lines.len(), want.len(), "{stdout}{stderr}");
    for (line, w) in lines.iter().zip(want) {
        assert_eq!(*line, format!("{file}:{w}"));
    }
}

/// `unknown = "last_known"` keeps what the plugin last said while it
/// cannot say anything (it crashes every third poll and is restarted):
/// target b stays down, target a stays up, where fail-open turns b up and
/// fail-closed turns a down. A refused load says why, without a "killed
/// by signal 9" the server's own kill would have added.
#[test]
fn last_known_keeps_a_crashing_plugins_last_verdict() {
    let lib = library("testing");
    let checks = format!(
        "[plugin.flaky]\nname = \"testing\"\nlibrary = \"{lib}\"\nconfig = \"segfault after=2\"\ninterval = 0.2\ntimeout = 1\n\n\
         [plugin.refuses]\nname = \"testing\"\nlibrary = \"{lib}\"\nconfig = \"fail-create\"\ninterval = 0.2\ntimeout = 1\n\n\
         [health.b-kept]\ntype = \"plugin\"\nplugin = \"flaky\"\ntarget = \"b\"\nunknown = \"last_known\"\n\
         [health.a-kept]\ntype = \"plugin\"\nplugin = \"flaky\"\ntarget = \"a\"\nunknown = \"last_known\"\n\
         [health.b-open]\ntype = \"plugin\"\nplugin = \"flaky\"\ntarget = \"b\"\n\
         [health.a-closed]\ntype = \"plugin\"\nplugin = \"flaky\"\ntarget = \"a\"\nunknown = \"down\"\n\
         [health.r]\ntype = \"plugin\"\nplugin = \"refuses\"\nunknown = \"last_known\"\n"
    );
    let zone = "\
lk IN A 192.0.2.1 ;@ failover id=p role=primary health=b-kept
lk IN A 192.0.2.2 ;@ failover id=s role=secondary health=a-kept
";
    let s = start("health-last-known", &checks, zone);
    // Wait for a crash to be noticed: the fail-open and fail-closed
    // checks then show unknown's states.
    assert!(
        common_wait(Duration::from_secs(10), || {
            let h = s.health();
            h["b-open"].starts_with("up auto plugin last=unknown")
                && h["a-closed"].starts_with("down auto plugin last=unknown")
        }),
        "{:?}",
        s.health()
    );
    let h = s.health();
    assert!(
        h["b-kept"].starts_with("down auto plugin last=unknown"),
        "{}",
        h["b-kept"]
    );
    assert!(
        h["b-kept"].contains("last known state kept"),
        "{}",
        h["b-kept"]
    );
    assert!(
        h["a-kept"].starts_with("up auto plugin last=unknown"),
        "{}",
        h["a-kept"]
    );
    // Steered by the kept states: b is down, so the secondary.
    assert_eq!(s.a("lk"), ["192.0.2.2"]);
    // Over several crash-and-restart rounds the kept states never waver.
    for _ in 0..20 {
        let h = s.health();
        assert!(h["b-kept"].starts_with("down"), "{}", h["b-kept"]);
        assert!(h["a-kept"].starts_with("up"), "{}", h["a-kept"]);
        assert_eq!(s.a("lk"), ["192.0.2.2"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Never reported: nothing to keep, so healthy (fail open).
    assert!(
        common_wait(Duration::from_secs(5), || s.health()["r"]
            .contains("restarting in")),
        "{}",
        s.health()["r"]
    );
    let r = &s.health()["r"];
    assert!(r.starts_with("up auto plugin last=unknown"), "{r}");
    assert!(
        r.contains("failed to load: the plugin refused its config: told to fail; restarting in"),
        "{r}"
    );
    assert!(!r.contains("signal"), "{r}");
}

/// `[health_ttl]`: a failover pair behind a real HTTP endpoint answers
/// with its zone TTL while all is well, with the short TTL while the
/// primary is down and for the window after it comes back, then with the
/// zone TTL again. Answers that depend on the pair through an ALIAS are
/// shortened too; unrelated answers never are.
#[test]
fn ttl_is_lowered_while_a_check_fails_or_recovers() {
    let mut web = Web::start();
    let checks = http_check("web", web.port, "threshold = 1\n")
        + "[health.spare]\nstate = \"up\"\n\n[health_ttl]\nttl = 2\nwindow = 3\n";
    let zone = "\
fo 300 IN A 192.0.2.1 ;@ failover id=p role=primary health=web
fo 300 IN A 192.0.2.2 ;@ failover id=s role=secondary health=spare
via 300 IN ALIAS fo
ev 300 IN ALIAS fo ;@ failover id=p role=primary evaluate-health
ev 300 IN ALIAS plain ;@ failover id=s role=secondary
plain 300 IN A 192.0.2.100
";
    let s = start("health-ttl-lowering", &checks, zone);
    let answer = |name: &str| {
        let m = udp_exchange(
            s.server.udp,
            &query(&format!("{name}.health.test."), RecordType::A, true, false),
        );
        let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
        (a_of(&m), ttls)
    };
    let one = |addr: &str, ttl: u32| (vec![addr.to_string()], vec![ttl]);
    assert!(
        common_wait(Duration::from_secs(5), || s.health()["web"]
            .contains("last=ok")),
        "{:?}",
        s.health()
    );
    // Healthy from the start (being configured is no state change).
    assert_eq!(answer("fo"), one("192.0.2.1", 300));
    assert_eq!(answer("via"), one("192.0.2.1", 300));
    assert_eq!(answer("ev"), one("192.0.2.1", 300));
    assert_eq!(answer("plain"), one("192.0.2.100", 300));

    web.stop();
    time_until(Duration::from_secs(4), "failover", || {
        answer("fo").0 == ["192.0.2.2"]
    });
    // Failing: the secondary's answers are short-lived, so clients come
    // back soon after the primary does.
    assert_eq!(answer("fo"), one("192.0.2.2", 2));
    assert_eq!(answer("via"), one("192.0.2.2", 2));
    assert_eq!(answer("ev"), one("192.0.2.2", 2));
    assert_eq!(answer("plain"), one("192.0.2.100", 300));
    // Longer than the window: still short while it is down.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(answer("fo"), one("192.0.2.2", 2));

    web.restart();
    time_until(Duration::from_secs(4), "fail-back", || {
        answer("fo").0 == ["192.0.2.1"]
    });
    let back = Instant::now();
    // Recovering: short for the window.
    assert_eq!(answer("fo"), one("192.0.2.1", 2));
    assert_eq!(answer("ev"), one("192.0.2.1", 2));
    let settled = time_until(Duration::from_secs(6), "zone TTL after the window", || {
        answer("fo").1 == [300]
    });
    assert!(
        back.elapsed() >= Duration::from_millis(2500),
        "the zone TTL came back {settled:?} after fail-back, before the 3 s window ended"
    );
    assert_eq!(answer("fo"), one("192.0.2.1", 300));
    assert_eq!(answer("via"), one("192.0.2.1", 300));
    assert_eq!(answer("ev"), one("192.0.2.1", 300));
}
