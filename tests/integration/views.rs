//! Split-horizon views (SPEC §5): the same name answered differently by
//! source address, private zones, REFUSED for a client no view matches, and
//! the config errors views can have.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{self, dig, query, Server};

pub fn zone_text(origin: &str, serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ IN SOA ns1 admin {serial} 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A {www}\n"
    )
}

/// One UDP exchange from a chosen loopback source address (Linux routes
/// all of 127/8 to lo, so 127.0.0.2 is a second client).
pub fn ask_from(source: &str, server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let ip: IpAddr = source.parse().unwrap();
    let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let msg = query(name, rtype, true, false);
    sock.send_to(&msg.to_vec().unwrap(), server).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).expect("UDP reply");
    Message::from_vec(&buf[..n]).unwrap()
}

/// The same over TCP, connecting from `source`.
fn ask_tcp_from(source: &str, server: SocketAddr, name: &str) -> Message {
    use socket2::{Domain, Socket, Type};
    let ip: IpAddr = source.parse().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    socket
        .connect_timeout(&server.into(), Duration::from_secs(3))
        .unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let msg = query(name, RecordType::A, false, false);
    common::tcp_send(&mut stream, &msg.to_vec().unwrap());
    Message::from_vec(&common::tcp_recv(&mut stream).expect("TCP reply")).unwrap()
}

pub fn a_of(msg: &Message) -> Vec<String> {
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

/// A config with an internal view (127.0.0.2, plus a documentation
/// prefix) and a public one (127.0.0.1); 127.0.0.3 matches neither.
fn split_config(dir: &Path) -> std::path::PathBuf {
    std::fs::write(
        dir.join("internal.zone"),
        zone_text("example.test", 1, "10.0.0.1"),
    )
    .unwrap();
    std::fs::write(
        dir.join("public.zone"),
        zone_text("example.test", 1, "192.0.2.80"),
    )
    .unwrap();
    std::fs::write(dir.join("corp.zone"), zone_text("corp.test", 1, "10.9.9.9")).unwrap();
    std::fs::write(
        dir.join("shared.zone"),
        zone_text("shared.test", 1, "192.0.2.7"),
    )
    .unwrap();
    let conf = dir.join("signpost.toml");
    std::fs::write(
        &conf,
        r#"[server]
listen = ["127.0.0.1:0"]
workers = 1

[control]
socket = "ctl.sock"

[[view]]
name = "internal"
match_clients = ["127.0.0.2", "198.51.100.0/24"]

[[view]]
name = "public"
match_clients = ["127.0.0.1/32"]

[[zone]]
name = "example.test"
file = "internal.zone"
views = ["internal"]

[[zone]]
name = "example.test"
file = "public.zone"
views = ["public"]

[[zone]]
name = "corp.test"
file = "corp.zone"
views = ["internal"]

[[zone]]
name = "shared.test"
file = "shared.zone"
"#,
    )
    .unwrap();
    conf
}

#[test]
fn views_answer_by_source_address() {
    let dir = common::scratch_dir("views-split");
    let conf = split_config(&dir);
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);

    let public = ask_from("127.0.0.1", server.udp, "www.example.test.", RecordType::A);
    assert_eq!(public.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_of(&public), ["192.0.2.80"]);
    let internal = ask_from("127.0.0.2", server.udp, "www.example.test.", RecordType::A);
    assert_eq!(internal.metadata.response_code, ResponseCode::NoError);
    assert!(internal.metadata.authoritative);
    assert_eq!(a_of(&internal), ["10.0.0.1"]);

    // Over TCP too: the view follows the connection's source address.
    assert_eq!(
        a_of(&ask_tcp_from("127.0.0.2", server.tcp, "www.example.test.")),
        ["10.0.0.1"]
    );
    assert_eq!(
        a_of(&ask_tcp_from("127.0.0.1", server.tcp, "www.example.test.")),
        ["192.0.2.80"]
    );

    // A private zone exists only inside its view.
    let private = ask_from("127.0.0.2", server.udp, "www.corp.test.", RecordType::A);
    assert_eq!(a_of(&private), ["10.9.9.9"]);
    let outside = ask_from("127.0.0.1", server.udp, "www.corp.test.", RecordType::A);
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);

    // A zone without `views` is in every view.
    for source in ["127.0.0.1", "127.0.0.2"] {
        let shared = ask_from(source, server.udp, "www.shared.test.", RecordType::A);
        assert_eq!(a_of(&shared), ["192.0.2.7"], "from {source}");
    }

    // No view matches 127.0.0.3: REFUSED, for every name.
    for name in ["www.example.test.", "www.shared.test."] {
        let refused = ask_from("127.0.0.3", server.udp, name, RecordType::A);
        assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
        assert!(refused.answers.is_empty());
    }

    // status lists each view with its own zones.
    let out = std::process::Command::new(common::signpostctl_path())
        .args(["status", "--control"])
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let internal_at = text.find("view internal").expect(&text);
    let public_at = text.find("view public").expect(&text);
    let internal_part = &text[internal_at..public_at];
    let public_part = &text[public_at..];
    assert!(internal_part.contains("internal.zone"), "{text}");
    assert!(internal_part.contains("corp.zone"), "{text}");
    assert!(!internal_part.contains("public.zone"), "{text}");
    assert!(public_part.contains("public.zone"), "{text}");
    assert!(!public_part.contains("corp.zone"), "{text}");
    assert!(public_part.contains("shared.zone"), "{text}");
}

#[test]
fn view_change_in_config_applies_on_reload() {
    let dir = common::scratch_dir("views-reload");
    let conf = split_config(&dir);
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    assert_eq!(
        ask_from("127.0.0.3", server.udp, "www.example.test.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::Refused
    );
    // 127.0.0.3 joins the internal view: picked up from the file change.
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("\"127.0.0.2\", ", "\"127.0.0.2\", \"127.0.0.3\", ");
    std::fs::write(&conf, text).unwrap();
    let ok = common_wait(Duration::from_secs(3), || {
        a_of(&ask_from(
            "127.0.0.3",
            server.udp,
            "www.example.test.",
            RecordType::A,
        )) == ["10.0.0.1"]
    });
    assert!(ok, "config change not applied: {}", server.stderr());
}

/// Polls `f` every 50 ms until it holds or `limit` passes.
pub fn common_wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn view_config_errors_have_positions() {
    let dir = common::scratch_dir("views-errors");
    std::fs::write(dir.join("a.zone"), zone_text("a.test", 1, "192.0.2.1")).unwrap();
    let path = dir.join("bad.toml");
    let text = r#"[server]
listen = ["127.0.0.1:53"]

[[view]]
name = "inside"
match_clients = ["10.0.0.1/8", "nonsense"]

[[view]]
name = "inside"

[[view]]
name = "outside"
match_clients = []

[[zone]]
name = "a.test"
file = "a.zone"
views = ["inside", "nowhere"]

[[zone]]
name = "a.test"
file = "a.zone"
"#;
    let errors = signpost::config::parse(text, &path).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let p = path.display();
    let expect = [
        format!("{p}:6:18: \"10.0.0.1/8\" has host bits set"),
        format!("{p}:6:32: \"nonsense\" is not an address or prefix"),
        format!("{p}:9:8: view \"inside\" is defined twice"),
        format!("{p}:13:17: match_clients = [] matches nothing"),
        format!("{p}:18:20: no [[view]] is named \"nowhere\""),
        format!("{p}:21:8: zone \"a.test.\" is already in view \"inside\" (line 16)"),
    ];
    assert_eq!(shown.len(), expect.len(), "{shown:#?}");
    for (got, want) in shown.iter().zip(&expect) {
        assert!(got.starts_with(want.as_str()), "got {got}\nwant {want}");
    }

    // Unknown keys in the new tables are errors with positions.
    let typo = "[server]\nlisten = [\"127.0.0.1:53\"]\n[[view]]\nname = \"v\"\nmatch_client = [\"10.0.0.0/8\"]\n";
    let errors = signpost::config::parse(typo, &path).unwrap_err();
    assert!(
        errors[0].to_string().starts_with(&format!("{p}:5:1: ")),
        "{}",
        errors[0]
    );
    let typo = "[server]\nlisten = [\"127.0.0.1:53\"]\n[control]\nsocket = \"x\"\npath = \"y\"\n";
    let errors = signpost::config::parse(typo, &path).unwrap_err();
    assert!(
        errors[0].to_string().starts_with(&format!("{p}:5:1: ")),
        "{}",
        errors[0]
    );
}

/// A random secret as `tsig-keygen` makes it: as long as the hash, base64.
fn tsig_secret(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    base64(&bytes)
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What dig prints when a response's TSIG does not check out.
const TSIG_FAILURES: [&str; 5] = [
    "TSIG error",
    "tsig verify failure",
    "Couldn't verify signature",
    "could not be validated",
    "TSIG key was not used",
];

/// dig got a response signed with `key` that verified, with TSIG error
/// NOERROR.
fn assert_signed(out: &str, key: &str, algorithm: &str) {
    for failure in TSIG_FAILURES {
        assert!(!out.contains(failure), "{failure:?} in\n{out}");
    }
    assert!(out.contains(";; TSIG PSEUDOSECTION:"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\tTSIG\t"))
        .unwrap_or_else(|| panic!("no TSIG record in\n{out}"));
    assert!(line.starts_with(&format!("{key}.\t")), "{line}");
    assert!(line.contains(&format!("TSIG\t{algorithm}. ")), "{line}");
    assert!(line.contains(" NOERROR "), "{line}");
}

/// dig got NOTAUTH with TSIG error `error` (BADKEY, BADSIG).
fn assert_tsig_error(out: &str, error: &str) {
    assert!(out.contains("status: NOTAUTH"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\tTSIG\t"))
        .unwrap_or_else(|| panic!("no TSIG record in\n{out}"));
    assert!(line.contains(&format!(" {error} ")), "{line}");
    assert!(!out.contains("ANSWER SECTION"), "{out}");
}

/// A config with a view for requests signed with `inside` (or `second`)
/// and a public view for everything else; `other` is a valid key that no
/// view lists.
fn keyed_config(dir: &Path, inside: &str, other: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("internal.zone"),
        zone_text("example.test", 1, "10.0.0.1")
            + &format!(
                "big IN TXT {}\n",
                vec![format!("\"{}\"", "x".repeat(200)); 4].join(" ")
            ),
    )
    .unwrap();
    std::fs::write(
        dir.join("public.zone"),
        zone_text("example.test", 1, "192.0.2.80"),
    )
    .unwrap();
    std::fs::write(dir.join("other.secret"), format!("{other}\n")).unwrap();
    let conf = dir.join("signpost.toml");
    std::fs::write(
        &conf,
        format!(
            r#"[server]
listen = ["127.0.0.1:0"]
workers = 1

[control]
socket = "ctl.sock"

[[key]]
name = "Inside-Key"
secret = "{inside}"

[[key]]
name = "second.key.test."
algorithm = "hmac-sha512"
secret = "{inside}"

[[key]]
name = "other.key.test"
algorithm = "hmac-sha1"
secret_file = "other.secret"

[[view]]
name = "internal"
match_keys = ["inside-key", "second.key.test"]

[[view]]
name = "public"

[[zone]]
name = "example.test"
file = "internal.zone"
views = ["internal"]

[[zone]]
name = "example.test"
file = "public.zone"
views = ["public"]
"#
        ),
    )
    .unwrap();
    conf
}

#[test]
fn views_match_on_tsig_key() {
    let dir = common::scratch_dir("views-tsig");
    let secret = tsig_secret(32);
    let other = tsig_secret(20);
    let conf = keyed_config(&dir, &secret, &other);
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    let inside = format!("hmac-sha256:inside-key:{secret}");

    for transport in ["+notcp", "+tcp"] {
        let addr = if transport == "+tcp" {
            server.tcp
        } else {
            server.udp
        };
        // Signed with a key the internal view lists: the internal answer,
        // and a response TSIG that dig verifies.
        let out = dig(addr, &["-y", &inside, transport, "www.example.test", "A"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(
            out.contains("www.example.test.\t300\tIN\tA\t10.0.0.1"),
            "{out}"
        );
        assert_signed(&out, "inside-key", "hmac-sha256");
        // The key name's case does not matter; neither does which of the
        // listed keys.
        let out = dig(
            addr,
            &[
                "-y",
                &format!("hmac-sha256:INSIDE-key.:{secret}"),
                transport,
                "www.example.test",
            ],
        );
        assert!(out.contains("\tA\t10.0.0.1"), "{out}");
        let out = dig(
            addr,
            &[
                "-y",
                &format!("hmac-sha512:second.key.test:{secret}"),
                transport,
                "www.example.test",
            ],
        );
        assert!(out.contains("\tA\t10.0.0.1"), "{out}");
        assert_signed(&out, "second.key.test", "hmac-sha512");

        // Unsigned: the public view, no TSIG.
        let out = dig(addr, &[transport, "www.example.test", "A"]);
        assert!(out.contains("\tA\t192.0.2.80"), "{out}");
        assert!(!out.contains("TSIG"), "{out}");

        // A valid key that no view lists: like unsigned, but signed.
        let out = dig(
            addr,
            &[
                "-y",
                &format!("hmac-sha1:other.key.test:{other}"),
                transport,
                "www.example.test",
            ],
        );
        assert!(out.contains("\tA\t192.0.2.80"), "{out}");
        assert_signed(&out, "other.key.test", "hmac-sha1");

        // A wrong secret: NOTAUTH, BADSIG, unsigned, no answer.
        let wrong = format!("hmac-sha256:inside-key:{}", tsig_secret(32));
        assert_tsig_error(
            &dig(addr, &["-y", &wrong, transport, "www.example.test"]),
            "BADSIG",
        );
        // An unknown key, or a known one under another algorithm: BADKEY.
        let unknown = format!("hmac-sha256:nobody:{secret}");
        assert_tsig_error(
            &dig(addr, &["-y", &unknown, transport, "www.example.test"]),
            "BADKEY",
        );
        let mismatch = format!("hmac-sha384:inside-key:{secret}");
        assert_tsig_error(
            &dig(addr, &["-y", &mismatch, transport, "www.example.test"]),
            "BADKEY",
        );
    }

    // A signed answer too big for UDP comes back truncated, and still
    // signed: room for the TSIG record is kept.
    let out = dig(
        server.udp,
        &[
            "-y",
            &inside,
            "+ignore",
            "+noedns",
            "big.example.test",
            "TXT",
        ],
    );
    assert!(
        out.contains("flags: qr tc aa") || out.contains(" tc"),
        "{out}"
    );
    assert!(!out.contains("ANSWER SECTION"), "{out}");
    assert_signed(&out, "inside-key", "hmac-sha256");
    let out = dig(server.udp, &["-y", &inside, "big.example.test", "TXT"]);
    assert!(out.contains(";; ANSWER SECTION:"), "{out}");
    assert_signed(&out, "inside-key", "hmac-sha256");

    // kdig checks the signatures independently of dig.
    if std::process::Command::new("kdig")
        .arg("-V")
        .output()
        .is_ok()
    {
        for transport in ["+notcp", "+tcp"] {
            let addr = if transport == "+tcp" {
                server.tcp
            } else {
                server.udp
            };
            let out = std::process::Command::new("kdig")
                .arg(format!("@{}", addr.ip()))
                .args(["-p", &addr.port().to_string(), "-y", &inside, transport])
                .args(["www.example.test", "A"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(text.contains("status: NOERROR"), "{text}");
            assert!(text.contains("10.0.0.1"), "{text}");
            assert!(text.contains("TSIG"), "{text}");
            assert!(
                !text.contains("WARNING") && !text.contains("failed"),
                "{text}"
            );
        }
    }

    // Secrets never reach the log.
    let log = server.stderr();
    assert!(!log.contains(&secret) && !log.contains(&other), "{log}");
}

#[test]
fn tsig_without_keys_or_views() {
    let dir = common::scratch_dir("views-tsig-nokeys");
    let zone = dir.join("example.test.zone");
    std::fs::write(&zone, zone_text("example.test", 1, "192.0.2.80")).unwrap();
    let secret = tsig_secret(32);
    let signed = format!("hmac-sha256:some-key:{secret}");

    // No keys configured at all: every signed query is BADKEY.
    let server = Server::start_zones(&[("example.test", &zone)], &[]);
    for transport in ["+notcp", "+tcp"] {
        let addr = if transport == "+tcp" {
            server.tcp
        } else {
            server.udp
        };
        assert_tsig_error(
            &dig(addr, &["-y", &signed, transport, "www.example.test"]),
            "BADKEY",
        );
    }
    drop(server);

    // Keys but no [[view]]: the one view serves everyone, and signed
    // queries get signed answers.
    let conf = dir.join("signpost.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\n\n[[key]]\nname = \"some-key\"\nsecret = \"{secret}\"\n\n[[zone]]\nname = \"example.test\"\nfile = \"example.test.zone\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    let out = dig(server.udp, &["-y", &signed, "www.example.test"]);
    assert!(out.contains("\tA\t192.0.2.80"), "{out}");
    assert_signed(&out, "some-key", "hmac-sha256");
    let out = dig(server.udp, &["www.example.test"]);
    assert!(
        out.contains("\tA\t192.0.2.80") && !out.contains("TSIG"),
        "{out}"
    );
}

#[test]
fn tsig_config_errors_have_positions() {
    let dir = common::scratch_dir("views-tsig-errors");
    std::fs::write(dir.join("a.zone"), zone_text("a.test", 1, "192.0.2.1")).unwrap();
    let path = dir.join("bad.toml");
    let good = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let text = format!(
        r#"[server]
listen = ["127.0.0.1:53"]

[[key]]
name = "good"
secret = "{good}"

[[key]]
name = "GOOD."
secret = "{good}"

[[key]]
name = "bad64"
secret = "not*base64!"

[[key]]
name = "short"
secret = "AQID"

[[key]]
name = "md5"
algorithm = "hmac-md5"
secret = "{good}"

[[key]]
name = "nothing"

[[key]]
name = "missing-file"
secret_file = "nowhere.secret"

[[view]]
name = "inside"
match_keys = ["good", "bad64", "unknown"]

[[view]]
name = "none"
match_keys = []
"#
    );
    let errors = signpost::config::parse(&text, &path).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let p = path.display();
    let expect = [
        format!("{p}:9:8: key \"good.\" is defined twice"),
        format!("{p}:14:10: secret is not valid base64"),
        format!("{p}:18:10: secret is 3 bytes; a TSIG secret must be 16 to 512 bytes"),
        format!("{p}:22:13: algorithm \"hmac-md5\" is not supported; use one of hmac-sha256"),
        format!("{p}:26:8: key \"nothing.\" has no secret"),
        format!("{p}:30:15: cannot read secret_file"),
        format!("{p}:34:32: no [[key]] is named \"unknown\""),
        format!("{p}:38:14: match_keys = [] matches nothing"),
    ];
    assert_eq!(shown.len(), expect.len(), "{shown:#?}");
    for (got, want) in shown.iter().zip(&expect) {
        assert!(got.starts_with(want.as_str()), "got {got}\nwant {want}");
    }
    // A key with a bad secret is reported where it is defined only, not
    // again in the view naming it. No message quotes a secret.
    for e in &shown {
        assert!(!e.contains(good) && !e.contains("not*base64"), "{e}");
    }

    // Unknown fields in [[key]] are errors with positions.
    let typo = format!("[server]\nlisten = [\"127.0.0.1:53\"]\n[[key]]\nname = \"k\"\nsecret = \"{good}\"\nalgo = \"hmac-sha1\"\n");
    let errors = signpost::config::parse(&typo, &path).unwrap_err();
    assert!(
        errors[0].to_string().starts_with(&format!("{p}:6:1: ")),
        "{}",
        errors[0]
    );
}

/// The `.EX` … `.EE` blocks of the man page's `[[key]]` section, with roff
/// escapes undone: the config example and the `dig` line.
fn key_section_examples() -> (String, String) {
    let page = std::fs::read_to_string(common::repo_path("man/signpost.toml.5")).unwrap();
    let start = page.find(".SH [[key]]\n").expect("[[key]] section");
    let end = start + page[start..].find("\n.SH ").unwrap();
    let blocks: Vec<String> = page[start..end]
        .split(".EX\n")
        .skip(1)
        .map(|b| b[..b.find(".EE").unwrap()].replace("\\-", "-"))
        .collect();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    (blocks[0].clone(), blocks[1].trim().to_string())
}

#[test]
fn man_page_key_example_works_with_its_dig_line() {
    let (example, dig_line) = key_section_examples();
    let dir = common::scratch_dir("views-tsig-man");
    std::fs::write(
        dir.join("internal.zone"),
        zone_text("example.com", 1, "10.0.0.1"),
    )
    .unwrap();
    std::fs::write(
        dir.join("public.zone"),
        zone_text("example.com", 1, "192.0.2.80"),
    )
    .unwrap();
    let conf = dir.join("signpost.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\n\n{example}\n[[zone]]\nname = \"example.com\"\nfile = \"internal.zone\"\nviews = [\"internal\"]\n\n[[zone]]\nname = \"example.com\"\nfile = \"public.zone\"\nviews = [\"public\"]\n"
        ),
    )
    .unwrap();
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    let args: Vec<&str> = dig_line.split_whitespace().collect();
    assert_eq!(args[0], "dig", "{dig_line}");
    let out = dig(server.udp, &args[1..]);
    assert!(
        out.contains("www.example.com.\t300\tIN\tA\t10.0.0.1"),
        "{out}"
    );
    assert_signed(&out, "internal-key", "hmac-sha256");
    let out = dig(server.udp, &["www.example.com"]);
    assert!(out.contains("\tA\t192.0.2.80"), "{out}");
}

#[test]
fn key_change_in_config_applies_on_reload() {
    let dir = common::scratch_dir("views-tsig-reload");
    let old = tsig_secret(32);
    let new = tsig_secret(32);
    let conf = keyed_config(&dir, &old, &tsig_secret(20));
    let server = Server::start_args(&["-c".into(), conf.display().to_string()]);
    let ask = |secret: &str| {
        dig(
            server.udp,
            &[
                "-y",
                &format!("hmac-sha256:inside-key:{secret}"),
                "www.example.test",
            ],
        )
    };
    assert!(ask(&old).contains("\tA\t10.0.0.1"));
    assert_tsig_error(&ask(&new), "BADSIG");
    let text = std::fs::read_to_string(&conf).unwrap().replace(&old, &new);
    std::fs::write(&conf, text).unwrap();
    let ok = common_wait(Duration::from_secs(3), || {
        ask(&new).contains("\tA\t10.0.0.1")
    });
    assert!(ok, "new secret not in force: {}", server.stderr());
    assert_tsig_error(&ask(&old), "BADSIG");
}
