//! The man pages against the programs they describe.
//!
//! Examples: every example block of every page (`.EX` to `.EE`, or `.nf`
//! to `.fi`) must follow a comment line `.\" example: KIND [ARGS]` that
//! says what it is, and is checked as that:
//!
//! | kind              | checked by |
//! |-------------------|------------|
//! | `config`          | `signpostctl checkconf`, after making the files it names (below) |
//! | `zone ORIGIN`     | `signpostctl checkzone FILE ORIGIN`: a whole zone file |
//! | `records`         | records wrapped in a minimal zone and config (below), through `checkconf` |
//! | `from=PATH`       | (with `records` or `c`) every line is also in that file of the source tree |
//! | `commands`        | each `signpostctl`/`signpostd` line (up to a pipe or redirection) names commands and options `--help` lists |
//! | `session`         | `$ COMMAND` then its output: run in the source tree, output compared |
//! | `c from=PATH`     | each C declaration is in that header |
//! | `log`             | signpostd's log lines: `TIME LEVEL TARGET: …`, or one JSON object with its five keys |
//!
//! A block without the comment, or of another kind, fails the test: no
//! example goes unchecked.
//!
//! Synopses: the SYNOPSIS of `signpostd(8)` and `signpostctl(8)` lists
//! every command and option that `--help` lists (recursively through the
//! subcommands; `-h`/`--help` of a subcommand excepted), and nothing else;
//! each command has a paragraph and each option is mentioned outside the
//! SYNOPSIS. Nothing is hard-coded: a new option or command fails the test
//! until the page documents it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

// ---------------------------------------------------------------------
// Reading roff

/// A man page: its path in the source tree and its lines.
struct Page {
    name: String,
    lines: Vec<String>,
}

fn page(name: &str) -> Page {
    let path = repo(&format!("man/{name}"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Page {
        name: format!("man/{name}"),
        lines: text.lines().map(str::to_string).collect(),
    }
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The text roff prints for `s`: escapes resolved, font changes dropped.
/// An escape this does not know is an error, so that an example is never
/// checked in a form other than the one a reader sees.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('e' | '\\') => out.push('\\'),
            Some(' ' | '~') => out.push(' '),
            Some('&' | '|' | '^' | '%' | 'c') => {}
            Some('f') => match chars.next() {
                Some('(') => {
                    chars.next();
                    chars.next();
                }
                Some(_) => {}
                None => return Err(format!("a lone \\f in {s:?}")),
            },
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                out.push_str(match name.as_str() {
                    "em" => "\u{2014}",
                    "en" => "\u{2013}",
                    "mu" => "\u{d7}",
                    "sc" => "\u{a7}",
                    "+-" => "\u{b1}",
                    "bu" => "\u{2022}",
                    "aq" => "'",
                    "dq" => "\"",
                    _ => return Err(format!("unknown character \\({name} in {s:?}")),
                });
            }
            other => return Err(format!("unknown escape \\{other:?} in {s:?}")),
        }
    }
    Ok(out)
}

/// The arguments of a request line, as roff splits them: at spaces, with
/// "double quotes" around an argument that holds spaces (`""` inside
/// quotes is one quote).
fn request_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.next_if_eq(&'"').is_some() {
                        arg.push('"');
                    } else {
                        break;
                    }
                } else {
                    arg.push(c);
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                arg.push(c);
                // `\ ` is a space inside the argument.
                if c == '\\' {
                    arg.extend(chars.next());
                }
            }
        }
        args.push(arg);
    }
    args
}

/// One line as printed: text lines unescaped, font requests (`.B`,
/// `.BR`, ...) with their arguments joined as roff joins them. `None` for
/// comments and for requests that print nothing of their own.
fn render(line: &str) -> Result<Option<String>, String> {
    let Some(request) = line.strip_prefix('.').or_else(|| line.strip_prefix('\'')) else {
        return unescape(line).map(Some);
    };
    if request.starts_with("\\\"") {
        return Ok(None);
    }
    let (name, rest) = request.split_once(' ').unwrap_or((request, ""));
    let args = request_args(rest)
        .iter()
        .map(|a| unescape(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match name {
        "B" | "I" | "SM" | "SB" | "SH" | "SS" => Some(args.join(" ")),
        "BI" | "IB" | "BR" | "RB" | "IR" | "RI" => Some(args.concat()),
        _ => None,
    })
}

/// The rendered lines of the section titled `title` (`.SH`), or of every
/// section but it (`inside = false`).
fn section_lines(page: &Page, title: &str, inside: bool) -> Vec<(usize, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for (i, line) in page.lines.iter().enumerate() {
        if let Some(t) = line.strip_prefix(".SH ") {
            current = request_args(t).join(" ");
            continue;
        }
        if (current == title) == inside {
            out.push((i, line.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------------
// Example blocks

struct Example {
    /// `page:line` of the example's first line.
    at: String,
    kind: String,
    /// `key=value` arguments of the marker, and the positional ones.
    args: Vec<String>,
    text: String,
}

impl Example {
    fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }

    fn positional(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter(|a| !a.contains('='))
            .map(String::as_str)
            .collect()
    }
}

/// Every example block of `page`; an unmarked or malformed block is an
/// error in the list.
fn examples(page: &Page) -> (Vec<Example>, Vec<String>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < page.lines.len() {
        let line = &page.lines[i];
        let end = match line.as_str() {
            ".EX" => ".EE",
            ".nf" => ".fi",
            _ => {
                i += 1;
                continue;
            }
        };
        let at = format!("{}:{}", page.name, i + 2);
        let marker = i
            .checked_sub(1)
            .and_then(|p| page.lines[p].strip_prefix(".\\\" example:"));
        let mut text = String::new();
        let mut j = i + 1;
        while j < page.lines.len() && page.lines[j] != end {
            let body = &page.lines[j];
            if body.starts_with('.') || body.starts_with('\'') {
                errors.push(format!(
                    "{}:{}: a request inside an example ({body:?}); write \\&{} for a literal line",
                    page.name,
                    j + 1,
                    &body[..1]
                ));
            }
            match unescape(body) {
                Ok(t) => {
                    text.push_str(&t);
                    text.push('\n');
                }
                Err(e) => errors.push(format!("{}:{}: {e}", page.name, j + 1)),
            }
            j += 1;
        }
        if j == page.lines.len() {
            errors.push(format!("{}:{}: {line} without {end}", page.name, i + 1));
        }
        match marker {
            Some(m) => {
                let mut words = m.split_whitespace().map(str::to_string);
                found.push(Example {
                    at,
                    kind: words.next().unwrap_or_default(),
                    args: words.collect(),
                    text,
                });
            }
            None => errors.push(format!(
                "{}:{}: example block without a `.\\\" example: KIND` line before it (see tests/man_pages.rs)",
                page.name,
                i + 1
            )),
        }
        i = j + 1;
    }
    (found, errors)
}

/// Checks every example of the page, which has at least `at_least`;
/// fails with every problem found.
fn check_page_examples(name: &str, at_least: usize) {
    let page = page(name);
    let (examples, mut errors) = examples(&page);
    assert!(
        examples.len() >= at_least,
        "{}: {} examples found, expected at least {at_least}",
        page.name,
        examples.len()
    );
    for ex in &examples {
        let result = match ex.kind.as_str() {
            "config" => check_config(ex),
            "zone" => check_zone(ex),
            "records" => check_records(ex),
            "commands" => check_commands(ex),
            "session" => check_session(ex),
            "c" => check_c(ex),
            "log" => check_log(ex),
            other => Err(format!("unknown example kind {other:?}")),
        };
        let result = result.and_then(|()| match ex.arg("from") {
            Some(file) if ex.kind != "c" => check_lines_from(ex, file),
            _ => Ok(()),
        });
        match result {
            Ok(()) => eprintln!("{}: {} example checked", ex.at, ex.kind),
            Err(e) => errors.push(format!("{}: {} example starting here: {e}", ex.at, ex.kind)),
        }
    }
    assert!(errors.is_empty(), "\n{}\n", errors.join("\n\n"));
}

/// A fresh directory for one example.
fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("man-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn signpostctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signpostctl"))
}

/// `Ok` when the command succeeded, else what it printed.
fn succeeded(what: &str, out: Output) -> Result<(), String> {
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The smallest zone `checkzone` accepts, for the files a config example
/// names.
fn minimal_zone(origin: &str) -> String {
    format!(
        "$ORIGIN {}.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n",
        origin.trim_end_matches('.')
    )
}

/// A config example, written as `conf/signpost.toml` of a scratch
/// directory (so `../zones/x.zone` is that directory's `zones/x.zone`)
/// and run through `signpostctl checkconf`. The files it names are made
/// first, as an operator would have them:
///
/// - `[[zone]] file`: a minimal zone of that name; with `dnssec = true`,
///   a key made by `signpostctl keygen` in its `key_directory`;
/// - `[geo] database`: the test database of `tests/data/geo`;
/// - `[health.*] ca_file`: a self-signed CA certificate;
/// - `[[key]] secret_file`: a 32-byte base64 secret;
/// - `[plugin.*] library`: the workspace's build of the library with that
///   file name (an example naming a library the workspace does not build
///   fails).
///
/// Absolute paths are moved under the scratch directory (`/etc/x` becomes
/// `root/etc/x`), in the text and on disk, so the example is checked as
/// written without touching the machine's own files.
fn check_config(ex: &Example) -> Result<(), String> {
    let dir = scratch("config");
    let conf_dir = dir.join("conf");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let mut text = ex.text.clone();
    // A syntax error is left to checkconf, which reports it with its
    // position; there is nothing to prepare then.
    if let Ok(doc) = toml::from_str::<toml::Table>(&ex.text) {
        prepare_files(&doc, &dir, &conf_dir, &mut text)?;
    }
    let path = conf_dir.join("signpost.toml");
    std::fs::write(&path, &text).unwrap();
    let out = signpostctl().arg("checkconf").arg(&path).output().unwrap();
    succeeded(&format!("signpostctl checkconf {}", path.display()), out)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Where a path of the config lands: relative to the config's directory,
/// absolute ones under `root/` of the scratch directory, and never outside
/// the scratch directory.
fn place(path: &str, dir: &Path, conf_dir: &Path) -> Result<PathBuf, String> {
    let joined = match path.strip_prefix('/') {
        Some(abs) => dir.join("root").join(abs),
        None => conf_dir.join(path),
    };
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    if clean.starts_with(dir) {
        Ok(clean)
    } else {
        Err(format!(
            "{path:?} leads out of the configuration's directory tree"
        ))
    }
}

/// Points an absolute path of the example at `to`, in the text.
fn retarget(text: &mut String, from: &str, to: &Path) -> Result<(), String> {
    let quoted = format!("\"{from}\"");
    if !text.contains(&quoted) {
        return Err(format!("cannot find {quoted} in the example to move it"));
    }
    *text = text.replace(&quoted, &format!("\"{}\"", to.display()));
    Ok(())
}

fn tables<'a>(doc: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    match doc.get(key) {
        Some(toml::Value::Array(items)) => items.iter().filter_map(|v| v.as_table()).collect(),
        Some(toml::Value::Table(t)) => vec![t],
        _ => Vec::new(),
    }
}

/// The tables of a `[key.NAME]` group.
fn named_tables<'a>(doc: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    match doc.get(key) {
        Some(toml::Value::Table(t)) => t.values().filter_map(|v| v.as_table()).collect(),
        _ => Vec::new(),
    }
}

fn string<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table.get(key).and_then(|v| v.as_str())
}

/// Makes the files a config example names (see `check_config`).
fn prepare_files(
    doc: &toml::Table,
    dir: &Path,
    conf_dir: &Path,
    text: &mut String,
) -> Result<(), String> {
    // Each file path: where it lands, moved in the text if absolute.
    let file = |path: &str, text: &mut String| -> Result<PathBuf, String> {
        let to = place(path, dir, conf_dir)?;
        if path.starts_with('/') {
            retarget(text, path, &to)?;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        Ok(to)
    };
    for zone in tables(doc, "zone") {
        let (Some(name), Some(path)) = (string(zone, "name"), string(zone, "file")) else {
            continue;
        };
        let to = file(path, text)?;
        if !to.exists() {
            std::fs::write(&to, minimal_zone(name)).unwrap();
        }
        if zone.get("dnssec").and_then(|v| v.as_bool()) == Some(true) {
            let keys = file(string(zone, "key_directory").unwrap_or("."), text)?;
            std::fs::create_dir_all(&keys).unwrap();
            let out = signpostctl()
                .args(["keygen", name, "--dir"])
                .arg(&keys)
                .output()
                .unwrap();
            succeeded(&format!("signpostctl keygen {name}"), out)?;
        }
    }
    for geo in tables(doc, "geo") {
        if let Some(path) = string(geo, "database") {
            let to = file(path, text)?;
            std::fs::copy(repo("tests/data/geo/test-city.mmdb"), &to).unwrap();
        }
    }
    for check in named_tables(doc, "health") {
        if let Some(path) = string(check, "ca_file") {
            let to = file(path, text)?;
            std::fs::write(&to, ca_certificate()).unwrap();
        }
    }
    for key in tables(doc, "key") {
        if let Some(path) = string(key, "secret_file") {
            let to = file(path, text)?;
            std::fs::write(&to, "Ap8qXc22eHm1pQwFlOYrEHkr52Y+pWaU+CC1L/GzKGo=\n").unwrap();
        }
    }
    for plugin in named_tables(doc, "plugin") {
        if let Some(path) = string(plugin, "library") {
            let file_name = Path::new(path).file_name().unwrap_or_default();
            let built = plugin_dir().join(file_name);
            if !built.exists() {
                return Err(format!(
                    "library {path:?}: the workspace builds no {}",
                    file_name.to_string_lossy()
                ));
            }
            retarget(text, path, &built)?;
        }
    }
    Ok(())
}

fn ca_certificate() -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Signpost man page example CA");
    ca.self_signed(&key).unwrap().pem()
}

/// The example plugins, built once into a target directory of their own
/// (the one the integration tests use, so either build serves both).
fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-q", "-p", "signpost-plugin-file"])
            .args(["-p", "signpost-plugin-command", "--target-dir"])
            .arg(&target);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo to build the plugins");
        assert!(status.success(), "building the plugins failed");
        target.join(if release { "release" } else { "debug" })
    })
    .clone()
}

/// A whole zone file: `zone ORIGIN`.
fn check_zone(ex: &Example) -> Result<(), String> {
    let [origin] = ex.positional()[..] else {
        return Err("write the marker as `zone ORIGIN`".into());
    };
    let dir = scratch("zone");
    let path = dir.join("example.zone");
    std::fs::write(&path, &ex.text).unwrap();
    let out = signpostctl()
        .arg("checkzone")
        .arg(&path)
        .arg(origin)
        .output()
        .unwrap();
    succeeded(
        &format!("signpostctl checkzone {} {origin}", path.display()),
        out,
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Records, as the policy sections show them: put below the SOA, NS and
/// glue of a minimal `example.com` zone, served by a config that declares
/// what their annotations name, the way an operator's config would:
/// `health=X` a `[health.X]` with a fixed state, `region=X` a
/// `[[region]]`, `collection=C location=L` a `[cidr.C]` with a prefix for
/// `L`. The config goes through `signpostctl checkconf`.
fn check_records(ex: &Example) -> Result<(), String> {
    let mut checks = BTreeSet::new();
    let mut regions = BTreeSet::new();
    let mut cidr: BTreeSet<(String, String)> = BTreeSet::new();
    for line in ex.text.lines() {
        let Some((_, annotation)) = line.split_once(";@") else {
            continue;
        };
        let mut collection = None;
        let mut location = None;
        for word in annotation.split_whitespace() {
            match word.split_once('=') {
                Some(("health", v)) => {
                    checks.insert(v.to_string());
                }
                Some(("region", v)) => {
                    regions.insert(v.to_string());
                }
                Some(("collection", v)) => collection = Some(v.to_string()),
                Some(("location", v)) if v != "*" => location = Some(v.to_string()),
                _ => {}
            }
        }
        if let (Some(c), Some(l)) = (collection, location) {
            cidr.insert((c, l));
        }
    }
    let mut config =
        String::from("[[zone]]\nname = \"example.com\"\nfile = \"example.com.zone\"\n");
    for c in &checks {
        config += &format!("\n[health.\"{c}\"]\nstate = \"up\"\n");
    }
    for (i, r) in regions.iter().enumerate() {
        config += &format!("\n[[region]]\nname = \"{r}\"\nlatitude = {i}.5\nlongitude = 8.5\n");
    }
    for (i, (c, l)) in cidr.iter().enumerate() {
        config += &format!("\n[cidr.\"{c}\"]\n\"{l}\" = [\"198.18.{i}.0/24\"]\n");
    }
    // An ALIAS out of the zone needs a [resolver] (checkconf asks none).
    let external_alias = ex.text.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let target = words
            .iter()
            .position(|w| *w == "ALIAS")
            .and_then(|i| words.get(i + 1));
        target.is_some_and(|t| t.ends_with('.') && !t.ends_with("example.com."))
    });
    if external_alias {
        config += "\n[resolver]\nupstreams = [\"127.0.0.53\"]\n";
    }
    let zone = minimal_zone("example.com") + &ex.text;
    let dir = scratch("records");
    std::fs::write(dir.join("example.com.zone"), &zone).unwrap();
    let path = dir.join("signpost.toml");
    std::fs::write(&path, &config).unwrap();
    let out = signpostctl().arg("checkconf").arg(&path).output().unwrap();
    succeeded(
        &format!(
            "signpostctl checkconf {} (zone: the example below 5 lines of SOA, NS and glue)",
            path.display()
        ),
        out,
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Lines compared without regard to the amount of white space.
fn normalized(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `from=PATH`: the example is an excerpt of that file.
fn check_lines_from(ex: &Example, file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(repo(file)).map_err(|e| format!("{file}: {e}"))?;
    let lines: BTreeSet<String> = text.lines().map(normalized).collect();
    let missing: Vec<&str> = ex
        .text
        .lines()
        .filter(|l| !l.trim().is_empty() && !lines.contains(&normalized(l)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("lines not in {file}:\n{}", missing.join("\n")))
    }
}

/// `c from=HEADER`: each declaration (the text between semicolons, with
/// comments and the amount of white space left out) is in the header.
fn check_c(ex: &Example) -> Result<(), String> {
    let Some(file) = ex.arg("from") else {
        return Err("write the marker as `c from=HEADER`".into());
    };
    let strip = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some((before, after)) = rest.split_once("/*") {
            out.push_str(before);
            rest = after.split_once("*/").map_or("", |(_, a)| a);
        }
        out.push_str(rest);
        normalized(&out)
    };
    let header = strip(&std::fs::read_to_string(repo(file)).map_err(|e| format!("{file}: {e}"))?);
    let missing: Vec<String> = strip(&ex.text)
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !header.contains(d))
        .map(str::to_string)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not in {file}:\n{}", missing.join(";\n")))
    }
}

/// `commands`: each line that runs one of our programs names only
/// commands and options its `--help` lists. Lines of other programs (dig)
/// are the reader's to run.
fn check_commands(ex: &Example) -> Result<(), String> {
    let errors: Vec<String> = ex
        .text
        .lines()
        .filter_map(|l| check_command_line(l).err())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn check_command_line(line: &str) -> Result<(), String> {
    // What a pipe or a redirection feeds is another program's business.
    let line = line.split(['|', '>']).next().unwrap_or_default();
    let mut words = line.split_whitespace().peekable();
    words.next_if_eq(&"$");
    let Some(program) = words.next() else {
        return Ok(());
    };
    let Some(tree) = help_tree(program) else {
        return Ok(());
    };
    let mut node = &tree[0];
    let mut path = vec![program.to_string()];
    while let Some(word) = words.peek() {
        let mut next = path.clone();
        next.push(word.to_string());
        match tree.iter().find(|c| c.path == next) {
            Some(child) => {
                node = child;
                path = next;
                words.next();
            }
            None => break,
        }
    }
    let mut first = true;
    for word in words {
        if word.starts_with('-') && word.len() > 1 {
            let option = word.split_once('=').map_or(word, |(o, _)| o);
            if !node.options.iter().any(|o| o.is(option)) {
                return Err(format!(
                    "{line:?}: `{}` has no option {option}",
                    path.join(" ")
                ));
            }
        } else if first && !node.subcommands.is_empty() && node.path.len() == 1 {
            return Err(format!("{line:?}: {program} has no command {word:?}"));
        }
        first = false;
    }
    Ok(())
}

/// `session`: `$ signpostctl ...` and the output it prints, run in the
/// source tree (so only for commands that read, such as
/// `explain --offline`).
fn check_session(ex: &Example) -> Result<(), String> {
    let mut lines = ex.text.lines();
    let Some(command) = lines.next().and_then(|l| l.strip_prefix("$ ")) else {
        return Err("a session starts with `$ COMMAND`".into());
    };
    check_command_line(command)?;
    if command.contains(['\'', '"', '\\']) {
        return Err("no quoting in a session's command, please".into());
    }
    let mut words = command.split_whitespace();
    if words.next() != Some("signpostctl") {
        return Err("a session runs signpostctl".into());
    }
    let out = signpostctl()
        .args(words)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let expected: String = lines.map(|l| format!("{l}\n")).collect();
    let got = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && got == expected {
        Ok(())
    } else {
        Err(format!(
            "`{command}` ({}) printed\n{got}{}\ninstead of\n{expected}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn signpost_toml_5_examples_are_valid_configs() {
    check_page_examples("signpost.toml.5", 1);
}

#[test]
fn signpost_zone_5_examples_are_valid_zones() {
    check_page_examples("signpost-zone.5", 1);
}

#[test]
fn signpostctl_8_examples_run_as_shown() {
    check_page_examples("signpostctl.8", 1);
}

#[test]
fn signpostd_8_examples_are_checked() {
    // None today; any added must be marked, and is checked.
    check_page_examples("signpostd.8", 0);
}

// ---------------------------------------------------------------------
// --help

/// An option as `--help` lists it.
#[derive(Debug)]
struct HelpOption {
    short: Option<String>,
    long: Option<String>,
}

impl HelpOption {
    fn is(&self, word: &str) -> bool {
        self.short.as_deref() == Some(word) || self.long.as_deref() == Some(word)
    }

    fn is_help(&self) -> bool {
        self.long.as_deref() == Some("--help")
    }

    fn name(&self) -> &str {
        self.long
            .as_deref()
            .or(self.short.as_deref())
            .unwrap_or("?")
    }
}

/// A command (`["signpostctl", "health", "set"]`) and what its `--help`
/// lists.
#[derive(Debug)]
struct HelpCommand {
    path: Vec<String>,
    options: Vec<HelpOption>,
    subcommands: Vec<String>,
}

/// The program's commands, the program itself first, each with its
/// options and subcommands as `--help` lists them (clap's own `help`
/// subcommand left out). `None` for programs other than ours.
fn help_tree(program: &str) -> Option<&'static [HelpCommand]> {
    static CTL: OnceLock<Vec<HelpCommand>> = OnceLock::new();
    static D: OnceLock<Vec<HelpCommand>> = OnceLock::new();
    let (cell, exe) = match program {
        "signpostctl" => (&CTL, env!("CARGO_BIN_EXE_signpostctl")),
        "signpostd" => (&D, env!("CARGO_BIN_EXE_signpostd")),
        _ => return None,
    };
    Some(cell.get_or_init(|| {
        let mut out = Vec::new();
        let mut todo = vec![vec![program.to_string()]];
        while let Some(path) = todo.pop() {
            let command = help_of(exe, path);
            for sub in &command.subcommands {
                let mut p = command.path.clone();
                p.push(sub.clone());
                todo.push(p);
            }
            out.push(command);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }))
}

/// Reads `PATH... --help`: the `Options:` and `Commands:` sections.
fn help_of(exe: &str, path: Vec<String>) -> HelpCommand {
    let out = Command::new(exe)
        .args(&path[1..])
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{} --help failed", path.join(" "));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut section = "";
    let mut options = Vec::new();
    let mut subcommands = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match section {
            // Options start at 2 or 6 spaces; their descriptions further in.
            "Options:" if indent <= 6 && trimmed.starts_with('-') => {
                let mut option = HelpOption {
                    short: None,
                    long: None,
                };
                for word in trimmed.split_whitespace() {
                    let word = word.trim_end_matches(',');
                    if word.starts_with("--") {
                        option.long = Some(word.to_string());
                    } else if word.starts_with('-') {
                        option.short = Some(word.to_string());
                    } else {
                        break;
                    }
                }
                options.push(option);
            }
            "Commands:" if indent == 2 => {
                let name = trimmed.split_whitespace().next().unwrap_or_default();
                if name != "help" {
                    subcommands.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(
        options.iter().any(HelpOption::is_help),
        "cannot read `{} --help`:\n{text}",
        path.join(" ")
    );
    HelpCommand {
        path,
        options,
        subcommands,
    }
}

/// The option words (`-c`, `--listen`) in rendered text.
fn option_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "[]()|,".contains(c)) {
        let name = word.split_once('=').map_or(word, |(n, _)| n);
        let body = name.trim_start_matches('-');
        let dashes = name.len() - body.len();
        if (dashes == 1 || dashes == 2)
            && body.starts_with(|c: char| c.is_ascii_alphanumeric())
            && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            out.push(name.to_string());
        }
    }
    out
}

/// The leading lower-case words of an entry: the command it is about.
fn command_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .take_while(|w| {
            w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .map(str::to_string)
        .collect()
}

/// Rendered text of `lines`, failing on escapes roff would not print.
fn rendered(lines: &[(usize, String)], page: &Page) -> Vec<(usize, String)> {
    lines
        .iter()
        .filter_map(|(i, l)| match render(l) {
            Ok(r) => r.map(|r| (*i, r)),
            Err(e) => panic!("{}:{}: {e}", page.name, i + 1),
        })
        .collect()
}

/// Compares the page of `program` with its `--help`; every difference is
/// reported at once.
fn check_synopsis(program: &str, page_name: &str) {
    let page = page(page_name);
    let tree = help_tree(program).unwrap();
    let mut errors = Vec::new();

    // SYNOPSIS entries, separated by `.br`: "signpostctl reload [ZONE] ...".
    let mut entries: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in section_lines(&page, "SYNOPSIS", true) {
        if line == ".br" {
            entries.extend(current.take());
            continue;
        }
        if let Ok(Some(text)) = render(&line) {
            let entry = current.get_or_insert((i, String::new()));
            entry.1.push(' ');
            entry.1.push_str(&text);
        }
    }
    entries.extend(current);
    assert!(!entries.is_empty(), "{}: no SYNOPSIS", page.name);

    let mut listed: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (i, entry) in &entries {
        let path = command_words(entry);
        let at = format!("{}:{}", page.name, i + 1);
        let Some(command) = tree.iter().find(|c| c.path == path) else {
            errors.push(format!(
                "{at}: the SYNOPSIS shows `{}`, a command `{program} --help` does not list",
                path.join(" ")
            ));
            continue;
        };
        let words = option_words(entry);
        for word in &words {
            if !command.options.iter().any(|o| o.is(word)) {
                errors.push(format!(
                    "{at}: the SYNOPSIS gives `{}` the option {word}, which its --help does not list",
                    path.join(" ")
                ));
            }
        }
        listed.push((path, words));
    }

    // The rest of the page, where each command and option is explained.
    let body = rendered(&section_lines(&page, "SYNOPSIS", false), &page);
    let body_text: String = body.iter().map(|(_, l)| format!("{l}\n")).collect();
    let body_options: BTreeSet<String> = option_words(&body_text).into_iter().collect();
    let tags: Vec<(usize, String)> = {
        let raw = section_lines(&page, "SYNOPSIS", false);
        raw.windows(2)
            .filter(|w| w[0].1 == ".TP")
            .filter_map(|w| render(&w[1].1).ok().flatten().map(|t| (w[1].0, t)))
            .collect()
    };

    for command in tree {
        let name = command.path.join(" ");
        let entries: Vec<&Vec<String>> = listed
            .iter()
            .filter(|(p, _)| *p == command.path)
            .map(|(_, w)| w)
            .collect();
        let is_root = command.path.len() == 1;
        if entries.is_empty() && command.subcommands.is_empty() {
            errors.push(format!(
                "{}: the SYNOPSIS does not show `{name}`",
                page.name
            ));
        }
        if !is_root
            && !tags
                .iter()
                .any(|(_, t)| command_words(&format!("{program} {t}")) == command.path)
        {
            errors.push(format!(
                "{}: no paragraph (.TP) starts with `{}`",
                page.name,
                command.path[1..].join(" ")
            ));
        }
        for option in &command.options {
            // Every subcommand has --help; the page says so once.
            if option.is_help() && !is_root {
                continue;
            }
            if !entries.iter().any(|w| w.iter().any(|word| option.is(word))) {
                errors.push(format!(
                    "{}: the SYNOPSIS of `{name}` lacks {}, which its --help lists",
                    page.name,
                    option.name()
                ));
            }
            if !body_options.contains(option.name()) {
                errors.push(format!(
                    "{}: {} of `{name}` is not explained outside the SYNOPSIS",
                    page.name,
                    option.name()
                ));
            }
        }
    }

    // Paragraph tags that name a command or options: they must exist.
    for (i, tag) in &tags {
        let words = command_words(tag);
        let at = format!("{}:{}", page.name, i + 1);
        let command = if words.is_empty() {
            None
        } else {
            let mut path = vec![program.to_string()];
            path.extend(words.iter().cloned());
            // The longest command the tag's words start with.
            let found = (1..=path.len())
                .rev()
                .find_map(|n| tree.iter().find(|c| c.path[..] == path[..n]));
            match found {
                Some(c) if c.path.len() > 1 => Some(c),
                _ => {
                    errors.push(format!(
                        "{at}: the paragraph `{tag}` is about a command `{program} --help` does not list"
                    ));
                    continue;
                }
            }
        };
        for word in option_words(tag) {
            let known = match command {
                Some(c) => c.options.iter().any(|o| o.is(&word)),
                None => tree.iter().any(|c| c.options.iter().any(|o| o.is(&word))),
            };
            if !known {
                errors.push(format!(
                    "{at}: the paragraph `{tag}` names {word}, which --help does not list"
                ));
            }
        }
    }
    assert!(errors.is_empty(), "\n{}\n", errors.join("\n"));
}

#[test]
fn signpostd_8_synopsis_and_options_match_help() {
    check_synopsis("signpostd", "signpostd.8");
}

#[test]
fn signpostctl_8_synopsis_and_options_match_help() {
    check_synopsis("signpostctl", "signpostctl.8");
}

/// A log example of signpostd(8): text lines `TIME LEVEL TARGET: MESSAGE`
/// with a level signpostd writes, or one JSON object (wrapped over lines
/// in the page) with exactly the keys the JSON format has.
fn check_log(ex: &Example) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["ERROR", "WARN", "NOTICE", "INFO", "DEBUG", "TRACE"];
    let lines: Vec<&str> = ex.text.lines().filter(|l| !l.trim().is_empty()).collect();
    if ex.text.trim_start().starts_with('{') {
        let joined: String = lines.iter().map(|l| l.trim()).collect();
        let value: serde_json::Value =
            serde_json::from_str(&joined).map_err(|e| format!("not one JSON object: {e}"))?;
        let mut keys: Vec<&str> = value
            .as_object()
            .ok_or("not a JSON object")?
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        if keys != ["fields", "level", "message", "target", "timestamp"] {
            return Err(format!("keys {keys:?}"));
        }
        let level = value["level"].as_str().unwrap_or_default();
        if !LEVELS.contains(&level) {
            return Err(format!("level {level:?}"));
        }
        return Ok(());
    }
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let timestamp_ok = words
            .first()
            .is_some_and(|t| t.ends_with('Z') && t.contains('T'));
        let level_ok = words.get(1).is_some_and(|l| LEVELS.contains(l));
        let target_ok = words
            .get(2)
            .is_some_and(|t| t.starts_with("signpost") && t.ends_with(':'));
        if !(timestamp_ok && level_ok && target_ok) {
            return Err(format!("not `TIME LEVEL TARGET: MESSAGE`: {line:?}"));
        }
    }
    Ok(())
}
