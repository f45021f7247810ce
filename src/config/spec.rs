//! The config file exactly as written: serde types with
//! `deny_unknown_fields` on every table, so a typo is an error with a
//! position rather than a silently ignored key. Values that are validated
//! later keep their span for `file:line:col` messages.

use serde::Deserialize;
use toml::Spanned;

pub const DEFAULT_TCP_IDLE_TIMEOUT: u64 = 10;
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 512;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub server: ServerSpec,
    #[serde(default)]
    pub zone: Vec<ZoneSpec>,
    /// Split-horizon views, in match order.
    #[serde(default)]
    pub view: Vec<ViewSpec>,
    /// TSIG keys (RFC 8945) views may match on.
    #[serde(default)]
    pub key: Vec<KeySpec>,
    #[serde(default)]
    pub control: ControlSpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
    #[serde(default)]
    pub query_log: QueryLogSpec,
    #[serde(default)]
    pub log: LogSpec,
    /// Routing policies: see config/policy.rs; health tables: health/spec.rs.
    pub geo: Option<super::policy::GeoSpec>,
    #[serde(default)]
    pub region: Vec<super::policy::RegionSpec>,
    #[serde(default)]
    pub cidr: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, Vec<Spanned<String>>>,
    >,
    #[serde(default)]
    pub latency: Vec<super::policy::LatencySpec>,
    #[serde(default)]
    pub health: std::collections::BTreeMap<String, Spanned<crate::health::HealthSpec>>,
    /// Health-source plugins: `[plugin.ID]`.
    #[serde(default)]
    pub plugin: std::collections::BTreeMap<String, Spanned<crate::health::PluginSpec>>,
    /// Upstream resolvers for ALIAS targets outside our zones.
    pub resolver: Option<super::resolver::ResolverSpec>,
    /// Lower TTLs while checks fail or recover: `[health_ttl]`.
    pub health_ttl: Option<crate::health::HealthTtlSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// `ADDRESS:PORT` strings; IPv6 as `[::1]:53`.
    #[serde(default)]
    pub listen: Vec<Spanned<String>>,
    /// UDP sockets and threads per address; 0 or absent: one per CPU.
    pub workers: Option<usize>,
    pub edns_udp_size: Option<Spanned<u16>>,
    /// `random` (default), `cyclic` or `fixed`.
    pub rrset_order: Option<Spanned<String>>,
    /// Seconds a TCP connection may sit idle (or dribble one message).
    pub tcp_idle_timeout: Option<Spanned<u64>>,
    pub tcp_max_connections: Option<usize>,
    /// Watch the config and zone files and reload on change (default true).
    pub watch: Option<bool>,
    /// Started as root, drop to this user once the sockets are bound.
    pub user: Option<Spanned<String>>,
    /// The group to drop to; default: the user's primary group.
    pub group: Option<Spanned<String>>,
    /// Run as root when started as root without `user`.
    pub allow_root: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub name: Spanned<String>,
    pub file: Spanned<String>,
    /// Views serving this zone; absent: every view.
    pub views: Option<Spanned<Vec<Spanned<String>>>>,
    /// DNSSEC online signing (SPEC §6); the rest need it on.
    pub dnssec: Option<Spanned<bool>>,
    /// Where `signpostctl keygen` wrote the zone's key; default: the
    /// config file's directory.
    pub key_directory: Option<Spanned<String>>,
    /// Seconds from inception to expiration (default 14 days).
    pub signature_validity: Option<Spanned<u64>>,
    /// Seconds the inception is backdated (default 3600).
    pub signature_inception_offset: Option<Spanned<u64>>,
    /// Re-sign when less than this percentage of the validity is left
    /// (default 25).
    pub signature_refresh: Option<Spanned<u8>>,
}

/// One `[[view]]`: which clients it serves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    pub name: Spanned<String>,
    /// Source prefixes (`"192.0.2.0/24"`, or a bare address); absent: any.
    pub match_clients: Option<Spanned<Vec<Spanned<String>>>>,
    /// Local addresses the query must arrive on; absent: any.
    pub match_destinations: Option<Spanned<Vec<Spanned<String>>>>,
    /// TSIG key names, one of which must have signed the query; absent:
    /// signed or not, by any key.
    pub match_keys: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[[key]]`: a TSIG shared secret. Key names are DNS names, often
/// with dots, so they are a `name` field (as zones and views have) rather
/// than a table key that would need quoting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: Spanned<String>,
    /// `hmac-sha256` (default), `hmac-sha384`, `hmac-sha512`, `hmac-sha1`.
    pub algorithm: Option<Spanned<String>>,
    /// Base64, as `tsig-keygen` and `keymgr` print it.
    pub secret: Option<Spanned<String>>,
    /// A file holding the base64 secret instead, so the config can be
    /// readable by more people than the secret.
    pub secret_file: Option<Spanned<String>>,
}

/// Never shows the secret.
impl std::fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySpec")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret.as_ref().map(|_| "(hidden)"))
            .field("secret_file", &self.secret_file)
            .finish()
    }
}

/// `[control]`: the Unix socket `signpostctl` talks to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    pub socket: Option<Spanned<String>>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// `ADDRESS:PORT` serving `GET /metrics`; absent: no endpoint.
    pub listen: Option<Spanned<String>>,
}

/// `[query_log]`: one record per query (or per `sample` queries).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryLogSpec {
    /// A file to append one JSON object per query to.
    pub json: Option<Spanned<String>>,
    /// A file to write dnstap (Frame Streams) to.
    pub dnstap_file: Option<Spanned<String>>,
    /// A Unix socket a dnstap collector listens on.
    pub dnstap_socket: Option<Spanned<String>>,
    /// Log one query in this many (default 1: every query).
    pub sample: Option<Spanned<u64>>,
    /// Records waiting for the writer before new ones are dropped.
    pub queue: Option<Spanned<usize>>,
}

/// `[log]`: what the daemon's log lines look like on standard error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// `text` (default) or `json`.
    pub format: Option<super::LogFormat>,
    /// A level or `tracing` filter directives, as `SIGNPOST_LOG` takes.
    pub level: Option<Spanned<String>>,
}
