//! One JSON object per query, for log shippers:
//!
//! ```json
//! {"time":"2026-12-03T15:45:11.123Z","client":"192.0.2.1","port":40000,
//!  "transport":"udp","id":4660,"qname":"www.example.com.","qtype":"A",
//!  "rcode":"NOERROR","view":"default","zone":"example.com.",
//!  "policy":[{"name":"www.example.com.","type":"A","set":"eu"}],
//!  "ecs":"198.51.100.0/24","size":60,"tc":false}
//! ```
//!
//! `view` and `zone` are null when no view or zone answered, `ecs` when the
//! query had no Client Subnet option, `size` 0 when no response was sent.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{address, Entry};
use crate::proto::time::utc;
use crate::proto::{header, rcode, read_name, rtype, Name};
use crate::stats::labels::{self, LabelId};

/// The record of `entry`, without the newline.
pub(super) fn line(entry: &Entry) -> String {
    let (client, port) = address(entry.client.addr);
    let outcome = entry.outcome.unwrap_or_default();
    let label = |id: LabelId| -> Value {
        match labels::get(id) {
            Some(parts) if !parts.is_empty() => Value::from(parts.join("/")),
            _ => Value::Null,
        }
    };
    let policy: Vec<Value> = outcome
        .policy
        .as_slice()
        .iter()
        .filter_map(|id| labels::get(*id))
        .filter_map(|parts| match &*parts {
            [_zone, name, rtype, set] => Some(json!({"name": name, "type": rtype, "set": set})),
            _ => None,
        })
        .collect();
    let qname = read_name(&entry.query, 12)
        .and_then(|(name, _)| Name::from_wire(name.as_wire()))
        .map(|n| n.to_string());
    let record = json!({
        "time": millis(entry.received),
        "client": client.to_string(),
        "port": port,
        "transport": entry.client.transport.name(),
        "id": entry.query.get(..2).and_then(|id| <[u8; 2]>::try_from(id).ok()).map(u16::from_be_bytes),
        "qname": qname,
        "qtype": entry.outcome.map(|o| rtype::name(o.qtype)),
        "rcode": entry.outcome.map(|o| rcode::name_extended(o.rcode)),
        "view": label(outcome.view),
        "zone": label(outcome.zone),
        "policy": policy,
        "ecs": outcome.ecs.map(|(addr, prefix)| format!("{addr}/{prefix}")),
        "size": entry.response.len(),
        "tc": header::is_truncated(&entry.response),
    });
    record.to_string()
}

/// RFC 3339 UTC with milliseconds.
fn millis(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_millis());
    let whole = utc(t);
    match whole.strip_suffix('Z') {
        Some(seconds) => format!("{seconds}.{ms:03}Z"),
        None => whole,
    }
}
