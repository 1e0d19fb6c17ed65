//! Notification channels in the `data` environment: the `alert_channels` database, one
//! [`ChannelRecord`] (JSON, with its secrets: they are needed to sign and log in) per
//! channel keyed by name (layout in [`super::schema`]). At most
//! [`model::channel::MAX_CHANNELS`] channels.

use std::collections::BTreeMap;

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};
use model::channel::ChannelRecord;

use super::lmdb::{LmdbStore, decode, encode};
use super::{MemoryStore, StoreError, schema};

/// The `alert_channels` database.
pub(crate) type ChannelsDb = Database<'static, Bytes, Bytes>;

/// Creates (or opens) the database inside the store's opening transaction.
pub(crate) fn create<'e>(
    o: &DatabaseOpener<'e, WithoutTls>,
    w: &mut RwTxn<'e>,
) -> Result<Database<'e, Bytes, Bytes>, StoreError> {
    Ok(o.create_database(w, Some(schema::ALERT_CHANNELS_DB))?)
}

/// What [`ChannelStore::create_channel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Stored.
    Yes,
    /// The name is taken; nothing written.
    Taken,
    /// `max` channels exist; nothing written.
    Full,
}

/// Where notification channels are kept.
pub trait ChannelStore: Send + Sync + 'static {
    /// Stores a new channel unless its name is taken or `max` channels exist.
    fn create_channel(&self, channel: &ChannelRecord, max: usize) -> Result<Created, StoreError>;

    /// Replaces a channel; `Ok(false)` (nothing written) when no such channel exists.
    fn update_channel(&self, channel: &ChannelRecord) -> Result<bool, StoreError>;

    /// One channel.
    fn get_channel(&self, name: &str) -> Result<Option<ChannelRecord>, StoreError>;

    /// Every channel, by name.
    fn list_channels(&self) -> Result<Vec<ChannelRecord>, StoreError>;

    /// Removes a channel; `Ok(false)` when no such channel exists.
    fn delete_channel(&self, name: &str) -> Result<bool, StoreError>;
}

fn key_name(key: &[u8]) -> String {
    format!(
        "{}/{}",
        schema::ALERT_CHANNELS_DB,
        String::from_utf8_lossy(key)
    )
}

impl ChannelStore for LmdbStore {
    fn create_channel(&self, channel: &ChannelRecord, max: usize) -> Result<Created, StoreError> {
        let json = encode(channel, "alert channel")?;
        let mut wtxn = self.data.write_txn()?;
        if self.channels.get(&wtxn, channel.name.as_bytes())?.is_some() {
            return Ok(Created::Taken);
        }
        if self.channels.len(&wtxn)? >= max as u64 {
            return Ok(Created::Full);
        }
        self.channels
            .put(&mut wtxn, channel.name.as_bytes(), &json)?;
        wtxn.commit()?;
        Ok(Created::Yes)
    }

    fn update_channel(&self, channel: &ChannelRecord) -> Result<bool, StoreError> {
        let json = encode(channel, "alert channel")?;
        let mut wtxn = self.data.write_txn()?;
        if self.channels.get(&wtxn, channel.name.as_bytes())?.is_none() {
            return Ok(false);
        }
        self.channels
            .put(&mut wtxn, channel.name.as_bytes(), &json)?;
        wtxn.commit()?;
        Ok(true)
    }

    fn get_channel(&self, name: &str) -> Result<Option<ChannelRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.channels
            .get(&rtxn, name.as_bytes())?
            .map(|raw| decode(raw, || key_name(name.as_bytes())))
            .transpose()
    }

    fn list_channels(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for item in self.channels.iter(&rtxn)? {
            let (key, raw) = item?;
            out.push(decode(raw, || key_name(key))?);
        }
        Ok(out)
    }

    fn delete_channel(&self, name: &str) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let existed = self.channels.delete(&mut wtxn, name.as_bytes())?;
        wtxn.commit()?;
        Ok(existed)
    }
}

/// The memory store's channels by name.
pub(crate) type MemoryChannels = BTreeMap<String, ChannelRecord>;

impl ChannelStore for MemoryStore {
    fn create_channel(&self, channel: &ChannelRecord, max: usize) -> Result<Created, StoreError> {
        let mut map = self.channels_map();
        if map.contains_key(&channel.name) {
            return Ok(Created::Taken);
        }
        if map.len() >= max {
            return Ok(Created::Full);
        }
        map.insert(channel.name.clone(), channel.clone());
        Ok(Created::Yes)
    }

    fn update_channel(&self, channel: &ChannelRecord) -> Result<bool, StoreError> {
        match self.channels_map().get_mut(&channel.name) {
            Some(stored) => {
                *stored = channel.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn get_channel(&self, name: &str) -> Result<Option<ChannelRecord>, StoreError> {
        Ok(self.channels_map().get(name).cloned())
    }

    fn list_channels(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        Ok(self.channels_map().values().cloned().collect())
    }

    fn delete_channel(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.channels_map().remove(name).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LmdbStore, MemoryStore};
    use super::{ChannelStore, Created};
    use model::channel::{ChannelConfig, ChannelRecord};

    fn channel(name: &str, secret: &str) -> ChannelRecord {
        ChannelRecord {
            name: name.into(),
            config: ChannelConfig::Webhook {
                url: "https://example.com/hook".into(),
                secret: secret.into(),
            },
            created_at_ms: 1,
            updated_at_ms: 2,
        }
    }

    fn exercise(store: &dyn ChannelStore) {
        assert!(store.list_channels().unwrap().is_empty());
        assert_eq!(
            store.create_channel(&channel("ops", "a"), 2).unwrap(),
            Created::Yes
        );
        assert_eq!(
            store.create_channel(&channel("ops", "b"), 2).unwrap(),
            Created::Taken
        );
        assert_eq!(
            store.create_channel(&channel("dev", "c"), 2).unwrap(),
            Created::Yes
        );
        assert_eq!(
            store.create_channel(&channel("qa", "d"), 2).unwrap(),
            Created::Full
        );
        assert!(store.update_channel(&channel("ops", "z")).unwrap());
        assert!(!store.update_channel(&channel("nope", "z")).unwrap());
        assert_eq!(
            store.get_channel("ops").unwrap().unwrap().config.secret(),
            "z"
        );
        let names: Vec<String> = store
            .list_channels()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["dev", "ops"]);
        assert!(store.delete_channel("dev").unwrap());
        assert!(!store.delete_channel("dev").unwrap());
        assert!(store.get_channel("dev").unwrap().is_none());
    }

    #[test]
    fn memory_store_keeps_channels() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn lmdb_store_keeps_channels_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
        {
            let store = LmdbStore::open(&data, &perf).unwrap();
            exercise(&store);
        }
        let store = LmdbStore::open(&data, &perf).unwrap();
        assert_eq!(store.list_channels().unwrap(), vec![channel("ops", "z")]);
    }
}
