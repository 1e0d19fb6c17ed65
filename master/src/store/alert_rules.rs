//! Alert rules and silences in the `data` environment: one database, `alert_rules`
//! (layout in [`super::schema`]), keyed by a kind byte (`r` for a rule, `s` for a
//! silence) and the id (`u64` big-endian), values JSON. Ids come from `meta` counters and
//! are never reused; `meta/alert_rules_seeded` records that the built-in rules were
//! written once (deleting them later does not bring them back).

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};
use model::alert_rule::{AlertRuleRecord, SilenceRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::lmdb::{LmdbStore, decode, encode};
use super::schema;

/// The `alert_rules` database.
pub(crate) type AlertRulesDb = Database<'static, Bytes, Bytes>;

/// Key prefix of a rule.
pub(crate) const RULE: u8 = b'r';
/// Key prefix of a silence.
pub(crate) const SILENCE: u8 = b's';

/// Creates (or opens) the database inside the store's opening transaction.
pub(crate) fn create<'e>(
    o: &DatabaseOpener<'e, WithoutTls>,
    w: &mut RwTxn<'e>,
) -> Result<Database<'e, Bytes, Bytes>, StoreError> {
    Ok(o.create_database(w, Some(schema::ALERT_RULES_DB))?)
}

fn key(kind: u8, id: u64) -> [u8; 9] {
    let mut k = [kind; 9];
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

impl LmdbStore {
    fn next_id(&self, wtxn: &mut RwTxn<'_>, counter: &str) -> Result<u64, StoreError> {
        let next = match self.meta.get(wtxn, counter)? {
            None => 1,
            Some(raw) => schema::decode_node_id(raw).ok_or_else(|| StoreError::Corrupt {
                key: format!("{}/{counter}", schema::META_DB),
                reason: format!("expected 8 bytes, found {}", raw.len()),
            })?,
        };
        self.meta
            .put(wtxn, counter, &next.saturating_add(1).to_be_bytes())?;
        Ok(next)
    }

    fn config_list<T: DeserializeOwned>(&self, kind: u8) -> Result<Vec<T>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for item in self.alert_rules.prefix_iter(&rtxn, &[kind][..])? {
            let (k, v) = item?;
            out.push(decode(v, || {
                format!("{}/{}", schema::ALERT_RULES_DB, hex(k))
            })?);
        }
        Ok(out)
    }

    /// Writes `value` under `kind`, allocating an id from `counter` when `id` is 0; `set`
    /// stores the id in the value. Returns the id.
    fn config_put<T: Serialize>(
        &self,
        kind: u8,
        counter: &str,
        id: u64,
        value: &mut T,
        set: fn(&mut T, u64),
        what: &'static str,
    ) -> Result<u64, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let id = if id == 0 {
            self.next_id(&mut wtxn, counter)?
        } else {
            id
        };
        set(value, id);
        let json = encode(value, what)?;
        self.alert_rules.put(&mut wtxn, &key(kind, id), &json)?;
        wtxn.commit()?;
        Ok(id)
    }

    fn config_delete(&self, kind: u8, id: u64) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let existed = self.alert_rules.delete(&mut wtxn, &key(kind, id))?;
        wtxn.commit()?;
        Ok(existed)
    }

    pub(super) fn alert_rules_list(&self) -> Result<Vec<AlertRuleRecord>, StoreError> {
        self.config_list(RULE)
    }

    pub(super) fn alert_rule_put(
        &self,
        rule: &AlertRuleRecord,
    ) -> Result<AlertRuleRecord, StoreError> {
        let mut rule = rule.clone();
        self.config_put(
            RULE,
            schema::NEXT_ALERT_RULE_ID_KEY,
            rule.id,
            &mut rule,
            |r, id| r.id = id,
            "alert rule",
        )?;
        Ok(rule)
    }

    pub(super) fn alert_rule_delete(&self, id: u64) -> Result<bool, StoreError> {
        self.config_delete(RULE, id)
    }

    pub(super) fn alert_rules_seed(&self, rules: &[AlertRuleRecord]) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        if self
            .meta
            .get(&wtxn, schema::ALERT_RULES_SEEDED_KEY)?
            .is_some()
        {
            return Ok(false);
        }
        for rule in rules {
            let mut rule = rule.clone();
            rule.id = self.next_id(&mut wtxn, schema::NEXT_ALERT_RULE_ID_KEY)?;
            let json = encode(&rule, "alert rule")?;
            self.alert_rules
                .put(&mut wtxn, &key(RULE, rule.id), &json)?;
        }
        self.meta
            .put(&mut wtxn, schema::ALERT_RULES_SEEDED_KEY, &[1])?;
        wtxn.commit()?;
        Ok(true)
    }

    pub(super) fn silences_list(&self) -> Result<Vec<SilenceRecord>, StoreError> {
        self.config_list(SILENCE)
    }

    pub(super) fn silence_put(&self, silence: &SilenceRecord) -> Result<SilenceRecord, StoreError> {
        let mut silence = silence.clone();
        self.config_put(
            SILENCE,
            schema::NEXT_SILENCE_ID_KEY,
            silence.id,
            &mut silence,
            |s, id| s.id = id,
            "silence",
        )?;
        Ok(silence)
    }

    pub(super) fn silence_delete(&self, id: u64) -> Result<bool, StoreError> {
        self.config_delete(SILENCE, id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(super) mod tests;
