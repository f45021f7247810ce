//! Hot reload (SPEC §7): file watching (in-place edits, includes, editors
//! that rename a new file over the old), SIGHUP, `signpostctl reload` and
//! `status`, broken edits, the control socket's permissions, and reloading
//! under query load without losing a query.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::common::{self, query, udp_exchange, Server};
use crate::views::{a_of, common_wait, zone_text};

struct Ctl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn ctl(socket: &Path, args: &[&str]) -> Ctl {
    let out = Command::new(common::signpostctl_path())
        .args(args)
        .arg("--control")
        .arg(socket)
        .output()
        .unwrap();
    Ctl {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Saves like an editor that writes a temporary file and renames it over
/// the original (vim's `backupcopy=no`, most GUI editors, `sed -i`).
fn write_renaming(path: &Path, text: &str) {
    let tmp = path.with_extension("swp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn www(server: &Server) -> Vec<String> {
    a_of(&udp_exchange(
        server.udp,
        &query("www.example.test.", RecordType::A, true, false),
    ))
}

fn start(zone: &Path, socket: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--workers", "1", "--control", socket.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_zones(&[("example.test", zone)], &args)
}

fn hup(server: &Server) {
    let ok = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn file_edits_apply_within_two_seconds_without_a_signal() {
    let dir = common::scratch_dir("reload-watch");
    let zone = dir.join("example.test.zone");
    std::fs::create_dir_all(dir.join("inc")).unwrap();
    std::fs::write(dir.join("inc/hosts.inc"), "host1 IN A 192.0.2.11\n").unwrap();
    let with_include =
        |serial, addr| zone_text("example.test", serial, addr) + "$INCLUDE inc/hosts.inc\n";
    std::fs::write(&zone, with_include(1, "192.0.2.80")).unwrap();
    let socket = dir.join("ctl.sock");
    let server = start(&zone, &socket, &[]);
    assert_eq!(www(&server), ["192.0.2.80"]);
    let within_2s = |what: &str, check: &dyn Fn() -> bool| {
        let t = Instant::now();
        assert!(
            common_wait(Duration::from_secs(2), check),
            "{what}: not applied within 2 s\n{}",
            server.stderr()
        );
        eprintln!("{what}: applied after {} ms", t.elapsed().as_millis());
    };

    // In place, as `echo >` or an editor with backupcopy=yes does.
    std::fs::write(&zone, with_include(2, "192.0.2.81")).unwrap();
    within_2s("in-place edit", &|| www(&server) == ["192.0.2.81"]);

    // Renamed over the old file: a new inode in the same directory.
    write_renaming(&zone, &with_include(3, "192.0.2.82"));
    within_2s("rename-over edit", &|| www(&server) == ["192.0.2.82"]);
    // ... and again, now that the first replacement is the watched one.
    write_renaming(&zone, &with_include(4, "192.0.2.83"));
    within_2s("second rename-over edit", &|| {
        www(&server) == ["192.0.2.83"]
    });

    // A file the zone includes, in another directory.
    let host1 = || {
        a_of(&udp_exchange(
            server.udp,
            &query("host1.example.test.", RecordType::A, true, false),
        ))
    };
    assert_eq!(host1(), ["192.0.2.11"]);
    write_renaming(&dir.join("inc/hosts.inc"), "host1 IN A 192.0.2.12\n");
    within_2s("include edit", &|| host1() == ["192.0.2.12"]);

    // The include changed, the SOA serial did not: a warning.
    let log = server.stderr();
    assert!(
        log.contains("content changed but the SOA serial 4 did not"),
        "{log}"
    );
}

#[test]
fn sighup_and_signpostctl_reload_and_status() {
    let dir = common::scratch_dir("reload-ctl");
    let zone = dir.join("example.test.zone");
    std::fs::write(&zone, zone_text("example.test", 1, "192.0.2.80")).unwrap();
    let socket = dir.join("ctl.sock");
    // Watching off, so only the explicit triggers can change anything.
    let server = start(&zone, &socket, &["--no-watch"]);

    std::fs::write(&zone, zone_text("example.test", 2, "192.0.2.81")).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(www(&server), ["192.0.2.80"], "reloaded with watching off");
    hup(&server);
    assert!(
        common_wait(Duration::from_secs(3), || www(&server) == ["192.0.2.81"]),
        "SIGHUP did not reload"
    );

    std::fs::write(&zone, zone_text("example.test", 3, "192.0.2.82")).unwrap();
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("zone example.test.: loaded serial 3, 4 records"),
        "{}",
        out.stdout
    );
    // The reply comes after the swap: the new data is served already.
    assert_eq!(www(&server), ["192.0.2.82"]);

    // Nothing changed: nothing is parsed.
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout
            .contains("zone example.test.: unchanged, serial 3"),
        "{}",
        out.stdout
    );
    // One zone by name is reloaded whether or not it changed.
    let out = ctl(&socket, &["reload", "Example.Test"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("loaded serial 3"), "{}", out.stdout);
    let out = ctl(&socket, &["reload", "nope.test"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("not configured"), "{}", out.stdout);

    // New content under the old serial: loaded, with a warning.
    std::fs::write(&zone, zone_text("example.test", 3, "192.0.2.83")).unwrap();
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout
            .contains("warning: zone example.test.: content changed but the SOA serial 3 did not"),
        "{}",
        out.stdout
    );
    assert_eq!(www(&server), ["192.0.2.83"]);

    let status = ctl(&socket, &["status"]);
    assert_eq!(status.code, Some(0));
    let text = status.stdout;
    assert!(text.starts_with("uptime "), "{text}");
    assert!(
        text.contains(&format!("listening udp={} tcp={}", server.udp, server.tcp)),
        "{text}"
    );
    assert!(text.contains("workers 1 UDP"), "{text}");
    assert!(text.contains("watching off"), "{text}");
    assert!(text.contains("view default (every client)"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("zone example.test."))
        .expect(&text);
    assert!(line.contains("serial 3, 4 records, loaded "), "{line}");
    assert!(line.ends_with(" loaded"), "{line}");

    // An unknown command is an error, not a hang.
    let bad = signpost::control::socket::call(&socket, "frobnicate", Duration::from_secs(5))
        .expect("answer");
    assert!(!bad.ok);
    assert!(bad.lines[0].contains("unknown command"), "{:?}", bad.lines);
}

#[test]
fn broken_edit_keeps_old_answers_and_reports_every_error() {
    let dir = common::scratch_dir("reload-broken");
    let zone = dir.join("example.test.zone");
    std::fs::write(&zone, zone_text("example.test", 1, "192.0.2.80")).unwrap();
    let socket = dir.join("ctl.sock");
    let server = start(&zone, &socket, &[]);

    // Two mistakes, on lines 6 and 8.
    let broken = zone_text("example.test", 2, "192.0.2.300") + "ok IN A 192.0.2.5\nbad IN MX x\n";
    std::fs::write(&zone, broken).unwrap();
    // The watcher finds it first and logs every error.
    assert!(
        common_wait(Duration::from_secs(3), || server
            .stderr()
            .contains("not reloaded")),
        "{}",
        server.stderr()
    );
    let log = server.stderr();
    let at = |line: u32| format!("{}:{line}:", zone.display());
    assert!(log.contains(&at(6)), "{log}");
    assert!(log.contains(&at(8)), "{log}");
    assert_eq!(www(&server), ["192.0.2.80"]);

    // signpostctl reload retries a zone whose last load failed, prints
    // every error and fails.
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(&zone.display().to_string()))
        .collect();
    assert_eq!(errors.len(), 2, "{}", out.stdout);
    assert!(errors[0].starts_with(&at(6)), "{}", out.stdout);
    assert!(errors[1].starts_with(&at(8)), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("zone example.test.: not reloaded (2 errors); still serving serial 1"),
        "{}",
        out.stdout
    );
    assert_eq!(www(&server), ["192.0.2.80"]);
    let status = ctl(&socket, &["status"]);
    assert!(
        status.stdout.contains("FAILED (2 errors)"),
        "{}",
        status.stdout
    );

    // Fixed: reloads cleanly again.
    std::fs::write(&zone, zone_text("example.test", 3, "192.0.2.90")).unwrap();
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(www(&server), ["192.0.2.90"]);
}

#[test]
fn broken_config_keeps_the_old_one() {
    let dir = common::scratch_dir("reload-conf");
    std::fs::write(
        dir.join("example.test.zone"),
        zone_text("example.test", 1, "192.0.2.80"),
    )
    .unwrap();
    let conf = dir.join("signpost.toml");
    let good = "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\n[control]\nsocket = \"ctl.sock\"\n[[zone]]\nname = \"example.test\"\nfile = \"example.test.zone\"\n";
    std::fs::write(&conf, good).unwrap();
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    std::fs::write(
        &conf,
        good.replace("workers = 1", "workers = 1\nwatchh = true"),
    )
    .unwrap();
    let out = ctl(&dir.join("ctl.sock"), &["reload"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("{}:4:1: ", conf.display())),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("the previous config stays in force"));
    assert_eq!(www(&server), ["192.0.2.80"]);
}

/// A config that is valid on its own but breaks a served zone (a check the
/// zone uses is renamed away) is refused whole: the zone keeps answering.
/// Once the config is fixed, it applies.
#[test]
fn config_that_breaks_a_served_zone_is_refused() {
    let dir = common::scratch_dir("reload-conf-zone");
    let zone = "$ORIGIN example.test.\n$TTL 60\n@ IN SOA ns h 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n\
                www IN A 192.0.2.1 ;@ failover id=p role=primary health=web\n\
                www IN A 192.0.2.2 ;@ failover id=s role=secondary health=spare\n";
    std::fs::write(dir.join("example.test.zone"), zone).unwrap();
    let conf = dir.join("signpost.toml");
    let good = "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nwatch = false\n[control]\nsocket = \"ctl.sock\"\n\
                [health.web]\nstate = \"up\"\n[health.spare]\nstate = \"up\"\n\
                [[zone]]\nname = \"example.test\"\nfile = \"example.test.zone\"\n";
    std::fs::write(&conf, good).unwrap();
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    assert_eq!(www(&server), ["192.0.2.1"]);
    std::fs::write(&conf, good.replace("[health.web]", "[health.website]")).unwrap();
    let out = ctl(&dir.join("ctl.sock"), &["reload"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let zone_file = dir.join("example.test.zone");
    assert!(
        out.stdout.contains(&format!(
            "{}:6:50: unknown health check \"web\"",
            zone_file.display()
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("the previous config and zones stay in force"),
        "{}",
        out.stdout
    );
    assert_eq!(www(&server), ["192.0.2.1"]);
    // The old config is still the one in force: its checks are listed.
    let health = ctl(&dir.join("ctl.sock"), &["health"]);
    assert!(health.stdout.contains("web up"), "{}", health.stdout);
    // Fixed the other way round (web down now): applies.
    std::fs::write(
        &conf,
        good.replacen("state = \"up\"", "state = \"down\"", 1),
    )
    .unwrap();
    let out = ctl(&dir.join("ctl.sock"), &["reload"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(www(&server), ["192.0.2.2"]);
}

#[test]
fn control_socket_refuses_other_users() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = common::scratch_dir("reload-perm");
    let zone = dir.join("example.test.zone");
    std::fs::write(&zone, zone_text("example.test", 1, "192.0.2.80")).unwrap();
    let socket = dir.join("ctl.sock");
    let mut server = start(&zone, &socket, &[]);
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(ctl(&socket, &["status"]).code, Some(0));

    let as_nobody = || {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(common::signpostctl_path())
            .args(["reload", "--control"])
            .arg(&socket)
            .output()
            .unwrap()
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if root && setpriv {
        // The file mode stops another user at connect().
        let out = as_nobody();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Permission denied"), "{err}");
        // With the mode loosened, the peer credentials still stop it.
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let out = as_nobody();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("permission denied: uid 65534 may not control this server"),
            "{text}"
        );
        assert!(server.stderr().contains("refused a client of another user"));
    } else {
        eprintln!("not root or no setpriv: only the socket mode was checked");
    }

    // Clean shutdown removes the socket file.
    let ok = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert!(common_wait(Duration::from_secs(5), || !server.is_running()));
    assert!(!socket.exists(), "control socket left behind");
}

/// `hostN` of the big zone: the same address in every version, so any
/// answer other than this one (or NXDOMAIN) means a half-built zone.
fn big_host_addr(n: u32) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

fn write_big_zone(path: &Path, serial: u32, records: u32) {
    use std::io::Write;
    let tmp = path.with_extension("tmp~");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    write!(
        f,
        "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 admin {serial} 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.1\nversion IN TXT \"v{serial}\"\n"
    )
    .unwrap();
    for n in 0..records {
        writeln!(f, "host{n} IN A {}", big_host_addr(n)).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    std::fs::rename(&tmp, path).unwrap();
}

/// A query in wire form, built by hand so the load generator spends its
/// time on the network and not on encoding.
fn wire_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

const MAX_QPS_PER_CLIENT: f64 = 5_000.0;

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
    lost: AtomicU64,
    bad: AtomicU64,
}

/// One client socket with at most `window` queries in flight; a query
/// unanswered after `timeout` is lost (there are no retries). Sends until
/// `stop` is set and at least `min_queries` went out, or until `give_up`.
#[allow(clippy::too_many_arguments)]
fn load_client(
    server: SocketAddr,
    seed: u32,
    window: usize,
    timeout: Duration,
    min_queries: u64,
    give_up: Instant,
    stop: &AtomicBool,
    small_versions: &AtomicU64,
    tally: &Tally,
    bad_samples: &std::sync::Mutex<Vec<String>>,
) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(server).unwrap();
    // Short, so pacing sends steadily rather than in bursts.
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    // id → (sent at, what was asked: None = www.small, Some(n) = hostN.big)
    let mut pending: std::collections::HashMap<u16, (Instant, Option<u32>)> =
        std::collections::HashMap::new();
    let mut next_id: u16 = 0;
    let mut sent: u64 = 0;
    let mut rng = seed.wrapping_mul(2_654_435_761).max(1);
    let mut buf = vec![0u8; 4096];
    let began = Instant::now();
    let note_bad = |what: String| {
        tally.bad.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = bad_samples.lock() {
            if s.len() < 10 {
                s.push(what);
            }
        }
    };
    loop {
        let done_sending =
            Instant::now() >= give_up || (sent >= min_queries && stop.load(Ordering::Relaxed));
        if done_sending && pending.is_empty() {
            break;
        }
        // Paced, so the load leaves CPU to the tests running beside it.
        let allowed = (began.elapsed().as_secs_f64() * MAX_QPS_PER_CLIENT) as u64;
        while !done_sending && pending.len() < window && sent < allowed {
            // xorshift: cheap, deterministic per client.
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            next_id = next_id.wrapping_add(1);
            if pending.contains_key(&next_id) {
                break;
            }
            let (packet, asked) = if rng % 2 == 0 {
                (wire_query(next_id, "www.small.test", 1), None)
            } else {
                let n = rng % 200_000;
                (
                    wire_query(next_id, &format!("host{n}.big.test"), 1),
                    Some(n),
                )
            };
            sock.send(&packet).unwrap();
            pending.insert(next_id, (Instant::now(), asked));
            sent += 1;
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let Ok(msg) = Message::from_vec(&buf[..n]) else {
                    note_bad("unparsable reply".into());
                    continue;
                };
                let Some((_, asked)) = pending.remove(&msg.metadata.id) else {
                    continue; // a late reply to a query already counted lost
                };
                tally.answered.fetch_add(1, Ordering::Relaxed);
                let rcode = msg.metadata.response_code;
                let addrs = a_of(&msg);
                match asked {
                    None => {
                        // www.small.test is 10.1.0.V for a version V that
                        // was written.
                        let newest = small_versions.load(Ordering::SeqCst);
                        let ok = rcode == ResponseCode::NoError
                            && addrs.len() == 1
                            && addrs[0]
                                .strip_prefix("10.1.0.")
                                .and_then(|v| v.parse::<u64>().ok())
                                .is_some_and(|v| v <= newest);
                        if !ok {
                            note_bad(format!("www.small.test: {rcode:?} {addrs:?}"));
                        }
                    }
                    Some(n) => {
                        if rcode != ResponseCode::NoError || addrs != [big_host_addr(n)] {
                            note_bad(format!("host{n}.big.test: {rcode:?} {addrs:?}"));
                        }
                    }
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("recv: {e}"),
        }
        let now = Instant::now();
        pending.retain(|_, (at, _)| {
            let keep = now.duration_since(*at) < timeout;
            if !keep {
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
            keep
        });
    }
}

#[test]
fn reload_under_load_loses_no_query() {
    const CLIENTS: u32 = 4;
    // Reloads go on until both are reached (or MAX_ROUNDS): at least this
    // many queries sent while reloading, and at least MIN_ROUNDS reloads.
    const MIN_QUERIES_DURING: u64 = 50_000;
    const MIN_ROUNDS: u32 = 24;
    const MAX_ROUNDS: u32 = 400;
    let dir = common::scratch_dir("reload-load");
    let small = dir.join("small.test.zone");
    let big = dir.join("big.test.zone");
    let small_text = |v: u32| zone_text("small.test", v, &format!("10.1.0.{v}"));
    std::fs::write(&small, small_text(0)).unwrap();
    write_big_zone(&big, 1, 200_000);
    let socket = dir.join("ctl.sock");
    let server = Server::start_zones(
        &[("small.test", &small), ("big.test", &big)],
        &["--workers", "2", "--control", socket.to_str().unwrap()],
    );
    let started = Instant::now();
    // Bounds the whole test even if the server stalls.
    let give_up = started + Duration::from_secs(50);

    let stop = Arc::new(AtomicBool::new(false));
    let versions = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Tally::default());
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (stop, versions, tally, samples) = (
                stop.clone(),
                versions.clone(),
                tally.clone(),
                samples.clone(),
            );
            let addr = server.udp;
            std::thread::spawn(move || {
                load_client(
                    addr,
                    i + 1,
                    32,
                    Duration::from_secs(2),
                    0,
                    give_up,
                    &stop,
                    &versions,
                    &tally,
                    &samples,
                )
            })
        })
        .collect();

    // 24 reloads of the small zone through all three triggers, and two of
    // the 200,000-record zone, each confirmed by the answer it brings.
    let mut reloads = 0;
    let sent_before = tally.sent.load(Ordering::Relaxed);
    let big_version = |server: &Server| {
        let reply = udp_exchange(
            server.udp,
            &query("version.big.test.", RecordType::TXT, true, false),
        );
        reply
            .answers
            .first()
            .map(|r| r.data.to_string())
            .unwrap_or_default()
    };
    let mut sent_before_last = 0;
    let mut last_began = Instant::now();
    for v in 1..=MAX_ROUNDS {
        if v > MIN_ROUNDS && tally.sent.load(Ordering::Relaxed) - sent_before >= MIN_QUERIES_DURING
        {
            break;
        }
        sent_before_last = tally.sent.load(Ordering::Relaxed);
        last_began = Instant::now();
        if v == 8 || v == 16 {
            let serial = v / 8 + 1;
            write_big_zone(&big, serial, 200_000);
            let out = ctl(&socket, &["reload", "big.test"]);
            assert_eq!(out.code, Some(0), "{}", out.stdout);
            assert!(big_version(&server).contains(&format!("v{serial}")));
            reloads += 1;
        }
        // Publish the version before the server can serve it.
        versions.store(u64::from(v), Ordering::SeqCst);
        write_renaming(&small, &small_text(v));
        match v % 3 {
            0 => {
                let out = ctl(&socket, &["reload"]);
                assert_eq!(out.code, Some(0), "{}", out.stdout);
            }
            1 => hup(&server),
            _ => {} // the watcher
        }
        let want = format!("10.1.0.{v}");
        let seen = common_wait(Duration::from_secs(10), || {
            a_of(&udp_exchange(
                server.udp,
                &query("www.small.test.", RecordType::A, true, false),
            )) == [want.clone()]
        });
        assert!(seen, "version {v} never served\n{}", server.stderr());
        reloads += 1;
    }
    let sent_during = tally.sent.load(Ordering::Relaxed) - sent_before;
    let sent_during_last = tally.sent.load(Ordering::Relaxed) - sent_before_last;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let (sent, answered, lost, bad) = (
        tally.sent.load(Ordering::Relaxed),
        tally.answered.load(Ordering::Relaxed),
        tally.lost.load(Ordering::Relaxed),
        tally.bad.load(Ordering::Relaxed),
    );
    eprintln!(
        "{sent} queries ({sent_during} while reloading), {answered} answered, {lost} lost, {bad} wrong; {reloads} reloads in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(reloads >= 20);
    assert!(
        sent_during >= MIN_QUERIES_DURING,
        "only {sent_during} queries while reloading"
    );
    assert!(
        sent_during_last > 0,
        "the load stopped before the last reload ({} ms)",
        last_began.elapsed().as_millis()
    );
    assert_eq!(lost, 0, "lost queries");
    assert_eq!(bad, 0, "wrong answers: {:?}", samples.lock().unwrap());
    assert_eq!(answered, sent);
    let log = server.stderr();
    assert!(!log.contains("ERROR"), "{log}");
}
