//! Signpost: an authoritative DNS server with traffic-management routing
//! policies.
//!
//! ```text
//! conf/signpost.toml ─► config::Config (serde, deny_unknown_fields, validated)
//! zones/*.zone ─► zonefile (nom; every error file:line:col)
//!              ─► zone::build (semantic checks, lookup tree, wire-form RRsets)
//!              ─► Snapshot { zones: Arc<Zone>… } ── ArcSwap ──┐
//!                                                              ▼
//! net (N × UDP SO_REUSEPORT, TCP) ─► query::answer(&Snapshot, request bytes) -> response bytes
//!     parse → zone (closest enclosing) → lookup (RFC 1034 §4.3.2, wildcard, CNAME/DNAME)
//!     → wire (EDNS, TC, compression)
//! ```

pub mod compile;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dnssec;
pub mod explain;
pub mod geo;
pub mod health;
pub mod net;
pub mod policy;
pub mod proto;
pub mod query;
pub mod snapshot;
pub mod tsig;
pub mod zone;
pub mod zonefile;
