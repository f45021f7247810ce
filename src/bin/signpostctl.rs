//! `signpostctl`: the operator's tool.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use signpost::control::counted;
use signpost::proto::name::Name;

#[derive(Parser, Debug)]
#[command(name = "signpostctl", version = signpost::VERSION, about = "Operate and check a Signpost DNS server")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check a zone file; print a summary or every error.
    /// Takes FILE [ORIGIN], or ORIGIN FILE as named-checkzone does.
    Checkzone {
        /// The zone file (or, followed by the file, the origin).
        #[arg(value_name = "FILE")]
        first: String,
        /// Zone origin; defaults to the config's zone of that file, else
        /// the file name without `.zone`.
        #[arg(value_name = "ORIGIN")]
        second: Option<String>,
        /// Check the routing annotations against this config's health
        /// checks, regions, CIDR collections and GeoIP database.
        #[arg(short, long, value_name = "CONFIG")]
        config: Option<PathBuf>,
        /// Treat warnings as errors (exit 1), for CI.
        #[arg(long)]
        strict: bool,
    },
    /// Check a configuration file and every zone it lists.
    Checkconf {
        #[arg(default_value = "/etc/signpost/signpost.toml")]
        file: PathBuf,
    },
    /// Make the zone's DNSSEC key: one combined signing key (CSK, flags
    /// 257) as K<zone>+<alg>+<tag>.key (DNSKEY) and .pk8 (private, 0600).
    Keygen {
        zone: String,
        #[arg(
            long,
            default_value = "ecdsap256sha256",
            value_name = "ecdsap256sha256|ed25519"
        )]
        algorithm: String,
        /// Where to write the key (the zone's key_directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print the DS record (SHA-256) of the zone's key, for the parent.
    Ds {
        zone: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Ask the running server to reload its config and changed zones, or
    /// one zone unconditionally; prints the outcome, exits 1 on any error.
    Reload {
        zone: Option<String>,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Show uptime, listeners, views and every zone's serial and last
    /// reload; exits 1 when a configured zone is not served or the last
    /// reload failed.
    Status {
        /// Print one JSON object (keys in signpostctl(8)) instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// List every health check (state, forced or automatic, type, last
    /// result, latency, time of the last change, reason), or override one:
    /// `health set CHECK up|down|auto`.
    Health {
        #[command(subcommand)]
        action: Option<HealthAction>,
        /// Print the list as one JSON object (keys in signpostctl(8)).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Stop the server, as SIGTERM does.
    Stop {
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Print the server's metrics in the Prometheus text format, as
    /// `GET /metrics` serves them.
    Stats {
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Show which view, zone, policy decisions, health states and records
    /// the server would answer a client with, one decision per line.
    Explain {
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        /// The client: ADDR (source address) or ADDR/PREFIX (as EDNS
        /// Client Subnet).
        #[arg(long, value_name = "ADDR[/PREFIX]")]
        client: signpost::explain::ExplainClient,
        /// Load the config's files and use its initial health states
        /// instead of asking the running server (which is what happens
        /// anyway when no server answers).
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Print the shell completion script for signpostctl (bash, zsh,
    /// fish, elvish or powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum HealthAction {
    /// Force a check up or down (until `auto`; survives reloads, not
    /// restarts), or hand it back to its probes with `auto`.
    Set {
        check: String,
        #[arg(value_parser = ["up", "down", "auto"])]
        state: String,
        #[command(flatten)]
        control: ControlArgs,
    },
}

/// Where to find the running server's control socket.
#[derive(clap::Args, Debug)]
struct ControlArgs {
    /// The control socket (default: the config's [control] socket, or the
    /// config file's own default: next to it, or
    /// /run/signpost/signpostd.sock for a config in /etc/signpost).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Read the socket path from this config file.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/signpost/signpost.toml"
    )]
    config: PathBuf,
    /// Seconds to wait for the answer (a large zone takes a while).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
}

fn main() -> ExitCode {
    // `checkconf` loads each plugin in a child, as the daemon does: this
    // binary re-executed as the plugin host (health/plugin_host.rs).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv
        .get(1)
        .is_some_and(|a| a == signpost::health::plugin_host::FLAG)
    {
        return signpost::health::plugin_host::child_main(argv.get(2..).unwrap_or_default());
    }
    match Args::parse().command {
        Command::Checkzone {
            first,
            second,
            config,
            strict,
        } => checkzone(&first, second.as_deref(), config.as_deref(), strict),
        Command::Checkconf { file } => checkconf(&file),
        Command::Keygen {
            zone,
            algorithm,
            dir,
        } => keygen(&zone, &algorithm, &dir),
        Command::Ds { zone, dir } => ds(&zone, &dir),
        Command::Reload { zone, control } => {
            let command = zone.map_or_else(|| "reload".to_string(), |z| format!("reload {z}"));
            call_server(&control, &command)
        }
        Command::Status { json, control } => {
            call_server(&control, if json { "status json" } else { "status" })
        }
        Command::Stop { control } => call_server(&control, "stop"),
        Command::Stats { control } => call_server(&control, "stats"),
        Command::Health {
            action,
            json,
            control,
        } => match action {
            None => call_server(&control, if json { "health json" } else { "health" }),
            Some(HealthAction::Set { .. }) if json => {
                eprintln!("signpostctl: --json lists the checks; `health set` takes no --json");
                ExitCode::from(2)
            }
            Some(HealthAction::Set {
                check,
                state,
                control,
            }) => call_server(&control, &format!("health set {check} {state}")),
        },
        Command::Explain {
            name,
            rtype,
            client,
            offline,
            control,
        } => explain(&control, &name, &rtype, client, offline),
        Command::Completions { shell } => completions(shell),
    }
}

/// Prints the completion script. It is generated into memory first:
/// clap_complete panics when its writer fails, as standard output does
/// when the reader goes away.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "signpostctl", &mut script);
    match std::io::stdout().write_all(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signpostctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends one command to the server and prints its answer. Exit 0 when the
/// server reports success, 1 when it reports a failure, 2 when it cannot be
/// reached.
fn call_server(args: &ControlArgs, command: &str) -> ExitCode {
    let path = socket_path(args);
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    match signpost::control::socket::call(&path, command, timeout) {
        Ok(answer) => print_answer(&answer),
        Err(e) => {
            eprintln!(
                "signpostctl: cannot talk to signpostd at {}: {e}",
                path.display()
            );
            ExitCode::from(2)
        }
    }
}

fn socket_path(args: &ControlArgs) -> PathBuf {
    match &args.control {
        Some(p) => p.clone(),
        // Only the socket path is wanted: a config with other problems, or
        // none at that path, still has its default one.
        None => signpost::config::load(&args.config)
            .ok()
            .and_then(|c| c.control_socket)
            .unwrap_or_else(|| signpost::config::default_control_socket(&args.config)),
    }
}

/// Prints the answer on standard output, and which server gave it on
/// standard error (so that scripts read the answer alone).
fn print_answer(answer: &signpost::control::socket::Reply) -> ExitCode {
    if let Some(server) = &answer.server {
        eprintln!("{server}");
    }
    for line in &answer.lines {
        println!("{line}");
    }
    if answer.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse_zone(zone: &str) -> Option<Name> {
    match Name::parse(zone, Some(&Name::root())) {
        Ok(name) => Some(name),
        Err(e) => {
            eprintln!("zone name \"{zone}\": {e}");
            None
        }
    }
}

fn keygen(zone: &str, algorithm: &str, dir: &Path) -> ExitCode {
    use signpost::dnssec::keys;
    let Some(name) = parse_zone(zone) else {
        return ExitCode::from(2);
    };
    let Some(alg) = keys::SigningAlgorithm::parse(algorithm) else {
        eprintln!("unknown algorithm \"{algorithm}\"; use ecdsap256sha256 or ed25519");
        return ExitCode::from(2);
    };
    // A second key would make the zone fail to load at its next reload
    // (one key per zone; there is no rollover yet).
    match keys::load(&name, dir) {
        Ok(_) | Err(keys::KeyError::Several { .. } | keys::KeyError::Invalid { .. }) => {
            eprintln!(
                "zone {name} already has a key in {}; to replace it, remove it first: without a rollover, answers fail validation until the parent has the new DS",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
        Err(_) => {}
    }
    match keys::generate(&name, alg, dir) {
        Ok((key, path)) => {
            println!("{}", path.display());
            println!("{}", keys::ds_line(&name, &key));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn ds(zone: &str, dir: &Path) -> ExitCode {
    use signpost::dnssec::keys;
    let Some(name) = parse_zone(zone) else {
        return ExitCode::from(2);
    };
    match keys::load(&name, dir) {
        Ok(key) => {
            println!("{}", keys::ds_line(&name, &key));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn origin_from_file(file: &Path) -> String {
    let stem = file.file_name().and_then(|s| s.to_str()).unwrap_or(".");
    stem.strip_suffix(".zone").unwrap_or(stem).to_string()
}

/// `checkzone FILE [ORIGIN]`, or `checkzone ORIGIN FILE` as
/// named-checkzone takes them: with two words, the one that names an
/// existing file is the file (the first when both do).
fn file_and_origin<'a>(first: &'a str, second: Option<&'a str>) -> (&'a Path, Option<&'a str>) {
    match second {
        Some(second) if !Path::new(first).is_file() && Path::new(second).is_file() => {
            (Path::new(second), Some(first))
        }
        _ => (Path::new(first), second),
    }
}

/// The origin of a zone file the config lists, if it lists it.
fn configured_origin(config: &signpost::config::Config, file: &Path) -> Option<String> {
    let file = std::fs::canonicalize(file).ok()?;
    config
        .zones
        .iter()
        .find(|z| std::fs::canonicalize(&z.file).is_ok_and(|f| f == file))
        .map(|z| z.name.to_string())
}

fn checkzone(first: &str, second: Option<&str>, config: Option<&Path>, strict: bool) -> ExitCode {
    let (file, origin) = file_and_origin(first, second);
    let config = match config.map(signpost::config::load).transpose() {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let origin_text = origin
        .map(str::to_string)
        .or_else(|| config.as_ref().and_then(|c| configured_origin(c, file)))
        .unwrap_or_else(|| origin_from_file(file));
    let origin = match Name::parse(&origin_text, Some(&Name::root())) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("signpostctl: bad origin \"{origin_text}\": {e}");
            return ExitCode::from(2);
        }
    };
    match signpost::compile::zone_file(&origin, file, config.as_ref()) {
        Ok(built) if strict && !built.warnings.is_empty() => {
            for w in &built.warnings {
                println!("{w}");
            }
            println!(
                "zone {origin}: {} (--strict)",
                count(built.warnings.len(), "warning", "warnings")
            );
            ExitCode::FAILURE
        }
        Ok(built) => {
            for w in &built.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "zone {}: loaded serial {}, {}, {}",
                origin,
                built.serial(),
                counted(built.record_count(), "record", "records"),
                counted(built.name_count(), "name", "names")
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            if config.is_none() && errors.iter().any(|e| e.message.contains("in the config")) {
                eprintln!(
                    "signpostctl: checked without a config; with -c CONFIG, health=, collection= and region= are checked against its tables"
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// "1 warning", "2 warnings".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Compiles the config exactly as the daemon would serve it (zones,
/// signing keys, the GeoIP database) and loads each plugin once; exits 1
/// with every problem as `file:line:col: message`.
fn checkconf(file: &Path) -> ExitCode {
    let config = match signpost::config::load(file) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let compiled = signpost::compile::everything(&config);
    let plugins = signpost::compile::plugins(&config);
    let mut failed = !plugins.is_empty();
    match &compiled {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
        }
        Err(errors) => {
            failed = true;
            for e in errors {
                println!("{e}");
            }
        }
    }
    for e in &plugins {
        println!("{e}");
    }
    match compiled {
        Ok(c) if !failed => {
            println!(
                "config {}: {}, {}, {}",
                file.display(),
                counted(config.listen.len(), "listen address", "listen addresses"),
                counted(config.zones.len(), "zone", "zones"),
                counted(c.records, "record", "records")
            );
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    }
}

/// Asks the running server, whose zones and health states are the ones
/// that answer queries; without one, explains from the files.
fn explain(
    control: &ControlArgs,
    name: &str,
    rtype: &str,
    client: signpost::explain::ExplainClient,
    offline: bool,
) -> ExitCode {
    let Some(code) = signpost::proto::rtype::from_str(rtype) else {
        eprintln!("signpostctl: unknown record type \"{rtype}\"");
        return ExitCode::from(2);
    };
    if !offline {
        let path = socket_path(control);
        let timeout = std::time::Duration::from_secs(control.timeout.max(1));
        let command = format!("explain {name} {rtype} {client}");
        match signpost::control::socket::call(&path, &command, timeout) {
            Ok(answer) => return print_answer(&answer),
            Err(e) => eprintln!(
                "signpostctl: no server at {} ({e}); explaining from the files with the config's initial health states",
                path.display()
            ),
        }
    }
    let config = match signpost::config::load(&control.config) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    match signpost::explain::explain(&config, name, code, client) {
        Ok(lines) => {
            println!("source: the files on disk, health states as configured");
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                println!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}
