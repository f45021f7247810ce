//! Golden tests for the zone-file parser, a cross-check against BIND's
//! `named-compilezone`, and a no-panic test on hostile input.
//!
//! Each `tests/data/zonefile/NN_topic.zone` has an `NN_topic.out`: the
//! records (one `record_to_text` line each, then ` ;@ text` when annotated),
//! or the exact `file:line:col: message` lines when the file must fail.
//! The origin is `example.com.` unless the first line says `; origin: NAME`.
//! `BLESS=1 cargo test --test zonefile` rewrites the `.out` files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use signpost::proto::Name;
use signpost::zonefile::{parse_file, parse_str, record_to_text, Record};

const DIR: &str = "tests/data/zonefile";

fn zones() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .expect("test data directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "zone"))
        .map(|p| Path::new(DIR).join(p.file_name().expect("file name")))
        .collect();
    files.sort();
    files
}

fn origin_of(path: &Path) -> Name {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let origin = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("; origin:"))
        .map_or("example.com.", str::trim);
    Name::parse(origin, None).expect("origin")
}

fn render(result: &Result<Vec<Record>, Vec<signpost::proto::Diagnostic>>) -> String {
    let mut out = String::new();
    match result {
        Ok(records) => {
            for r in records {
                out.push_str(&record_to_text(r));
                if let Some(a) = &r.annotation {
                    out.push_str(" ;@ ");
                    out.push_str(&a.text);
                }
                out.push('\n');
            }
        }
        Err(diags) => {
            for d in diags {
                out.push_str(&d.to_string());
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn golden() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let files = zones();
    assert!(files.len() >= 20, "golden files missing");
    for path in files {
        let origin = origin_of(&path);
        let result = parse_file(&path, &origin);
        let got = render(&result);
        let out_path = path.with_extension("out");
        if bless {
            std::fs::write(&out_path, &got).expect("write .out");
            continue;
        }
        let want = std::fs::read_to_string(&out_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}: output differs\n--- want\n{want}--- got\n{got}",
                path.display()
            ));
        }
        // What we print must read back to the same record.
        if let Ok(records) = &result {
            for r in records {
                let text = record_to_text(r);
                match parse_str(&text, Path::new("roundtrip"), &origin) {
                    Ok(back)
                        if back.len() == 1
                            && back[0].rdata == r.rdata
                            && back[0].owner == r.owner => {}
                    other => failures.push(format!(
                        "{}: {text} does not round-trip: {other:?}",
                        path.display()
                    )),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Counts the diagnostics of the failing golden files: the parser must go on
/// after an error, so several files carry more than one.
#[test]
fn every_error_is_reported() {
    let mut total = 0;
    let mut multi = 0;
    for path in zones() {
        if let Err(diags) = parse_file(&path, &origin_of(&path)) {
            total += diags.len();
            if diags.len() > 1 {
                multi += 1;
            }
        }
    }
    assert!(total >= 25, "only {total} error cases");
    assert!(multi >= 3, "only {multi} files with several errors");
}

type Key = (Vec<u8>, u32, u16, Vec<u8>);

fn keys(records: &[Record]) -> BTreeSet<Key> {
    records
        .iter()
        .map(|r| {
            (
                r.owner.to_lowercase().as_wire().to_vec(),
                r.ttl,
                r.rtype,
                r.rdata.to_vec(),
            )
        })
        .collect()
}

/// Runs BIND over every valid golden zone and compares record sets (BIND's
/// output is read back with our parser, so presentation differences do not
/// matter; the comparison is on wire forms).
#[test]
fn bind_agrees() {
    let probe = Command::new("named-compilezone").arg("-v").output();
    assert!(
        probe.is_ok(),
        "named-compilezone is not installed: run the tests with `sh tests/run.sh`, which installs bind9-utils"
    );
    // Where we differ from BIND on purpose.
    const NOT_LIKE_BIND: &[&str] = &[
        // BIND resolves a nested relative $INCLUDE against its working
        // directory; we resolve it against the including file's directory.
        "14_include_nested.zone",
        // BIND refuses the obsolete MD and MF types.
        "15_obsolete_types.zone",
    ];
    let mut failures = Vec::new();
    let mut compared = 0;
    for path in zones() {
        if NOT_LIKE_BIND.iter().any(|n| path.ends_with(n)) {
            continue;
        }
        let origin = origin_of(&path);
        let Ok(ours) = parse_file(&path, &origin) else {
            continue;
        };
        let dir = path.parent().expect("dir");
        // `-i local` keeps named-compilezone from resolving names over the
        // network; `-t`/relative paths resolve $INCLUDE like we do.
        let output = Command::new("named-compilezone")
            .args([
                "-i", "local", "-k", "ignore", "-m", "ignore", "-M", "ignore", "-S", "ignore",
            ])
            .args(["-n", "ignore", "-r", "ignore", "-s", "full", "-o", "-"])
            .arg(origin.to_string())
            .arg(path.file_name().expect("file name"))
            .current_dir(dir)
            .output()
            .expect("run named-compilezone");
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            failures.push(format!(
                "{}: named-compilezone rejected it: {}{}",
                path.display(),
                text,
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        let theirs = match parse_str(&text, Path::new("bind-output"), &origin) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "{}: cannot read BIND's output: {e:?}\n{text}",
                    path.display()
                ));
                continue;
            }
        };
        let (a, b) = (keys(&ours), keys(&theirs));
        if a != b {
            let only_ours: Vec<String> = ours
                .iter()
                .filter(|r| {
                    !b.contains(
                        &keys(std::slice::from_ref(*r))
                            .into_iter()
                            .next()
                            .expect("key"),
                    )
                })
                .map(record_to_text)
                .collect();
            let only_bind: Vec<String> = theirs
                .iter()
                .filter(|r| {
                    !a.contains(
                        &keys(std::slice::from_ref(*r))
                            .into_iter()
                            .next()
                            .expect("key"),
                    )
                })
                .map(record_to_text)
                .collect();
            failures.push(format!(
                "{}: record sets differ\n only ours: {only_ours:#?}\n only BIND: {only_bind:#?}",
                path.display()
            ));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 5, "only {compared} zones compared with BIND");
}

/// Random bytes and mutated zone text must give records or diagnostics,
/// never a panic.
#[test]
fn hostile_input_never_panics() {
    let origin = Name::parse("example.com.", None).expect("origin");
    let mut rng = SmallRng::seed_from_u64(0x5157_0057);
    let corpus: Vec<Vec<u8>> = zones()
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    let alphabet = b" \t\n\r();\"\\$@.0123456789abcdefxyzAINSOTXC#-/:=,{}";
    for round in 0..3000 {
        let mut text: Vec<u8> = if round % 3 == 0 {
            (0..rng.random_range(0..400))
                .map(|_| rng.random())
                .collect()
        } else {
            corpus[rng.random_range(0..corpus.len())].clone()
        };
        let edits = rng.random_range(1..20);
        for _ in 0..edits {
            if text.is_empty() {
                text.push(b'a');
            }
            let at = rng.random_range(0..text.len());
            match rng.random_range(0..4) {
                0 => text[at] = alphabet[rng.random_range(0..alphabet.len())],
                1 => text.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                2 => {
                    text.remove(at);
                }
                _ => text[at] = rng.random(),
            }
        }
        let s = String::from_utf8_lossy(&text);
        // $INCLUDE resolves against a directory without zone files.
        let _ = parse_str(&s, Path::new("/nonexistent/fuzz.zone"), &origin);
    }
}

/// Load-time check on a big zone: `SIGNPOST_BIG_ZONE=/tmp/big.zone
/// cargo test --release --test zonefile -- --ignored big_zone --nocapture`
/// (make the file with `../shared/bench/gen-zone.py --records 1000000`).
#[test]
#[ignore = "needs a generated zone file"]
fn big_zone() {
    let Some(path) = std::env::var_os("SIGNPOST_BIG_ZONE") else {
        println!("SIGNPOST_BIG_ZONE not set");
        return;
    };
    let origin = Name::parse("bench.test.", None).expect("origin");
    let start = std::time::Instant::now();
    let records = parse_file(Path::new(&path), &origin).expect("zone parses");
    println!("{} records in {:?}", records.len(), start.elapsed());
}
