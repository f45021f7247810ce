//! The background side: one task per external ALIAS target on a small
//! runtime of its own, asking the upstream resolvers (hickory-resolver,
//! its own cache off: we keep what we need, and must see changes) for the
//! target's A and AAAA records, and publishing the [`Cache`] queries read.
//!
//! The [`Refresher`] belongs to the reload thread, which hands it the
//! targets of each new snapshot and each new `[resolver]`. Targets carry
//! over by name, so a reload neither forgets addresses nor asks again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{Cache, Resolved, Settings, Target};
use crate::proto::{rtype, Name, Rrset};

/// First wait before asking again after upstreams failed; it doubles up
/// to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Shortest time between two fetches of a target (TTL 0 upstream).
const REFRESH_MIN: Duration = Duration::from_secs(1);
/// Negative TTL when upstream says "no such records" without an SOA.
const NEGATIVE_TTL: u32 = 60;

struct Inner {
    targets: FxHashMap<Box<[u8]>, Target>,
    max_stale: Duration,
    stale_ttl: u32,
}

struct Shared {
    inner: Mutex<Inner>,
    cell: Arc<ArcSwap<Cache>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A task that panicked mid-update leaves whole values behind.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        self.cell.store(Arc::new(Cache {
            targets: inner.targets.clone(),
            max_stale: inner.max_stale,
            stale_ttl: inner.stale_ttl,
        }));
    }

    /// Takes one fetch of a target. Returns when to fetch again: at 3/4
    /// of the shortest TTL, or `None` when upstreams failed (retry).
    fn record(&self, name: &Name, a: Fetched, aaaa: Fetched) -> Option<Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        let max_stale = inner.max_stale;
        let target = inner.targets.get_mut(name.as_wire())?;
        let mut next: Option<Duration> = None;
        let mut error = None;
        for (slot, fetched) in [(&mut target.a, a), (&mut target.aaaa, aaaa)] {
            match fetched {
                Fetched::Records(rrset) => {
                    let ttl = Duration::from_secs(u64::from(rrset.ttl));
                    let again = (ttl * 3 / 4).max(REFRESH_MIN);
                    next = Some(next.map_or(again, |n| n.min(again)));
                    *slot = Some(Resolved {
                        rrset,
                        at: now,
                        expires: now + ttl,
                    });
                }
                Fetched::Failed(why) => error = Some(why),
            }
        }
        match error {
            Some(why) => {
                match &mut target.failing {
                    Some((_, reason)) => *reason = why,
                    None => {
                        tracing::warn!(
                            target = %name,
                            "ALIAS target: upstream resolvers fail ({why}); the last addresses are served for up to {} s",
                            max_stale.as_secs()
                        );
                        target.failing = Some((SystemTime::now(), why));
                    }
                }
                next = None;
            }
            None => {
                if target.failing.take().is_some() {
                    tracing::info!(target = %name, "ALIAS target: upstream resolvers answer again");
                }
            }
        }
        self.publish(&inner);
        next
    }
}

/// One answer of upstream for one address type.
enum Fetched {
    /// The addresses (maybe none), with the TTL to keep them for.
    Records(Rrset),
    Failed(String),
}

/// Resolves the external ALIAS targets in the background, owned by the
/// reload thread.
pub struct Refresher {
    shared: Arc<Shared>,
    settings: Option<Settings>,
    /// Started with the first target.
    runtime: Option<tokio::runtime::Runtime>,
    resolver: Option<Arc<TokioResolver>>,
    /// Fetch tasks by lowercased wire name.
    tasks: HashMap<Box<[u8]>, (Name, AbortHandle)>,
}

impl Refresher {
    /// Ready to resolve through `settings` (`None`: no `[resolver]`, so no
    /// target is resolved).
    pub fn start(settings: Option<&Settings>) -> Self {
        let stale = settings.cloned().unwrap_or_default();
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    targets: FxHashMap::default(),
                    max_stale: stale.max_stale,
                    stale_ttl: stale.stale_ttl,
                }),
                cell: Arc::default(),
            }),
            settings: settings.cloned(),
            runtime: None,
            resolver: None,
            tasks: HashMap::new(),
        }
    }

    /// The cell snapshots read addresses from.
    pub(crate) fn cell(&self) -> Arc<ArcSwap<Cache>> {
        self.shared.cell.clone()
    }

    /// Takes a reloaded `[resolver]`. Other upstreams or timeouts restart
    /// every fetch (addresses already known are kept meanwhile).
    pub fn configure(&mut self, settings: Option<&Settings>) {
        if self.settings.as_ref() == settings {
            return;
        }
        {
            let stale = settings.cloned().unwrap_or_default();
            let mut inner = self.shared.lock();
            inner.max_stale = stale.max_stale;
            inner.stale_ttl = stale.stale_ttl;
            self.shared.publish(&inner);
        }
        let restart = self.settings.as_ref().map(|s| (&s.upstreams, s.timeout))
            != settings.map(|s| (&s.upstreams, s.timeout));
        self.settings = settings.cloned();
        if restart {
            self.resolver = None;
            let names: Vec<Name> = self
                .tasks
                .drain()
                .map(|(_, (name, task))| {
                    task.abort();
                    name
                })
                .collect();
            self.set_targets(names);
        }
    }

    /// Resolves exactly `names` (lowercased) from now on. New targets are
    /// waited for, a few seconds at most, so that a start or reload does
    /// not answer SERVFAIL while their first answer is on its way.
    pub fn set_targets(&mut self, names: Vec<Name>) {
        let wanted: HashMap<Box<[u8]>, Name> = names
            .into_iter()
            .map(|n| (Box::from(n.as_wire()), n))
            .collect();
        self.tasks.retain(|key, (_, task)| {
            let keep = wanted.contains_key(key);
            if !keep {
                task.abort();
            }
            keep
        });
        {
            let mut inner = self.shared.lock();
            inner.targets.retain(|key, _| wanted.contains_key(key));
            for key in wanted.keys() {
                inner.targets.entry(key.clone()).or_default();
            }
            self.shared.publish(&inner);
        }
        let Some(settings) = self.settings.clone() else {
            return;
        };
        let new: Vec<(Box<[u8]>, Name)> = wanted
            .into_iter()
            .filter(|(key, _)| !self.tasks.contains_key(key))
            .collect();
        if new.is_empty() {
            return;
        }
        let Some(resolver) = self.resolver(&settings) else {
            return;
        };
        let Some(runtime) = self.runtime.as_ref() else {
            return;
        };
        let mut first = Vec::new();
        for (key, name) in new {
            let (tx, rx) = oneshot::channel();
            let task = runtime.spawn(refresh(
                name.clone(),
                resolver.clone(),
                self.shared.clone(),
                tx,
            ));
            first.push(rx);
            self.tasks.insert(key, (name, task.abort_handle()));
        }
        // Two attempts per address type, and a second for the rest.
        let patience = settings.timeout * 2 + Duration::from_secs(1);
        runtime.block_on(async {
            let _ = tokio::time::timeout(patience, async {
                for rx in first {
                    let _ = rx.await;
                }
            })
            .await;
        });
    }

    /// The resolver for `settings`, built (with the runtime) on first use.
    fn resolver(&mut self, settings: &Settings) -> Option<Arc<TokioResolver>> {
        if self.runtime.is_none() {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("signpost-alias")
                .enable_all()
                .build()
            {
                Ok(rt) => self.runtime = Some(rt),
                Err(e) => {
                    tracing::error!("cannot start the ALIAS resolver runtime: {e}; external ALIAS targets answer SERVFAIL");
                    return None;
                }
            }
        }
        if self.resolver.is_none() {
            let _entered = self.runtime.as_ref()?.enter();
            match build_resolver(settings) {
                Ok(resolver) => self.resolver = Some(Arc::new(resolver)),
                Err(e) => {
                    tracing::error!("cannot set up the [resolver] upstreams: {e}; external ALIAS targets answer SERVFAIL");
                    return None;
                }
            }
        }
        self.resolver.clone()
    }
}

fn build_resolver(settings: &Settings) -> Result<TokioResolver, NetError> {
    let servers = settings
        .upstreams
        .iter()
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect();
    let mut options = ResolverOpts::default();
    options.timeout = settings.timeout;
    options.attempts = 2;
    // We keep addresses ourselves, and a refresh must reach upstream.
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    options.try_tcp_on_error = true;
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(servers),
        TokioRuntimeProvider::default(),
    )
    .with_options(options)
    .build()
}

/// Fetches `name` until aborted: again at 3/4 of the TTL, sooner (with
/// backoff) while upstreams fail. `first` hears of the first fetch.
async fn refresh(
    name: Name,
    resolver: Arc<TokioResolver>,
    shared: Arc<Shared>,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut retry = RETRY_FIRST;
    let text = name.to_string();
    loop {
        resolver.clear_cache();
        let (a, aaaa) = tokio::join!(
            fetch(&resolver, &text, RecordType::A),
            fetch(&resolver, &text, RecordType::AAAA)
        );
        let next = shared.record(&name, a, aaaa);
        if let Some(tx) = first.take() {
            let _ = tx.send(());
        }
        let wait = match next {
            Some(wait) => {
                retry = RETRY_FIRST;
                wait
            }
            None => {
                let wait = retry;
                retry = (retry * 2).min(RETRY_MAX);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// One upstream answer for the A or AAAA records of `name`. The TTL is the
/// smallest along the answer (a CNAME chain expires with its shortest link).
async fn fetch(resolver: &TokioResolver, name: &str, record_type: RecordType) -> Fetched {
    let wanted = if record_type == RecordType::A {
        rtype::A
    } else {
        rtype::AAAA
    };
    match resolver.lookup(name, record_type).await {
        Ok(lookup) => {
            let answers = lookup.answers();
            let ttl = answers.iter().map(|r| r.ttl).min().unwrap_or(NEGATIVE_TTL);
            let mut rrset = Rrset::empty(wanted, ttl);
            for record in answers {
                match &record.data {
                    RData::A(a) if wanted == rtype::A => rrset.push(&a.0.octets()),
                    RData::AAAA(a) if wanted == rtype::AAAA => rrset.push(&a.0.octets()),
                    _ => false,
                };
            }
            Fetched::Records(rrset)
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(none))) => Fetched::Records(Rrset::empty(
            wanted,
            none.negative_ttl.unwrap_or(NEGATIVE_TTL),
        )),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}
