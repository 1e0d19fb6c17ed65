//! API tokens in the `data` environment: the `api_tokens` database (layout in
//! [`super::schema`]). Records are `model::token::ApiTokenRecord` as JSON (the SHA-256 of
//! the secret, never the secret), keyed by the token id (16 hex digits), so verifying a
//! presented token is one lookup. Revoking deletes the record. The AuthStore methods of
//! `store::console` call these.

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};
use model::token::ApiTokenRecord;

use super::StoreError;
use super::lmdb::{LmdbStore, decode, encode};
use super::schema;

/// The `api_tokens` database.
pub(crate) type ApiTokensDb = Database<'static, Bytes, Bytes>;

/// Creates (or opens) the database inside the store's opening transaction.
pub(crate) fn create<'e>(
    o: &DatabaseOpener<'e, WithoutTls>,
    w: &mut RwTxn<'e>,
) -> Result<Database<'e, Bytes, Bytes>, StoreError> {
    Ok(o.create_database(w, Some(schema::API_TOKENS_DB))?)
}

fn key_name(id: &[u8]) -> String {
    format!("{}/{}", schema::API_TOKENS_DB, String::from_utf8_lossy(id))
}

impl LmdbStore {
    /// Stores `record` unless `max` tokens exist (`Ok(false)`). An id already taken is an
    /// error (ids are 64 random bits).
    pub(crate) fn api_tokens_insert(
        &self,
        record: &ApiTokenRecord,
        max: usize,
    ) -> Result<bool, StoreError> {
        let json = encode(record, "API token")?;
        let key = record.token.id.as_bytes();
        let mut wtxn = self.data.write_txn()?;
        if self.api_tokens.len(&wtxn)? >= max as u64 {
            return Ok(false);
        }
        if self.api_tokens.get(&wtxn, key)?.is_some() {
            return Err(StoreError::Corrupt {
                key: key_name(key),
                reason: "token id already taken".into(),
            });
        }
        self.api_tokens.put(&mut wtxn, key, &json)?;
        wtxn.commit()?;
        Ok(true)
    }

    pub(crate) fn api_tokens_get(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.api_tokens
            .get(&rtxn, id.as_bytes())?
            .map(|raw| decode(raw, || key_name(id.as_bytes())))
            .transpose()
    }

    pub(crate) fn api_tokens_list(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for item in self.api_tokens.iter(&rtxn)? {
            let (key, raw) = item?;
            out.push(decode(raw, || key_name(key))?);
        }
        Ok(out)
    }

    pub(crate) fn api_tokens_delete(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let Some(raw) = self.api_tokens.get(&wtxn, id.as_bytes())? else {
            return Ok(None);
        };
        // A record that no longer decodes is still removed.
        let record = decode(raw, || key_name(id.as_bytes())).ok();
        self.api_tokens.delete(&mut wtxn, id.as_bytes())?;
        wtxn.commit()?;
        Ok(record.or_else(|| {
            Some(ApiTokenRecord {
                token: model::token::ApiToken {
                    id: id.to_owned(),
                    name: String::new(),
                    scopes: Vec::new(),
                    creator: String::new(),
                    created_at_ms: 0,
                    expires_at_ms: None,
                    last_used_at_ms: None,
                },
                secret_hash: String::new(),
            })
        }))
    }

    /// Sets `last_used_at_ms` of an existing token; `Ok(false)` when it is gone (a token
    /// revoked meanwhile is not brought back).
    pub(crate) fn api_tokens_touch(&self, id: &str, at_ms: u64) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let Some(raw) = self.api_tokens.get(&wtxn, id.as_bytes())? else {
            return Ok(false);
        };
        let mut record: ApiTokenRecord = decode(raw, || key_name(id.as_bytes()))?;
        record.token.last_used_at_ms = Some(at_ms);
        let json = encode(&record, "API token")?;
        self.api_tokens.put(&mut wtxn, id.as_bytes(), &json)?;
        wtxn.commit()?;
        Ok(true)
    }
}
