//! [`AccountService`]: registration, login, sessions, logout, password and language
//! changes, and audit writes; the master's implementation of
//! [`model::service::Accounts`] and [`model::service::AuditLog`]. The console's handlers
//! and guard are thin layers over it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use model::StoreFailure;
use model::account::rules::{check_password_strength, check_username};
use model::account::{
    AuthFailure, Authenticated, Credential, Issued, Lang, Rejected, SessionRecord, UserRecord,
};
use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult, AuditWriteHealth, actions};
use model::clock::{Clock, duration_ms};

use super::audit::AuditWrites;
use super::lockout::{Lockout, LockoutPolicy, Refusal};
use super::password::{self, HashCost};
use super::store::AuthStore;
use super::token::{Claims, TokenError, TokenKeys};
use plumbing::secret::random_hex;

/// How many password hashes may be computed at once (each takes ~19 MiB and a core).
pub const HASHING_SLOTS: usize = 2;

/// How many password checks may wait for a hashing slot; beyond that a login or
/// registration is refused at once with [`AuthFailure::Busy`] (HTTP 503).
pub const HASHING_QUEUE: usize = 8;

/// Longest user name (in characters) written to the audit log for a login or registration
/// attempt; longer names are cut (valid names have at most 64 characters anyway).
pub const AUDITED_NAME_CHARS: usize = 64;

/// Bounds of every audited string, in characters: user and target, then detail.
pub const AUDITED_FIELD_CHARS: usize = 256;
/// See [`AUDITED_FIELD_CHARS`].
pub const AUDITED_DETAIL_CHARS: usize = 1024;

/// Attempts refused without an audit entry of their own (counted instead), since the
/// service started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusedCounts {
    /// Registrations tried after registration closed.
    pub registration_closed: u64,
    /// Logins (and password changes) from a locked address.
    pub locked: u64,
    /// Logins refused because another one from the address or for the name was in flight.
    pub throttled: u64,
    /// Logins and registrations refused because the hashing queue was full.
    pub busy: u64,
}

#[derive(Debug, Default)]
struct Refused {
    registration_closed: AtomicU64,
    locked: AtomicU64,
    throttled: AtomicU64,
    busy: AtomicU64,
}

impl Refused {
    /// Counts `failure` when it is one of the refusals that are not audited one by one;
    /// returns whether it was.
    fn count(&self, failure: &AuthFailure) -> bool {
        let counter = match failure {
            AuthFailure::RegistrationClosed => &self.registration_closed,
            AuthFailure::Locked(_) => &self.locked,
            AuthFailure::Throttled => &self.throttled,
            AuthFailure::Busy => &self.busy,
            _ => return false,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// A place in the hashing queue (running or waiting); released on drop.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A login attempt reserved in the lockout and for its user name. Dropped without
/// [`Attempt::succeeded`] (a wrong password, or the request abandoned), it counts as a
/// failure.
struct Attempt<'a> {
    service: &'a AccountService,
    client: IpAddr,
    name: Option<String>,
    settle: Settle,
}

/// How a reserved attempt ends.
#[derive(Clone, Copy)]
enum Settle {
    Failure,
    Success,
    Release,
}

impl Attempt<'_> {
    /// A right password at login: the address's failures are forgotten.
    fn succeeded(mut self) {
        self.settle = Settle::Success;
    }

    /// Nothing learnt about the password (refused before hashing, a store failure), or a
    /// right one that should not forget earlier failures (a password change).
    fn released(mut self) {
        self.settle = Settle::Release;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            self.service.names_in_flight().remove(&name);
        }
        let now = self.service.now_ms();
        let mut lockout = self.service.lockout();
        match self.settle {
            Settle::Success => lockout.settle_success(self.client),
            Settle::Release => lockout.settle_release(self.client),
            Settle::Failure => {
                if let Some(locked) = lockout.settle_failure(self.client, now) {
                    tracing::warn!(client = %self.client, ?locked, "console login locked out");
                }
            }
        }
    }
}

/// Security settings of the accounts.
#[derive(Clone)]
pub struct AccountSettings {
    /// HS256 signing secret of session tokens (from `jwt.secret` or generated at first
    /// start).
    pub jwt_secret: Vec<u8>,
    /// Session lifetime (`jwt.expire`).
    pub session_ttl: Duration,
    /// Login lockout.
    pub lockout: LockoutPolicy,
    /// argon2id cost of new hashes.
    pub hash_cost: HashCost,
}

impl std::fmt::Debug for AccountSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSettings")
            .field("jwt_secret", &"<redacted>")
            .field("session_ttl", &self.session_ttl)
            .field("lockout", &self.lockout)
            .field("hash_cost", &self.hash_cost)
            .finish()
    }
}

/// The accounts service.
pub struct AccountService {
    store: Arc<dyn AuthStore>,
    keys: TokenKeys,
    settings: AccountSettings,
    lockout: Mutex<Lockout>,
    clock: Arc<dyn Clock>,
    hashing: Semaphore,
    queued: AtomicUsize,
    names_in_flight: Mutex<HashSet<String>>,
    refused: Refused,
    audit_writes: AuditWrites,
    dummy_hash: Arc<OnceLock<String>>,
    /// Throttles the `last_used_at` writes of API tokens (see `accounts::api_tokens`).
    pub(super) last_use: super::api_tokens::LastUse,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AccountService {
    /// The service over `store`, with `settings`, reading time from `clock`.
    pub fn new(
        store: Arc<dyn AuthStore>,
        settings: AccountSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            keys: TokenKeys::new(&settings.jwt_secret),
            lockout: Mutex::new(Lockout::new(settings.lockout)),
            settings,
            clock,
            hashing: Semaphore::new(HASHING_SLOTS),
            queued: AtomicUsize::new(0),
            names_in_flight: Mutex::new(HashSet::new()),
            refused: Refused::default(),
            audit_writes: AuditWrites::default(),
            dummy_hash: Arc::new(OnceLock::new()),
            last_use: super::api_tokens::LastUse::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    /// Now, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn lockout(&self) -> MutexGuard<'_, Lockout> {
        self.lockout
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn names_in_flight(&self) -> MutexGuard<'_, HashSet<String>> {
        self.names_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Attempts refused without an audit entry each (registration closed, locked address,
    /// login already in flight, hashing queue full), counted since start.
    pub fn refused_counts(&self) -> RefusedCounts {
        RefusedCounts {
            registration_closed: self.refused.registration_closed.load(Ordering::Relaxed),
            locked: self.refused.locked.load(Ordering::Relaxed),
            throttled: self.refused.throttled.load(Ordering::Relaxed),
            busy: self.refused.busy.load(Ordering::Relaxed),
        }
    }

    /// Takes every hashing slot until the permit is dropped, so that tests can hold logins
    /// in flight deterministically.
    #[cfg(test)]
    pub(super) async fn hold_hashing(&self) -> tokio::sync::SemaphorePermit<'_> {
        let all = u32::try_from(HASHING_SLOTS).unwrap_or(u32::MAX);
        self.hashing.acquire_many(all).await.unwrap()
    }

    /// A place in the hashing queue: at most [`HASHING_SLOTS`] running plus
    /// [`HASHING_QUEUE`] waiting, else [`AuthFailure::Busy`].
    fn queue_place(&self) -> Result<QueuePlace<'_>, AuthFailure> {
        let admitted = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < HASHING_SLOTS + HASHING_QUEUE).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            Ok(QueuePlace(&self.queued))
        } else {
            Err(AuthFailure::Busy)
        }
    }

    /// Reserves a login attempt from `client` for `name` before any hashing: refused while
    /// the address is locked, while another attempt of the address or for the name is in
    /// flight, or when failures plus attempts in flight reach the limit.
    fn reserve_attempt(
        &self,
        client: IpAddr,
        name: Option<&str>,
    ) -> Result<Attempt<'_>, AuthFailure> {
        let now = self.now_ms();
        self.lockout().reserve(client, now).map_err(|r| match r {
            Refusal::Locked(left) => AuthFailure::Locked(left),
            Refusal::Busy => AuthFailure::Throttled,
        })?;
        if let Some(name) = name
            && !self.names_in_flight().insert(name.to_owned())
        {
            // Nothing was checked: release the address without counting a failure.
            self.lockout().settle_release(client);
            return Err(AuthFailure::Throttled);
        }
        Ok(Attempt {
            service: self,
            client,
            name: name.map(str::to_owned),
            settle: Settle::Failure,
        })
    }

    /// Runs `f` on the store on a blocking thread.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, StoreFailure>
    where
        T: Send + 'static,
        F: FnOnce(&dyn AuthStore) -> Result<T, StoreFailure> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreFailure(format!("store task failed: {e}")))?
    }

    async fn hash(&self, password: String) -> Result<String, AuthFailure> {
        let _place = self.queue_place()?;
        let _slot = self.hashing.acquire().await.map_err(internal)?;
        let cost = self.settings.hash_cost;
        tokio::task::spawn_blocking(move || password::hash_password(&password, cost))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// Verifies against `phc`, or against a dummy hash when there is no user, so that the
    /// answer takes as long either way.
    /// The caller holds a [`QueuePlace`].
    async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_slot) = self.hashing.acquire().await else {
            return false;
        };
        let dummy = Arc::clone(&self.dummy_hash);
        let cost = self.settings.hash_cost;
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => password::verify_password(&password, &phc),
            None => {
                let dummy = dummy.get_or_init(|| {
                    password::hash_password("no such user, no such password", cost)
                        .unwrap_or_default()
                });
                password::verify_password(&password, dummy);
                false
            }
        })
        .await
        .unwrap_or(false)
    }

    /// Whether the first-start registration is still open.
    pub async fn registration_open(&self) -> Result<bool, StoreFailure> {
        self.blocking(|s| s.registration_closed().map(|closed| !closed))
            .await
    }

    /// Registers the first user (once ever). Audited, with the name cut to
    /// [`AUDITED_NAME_CHARS`]; attempts while registration is closed or the hashing queue is
    /// full are only counted ([`AccountService::refused_counts`]).
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<UserRecord, AuthFailure> {
        let outcome = self.try_register(username, password).await;
        if let Err(e) = &outcome
            && self.refused.count(e)
        {
            // Counted, not audited one by one (anyone can send these).
            return outcome;
        }
        let (result, detail) = audit_outcome(&outcome);
        let who = audited_name(username);
        self.record(AuditEntry::new(
            &who,
            actions::REGISTER,
            &who,
            client,
            result,
            detail,
        ))
        .await;
        outcome
    }

    async fn try_register(
        &self,
        username: &str,
        password: &str,
    ) -> Result<UserRecord, AuthFailure> {
        if !self.registration_open().await? {
            return Err(AuthFailure::RegistrationClosed);
        }
        check_username(username).map_err(AuthFailure::InvalidUsername)?;
        check_password_strength(password, username).map_err(AuthFailure::WeakPassword)?;
        let now = self.now_ms();
        let user = UserRecord {
            username: username.to_owned(),
            password_hash: self.hash(password.to_owned()).await?,
            created_at_ms: now,
            password_changed_at_ms: now,
            session_epoch: 1,
            lang: Lang::En,
        };
        let stored = user.clone();
        if self
            .blocking(move |s| s.register_first_user(&stored))
            .await?
        {
            tracing::info!(user = %user.username, "console administrator registered");
            Ok(user)
        } else {
            Err(AuthFailure::RegistrationClosed)
        }
    }

    /// Reserves an attempt (lockout, one in flight per address and per name, a place in the
    /// hashing queue), then checks the password; opens a session on success. Audited, with
    /// the name cut to [`AUDITED_NAME_CHARS`]; refusals before hashing are only counted
    /// ([`AccountService::refused_counts`]).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        let outcome = self.try_login(username, password, client).await;
        if let Err(e) = &outcome
            && self.refused.count(e)
        {
            return outcome;
        }
        let (result, mut detail) = audit_outcome(&outcome);
        if matches!(outcome, Err(AuthFailure::BadCredentials))
            && self.lockout().check(client, self.now_ms()).is_err()
        {
            detail.push_str("; address locked");
        }
        // The name tried is recorded as typed (bounded), to trace guessing.
        let who = audited_name(username);
        self.record(AuditEntry::new(
            &who,
            actions::LOGIN,
            &who,
            client,
            result,
            detail,
        ))
        .await;
        outcome
    }

    async fn try_login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        let key = audited_name(username);
        let attempt = self.reserve_attempt(client, Some(&key))?;
        // Refusals that checked nothing do not count as failures.
        let Ok(_place) = self.queue_place() else {
            attempt.released();
            return Err(AuthFailure::Busy);
        };
        let name = username.to_owned();
        let user = if check_username(username).is_ok() {
            match self.blocking(move |s| s.user(&name)).await {
                Ok(user) => user,
                Err(e) => {
                    attempt.released();
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let ok = self
            .verify(
                password.to_owned(),
                user.as_ref().map(|u| u.password_hash.clone()),
            )
            .await;
        match user {
            Some(user) if ok => {
                attempt.succeeded();
                let now = self.now_ms();
                let _ = self.blocking(move |s| s.prune_sessions(now)).await;
                self.open_session(&user, client).await
            }
            _ => {
                drop(attempt);
                Err(AuthFailure::BadCredentials)
            }
        }
    }

    async fn open_session(&self, user: &UserRecord, client: IpAddr) -> Result<Issued, AuthFailure> {
        let now = self.now_ms();
        let expires_at_ms = now.saturating_add(duration_ms(self.settings.session_ttl));
        let session = SessionRecord {
            id: random_hex(16).map_err(internal)?,
            username: user.username.clone(),
            epoch: user.session_epoch,
            created_at_ms: now,
            expires_at_ms,
            csrf: random_hex(32).map_err(internal)?,
            client: client.to_string(),
        };
        let token = self
            .keys
            .sign(&Claims {
                sub: user.username.clone(),
                sid: session.id.clone(),
                iat: now / 1000,
                exp: expires_at_ms / 1000,
            })
            .map_err(internal)?;
        let stored = session.clone();
        self.blocking(move |s| s.put_session(&stored)).await?;
        Ok(Issued { token, session })
    }

    /// Validates a token: a session's JWT (signature, expiry, session record, user and
    /// epoch), or an API token (`cmdr_…`, see `accounts::api_tokens`).
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, Rejected> {
        if model::token::is_api_token(token) {
            return self.authenticate_api_token(token).await;
        }
        let now = self.now_ms();
        let claims = self.keys.verify(token, now).map_err(|e| match e {
            TokenError::Expired => Rejected::Expired,
            TokenError::Invalid => Rejected::Invalid,
        })?;
        let (sid, sub) = (claims.sid.clone(), claims.sub.clone());
        let (session, user) = self
            .blocking(move |s| Ok((s.session(&sid)?, s.user(&sub)?)))
            .await
            .map_err(|e| Rejected::Internal(e.0))?;
        let session = session.ok_or(Rejected::Revoked)?;
        if session.username != claims.sub {
            return Err(Rejected::Invalid);
        }
        if session.expires_at_ms <= now {
            let id = session.id.clone();
            let _ = self.blocking(move |s| s.delete_session(&id)).await;
            return Err(Rejected::Expired);
        }
        let user = user.ok_or(Rejected::Revoked)?;
        if user.session_epoch != session.epoch {
            return Err(Rejected::Revoked);
        }
        Ok(Authenticated::session(user, session))
    }

    /// Whether the session behind `who` is still valid (not logged out, not expired,
    /// password unchanged).
    pub async fn session_valid(&self, who: &Authenticated) -> Result<bool, StoreFailure> {
        let session = match &who.credential {
            Credential::Session(session) => session,
            Credential::ApiToken(token) => return self.api_token_valid(token).await,
        };
        let (sid, name) = (session.id.clone(), who.user.username.clone());
        let now = self.now_ms();
        let (session, user) = self
            .blocking(move |s| Ok((s.session(&sid)?, s.user(&name)?)))
            .await?;
        Ok(match (session, user) {
            (Some(session), Some(user)) => {
                session.expires_at_ms > now && user.session_epoch == session.epoch
            }
            _ => false,
        })
    }

    /// Ends a session. Audited.
    pub async fn logout(&self, auth: &Authenticated, client: IpAddr) {
        let Some(session) = auth.session_record() else {
            // An API token has no session to end; it is revoked instead.
            return;
        };
        let id = session.id.clone();
        let outcome = self.blocking(move |s| s.delete_session(&id)).await;
        let (result, detail) = match &outcome {
            Ok(_) => (AuditResult::Ok, String::new()),
            Err(e) => (AuditResult::Failed, e.0.clone()),
        };
        let who = &auth.user.username;
        self.record(AuditEntry::new(
            who,
            actions::LOGOUT,
            who,
            client,
            result,
            detail,
        ))
        .await;
    }

    /// Changes the password: every session of the user ends (the epoch moves on) and a new
    /// one is opened for the caller. A wrong current password counts as a failed login for
    /// the lockout. Audited.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        current: &str,
        new: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        let outcome = self.try_change_password(auth, current, new, client).await;
        let (result, detail) = audit_outcome(&outcome);
        let who = &auth.user.username;
        self.record(AuditEntry::new(
            who,
            actions::PASSWORD_CHANGE,
            who,
            client,
            result,
            detail,
        ))
        .await;
        outcome
    }

    async fn try_change_password(
        &self,
        auth: &Authenticated,
        current: &str,
        new: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        if auth.session_record().is_none() {
            return Err(AuthFailure::SessionRequired);
        }
        let attempt = self.reserve_attempt(client, None)?;
        let Ok(place) = self.queue_place() else {
            attempt.released();
            return Err(AuthFailure::Busy);
        };
        let phc = auth.user.password_hash.clone();
        let ok = self.verify(current.to_owned(), Some(phc)).await;
        drop(place);
        if !ok {
            drop(attempt);
            return Err(AuthFailure::WrongCurrentPassword);
        }
        attempt.released();
        let name = auth.user.username.clone();
        check_password_strength(new, &name).map_err(AuthFailure::WeakPassword)?;
        let hash = self.hash(new.to_owned()).await?;
        let now = self.now_ms();
        let lookup = name.clone();
        let mut user = self
            .blocking(move |s| s.user(&lookup))
            .await?
            .ok_or(AuthFailure::BadCredentials)?;
        user.password_hash = hash;
        user.password_changed_at_ms = now;
        user.session_epoch = user.session_epoch.saturating_add(1);
        let stored = user.clone();
        self.blocking(move |s| {
            if !s.update_user(&stored)? {
                return Err(StoreFailure("the user disappeared".into()));
            }
            s.delete_sessions_of(&stored.username)
        })
        .await?;
        self.open_session(&user, client).await
    }

    /// Stores the user's language. Audited.
    pub async fn set_language(
        &self,
        auth: &Authenticated,
        lang: Lang,
        client: IpAddr,
    ) -> Result<(), AuthFailure> {
        let outcome = if auth.session_record().is_none() {
            Err(AuthFailure::SessionRequired)
        } else {
            let name = auth.user.username.clone();
            self.blocking(move |s| match s.user(&name)? {
                Some(mut user) => {
                    user.lang = lang;
                    s.update_user(&user).map(|_| ())
                }
                None => Err(StoreFailure("no such user".into())),
            })
            .await
            .map_err(AuthFailure::from)
        };
        let (result, detail) = audit_outcome(&outcome);
        let who = &auth.user.username;
        let entry = AuditEntry::new(who, actions::LANGUAGE, lang.code(), client, result, detail);
        self.record(entry).await;
        outcome
    }

    /// Writes an audit entry (`at_ms` 0 means now). A failure is logged and counted
    /// ([`AccountService::audit_write_health`]), never returned: the operation it describes
    /// has already happened.
    /// Every string is bounded ([`AUDITED_FIELD_CHARS`], [`AUDITED_DETAIL_CHARS`]).
    pub async fn record(&self, mut entry: AuditEntry) {
        bound(&mut entry.user, AUDITED_FIELD_CHARS);
        bound(&mut entry.target, AUDITED_FIELD_CHARS);
        bound(&mut entry.action, AUDITED_FIELD_CHARS);
        bound(&mut entry.client, AUDITED_FIELD_CHARS);
        bound(&mut entry.detail, AUDITED_DETAIL_CHARS);
        if entry.at_ms == 0 {
            entry.at_ms = self.now_ms();
        }
        let action = entry.action.clone();
        match self.blocking(move |s| s.append_audit(&entry)).await {
            Ok(_) => self.audit_writes.succeeded(self.now_ms()),
            Err(e) => {
                let now = self.now_ms();
                self.audit_writes.failed(now, &e.to_string());
                let failures = self.audit_writes.health(now).write_failures;
                tracing::error!(%action, failures, "cannot write the audit log: {e}");
            }
        }
    }

    /// Audit writes that failed since start, the last error and when; degraded while
    /// writes fail.
    pub fn audit_write_health(&self) -> AuditWriteHealth {
        self.audit_writes.health(self.now_ms())
    }

    /// Reads the audit log.
    pub async fn query_audit(&self, query: AuditQuery) -> Result<AuditPage, StoreFailure> {
        self.blocking(move |s| s.query_audit(&query)).await
    }
}

fn audit_outcome<T>(outcome: &Result<T, AuthFailure>) -> (AuditResult, String) {
    match outcome {
        Ok(_) => (AuditResult::Ok, String::new()),
        Err(
            e @ (AuthFailure::Locked(_)
            | AuthFailure::RegistrationClosed
            | AuthFailure::Throttled
            | AuthFailure::Busy
            | AuthFailure::SessionRequired),
        ) => (AuditResult::Denied, e.to_string()),
        Err(AuthFailure::Internal(msg)) => (AuditResult::Failed, msg.clone()),
        Err(e) => (AuditResult::Failed, e.to_string()),
    }
}

/// A user name as audited: at most [`AUDITED_NAME_CHARS`] characters.
fn audited_name(name: &str) -> String {
    name.chars().take(AUDITED_NAME_CHARS).collect()
}

/// Cuts `s` to `max` characters, saying how long it was: `…(N bytes)`.
fn bound(s: &mut String, max: usize) {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        let len = s.len();
        s.truncate(cut);
        s.push_str(&format!("…({len} bytes)"));
    }
}

fn internal(e: impl std::fmt::Display) -> AuthFailure {
    AuthFailure::Internal(e.to_string())
}
