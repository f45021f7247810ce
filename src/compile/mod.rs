//! The compile stage: the one place where zones, signers, views, the GeoIP
//! reader, the health table and snapshots are assembled. The reload thread
//! (`control::reload`), `signpostctl explain --offline`, `checkconf` and
//! `checkzone` all call it, so what the checks accept is what the daemon
//! serves.
//!
//! ```text
//! config::Config ─┬─► policy()   GeoIP database ─► PolicyConfig, initial HealthTable
//!                 ├─► zone()     zone file ─► read (zonefile, pipelined) ─► build
//!                 │              (semantic checks, policy sets) ─► sign (the key)
//!                 ├─► views()    compiled zones into the [[view]]s
//!                 ├─► external_alias_targets()  what the upstreams are asked
//!                 └─► snapshot() views + policy + health and alias cells + TSIG keys
//! everything() = all of the above from the files at once (checkconf, explain)
//! plugins()    = each [plugin.ID] loaded once in a child, as the daemon does
//! ```

pub(crate) mod build;
mod memory;
mod read;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, ZoneConfig};
use crate::dnssec::{self, keys, ZoneSigner};
use crate::geo::{GeoDb, GeoError};
use crate::health::{self, HealthTable};
use crate::policy::PolicyConfig;
use crate::proto::{Diagnostic, Name, Position};
use crate::snapshot::{Snapshot, View, ViewMatch};
use crate::upstream;
use crate::zone::Zone;

pub use build::Built;

/// A compiled zone, or every error that kept it from compiling.
pub type ZoneResult = Result<Built, Vec<Diagnostic>>;

/// The GeoIP database could not be opened: where the config names it, and
/// why.
#[derive(Debug, thiserror::Error)]
#[error("{position}: {source}")]
pub struct PolicyError {
    pub position: Position,
    pub(crate) source: GeoError,
}

impl PolicyError {
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::new(self.position.clone(), self.source.to_string())
    }
}

/// What queries read of the policy settings (health check names, regions,
/// CIDR collections, latency table, the opened GeoIP database), and the
/// health states before any probe has run.
pub(crate) fn policy(
    settings: &crate::config::policy::PolicySettings,
) -> Result<(PolicyConfig, HealthTable), PolicyError> {
    let geo = match &settings.geo_database {
        Some(db) => Some(GeoDb::open(&db.path).map_err(|source| PolicyError {
            position: db.position.clone(),
            source,
        })?),
        None => None,
    };
    let names = settings.health.iter().map(|c| c.name.clone()).collect();
    Ok((
        PolicyConfig::new(
            names,
            settings.regions.clone(),
            settings.collections.clone(),
            settings.latency.clone(),
            geo,
        ),
        health::initial_table(&settings.health),
    ))
}

/// One configured zone of `config`: its file read and compiled against
/// `policy`, its ALIAS targets checked, and its signer attached when it has
/// `dnssec = true`.
pub(crate) fn zone(config: &Config, zone: &ZoneConfig, policy: &Arc<PolicyConfig>) -> ZoneResult {
    let built = read::zone_file(&zone.name, &zone.file, policy)?;
    check_alias_targets(config, &built)?;
    match &zone.dnssec {
        Some(settings) => sign(built, settings),
        None => Ok(built),
    }
}

/// An ALIAS target in no configured zone can only be answered through
/// `[resolver]`: without one, the record is an error rather than an
/// answer that is silently empty.
fn check_alias_targets(config: &Config, built: &Built) -> Result<(), Vec<Diagnostic>> {
    if config.resolver.is_some() {
        return Ok(());
    }
    let errors: Vec<Diagnostic> = built
        .foreign_aliases
        .iter()
        .filter(|(target, _)| !config.zones.iter().any(|z| target.is_subdomain_of(&z.name)))
        .map(|(target, position)| {
            Diagnostic::new(
                position.clone(),
                format!(
                    "ALIAS target \"{target}\" is in no zone this server serves, and no [resolver] is configured to look it up: add [resolver] upstreams = [\"127.0.0.53\"] (your recursive resolver) to the config (see signpost.toml(5), RESOLVER)"
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The ALIAS targets some view holds in none of its zones: what the
/// upstream resolvers are asked for, each name once, in wire order.
pub(crate) fn external_alias_targets(views: &[View]) -> Vec<Name> {
    let mut targets: Vec<Name> = views
        .iter()
        .flat_map(|view| {
            view.zones.values().flat_map(move |zone| {
                zone.alias_targets
                    .iter()
                    .filter(move |t| view.find_zone(t.as_wire()).is_none())
                    .cloned()
            })
        })
        .collect();
    targets.sort_by(|a, b| a.as_wire().cmp(b.as_wire()));
    targets.dedup();
    targets
}

/// A zone file as `signpostctl checkzone` checks it: against the health
/// checks, regions, CIDR collections, GeoIP database and `[resolver]` of
/// `config`, as the daemon would; or without one against the predefined
/// regions only (so annotations that name a health check or a collection
/// fail, and an ALIAS target outside the zone is a warning: a config must
/// serve it or have a `[resolver]`).
pub fn zone_file(origin: &Name, file: &Path, config: Option<&Config>) -> ZoneResult {
    let defaults = crate::config::policy::PolicySettings::default();
    let settings = config.map_or(&defaults, |c| &c.policy);
    let (policy, _) = policy(settings).map_err(|e| vec![e.diagnostic()])?;
    let mut built = read::zone_file(origin, file, &Arc::new(policy))?;
    match config {
        Some(config) => check_alias_targets(config, &built)?,
        None => {
            let outside: Vec<Diagnostic> = built
                .foreign_aliases
                .iter()
                .map(|(target, position)| {
                    Diagnostic::new(
                        position.clone(),
                        format!(
                            "ALIAS target \"{target}\" is outside this zone: it answers only where the config serves its zone or has a [resolver] (see signpost.toml(5), RESOLVER)"
                        ),
                    )
                })
                .collect();
            built.warnings.extend(outside);
            crate::proto::diag::sort(&mut built.warnings);
        }
    }
    Ok(built)
}

/// Gives a freshly built zone its signer. A missing or unreadable key
/// fails this zone, reported at the `dnssec = true` line of the config.
fn sign(mut built: Built, settings: &dnssec::Settings) -> ZoneResult {
    let apex = &built.zone.apex;
    match keys::load(apex, &settings.key_directory) {
        Ok(key) => {
            let signer = ZoneSigner::new(apex, key, settings.timing);
            built.zone.signer = Some(Arc::new(signer));
            Ok(built)
        }
        Err(e) => Err(vec![Diagnostic::new(
            settings.position.clone(),
            format!("zone {apex}: cannot sign: {e}"),
        )]),
    }
}

/// The views a snapshot serves, in match order, each with the zones it
/// lists (`zone_of` gives a configured zone's compiled data, if any).
/// Without any `[[view]]`, one view serves every zone to everyone.
pub(crate) fn views(
    config: &Config,
    zone_of: impl Fn(&ZoneConfig) -> Option<Arc<Zone>>,
) -> Vec<View> {
    if config.views.is_empty() {
        return vec![View::new(
            "default",
            ViewMatch::default(),
            config.zones.iter().filter_map(&zone_of),
        )];
    }
    config
        .views
        .iter()
        .map(|v| {
            let zones = config
                .zones
                .iter()
                .filter(|zc| zc.views.is_empty() || zc.views.contains(&v.name))
                .filter_map(&zone_of);
            View::new(v.name.clone(), v.matcher.clone(), zones)
        })
        .collect()
}

/// Everything a query reads: the views, the policy config, the health
/// cell (published apart, shared by successive snapshots) and the TSIG
/// keys.
pub(crate) fn snapshot(
    config: &Config,
    views: Vec<View>,
    policy: Arc<PolicyConfig>,
    health: Arc<ArcSwap<HealthTable>>,
    aliases: Arc<ArcSwap<upstream::Cache>>,
) -> Snapshot {
    Snapshot {
        views,
        edns_udp_size: config.edns_udp_size,
        rrset_order: config.rrset_order,
        policy,
        health,
        aliases,
        keys: config.keys.clone(),
    }
}

/// A whole config compiled from its files at once.
pub struct Compiled {
    pub(crate) snapshot: Snapshot,
    /// Warnings of every zone (loaded anyway), in config order.
    pub warnings: Vec<Diagnostic>,
    /// Distinct zone files compiled.
    pub zones: usize,
    pub records: usize,
}

/// Compiles every zone of `config` (each file once, even when several
/// views serve it) with the initial health states, exactly as the daemon
/// does at start-up. Any error of the GeoIP database or of any zone fails
/// the whole: every error is returned, in config order.
pub fn everything(config: &Config) -> Result<Compiled, Vec<Diagnostic>> {
    let (policy, health) = policy(&config.policy).map_err(|e| vec![e.diagnostic()])?;
    let policy = Arc::new(policy);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut compiled: Vec<(&ZoneConfig, Arc<Zone>)> = Vec::new();
    let mut records = 0;
    for zc in &config.zones {
        if compiled.iter().any(|(done, _)| done.same_data(zc)) {
            continue;
        }
        match zone(config, zc, &policy) {
            Ok(built) => {
                warnings.extend(built.warnings);
                records += built.zone.record_count;
                compiled.push((zc, Arc::new(built.zone)));
            }
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let views = views(config, |zc| {
        compiled
            .iter()
            .find(|(done, _)| done.same_data(zc))
            .map(|(_, zone)| zone.clone())
    });
    let health = Arc::new(ArcSwap::from_pointee(health));
    // Nothing is resolved offline: external ALIAS targets stay unresolved.
    let aliases = Arc::default();
    Ok(Compiled {
        snapshot: snapshot(config, views, policy, health, aliases),
        warnings,
        zones: compiled.len(),
        records,
    })
}

/// Loads every `[plugin.ID]` once, each in a child process as the daemon
/// does, and reports those that would not load at their table.
pub fn plugins(config: &Config) -> Vec<Diagnostic> {
    config
        .policy
        .plugins
        .iter()
        .filter_map(|def| {
            let failed = health::try_load(def).err()?;
            Some(Diagnostic::new(
                def.defined_at.clone(),
                format!("plugin {}: {failed}", def.id),
            ))
        })
        .collect()
}
