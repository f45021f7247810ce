//! `signpostd`: the Signpost authoritative DNS server.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use signpost::config::{self, Config, LogFormat, ZoneConfig};
use signpost::control::Overrides;
use signpost::daemon::log;
use signpost::proto::name::Name;

/// Authoritative DNS server with traffic-management routing policies.
#[derive(Parser, Debug)]
#[command(name = "signpostd", version = signpost::VERSION, about)]
struct Args {
    /// Configuration file (TOML). Without it, --listen and --zone describe
    /// everything.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to serve UDP and TCP on (port 0 picks a free port); replaces
    /// the config's list. Repeatable.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// A zone to serve, in addition to the config's. Repeatable.
    #[arg(long, value_name = "ORIGIN=FILE")]
    zone: Vec<String>,
    /// UDP sockets and threads per listen address (default: one per CPU).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Seconds a TCP connection may stay idle.
    #[arg(long, value_name = "SECS")]
    tcp_idle_timeout: Option<u64>,
    /// Most simultaneous TCP connections.
    #[arg(long, value_name = "N")]
    tcp_max_connections: Option<usize>,
    /// Control socket for signpostctl (default: the config's; none without
    /// a config).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Do not watch the config and zone files for changes.
    #[arg(long)]
    no_watch: bool,
    /// Started as root, become this user once the sockets are bound
    /// (replaces the config's [server] user).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The group to become with --user (default: the user's own).
    #[arg(long, value_name = "GROUP", requires = "user")]
    group: Option<String>,
    /// Serve as root when started as root without a user to become.
    #[arg(long)]
    allow_root: bool,
    /// Log lines as text or as one JSON object each (replaces the
    /// config's [log] format).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Text => Self::Text,
            LogFormatArg::Json => Self::Json,
        }
    }
}

fn main() -> ExitCode {
    // The daemon re-executes itself to host a health plugin in a process
    // of its own (see health/plugin_host.rs); that child speaks a pipe
    // protocol, not the command line below.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv
        .get(1)
        .is_some_and(|a| a == signpost::health::plugin_host::FLAG)
    {
        return signpost::health::plugin_host::child_main(argv.get(2..).unwrap_or_default());
    }
    let args = Args::parse();
    let cli_format = args.log_format.map(LogFormat::from);
    // The config says how to log, so it is read first; its errors are
    // printed in the form log lines take.
    let (config, overrides) = match build_config(args) {
        Ok(pair) => pair,
        Err(messages) => {
            for m in messages {
                eprintln!("{}", log::startup_error(cli_format.unwrap_or_default(), &m));
            }
            return ExitCode::from(2);
        }
    };
    log::init(&config.log);
    match signpost::daemon::run(config, overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The config to start with, and the command-line additions a config
/// re-read must keep.
fn build_config(args: Args) -> Result<(Config, Overrides), Vec<String>> {
    let mut config = match &args.config {
        Some(path) => config::load(path)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        config.listen = args.listen;
        config.listen_is_default = false;
    }
    let mut errors = Vec::new();
    let mut overrides = Overrides::default();
    for spec in &args.zone {
        let Some((origin, file)) = spec.split_once('=') else {
            errors.push(format!("--zone {spec}: expected ORIGIN=FILE"));
            continue;
        };
        match Name::parse(origin, Some(&Name::root())) {
            Ok(name) => overrides.zones.push(ZoneConfig {
                name,
                file: PathBuf::from(file),
                views: Vec::new(),
                dnssec: None,
            }),
            Err(e) => errors.push(format!("--zone {spec}: bad origin: {e}")),
        }
    }
    config.zones.extend(overrides.zones.iter().cloned());
    if args.no_watch {
        config.watch = false;
        overrides.watch = Some(false);
    }
    if let Some(user) = args.user {
        config.run_as = Some(config::RunAs {
            user,
            group: args.group,
            position: signpost::proto::Position::file_start(std::path::Path::new("--user")),
        });
    }
    if let Some(format) = args.log_format {
        config.log.format = format.into();
        overrides.log_format = Some(format.into());
    }
    if args.allow_root {
        config.allow_root = true;
    }
    if let Some(path) = args.control {
        config.control_socket = Some(path);
    }
    if let Some(w) = args.workers {
        config.workers = w.max(1);
    }
    if let Some(secs) = args.tcp_idle_timeout {
        config.tcp_idle_timeout = Duration::from_secs(secs.max(1));
    }
    if let Some(n) = args.tcp_max_connections {
        config.tcp_max_connections = n.max(1);
    }
    if config.listen.is_empty() {
        errors.push("nothing to listen on: give --config FILE or --listen ADDR:PORT".into());
    }
    if errors.is_empty() {
        Ok((config, overrides))
    } else {
        Err(errors)
    }
}
