//! [`MemoryStore`]: an in-memory [`Store`] with the same semantics as
//! [`LmdbStore`](super::LmdbStore), for tests. Nothing survives the process.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::schema::{EnvKind, SCHEMA_VERSION};
use super::{SampleRow, SeriesUsage, Store, StoreError, StoreSizes, check_enrolment, new_node};
use model::alert::AlertRecord;
use model::cluster::{EnrollRefusal, JoinTokenRecord, NodeRecord};
use model::history::Tier;

/// In-memory store. Two locks, like the two LMDB environments.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    /// The metric series by tier (raw, 1-minute, 1-hour), by node and time.
    samples: Mutex<[Series; 3]>,
    /// Tasks by id, and the last id allocated.
    tasks: Mutex<(BTreeMap<u64, model::task::TaskRecord>, u64)>,
    /// The alert history by id.
    alerts: Mutex<BTreeMap<u64, AlertRecord>>,
    /// Projects and their revisions by name.
    projects: Mutex<super::projects::MemoryProjects>,
    /// Standalone gateways by name.
    gateways: Mutex<super::gateways::MemoryGateways>,
    /// Notification channels by name.
    channels: Mutex<super::channels::MemoryChannels>,
    /// Alert rules and silences.
    alert_config: Mutex<AlertConfig>,
}

/// Alert rules and silences by id, their counters and whether the built-ins were seeded.
#[derive(Debug, Default)]
struct AlertConfig {
    rules: BTreeMap<u64, model::alert_rule::AlertRuleRecord>,
    silences: BTreeMap<u64, model::alert_rule::SilenceRecord>,
    last_rule: u64,
    last_silence: u64,
    seeded: bool,
}

type Series = BTreeMap<(u64, u64), Vec<u8>>;

/// Bytes a row is counted for in [`SeriesUsage::bytes`]: its value and 16-byte key.
fn row_bytes(bytes: &[u8]) -> u64 {
    16 + bytes.len() as u64
}

#[derive(Debug)]
struct Data {
    nodes: BTreeMap<u64, NodeRecord>,
    node_keys: BTreeMap<[u8; 32], u64>,
    join_tokens: BTreeMap<[u8; 32], JoinTokenRecord>,
    next_node_id: u64,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            nodes: BTreeMap::new(),
            node_keys: BTreeMap::new(),
            join_tokens: BTreeMap::new(),
            next_node_id: 1,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave a half-applied change: every method
        // checks first and mutates last, so the data is still consistent.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn samples_map(&self) -> MutexGuard<'_, [Series; 3]> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn projects_map(&self) -> MutexGuard<'_, super::projects::MemoryProjects> {
        self.projects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn gateways_map(&self) -> MutexGuard<'_, super::gateways::MemoryGateways> {
        self.gateways.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn channels_map(&self) -> MutexGuard<'_, super::channels::MemoryChannels> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn alert_config(&self) -> MutexGuard<'_, AlertConfig> {
        self.alert_config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn alerts_map(&self) -> MutexGuard<'_, BTreeMap<u64, AlertRecord>> {
        self.alerts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn row(((node_id, taken_at_ms), bytes): (&(u64, u64), &Vec<u8>)) -> SampleRow {
    SampleRow {
        node_id: *node_id,
        taken_at_ms: *taken_at_ms,
        bytes: bytes.clone(),
    }
}

impl Store for MemoryStore {
    fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(SCHEMA_VERSION)
    }

    fn enroll_node(
        &self,
        secret_hash: &[u8; 32],
        public_key: &[u8; 32],
        agent_version: &str,
        now_ms: u64,
    ) -> Result<Result<NodeRecord, EnrollRefusal>, StoreError> {
        let mut data = self.data();
        let owner = data.node_keys.get(public_key).copied();
        if let Err(refusal) = check_enrolment(data.join_tokens.get(secret_hash), owner, now_ms) {
            return Ok(Err(refusal));
        }
        let id = data.next_node_id;
        let next = id.checked_add(1).ok_or_else(|| StoreError::Corrupt {
            key: "meta/next_node_id".into(),
            reason: "node ids exhausted".into(),
        })?;
        let node = new_node(id, public_key, agent_version, now_ms);
        let Some(token) = data.join_tokens.get_mut(secret_hash) else {
            return Ok(Err(EnrollRefusal::UnknownToken));
        };
        token.used_by = Some(id);
        data.nodes.insert(id, node.clone());
        data.node_keys.insert(*public_key, id);
        data.next_node_id = next;
        Ok(Ok(node))
    }

    fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError> {
        let mut data = self.data();
        if let Some(&owner) = data.node_keys.get(&node.public_key)
            && owner != node.id
        {
            return Err(StoreError::KeyInUse { owner });
        }
        if let Some(old_key) = data.nodes.get(&node.id).map(|old| old.public_key)
            && old_key != node.public_key
            && data.node_keys.get(&old_key) == Some(&node.id)
        {
            data.node_keys.remove(&old_key);
        }
        data.nodes.insert(node.id, node.clone());
        data.node_keys.insert(node.public_key, node.id);
        if node.id >= data.next_node_id {
            data.next_node_id = node.id.saturating_add(1);
        }
        Ok(())
    }

    fn get_node(&self, id: u64) -> Result<Option<NodeRecord>, StoreError> {
        Ok(self.data().nodes.get(&id).cloned())
    }

    fn node_by_key(&self, key: &[u8; 32]) -> Result<Option<NodeRecord>, StoreError> {
        let data = self.data();
        Ok(data
            .node_keys
            .get(key)
            .and_then(|id| data.nodes.get(id))
            .cloned())
    }

    fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        Ok(self.data().nodes.values().cloned().collect())
    }

    fn set_revoked(&self, id: u64, revoked: bool) -> Result<bool, StoreError> {
        Ok(match self.data().nodes.get_mut(&id) {
            Some(node) => {
                node.revoked = revoked;
                true
            }
            None => false,
        })
    }

    fn update_node(
        &self,
        id: u64,
        change: &mut dyn FnMut(&mut NodeRecord),
    ) -> Result<bool, StoreError> {
        Ok(match self.data().nodes.get_mut(&id) {
            Some(node) => {
                let key = node.public_key;
                change(node);
                node.public_key = key;
                true
            }
            None => false,
        })
    }

    fn put_join_token(&self, token: &JoinTokenRecord) -> Result<(), StoreError> {
        self.data()
            .join_tokens
            .insert(token.secret_hash, token.clone());
        Ok(())
    }

    fn list_join_tokens(&self) -> Result<Vec<JoinTokenRecord>, StoreError> {
        Ok(self.data().join_tokens.values().cloned().collect())
    }

    fn append_series(&self, tier: Tier, batch: &[SampleRow]) -> Result<(), StoreError> {
        let mut series = self.samples_map();
        for row in batch {
            series[tier as usize].insert((row.node_id, row.taken_at_ms), row.bytes.clone());
        }
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
        if from_ms > to_ms {
            return Ok(Vec::new());
        }
        Ok(self.samples_map()[tier as usize]
            .range((node_id, from_ms)..=(node_id, to_ms))
            .take(limit)
            .map(row)
            .collect())
    }

    fn latest_in_series(&self, tier: Tier, node_id: u64) -> Result<Option<SampleRow>, StoreError> {
        Ok(self.samples_map()[tier as usize]
            .range((node_id, 0)..=(node_id, u64::MAX))
            .next_back()
            .map(row))
    }

    fn prune_series(&self, tier: Tier, older_than_ms: u64) -> Result<u64, StoreError> {
        let mut series = self.samples_map();
        let rows = &mut series[tier as usize];
        let before = rows.len();
        rows.retain(|&(_, taken_at_ms), _| taken_at_ms >= older_than_ms);
        Ok((before - rows.len()) as u64)
    }

    fn series_nodes(&self, tier: Tier) -> Result<Vec<u64>, StoreError> {
        let mut nodes: Vec<u64> = self.samples_map()[tier as usize]
            .keys()
            .map(|&(node, _)| node)
            .collect();
        nodes.dedup();
        Ok(nodes)
    }

    fn series_usage(&self, tier: Tier) -> Result<SeriesUsage, StoreError> {
        let series = self.samples_map();
        let rows = &series[tier as usize];
        Ok(SeriesUsage {
            rows: rows.len() as u64,
            bytes: rows.values().map(|v| row_bytes(v)).sum(),
        })
    }

    fn sizes(&self) -> StoreSizes {
        StoreSizes::default()
    }

    fn env_dir(&self, _env: EnvKind) -> Option<PathBuf> {
        None
    }

    fn copy_compacted(&self, env: EnvKind, dest: &Path) -> Result<u64, StoreError> {
        let snapshot = match env {
            EnvKind::Data => {
                let data = self.data();
                let nodes: Vec<&NodeRecord> = data.nodes.values().collect();
                let tokens: Vec<&JoinTokenRecord> = data.join_tokens.values().collect();
                serde_json::json!({ "nodes": nodes, "join_tokens": tokens })
            }
            EnvKind::Performance => {
                let series = self.samples_map();
                let rows = |tier: Tier| -> Vec<(u64, u64, usize)> {
                    series[tier as usize]
                        .iter()
                        .map(|((node, at), bytes)| (*node, *at, bytes.len()))
                        .collect()
                };
                serde_json::json!({
                    "samples": rows(Tier::Raw),
                    "rollup_1m": rows(Tier::Minute),
                    "rollup_1h": rows(Tier::Hour),
                })
            }
        };
        let text = serde_json::to_vec(&snapshot).map_err(|source| StoreError::Encode {
            what: "memory snapshot",
            source,
        })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)?;
        if let Err(e) = file.write_all(&text).and_then(|()| file.sync_all()) {
            let _ = std::fs::remove_file(dest);
            return Err(e.into());
        }
        Ok(text.len() as u64)
    }

    fn next_task_id(&self) -> Result<u64, StoreError> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.1 = tasks.1.checked_add(1).ok_or_else(|| StoreError::Corrupt {
            key: "meta/next_task_id".into(),
            reason: "task ids exhausted".into(),
        })?;
        Ok(tasks.1)
    }

    fn prune_tasks(&self, keep: u64) -> Result<u64, StoreError> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut removed = 0;
        while tasks.0.len() as u64 > keep && tasks.0.pop_first().is_some() {
            removed += 1;
        }
        Ok(removed)
    }

    fn put_task(&self, task: &model::task::TaskRecord) -> Result<(), StoreError> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.0.insert(task.id, task.clone());
        Ok(())
    }

    fn get_task(&self, id: u64) -> Result<Option<model::task::TaskRecord>, StoreError> {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(tasks.0.get(&id).cloned())
    }

    fn list_tasks(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<model::task::TaskRecord>, StoreError> {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(tasks
            .0
            .range((
                std::ops::Bound::Unbounded,
                before.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            ))
            .rev()
            .take(limit)
            .map(|(_, t)| t.clone())
            .collect())
    }

    fn put_alert(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        self.alerts_map().insert(alert.id, alert.clone());
        Ok(())
    }

    fn list_alerts(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        Ok(self
            .alerts_map()
            .range((
                std::ops::Bound::Unbounded,
                before.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            ))
            .rev()
            .take(limit)
            .map(|(_, a)| a.clone())
            .collect())
    }

    fn alert_count(&self) -> Result<u64, StoreError> {
        Ok(self.alerts_map().len() as u64)
    }

    fn prune_alerts(&self, keep: u64) -> Result<u64, StoreError> {
        let mut alerts = self.alerts_map();
        let mut removed = 0;
        while alerts.len() as u64 > keep && alerts.pop_first().is_some() {
            removed += 1;
        }
        Ok(removed)
    }

    fn list_alert_rules(&self) -> Result<Vec<model::alert_rule::AlertRuleRecord>, StoreError> {
        Ok(self.alert_config().rules.values().cloned().collect())
    }

    fn put_alert_rule(
        &self,
        rule: &model::alert_rule::AlertRuleRecord,
    ) -> Result<model::alert_rule::AlertRuleRecord, StoreError> {
        let mut c = self.alert_config();
        let mut rule = rule.clone();
        if rule.id == 0 {
            c.last_rule += 1;
            rule.id = c.last_rule;
        }
        c.rules.insert(rule.id, rule.clone());
        Ok(rule)
    }

    fn delete_alert_rule(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.alert_config().rules.remove(&id).is_some())
    }

    fn seed_alert_rules(
        &self,
        rules: &[model::alert_rule::AlertRuleRecord],
    ) -> Result<bool, StoreError> {
        let mut c = self.alert_config();
        if c.seeded {
            return Ok(false);
        }
        c.seeded = true;
        for rule in rules {
            c.last_rule += 1;
            let mut rule = rule.clone();
            rule.id = c.last_rule;
            c.rules.insert(rule.id, rule);
        }
        Ok(true)
    }

    fn list_silences(&self) -> Result<Vec<model::alert_rule::SilenceRecord>, StoreError> {
        Ok(self.alert_config().silences.values().cloned().collect())
    }

    fn put_silence(
        &self,
        silence: &model::alert_rule::SilenceRecord,
    ) -> Result<model::alert_rule::SilenceRecord, StoreError> {
        let mut c = self.alert_config();
        let mut silence = silence.clone();
        if silence.id == 0 {
            c.last_silence += 1;
            silence.id = c.last_silence;
        }
        c.silences.insert(silence.id, silence.clone());
        Ok(silence)
    }

    fn delete_silence(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.alert_config().silences.remove(&id).is_some())
    }
}
