//! Tasks (long operations: pulls, deployments, imports) in the `data` environment: the
//! `tasks` database and the `meta/next_task_id` counter (layout in [`super::schema`]).
//! Records are `model::task::TaskRecord` as JSON, keyed by id so they iterate in creation
//! order.

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};
use model::task::TaskRecord;

use super::StoreError;
use super::lmdb::{LmdbStore, decode, encode, keep_newest, newest_first};
use super::schema;

/// The `tasks` database.
pub(crate) type TasksDb = Database<'static, Bytes, Bytes>;

/// Creates (or opens) the database inside the store's opening transaction.
pub(crate) fn create<'e>(
    o: &DatabaseOpener<'e, WithoutTls>,
    w: &mut RwTxn<'e>,
) -> Result<Database<'e, Bytes, Bytes>, StoreError> {
    Ok(o.create_database(w, Some(schema::TASKS_DB))?)
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn key_name(id: u64) -> String {
    format!("{}/{id}", schema::TASKS_DB)
}

impl LmdbStore {
    pub(super) fn tasks_next_id(&self) -> Result<u64, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let next = match self.meta.get(&wtxn, schema::NEXT_TASK_ID_KEY)? {
            None => 1,
            Some(raw) => schema::decode_node_id(raw).ok_or_else(|| StoreError::Corrupt {
                key: format!("{}/{}", schema::META_DB, schema::NEXT_TASK_ID_KEY),
                reason: format!("expected 8 bytes, found {}", raw.len()),
            })?,
        };
        let after = next.checked_add(1).ok_or_else(|| StoreError::Corrupt {
            key: format!("{}/{}", schema::META_DB, schema::NEXT_TASK_ID_KEY),
            reason: "task ids exhausted".into(),
        })?;
        self.meta
            .put(&mut wtxn, schema::NEXT_TASK_ID_KEY, &key(after))?;
        wtxn.commit()?;
        Ok(next)
    }

    pub(super) fn tasks_put(&self, task: &TaskRecord) -> Result<(), StoreError> {
        let json = encode(task, "task record")?;
        let mut wtxn = self.data.write_txn()?;
        self.tasks.put(&mut wtxn, &key(task.id), &json)?;
        wtxn.commit()?;
        Ok(())
    }

    pub(super) fn tasks_prune(&self, keep: u64) -> Result<u64, StoreError> {
        keep_newest(&self.data, &self.tasks, keep)
    }

    pub(super) fn tasks_get(&self, id: u64) -> Result<Option<TaskRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.tasks
            .get(&rtxn, &key(id))?
            .map(|raw| decode(raw, || key_name(id)))
            .transpose()
    }

    pub(super) fn tasks_list(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        newest_first(&self.data, &self.tasks, schema::TASKS_DB, before, limit)
    }
}

#[cfg(test)]
mod tests;
