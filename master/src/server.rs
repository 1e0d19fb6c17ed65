//! Starting a whole master: store, keys, cluster state, protocol endpoint, accounts and the
//! services the console calls, wired together. Used by `commander master`, `commander up`
//! (which serve the console over [`RunningMaster::services`]), tests and the benchmark.

use crate::accounts::{AccountService, AuditLimits, AuthStore};
use crate::alerts::channels::ChannelService;
use crate::alerts::service::{AlertHub, AlertingService};
use crate::cluster::{Cluster, ClusterTiming};
use crate::console::{ConsoleError, ConsoleOptions};
use crate::endpoint::{self, ConnLimits, EndpointConfig, EndpointHandle, RuntimeKind};
use crate::projects::events::ProjectEvents;
use crate::projects::gateways::GatewayService;
use crate::projects::reconcile::{ObservedViews, Reconciler};
use crate::projects::service::ProjectService;
use crate::projects::service_traits::ProjectsApi;
use crate::store::compaction::{self, CompactionRecord, LockMode, StoreLock};
use crate::store::{ChannelStore, LmdbStore, ProjectStore, Store, StoreError, StoreOptions};
use crate::tokens::issue_join_token;
use protocol::{JoinToken, StaticKeys};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// File in the data directory holding the master's static key pair.
pub const KEY_FILE: &str = "master.key";
/// File in the data directory holding the address slaves dial (read by `commander token`).
pub const ADVERTISE_FILE: &str = "master.addr";
/// How often TTLs and request deadlines are checked.
pub const TICK: Duration = Duration::from_millis(250);

/// Everything a master needs to start.
#[derive(Debug, Clone)]
pub struct MasterSettings {
    /// Root of the master's files.
    pub data_dir: PathBuf,
    /// LMDB environment for records.
    pub data_db: PathBuf,
    /// LMDB environment for metric samples.
    pub performance_db: PathBuf,
    /// Protocol endpoint address.
    pub tcp_addr: SocketAddr,
    /// What slaves dial; `None` derives it from the bound protocol address.
    pub advertise_addr: Option<String>,
    /// Protocol executors.
    pub cores: usize,
    /// io_uring choice (`None` auto).
    pub io_uring: Option<bool>,
    /// Heartbeat timing.
    pub timing: ClusterTiming,
    /// Console accounts: session secret and lifetime, lockout.
    pub console: ConsoleOptions,
    /// Limits of the slave port (handshake timeout, caps, descriptor reserve).
    pub protocol: crate::config::ProtocolConfig,
    /// Bounds of the audit log (`audit`).
    pub audit: AuditLimits,
    /// How projects are reconciled (`projects`).
    pub projects: crate::config::ProjectsConfig,
}

/// The master could not start.
#[derive(Debug, Error)]
pub enum MasterError {
    /// Store failure.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The master's key file could not be read, created or parsed.
    #[error("master key: {0}")]
    Key(#[from] MasterKeyError),
    /// A start-up step on a blocking thread panicked or was cancelled.
    #[error("start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Endpoint failure.
    #[error(transparent)]
    Endpoint(#[from] endpoint::EndpointError),
    /// The console's secret could not be loaded.
    #[error("console: {0}")]
    Console(#[from] ConsoleError),
    /// The store is locked by a compaction.
    #[error(transparent)]
    Lock(#[from] crate::store::compaction::LockError),
    /// Other file-system failure.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The master's key file could not be read, created or parsed.
#[derive(Debug, Error)]
pub enum MasterKeyError {
    /// Reading or creating the file failed (the error names the file).
    #[error(transparent)]
    File(#[from] plumbing::key_file::KeyFileError),
    /// The file is not text.
    #[error("{path}: not UTF-8: {source}")]
    NotText {
        /// The key file.
        path: PathBuf,
        /// The decoding failure.
        source: std::string::FromUtf8Error,
    },
    /// The file's text is not a key pair.
    #[error("{path}: {source}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        source: protocol::KeyError,
    },
}

/// A running master.
pub struct RunningMaster {
    /// Console accounts, sessions and audit log.
    pub auth_store: Arc<dyn AuthStore>,
    /// What the console and the command line call.
    pub services: model::Services,
    /// The projects service (the reconciler steps its projects).
    pub projects: Arc<ProjectService>,
    /// The notification channels: give the alert evaluator `notifier.clone()` as its
    /// `Arc<dyn Notifier>` (the console reaches the same service as `services.channels`).
    pub notifier: Arc<ChannelService>,
    /// Where the protocol endpoint listens.
    pub tcp_addr: SocketAddr,
    /// What slaves dial (printed in join tokens).
    pub advertise_addr: String,
    /// Runtime of the protocol endpoint.
    pub runtime: RuntimeKind,
    /// Cluster state.
    pub cluster: Cluster,
    /// The master's static keys.
    pub keys: Arc<StaticKeys>,
    /// The compaction that ran before the store opened, if one was requested.
    pub start_compaction: Option<CompactionRecord>,
    endpoint: EndpointHandle,
    /// Held shared while the master runs (see `store::compaction`).
    _store_lock: StoreLock,
}

impl std::fmt::Debug for RunningMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningMaster")
            .field("tcp_addr", &self.tcp_addr)
            .finish_non_exhaustive()
    }
}

/// Loads (or creates: mode 0600, atomically, never through a link) the master's key pair
/// in `data_dir`.
pub fn master_keys(data_dir: &Path) -> Result<StaticKeys, MasterError> {
    let path = data_dir.join(KEY_FILE);
    let (text, _) = plumbing::key_file::read_or_create(&path, || {
        StaticKeys::generate()
            .map(|keys| keys.to_text().into_bytes())
            .map_err(|e| plumbing::key_file::KeyFileError::Random(e.to_string()))
    })
    .map_err(MasterKeyError::File)?;
    let text = String::from_utf8(text).map_err(|source| MasterKeyError::NotText {
        path: path.clone(),
        source,
    })?;
    let keys = StaticKeys::from_text(&text)
        .map_err(|source| MasterKeyError::Malformed { path, source })?;
    Ok(keys)
}

/// The address to put in tokens when none is configured: the bound address, with an
/// unspecified IP replaced by loopback.
fn derive_advertise(bound: SocketAddr) -> String {
    let ip = if bound.ip().is_unspecified() {
        match bound {
            SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        bound.ip()
    };
    SocketAddr::new(ip, bound.port()).to_string()
}

/// Raises the soft descriptor limit towards the hard one before anything opens files, so
/// that the endpoint's reserve (`protocol.descriptorReserve`) sits below a useful limit.
fn raise_descriptor_limit() {
    match endpoint::nofile::raise_soft_limit() {
        Ok(l) if l.after > l.before => {
            tracing::info!(
                before = l.before,
                after = l.after,
                "raised the soft descriptor limit"
            );
        }
        Ok(l) => tracing::debug!(soft = l.after, hard = l.hard, "descriptor limit"),
        Err(e) => tracing::warn!("cannot raise the soft descriptor limit: {e}"),
    }
}

/// Takes the store lock, runs a requested compaction, and opens the store.
fn open_store_locked(
    data_db: &Path,
    perf_db: &Path,
    now_ms: u64,
    audit: AuditLimits,
) -> Result<(Arc<LmdbStore>, StoreLock, Option<CompactionRecord>), MasterError> {
    let mut lock = StoreLock::acquire(data_db, LockMode::Shared)?;
    let ran = compaction::run_requested(&mut lock, data_db, perf_db, now_ms)?;
    if let Some(r) = &ran {
        match &r.error {
            None => tracing::info!(envs = ?r.envs, "compacted the store before opening it"),
            Some(e) => tracing::error!("requested compaction failed, files unchanged: {e}"),
        }
    }
    let options = StoreOptions {
        audit,
        ..StoreOptions::default()
    };
    let store = LmdbStore::open_with(data_db, perf_db, &options)?;
    Ok((Arc::new(store), lock, ran))
}

/// How often the alert evaluator ticks (staleness, silence expiry).
pub const ALERT_TICK: Duration = Duration::from_secs(1);

/// Starts every part of the master; alert notifications go to the notification channels.
/// Must be called inside a tokio runtime.
pub async fn start_master(s: MasterSettings) -> Result<RunningMaster, MasterError> {
    raise_descriptor_limit();
    std::fs::create_dir_all(&s.data_dir).map_err(|e| MasterError::Io(s.data_dir.clone(), e))?;
    let keys = Arc::new(master_keys(&s.data_dir)?);
    let clock: Arc<dyn model::Clock> = Arc::new(model::SystemClock);
    let (data_db, perf_db) = (s.data_db.clone(), s.performance_db.clone());
    let now = clock.now_ms();
    let audit = s.audit;
    let (lmdb, store_lock, start_compaction) =
        tokio::task::spawn_blocking(move || open_store_locked(&data_db, &perf_db, now, audit))
            .await??;
    let auth_store: Arc<dyn AuthStore> = lmdb.clone();
    let account_settings = crate::console::account_settings(&s.data_dir, &s.console)?;
    let accounts = Arc::new(AccountService::new(
        Arc::clone(&auth_store),
        account_settings,
        Arc::clone(&clock),
    ));
    let project_store: Arc<dyn ProjectStore> = lmdb.clone();
    let channel_store: Arc<dyn ChannelStore> = lmdb.clone();
    let store: Arc<dyn Store> = lmdb;
    let cluster = Cluster::open(store, s.timing, Arc::clone(&clock))?;
    let (events_tx, events_rx) = async_channel::bounded(endpoint::EVENT_QUEUE);
    let ep_config = EndpointConfig {
        bind: s.tcp_addr,
        cores: s.cores.max(1),
        io_uring: s.io_uring,
        limits: ConnLimits {
            handshake_timeout: s.protocol.handshake_timeout,
            idle_timeout: (s.timing.ttl + s.timing.grace).max(Duration::from_secs(5)) * 2,
            max_unauthenticated: s.protocol.max_unauthenticated,
            max_unauthenticated_per_address: s.protocol.max_unauthenticated_per_address,
            descriptor_reserve: s.protocol.descriptor_reserve,
        },
    };
    let keys_for_ep = Arc::clone(&keys);
    let endpoint =
        tokio::task::spawn_blocking(move || endpoint::start(&ep_config, keys_for_ep, events_tx))
            .await??;
    cluster.attach_endpoint(Arc::clone(&endpoint.counters));
    tokio::spawn(cluster.clone().run(events_rx, TICK));
    let advertise_addr = s
        .advertise_addr
        .clone()
        .unwrap_or_else(|| derive_advertise(endpoint.local_addr));
    let addr_file = s.data_dir.join(ADVERTISE_FILE);
    std::fs::write(&addr_file, format!("{advertise_addr}\n"))
        .map_err(|e| MasterError::Io(addr_file, e))?;
    let audit: Arc<dyn model::service::AuditLog> = accounts.clone();
    let views = Arc::new(ObservedViews::default());
    let projects = Arc::new(ProjectService::new(
        project_store,
        Arc::clone(&audit),
        Arc::clone(&clock),
        Arc::new(cluster.clone()),
        views.clone(),
        Arc::new(ProjectEvents::new()),
    ));
    let reconciler = Arc::new(Reconciler::new(
        Arc::clone(&projects),
        cluster.clone(),
        Arc::clone(&clock),
        s.projects,
        views,
    ));
    tokio::spawn(reconciler.run());
    // The notification channels: what the alert evaluator notifies.
    let notifier = ChannelService::start(channel_store, Arc::clone(&audit), Arc::clone(&clock));
    let gateways = Arc::new(GatewayService::new(
        Arc::clone(&projects),
        Arc::clone(&audit),
    ));
    let projects_api: Arc<dyn model::service::Projects> =
        Arc::new(ProjectsApi::new(Arc::clone(&projects), gateways));
    // A node silent for its TTL plus grace is offline; its samples are stale by then.
    let stale_ms = u64::try_from((s.timing.ttl + s.timing.grace).as_millis()).unwrap_or(u64::MAX);
    let hub = AlertHub::new(&cluster, notifier.clone(), stale_ms);
    let alerting = {
        let (store, audit, clock) = (
            Arc::clone(cluster.store()),
            Arc::clone(&audit),
            Arc::clone(&clock),
        );
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || AlertingService::open(store, audit, clock, hub))
            .await??
    };
    let _ = crate::alerts::evaluator::spawn(hub, Some(Arc::clone(&projects_api)), ALERT_TICK);
    let services = crate::services::services(
        &cluster,
        accounts,
        Arc::clone(&auth_store),
        projects_api,
        notifier.clone(),
        Arc::new(alerting),
        clock,
    );
    Ok(RunningMaster {
        auth_store,
        services,
        projects,
        notifier,
        tcp_addr: endpoint.local_addr,
        advertise_addr,
        runtime: endpoint.runtime,
        cluster,
        keys,
        start_compaction,
        endpoint,
        _store_lock: store_lock,
    })
}

impl RunningMaster {
    /// The protocol endpoint (its counters, caps and descriptor budget).
    pub fn endpoint(&self) -> &EndpointHandle {
        &self.endpoint
    }

    /// Issues a one-time join token pointing at this master.
    pub fn issue_token(&self, valid_for: Duration, note: &str) -> Result<JoinToken, StoreError> {
        issue_join_token(
            self.cluster.store().as_ref(),
            &self.advertise_addr,
            self.keys.fingerprint(),
            valid_for,
            self.cluster.now_ms(),
            note,
        )
    }

    /// Whether the console still waits for its first user (registration open).
    pub async fn registration_open(&self) -> bool {
        let store = Arc::clone(&self.auth_store);
        tokio::task::spawn_blocking(move || store.registration_closed())
            .await
            .ok()
            .and_then(Result::ok)
            .is_some_and(|closed| !closed)
    }

    /// Ends live streams (metric samples, alerts, tasks, project timelines), so that a
    /// console's graceful shutdown need not wait for browsers to hang up. Call before
    /// stopping the console.
    pub fn close_live(&self) {
        self.cluster.close_live();
        self.projects.events().close();
    }

    /// Stops the endpoint and flushes pending samples and alerts (stop the console first).
    pub async fn shutdown(self) {
        self.close_live();
        let endpoint = self.endpoint;
        let _ = tokio::task::spawn_blocking(move || endpoint.shutdown()).await;
        let cluster = self.cluster;
        let _ = tokio::task::spawn_blocking(move || {
            cluster.alert_writer().flush();
            cluster.writer().flush()
        })
        .await;
    }
}
