//! Persistent storage of the master.
//!
//! Everything goes through the [`Store`] trait, implemented by [`LmdbStore`] (two heed/LMDB
//! environments, `data` and `performance`) and by [`MemoryStore`] (an in-memory twin with the
//! same semantics, for tests). The key layout of every database is documented in one place,
//! [`schema`]. Metric samples are written through [`StoreWriter`], a dedicated thread that
//! batches them into group commits so that no LMDB write ever runs on an async executor.
//! Samples are kept in tiers (raw, 1-minute and 1-hour roll-ups, see [`history`] and
//! [`rollup`]), rolled up and pruned by a periodic pass off the heartbeat path.
//!
//! [`LmdbStore`] also implements `crate::accounts::AuthStore` (console accounts, sessions, audit log;
//! see `console.rs`), in the same `data` environment.
//!
//! All methods are synchronous and may block on disk I/O: call them from a blocking context
//! (a dedicated thread or `spawn_blocking`), never from inside an io_uring executor.
//! Every write has been committed (and synced) when the method returns `Ok`.

use model::cluster::{EnrollRefusal, JoinTokenRecord, NodeRecord};
pub use model::history::Tier;
use std::path::{Path, PathBuf};

mod alert_rules;
mod alerts;
mod api_tokens;
pub mod channels;
pub mod compaction;
mod console;
pub mod gateways;
pub mod history;
mod lmdb;
mod memory;
pub mod projects;
pub mod rollup;
pub mod schema;
mod tasks;
mod writer;

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod tests;

pub use channels::ChannelStore;
pub use gateways::GatewayStore;
pub use lmdb::{DATA_MAP_SIZE, LmdbStore, StoreOptions};
pub use memory::MemoryStore;
pub use projects::ProjectStore;
pub use schema::EnvKind;
pub use writer::{MAX_BATCH_ROWS, StoreWriter, WriterClosed};

/// Errors of the store. Refusals of an enrolment are not errors (see [`EnrollRefusal`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB (heed) reported an error.
    #[error("LMDB error: {0}")]
    Lmdb(#[from] heed::Error),
    /// A file-system (or other OS) operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value (or key) could not be decoded.
    #[error("corrupt record at {key}: {reason}")]
    Corrupt {
        /// Database and key of the record, e.g. `nodes/42`.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The environment was written by a newer build of Commander.
    #[error(
        "the store at {env} has schema version {found}, newer than the {supported} this build \
         supports; run a newer Commander"
    )]
    SchemaTooNew {
        /// Which environment (`data` or `performance`).
        env: &'static str,
        /// Version found on disk.
        found: u32,
        /// Newest version this build understands.
        supported: u32,
    },
    /// No upgrade step exists from a stored (older) schema version.
    #[error("no upgrade path for the {env} environment from schema version {from}")]
    NoUpgradePath {
        /// Which environment (`data` or `performance`).
        env: &'static str,
        /// The version without an upgrade step.
        from: u32,
    },
    /// `put_node` would give a public key to a second node.
    #[error("public key already belongs to node {owner}")]
    KeyInUse {
        /// The node that owns the key.
        owner: u64,
    },
}

/// One metric sample of one node. The bytes are opaque to the store (an encoded sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    /// The node the sample belongs to.
    pub node_id: u64,
    /// When the sample was taken, Unix milliseconds. One sample per node and millisecond:
    /// a second row with the same `(node_id, taken_at_ms)` replaces the first.
    pub taken_at_ms: u64,
    /// The encoded sample.
    pub bytes: Vec<u8>,
}

/// Rows of one tier of the metric series and the bytes they take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesUsage {
    /// Rows stored.
    pub rows: u64,
    /// Bytes they take.
    pub bytes: u64,
}

/// On-disk size of the two environments, bytes (0 for the memory store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSizes {
    /// Size of the `data` environment's data file.
    pub data_bytes: u64,
    /// Size of the `performance` environment's data file.
    pub performance_bytes: u64,
}

/// The master's persistent state. Implementations are cheap to share (`Arc<dyn Store>`).
pub trait Store: Send + Sync + 'static {
    /// Schema version of the `data` environment (equal to [`schema::SCHEMA_VERSION`] once
    /// opened).
    fn schema_version(&self) -> Result<u32, StoreError>;

    /// Enrols a node with a join token in one transaction.
    ///
    /// The token (found by `secret_hash`) must exist, be unused and unexpired, and the public
    /// key must not belong to a node yet (revoked nodes keep their key). On success the token
    /// is marked used by the new node, the next node id is allocated and the node is written
    /// with `enrolled_at_ms = last_seen_ms = now_ms` and an empty hostname. On refusal nothing
    /// is written.
    fn enroll_node(
        &self,
        secret_hash: &[u8; 32],
        public_key: &[u8; 32],
        agent_version: &str,
        now_ms: u64,
    ) -> Result<Result<NodeRecord, EnrollRefusal>, StoreError>;

    /// Inserts or replaces a node and points its public key at it. If the node's key changed,
    /// the old key is released. Fails with [`StoreError::KeyInUse`] when the key belongs to
    /// another node. Ids at or above the enrolment counter move the counter past them.
    fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError>;

    /// The node with this id.
    fn get_node(&self, id: u64) -> Result<Option<NodeRecord>, StoreError>;

    /// The node owning this public key.
    fn node_by_key(&self, key: &[u8; 32]) -> Result<Option<NodeRecord>, StoreError>;

    /// All nodes, ordered by id.
    fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;

    /// Sets or clears a node's `revoked` flag; `Ok(false)` when no such node exists.
    fn set_revoked(&self, id: u64, revoked: bool) -> Result<bool, StoreError>;

    /// Reads one node, applies `change` and writes it back inside one write transaction,
    /// so fields another process wrote meanwhile (`revoked`, by `commander node revoke`)
    /// are kept; `Ok(false)` when no such node exists. `change` must not touch the public
    /// key (use [`Store::put_node`] for that).
    fn update_node(
        &self,
        id: u64,
        change: &mut dyn FnMut(&mut NodeRecord),
    ) -> Result<bool, StoreError>;

    /// Inserts or replaces a join token (keyed by its secret hash).
    fn put_join_token(&self, token: &JoinTokenRecord) -> Result<(), StoreError>;

    /// All join tokens, ordered by secret hash.
    fn list_join_tokens(&self) -> Result<Vec<JoinTokenRecord>, StoreError>;

    /// Appends a batch of rows to one tier of the metric series in one transaction (all or
    /// nothing). A row with the same `(node_id, taken_at_ms)` as a stored one replaces it.
    /// Raw rows are encoded samples, roll-up rows encoded [`rollup::Rollup`]s keyed by the
    /// start of their bucket.
    fn append_series(&self, tier: Tier, batch: &[SampleRow]) -> Result<(), StoreError>;

    /// Rows of one tier and node with `from_ms <= taken_at_ms <= to_ms`, oldest first, at
    /// most `limit` of them (the oldest ones; page on by raising `from_ms`).
    fn series(
        &self,
        tier: Tier,
        node_id: u64,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<SampleRow>, StoreError>;

    /// The newest row of one tier and node.
    fn latest_in_series(&self, tier: Tier, node_id: u64) -> Result<Option<SampleRow>, StoreError>;

    /// Removes every row of one tier (of every node) with `taken_at_ms < older_than_ms`, in
    /// one transaction; returns how many were removed.
    fn prune_series(&self, tier: Tier, older_than_ms: u64) -> Result<u64, StoreError>;

    /// The nodes with at least one row in a tier, ascending.
    fn series_nodes(&self, tier: Tier) -> Result<Vec<u64>, StoreError>;

    /// How many rows a tier holds and the bytes they take (LMDB: the pages of its database;
    /// memory store: keys plus values).
    fn series_usage(&self, tier: Tier) -> Result<SeriesUsage, StoreError>;

    /// Appends a batch of raw samples in one transaction (all or nothing).
    fn append_samples(&self, batch: &[SampleRow]) -> Result<(), StoreError> {
        self.append_series(Tier::Raw, batch)
    }

    /// Raw samples of one node with `from_ms <= taken_at_ms <= to_ms`, oldest first, at most
    /// `limit` of them (the oldest ones; page on by raising `from_ms`).
    fn samples(
        &self,
        node_id: u64,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<SampleRow>, StoreError> {
        self.series(Tier::Raw, node_id, from_ms, to_ms, limit)
    }

    /// The newest raw sample of one node.
    fn latest_sample(&self, node_id: u64) -> Result<Option<SampleRow>, StoreError> {
        self.latest_in_series(Tier::Raw, node_id)
    }

    /// Removes every raw sample (of every node) with `taken_at_ms < older_than_ms`, in one
    /// transaction; returns how many were removed.
    fn prune_samples(&self, older_than_ms: u64) -> Result<u64, StoreError> {
        self.prune_series(Tier::Raw, older_than_ms)
    }

    /// On-disk sizes (0 for the memory store). A size that cannot be read is reported as 0.
    fn sizes(&self) -> StoreSizes;

    /// The directory of one environment; `None` for the memory store.
    fn env_dir(&self, env: EnvKind) -> Option<PathBuf>;

    /// Writes a consistent, compacted copy of one environment to the new file `dest` (it
    /// must not exist) and returns the copy's size in bytes. Safe while the store is in use:
    /// the copy is taken inside one read transaction, writers carry on. A failed copy
    /// leaves no file. The memory store writes a JSON snapshot instead.
    fn copy_compacted(&self, env: EnvKind, dest: &Path) -> Result<u64, StoreError>;

    /// Allocates the next task id (1, 2, ...); ids are never reused, also across restarts.
    fn next_task_id(&self) -> Result<u64, StoreError>;

    /// Inserts or replaces a task (long operation, see `model::task`) by its id.
    fn put_task(&self, task: &model::task::TaskRecord) -> Result<(), StoreError>;

    /// The task with this id.
    fn get_task(&self, id: u64) -> Result<Option<model::task::TaskRecord>, StoreError>;

    /// Removes the oldest tasks (lowest ids) beyond the newest `keep`, in one transaction;
    /// returns how many were removed. Task ids are never reused.
    fn prune_tasks(&self, keep: u64) -> Result<u64, StoreError>;

    /// Tasks with an id below `before` (all when `None`), newest first, at most `limit`.
    fn list_tasks(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<model::task::TaskRecord>, StoreError>;

    /// Inserts or replaces an alert (see `model::alert`) by its id: a resolved alert
    /// replaces its firing record.
    fn put_alert(&self, alert: &model::alert::AlertRecord) -> Result<(), StoreError>;

    /// Alerts with an id below `before` (all when `None`), newest first, at most `limit`.
    fn list_alerts(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<model::alert::AlertRecord>, StoreError>;

    /// How many alerts are stored.
    fn alert_count(&self) -> Result<u64, StoreError>;

    /// Removes the oldest alerts (lowest ids) beyond the newest `keep`, in one
    /// transaction; returns how many were removed.
    fn prune_alerts(&self, keep: u64) -> Result<u64, StoreError>;

    /// Every alert rule, by id.
    fn list_alert_rules(&self) -> Result<Vec<model::alert_rule::AlertRuleRecord>, StoreError>;

    /// Inserts or replaces an alert rule by id; id 0 allocates the next id (never
    /// reused). Returns the rule as stored.
    fn put_alert_rule(
        &self,
        rule: &model::alert_rule::AlertRuleRecord,
    ) -> Result<model::alert_rule::AlertRuleRecord, StoreError>;

    /// Deletes an alert rule; `Ok(false)` when none has this id.
    fn delete_alert_rule(&self, id: u64) -> Result<bool, StoreError>;

    /// Writes `rules` (ids allocated) once ever, at the first start; `Ok(false)` when
    /// they were written before (even if deleted since).
    fn seed_alert_rules(
        &self,
        rules: &[model::alert_rule::AlertRuleRecord],
    ) -> Result<bool, StoreError>;

    /// Every silence, by id.
    fn list_silences(&self) -> Result<Vec<model::alert_rule::SilenceRecord>, StoreError>;

    /// Inserts or replaces a silence by id; id 0 allocates the next id.
    fn put_silence(
        &self,
        silence: &model::alert_rule::SilenceRecord,
    ) -> Result<model::alert_rule::SilenceRecord, StoreError>;

    /// Deletes a silence; `Ok(false)` when none has this id.
    fn delete_silence(&self, id: u64) -> Result<bool, StoreError>;
}

/// The enrolment decision shared by both implementations: `token` as stored (if any) and
/// the node already owning the key (if any).
fn check_enrolment(
    token: Option<&JoinTokenRecord>,
    key_owner: Option<u64>,
    now_ms: u64,
) -> Result<(), EnrollRefusal> {
    let token = token.ok_or(EnrollRefusal::UnknownToken)?;
    token.check_usable(now_ms)?;
    match key_owner {
        Some(node_id) => Err(EnrollRefusal::KeyAlreadyEnrolled { node_id }),
        None => Ok(()),
    }
}

/// The record of a freshly enrolled node.
fn new_node(id: u64, public_key: &[u8; 32], agent_version: &str, now_ms: u64) -> NodeRecord {
    NodeRecord {
        id,
        public_key: *public_key,
        hostname: String::new(),
        agent_version: agent_version.to_owned(),
        enrolled_at_ms: now_ms,
        last_seen_ms: now_ms,
        revoked: false,
        host_info: None,
    }
}
