//! The on-disk layout of the LMDB store: every database, its keys and values, the schema
//! version and the upgrades between versions. Change the layout here and nowhere else, and
//! bump [`SCHEMA_VERSION`] with an upgrade step when an existing database changes meaning.
//!
//! # Environments
//!
//! There are two LMDB environments (directories), as in the original configuration:
//! `dbPath.data` for cluster state and `dbPath.performance` for metric time series. Each has
//! its own `meta` database holding its own `schema_version`.
//!
//! # Databases of the `data` environment
//!
//! | database      | key                                   | value                                  |
//! |---------------|---------------------------------------|----------------------------------------|
//! | `meta`        | `schema_version` (UTF-8)              | `u32` big-endian, see [`SCHEMA_VERSION`] |
//! | `meta`        | `next_node_id` (UTF-8)                | `u64` big-endian, next id to allocate (absent = 1) |
//! | `nodes`       | node id, `u64` big-endian (8 bytes)   | JSON [`NodeRecord`](model::cluster::NodeRecord) |
//! | `node_keys`   | Noise public key (32 bytes)           | node id, `u64` big-endian              |
//! | `join_tokens` | SHA-256 of the token secret (32 bytes)| JSON [`JoinTokenRecord`](model::cluster::JoinTokenRecord) |
//! | `meta`        | `console_registered` (UTF-8)          | `u64` BE, when the first console user registered; present = registration closed for good |
//! | `meta`        | `next_audit_seq` (UTF-8)              | `u64` BE, sequence number of the next audit entry (absent = 0) |
//! | `console_users` | user name (UTF-8)                   | JSON `model::account::UserRecord` (argon2id hash, session epoch, language) |
//! | `console_sessions` | session id (32 hex digits, UTF-8) | JSON `model::account::SessionRecord` (user, epoch, expiry, CSRF token) |
//! | `audit`       | `at_ms` `u64` BE ++ sequence `u64` BE (16 bytes, `model::audit::AuditId`) | JSON `model::audit::AuditEntry` |
//! | `meta`        | `next_task_id` (UTF-8)                | `u64` BE, next task id to allocate (absent = 1) |
//! | `tasks`       | task id, `u64` big-endian (8 bytes)   | JSON `model::task::TaskRecord` (operation, target, user, state, progress, result or error) |
//! | `alerts`      | alert id, `u64` big-endian (8 bytes)  | JSON `model::alert::AlertRecord` (rule, node id and name, state, fired and resolved times); the master keeps the newest `master::alerts::MAX_HISTORY` |
//! | `projects`    | project name (UTF-8, `[a-z0-9-]`)     | JSON `master::projects::record::ProjectRecord` (controller state, latest revision, webhook key and the newest accepted signatures) |
//! | `project_revisions` | project name ++ `0x00` ++ revision `u64` BE | JSON `model::project::ProjectSpec`; newest `MAX_REVISIONS` kept per project |
//! | `gateways`    | gateway name (UTF-8, `[a-z0-9-]`)     | JSON `model::project::gateway::StandaloneGateway` (node, port, upstreams, algorithm, allow/deny lists, per-IP limits) |
//! | `alert_rules` | `r` ++ rule id `u64` BE (9 bytes)      | JSON `model::alert_rule::AlertRuleRecord` (name, metric, scope, op, threshold, for_s, recover_threshold, severity, channels) |
//! | `alert_rules` | `s` ++ silence id `u64` BE (9 bytes)   | JSON `model::alert_rule::SilenceRecord` (rule, node, until) |
//! | `meta`        | `next_alert_rule_id`, `next_silence_id` (UTF-8) | `u64` BE, next id to allocate (absent = 1) |
//! | `meta`        | `alert_rules_seeded` (UTF-8)          | present once the built-in rules were written (first start) |
//! | `api_tokens`  | token id (16 hex digits, UTF-8)       | JSON `model::token::ApiTokenRecord` (name, scopes, creator, created, expiry, last use, SHA-256 of the secret — never the secret); at most `model::token::MAX_TOKENS`; revoking deletes the record |
//! | `alert_channels` | channel name (UTF-8, 1..=64 of `[A-Za-z0-9_.-]`) | JSON `model::channel::ChannelRecord` (type, webhook URL, signing secret or SMTP settings with password — needed to sign and log in, never answered by the API); at most `model::channel::MAX_CHANNELS` |
//!
//! # Databases of the `performance` environment
//!
//! | database  | key                                                  | value                      |
//! |-----------|------------------------------------------------------|----------------------------|
//! | `meta`    | `schema_version` (UTF-8)                             | `u32` big-endian           |
//! | `samples` | node id `u64` BE ++ `taken_at_ms` `u64` BE (16 bytes) | opaque encoded sample      |
//! | `rollup_1m` | node id `u64` BE ++ minute start, Unix ms, `u64` BE (16 bytes) | encoded `crate::store::rollup::Rollup` of that minute's samples |
//! | `rollup_1h` | node id `u64` BE ++ hour start, Unix ms, `u64` BE (16 bytes) | encoded `crate::store::rollup::Rollup` of that hour's 1-minute roll-ups |
//!
//! Big-endian integer keys sort numerically under LMDB's default byte-wise comparison, so
//! `nodes` iterates by id, `samples` iterates per node in time order and `audit` in time
//! order (the sequence number makes entries of one millisecond distinct).
//!
//! The console databases (`console_users`, `console_sessions`, `audit`) were added without a
//! version bump: no existing database changed meaning, and opening creates missing
//! databases in the same transaction, so a version-1 environment simply gains them.
//! The `tasks` database and `meta/next_task_id` were added the same way, and so were the
//! `alert_rules` database and the `alerts` database (alert ids need no counter: the master
//! continues after the newest stored id, and pruning only ever removes the oldest), the
//! `api_tokens` database, and the `alert_channels` database.
//! The roll-up tiers (`rollup_1m`, `rollup_1h`) of the `performance` environment were added
//! the same way: `samples` keeps its meaning, a version-1 environment gains the two empty
//! databases at open, and the first roll-up pass (`crate::store::history::roll_up`) fills
//! them from the raw samples already stored (each node from its oldest sample on).
//!
//! # Upgrades
//!
//! At open, inside the same write transaction that creates the databases, [`ensure_schema`]
//! reads `schema_version`: absent (fresh environment) → write [`SCHEMA_VERSION`]; equal → done;
//! older → run the steps of [`UPGRADES`] in order, each migrating `from` to `from + 1`;
//! newer than this build → [`StoreError::SchemaTooNew`]. A failed step aborts the
//! transaction, so the environment stays at its old version.

use heed::types::{Bytes, Str};
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};

use super::StoreError;

/// Current layout version of both environments.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the metadata database (in both environments).
pub const META_DB: &str = "meta";
/// `data`: node records by id.
pub const NODES_DB: &str = "nodes";
/// `data`: public key → node id index.
pub const NODE_KEYS_DB: &str = "node_keys";
/// `data`: join tokens by secret hash.
pub const JOIN_TOKENS_DB: &str = "join_tokens";
/// `data`: console accounts by user name.
pub const CONSOLE_USERS_DB: &str = "console_users";
/// `data`: console sessions by id.
pub const CONSOLE_SESSIONS_DB: &str = "console_sessions";
/// `data`: the audit log by time-ordered id.
pub const AUDIT_DB: &str = "audit";
/// `data`: tasks (long operations) by id.
pub const TASKS_DB: &str = "tasks";
/// `data`: the alert history by alert id.
pub const ALERTS_DB: &str = "alerts";
/// `data`: projects by name (`crate::projects::record::ProjectRecord`).
pub const PROJECTS_DB: &str = "projects";
/// `data`: each project's revisions, by name ++ `0x00` ++ revision `u64` BE.
pub const PROJECT_REVISIONS_DB: &str = "project_revisions";
/// `data`: standalone gateways by name (`model::project::gateway::StandaloneGateway`).
pub const GATEWAYS_DB: &str = "gateways";
/// `data`: API tokens by id.
pub const API_TOKENS_DB: &str = "api_tokens";
/// `data`: notification channels by name (`model::channel::ChannelRecord`).
pub const ALERT_CHANNELS_DB: &str = "alert_channels";
/// `data`: alert rules and silences, by kind byte ++ id.
pub const ALERT_RULES_DB: &str = "alert_rules";
/// `performance`: metric samples by node and time.
pub const SAMPLES_DB: &str = "samples";

/// `performance`: 1-minute roll-ups by node and minute.
pub const MINUTE_DB: &str = "rollup_1m";
/// `performance`: 1-hour roll-ups by node and hour.
pub const HOUR_DB: &str = "rollup_1h";

/// The database of one tier of the metric series.
pub const fn series_db(tier: model::history::Tier) -> &'static str {
    match tier {
        model::history::Tier::Raw => SAMPLES_DB,
        model::history::Tier::Minute => MINUTE_DB,
        model::history::Tier::Hour => HOUR_DB,
    }
}

/// `meta` key of the schema version.
pub const SCHEMA_VERSION_KEY: &str = "schema_version";
/// `meta` key of the node id counter (`data` environment).
pub const NEXT_NODE_ID_KEY: &str = "next_node_id";
/// `meta` key whose presence closes console registration for good (`data` environment).
pub const CONSOLE_REGISTERED_KEY: &str = "console_registered";
/// `meta` key of the audit sequence counter (`data` environment).
pub const NEXT_AUDIT_SEQ_KEY: &str = "next_audit_seq";
/// `meta` key of the task id counter (`data` environment).
pub const NEXT_TASK_ID_KEY: &str = "next_task_id";

/// `meta` key of the alert rule id counter (`data` environment).
pub const NEXT_ALERT_RULE_ID_KEY: &str = "next_alert_rule_id";
/// `meta` key of the silence id counter (`data` environment).
pub const NEXT_SILENCE_ID_KEY: &str = "next_silence_id";
/// `meta` key present once the built-in alert rules were written.
pub const ALERT_RULES_SEEDED_KEY: &str = "alert_rules_seeded";

/// `max_dbs` of the `data` environment: today's four plus room for users, projects,
/// executables, tasks, audit log and alert rules without reopening with new options.
pub const DATA_MAX_DBS: u32 = 32;
/// `max_dbs` of the `performance` environment (room for rollup tiers).
pub const PERFORMANCE_MAX_DBS: u32 = 16;

/// Which of the two environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    /// `dbPath.data`: cluster state.
    Data,
    /// `dbPath.performance`: metric time series.
    Performance,
}

impl EnvKind {
    /// Name used in errors and logs.
    pub fn name(self) -> &'static str {
        match self {
            EnvKind::Data => "data",
            EnvKind::Performance => "performance",
        }
    }
}

/// Key of a node record (`nodes`) and value of the key index (`node_keys`).
pub fn node_id_bytes(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes an 8-byte big-endian node id.
pub fn decode_node_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Key of a sample: node id BE ++ `taken_at_ms` BE.
pub fn sample_key(node_id: u64, taken_at_ms: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&node_id.to_be_bytes());
    key[8..].copy_from_slice(&taken_at_ms.to_be_bytes());
    key
}

/// Splits a sample key into `(node_id, taken_at_ms)`.
pub fn decode_sample_key(key: &[u8]) -> Option<(u64, u64)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let (node, time) = key.split_at(8);
    Some((decode_node_id(node)?, decode_node_id(time)?))
}

/// One upgrade step, migrating one environment from `from` to `from + 1`.
pub struct UpgradeStep {
    /// The environment it applies to.
    pub env: EnvKind,
    /// The version it upgrades from.
    pub from: u32,
    /// What it does, for the log.
    pub what: &'static str,
    /// The migration, run inside the open transaction.
    pub run: StepFn,
}

/// Signature of an upgrade step: it may create or open databases and rewrite records.
pub type StepFn =
    for<'e> fn(&DatabaseOpener<'e, WithoutTls>, &mut RwTxn<'e>) -> Result<(), StoreError>;

/// Every upgrade step, in order. Version 1 is the first layout, so there are none yet.
pub const UPGRADES: &[UpgradeStep] = &[];

/// What [`plan`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// No version stored: write the current one.
    Fresh,
    /// Already at the current version.
    Current,
    /// Run these steps (indices into the step table), in order.
    Upgrade(Vec<usize>),
}

/// Decides what to do with an environment whose stored version is `stored`.
pub fn plan(
    env: EnvKind,
    stored: Option<u32>,
    current: u32,
    steps: &[UpgradeStep],
) -> Result<Plan, StoreError> {
    let Some(stored) = stored else {
        return Ok(Plan::Fresh);
    };
    if stored == current {
        return Ok(Plan::Current);
    }
    if stored > current {
        return Err(StoreError::SchemaTooNew {
            env: env.name(),
            found: stored,
            supported: current,
        });
    }
    (stored..current)
        .map(|from| {
            steps
                .iter()
                .position(|s| s.env == env && s.from == from)
                .ok_or(StoreError::NoUpgradePath {
                    env: env.name(),
                    from,
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Plan::Upgrade)
}

/// Brings an environment to [`SCHEMA_VERSION`] with [`UPGRADES`]; returns the version.
pub fn ensure_schema<'e>(
    opener: &DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
    meta: &Database<'_, Str, Bytes>,
    env: EnvKind,
) -> Result<u32, StoreError> {
    ensure_schema_with(opener, wtxn, meta, env, SCHEMA_VERSION, UPGRADES)
}

/// [`ensure_schema`] with an explicit target version and step table (for tests).
pub fn ensure_schema_with<'e>(
    opener: &DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
    meta: &Database<'_, Str, Bytes>,
    env: EnvKind,
    current: u32,
    steps: &[UpgradeStep],
) -> Result<u32, StoreError> {
    let stored = read_version(wtxn, meta, env)?;
    match plan(env, stored, current, steps)? {
        Plan::Current => return Ok(current),
        Plan::Fresh => {}
        Plan::Upgrade(order) => {
            for index in order {
                if let Some(step) = steps.get(index) {
                    tracing::info!(
                        env = env.name(),
                        from = step.from,
                        to = step.from + 1,
                        "store schema upgrade: {}",
                        step.what
                    );
                    (step.run)(opener, wtxn)?;
                }
            }
        }
    }
    meta.put(wtxn, SCHEMA_VERSION_KEY, &current.to_be_bytes())?;
    Ok(current)
}

/// Reads `meta/schema_version`; `None` when absent.
pub fn read_version(
    txn: &heed::RoTxn<'_>,
    meta: &Database<'_, Str, Bytes>,
    env: EnvKind,
) -> Result<Option<u32>, StoreError> {
    match meta.get(txn, SCHEMA_VERSION_KEY)? {
        None => Ok(None),
        Some(raw) => <[u8; 4]>::try_from(raw)
            .map(|b| Some(u32::from_be_bytes(b)))
            .map_err(|_| StoreError::Corrupt {
                key: format!("{}:{META_DB}/{SCHEMA_VERSION_KEY}", env.name()),
                reason: format!("expected 4 bytes, found {}", raw.len()),
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use heed::{CommitOrAbort, Env, EnvOpenOptions};

    use super::*;

    fn noop(_: &DatabaseOpener<'_, WithoutTls>, _: &mut RwTxn<'_>) -> Result<(), StoreError> {
        Ok(())
    }

    fn step(env: EnvKind, from: u32) -> UpgradeStep {
        UpgradeStep {
            env,
            from,
            what: "test",
            run: noop,
        }
    }

    #[test]
    fn plan_covers_every_case() {
        let d = EnvKind::Data;
        let steps = [step(EnvKind::Performance, 1), step(d, 2), step(d, 1)];
        assert_eq!(plan(d, None, 3, &steps).unwrap(), Plan::Fresh);
        assert_eq!(plan(d, Some(3), 3, &steps).unwrap(), Plan::Current);
        assert_eq!(
            plan(d, Some(1), 3, &steps).unwrap(),
            Plan::Upgrade(vec![2, 1])
        );
        assert_eq!(plan(d, Some(2), 3, &steps).unwrap(), Plan::Upgrade(vec![1]));
        assert!(matches!(
            plan(d, Some(4), 3, &steps),
            Err(StoreError::SchemaTooNew {
                found: 4,
                supported: 3,
                ..
            })
        ));
        assert!(matches!(
            plan(EnvKind::Performance, Some(1), 3, &steps),
            Err(StoreError::NoUpgradePath { from: 2, .. })
        ));
        assert!(matches!(
            plan(d, Some(0), 3, &steps),
            Err(StoreError::NoUpgradePath { from: 0, .. })
        ));
    }

    #[test]
    fn shipped_table_reaches_current_version() {
        for env in [EnvKind::Data, EnvKind::Performance] {
            // Every released version (1 is the first) upgrades to, or already is, the current.
            for from in 1..=SCHEMA_VERSION {
                assert!(plan(env, Some(from), SCHEMA_VERSION, UPGRADES).is_ok());
            }
        }
    }

    #[test]
    fn key_encodings_round_trip_and_sort() {
        assert_eq!(decode_node_id(&node_id_bytes(42)), Some(42));
        assert_eq!(decode_node_id(&[1, 2]), None);
        assert_eq!(decode_sample_key(&sample_key(7, 99)), Some((7, 99)));
        assert_eq!(decode_sample_key(&[0; 15]), None);
        assert!(sample_key(1, u64::MAX) < sample_key(2, 0));
        assert!(sample_key(1, 255) < sample_key(1, 256));
    }

    fn open_env(dir: &std::path::Path) -> Env<WithoutTls> {
        // SAFETY: each test opens its own fresh temporary directory once; nothing else maps it.
        #[allow(unsafe_code)]
        unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(1 << 20)
                .max_dbs(4)
                .open(dir)
                .unwrap()
        }
    }

    /// Runs `ensure_schema_with` in one transaction, as `LmdbStore::open` does.
    fn run(env: &Env<WithoutTls>, current: u32, steps: &[UpgradeStep]) -> Result<u32, StoreError> {
        let wtxn = env.write_txn()?;
        let mut version = 0;
        let outcome = env.create_databases_and_commit(wtxn, |o, w| {
            let meta = o.create_database::<Str, Bytes>(w, Some(META_DB))?;
            version = ensure_schema_with(o, w, &meta, EnvKind::Data, current, steps)?;
            Ok::<_, StoreError>(CommitOrAbort::<_, Infallible>::Commit(meta))
        })?;
        match outcome {
            CommitOrAbort::Commit(_) => Ok(version),
            CommitOrAbort::Abort(never) => match never {},
        }
    }

    fn marker_step<'e>(
        o: &DatabaseOpener<'e, WithoutTls>,
        w: &mut RwTxn<'e>,
    ) -> Result<(), StoreError> {
        let meta = o.create_database::<Str, Bytes>(w, Some(META_DB))?;
        meta.put(w, "step1", b"done")?;
        Ok(())
    }

    fn needs_marker_step<'e>(
        o: &DatabaseOpener<'e, WithoutTls>,
        w: &mut RwTxn<'e>,
    ) -> Result<(), StoreError> {
        let meta = o.create_database::<Str, Bytes>(w, Some(META_DB))?;
        if meta.get(w, "step1")?.is_none() {
            return Err(StoreError::Corrupt {
                key: "meta/step1".into(),
                reason: "step 1 did not run first".into(),
            });
        }
        meta.put(w, "step2", b"done")?;
        Ok(())
    }

    fn read_meta(env: &Env<WithoutTls>, key: &str) -> Option<Vec<u8>> {
        let rtxn = env.read_txn().unwrap();
        let meta = env
            .open_databases_and_commit(rtxn, |o, r| {
                o.open_database::<Str, Bytes>(r, Some(META_DB))
                    .map(CommitOrAbort::<_, Infallible>::Commit)
            })
            .unwrap();
        let CommitOrAbort::Commit(Some(meta)) = meta else {
            panic!("meta database missing")
        };
        let rtxn = env.read_txn().unwrap();
        meta.get(&rtxn, key).unwrap().map(<[u8]>::to_vec)
    }

    #[test]
    fn fresh_then_upgrade_in_order_then_too_new() {
        let dir = tempfile::tempdir().unwrap();
        let env = open_env(dir.path());
        assert_eq!(run(&env, 1, &[]).unwrap(), 1);
        assert_eq!(read_meta(&env, SCHEMA_VERSION_KEY), Some(vec![0, 0, 0, 1]));
        assert_eq!(run(&env, 1, &[]).unwrap(), 1);

        let steps = [
            UpgradeStep {
                env: EnvKind::Data,
                from: 2,
                what: "second",
                run: needs_marker_step,
            },
            UpgradeStep {
                env: EnvKind::Data,
                from: 1,
                what: "first",
                run: marker_step,
            },
        ];
        assert_eq!(run(&env, 3, &steps).unwrap(), 3);
        assert_eq!(read_meta(&env, SCHEMA_VERSION_KEY), Some(vec![0, 0, 0, 3]));
        assert_eq!(read_meta(&env, "step2").as_deref(), Some(&b"done"[..]));

        assert!(matches!(
            run(&env, 2, &steps),
            Err(StoreError::SchemaTooNew {
                found: 3,
                supported: 2,
                ..
            })
        ));
        // A refused open leaves the stored version alone.
        assert_eq!(read_meta(&env, SCHEMA_VERSION_KEY), Some(vec![0, 0, 0, 3]));
    }

    #[test]
    fn failed_step_leaves_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let env = open_env(dir.path());
        run(&env, 1, &[]).unwrap();
        let steps = [UpgradeStep {
            env: EnvKind::Data,
            from: 1,
            what: "fails without marker",
            run: needs_marker_step,
        }];
        assert!(matches!(
            run(&env, 2, &steps),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(read_meta(&env, SCHEMA_VERSION_KEY), Some(vec![0, 0, 0, 1]));
    }
}
