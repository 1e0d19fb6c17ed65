//! API tokens on the master: the rules behind the token methods of
//! [`model::service::Accounts`] (see [`model::token`] for the token's shape and scopes).
//!
//! - Creation needs a console session or an admin-scoped token; the name, scopes and
//!   expiry are checked again here; the secret is 32 random bytes, of which only the
//!   SHA-256 is stored; at most [`MAX_TOKENS`] exist. Audited (`token.create`).
//! - Verification is one lookup by the id inside the token, a constant-time comparison of
//!   the secret's hash, the expiry against the injected clock, and the creator's record
//!   (the token acts as its creator). `last_used_at` is written at most once per
//!   [`LAST_USED_INTERVAL_MS`] per token ([`LastUse`]), not on every request.
//! - Revocation deletes the record, so the next request with the token is refused.
//!   Audited (`token.revoke`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use model::account::{Authenticated, Credential, Rejected};
use model::audit::{AuditEntry, AuditResult, actions};
use model::token::{
    ApiToken, ApiTokenRecord, CreatedApiToken, DAY_MS, LAST_USED_INTERVAL_MS, MAX_TOKENS,
    NewApiToken, Scope, TOKEN_PREFIX, TokenFailure, split_token, valid_id,
};
use plumbing::secret::{constant_time_eq, random_hex, to_hex};

use super::AccountService;

/// When each token's last use was last written (or claimed), so that at most one write
/// per [`LAST_USED_INTERVAL_MS`] happens per token even under concurrent requests. Holds
/// only ids of tokens that verified, and forgets revoked ones: bounded by [`MAX_TOKENS`]
/// (plus tokens removed behind the service's back, which is only a test's doing).
#[derive(Debug, Default)]
pub(super) struct LastUse(Mutex<HashMap<String, u64>>);

impl LastUse {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a use of `id` at `now_ms` is to be written (the stored last use was at
    /// `stored`); claims the write when it is.
    fn claim(&self, id: &str, stored: Option<u64>, now_ms: u64) -> bool {
        let mut map = self.lock();
        let last = map.get(id).copied().max(stored);
        if last.is_some_and(|at| now_ms.saturating_sub(at) < LAST_USED_INTERVAL_MS) {
            return false;
        }
        map.insert(id.to_owned(), now_ms);
        true
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// SHA-256 of a token's secret part, as stored: 64 lower-case hex digits.
pub fn secret_hash(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

fn internal(e: impl std::fmt::Display) -> TokenFailure {
    TokenFailure::Internal(e.to_string())
}

/// Only a console session or an admin-scoped token manages tokens.
fn may_manage(auth: &Authenticated) -> Result<(), TokenFailure> {
    if auth.scope().covers(Scope::Admin) {
        Ok(())
    } else {
        Err(TokenFailure::Forbidden)
    }
}

fn audit_result<T>(outcome: &Result<T, TokenFailure>) -> AuditResult {
    match outcome {
        Ok(_) => AuditResult::Ok,
        Err(TokenFailure::Forbidden | TokenFailure::TooMany) => AuditResult::Denied,
        Err(_) => AuditResult::Failed,
    }
}

/// `name (scopes; expiry)` for the audit detail.
fn describe(token: &ApiToken) -> String {
    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
    let expiry = token
        .expires_at_ms
        .map_or_else(|| "never expires".to_owned(), |ms| format!("expires {ms}"));
    format!("{} ({}; {expiry})", token.name, scopes.join(","))
}

impl AccountService {
    /// Verifies an API token (`cmdr_<id>_<secret>`): record, hash, expiry, creator.
    pub(super) async fn authenticate_api_token(
        &self,
        token: &str,
    ) -> Result<Authenticated, Rejected> {
        let (id, secret) = split_token(token).ok_or(Rejected::Invalid)?;
        let now = self.now_ms();
        let lookup = id.to_owned();
        let (record, user) = self
            .blocking(move |s| match s.api_token(&lookup)? {
                Some(record) => {
                    let user = s.user(&record.token.creator)?;
                    Ok((Some(record), user))
                }
                None => Ok((None, None)),
            })
            .await
            .map_err(|e| Rejected::Internal(e.0))?;
        let record = record.ok_or(Rejected::Invalid)?;
        if !constant_time_eq(&secret_hash(secret), &record.secret_hash) {
            return Err(Rejected::Invalid);
        }
        if record.token.expired(now) {
            return Err(Rejected::TokenExpired);
        }
        let user = user.ok_or(Rejected::Invalid)?;
        let mut token = record.token;
        if self.last_use.claim(&token.id, token.last_used_at_ms, now) {
            let id = token.id.clone();
            if let Err(e) = self.blocking(move |s| s.touch_api_token(&id, now)).await {
                tracing::warn!(token = %token.id, "cannot record the token's last use: {e}");
            }
            token.last_used_at_ms = Some(now);
        }
        Ok(Authenticated {
            user,
            credential: Credential::ApiToken(token),
        })
    }

    /// Whether a token validated earlier still is (not revoked, not expired).
    pub(super) async fn api_token_valid(
        &self,
        token: &ApiToken,
    ) -> Result<bool, model::StoreFailure> {
        let id = token.id.clone();
        let now = self.now_ms();
        let stored = self.blocking(move |s| s.api_token(&id)).await?;
        Ok(stored
            .is_some_and(|r| r.token.created_at_ms == token.created_at_ms && !r.token.expired(now)))
    }

    /// Creates an API token for `auth`'s user. Audited.
    pub async fn create_api_token(
        &self,
        auth: &Authenticated,
        new: NewApiToken,
        client: IpAddr,
    ) -> Result<CreatedApiToken, TokenFailure> {
        let outcome = self.try_create_api_token(auth, &new).await;
        let (target, detail) = match &outcome {
            Ok(created) => (
                format!("token/{}", created.token.id),
                describe(&created.token),
            ),
            Err(e) => ("token".to_owned(), format!("{}: {e}", new.name)),
        };
        let entry = AuditEntry::new(
            &auth.user.username,
            actions::TOKEN_CREATE,
            &target,
            client,
            audit_result(&outcome),
            detail,
        );
        self.record(entry.via(auth.via())).await;
        outcome
    }

    async fn try_create_api_token(
        &self,
        auth: &Authenticated,
        new: &NewApiToken,
    ) -> Result<CreatedApiToken, TokenFailure> {
        may_manage(auth)?;
        new.check().map_err(TokenFailure::Invalid)?;
        let id = random_hex(8).map_err(internal)?;
        let secret = random_hex(32).map_err(internal)?;
        let now = self.now_ms();
        let token = ApiToken {
            id,
            name: new.name.clone(),
            scopes: new.normalized_scopes(),
            creator: auth.user.username.clone(),
            created_at_ms: now,
            expires_at_ms: new
                .expires_in_days
                .map(|days| now.saturating_add(u64::from(days).saturating_mul(DAY_MS))),
            last_used_at_ms: None,
        };
        let record = ApiTokenRecord {
            token: token.clone(),
            secret_hash: secret_hash(&secret),
        };
        if !self
            .blocking(move |s| s.insert_api_token(&record, MAX_TOKENS))
            .await?
        {
            return Err(TokenFailure::TooMany);
        }
        tracing::info!(token = %token.id, name = %token.name, "API token created");
        let secret = format!("{TOKEN_PREFIX}{}_{secret}", token.id);
        Ok(CreatedApiToken { token, secret })
    }

    /// Every API token, newest first.
    pub async fn list_api_tokens(
        &self,
        auth: &Authenticated,
    ) -> Result<Vec<ApiToken>, TokenFailure> {
        may_manage(auth)?;
        let mut tokens: Vec<ApiToken> = self
            .blocking(|s| s.api_tokens())
            .await?
            .into_iter()
            .map(|r| r.token)
            .collect();
        tokens.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(tokens)
    }

    /// Revokes (deletes) an API token. Audited.
    pub async fn revoke_api_token(
        &self,
        auth: &Authenticated,
        id: &str,
        client: IpAddr,
    ) -> Result<ApiToken, TokenFailure> {
        let outcome = self.try_revoke_api_token(auth, id).await;
        let shown: String = id.chars().take(32).collect();
        let detail = match &outcome {
            Ok(token) => describe(token),
            Err(e) => e.to_string(),
        };
        let entry = AuditEntry::new(
            &auth.user.username,
            actions::TOKEN_REVOKE,
            &format!("token/{shown}"),
            client,
            audit_result(&outcome),
            detail,
        );
        self.record(entry.via(auth.via())).await;
        outcome
    }

    async fn try_revoke_api_token(
        &self,
        auth: &Authenticated,
        id: &str,
    ) -> Result<ApiToken, TokenFailure> {
        may_manage(auth)?;
        let not_found = || TokenFailure::NotFound(id.chars().take(32).collect());
        if !valid_id(id) {
            return Err(not_found());
        }
        let key = id.to_owned();
        let removed = self.blocking(move |s| s.delete_api_token(&key)).await?;
        self.last_use.forget(id);
        let token = removed.ok_or_else(not_found)?.token;
        tracing::info!(token = %token.id, name = %token.name, "API token revoked");
        Ok(token)
    }
}
