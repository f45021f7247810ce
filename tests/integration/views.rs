//! Split-horizon views (SPEC §5): the same name answered differently by
//! source address, private zones, REFUSED for a client no view matches, and
//! the config errors views can have.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{self, query, Server};

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
