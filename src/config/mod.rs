//! The TOML configuration: [`spec`] mirrors the file with serde, and this
//! module turns it into a validated [`Config`] made of the subsystems' own
//! setting types (`dnssec::Settings`, `health::CheckDef`, `tsig::Key`, …),
//! reporting every problem as `file:line:col: message`. It builds no
//! runtime object: zones, views, the GeoIP reader and the health table are
//! the compile stage's (`compile`).
//!
//! Relative paths in the file are relative to the directory of the config
//! file, so a config and its zones can move together.

pub mod policy;
pub mod resolver;
mod schema;
pub mod spec;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::dnssec::{self, Timing};
use crate::proto::{codec, Diagnostic, Name, Position};
use crate::querylog;
use crate::snapshot::{RrsetOrder, ViewMatch, DEFAULT_EDNS_UDP_SIZE};
use crate::tsig::{self, Keyring};

/// One zone to serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneConfig {
    pub name: Name,
    pub file: PathBuf,
    /// Names of the views that serve it; empty: every view.
    pub views: Vec<String>,
    /// Online signing settings when `dnssec = true`.
    pub dnssec: Option<dnssec::Settings>,
}

impl ZoneConfig {
    /// Whether both entries compile to the same zone (name, file and
    /// signing settings), wherever they are served.
    pub fn same_data(&self, other: &Self) -> bool {
        (&self.name, &self.file, &self.dnssec) == (&other.name, &other.file, &other.dnssec)
    }
}

/// The unprivileged user (and group) the daemon becomes, by name; the
/// daemon looks them up when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    /// Default: the user's primary group.
    pub group: Option<String>,
    /// Where `user` is written, for messages.
    pub position: Position,
}

/// One split-horizon view, in match order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViewConfig {
    pub name: String,
    pub matcher: ViewMatch,
}

/// How log lines are written: one per event, on standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `TIME LEVEL TARGET: MESSAGE key=value...` for people.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]`: read once at start; a reload keeps the settings in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// Filter directives (`info`, `warn,signpost::health=debug`); `None`:
    /// `info`. `SIGNPOST_LOG` overrides them.
    pub level: Option<String>,
}

/// Where Signpost serves when `[server] listen` is absent: loopback, both
/// families, on port 5300, which is unprivileged, outside the mDNS and
/// LLMNR ports (5353, 5355) that avahi and systemd-resolved hold on many
/// machines, and not bound by any common service.
pub const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:5300", "[::1]:5300"];

/// The control socket of the packaged config, `/etc/signpost/*.toml`
/// (systemd's `RuntimeDirectory=signpost` creates the directory).
pub const PACKAGED_CONTROL_SOCKET: &str = "/run/signpost/signpostd.sock";

/// Where a config's control socket is unless `[control] socket` says
/// otherwise: [`PACKAGED_CONTROL_SOCKET`] for a config in /etc/signpost,
/// else next to the config file, named after it (`conf/signpost.toml` →
/// `conf/signpost.sock`), so that two servers with two configs never
/// share one and `signpostctl -c CONFIG` finds the right one.
pub fn default_control_socket(config: &Path) -> PathBuf {
    let dir = config.parent().unwrap_or(Path::new("."));
    let packaged = std::fs::canonicalize(dir)
        .map(|d| d == Path::new("/etc/signpost"))
        .unwrap_or(false);
    if packaged {
        PathBuf::from(PACKAGED_CONTROL_SOCKET)
    } else {
        config.with_extension("sock")
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from (`None` for the command-line form).
    pub source: Option<PathBuf>,
    pub listen: Vec<SocketAddr>,
    /// `listen` was not configured: these are [`DEFAULT_LISTEN`], and one
    /// that cannot be bound (say `[::1]` with IPv6 off) is skipped with a
    /// warning rather than refusing to start.
    pub listen_is_default: bool,
    /// UDP sockets (and threads) per listen address.
    pub workers: usize,
    pub edns_udp_size: u16,
    /// The order of the records of an answer RRset.
    pub(crate) rrset_order: RrsetOrder,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    pub zones: Vec<ZoneConfig>,
    /// `[[view]]` tables in match order; empty: one view serving everyone.
    pub(crate) views: Vec<ViewConfig>,
    /// `[[key]]` TSIG keys.
    pub(crate) keys: Arc<Keyring>,
    /// Reload when the config or a zone file changes on disk.
    pub watch: bool,
    /// Who to run as once the sockets are bound, when started as root.
    pub run_as: Option<RunAs>,
    /// Started as root without `run_as`, serve as root anyway.
    pub allow_root: bool,
    /// The Unix socket `signpostctl` talks to; none for the config-less
    /// form without `--control`.
    pub control_socket: Option<PathBuf>,
    /// Health checks, regions, CIDR collections, latency table, GeoIP.
    pub policy: policy::PolicySettings,
    /// `[metrics] listen`: where `GET /metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// `[query_log]`: what to log each query to, if anything.
    pub query_log: querylog::Settings,
    pub log: LogConfig,
    /// `[resolver]`: where external ALIAS targets are resolved; none
    /// configured makes such a target a load error.
    pub resolver: Option<crate::upstream::Settings>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: None,
            listen: Vec::new(),
            listen_is_default: false,
            workers: default_workers(),
            edns_udp_size: DEFAULT_EDNS_UDP_SIZE,
            rrset_order: RrsetOrder::default(),
            tcp_idle_timeout: Duration::from_secs(spec::DEFAULT_TCP_IDLE_TIMEOUT),
            tcp_max_connections: spec::DEFAULT_TCP_MAX_CONNECTIONS,
            zones: Vec::new(),
            views: Vec::new(),
            keys: Arc::default(),
            watch: true,
            run_as: None,
            allow_root: false,
            control_socket: None,
            policy: policy::PolicySettings::default(),
            metrics_listen: None,
            query_log: querylog::Settings::default(),
            log: LogConfig::default(),
            resolver: None,
        }
    }
}

/// One UDP worker per CPU unless told otherwise.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic {
            position: Position {
                file: path.into(),
                line: 1,
                col: 1,
            },
            message: format!("cannot read the config file: {e}"),
        }]
    })?;
    parse(&text, path)
}

/// Validates one `[[view]]`; `declared` holds the names of all `[[key]]`
/// tables (a key with a bad secret is reported once, where it is defined,
/// not again in every view).
fn parse_view(
    view: &spec::ViewSpec,
    declared: &[Name],
    at: &dyn Fn(usize, String) -> Diagnostic,
) -> Result<ViewConfig, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let name = view.name.get_ref().trim();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        errors.push(at(
            view.name.span().start,
            "a view name must be one word".into(),
        ));
    }
    let mut prefixes = |key: &str, list: &Option<toml::Spanned<Vec<toml::Spanned<String>>>>| {
        let mut nets = Vec::new();
        let Some(list) = list else { return nets };
        if list.get_ref().is_empty() {
            errors.push(at(
                list.span().start,
                format!("{key} = [] matches nothing; leave it out to match every address"),
            ));
        }
        for item in list.get_ref() {
            match parse_prefix(item.get_ref()) {
                Ok(net) => nets.push(net),
                Err(e) => errors.push(at(item.span().start, e.to_string())),
            }
        }
        nets
    };
    let sources = prefixes("match_clients", &view.match_clients);
    let destinations = prefixes("match_destinations", &view.match_destinations);
    let mut keys: Vec<Name> = Vec::new();
    if let Some(list) = &view.match_keys {
        if list.get_ref().is_empty() {
            errors.push(at(
                list.span().start,
                "match_keys = [] matches nothing; leave it out to match signed and unsigned queries"
                    .into(),
            ));
        }
        for item in list.get_ref() {
            let text = item.get_ref();
            match Name::parse(text, Some(&Name::root())) {
                Ok(name) => {
                    let name = name.to_lowercase();
                    if !declared.contains(&name) {
                        errors.push(at(
                            item.span().start,
                            format!("no [[key]] is named \"{text}\""),
                        ));
                    } else if !keys.contains(&name) {
                        keys.push(name);
                    }
                }
                Err(e) => errors.push(at(item.span().start, format!("key name \"{text}\": {e}"))),
            }
        }
    }
    if errors.is_empty() {
        Ok(ViewConfig {
            name: name.to_string(),
            matcher: ViewMatch {
                sources,
                destinations,
                keys,
            },
        })
    } else {
        Err(errors)
    }
}

/// Secrets shorter than this are refused: 128 bits, the shortest key the
/// old HMAC-MD5 setups used; `tsig-keygen` makes one as long as the hash.
const MIN_SECRET_LEN: usize = 16;
/// Longer than any sane secret: more likely a wrong file.
const MAX_SECRET_LEN: usize = 512;

/// Validates the `[[key]]` tables. Messages never quote a secret.
fn parse_keys(
    keys: &[spec::KeySpec],
    base: &Path,
    error: &mut dyn FnMut(usize, String),
) -> Keyring {
    let mut ring: Vec<tsig::Key> = Vec::new();
    for key in keys {
        let text = key.name.get_ref();
        let name = match Name::parse(text, Some(&Name::root())) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                error(key.name.span().start, format!("key name \"{text}\": {e}"));
                continue;
            }
        };
        if ring.iter().any(|k| k.name() == name.as_wire()) {
            error(
                key.name.span().start,
                format!("key \"{name}\" is defined twice"),
            );
            continue;
        }
        let algorithm = match &key.algorithm {
            None => tsig::Algorithm::HmacSha256,
            Some(a) => match tsig::Algorithm::from_name(a.get_ref()) {
                Some(alg) => alg,
                None => {
                    let known = tsig::Algorithm::NAMES.join(", ");
                    let lower = a.get_ref().to_ascii_lowercase();
                    let what = if lower.starts_with("hmac-md5") || lower.starts_with("hmac-sha224")
                    {
                        "is not supported"
                    } else {
                        "is unknown"
                    };
                    error(
                        a.span().start,
                        format!("algorithm \"{}\" {what}; use one of {known}", a.get_ref()),
                    );
                    continue;
                }
            },
        };
        let (offset, base64) = match (&key.secret, &key.secret_file) {
            (Some(_), Some(file)) => {
                error(
                    file.span().start,
                    "give either secret or secret_file, not both".into(),
                );
                continue;
            }
            (None, None) => {
                error(
                    key.name.span().start,
                    format!(
                        "key \"{name}\" has no secret: set secret (base64, as tsig-keygen prints it) or secret_file"
                    ),
                );
                continue;
            }
            (Some(secret), None) => (secret.span().start, secret.get_ref().clone()),
            (None, Some(file)) => {
                let path = base.join(file.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(content) => (file.span().start, content),
                    Err(e) => {
                        error(
                            file.span().start,
                            format!("cannot read secret_file \"{}\": {e}", path.display()),
                        );
                        continue;
                    }
                }
            }
        };
        let what = if key.secret.is_some() {
            "secret"
        } else {
            "secret_file"
        };
        let compact: Vec<u8> = base64
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let mut secret = Vec::new();
        if let Err(e) = codec::base64_decode(&compact, &mut secret) {
            error(offset, format!("{what} is not valid base64: {e}"));
            continue;
        }
        if secret.len() < MIN_SECRET_LEN || secret.len() > MAX_SECRET_LEN {
            error(
                offset,
                format!(
                    "{what} is {} bytes; a TSIG secret must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes (tsig-keygen makes one as long as the hash)",
                    secret.len()
                ),
            );
            continue;
        }
        ring.push(tsig::Key::new(name.as_wire(), algorithm, &secret));
    }
    Keyring::new(ring)
}

/// A view's address list entry that is not a prefix.
#[derive(Debug, thiserror::Error)]
enum PrefixError {
    #[error("\"{0}\" is not an address or prefix like \"192.0.2.0/24\" or \"2001:db8::/32\"")]
    NotAPrefix(String),
    #[error("\"{text}\" has host bits set; did you mean \"{network}\"?")]
    HostBits { text: String, network: IpNet },
}

/// `ADDRESS/LEN` or a bare address (a host prefix). Host bits must be clear,
/// so `10.0.0.1/8` (usually a typo) is not silently widened.
fn parse_prefix(text: &str) -> Result<IpNet, PrefixError> {
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match text.parse::<IpAddr>() {
            Ok(addr) => IpNet::from(addr),
            Err(_) => return Err(PrefixError::NotAPrefix(text.into())),
        },
    };
    if net.trunc() != net {
        return Err(PrefixError::HostBits {
            text: text.into(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// Line and column (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

/// Checks `[log] level`: the directives `SIGNPOST_LOG` takes, each ending
/// in a level. A bare word that is not a level would be read as a module
/// name to log everything of, and every other line would be dropped: a
/// typo like "inof" must be an error instead.
fn check_log_level(text: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!("\"{level}\" is not a level"));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Parses and validates config text; `path` names it in messages and
/// anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let at = |offset: usize, message: String| {
        let (line, col) = line_col(text, offset);
        Diagnostic {
            position: Position {
                file: path.into(),
                line,
                col,
            },
            message,
        }
    };
    // Every schema problem at once (unknown keys, wrong types); the
    // semantic checks run on the rest unless a whole table had to go.
    let read = schema::read(text);
    let mut errors: Vec<Diagnostic> = read
        .problems
        .into_iter()
        .map(|p| at(p.offset, p.message))
        .collect();
    let spec = match read.spec {
        Some(spec) if read.only_keys => spec,
        _ => return Err(in_file_order(errors)),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut config = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };

    for addr in &spec.server.listen {
        match addr.get_ref().parse::<SocketAddr>() {
            Ok(a) => config.listen.push(a),
            Err(_) => errors.push(at(
                addr.span().start,
                format!(
                    "listen address \"{}\" is not ADDRESS:PORT (write IPv6 as \"[::1]:53\")",
                    addr.get_ref()
                ),
            )),
        }
    }
    if spec.server.listen.is_empty() {
        config.listen = DEFAULT_LISTEN
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        config.listen_is_default = true;
    }
    if let Some(workers) = spec.server.workers {
        if workers > 0 {
            config.workers = workers;
        }
    }
    if let Some(size) = &spec.server.edns_udp_size {
        if !(512..=4096).contains(size.get_ref()) {
            errors.push(at(
                size.span().start,
                "edns_udp_size must be between 512 and 4096".into(),
            ));
        } else {
            config.edns_udp_size = *size.get_ref();
        }
    }
    if let Some(secs) = &spec.server.tcp_idle_timeout {
        if *secs.get_ref() == 0 || *secs.get_ref() > 3600 {
            errors.push(at(
                secs.span().start,
                "tcp_idle_timeout must be 1 to 3600 seconds".into(),
            ));
        } else {
            config.tcp_idle_timeout = Duration::from_secs(*secs.get_ref());
        }
    }
    if let Some(max) = spec.server.tcp_max_connections {
        config.tcp_max_connections = max.max(1);
    }
    if let Some(watch) = spec.server.watch {
        config.watch = watch;
    }
    config.allow_root = spec.server.allow_root.unwrap_or(false);
    match (&spec.server.user, &spec.server.group) {
        (Some(user), group) => {
            config.run_as = Some(RunAs {
                user: user.get_ref().clone(),
                group: group.as_ref().map(|g| g.get_ref().clone()),
                position: at(user.span().start, String::new()).position,
            });
        }
        (None, Some(group)) => errors.push(at(
            group.span().start,
            "group needs user: set the user to run as too".into(),
        )),
        (None, None) => {}
    }
    config.control_socket = Some(default_control_socket(path));
    if let Some(socket) = &spec.control.socket {
        if socket.get_ref().is_empty() {
            errors.push(at(
                socket.span().start,
                "control socket path is empty".into(),
            ));
        } else {
            config.control_socket = Some(base.join(socket.get_ref()));
        }
    }
    if let Some(addr) = &spec.metrics.listen {
        match addr.get_ref().parse::<SocketAddr>() {
            Ok(a) => config.metrics_listen = Some(a),
            Err(_) => errors.push(at(
                addr.span().start,
                format!(
                    "metrics listen address \"{}\" is not ADDRESS:PORT (for example \"127.0.0.1:9153\")",
                    addr.get_ref()
                ),
            )),
        }
    }
    config.log.format = spec.log.format.unwrap_or_default();
    if let Some(level) = &spec.log.level {
        match check_log_level(level.get_ref()) {
            Ok(()) => config.log.level = Some(level.get_ref().clone()),
            Err(e) => errors.push(at(
                level.span().start,
                format!(
                    "level \"{}\": {e}; use error, warn, info, debug or trace, or directives like \"info,signpost::health=debug\"",
                    level.get_ref()
                ),
            )),
        }
    }
    config.query_log = query_log(&spec.query_log, base, &mut |offset, message| {
        errors.push(at(offset, message))
    });
    config.keys = Arc::new(parse_keys(&spec.key, base, &mut |offset, message| {
        errors.push(at(offset, message))
    }));
    let declared_keys: Vec<Name> = spec
        .key
        .iter()
        .filter_map(|k| Name::parse(k.name.get_ref(), Some(&Name::root())).ok())
        .map(|n| n.to_lowercase())
        .collect();
    for (i, view) in spec.view.iter().enumerate() {
        let name = view.name.get_ref();
        if spec.view.iter().take(i).any(|o| o.name.get_ref() == name) {
            errors.push(at(
                view.name.span().start,
                format!("view \"{name}\" is defined twice"),
            ));
            continue;
        }
        match parse_view(view, &declared_keys, &at) {
            Ok(v) => config.views.push(v),
            Err(mut e) => errors.append(&mut e),
        }
    }
    // Which views each zone name is already in, to refuse overlaps.
    let mut placed: Vec<(Name, String, usize)> = Vec::new();
    for zone in &spec.zone {
        let name = match Name::parse(zone.name.get_ref(), Some(&Name::root())) {
            Ok(n) => n,
            Err(e) => {
                errors.push(at(
                    zone.name.span().start,
                    format!("zone name \"{}\": {e}", zone.name.get_ref()),
                ));
                continue;
            }
        };
        let mut views = Vec::new();
        if let Some(list) = &zone.views {
            if list.get_ref().is_empty() {
                errors.push(at(
                    list.span().start,
                    "views = [] puts the zone in no view; leave it out to serve it in every view"
                        .into(),
                ));
            }
            for v in list.get_ref() {
                if !spec.view.iter().any(|d| d.name.get_ref() == v.get_ref()) {
                    errors.push(at(
                        v.span().start,
                        format!("no [[view]] is named \"{}\"", v.get_ref()),
                    ));
                } else if !views.contains(v.get_ref()) {
                    views.push(v.get_ref().clone());
                }
            }
        }
        // The views this entry serves in; "" stands for the implicit one.
        let serves: Vec<String> = if !views.is_empty() {
            views.clone()
        } else if spec.view.is_empty() {
            vec![String::new()]
        } else {
            spec.view.iter().map(|v| v.name.get_ref().clone()).collect()
        };
        let clash = placed
            .iter()
            .find(|(n, v, _)| *n == name && serves.contains(v))
            .map(|(_, v, offset)| (v.clone(), *offset));
        if let Some((view, offset)) = clash {
            let (line, _) = line_col(text, offset);
            let message = if view.is_empty() {
                format!("zone \"{name}\" is listed twice (first on line {line})")
            } else {
                format!(
                    "zone \"{name}\" is already in view \"{view}\" (line {line}); give each entry its own views = [...]"
                )
            };
            errors.push(at(zone.name.span().start, message));
            continue;
        }
        placed.extend(
            serves
                .into_iter()
                .map(|v| (name.clone(), v, zone.name.span().start)),
        );
        let file = base.join(zone.file.get_ref());
        if !file.is_file() {
            errors.push(at(
                zone.file.span().start,
                format!("zone file \"{}\" does not exist", file.display()),
            ));
        }
        let dnssec = parse_dnssec(zone, base, text, path, &mut |offset, message| {
            errors.push(at(offset, message))
        });
        config.zones.push(ZoneConfig {
            name,
            file,
            views,
            dnssec,
        });
    }
    let locate = |offset: usize| at(offset, String::new()).position;
    config.policy = policy::validate(
        spec.geo.as_ref(),
        &spec.region,
        &spec.cidr,
        &spec.latency,
        base,
        &locate,
        &mut |offset, message| errors.push(at(offset, message)),
    );
    (config.policy.health, config.policy.plugins) = crate::health::check::validate(
        &spec.health,
        &spec.plugin,
        base,
        &locate,
        &mut |offset, message| errors.push(at(offset, message)),
    );
    if let Some(order) = &spec.server.rrset_order {
        config.rrset_order = match order.get_ref().as_str() {
            "random" => RrsetOrder::Random,
            "cyclic" => RrsetOrder::Cyclic,
            "fixed" => RrsetOrder::Fixed,
            other => {
                errors.push(at(
                    order.span().start,
                    format!("rrset_order \"{other}\" must be \"random\", \"cyclic\" or \"fixed\" (see signpost.toml(5))"),
                ));
                RrsetOrder::default()
            }
        };
    }
    config.resolver = spec
        .resolver
        .as_ref()
        .map(|r| resolver::validate(r, &mut |offset, message| errors.push(at(offset, message))));
    config.policy.health_ttl = spec.health_ttl.as_ref().and_then(|t| {
        crate::health::check::ttl_lowering(t, &mut |offset, message| {
            errors.push(at(offset, message))
        })
    });
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(in_file_order(errors))
    }
}

/// Problems sorted by where they are, so that a long list reads like the
/// file (the checks themselves run table by table).
fn in_file_order(mut errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    crate::proto::diag::sort(&mut errors);
    errors
}

/// The DNSSEC keys of one `[[zone]]`: settings without `dnssec = true`
/// are an error rather than silently unused.
fn parse_dnssec(
    zone: &spec::ZoneSpec,
    base: &Path,
    text: &str,
    path: &Path,
    error: &mut dyn FnMut(usize, String),
) -> Option<dnssec::Settings> {
    let on = zone.dnssec.as_ref().filter(|d| *d.get_ref());
    let Some(on) = on else {
        let stray = [
            zone.key_directory
                .as_ref()
                .map(|s| ("key_directory", s.span().start)),
            zone.signature_validity
                .as_ref()
                .map(|s| ("signature_validity", s.span().start)),
            zone.signature_inception_offset
                .as_ref()
                .map(|s| ("signature_inception_offset", s.span().start)),
            zone.signature_refresh
                .as_ref()
                .map(|s| ("signature_refresh", s.span().start)),
        ];
        for (key, offset) in stray.into_iter().flatten() {
            error(offset, format!("{key} has no effect without dnssec = true"));
        }
        return None;
    };
    let mut timing = Timing::default();
    if let Some(v) = &zone.signature_validity {
        if *v.get_ref() == 0 {
            error(
                v.span().start,
                "signature_validity must be at least 1 second".into(),
            );
        }
        timing.validity = *v.get_ref();
    }
    if let Some(v) = &zone.signature_inception_offset {
        timing.inception_offset = *v.get_ref();
    }
    if let Some(v) = &zone.signature_refresh {
        if *v.get_ref() >= 100 {
            error(
                v.span().start,
                "signature_refresh is a percentage below 100".into(),
            );
        }
        timing.refresh_percent = *v.get_ref();
    }
    let key_directory = zone
        .key_directory
        .as_ref()
        .map_or_else(|| base.to_path_buf(), |d| base.join(d.get_ref()));
    let (line, col) = line_col(text, on.span().start);
    Some(dnssec::Settings {
        key_directory,
        timing,
        position: Position {
            file: path.into(),
            line,
            col,
        },
    })
}

/// `[query_log]` into the query log's settings.
fn query_log(
    spec: &spec::QueryLogSpec,
    base: &Path,
    error: &mut dyn FnMut(usize, String),
) -> querylog::Settings {
    let mut settings = querylog::Settings::default();
    let mut path = |value: &Option<toml::Spanned<String>>, what: &str| {
        let value = value.as_ref()?;
        if value.get_ref().is_empty() {
            error(
                value.span().start,
                format!("query_log {what} path is empty"),
            );
            return None;
        }
        Some(base.join(value.get_ref()))
    };
    settings.json = path(&spec.json, "json");
    settings.dnstap_file = path(&spec.dnstap_file, "dnstap_file");
    settings.dnstap_socket = path(&spec.dnstap_socket, "dnstap_socket");
    if let Some(sample) = &spec.sample {
        match *sample.get_ref() {
            0 => error(
                sample.span().start,
                "query_log sample must be at least 1 (1: every query, 100: one in 100)".into(),
            ),
            n => settings.sample = n,
        }
    }
    if let Some(queue) = &spec.queue {
        match *queue.get_ref() {
            0 => error(
                queue.span().start,
                "query_log queue must be at least 1".into(),
            ),
            n => settings.queue = n,
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_unknown_keys_with_position() {
        let text = "[server]\nlisten = [\"127.0.0.1:53\"]\nbogus = 1\n";
        let errors = parse(text, Path::new("t.toml")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().starts_with("t.toml:3:1: "),
            "{}",
            errors[0]
        );
        assert!(errors[0].message.contains("bogus"));
    }

    #[test]
    fn reports_every_unknown_key_at_once_in_file_order() {
        // Tables first in the file are checked last: the order is the file's.
        let text = "[health.web]\ntype = \"http\"\naddress = \"127.0.0.1\"\nintervall = 2\n\n\
                    [server]\nlisten = [\"127.0.0.1:53\"]\nworkrs = 2\nedns_udp_size = 100\n\n\
                    [[zone]]\nname = \"example.com\"\nfile = \"x\"\nDNSSEC = true\n\n\
                    [metrix]\nlisten = \"127.0.0.1:9153\"\n\n\
                    [log]\nformat = \"text\"\ncolour = true\n\n\
                    [cidr.corp]\noffice = [\"192.0.2.1/24\"]\n\n\
                    [[latency]]\nprefix = \"198.51.100.7/24\"\nms = { us-east-1 = 20 }\n";
        let errors = parse(text, Path::new("t.toml")).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let want = [
            "t.toml:4:1: unknown key \"intervall\" in [health.web]; did you mean \"interval\"?",
            "t.toml:8:1: unknown key \"workrs\" in [server]; did you mean \"workers\"?",
            "t.toml:9:17: edns_udp_size must be between 512 and 4096",
            "t.toml:14:1: unknown key \"DNSSEC\" in [[zone]]; did you mean \"dnssec\"?",
            "t.toml:13:8: zone file",
            "t.toml:16:2: unknown table [metrix]; did you mean [metrics]?",
            "t.toml:21:1: unknown key \"colour\" in [log]; known keys: format, level",
            "t.toml:24:11: \"192.0.2.1/24\" has host bits set: write \"192.0.2.0/24\" for the network, or \"192.0.2.1/32\" for the one address",
            "t.toml:27:10: \"198.51.100.7/24\" has host bits set: write \"198.51.100.0/24\"",
        ];
        assert_eq!(shown.len(), want.len(), "{shown:#?}");
        for w in want {
            assert!(
                shown.iter().any(|s| s.starts_with(w)),
                "missing {w:?} in {shown:#?}"
            );
        }
        let mut sorted = errors.clone();
        crate::proto::diag::sort(&mut sorted);
        assert_eq!(sorted, errors, "in file order");
    }

    #[test]
    fn a_wrong_type_or_a_missing_key_does_not_hide_the_others() {
        let text = "[server]\nworkers = \"two\"\nlisten = [\"127.0.0.1:53\"]\nbogus = 1\n\n\
                    [[zone]]\nname = \"example.com\"\n\n\
                    [[zone]]\nname = \"example.org\"\nfiel = \"y\"\n";
        let errors = parse(text, Path::new("t.toml")).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert_eq!(
            shown[0],
            "t.toml:2:11: workers in [server] must be a whole number (no quotes), not string \"two\""
        );
        assert!(
            shown[1].starts_with("t.toml:4:1: unknown key \"bogus\" in [server]"),
            "{shown:#?}"
        );
        assert!(
            shown[2].starts_with("t.toml:6:1: [[zone]] needs file = …"),
            "{shown:#?}"
        );
        assert!(
            shown[3].starts_with(
                "t.toml:11:1: unknown key \"fiel\" in [[zone]]; did you mean \"file\"?"
            ),
            "{shown:#?}"
        );
    }

    #[test]
    fn log_section() {
        let parsed = |text: &str| parse(text, Path::new("t.toml"));
        assert_eq!(parsed("").unwrap().log, LogConfig::default());
        let config =
            parsed("[log]\nformat = \"json\"\nlevel = \"warn,signpost::health=debug\"\n").unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(
            config.log.level.as_deref(),
            Some("warn,signpost::health=debug")
        );
        let shown = |text: &str| parsed(text).unwrap_err()[0].to_string();
        let e = shown("[log]\nformat = \"xml\"\n");
        assert_eq!(
            e,
            "t.toml:2:10: format = \"xml\": write one of \"text\", \"json\""
        );
        assert!(e.contains("text") && e.contains("json"), "{e}");
        let e = shown("[log]\nlevel = \"inof\"\n");
        assert!(e.starts_with("t.toml:2:9: level \"inof\""), "{e}");
        let e = shown("[log]\nlevel = \"info,signpost=loud\"\n");
        assert!(e.contains("\"loud\" is not a level"), "{e}");
        assert!(parsed("[log]\nlevel = \"WARN\"\n").is_ok());
        let e = shown("[log]\nformat = \"text\"\nfile = \"x\"\n");
        assert!(e.starts_with("t.toml:3:1: ") && e.contains("file"), "{e}");
    }

    #[test]
    fn reports_every_semantic_error() {
        let text = "[server]\nlisten = [\"nope\", \"127.0.0.1:53\"]\nedns_udp_size = 100\n\n[[zone]]\nname = \"a..b\"\nfile = \"x\"\n";
        let errors = parse(text, Path::new("t.toml")).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("t.toml:2:11: listen address \"nope\""));
        assert!(shown[1].starts_with("t.toml:3:17: edns_udp_size"));
        assert!(shown[2].starts_with("t.toml:6:8: zone name \"a..b\""));
    }
}
