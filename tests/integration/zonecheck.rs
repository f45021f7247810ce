//! Zone checks a Route 53 user relies on (issue 15): the predefined cloud
//! regions answered by the real server, every malformed annotation and
//! wrong location code reported at its line and column (never loaded as a
//! plain record without a word), and `signpostctl checkzone` with a config,
//! `--strict` and named-checkzone's argument order.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::RecordType;

use crate::common::{self, query, Server};

const CLOUD_CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]
workers = 1

[control]
socket = "DIR/control.sock"

[geo]
database = "GEO"

# No [[region]] for the AWS names: they are predefined. This one is added,
# and sa-east-1 is moved to Paris (for the test's sake).
[[region]]
name = "tokyo-dc"
latitude = 35.6
longitude = 139.8

[[region]]
name = "sa-east-1"
latitude = 48.86
longitude = 2.35

# Johannesburg's clients, measured: us-east-1 is fastest for them.
[[latency]]
prefix = "100.80.0.0/16"
ms = { us-east-1 = 5, eu-west-1 = 150, ap-southeast-1 = 200 }

[[zone]]
name = "cloud.test"
file = "cloud.test.zone"
"#;

const CLOUD_ZONE: &str = "$ORIGIN cloud.test.
$TTL 60
@    IN SOA ns hostmaster 1 3600 600 86400 60
@    IN NS  ns
ns   IN A   192.0.2.53
api  IN A   192.0.2.1 ;@ latency id=use1 region=us-east-1
api  IN A   192.0.2.2 ;@ latency id=euw1 region=eu-west-1
api  IN A   192.0.2.3 ;@ latency id=apse1 region=ap-southeast-1
own  IN A   192.0.2.11 ;@ latency id=apse1 region=ap-southeast-1
own  IN A   192.0.2.12 ;@ latency id=dc region=tokyo-dc
moved IN A  192.0.2.21 ;@ geoproximity id=euw1 region=eu-west-1
moved IN A  192.0.2.22 ;@ geoproximity id=sae1 region=sa-east-1
";

// ECS networks of tests/data/geo/test-city.mmdb (its README).
const NEW_YORK: (&str, u8) = ("203.0.113.0", 25);
const PARIS: (&str, u8) = ("203.0.113.128", 25);
const TOKYO: (&str, u8) = ("100.64.0.0", 16);
const JOHANNESBURG: (&str, u8) = ("100.80.0.0", 16);

fn ask_ecs(server: SocketAddr, name: &str, (addr, prefix): (&str, u8)) -> Message {
    let mut msg = query(name, RecordType::A, true, false);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    let addr: IpAddr = addr.parse().unwrap();
    edns.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
    msg.set_edns(edns);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    sock.send_to(&msg.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("reply");
    Message::from_vec(&buf[..n]).unwrap()
}

/// The one A record of the answer, and the ECS scope of the reply.
fn answer(server: SocketAddr, name: &str, client: (&str, u8)) -> (String, Option<u8>) {
    let reply = ask_ecs(server, name, client);
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{name}"
    );
    let a = crate::views::a_of(&reply);
    assert_eq!(a.len(), 1, "{name} for {client:?}: {a:?}");
    let scope = reply
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Subnet)? {
            EdnsOption::Subnet(s) => Some(s.scope_prefix()),
            _ => None,
        });
    (a[0].clone(), scope)
}

fn cloud_setup() -> (Server, PathBuf) {
    let dir = common::scratch_dir("zonecheck-cloud");
    let geo = common::repo_path("tests/data/geo/test-city.mmdb");
    let config = CLOUD_CONFIG
        .replace("GEO", &geo.display().to_string())
        .replace("DIR", &dir.display().to_string());
    std::fs::write(dir.join("signpost.toml"), config).unwrap();
    std::fs::write(dir.join("cloud.test.zone"), CLOUD_ZONE).unwrap();
    let server =
        Server::start_args(&["-c".into(), dir.join("signpost.toml").display().to_string()]);
    (server, dir)
}

/// Issue 15: a latency zone naming AWS regions, with no `[[region]]` for
/// them, sends New York, Paris and Tokyo (by ECS) to the nearest region;
/// the config adds a region and moves another; a latency-table row with
/// predefined names wins over distance.
#[test]
fn predefined_cloud_regions_route_by_ecs() {
    let (server, _dir) = cloud_setup();
    let s = server.udp;
    assert_eq!(
        answer(s, "api.cloud.test.", NEW_YORK),
        ("192.0.2.1".into(), Some(25))
    );
    assert_eq!(
        answer(s, "api.cloud.test.", PARIS),
        ("192.0.2.2".into(), Some(25))
    );
    assert_eq!(
        answer(s, "api.cloud.test.", TOKYO),
        ("192.0.2.3".into(), Some(16))
    );
    // Johannesburg is nearer Ireland, but the table measured Virginia.
    assert_eq!(
        answer(s, "api.cloud.test.", JOHANNESBURG),
        ("192.0.2.1".into(), Some(16))
    );
    // An added region: Tokyo's own data centre beats Singapore.
    assert_eq!(answer(s, "own.cloud.test.", TOKYO).0, "192.0.2.12");
    // A moved region: sa-east-1 now sits in Paris.
    assert_eq!(answer(s, "moved.cloud.test.", PARIS).0, "192.0.2.22");
}

/// `explain` gives every latency cost with its unit: kilometres when
/// estimated from the distance, milliseconds from the latency table.
#[test]
fn explain_shows_latency_costs_with_units() {
    let (_server, dir) = cloud_setup();
    let explain = |client: &str| {
        let out = Command::new(common::signpostctl_path())
            .args([
                "explain",
                "api.cloud.test",
                "A",
                "--offline",
                "--client",
                client,
                "-c",
            ])
            .arg(dir.join("signpost.toml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let by_distance = explain("203.0.113.0/25");
    let line = |text: &str, set: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("set {set} cost")))
            .unwrap_or_else(|| panic!("no cost of {set} in\n{text}"))
            .to_string()
    };
    let use1 = line(&by_distance, "use1");
    assert!(
        use1.ends_with(" km (distance, no latency table row)"),
        "{use1}"
    );
    // New York to Ashburn, Virginia: about 330 km.
    let km: f64 = use1.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!((250.0..450.0).contains(&km), "{use1}");
    let measured = explain("100.80.0.0/16");
    assert!(
        line(&measured, "use1").ends_with("cost 5 ms (latency table)"),
        "{measured}"
    );
    assert!(
        line(&measured, "apse1").ends_with("cost 200 ms (latency table)"),
        "{measured}"
    );
}

// ---------------------------------------------------------------------
// checkzone

const CHECK_CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[health.web]
state = "up"

[cidr.corp]
office = ["192.0.2.0/24"]

[[zone]]
name = "check.test"
file = "check.test.zone"
"#;

const HEAD: &str = "$TTL 60\n@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n";

fn checkzone(args: &[&str]) -> Output {
    Command::new(common::signpostctl_path())
        .arg("checkzone")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory with the config, and `zone` as check.test.zone.
fn check_dir(zone: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = common::scratch_dir("zonecheck");
    let config = dir.join("signpost.toml");
    std::fs::write(&config, CHECK_CONFIG).unwrap();
    let file = dir.join("check.test.zone");
    std::fs::write(&file, zone).unwrap();
    (dir, config, file)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// Loads, with no message.
    Clean,
    /// Loads, with these warnings; `--strict` fails.
    Warning,
    /// Does not load.
    Error,
}

struct Case {
    /// Lines after the SOA, NS and glue (lines 1–4): the first is line 5.
    lines: &'static [&'static str],
    outcome: Outcome,
    /// Each message: (line, a unique piece of that line the column points
    /// at, a piece of the message).
    messages: &'static [(u32, &'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        lines: &["a IN A 192.0.2.1 ; @ weighted id=a weight=1"],
        outcome: Outcome::Error,
        messages: &[(5, "; @", "write \";@ weighted id=a weight=1\"")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;;@ weighted id=a weight=1"],
        outcome: Outcome::Error,
        messages: &[(5, ";;@", "write \";@ weighted id=a weight=1\"")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation id=uk country=UK"],
        outcome: Outcome::Error,
        messages: &[(5, "country=", "write country=GB")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation id=x subdivision=US-XX"],
        outcome: Outcome::Error,
        messages: &[(
            5,
            "subdivision=",
            "\"US-XX\" is not an ISO 3166-2 subdivision",
        )],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation id=z country=ZZ"],
        outcome: Outcome::Error,
        messages: &[(5, "country=", "\"ZZ\" is not an ISO 3166-1 alpha-2 code")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation id=d continent=*"],
        outcome: Outcome::Error,
        messages: &[(5, "continent=", "write location=*")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation id=d continent=EUR"],
        outcome: Outcome::Error,
        messages: &[(5, "continent=", "AF, AN, AS, EU, NA, OC, SA")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ failover id=p role=PRIMARY health=web"],
        outcome: Outcome::Clean,
        messages: &[],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ failover id=p role=master"],
        outcome: Outcome::Error,
        messages: &[(5, "role=", "must be primary or secondary")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geoproximity id=sf coordinates=37.77 -122.41"],
        outcome: Outcome::Error,
        messages: &[(5, "coordinates=", "write coordinates=37.77,-122.41")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ weighted id=a weight=1 ; canary"],
        outcome: Outcome::Clean,
        messages: &[],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ weighted id=a weight=1 ;@ weighted id=b weight=2"],
        outcome: Outcome::Error,
        messages: &[(5, ";@ weighted id=b", "one ;@ annotation")],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ geolocation country=UK weight=5 health=nope"],
        outcome: Outcome::Error,
        messages: &[
            (5, "geolocation", "needs id="),
            (5, "country=", "write country=GB"),
            (5, "weight=", "belongs to the weighted policy"),
            (5, "health=", "unknown health check \"nope\""),
        ],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ weighted SetIdentifier=a Weight=1"],
        outcome: Outcome::Error,
        messages: &[
            (5, "weighted", "needs id="),
            (5, "weighted", "needs weight="),
            (5, "SetIdentifier=", "write id="),
            (5, "Weight=", "write weight="),
        ],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ;@ latency id=a region=us-east-7"],
        outcome: Outcome::Error,
        messages: &[(
            5,
            "region=",
            "did you mean us-east-1? known regions are af-south-1,",
        )],
    },
    Case {
        lines: &["a IN A 192.0.2.1 ; weighted id=a weight=1"],
        outcome: Outcome::Warning,
        messages: &[(5, "; weighted", "without its \"@\"")],
    },
    Case {
        lines: &[
            "; the next record is weighted",
            ";@ weighted id=a weight=1",
            "a IN A 192.0.2.1",
        ],
        outcome: Outcome::Warning,
        messages: &[(6, ";@", "on a line without a record and is ignored")],
    },
    Case {
        lines: &["a IN A 192.0.2.1", "; @ weighted id=a weight=1"],
        outcome: Outcome::Warning,
        messages: &[(6, "; @", "on a line without a record and is ignored")],
    },
    Case {
        // Plain comments that merely contain an @ or a policy's name.
        lines: &[
            "@ IN TXT \"apex\" ; @ is the apex",
            "w IN A 192.0.2.1 ; weighted 70/30 later",
        ],
        outcome: Outcome::Clean,
        messages: &[],
    },
];

/// Issue 15: every malformed annotation and wrong location code is an
/// error or a warning at its line and column; none loads as a plain
/// record without a message; `--strict` fails on warnings.
#[test]
fn malformed_annotations_are_reported_where_they_are() {
    let mut failures = Vec::new();
    for case in CASES {
        let zone = format!("{HEAD}{}\n", case.lines.join("\n"));
        let (_dir, config, file) = check_dir(&zone);
        let file_s = file.display().to_string();
        let config_s = config.display().to_string();
        let out = checkzone(&["-c", &config_s, &file_s]);
        let strict = checkzone(&["--strict", "-c", &config_s, &file_s]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let shown: Vec<String> = match case.outcome {
            Outcome::Clean | Outcome::Warning => stderr
                .lines()
                .filter_map(|l| l.strip_prefix("warning: "))
                .map(str::to_string)
                .collect(),
            Outcome::Error => stdout.lines().map(str::to_string).collect(),
        };
        let mut problems = Vec::new();
        match case.outcome {
            Outcome::Error => {
                if out.status.code() != Some(1) {
                    problems.push(format!("exit {:?}, want 1", out.status.code()));
                }
            }
            Outcome::Clean | Outcome::Warning => {
                if !out.status.success() {
                    problems.push(format!("exit {:?}, want 0", out.status.code()));
                }
                let want = if case.outcome == Outcome::Clean { 0 } else { 1 };
                if strict.status.code() != Some(want) {
                    problems.push(format!(
                        "--strict exit {:?}, want {want}: {}",
                        strict.status.code(),
                        text(&strict.stdout)
                    ));
                }
            }
        }
        if shown.len() != case.messages.len() {
            problems.push(format!(
                "{} messages, want {}",
                shown.len(),
                case.messages.len()
            ));
        }
        for ((line, at, message), got) in case.messages.iter().zip(&shown) {
            let text = case.lines[*line as usize - 5];
            let col = text.find(at).expect("the case names a piece of its line") + 1;
            let position = format!("{file_s}:{line}:{col}: ");
            if !got.starts_with(&position) || !got.contains(message) {
                problems.push(format!("want {position}…{message}…, got {got}"));
            }
        }
        if case.outcome == Outcome::Warning {
            // With --strict the same lines are errors, on standard output.
            for (line, _, message) in case.messages {
                let strict_out = text(&strict.stdout);
                if !strict_out.contains(message) || !strict_out.contains(&format!(":{line}:")) {
                    problems.push(format!("--strict does not print {message:?}: {strict_out}"));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{:?}:\n  {}\n  stdout: {stdout}  stderr: {stderr}",
                case.lines,
                problems.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Issue 15: the shipped policy zone checks clean against the shipped
/// config that serves it; without the config its health checks, regions
/// and collections are unknown, and checkzone says how to give one.
#[test]
fn checkzone_with_the_shipped_config() {
    let conf = common::repo_path("conf/traffic-example.toml");
    let zone = common::repo_path("zones/traffic.example.zone");
    let out = checkzone(&[
        "-c",
        &conf.display().to_string(),
        &zone.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The origin comes from the config's [[zone]] of that file.
    assert!(
        text(&out.stdout).starts_with("zone traffic.example.: loaded serial 2026112301"),
        "{}",
        text(&out.stdout)
    );
    let bare = checkzone(&[&zone.display().to_string()]);
    assert_eq!(bare.status.code(), Some(1));
    assert!(text(&bare.stdout).contains("unknown health check \"blue\""));
    assert!(
        text(&bare.stderr).contains("-c CONFIG"),
        "{}",
        text(&bare.stderr)
    );
}

/// `checkzone ORIGIN FILE`, as named-checkzone takes them, is the same
/// check as `checkzone FILE ORIGIN`; the origin decides what is in the
/// zone.
#[test]
fn checkzone_takes_named_checkzones_order() {
    let (_dir, config, file) = check_dir(&format!(
        "{HEAD}www.check.test. IN A 192.0.2.2 ;@ weighted id=a weight=1 health=web\n"
    ));
    let (f, c) = (file.display().to_string(), config.display().to_string());
    for args in [
        vec!["-c", &c, "check.test", &f],
        vec!["-c", &c, &f, "check.test"],
        vec!["check.test", &f, "--config", &c],
    ] {
        let out = checkzone(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).starts_with("zone check.test.: loaded serial 1, 4 records"),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    // Another origin puts the records outside the zone: it was used.
    let out = checkzone(&["-c", &c, "other.test", &f]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // A config with an error is reported, not ignored.
    std::fs::write(&config, "[server]\nlisten = [\"127.0.0.1:0\"]\nbogus = 1\n").unwrap();
    let out = checkzone(&["-c", &c, &f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("bogus"), "{}", text(&out.stdout));
}
