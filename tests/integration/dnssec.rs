//! Issue 7: online DNSSEC signing, checked by an independent validator
//! (`delv` from BIND) with the zone's key as trust anchor, for both
//! algorithms; `signpostctl ds` against `dnssec-dsfromkey`.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};

use crate::common::{dig, scratch_dir, signpostctl_path, Server};

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
@       IN NS ns1
@       IN ALIAS www
ns1     IN A 192.0.2.53
www     IN A 192.0.2.1
www     IN AAAA 2001:db8::1
*.wild  IN A 192.0.2.7
alias   IN CNAME www
chain   IN CNAME alias
mail    IN MX 10 www
sub     IN NS ns.sub
ns.sub  IN A 192.0.2.99
sec     IN NS ns.sec
sec     IN DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000
w       IN A 192.0.2.10 ;@ weighted id=a weight=1
w       IN A 192.0.2.11 ;@ weighted id=b weight=1
net     IN A 192.0.2.101 ;@ cidr id=one collection=c location=one
net     IN A 192.0.2.102 ;@ cidr id=other collection=c location=*
geo     IN A 192.0.2.201 ;@ geolocation id=de country=DE
geo     IN A 192.0.2.202 ;@ geolocation id=us country=US
geo     IN A 192.0.2.209 ;@ geolocation id=rest location=*
"#;

struct Setup {
    server: Server,
    dir: std::path::PathBuf,
    anchor: std::path::PathBuf,
}

/// Starts a server signing example.test with a fresh key; `extra` adds
/// lines to the zone's `[[zone]]` table.
fn start(algorithm: &str, extra: &str) -> Setup {
    let dir = scratch_dir(&format!("dnssec-{algorithm}"));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    let out = Command::new(signpostctl_path())
        .args(["keygen", "example.test", "--algorithm", algorithm, "--dir"])
        .arg(dir.join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::write(dir.join("example.test.zone"), ZONE).unwrap();
    let geo = crate::common::repo_path("tests/data/geo/test-city.mmdb")
        .display()
        .to_string();
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[geo]\ndatabase = \"{geo}\"\n[cidr.c]\none = [\"127.0.0.1/32\"]\n\n[[zone]]\nname = \"example.test\"\nfile = \"example.test.zone\"\ndnssec = true\nkey_directory = \"keys\"\n{extra}\n"
    );
    std::fs::write(dir.join("signpost.toml"), config).unwrap();
    let server = Server::start_args(&[
        "-c".into(),
        dir.join("signpost.toml").display().to_string(),
        "--no-watch".into(),
        "--control".into(),
        dir.join("ctl.sock").display().to_string(),
    ]);
    // The trust anchor is the DNSKEY as served.
    let dnskey = dig(server.udp, &["+short", "example.test", "DNSKEY"]);
    let fields: Vec<&str> = dnskey.split_whitespace().collect();
    assert!(fields.len() >= 4, "no DNSKEY served: {dnskey:?}");
    let anchor = dir.join("anchor.conf");
    std::fs::write(
        &anchor,
        format!(
            "trust-anchors {{\n example.test. static-key {} {} {} \"{}\";\n}};\n",
            fields[0],
            fields[1],
            fields[2],
            fields[3..].join("")
        ),
    )
    .unwrap();
    Setup {
        server,
        dir,
        anchor,
    }
}

/// delv's verdict: the output, and whether it says "fully validated".
fn delv(s: &Setup, source: Option<&str>, name: &str, rtype: &str) -> (bool, String) {
    delv_at(s, s.server.udp, source, name, rtype)
}

fn delv_at(
    s: &Setup,
    server: SocketAddr,
    source: Option<&str>,
    name: &str,
    rtype: &str,
) -> (bool, String) {
    let port = server.port().to_string();
    let mut cmd = Command::new("delv");
    cmd.args(["@127.0.0.1", "-p", &port, "-a"])
        .arg(&s.anchor)
        .arg("+root=example.test");
    if let Some(source) = source {
        cmd.args(["-b", source]);
    }
    let out = cmd.args([name, rtype]).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text.contains("fully validated"), text)
}

fn check_all(algorithm: &str) {
    crate::common::require_tool("delv", "bind9-dnsutils");
    let s = start(algorithm, "");
    ds_matches_served_dnskey(&s);
    let cases = [
        ("example.test", "DNSKEY", "DNSKEY"),
        ("www.example.test", "A", "192.0.2.1"),
        ("mail.example.test", "MX", "10 www.example.test."),
        // Wildcard expansion: labels field and the proof the name is absent.
        ("x.wild.example.test", "A", "192.0.2.7"),
        ("a.b.wild.example.test", "A", "192.0.2.7"),
        ("chain.example.test", "A", "192.0.2.1"),
        ("nope.example.test", "A", "NXDOMAIN"),
        ("deep.nope.example.test", "AAAA", "NXDOMAIN"),
        ("www.example.test", "TXT", "NXRRSET"),
        ("x.wild.example.test", "TXT", "NXRRSET"),
        ("example.test", "MX", "NXRRSET"),
        // Delegations: delv cannot follow a referral back to the same
        // server, so the proofs are checked through the DS question the
        // validator asks: the DS itself, or the NSEC showing there is none.
        ("sec.example.test", "DS", "DS"),
        ("sub.example.test", "DS", "NXRRSET"),
        // Policy answers: weighted, CIDR by source address, ALIAS at apex.
        ("w.example.test", "A", "192.0.2.1"),
        ("example.test", "A", "192.0.2.1"),
        ("example.test", "AAAA", "2001:db8::1"),
        // NSEC asked for by type: the name's own, made for the answer.
        (
            "www.example.test",
            "NSEC",
            "www.example.test. A AAAA RRSIG NSEC",
        ),
        ("example.test", "NSEC", "NSEC"),
    ];
    for (name, rtype, expect) in cases {
        let (ok, text) = delv(&s, None, name, rtype);
        assert!(
            ok && text.contains(expect),
            "{algorithm} {name} {rtype}:\n{text}"
        );
    }
    for (source, expect) in [("127.0.0.1", "192.0.2.101"), ("127.0.0.2", "192.0.2.102")] {
        let (ok, text) = delv(&s, Some(source), "net.example.test", "A");
        assert!(
            ok && text.contains(expect),
            "{algorithm} cidr from {source}:\n{text}"
        );
    }
    // Geolocation by EDNS Client Subnet: delv cannot send ECS, so it asks
    // through a relay that adds the option to every query it passes on.
    for (subnet, expect) in [
        ("192.0.2.0/24", "192.0.2.201"),
        ("198.51.100.0/24", "192.0.2.202"),
        ("100.80.0.0/16", "192.0.2.209"),
    ] {
        let relay = ecs_relay(s.server.udp, subnet);
        let (ok, text) = delv_at(&s, relay, None, "geo.example.test", "A");
        assert!(
            ok && text.contains(expect) && text.matches("\tIN\tA\t").count() == 1,
            "{algorithm} geolocation for {subnet}:\n{text}"
        );
    }
    // RRSIG asked for by type (delv does not ask that): one signature per
    // RRset at the name, policy RRsets as chosen for this client.
    for (name, want) in [
        ("example.test", vec!["DNSKEY", "NS", "SOA"]),
        ("www.example.test", vec!["A", "AAAA"]),
        ("w.example.test", vec!["A"]),
    ] {
        let mut covered: Vec<String> = dig(s.server.udp, &["+short", name, "RRSIG"])
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        covered.sort();
        assert_eq!(covered, want, "{algorithm} {name} RRSIG");
    }
    // status shows the key and the cache at work: delv asked for the
    // same RRsets several times.
    let status = Command::new(signpostctl_path())
        .args(["status", "--control"])
        .arg(s.dir.join("ctl.sock"))
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    let line = status
        .lines()
        .find(|l| l.starts_with("signing example.test.: key tag "))
        .unwrap_or_else(|| panic!("no signing line in status:\n{status}"));
    let count = |what: &str| -> u64 {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == what).unwrap();
        words[at - 1].parse().unwrap()
    };
    assert!(count("hits") > 0 && count("signed") > 0, "{line}");
    // A key other than the zone's must not validate (the test can fail).
    let other = scratch_dir(&format!("dnssec-other-{algorithm}"));
    Command::new(signpostctl_path())
        .args(["keygen", "example.test", "--algorithm", algorithm, "--dir"])
        .arg(&other)
        .output()
        .unwrap();
    let key = std::fs::read_dir(&other)
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "key"))
        .unwrap();
    let line = std::fs::read_to_string(key.path()).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    let wrong = Setup {
        server: s.server,
        dir: s.dir.clone(),
        anchor: s.dir.join("wrong.conf"),
    };
    std::fs::write(
        &wrong.anchor,
        format!(
            "trust-anchors {{\n example.test. static-key {} {} {} \"{}\";\n}};\n",
            f[4],
            f[5],
            f[6],
            f[7..].join("")
        ),
    )
    .unwrap();
    let (ok, text) = delv(&wrong, None, "www.example.test", "A");
    assert!(!ok, "validated with a foreign key:\n{text}");
}

#[test]
fn delv_validates_ecdsa_p256() {
    check_all("ecdsap256sha256");
}

#[test]
fn delv_validates_ed25519() {
    check_all("ed25519");
}

#[test]
fn expired_signatures_fail_validation() {
    crate::common::require_tool("delv", "bind9-dnsutils");
    // Inception a day back, valid for an hour: expired 23 hours ago.
    let s = start(
        "ecdsap256sha256",
        "signature_inception_offset = 86400\nsignature_validity = 3600",
    );
    let (ok, text) = delv(&s, None, "www.example.test", "A");
    assert!(!ok, "expired signature validated:\n{text}");
}

#[test]
fn no_dnssec_records_without_do() {
    let s = start("ecdsap256sha256", "");
    for flags in [&["+nodnssec"][..], &["+dnssec", "+cd"][..]] {
        let text = dig(
            s.server.udp,
            &[&["nope.example.test", "A"][..], flags].concat(),
        );
        let signed = text.contains("RRSIG") && text.contains("NSEC");
        assert_eq!(signed, flags[0] == "+dnssec", "{flags:?}\n{text}");
        // An authoritative server never sets AD (RFC 4035 §3.2.3).
        assert!(!text.contains(" ad;") && !text.contains(" ad "), "{text}");
    }
}

#[test]
fn missing_key_fails_only_that_zone() {
    let dir = scratch_dir("dnssec-missing");
    std::fs::write(dir.join("a.zone"), ZONE.replace("example.test.", "a.test.")).unwrap();
    std::fs::write(dir.join("b.zone"), ZONE.replace("example.test.", "b.test.")).unwrap();
    let config = "[server]\nlisten = [\"127.0.0.1:0\"]\n[cidr.c]\none = [\"127.0.0.1/32\"]\n\n[[zone]]\nname = \"a.test\"\nfile = \"a.zone\"\ndnssec = true\nkey_directory = \".\"\n\n[[zone]]\nname = \"b.test\"\nfile = \"b.zone\"\n";
    std::fs::write(dir.join("signpost.toml"), config).unwrap();
    let mut server = Server::start_args(&[
        "-c".into(),
        dir.join("signpost.toml").display().to_string(),
        "--no-watch".into(),
        "--control".into(),
        dir.join("ctl.sock").display().to_string(),
    ]);
    let out = dig(server.udp, &["+short", "www.b.test", "A"]);
    assert_eq!(out.trim(), "192.0.2.1");
    assert!(server.is_running());
    let log = server.stderr();
    assert!(
        log.contains("signpost.toml:9:10: zone a.test.: cannot sign: no key"),
        "{log}"
    );
}

#[test]
fn ds_matches_dnssec_dsfromkey() {
    let dir = scratch_dir("dnssec-ds");
    for alg in ["ecdsap256sha256", "ed25519"] {
        let sub = dir.join(alg);
        std::fs::create_dir_all(&sub).unwrap();
        let gen = Command::new(signpostctl_path())
            .args(["keygen", "Example.Test", "--algorithm", alg, "--dir"])
            .arg(&sub)
            .output()
            .unwrap();
        assert!(gen.status.success());
        // A second key would break the zone at its next load: refused.
        let again = Command::new(signpostctl_path())
            .args(["keygen", "example.test", "--dir"])
            .arg(&sub)
            .output()
            .unwrap();
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("already has a key"));
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 2);
        let ds = Command::new(signpostctl_path())
            .args(["ds", "example.test", "--dir"])
            .arg(&sub)
            .output()
            .unwrap();
        let ours = String::from_utf8_lossy(&ds.stdout).trim().to_string();
        let key = std::fs::read_dir(&sub)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "key"))
            .unwrap();
        // The DNSKEY is public; the private key is for the server alone.
        check_mode(&key, 0o644);
        check_mode(&key.with_extension("pk8"), 0o600);
        crate::common::require_tool("dnssec-dsfromkey", "bind9-utils");
        let theirs = Command::new("dnssec-dsfromkey")
            .args(["-2", "-f"])
            .arg(&key)
            .arg("example.test")
            .output()
            .unwrap();
        assert_eq!(
            ours,
            String::from_utf8_lossy(&theirs.stdout).trim(),
            "{alg}"
        );
    }
}

/// A UDP relay on loopback that adds an ECS option for `subnet` to each
/// query and passes the server's reply back. It stops by itself after two
/// seconds without traffic.
fn ecs_relay(server: SocketAddr, subnet: &str) -> SocketAddr {
    let (addr, prefix) = subnet.split_once('/').unwrap();
    let subnet = ClientSubnet::new(addr.parse().unwrap(), prefix.parse().unwrap(), 0);
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    front
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let local = front.local_addr().unwrap();
    std::thread::spawn(move || {
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut last = Instant::now();
        let mut buf = [0u8; 65535];
        while last.elapsed() < Duration::from_secs(2) {
            let Ok((n, client)) = front.recv_from(&mut buf) else {
                continue;
            };
            last = Instant::now();
            let Ok(mut msg) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut edns = msg.edns.clone().unwrap_or_else(Edns::new);
            edns.options_mut().insert(EdnsOption::Subnet(subnet));
            msg.set_edns(edns);
            back.send_to(&msg.to_vec().unwrap(), server).unwrap();
            if let Ok((m, _)) = back.recv_from(&mut buf) {
                let _ = front.send_to(&buf[..m], client);
            }
        }
    });
    local
}

/// `signpostctl ds` gives the parent what `dnssec-dsfromkey` computes from
/// the DNSKEY RRset the server actually serves.
fn ds_matches_served_dnskey(s: &Setup) {
    let served = dig(
        s.server.udp,
        &["+noall", "+answer", "example.test", "DNSKEY"],
    );
    let served_file = s.dir.join("served-dnskey.zone");
    std::fs::write(&served_file, served).unwrap();
    crate::common::require_tool("dnssec-dsfromkey", "bind9-utils");
    let theirs = Command::new("dnssec-dsfromkey")
        .args(["-2", "-f"])
        .arg(&served_file)
        .arg("example.test")
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{theirs:?}");
    let ours = Command::new(signpostctl_path())
        .args(["ds", "example.test", "--dir"])
        .arg(s.dir.join("keys"))
        .output()
        .unwrap();
    assert!(ours.status.success(), "{ours:?}");
    let normalize = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect::<Vec<_>>()
    };
    let theirs = normalize(&theirs.stdout);
    assert!(theirs.len() >= 7, "{theirs:?}");
    assert_eq!(normalize(&ours.stdout), theirs);
}

fn check_mode(path: &Path, expected: u32) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, expected, "{mode:o} {}", path.display());
}

/// Regression (issue 13): a signed zone whose key is missing passed
/// `checkconf`, then the daemon refused to serve it. checkconf now compiles
/// what the daemon serves: it exits 1 with the message the daemon logs,
/// naming the zone and the key directory, at the `dnssec = true` line.
#[test]
fn checkconf_refuses_a_signed_zone_without_its_key() {
    let dir = scratch_dir("dnssec-nokey");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("example.test.zone"), ZONE).unwrap();
    let config = dir.join("signpost.toml");
    let geo = crate::common::repo_path("tests/data/geo/test-city.mmdb");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[geo]\ndatabase = \"{}\"\n[cidr.c]\none = [\"127.0.0.1/32\"]\n\n[[zone]]\nname = \"example.test\"\nfile = \"example.test.zone\"\ndnssec = true\nkey_directory = \"keys\"\n",
            geo.display()
        ),
    )
    .unwrap();
    let out = Command::new(signpostctl_path())
        .arg("checkconf")
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let keys = dir.join("keys");
    let want = format!(
        "{}:11:10: zone example.test.: cannot sign: no key for zone example.test. in {}",
        config.display(),
        keys.display()
    );
    assert!(stdout.contains(&want), "want {want:?} in:\n{stdout}");
    assert!(
        stdout.contains("signpostctl keygen example.test"),
        "{stdout}"
    );

    // The daemon refuses the zone with the same words.
    let server = Server::start_args(&[
        "-c".into(),
        config.display().to_string(),
        "--no-watch".into(),
        "--control".into(),
        dir.join("ctl.sock").display().to_string(),
    ]);
    let line = stdout.lines().find(|l| l.contains("cannot sign")).unwrap();
    assert!(server.stderr().contains(line), "{}", server.stderr());

    // With the key made, both accept it.
    let made = Command::new(signpostctl_path())
        .args(["keygen", "example.test", "--dir"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let out = Command::new(signpostctl_path())
        .arg("checkconf")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
