//! `[resolver]`: the upstream resolvers that answer for ALIAS targets
//! outside the served zones, validated into `upstream::Settings`.
//!
//! ```toml
//! [resolver]
//! upstreams = ["127.0.0.53", "[2001:db8::53]:53"]  # port 53 unless given
//! timeout = 2          # seconds per query, default 2
//! max_stale = 86400    # seconds the last answer outlives failing upstreams
//! stale_ttl = 30       # TTL of such an answer
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::upstream::{Settings, DEFAULT_MAX_STALE, DEFAULT_STALE_TTL, DEFAULT_TIMEOUT};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverSpec {
    /// `ADDRESS` or `ADDRESS:PORT` (IPv6 as `[::1]:53`).
    pub upstreams: Spanned<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<f64>>,
    pub max_stale: Option<Spanned<u64>>,
    pub stale_ttl: Option<Spanned<u32>>,
}

/// Validates `[resolver]`; problems go to `error(offset, message)`.
pub fn validate(spec: &ResolverSpec, error: &mut dyn FnMut(usize, String)) -> Settings {
    let mut settings = Settings::default();
    for upstream in spec.upstreams.get_ref() {
        let text = upstream.get_ref();
        let parsed = text
            .parse::<SocketAddr>()
            .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)));
        match parsed {
            Ok(addr) => settings.upstreams.push(addr),
            Err(_) => error(
                upstream.span().start,
                format!(
                    "upstream \"{text}\" is not an address: write \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\" (see signpost.toml(5), RESOLVER)"
                ),
            ),
        }
    }
    if spec.upstreams.get_ref().is_empty() {
        error(
            spec.upstreams.span().start,
            "[resolver] upstreams is empty: list at least one resolver, such as \"127.0.0.53\""
                .into(),
        );
    }
    settings.timeout = match &spec.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) if (0.1..=30.0).contains(t.get_ref()) => Duration::from_secs_f64(*t.get_ref()),
        Some(t) => {
            error(
                t.span().start,
                "timeout must be from 0.1 to 30 seconds".into(),
            );
            DEFAULT_TIMEOUT
        }
    };
    settings.max_stale = spec
        .max_stale
        .as_ref()
        .map_or(DEFAULT_MAX_STALE, |s| Duration::from_secs(*s.get_ref()));
    settings.stale_ttl = spec
        .stale_ttl
        .as_ref()
        .map_or(DEFAULT_STALE_TTL, |s| *s.get_ref());
    settings
}
