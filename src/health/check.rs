//! What a check is: the validated form of `[health.NAME]` and
//! `[plugin.ID]` tables, and their validation (every problem reported at
//! its `file:line:col`, through the config's error callback).
//!
//! ```toml
//! [health.web-a]
//! type = "http"            # http | https | tcp | calculated | plugin | static
//! address = "192.0.2.10"   # what to connect to (an address or a host name)
//! port = 8080              # default 80 (http), 443 (https)
//! host = "www.example.com" # Host header (and SNI); default: address
//! path = "/healthz"        # default "/"
//! interval = 10            # seconds, default 10
//! timeout = 3              # seconds, default min(5, interval)
//! threshold = 3            # consecutive results that flip the state, 1-10
//! expect_status = "200-399"
//! body_contains = "ok"     # within the first 5,120 bytes of the body
//! inverted = false
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::spec::{HealthSpec, PluginSpec};
use crate::proto::Position;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_THRESHOLD: u8 = 3;
/// Plugins report a considered state; one report is enough by default.
pub const DEFAULT_PLUGIN_THRESHOLD: u8 = 1;
pub const DEFAULT_PLUGIN_INTERVAL: Duration = Duration::from_secs(5);
/// How much of a response body `body_contains` looks at.
pub const BODY_LIMIT: usize = 5120;

/// One configured check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    pub name: String,
    pub kind: CheckKind,
    /// Consecutive results that flip the state, in both directions.
    pub threshold: u8,
    /// Healthy when the probe says unhealthy, and the other way round.
    pub inverted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Static {
        up: bool,
    },
    Http(HttpCheck),
    Tcp(Endpoint),
    Calculated {
        children: Vec<String>,
        min_healthy: usize,
    },
    Plugin(PluginTarget),
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Static { .. } => "static",
            Self::Http(h) if h.tls.is_some() => "https",
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Calculated { .. } => "calculated",
            Self::Plugin(_) => "plugin",
        }
    }
}

/// Where and how often an endpoint is probed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    pub endpoint: Endpoint,
    /// The Host header.
    pub host: String,
    pub path: String,
    /// Some for HTTPS.
    pub tls: Option<TlsSettings>,
    /// Inclusive range of acceptable status codes.
    pub expect: (u16, u16),
    pub body_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// The server name sent (SNI) and verified.
    pub sni: String,
    /// Trust only the certificates in this PEM file, instead of the
    /// built-in Mozilla roots.
    pub ca_file: Option<PathBuf>,
    pub verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginTarget {
    /// The `[plugin.ID]` that reports it.
    pub plugin: String,
    pub target: String,
    /// The state while the plugin cannot say.
    pub unknown: WhenUnknown,
}

/// `unknown = "up" | "down" | "last_known"`: what a check is while its
/// source cannot say (a plugin that crashed, hung, reported garbage or
/// left the target out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WhenUnknown {
    /// Healthy (fail open, the default).
    #[default]
    Up,
    /// Unhealthy (fail closed).
    Down,
    /// The state from the last report that said up or down: Route 53's
    /// LastKnownStatus for alarm-backed checks. Healthy if there never
    /// was one.
    LastKnown,
}

impl WhenUnknown {
    pub fn word(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::LastKnown => "last_known",
        }
    }
}

/// `[health_ttl]`, validated: while a check is unhealthy or changed state
/// less than `window` ago, answers that depend on it carry at most `ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlLowering {
    pub ttl: u32,
    pub window: Duration,
}

pub const DEFAULT_LOWERED_TTL: u32 = 5;
pub const DEFAULT_LOWERING_WINDOW: Duration = Duration::from_secs(60);

/// Validates `[health_ttl]`.
pub fn ttl_lowering(
    spec: &super::spec::HealthTtlSpec,
    error: &mut dyn FnMut(usize, String),
) -> Option<TtlLowering> {
    let ttl = match &spec.ttl {
        Some(t) if !(0..=86_400).contains(t.get_ref()) => {
            error(
                t.span().start,
                "ttl must be from 0 to 86400 seconds (a few seconds is usual)".into(),
            );
            return None;
        }
        Some(t) => *t.get_ref() as u32,
        None => DEFAULT_LOWERED_TTL,
    };
    let window = match &spec.window {
        Some(w) if !(1.0..=86_400.0).contains(w.get_ref()) => {
            error(
                w.span().start,
                "window must be from 1 to 86400 seconds".into(),
            );
            return None;
        }
        Some(w) => Duration::from_secs_f64(*w.get_ref()),
        None => DEFAULT_LOWERING_WINDOW,
    };
    Some(TtlLowering { ttl, window })
}

/// One `[plugin.ID]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginDef {
    pub id: String,
    /// Where the table is, for messages about the plugin (not a reason to
    /// restart it: see [`PluginDef::runs_like`]).
    pub defined_at: Position,
    /// What the library must call itself.
    pub name: String,
    pub library: PathBuf,
    pub config: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl PluginDef {
    /// Whether a running plugin child started from `other` can stay: every
    /// setting is the same, wherever the table moved in the file.
    pub fn runs_like(&self, other: &Self) -> bool {
        (&self.id, &self.name, &self.library, &self.config)
            == (&other.id, &other.name, &other.library, &other.config)
            && (self.interval, self.timeout) == (other.interval, other.timeout)
    }
}

/// Which keys each type accepts (besides type, threshold and inverted).
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "static" => &["state"],
        "tcp" => &["address", "port", "interval", "timeout"],
        "http" => &[
            "address",
            "port",
            "interval",
            "timeout",
            "host",
            "path",
            "expect_status",
            "body_contains",
        ],
        "https" => &[
            "address",
            "port",
            "interval",
            "timeout",
            "host",
            "path",
            "expect_status",
            "body_contains",
            "sni",
            "ca_file",
            "tls_verify",
        ],
        "calculated" => &["children", "min_healthy"],
        "plugin" => &["plugin", "target", "unknown"],
        _ => &[],
    }
}

/// The keys present in a table, with their offsets.
fn present(s: &HealthSpec) -> Vec<(&'static str, usize)> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<usize> {
        v.as_ref().map(|v| v.span().start)
    }
    let keys = [
        ("state", at(&s.state)),
        ("address", at(&s.address)),
        ("port", at(&s.port)),
        ("host", at(&s.host)),
        ("path", at(&s.path)),
        ("sni", at(&s.sni)),
        ("interval", at(&s.interval)),
        ("timeout", at(&s.timeout)),
        ("expect_status", at(&s.expect_status)),
        ("body_contains", at(&s.body_contains)),
        ("ca_file", at(&s.ca_file)),
        ("tls_verify", at(&s.tls_verify)),
        ("children", at(&s.children)),
        ("min_healthy", at(&s.min_healthy)),
        ("plugin", at(&s.plugin)),
        ("target", at(&s.target)),
        ("unknown", at(&s.unknown)),
    ];
    keys.into_iter()
        .filter_map(|(k, at)| at.map(|a| (k, a)))
        .collect()
}

/// Seconds from the config: 0.1 to 3600.
fn seconds(
    v: &Option<Spanned<f64>>,
    key: &str,
    error: &mut dyn FnMut(usize, String),
) -> Option<Duration> {
    let v = v.as_ref()?;
    let secs = *v.get_ref();
    if !(0.1..=3600.0).contains(&secs) {
        error(
            v.span().start,
            format!("{key} must be from 0.1 to 3600 seconds"),
        );
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

fn up_down(v: &Spanned<String>, key: &str, error: &mut dyn FnMut(usize, String)) -> bool {
    match v.get_ref().as_str() {
        "up" => true,
        "down" => false,
        other => {
            error(
                v.span().start,
                format!("{key} \"{other}\" must be \"up\" or \"down\""),
            );
            true
        }
    }
}

/// "a tcp", "an http": the article as the type is read aloud.
fn a_kind(kind: &str) -> String {
    if kind.starts_with("http") {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `unknown = "…"`, with Route 53's words for the same choices pointed
/// to ours.
fn when_unknown(text: &str) -> Result<WhenUnknown, String> {
    match text {
        "up" => Ok(WhenUnknown::Up),
        "down" => Ok(WhenUnknown::Down),
        "last_known" => Ok(WhenUnknown::LastKnown),
        other => {
            let ours = match other.to_ascii_lowercase().replace('-', "_").as_str() {
                "healthy" | "up" => Some("up"),
                "unhealthy" | "down" => Some("down"),
                "lastknownstatus" | "last_known_status" | "last_known" | "lastknown" => {
                    Some("last_known")
                }
                _ => None,
            };
            Err(match ours {
                Some(ours) => format!("unknown \"{other}\": write unknown = \"{ours}\""),
                None => format!(
                    "unknown \"{other}\" must be \"up\" (fail open), \"down\" (fail closed) or \"last_known\" (keep the last reported state)"
                ),
            })
        }
    }
}

/// What to write instead of a check type in another spelling: Route 53's
/// names (`HTTP`, `HTTP_STR_MATCH`, `CLOUDWATCH_METRIC`, …) or ours in
/// other case. `None`: not a spelling we know.
fn type_instead(kind: &str, has_body_contains: bool) -> Option<String> {
    let upper = kind.to_ascii_uppercase().replace('-', "_");
    let plain = |ours: &str| format!("check type \"{kind}\": write type = \"{ours}\"");
    let string_match = |ours: &str| {
        if has_body_contains {
            format!(
                "check type \"{kind}\": write type = \"{ours}\"; body_contains does the string match"
            )
        } else {
            format!(
                "check type \"{kind}\": write type = \"{ours}\" and body_contains = \"TEXT\" (looked for in the first {BODY_LIMIT} bytes of the body, as Route 53 does)"
            )
        }
    };
    Some(match upper.as_str() {
        "HTTP" => plain("http"),
        "HTTPS" => plain("https"),
        "TCP" => plain("tcp"),
        "CALCULATED" => plain("calculated"),
        "PLUGIN" => plain("plugin"),
        "STATIC" => plain("static"),
        "HTTP_STR_MATCH" => string_match("http"),
        "HTTPS_STR_MATCH" => string_match("https"),
        "CLOUDWATCH_METRIC" => format!(
            "check type \"{kind}\": alarm-backed checks are plugin checks here: write type = \"plugin\" with a [plugin.ID] that reads the alarm, and unknown = \"last_known\" for Route 53's LastKnownStatus (see signpost.toml(5), PLUGINS)"
        ),
        "RECOVERY_CONTROL" => format!(
            "check type \"{kind}\": write type = \"static\" with state = \"up\" and turn it with `signpostctl health set NAME up|down|auto`"
        ),
        _ => return None,
    })
}

/// `"200-399"` or `"204"`.
fn status_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let lo: u16 = lo.trim().parse().ok()?;
    let hi: u16 = hi.trim().parse().ok()?;
    ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some((lo, hi))
}

/// Reads the certificates of a PEM file (to refuse a bad `ca_file` when
/// the config is loaded rather than at the first probe).
pub fn read_ca_file(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file \"{}\": {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file \"{}\": {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file \"{}\" has no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// Validates every `[health.NAME]` and `[plugin.ID]` table.
pub fn validate(
    health: &BTreeMap<String, Spanned<HealthSpec>>,
    plugins: &BTreeMap<String, Spanned<PluginSpec>>,
    base: &Path,
    locate: &dyn Fn(usize) -> Position,
    error: &mut dyn FnMut(usize, String),
) -> (Vec<CheckDef>, Vec<PluginDef>) {
    let mut plugin_defs = Vec::new();
    for (id, spec) in plugins {
        let p = spec.get_ref();
        let library = base.join(p.library.get_ref());
        if !library.is_file() {
            error(
                p.library.span().start,
                format!("plugin library \"{}\" does not exist", library.display()),
            );
        }
        let interval = seconds(&p.interval, "interval", error).unwrap_or(DEFAULT_PLUGIN_INTERVAL);
        let timeout = seconds(&p.timeout, "timeout", error).unwrap_or(Duration::from_secs(10));
        plugin_defs.push(PluginDef {
            id: id.clone(),
            defined_at: locate(spec.span().start),
            name: p.name.as_ref().map_or(id.clone(), |n| n.get_ref().clone()),
            library,
            config: p
                .config
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default(),
            interval,
            timeout,
        });
    }

    let mut checks = Vec::new();
    for (name, spec) in health {
        let at = spec.span().start;
        let s = spec.get_ref();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            error(
                at,
                format!("health check name \"{name}\" must be one word (zone annotations say health=NAME)"),
            );
            continue;
        }
        let kind = match (&s.kind, &s.state) {
            (Some(k), _) => k.get_ref().clone(),
            (None, Some(_)) => "static".to_string(),
            (None, None) => {
                error(
                    at,
                    format!(
                        "[health.{name}] needs a type: http, https, tcp, calculated, plugin or static"
                    ),
                );
                continue;
            }
        };
        if allowed_keys(&kind).is_empty() {
            let offset = s.kind.as_ref().map_or(at, |k| k.span().start);
            if let Some(instead) = type_instead(&kind, s.body_contains.is_some()) {
                error(offset, instead);
                continue;
            }
            error(
                offset,
                format!(
                    "unknown check type \"{kind}\": use http, https, tcp, calculated, plugin or static"
                ),
            );
            continue;
        }
        let mut bad = false;
        for (key, offset) in present(s) {
            if !allowed_keys(&kind).contains(&key) {
                let takes = allowed_keys(&kind).join(", ");
                let message = if key == "unknown" {
                    format!("unknown does not apply to {} check: only plugin checks have an unknown state", a_kind(&kind))
                } else {
                    format!("{key} does not apply to {} check (it takes {takes}, threshold and inverted)", a_kind(&kind))
                };
                error(offset, message);
                bad = true;
            }
        }
        let threshold = match &s.threshold {
            Some(t) if !(1..=10).contains(t.get_ref()) => {
                error(t.span().start, "threshold must be from 1 to 10".into());
                bad = true;
                DEFAULT_THRESHOLD
            }
            Some(t) => *t.get_ref() as u8,
            None if kind == "plugin" => DEFAULT_PLUGIN_THRESHOLD,
            None => DEFAULT_THRESHOLD,
        };
        let inverted = s.inverted.as_ref().is_some_and(|v| *v.get_ref());
        let mut need = |key: &str, ok: bool| {
            if !ok {
                error(at, format!("{} check needs {key}", capital(&a_kind(&kind))));
            }
            ok
        };
        let kind = match kind.as_str() {
            "static" => {
                let Some(state) = &s.state else {
                    need("state = \"up\" or \"down\"", false);
                    continue;
                };
                CheckKind::Static {
                    up: up_down(state, "state", error),
                }
            }
            "tcp" | "http" | "https" => {
                if !need("address", s.address.is_some()) {
                    continue;
                }
                let Some(endpoint) = endpoint(s, &kind, error) else {
                    continue;
                };
                if kind == "tcp" {
                    CheckKind::Tcp(endpoint)
                } else {
                    match http(s, endpoint, kind == "https", base, error) {
                        Some(h) => CheckKind::Http(h),
                        None => continue,
                    }
                }
            }
            "calculated" => {
                let Some(children) = &s.children else {
                    need("children = [\"check\", …]", false);
                    continue;
                };
                let list: Vec<String> = children
                    .get_ref()
                    .iter()
                    .map(|c| c.get_ref().clone())
                    .collect();
                for c in children.get_ref() {
                    if !health.contains_key(c.get_ref()) {
                        error(
                            c.span().start,
                            format!(
                                "unknown health check \"{}\": define [health.{}]",
                                c.get_ref(),
                                c.get_ref()
                            ),
                        );
                        bad = true;
                    }
                }
                if list.is_empty() {
                    error(
                        children.span().start,
                        "children = [] has nothing to count".into(),
                    );
                    bad = true;
                }
                let min_healthy = match &s.min_healthy {
                    Some(m) if *m.get_ref() < 1 || *m.get_ref() as usize > list.len() => {
                        error(
                            m.span().start,
                            format!(
                                "min_healthy must be from 1 to the number of children ({})",
                                list.len()
                            ),
                        );
                        bad = true;
                        1
                    }
                    Some(m) => *m.get_ref() as usize,
                    None => list.len(),
                };
                CheckKind::Calculated {
                    children: list,
                    min_healthy,
                }
            }
            _ => {
                let Some(plugin) = &s.plugin else {
                    need("plugin = \"ID\" naming a [plugin.ID] table", false);
                    continue;
                };
                if !plugins.contains_key(plugin.get_ref()) {
                    error(
                        plugin.span().start,
                        format!(
                            "unknown plugin \"{}\": define [plugin.{}]",
                            plugin.get_ref(),
                            plugin.get_ref()
                        ),
                    );
                    bad = true;
                }
                let target = s
                    .target
                    .as_ref()
                    .map_or(name.clone(), |t| t.get_ref().clone());
                if !signpost_plugin_abi::valid_target(&target) {
                    let offset = s.target.as_ref().map_or(at, |t| t.span().start);
                    error(
                        offset,
                        format!("target \"{target}\" must be one word of at most 255 bytes"),
                    );
                    bad = true;
                }
                let unknown = match &s.unknown {
                    None => WhenUnknown::Up,
                    Some(u) => match when_unknown(u.get_ref()) {
                        Ok(w) => w,
                        Err(message) => {
                            error(u.span().start, message);
                            bad = true;
                            WhenUnknown::Up
                        }
                    },
                };
                CheckKind::Plugin(PluginTarget {
                    plugin: plugin.get_ref().clone(),
                    target,
                    unknown,
                })
            }
        };
        if bad {
            continue;
        }
        checks.push(CheckDef {
            name: name.clone(),
            kind,
            threshold,
            inverted,
        });
    }
    // Calculated checks must not depend on themselves.
    for (name, spec) in health {
        if let Some(path) = cycle_from(name, &checks) {
            error(
                spec.span().start,
                format!("calculated checks form a cycle: {}", path.join(" → ")),
            );
        }
    }
    (checks, plugin_defs)
}

/// A dependency cycle through `start`, if any (as the names along it).
fn cycle_from(start: &str, checks: &[CheckDef]) -> Option<Vec<String>> {
    fn walk(at: &str, start: &str, checks: &[CheckDef], path: &mut Vec<String>) -> bool {
        let Some(CheckKind::Calculated { children, .. }) =
            checks.iter().find(|c| c.name == at).map(|c| &c.kind)
        else {
            return false;
        };
        for child in children {
            if child == start {
                path.push(child.clone());
                return true;
            }
            if path.contains(child) {
                continue;
            }
            path.push(child.clone());
            if walk(child, start, checks, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(start, start, checks, &mut path).then_some(path)
}

fn endpoint(s: &HealthSpec, kind: &str, error: &mut dyn FnMut(usize, String)) -> Option<Endpoint> {
    let address = s.address.as_ref()?;
    if address.get_ref().is_empty() || address.get_ref().contains(char::is_whitespace) {
        error(
            address.span().start,
            "address must be an IP address or a host name".into(),
        );
        return None;
    }
    let port = match &s.port {
        Some(p) if !(1..=65535).contains(p.get_ref()) => {
            error(p.span().start, "port must be from 1 to 65535".into());
            return None;
        }
        Some(p) => *p.get_ref() as u16,
        None if kind == "https" => 443,
        None if kind == "http" => 80,
        None => {
            error(address.span().start, "a tcp check needs port".into());
            return None;
        }
    };
    let interval = seconds(&s.interval, "interval", error).unwrap_or(DEFAULT_INTERVAL);
    let timeout = match seconds(&s.timeout, "timeout", error) {
        Some(t) if t > interval => {
            if let Some(at) = &s.timeout {
                error(
                    at.span().start,
                    "timeout must not be longer than interval".into(),
                );
            }
            return None;
        }
        Some(t) => t,
        None => interval.min(Duration::from_secs(5)),
    };
    Some(Endpoint {
        address: address.get_ref().clone(),
        port,
        interval,
        timeout,
    })
}

fn http(
    s: &HealthSpec,
    endpoint: Endpoint,
    https: bool,
    base: &Path,
    error: &mut dyn FnMut(usize, String),
) -> Option<HttpCheck> {
    let mut ok = true;
    let host = s
        .host
        .as_ref()
        .map_or(endpoint.address.clone(), |h| h.get_ref().clone());
    let path = match &s.path {
        Some(p) if !p.get_ref().starts_with('/') || p.get_ref().contains(char::is_whitespace) => {
            error(
                p.span().start,
                "path must start with / and have no spaces".into(),
            );
            ok = false;
            String::new()
        }
        Some(p) => p.get_ref().clone(),
        None => "/".into(),
    };
    let expect = match &s.expect_status {
        Some(e) => status_range(e.get_ref()).unwrap_or_else(|| {
            error(
                e.span().start,
                format!(
                    "expect_status \"{}\" must be a status or a range like \"200-399\"",
                    e.get_ref()
                ),
            );
            ok = false;
            (200, 399)
        }),
        None => (200, 399),
    };
    if let Some(b) = &s.body_contains {
        if b.get_ref().is_empty() || b.get_ref().len() > BODY_LIMIT {
            error(
                b.span().start,
                format!("body_contains must be 1 to {BODY_LIMIT} bytes"),
            );
            ok = false;
        }
    }
    let tls = if https {
        let verify = s.tls_verify.as_ref().is_none_or(|v| *v.get_ref());
        let ca_file = s.ca_file.as_ref().map(|c| {
            let path = base.join(c.get_ref());
            if let Err(e) = read_ca_file(&path) {
                error(c.span().start, e);
                ok = false;
            }
            path
        });
        Some(TlsSettings {
            sni: s.sni.as_ref().map_or(host.clone(), |v| v.get_ref().clone()),
            ca_file,
            verify,
        })
    } else {
        None
    };
    ok.then(|| HttpCheck {
        endpoint,
        host,
        path,
        tls,
        expect,
        body_contains: s.body_contains.as_ref().map(|b| b.get_ref().clone()),
    })
}

#[cfg(test)]
mod tests {
    use crate::config;

    fn errors(text: &str) -> Vec<String> {
        let full = format!("[server]\nlisten = [\"127.0.0.1:53\"]\n{text}");
        match config::parse(&full, std::path::Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn accepts_every_type() {
        let text = r#"
[health.fixed]
state = "down"
[health.web]
type = "http"
address = "127.0.0.1"
port = 8080
path = "/healthz"
interval = 1
timeout = 0.5
threshold = 2
expect_status = "200-299"
body_contains = "ok"
[health.secure]
type = "https"
address = "127.0.0.1"
host = "www.example.com"
tls_verify = false
[health.db]
type = "tcp"
address = "127.0.0.1"
port = 5432
inverted = true
[health.both]
type = "calculated"
children = ["web", "db"]
min_healthy = 1
"#;
        assert_eq!(errors(text), Vec::<String>::new());
        let full = format!("[server]\nlisten = [\"127.0.0.1:53\"]\n{text}");
        let c = config::parse(&full, std::path::Path::new("t.toml")).unwrap();
        let names: Vec<&str> = c.policy.health.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["both", "db", "fixed", "secure", "web"]);
        let web = &c.policy.health[4];
        assert_eq!(web.threshold, 2);
        let super::CheckKind::Http(h) = &web.kind else {
            panic!()
        };
        assert_eq!(h.expect, (200, 299));
        assert_eq!(h.endpoint.timeout, std::time::Duration::from_millis(500));
        let super::CheckKind::Http(s) = &c.policy.health[3].kind else {
            panic!()
        };
        let tls = s.tls.as_ref().unwrap();
        assert_eq!(
            (tls.sni.as_str(), tls.verify, s.endpoint.port),
            ("www.example.com", false, 443)
        );
    }

    #[test]
    fn reports_problems_with_positions() {
        let e = errors(
            "[health.a]\ntype = \"http\"\naddress = \"x\"\nthreshold = 11\nchildren = [\"b\"]\n\
             [health.b]\ntype = \"bogus\"\n\
             [health.c]\ntype = \"calculated\"\nchildren = [\"f\"]\n\
             [health.d]\nport = 1\n\
             [health.e]\ntype = \"http\"\naddress = \"x\"\nexpect_status = \"abc\"\ninterval = 2\ntimeout = 3\n\
             [health.f]\ntype = \"calculated\"\nchildren = [\"c\", \"nope\"]\nmin_healthy = 1\n\
             [health.g]\ntype = \"https\"\naddress = \"x\"\nexpect_status = \"600\"\n",
        );
        let want = [
            "t.toml:6:13: threshold must be from 1 to 10",
            "t.toml:7:12: children does not apply to an http check",
            "t.toml:9:8: unknown check type \"bogus\"",
            "t.toml:13:1: [health.d] needs a type",
            "t.toml:20:11: timeout must not be longer than interval",
            "t.toml:23:18: unknown health check \"nope\"",
            "t.toml:28:17: expect_status \"600\" must be",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in {e:#?}"
            );
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
        let cycle = errors(
            "[health.c]\ntype = \"calculated\"\nchildren = [\"f\"]\n\
             [health.f]\ntype = \"calculated\"\nchildren = [\"c\"]\n",
        );
        assert_eq!(
            cycle,
            [
                "t.toml:3:1: calculated checks form a cycle: c → f → c",
                "t.toml:6:1: calculated checks form a cycle: f → c → f"
            ]
        );
    }

    #[test]
    fn route53_spellings_say_what_to_write() {
        let one = |table: &str| {
            let e = errors(table);
            assert_eq!(e.len(), 1, "{e:#?}");
            e[0].clone()
        };
        for (r53, ours) in [("HTTP", "http"), ("HTTPS", "https"), ("TCP", "tcp"), ("Calculated", "calculated")] {
            let e = one(&format!("[health.a]\ntype = \"{r53}\"\naddress = \"x\"\nport = 1\n"));
            assert_eq!(
                e,
                format!("t.toml:4:8: check type \"{r53}\": write type = \"{ours}\"")
            );
        }
        let e = one("[health.a]\ntype = \"HTTP_STR_MATCH\"\naddress = \"x\"\n");
        assert!(
            e.starts_with("t.toml:4:8: check type \"HTTP_STR_MATCH\": write type = \"http\" and body_contains = \"TEXT\""),
            "{e}"
        );
        let e = one("[health.a]\ntype = \"HTTPS_STR_MATCH\"\naddress = \"x\"\nbody_contains = \"ok\"\n");
        assert!(
            e.ends_with("write type = \"https\"; body_contains does the string match"),
            "{e}"
        );
        let e = one("[health.a]\ntype = \"CLOUDWATCH_METRIC\"\n");
        assert!(e.contains("type = \"plugin\"") && e.contains("unknown = \"last_known\""), "{e}");
        let plugin = "[plugin.p]\nlibrary = \"/nonexistent.so\"\n[health.a]\ntype = \"plugin\"\nplugin = \"p\"\n";
        let e = errors(&format!("{plugin}unknown = \"LastKnownStatus\"\n"));
        assert_eq!(
            e[1],
            "t.toml:8:11: unknown \"LastKnownStatus\": write unknown = \"last_known\""
        );
        let e = errors(&format!("{plugin}unknown = \"maybe\"\n"));
        assert!(e[1].contains("\"last_known\" (keep the last reported state)"), "{e:#?}");
        let e = one("[health.a]\ntype = \"tcp\"\naddress = \"x\"\nport = 1\nunknown = \"last_known\"\n");
        assert!(
            e.starts_with("t.toml:7:11: unknown does not apply to a tcp check: only plugin checks"),
            "{e}"
        );
    }

    #[test]
    fn last_known_and_health_ttl_are_read() {
        let full = "[server]\nlisten = [\"127.0.0.1:53\"]\n\
                    [plugin.p]\nlibrary = \"Cargo.toml\"\n\
                    [health.a]\ntype = \"plugin\"\nplugin = \"p\"\nunknown = \"last_known\"\n\
                    [health_ttl]\nttl = 3\nwindow = 30\n";
        let c = config::parse(full, std::path::Path::new("t.toml")).unwrap();
        let super::CheckKind::Plugin(p) = &c.policy.health[0].kind else {
            panic!()
        };
        assert_eq!(p.unknown, super::WhenUnknown::LastKnown);
        assert_eq!(
            c.policy.health_ttl,
            Some(super::TtlLowering {
                ttl: 3,
                window: std::time::Duration::from_secs(30)
            })
        );
        let e = errors("[health_ttl]\nttl = -1\n");
        assert!(e[0].starts_with("t.toml:4:7: ttl must be from 0 to 86400"), "{e:#?}");
        let e = errors("[health_ttl]\nwindow = 0\n");
        assert!(e[0].starts_with("t.toml:4:10: window must be from 1"), "{e:#?}");
        assert!(errors("[health_ttl]\n").is_empty());
    }
}
