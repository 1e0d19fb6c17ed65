//! Issuing one-time join tokens. The secret is random; only its hash is stored, and the
//! store consumes it atomically at enrolment.

use crate::store::{Store, StoreError};
use model::cluster::JoinTokenRecord;
use protocol::JoinToken;
use std::time::Duration;

/// How long a join token stays valid unless told otherwise.
pub const DEFAULT_TOKEN_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// Creates, stores and returns a new join token.
pub fn issue_join_token(
    store: &dyn Store,
    master_addr: &str,
    master_fingerprint: [u8; 32],
    valid_for: Duration,
    now_ms: u64,
    note: &str,
) -> Result<JoinToken, StoreError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| StoreError::Io(std::io::Error::other(format!("no randomness: {e}"))))?;
    let record = JoinTokenRecord {
        secret_hash: protocol::token::secret_hash(&secret),
        created_at_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(valid_for.as_millis() as u64),
        used_by: None,
        note: note.to_owned(),
    };
    store.put_join_token(&record)?;
    Ok(JoinToken {
        master_addr: master_addr.to_owned(),
        master_fingerprint,
        secret,
    })
}
