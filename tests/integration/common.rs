//! Starting `signpostd` on ephemeral loopback ports and talking DNS to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// Fails the test, saying what to install, when `tool` (from the Debian
/// `package`) cannot be run. The README's test command (`sh tests/run.sh`)
/// installs every such package; a test never skips for want of one.
pub fn require_tool(tool: &str, package: &str) {
    let runs = Command::new(tool)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        runs,
        "{tool} is not installed: run the tests with `sh tests/run.sh`, which installs {package}"
    );
}

/// A running `signpostd`, killed by PID when dropped.
pub struct Server {
    child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub stderr_path: PathBuf,
}

pub fn signpostd_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_signpostd"))
}

pub fn signpostctl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_signpostctl"))
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A fresh scratch directory under the target dir, unique per call.
pub fn scratch_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port that is free for both UDP and TCP right now (for a
/// peer server that needs a fixed port).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

impl Server {
    /// Starts `signpostd --listen 127.0.0.1:0` with the given `ORIGIN=FILE`
    /// zones and extra arguments, and waits for its `listening` line.
    pub fn start_zones(zones: &[(&str, &Path)], extra: &[&str]) -> Self {
        let mut args: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
        for (origin, file) in zones {
            args.push("--zone".into());
            args.push(format!("{origin}={}", file.display()));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start_args(&args)
    }

    /// Starts `signpostd` with arbitrary arguments; one of them must make it
    /// listen on a port-0 address.
    pub fn start_args(args: &[String]) -> Self {
        Self::start_args_env(args, &[])
    }

    /// Like [`start_args`](Self::start_args), with these environment
    /// variables set.
    pub fn start_args_env(args: &[String], env: &[(&str, &Path)]) -> Self {
        // Tests run as root in CI; serving as root is what they mean.
        let mut args = args.to_vec();
        args.push("--allow-root".into());
        Self::start_binary(&signpostd_path(), &args, env)
    }

    /// Like [`start_args`](Self::start_args), with standard error looking
    /// like the systemd journal: `JOURNAL_STREAM` names the device and
    /// inode of the file it goes to, as systemd sets it for a service
    /// whose output the journal takes.
    pub fn start_args_journal(args: &[String]) -> Self {
        let mut args = args.to_vec();
        args.push("--allow-root".into());
        Self::spawn(&signpostd_path(), &args, &[], true)
    }

    /// Starts the given signpostd binary with exactly these arguments.
    pub fn start_binary(binary: &Path, args: &[String], env: &[(&str, &Path)]) -> Self {
        Self::spawn(binary, args, env, false)
    }

    fn spawn(binary: &Path, args: &[String], env: &[(&str, &Path)], journal: bool) -> Self {
        use std::os::unix::fs::MetadataExt;
        let dir = scratch_dir("signpostd");
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = Command::new(binary);
        // Whatever the test runner's own standard error is, the server's
        // is the journal only when the test says so.
        command.env_remove("JOURNAL_STREAM");
        if journal {
            let meta = stderr.metadata().unwrap();
            command.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start signpostd");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "signpostd exited before listening: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        };
        // `listening udp=ADDR:PORT tcp=ADDR:PORT`
        let mut udp = None;
        let mut tcp = None;
        for part in line.split_whitespace() {
            if let Some(a) = part.strip_prefix("udp=") {
                udp = a.parse().ok();
            } else if let Some(a) = part.strip_prefix("tcp=") {
                tcp = a.parse().ok();
            }
        }
        // Keep draining stdout so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            udp: udp.unwrap_or_else(|| panic!("bad listening line {line:?}")),
            tcp: tcp.unwrap_or_else(|| panic!("bad listening line {line:?}")),
            stderr_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds a query message like `dig` sends (RD clear, EDNS 1232 unless
/// `edns` is false).
pub fn query(name: &str, rtype: RecordType, edns: bool, dnssec_ok: bool) -> Message {
    let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(dnssec_ok);
        msg.set_edns(e);
    }
    msg
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(4242);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// Sends raw bytes over UDP and returns the raw reply, or None on timeout.
pub fn udp_raw(addr: SocketAddr, packet: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(timeout)).unwrap();
    sock.send_to(packet, addr).unwrap();
    let mut buf = vec![0u8; 65535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

pub fn udp_exchange(addr: SocketAddr, msg: &Message) -> Message {
    let bytes = msg.to_vec().unwrap();
    let reply = udp_raw(addr, &bytes, Duration::from_secs(3)).expect("udp reply");
    Message::from_vec(&reply).expect("parse udp reply")
}

/// One query over a fresh TCP connection (2-byte length prefix).
pub fn tcp_exchange(addr: SocketAddr, msg: &Message) -> Message {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    tcp_send(&mut stream, &msg.to_vec().unwrap());
    let reply = tcp_recv(&mut stream).expect("tcp reply");
    Message::from_vec(&reply).expect("parse tcp reply")
}

pub fn tcp_send(stream: &mut TcpStream, packet: &[u8]) {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).unwrap();
}

pub fn tcp_recv(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Runs `dig @ADDR -p PORT +norec` with `args` and returns what it
/// printed, standard output then standard error.
pub fn dig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "+norec",
            "+time=3",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("run dig");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
