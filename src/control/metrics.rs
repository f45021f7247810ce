//! The Prometheus text exposition (format 0.0.4) of `GET /metrics` and
//! `signpostctl stats`: the query counters summed over every thread, and
//! gauges read from the status, the health table and the snapshot at
//! scrape time.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::Status;
use crate::health::Handle;
use crate::proto::{rcode, rtype, Transport};
use crate::querylog::QueryLog;
use crate::snapshot::Snapshot;
use crate::stats::{self, labels, LabelId, EVENTS, SIZE_BUCKETS};

/// What a scrape reads.
#[derive(Clone)]
pub struct Sources {
    pub status: Arc<Mutex<Status>>,
    pub health: Handle,
    pub(crate) state: Arc<ArcSwap<Snapshot>>,
    pub log: Option<Arc<QueryLog>>,
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes families: `# HELP`, `# TYPE`, then samples.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// One sample per transport of counters indexed by
    /// `stats::transport_index`.
    fn per_transport(&mut self, name: &str, values: [u64; 2]) {
        for t in TRANSPORTS {
            self.sample(
                name,
                &[("transport", t.name())],
                values[stats::transport_index(t)],
            );
        }
    }
}

const TRANSPORTS: [Transport; 2] = [Transport::Udp, Transport::Tcp];

/// The whole exposition.
pub fn render(sources: &Sources) -> String {
    let tally = stats::total();
    let names = labels::all();
    let label = |id: LabelId, part: usize| -> String {
        names
            .get(id as usize)
            .and_then(|p| p.get(part))
            .map_or(String::new(), |s| s.to_string())
    };
    let mut out = Out(String::new());

    out.family(
        "signpost_build_info",
        "gauge",
        "The version and git revision of the running server.",
    );
    out.sample(
        "signpost_build_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("revision", env!("SIGNPOST_REVISION")),
        ],
        1,
    );

    out.family(
        "signpost_queries_total",
        "counter",
        "Queries answered, by zone (\"\" outside every zone), view, type (\"other\" without a mnemonic), response code and transport.",
    );
    let mut queries: Vec<_> = tally.queries.iter().collect();
    queries.sort_by_key(|(k, _)| (k.zone, k.view, k.qtype, k.rcode, k.transport.name()));
    for (key, n) in queries {
        let qtype = if key.qtype == 0 {
            "other".to_string()
        } else {
            rtype::name(key.qtype)
        };
        let rcode = rcode::name_extended(key.rcode);
        out.sample(
            "signpost_queries_total",
            &[
                ("zone", &label(key.zone, 0)),
                ("view", &label(key.view, 0)),
                ("qtype", &qtype),
                ("rcode", &rcode),
                ("transport", key.transport.name()),
            ],
            n,
        );
    }

    out.family(
        "signpost_queries_dropped_total",
        "counter",
        "Packets that got no response (not a DNS query at all).",
    );
    out.per_transport("signpost_queries_dropped_total", tally.dropped);

    out.family(
        "signpost_response_size_bytes",
        "histogram",
        "Size of the responses sent, in bytes.",
    );
    for t in TRANSPORTS {
        let h = &tally.sizes[stats::transport_index(t)];
        let mut cumulative = 0u64;
        for (bound, n) in SIZE_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            out.sample(
                "signpost_response_size_bytes_bucket",
                &[("transport", t.name()), ("le", &bound.to_string())],
                cumulative,
            );
        }
        out.sample(
            "signpost_response_size_bytes_bucket",
            &[("transport", t.name()), ("le", "+Inf")],
            h.count,
        );
        out.sample(
            "signpost_response_size_bytes_sum",
            &[("transport", t.name())],
            h.sum,
        );
        out.sample(
            "signpost_response_size_bytes_count",
            &[("transport", t.name())],
            h.count,
        );
    }

    out.family(
        "signpost_responses_truncated_total",
        "counter",
        "Responses sent with TC set (the answer did not fit; the client retries over TCP).",
    );
    out.per_transport("signpost_responses_truncated_total", tally.truncated);

    out.family(
        "signpost_policy_answers_total",
        "counter",
        "Answers made from each routing-policy record set.",
    );
    let mut policy: Vec<_> = tally.policy_answers.iter().collect();
    policy.sort();
    for (id, n) in policy {
        out.sample(
            "signpost_policy_answers_total",
            &[
                ("zone", &label(*id, 0)),
                ("name", &label(*id, 1)),
                ("type", &label(*id, 2)),
                ("set", &label(*id, 3)),
            ],
            n,
        );
    }

    let checks: Vec<(String, bool)> = sources
        .health
        .rows()
        .into_iter()
        .map(|row| (row.name, row.up))
        .collect();
    out.family(
        "signpost_health_up",
        "gauge",
        "1 while a health check is up, 0 while it is down.",
    );
    for (name, up) in &checks {
        out.sample("signpost_health_up", &[("check", name)], u8::from(*up));
    }
    out.family(
        "signpost_health_transitions_total",
        "counter",
        "Times a health check changed state.",
    );
    let transitions = EVENTS.health_transitions();
    for (name, _) in &checks {
        let n = transitions
            .iter()
            .find(|(id, _)| label(**id, 0) == *name)
            .map_or(0, |(_, n)| *n);
        out.sample("signpost_health_transitions_total", &[("check", name)], n);
    }

    out.family("signpost_reloads_total", "counter", "Reloads, by result.");
    out.sample(
        "signpost_reloads_total",
        &[("result", "success")],
        EVENTS.reloads_ok.load(Ordering::Relaxed),
    );
    out.sample(
        "signpost_reloads_total",
        &[("result", "failure")],
        EVENTS.reloads_failed.load(Ordering::Relaxed),
    );

    let zones = sources
        .status
        .lock()
        .map(|s| s.zones.clone())
        .unwrap_or_default();
    out.family(
        "signpost_zone_loaded",
        "gauge",
        "1 while a configured zone is served, 0 while it is not (it never loaded).",
    );
    for z in &zones {
        out.sample(
            "signpost_zone_loaded",
            &[("zone", &z.name), ("file", &z.file.display().to_string())],
            u8::from(z.serial.is_some()),
        );
    }
    out.family(
        "signpost_zone_serial",
        "gauge",
        "The SOA serial of each zone served.",
    );
    for z in &zones {
        if let Some(serial) = z.serial {
            out.sample(
                "signpost_zone_serial",
                &[("zone", &z.name), ("file", &z.file.display().to_string())],
                serial,
            );
        }
    }

    signature_caches(&mut out, &sources.state.load());

    out.family(
        "signpost_tcp_connections_open",
        "gauge",
        "TCP connections open now.",
    );
    let accepted = EVENTS.tcp_accepted.load(Ordering::Relaxed);
    let closed = EVENTS.tcp_closed.load(Ordering::Relaxed);
    out.sample(
        "signpost_tcp_connections_open",
        &[],
        accepted.saturating_sub(closed),
    );
    out.family(
        "signpost_tcp_connections_total",
        "counter",
        "TCP connections accepted.",
    );
    out.sample("signpost_tcp_connections_total", &[], accepted);
    out.family(
        "signpost_tcp_connections_refused_total",
        "counter",
        "TCP connections closed at once because tcp_max_connections were open.",
    );
    out.sample(
        "signpost_tcp_connections_refused_total",
        &[],
        EVENTS.tcp_refused.load(Ordering::Relaxed),
    );

    if let Some(log) = &sources.log {
        out.family(
            "signpost_query_log_written_total",
            "counter",
            "Query log records written.",
        );
        out.sample(
            "signpost_query_log_written_total",
            &[],
            log.written.load(Ordering::Relaxed),
        );
        out.family(
            "signpost_query_log_dropped_total",
            "counter",
            "Query log records dropped because the writer was behind.",
        );
        out.sample(
            "signpost_query_log_dropped_total",
            &[],
            log.dropped.load(Ordering::Relaxed),
        );
    }
    out.0
}

/// Hits, misses, evictions and size of each signed zone's cache.
fn signature_caches(out: &mut Out, snapshot: &Snapshot) {
    let mut signed: Vec<(String, &crate::dnssec::ZoneSigner)> = Vec::new();
    for view in &snapshot.views {
        for zone in view.zones.values() {
            if let Some(signer) = &zone.signer {
                let name = zone.apex.to_string();
                if !signed
                    .iter()
                    .any(|(n, s)| *n == name && std::ptr::eq(*s, &**signer))
                {
                    signed.push((name, signer));
                }
            }
        }
    }
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let families = [
        (
            "signpost_signature_cache_hits_total",
            "counter",
            "Signatures served from the cache.",
        ),
        (
            "signpost_signature_cache_misses_total",
            "counter",
            "Signatures made (not in the cache).",
        ),
        (
            "signpost_signature_cache_evictions_total",
            "counter",
            "Signatures evicted to make room.",
        ),
        (
            "signpost_signature_cache_entries",
            "gauge",
            "Signatures in the cache.",
        ),
    ];
    for (i, (name, kind, help)) in families.into_iter().enumerate() {
        out.family(name, kind, help);
        for (zone, signer) in &signed {
            let stats = &signer.cache.stats;
            let value = match i {
                0 => stats.hits.load(Ordering::Relaxed),
                1 => stats.misses.load(Ordering::Relaxed),
                2 => stats.evictions.load(Ordering::Relaxed),
                _ => signer.cache.len() as u64,
            };
            out.sample(name, &[("zone", zone)], value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut out = Out(String::new());
        out.sample("m", &[("k", "v\"")], 3);
        out.sample("n", &[], 0);
        assert_eq!(out.0, "m{k=\"v\\\"\"} 3\nn 0\n");
    }
}
