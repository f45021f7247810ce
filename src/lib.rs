//! Signpost: an authoritative DNS server with traffic-management routing
//! policies.
//!
//! How data flows:
//!
//! ```text
//! conf/signpost.toml ─► config (serde, deny_unknown_fields; validated into
//!                       each subsystem's own settings: dnssec::Settings,
//!                       health::CheckDef, tsig::Key, policy::Region, …)
//! zones/*.zone ─► zonefile (nom; every error file:line:col)
//!      │
//!      ▼  compile: the one assembly point, used by the reload thread,
//!         explain --offline, checkconf and checkzone alike
//!         build (semantic checks, policy sets) ─► sign (the zone's key)
//!         ─► views ─► Snapshot { views, zones: Arc<Zone>…, policy, keys } ── ArcSwap ──┐
//! health checkers / plugin host ─► HealthTable (published apart) ──────── ArcSwap ──┤
//! upstream resolvers (external ALIAS targets) ─► upstream::Cache (apart) ─ ArcSwap ──┤
//!                                                                                    ▼
//! net (N × UDP SO_REUSEPORT, TCP) ─► query::respond(&Snapshot, packet, client) -> bytes
//!     request::parse ─► TSIG verify (tsig) ─► view (by source, destination, key)
//!     ─► client location (ECS or source) ─► lookup (RFC 1034 §4.3.2, wildcard,
//!        CNAME/DNAME/ALIAS; policy::select with health and a random source)
//!     ─► query::dnssec (DNSSEC records asked for; DO=1: RRSIGs and NSEC proofs)
//!     ─► wire (EDNS, TC, compression) ─► TSIG sign
//! control: notify / SIGHUP / signpostctl ─► reload thread ─► compile ─► swap, or keep old and report
//! ```
//!
//! Layers, bottom to top. A module imports only from its own layer or
//! those below it, and the import graph between top-level modules has no
//! cycle; the query path never imports what builds or operates it. A type
//! a module needs from a layer above lives in the wrong place: move it
//! down. `tests/layering.rs` reads this diagram and checks every `crate::`
//! path in `src/` against it (test modules may build fixtures with any
//! layer).
//!
//! ```text
//! layer 6: net explain control daemon                               serving and operating
//! layer 5: compile                                                  the one assembly point
//! layer 4: config                                                   TOML → the subsystems' settings
//! layer 3: query                                                    answering one query
//! layer 2: zone snapshot                                            compiled data
//! layer 1: zonefile geo tsig dnssec health upstream policy stats querylog    each owns its config types
//! layer 0: proto                                                    protocol types; imports nothing
//! query path: proto geo tsig dnssec health upstream policy stats querylog zone snapshot query net
//! never on the query path: zonefile config compile explain control daemon
//! ```
//!
//! The query path must not panic on any input: its modules deny `unwrap`,
//! `expect`, indexing and `panic!` outside tests (declared once, below).

/// The version `--version` shows: the crate's, and the git revision it was
/// built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("SIGNPOST_REVISION"),
    ")"
);

/// Declares modules on the query path with the no-panic lints.
macro_rules! query_path {
    ($($(#[$meta:meta])* $vis:vis mod $name:ident;)*) => {
        $(
            $(#[$meta])*
            #[cfg_attr(
                not(test),
                deny(
                    clippy::unwrap_used,
                    clippy::expect_used,
                    clippy::indexing_slicing,
                    clippy::panic
                )
            )]
            $vis mod $name;
        )*
    };
}

// Modules nothing outside the crate uses are pub(crate), so the compiler
// reports what falls out of use.
query_path! {
    pub mod proto;
    pub(crate) mod geo;
    pub(crate) mod tsig;
    pub mod dnssec;
    pub mod health;
    pub mod upstream;
    pub(crate) mod policy;
    pub mod stats;
    pub mod querylog;
    pub(crate) mod zone;
    pub(crate) mod snapshot;
    pub(crate) mod query;
    pub(crate) mod net;
}

pub mod compile;
pub mod config;
pub mod control;
pub mod daemon;
pub mod explain;
pub mod zonefile;
