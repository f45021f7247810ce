//! `signpostctl`: the operator's tool.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use signpost::name::Name;

#[derive(Parser, Debug)]
#[command(version, about = "Operate and check a Signpost DNS server")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check a zone file; print a summary or every error.
    Checkzone {
        file: PathBuf,
        /// Zone origin; defaults to the file name without `.zone`.
        origin: Option<String>,
    },
    /// Check a configuration file and every zone it lists.
    Checkconf {
        #[arg(default_value = "/etc/signpost/signpost.toml")]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Checkzone { file, origin } => checkzone(&file, origin.as_deref()),
        Command::Checkconf { file } => checkconf(&file),
    }
}

fn origin_from_file(file: &Path) -> String {
    let stem = file.file_name().and_then(|s| s.to_str()).unwrap_or(".");
    stem.strip_suffix(".zone").unwrap_or(stem).to_string()
}

fn checkzone(file: &Path, origin: Option<&str>) -> ExitCode {
    let origin_text = origin.map_or_else(|| origin_from_file(file), str::to_string);
    let origin = match Name::parse(&origin_text, Some(&Name::root())) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("signpostctl: bad origin \"{origin_text}\": {e}");
            return ExitCode::from(2);
        }
    };
    match signpost::zone::load(&origin, file) {
        Ok(built) => {
            for w in &built.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "zone {}: loaded serial {}, {} records, {} names",
                origin,
                built.zone.serial,
                built.zone.record_count,
                built.zone.nodes.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

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
    let mut failed = false;
    let mut records = 0;
    for zc in &config.zones {
        match signpost::zone::load(&zc.name, &zc.file) {
            Ok(built) => records += built.zone.record_count,
            Err(errors) => {
                failed = true;
                for e in &errors {
                    println!("{e}");
                }
            }
        }
    }
    if failed {
        return ExitCode::FAILURE;
    }
    println!(
        "config {}: {} listen addresses, {} zones, {} records",
        file.display(),
        config.listen.len(),
        config.zones.len(),
        records
    );
    ExitCode::SUCCESS
}
