//! [`LmdbStore`]: the [`Store`] on two heed (LMDB) environments.
//!
//! The layout is documented in [`super::schema`]. Records are JSON, sample values raw bytes.
//! Environments are opened with LMDB's default durability (`fsync` at every commit), so a
//! method that returned `Ok` survives a crash or restart of the master.

use std::convert::Infallible;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::path::{Path, PathBuf};

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, CompactionOption, Database, Env, EnvOpenOptions, RoTxn, WithoutTls};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::console::ConsoleDbs;
use super::schema::{self, EnvKind};
use super::{SampleRow, SeriesUsage, Store, StoreError, StoreSizes, check_enrolment, new_node};
use crate::accounts::AuditLimits;
use model::cluster::{EnrollRefusal, JoinTokenRecord, NodeRecord, to_hex};
use model::history::Tier;

/// Map size of the `data` environment: 1 GiB. The file is sparse and grows as needed.
pub const DATA_MAP_SIZE: usize = 1 << 30;
/// Map size of the `performance` environment: 16 GiB (sparse).
pub const PERFORMANCE_MAP_SIZE: usize = 16 << 30;

pub(super) type RawDb = Database<'static, Bytes, Bytes>;
type MetaDb = Database<'static, Str, Bytes>;

/// How a store is opened: the `data` map size and the audit log's bounds.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Map size of the `data` environment, bytes ([`DATA_MAP_SIZE`]).
    pub data_map_size: usize,
    /// How much audit history is kept (`audit.*` in the configuration).
    pub audit: AuditLimits,
    /// Skip `fsync` at commit (tests that write thousands of transactions).
    #[cfg(test)]
    pub(crate) no_sync: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            data_map_size: DATA_MAP_SIZE,
            audit: AuditLimits::default(),
            #[cfg(test)]
            no_sync: false,
        }
    }
}

/// The LMDB-backed store. Cheap to share behind an `Arc`; all methods are thread-safe.
pub struct LmdbStore {
    pub(super) data: Env<WithoutTls>,
    performance: Env<WithoutTls>,
    pub(super) meta: MetaDb,
    nodes: RawDb,
    node_keys: RawDb,
    join_tokens: RawDb,
    /// The metric series by tier: raw samples, 1-minute and 1-hour roll-ups.
    series: [RawDb; 3],
    /// Console accounts, sessions and audit log (see `store::console`).
    pub(super) console: ConsoleDbs<'static>,
    /// Tasks (see `store::tasks`).
    pub(super) tasks: super::tasks::TasksDb,
    /// The alert history (see `store::alerts`).
    pub(super) alerts: super::alerts::AlertsDb,
    /// Projects and their revisions (see `store::projects`).
    pub(super) projects: super::projects::ProjectDbs<'static>,
    /// Bounds of the audit log, applied as entries are appended (see `store::console`).
    pub(super) audit_limits: AuditLimits,
    /// API tokens (see `store::api_tokens`).
    pub(super) api_tokens: super::api_tokens::ApiTokensDb,
    /// Notification channels (see `store::channels`).
    pub(super) channels: super::channels::ChannelsDb,
    /// Alert rules and silences (see `store::alert_rules`).
    pub(super) alert_rules: super::alert_rules::AlertRulesDb,
}

impl std::fmt::Debug for LmdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmdbStore")
            .field("data", &self.data.path())
            .field("performance", &self.performance.path())
            .finish_non_exhaustive()
    }
}

impl LmdbStore {
    /// Opens (creating directories and databases as needed) both environments and brings
    /// them to the current schema version. Fails with [`StoreError::SchemaTooNew`] on an
    /// environment written by a newer build, and with an LMDB error if this process already
    /// has one of the environments open.
    pub fn open(data_path: &Path, performance_path: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_path, performance_path, &StoreOptions::default())
    }

    /// [`LmdbStore::open`] with explicit options.
    pub fn open_with(
        data_path: &Path,
        performance_path: &Path,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        #[cfg(not(test))]
        let data = open_env(data_path, options.data_map_size, schema::DATA_MAX_DBS)?;
        #[cfg(test)]
        let data = if options.no_sync {
            open_env_no_sync(data_path, options.data_map_size, schema::DATA_MAX_DBS)?
        } else {
            open_env(data_path, options.data_map_size, schema::DATA_MAX_DBS)?
        };
        let performance = open_env(
            performance_path,
            PERFORMANCE_MAP_SIZE,
            schema::PERFORMANCE_MAX_DBS,
        )?;

        let wtxn = data.write_txn()?;
        let (
            meta,
            nodes,
            node_keys,
            join_tokens,
            (console, tasks, alerts, projects),
            (api_tokens, channels, alert_rules),
        ) = committed(
            data.create_databases_and_commit(wtxn, |o, w| -> Result<_, StoreError> {
                let meta = o.create_database::<Str, Bytes>(w, Some(schema::META_DB))?;
                let nodes = o.create_database::<Bytes, Bytes>(w, Some(schema::NODES_DB))?;
                let keys = o.create_database::<Bytes, Bytes>(w, Some(schema::NODE_KEYS_DB))?;
                let tokens = o.create_database::<Bytes, Bytes>(w, Some(schema::JOIN_TOKENS_DB))?;
                schema::ensure_schema(o, w, &meta, EnvKind::Data)?;
                let console = ConsoleDbs::create(o, w)?;
                let tasks = super::tasks::create(o, w)?;
                let alerts = super::alerts::create(o, w)?;
                let projects = super::projects::ProjectDbs::create(o, w)?;
                let api_tokens = super::api_tokens::create(o, w)?;
                let channels = super::channels::create(o, w)?;
                let alert_rules = super::alert_rules::create(o, w)?;
                Ok(CommitOrAbort::Commit((
                    meta,
                    nodes,
                    keys,
                    tokens,
                    (console, tasks, alerts, projects),
                    (api_tokens, channels, alert_rules),
                )))
            })?,
        );

        let wtxn = performance.write_txn()?;
        let series = committed(performance.create_databases_and_commit(
            wtxn,
            |o, w| -> Result<_, StoreError> {
                let meta = o.create_database::<Str, Bytes>(w, Some(schema::META_DB))?;
                let mut create =
                    |tier| o.create_database::<Bytes, Bytes>(w, Some(schema::series_db(tier)));
                let series = [
                    create(Tier::Raw)?,
                    create(Tier::Minute)?,
                    create(Tier::Hour)?,
                ];
                schema::ensure_schema(o, w, &meta, EnvKind::Performance)?;
                Ok(CommitOrAbort::Commit(series))
            },
        )?);

        Ok(LmdbStore {
            data,
            performance,
            meta,
            nodes,
            node_keys,
            join_tokens,
            series,
            console,
            tasks,
            alerts,
            projects,
            audit_limits: options.audit,
            api_tokens,
            channels,
            alert_rules,
        })
    }

    fn read_node(&self, txn: &RoTxn<'_>, id: u64) -> Result<Option<NodeRecord>, StoreError> {
        self.nodes
            .get(txn, &schema::node_id_bytes(id))?
            .map(|raw| decode(raw, || format!("{}/{id}", schema::NODES_DB)))
            .transpose()
    }

    fn key_owner(&self, txn: &RoTxn<'_>, key: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        self.node_keys
            .get(txn, key)?
            .map(|raw| {
                schema::decode_node_id(raw).ok_or_else(|| StoreError::Corrupt {
                    key: format!("{}/{}", schema::NODE_KEYS_DB, to_hex(key)),
                    reason: format!("expected an 8-byte node id, found {} bytes", raw.len()),
                })
            })
            .transpose()
    }

    fn next_node_id(&self, txn: &RoTxn<'_>) -> Result<u64, StoreError> {
        match self.meta.get(txn, schema::NEXT_NODE_ID_KEY)? {
            None => Ok(1),
            Some(raw) => schema::decode_node_id(raw).ok_or_else(|| StoreError::Corrupt {
                key: format!("{}/{}", schema::META_DB, schema::NEXT_NODE_ID_KEY),
                reason: format!("expected 8 bytes, found {}", raw.len()),
            }),
        }
    }

    fn write_node(&self, txn: &mut heed::RwTxn<'_>, node: &NodeRecord) -> Result<(), StoreError> {
        let json = encode(node, "node record")?;
        self.nodes
            .put(txn, &schema::node_id_bytes(node.id), &json)?;
        self.node_keys
            .put(txn, &node.public_key, &schema::node_id_bytes(node.id))?;
        Ok(())
    }

    fn write_counter(&self, txn: &mut heed::RwTxn<'_>, next: u64) -> Result<(), StoreError> {
        self.meta
            .put(txn, schema::NEXT_NODE_ID_KEY, &schema::node_id_bytes(next))?;
        Ok(())
    }

    /// The database of one tier of the metric series.
    fn db(&self, tier: Tier) -> RawDb {
        self.series[tier as usize]
    }

    /// Writes raw bytes into one of the databases, bypassing every check (tests only).
    #[cfg(test)]
    pub(crate) fn put_raw(&self, db: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let (env, target) = match db {
            schema::NODES_DB => (&self.data, self.nodes),
            schema::NODE_KEYS_DB => (&self.data, self.node_keys),
            schema::JOIN_TOKENS_DB => (&self.data, self.join_tokens),
            schema::SAMPLES_DB => (&self.performance, self.db(Tier::Raw)),
            schema::MINUTE_DB => (&self.performance, self.db(Tier::Minute)),
            schema::HOUR_DB => (&self.performance, self.db(Tier::Hour)),
            _ => (&self.data, self.meta.remap_key_type::<Bytes>()),
        };
        let mut wtxn = env.write_txn()?;
        target.put(&mut wtxn, key, value)?;
        wtxn.commit()?;
        Ok(())
    }
}

impl Store for LmdbStore {
    fn schema_version(&self) -> Result<u32, StoreError> {
        let rtxn = self.data.read_txn()?;
        Ok(schema::read_version(&rtxn, &self.meta, EnvKind::Data)?.unwrap_or(0))
    }

    fn enroll_node(
        &self,
        secret_hash: &[u8; 32],
        public_key: &[u8; 32],
        agent_version: &str,
        now_ms: u64,
    ) -> Result<Result<NodeRecord, EnrollRefusal>, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let token: Option<JoinTokenRecord> = self
            .join_tokens
            .get(&wtxn, secret_hash)?
            .map(|raw| decode(raw, || token_key(secret_hash)))
            .transpose()?;
        let owner = self.key_owner(&wtxn, public_key)?;
        if let Err(refusal) = check_enrolment(token.as_ref(), owner, now_ms) {
            return Ok(Err(refusal)); // dropping the transaction aborts it
        }
        let Some(mut token) = token else {
            return Ok(Err(EnrollRefusal::UnknownToken));
        };
        let id = self.next_node_id(&wtxn)?;
        let next = id.checked_add(1).ok_or_else(|| StoreError::Corrupt {
            key: format!("{}/{}", schema::META_DB, schema::NEXT_NODE_ID_KEY),
            reason: "node ids exhausted".into(),
        })?;
        let node = new_node(id, public_key, agent_version, now_ms);
        token.used_by = Some(id);
        self.write_node(&mut wtxn, &node)?;
        self.join_tokens
            .put(&mut wtxn, secret_hash, &encode(&token, "join token")?)?;
        self.write_counter(&mut wtxn, next)?;
        wtxn.commit()?;
        Ok(Ok(node))
    }

    fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError> {
        let mut wtxn = self.data.write_txn()?;
        if let Some(owner) = self.key_owner(&wtxn, &node.public_key)?
            && owner != node.id
        {
            return Err(StoreError::KeyInUse { owner });
        }
        let old = match self.read_node(&wtxn, node.id) {
            // A corrupt old record is simply replaced; only a readable one releases its key.
            Err(StoreError::Corrupt { .. }) => None,
            other => other?,
        };
        if let Some(old) = old
            && old.public_key != node.public_key
            && self.key_owner(&wtxn, &old.public_key)? == Some(node.id)
        {
            self.node_keys.delete(&mut wtxn, &old.public_key)?;
        }
        self.write_node(&mut wtxn, node)?;
        if node.id >= self.next_node_id(&wtxn)? {
            self.write_counter(&mut wtxn, node.id.saturating_add(1))?;
        }
        wtxn.commit()?;
        Ok(())
    }

    fn get_node(&self, id: u64) -> Result<Option<NodeRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.read_node(&rtxn, id)
    }

    fn node_by_key(&self, key: &[u8; 32]) -> Result<Option<NodeRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        match self.key_owner(&rtxn, key)? {
            Some(id) => self.read_node(&rtxn, id),
            None => Ok(None),
        }
    }

    fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for entry in self.nodes.iter(&rtxn)? {
            let (key, raw) = entry?;
            out.push(decode(raw, || match schema::decode_node_id(key) {
                Some(id) => format!("{}/{id}", schema::NODES_DB),
                None => format!("{}/0x{}", schema::NODES_DB, hex_bytes(key)),
            })?);
        }
        Ok(out)
    }

    fn set_revoked(&self, id: u64, revoked: bool) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let Some(mut node) = self.read_node(&wtxn, id)? else {
            return Ok(false);
        };
        node.revoked = revoked;
        let json = encode(&node, "node record")?;
        self.nodes
            .put(&mut wtxn, &schema::node_id_bytes(id), &json)?;
        wtxn.commit()?;
        Ok(true)
    }

    fn update_node(
        &self,
        id: u64,
        change: &mut dyn FnMut(&mut NodeRecord),
    ) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let Some(mut node) = self.read_node(&wtxn, id)? else {
            return Ok(false);
        };
        let key = node.public_key;
        change(&mut node);
        node.public_key = key;
        let json = encode(&node, "node record")?;
        self.nodes
            .put(&mut wtxn, &schema::node_id_bytes(id), &json)?;
        wtxn.commit()?;
        Ok(true)
    }

    fn put_join_token(&self, token: &JoinTokenRecord) -> Result<(), StoreError> {
        let json = encode(token, "join token")?;
        let mut wtxn = self.data.write_txn()?;
        self.join_tokens.put(&mut wtxn, &token.secret_hash, &json)?;
        wtxn.commit()?;
        Ok(())
    }

    fn list_join_tokens(&self) -> Result<Vec<JoinTokenRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for entry in self.join_tokens.iter(&rtxn)? {
            let (key, raw) = entry?;
            out.push(decode(raw, || {
                format!("{}/{}", schema::JOIN_TOKENS_DB, hex_bytes(key))
            })?);
        }
        Ok(out)
    }

    fn append_series(&self, tier: Tier, batch: &[SampleRow]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = self.db(tier);
        let mut wtxn = self.performance.write_txn()?;
        for row in batch {
            let key = schema::sample_key(row.node_id, row.taken_at_ms);
            db.put(&mut wtxn, &key, &row.bytes)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    fn series(
        &self,
        tier: Tier,
        node_id: u64,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<SampleRow>, StoreError> {
        if limit == 0 || from_ms > to_ms {
            return Ok(Vec::new());
        }
        let rtxn = self.performance.read_txn()?;
        let lo = schema::sample_key(node_id, from_ms);
        let hi = schema::sample_key(node_id, to_ms);
        let mut out = Vec::new();
        for entry in self
            .db(tier)
            .range(&rtxn, &(Included(lo.as_slice()), Included(hi.as_slice())))?
        {
            let (key, raw) = entry?;
            out.push(sample_row(tier, key, raw)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn latest_in_series(&self, tier: Tier, node_id: u64) -> Result<Option<SampleRow>, StoreError> {
        let rtxn = self.performance.read_txn()?;
        let lo = schema::sample_key(node_id, 0);
        let hi = schema::sample_key(node_id, u64::MAX);
        match self
            .db(tier)
            .rev_range(&rtxn, &(Included(lo.as_slice()), Included(hi.as_slice())))?
            .next()
        {
            Some(entry) => {
                let (key, raw) = entry?;
                sample_row(tier, key, raw).map(Some)
            }
            None => Ok(None),
        }
    }

    fn prune_series(&self, tier: Tier, older_than_ms: u64) -> Result<u64, StoreError> {
        let db = self.db(tier);
        let mut wtxn = self.performance.write_txn()?;
        let mut removed = 0u64;
        let mut next_node = Some(0u64);
        // Visit each node present: one seek to find it, one range delete of its old rows.
        while let Some(from_node) = next_node {
            let seek = schema::sample_key(from_node, 0);
            let node = match db.get_greater_than_or_equal_to(&wtxn, &seek)? {
                None => break,
                Some((key, _)) => {
                    schema::decode_sample_key(key)
                        .ok_or_else(|| corrupt_sample_key(tier, key))?
                        .0
                }
            };
            let lo = schema::sample_key(node, 0);
            let hi = schema::sample_key(node, older_than_ms);
            let n = db.delete_range(
                &mut wtxn,
                &(Included(lo.as_slice()), Excluded(hi.as_slice())),
            )?;
            removed = removed.saturating_add(n as u64);
            next_node = node.checked_add(1);
        }
        wtxn.commit()?;
        Ok(removed)
    }

    fn series_nodes(&self, tier: Tier) -> Result<Vec<u64>, StoreError> {
        let db = self.db(tier);
        let rtxn = self.performance.read_txn()?;
        let mut nodes = Vec::new();
        let mut next_node = Some(0u64);
        while let Some(from_node) = next_node {
            let seek = schema::sample_key(from_node, 0);
            let Some((key, _)) = db.get_greater_than_or_equal_to(&rtxn, &seek)? else {
                break;
            };
            let node = schema::decode_sample_key(key)
                .ok_or_else(|| corrupt_sample_key(tier, key))?
                .0;
            nodes.push(node);
            next_node = node.checked_add(1);
        }
        Ok(nodes)
    }

    fn series_usage(&self, tier: Tier) -> Result<SeriesUsage, StoreError> {
        let rtxn = self.performance.read_txn()?;
        let stat = self.db(tier).stat(&rtxn)?;
        Ok(SeriesUsage {
            rows: stat.entries as u64,
            bytes: stat.non_free_page_size() as u64,
        })
    }

    fn sizes(&self) -> StoreSizes {
        let size = |env: &Env<WithoutTls>| {
            env.real_disk_size().unwrap_or_else(|e| {
                tracing::warn!(path = %env.path().display(), "cannot read store size: {e}");
                0
            })
        };
        StoreSizes {
            data_bytes: size(&self.data),
            performance_bytes: size(&self.performance),
        }
    }

    fn env_dir(&self, env: EnvKind) -> Option<PathBuf> {
        Some(self.env(env).path().to_owned())
    }

    fn copy_compacted(&self, env: EnvKind, dest: &Path) -> Result<u64, StoreError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(dest)
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dest.display()))
            })?;
        let copied = self
            .env(env)
            .copy_to_file(&mut file, CompactionOption::Enabled)
            .map_err(StoreError::from)
            .and_then(|()| Ok(file.sync_all().and_then(|()| file.metadata())?.len()));
        if copied.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        copied
    }

    fn next_task_id(&self) -> Result<u64, StoreError> {
        self.tasks_next_id()
    }

    fn prune_tasks(&self, keep: u64) -> Result<u64, StoreError> {
        self.tasks_prune(keep)
    }

    fn put_task(&self, task: &model::task::TaskRecord) -> Result<(), StoreError> {
        self.tasks_put(task)
    }

    fn get_task(&self, id: u64) -> Result<Option<model::task::TaskRecord>, StoreError> {
        self.tasks_get(id)
    }

    fn list_tasks(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<model::task::TaskRecord>, StoreError> {
        self.tasks_list(before, limit)
    }

    fn put_alert(&self, alert: &model::alert::AlertRecord) -> Result<(), StoreError> {
        self.alerts_put(alert)
    }

    fn list_alerts(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<model::alert::AlertRecord>, StoreError> {
        self.alerts_list(before, limit)
    }

    fn alert_count(&self) -> Result<u64, StoreError> {
        self.alerts_count()
    }

    fn prune_alerts(&self, keep: u64) -> Result<u64, StoreError> {
        self.alerts_prune(keep)
    }

    fn list_alert_rules(&self) -> Result<Vec<model::alert_rule::AlertRuleRecord>, StoreError> {
        self.alert_rules_list()
    }

    fn put_alert_rule(
        &self,
        rule: &model::alert_rule::AlertRuleRecord,
    ) -> Result<model::alert_rule::AlertRuleRecord, StoreError> {
        self.alert_rule_put(rule)
    }

    fn delete_alert_rule(&self, id: u64) -> Result<bool, StoreError> {
        self.alert_rule_delete(id)
    }

    fn seed_alert_rules(
        &self,
        rules: &[model::alert_rule::AlertRuleRecord],
    ) -> Result<bool, StoreError> {
        self.alert_rules_seed(rules)
    }

    fn list_silences(&self) -> Result<Vec<model::alert_rule::SilenceRecord>, StoreError> {
        self.silences_list()
    }

    fn put_silence(
        &self,
        silence: &model::alert_rule::SilenceRecord,
    ) -> Result<model::alert_rule::SilenceRecord, StoreError> {
        self.silence_put(silence)
    }

    fn delete_silence(&self, id: u64) -> Result<bool, StoreError> {
        self.silence_delete(id)
    }
}

impl LmdbStore {
    fn env(&self, env: EnvKind) -> &Env<WithoutTls> {
        match env {
            EnvKind::Data => &self.data,
            EnvKind::Performance => &self.performance,
        }
    }
}

/// Creates the directory and opens one environment.
pub(super) fn open_env(
    path: &Path,
    map_size: usize,
    max_dbs: u32,
) -> Result<Env<WithoutTls>, StoreError> {
    std::fs::create_dir_all(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
    })?;
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(map_size).max_dbs(max_dbs);
    // SAFETY: the environment is memory-mapped; mutating its files behind LMDB's back would be
    // undefined behaviour. Each path is opened once per process (heed refuses a second open
    // with `EnvAlreadyOpened`), only through this store, and LMDB's lock file coordinates any
    // other process. We never use `NO_LOCK` or other unsafe flags.
    #[allow(unsafe_code)]
    let env = unsafe { options.open(path)? };
    Ok(env)
}

/// [`open_env`] without `fsync` at commit, for tests that write thousands of transactions.
#[cfg(test)]
fn open_env_no_sync(
    path: &Path,
    map_size: usize,
    max_dbs: u32,
) -> Result<Env<WithoutTls>, StoreError> {
    std::fs::create_dir_all(path)?;
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(map_size).max_dbs(max_dbs);
    // SAFETY: as in `open_env`; `NO_SYNC` only gives up durability across a crash, which a
    // test's temporary directory does not need.
    #[allow(unsafe_code)]
    let env = unsafe {
        options.flags(heed::EnvFlags::NO_SYNC);
        options.open(path)?
    };
    Ok(env)
}

/// JSON records of `db`, keyed by big-endian ids, with an id below `before` (all when
/// `None`), newest first, at most `limit`. `db_name` names the database in errors.
pub(super) fn newest_first<T: DeserializeOwned>(
    env: &Env<WithoutTls>,
    db: &RawDb,
    db_name: &str,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    let rtxn = env.read_txn()?;
    let upper = before.map(u64::to_be_bytes);
    let range = (
        Unbounded,
        upper.as_ref().map_or(Unbounded, |k| Excluded(k.as_slice())),
    );
    let mut out = Vec::new();
    for entry in db.rev_range(&rtxn, &range)? {
        if out.len() >= limit {
            break;
        }
        let (k, raw) = entry?;
        let id = schema::decode_node_id(k).unwrap_or(0);
        out.push(decode(raw, || format!("{db_name}/{id}"))?);
    }
    Ok(out)
}

/// Deletes the lowest keys of `db` beyond the newest `keep` (keys are big-endian ids, so
/// the lowest are the oldest) in one write transaction; returns how many went.
pub(super) fn keep_newest(env: &Env<WithoutTls>, db: &RawDb, keep: u64) -> Result<u64, StoreError> {
    let mut wtxn = env.write_txn()?;
    let excess = db.len(&wtxn)?.saturating_sub(keep);
    if excess == 0 {
        return Ok(0);
    }
    // The first record kept: everything before it goes, in one range delete.
    let skip = usize::try_from(excess).unwrap_or(usize::MAX);
    let first_kept = db
        .iter(&wtxn)?
        .nth(skip)
        .transpose()?
        .map(|(k, _)| k.to_vec());
    let removed = match first_kept {
        Some(k) => db.delete_range(&mut wtxn, &(Unbounded, Excluded(k.as_slice())))?,
        None => {
            let all = db.len(&wtxn)?;
            db.clear(&mut wtxn)?;
            usize::try_from(all).unwrap_or(usize::MAX)
        }
    };
    wtxn.commit()?;
    Ok(removed as u64)
}

/// The map size an environment is opened with.
pub(super) fn map_size(kind: EnvKind) -> usize {
    match kind {
        EnvKind::Data => DATA_MAP_SIZE,
        EnvKind::Performance => PERFORMANCE_MAP_SIZE,
    }
}

/// The `max_dbs` an environment is opened with.
pub(super) fn max_dbs(kind: EnvKind) -> u32 {
    match kind {
        EnvKind::Data => schema::DATA_MAX_DBS,
        EnvKind::Performance => schema::PERFORMANCE_MAX_DBS,
    }
}

/// Unwraps the outcome of `create_databases_and_commit` when the closure never aborts.
fn committed<T>(outcome: CommitOrAbort<T, Infallible>) -> T {
    match outcome {
        CommitOrAbort::Commit(value) => value,
        CommitOrAbort::Abort(never) => match never {},
    }
}

pub(super) fn decode<T: DeserializeOwned>(
    raw: &[u8],
    key: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt {
        key: key(),
        reason: e.to_string(),
    })
}

pub(super) fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Encode { what, source })
}

fn token_key(secret_hash: &[u8; 32]) -> String {
    format!("{}/{}", schema::JOIN_TOKENS_DB, to_hex(secret_hash))
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn corrupt_sample_key(tier: Tier, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: format!("{}/0x{}", schema::series_db(tier), hex_bytes(key)),
        reason: format!("expected a 16-byte key, found {} bytes", key.len()),
    }
}

fn sample_row(tier: Tier, key: &[u8], raw: &[u8]) -> Result<SampleRow, StoreError> {
    let (node_id, taken_at_ms) =
        schema::decode_sample_key(key).ok_or_else(|| corrupt_sample_key(tier, key))?;
    Ok(SampleRow {
        node_id,
        taken_at_ms,
        bytes: raw.to_vec(),
    })
}
