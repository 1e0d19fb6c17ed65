//! `commander token | node | user | db`: administration of a master's data directory, run
//! beside a running master (shared store lock) or, for compaction, instead of it.

use crate::cli::NodeAction;
use anyhow::{Context, bail};
use master::config::{self, MasterOverrides};
use master::server::{ADVERTISE_FILE, master_keys};
use master::store::compaction::{self, LockMode, StoreLock};
use master::store::{LmdbStore, Store};
use model::Clock as _;
use std::path::PathBuf;
use std::time::Duration;

/// The `data` and `performance` environment directories of a data directory; fails when
/// the master never ran there.
fn store_dirs(data_dir: &std::path::Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cfg = config::load(
        None,
        MasterOverrides {
            data_dir: Some(data_dir.to_owned()),
            ..MasterOverrides::default()
        },
    )?;
    if !cfg.db_data_dir.join("data.mdb").exists() {
        bail!(
            "no master data at {} (start the master once first)",
            cfg.db_data_dir.display()
        );
    }
    Ok((cfg.db_data_dir, cfg.db_performance_dir))
}

/// Opens the store under the shared store lock (released after the store is dropped).
fn open_store(data_dir: &std::path::Path) -> anyhow::Result<(StoreLock, LmdbStore)> {
    let (data, perf) = store_dirs(data_dir)?;
    let lock = StoreLock::acquire(&data, LockMode::Shared)?;
    let store = LmdbStore::open(&data, &perf)?;
    Ok((lock, store))
}

pub(crate) fn db_compact(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let (data, perf) = store_dirs(data_dir)?;
    let _lock = StoreLock::acquire(&data, LockMode::Exclusive)?;
    let record = compaction::compact_and_record(&data, &perf, model::SystemClock.now_ms())?;
    let _ = compaction::cancel(&data);
    for env in &record.envs {
        println!(
            "{}: {} -> {} bytes ({} ms)",
            env.env, env.before_bytes, env.after_bytes, env.took_ms
        );
    }
    match record.error {
        None => Ok(()),
        Some(e) => bail!("compaction stopped, the remaining files are unchanged: {e}"),
    }
}

pub(crate) fn reset_password(
    data_dir: &std::path::Path,
    username: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        master::accounts::recovery::generate_password()?
    };
    let (_lock, store) = open_store(data_dir)?;
    let ended = master::accounts::recovery::reset_password(
        &store,
        username,
        &password,
        master::accounts::HashCost::DEFAULT,
        model::SystemClock.now_ms(),
    )?;
    if !password_stdin {
        println!("new password for {username}: {password}");
    }
    println!("password of {username} reset; {ended} session(s) ended");
    Ok(())
}

pub(crate) fn token_create(
    data_dir: PathBuf,
    valid_hours: u64,
    master: Option<String>,
) -> anyhow::Result<()> {
    let (_lock, store) = open_store(&data_dir)?;
    let keys = master_keys(&data_dir)?;
    let addr = match master {
        Some(a) => a,
        None => std::fs::read_to_string(data_dir.join(ADVERTISE_FILE))
            .with_context(|| {
                format!(
                    "no {ADVERTISE_FILE} in {}: pass --master HOST:PORT",
                    data_dir.display()
                )
            })?
            .trim()
            .to_owned(),
    };
    let token = master::tokens::issue_join_token(
        &store,
        &addr,
        keys.fingerprint(),
        Duration::from_secs(valid_hours.max(1) * 3600),
        model::SystemClock.now_ms(),
        "commander token create",
    )?;
    println!("{}", token.encode());
    Ok(())
}

pub(crate) fn node_admin(action: NodeAction) -> anyhow::Result<()> {
    match action {
        NodeAction::Revoke { id, data_dir } => {
            let (_lock, store) = open_store(&data_dir)?;
            if !store.set_revoked(id, true)? {
                bail!("node {id} does not exist");
            }
            println!("node {id} revoked; its next connection is refused");
        }
        NodeAction::List { data_dir } => {
            let (_lock, store) = open_store(&data_dir)?;
            for n in store.list_nodes()? {
                println!(
                    "{}\t{}\t{}",
                    n.id,
                    if n.revoked { "revoked" } else { "active" },
                    n.hostname
                );
            }
        }
    }
    Ok(())
}
