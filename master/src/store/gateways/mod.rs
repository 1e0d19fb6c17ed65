//! Standalone gateways in the `data` environment: the `gateways` database, one
//! [`StandaloneGateway`] per gateway keyed by name (layout in [`super::schema`]). The
//! reconciler reads [`GatewayStore::list_gateways`] to push them to their slaves.

use std::collections::BTreeMap;

use model::project::gateway::StandaloneGateway;

use super::lmdb::{LmdbStore, decode, encode};
use super::{MemoryStore, StoreError, schema};

/// Where standalone gateways are kept.
pub trait GatewayStore: Send + Sync + 'static {
    /// Stores a new gateway; `Ok(false)` (nothing written) when the name is taken.
    fn create_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError>;

    /// Replaces a gateway; `Ok(false)` (nothing written) when no such gateway exists.
    fn update_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError>;

    /// One gateway.
    fn get_gateway(&self, name: &str) -> Result<Option<StandaloneGateway>, StoreError>;

    /// Every gateway, by name.
    fn list_gateways(&self) -> Result<Vec<StandaloneGateway>, StoreError>;

    /// Removes a gateway; `Ok(false)` when no such gateway exists.
    fn delete_gateway(&self, name: &str) -> Result<bool, StoreError>;
}

impl LmdbStore {
    /// Writes `gateway` when its name is taken (`exists`) or free (`!exists`).
    fn put_gateway_if(
        &self,
        gateway: &StandaloneGateway,
        exists: bool,
    ) -> Result<bool, StoreError> {
        let json = encode(gateway, "gateway")?;
        let db = self.projects.gateways;
        let mut wtxn = self.data.write_txn()?;
        if db.get(&wtxn, gateway.name.as_bytes())?.is_some() != exists {
            return Ok(false);
        }
        db.put(&mut wtxn, gateway.name.as_bytes(), &json)?;
        wtxn.commit()?;
        Ok(true)
    }
}

impl GatewayStore for LmdbStore {
    fn create_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError> {
        self.put_gateway_if(gateway, false)
    }

    fn update_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError> {
        self.put_gateway_if(gateway, true)
    }

    fn get_gateway(&self, name: &str) -> Result<Option<StandaloneGateway>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.projects
            .gateways
            .get(&rtxn, name.as_bytes())?
            .map(|raw| decode(raw, || format!("{}/{name}", schema::GATEWAYS_DB)))
            .transpose()
    }

    fn list_gateways(&self) -> Result<Vec<StandaloneGateway>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for item in self.projects.gateways.iter(&rtxn)? {
            let (key, raw) = item?;
            out.push(decode(raw, || {
                format!("{}/{}", schema::GATEWAYS_DB, String::from_utf8_lossy(key))
            })?);
        }
        Ok(out)
    }

    fn delete_gateway(&self, name: &str) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let existed = self.projects.gateways.delete(&mut wtxn, name.as_bytes())?;
        wtxn.commit()?;
        Ok(existed)
    }
}

/// The memory store's standalone gateways by name.
pub(crate) type MemoryGateways = BTreeMap<String, StandaloneGateway>;

impl GatewayStore for MemoryStore {
    fn create_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError> {
        let mut map = self.gateways_map();
        if map.contains_key(&gateway.name) {
            return Ok(false);
        }
        map.insert(gateway.name.clone(), gateway.clone());
        Ok(true)
    }

    fn update_gateway(&self, gateway: &StandaloneGateway) -> Result<bool, StoreError> {
        let mut map = self.gateways_map();
        match map.get_mut(&gateway.name) {
            Some(stored) => {
                *stored = gateway.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn get_gateway(&self, name: &str) -> Result<Option<StandaloneGateway>, StoreError> {
        Ok(self.gateways_map().get(name).cloned())
    }

    fn list_gateways(&self) -> Result<Vec<StandaloneGateway>, StoreError> {
        Ok(self.gateways_map().values().cloned().collect())
    }

    fn delete_gateway(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.gateways_map().remove(name).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LmdbStore, MemoryStore};
    use super::GatewayStore;
    use model::project::gateway::{StandaloneGateway, StandaloneGatewayInput};

    fn gateway(name: &str, port: u16) -> StandaloneGateway {
        StandaloneGatewayInput {
            name: name.into(),
            node: 1,
            port,
            upstreams: vec!["10.0.0.1:80".into()],
            ..StandaloneGatewayInput::default()
        }
        .validate()
        .expect("valid gateway")
    }

    fn exercise(store: &dyn GatewayStore) {
        assert!(store.list_gateways().unwrap().is_empty());
        assert!(store.create_gateway(&gateway("edge", 80)).unwrap());
        assert!(
            !store.create_gateway(&gateway("edge", 81)).unwrap(),
            "taken"
        );
        assert_eq!(store.get_gateway("edge").unwrap().unwrap().port, 80);
        assert!(store.create_gateway(&gateway("api", 82)).unwrap());
        assert!(store.update_gateway(&gateway("edge", 90)).unwrap());
        assert!(!store.update_gateway(&gateway("nope", 90)).unwrap());
        assert!(store.get_gateway("nope").unwrap().is_none());
        let names: Vec<(String, u16)> = store
            .list_gateways()
            .unwrap()
            .into_iter()
            .map(|g| (g.name, g.port))
            .collect();
        assert_eq!(names, vec![("api".into(), 82), ("edge".into(), 90)]);
        assert!(store.delete_gateway("api").unwrap());
        assert!(!store.delete_gateway("api").unwrap());
        assert_eq!(store.list_gateways().unwrap().len(), 1);
    }

    #[test]
    fn memory_store_keeps_gateways() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn lmdb_store_keeps_gateways_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
        {
            let store = LmdbStore::open(&data, &perf).unwrap();
            exercise(&store);
        }
        let store = LmdbStore::open(&data, &perf).unwrap();
        let kept = store.list_gateways().unwrap();
        assert_eq!(kept, vec![gateway("edge", 90)]);
    }
}
