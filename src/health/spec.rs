//! The `[health.NAME]` and `[plugin.ID]` tables exactly as written: serde
//! types with `deny_unknown_fields`, validated by [`check::validate`]
//! (health/check.rs) into [`CheckDef`] and [`PluginDef`]. The config module
//! only embeds them in its file schema.
//!
//! [`check::validate`]: super::check::validate
//! [`CheckDef`]: super::CheckDef
//! [`PluginDef`]: super::PluginDef

use serde::Deserialize;
use toml::Spanned;

/// One `[health.NAME]` table; which keys apply depends on `type` (see
/// health/check.rs, which validates them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// `http`, `https`, `tcp`, `calculated`, `plugin` or `static`; absent
    /// with `state`: static.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// Static checks: `up` or `down`.
    pub state: Option<Spanned<String>>,
    pub address: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub host: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub sni: Option<Spanned<String>>,
    /// Seconds.
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    pub threshold: Option<Spanned<i64>>,
    /// `"200-399"` or `"204"`.
    pub expect_status: Option<Spanned<String>>,
    pub body_contains: Option<Spanned<String>>,
    pub inverted: Option<Spanned<bool>>,
    pub ca_file: Option<Spanned<String>>,
    pub tls_verify: Option<Spanned<bool>>,
    pub children: Option<Spanned<Vec<Spanned<String>>>>,
    pub min_healthy: Option<Spanned<i64>>,
    pub plugin: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    /// Plugin checks: the state while the plugin cannot say (`up`/`down`).
    pub unknown: Option<Spanned<String>>,
}

/// One `[plugin.ID]` table: a health-source library and its settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    pub library: Spanned<String>,
    /// The name the library must report; default: the table's ID.
    pub name: Option<Spanned<String>>,
    pub config: Option<Spanned<String>>,
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
}

/// `[health_ttl]`: lower the TTL of answers that depend on a failing or
/// recovering check, so that clients come back soon after a failover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthTtlSpec {
    /// The TTL such answers carry at most, in seconds.
    pub ttl: Option<Spanned<i64>>,
    /// Seconds after a state change that a check still counts as
    /// recovering.
    pub window: Option<Spanned<f64>>,
}
