//! The alert history in the `data` environment: the `alerts` database (layout in
//! [`super::schema`]). Records are `model::alert::AlertRecord` as JSON, keyed by alert id
//! (`u64` big-endian), so they iterate oldest first and a resolved alert replaces its
//! firing record. Ids are allocated by the master (one more than the newest stored), so
//! there is no counter here; pruning removes the lowest ids.

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};
use model::alert::AlertRecord;

use super::StoreError;
use super::lmdb::{LmdbStore, encode, keep_newest, newest_first};
use super::schema;

/// The `alerts` database.
pub(crate) type AlertsDb = Database<'static, Bytes, Bytes>;

/// Creates (or opens) the database inside the store's opening transaction.
pub(crate) fn create<'e>(
    o: &DatabaseOpener<'e, WithoutTls>,
    w: &mut RwTxn<'e>,
) -> Result<Database<'e, Bytes, Bytes>, StoreError> {
    Ok(o.create_database(w, Some(schema::ALERTS_DB))?)
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

impl LmdbStore {
    pub(super) fn alerts_put(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        let json = encode(alert, "alert record")?;
        let mut wtxn = self.data.write_txn()?;
        self.alerts.put(&mut wtxn, &key(alert.id), &json)?;
        wtxn.commit()?;
        Ok(())
    }

    pub(super) fn alerts_list(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        newest_first(&self.data, &self.alerts, schema::ALERTS_DB, before, limit)
    }

    pub(super) fn alerts_count(&self) -> Result<u64, StoreError> {
        let rtxn = self.data.read_txn()?;
        Ok(self.alerts.len(&rtxn)?)
    }

    pub(super) fn alerts_prune(&self, keep: u64) -> Result<u64, StoreError> {
        keep_newest(&self.data, &self.alerts, keep)
    }
}

#[cfg(test)]
pub(super) mod tests;
