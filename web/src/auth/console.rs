//! [`Auth`]: the console's view of accounts, sessions and the audit log, over the
//! master's [`Accounts`] and [`AuditLog`] services, plus the HTTP-only settings
//! ([`ConsoleSettings`]: secure cookies, trusted proxies). The rules (lockout, hashing,
//! registration once) are the master's; this only forwards.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use model::StoreFailure;
use model::account::{AuthFailure, Authenticated, Issued, Lang, Rejected, UserRecord};
use model::audit::{AuditEntry, AuditPage, AuditQuery};
use model::clock::Clock;
use model::service::{Accounts, AuditLog};

/// Settings of the console's HTTP side.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// Mark cookies `Secure` (the console is served over TLS, or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// Accounts, sessions and the audit log as the handlers use them.
pub struct Auth {
    accounts: Arc<dyn Accounts>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    settings: ConsoleSettings,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// The console's accounts over the master's `services`.
    pub fn new(services: &model::Services, settings: ConsoleSettings) -> Self {
        Self {
            accounts: Arc::clone(&services.accounts),
            audit: Arc::clone(&services.audit),
            clock: Arc::clone(&services.clock),
            settings,
        }
    }

    /// The HTTP settings.
    pub fn settings(&self) -> &ConsoleSettings {
        &self.settings
    }

    /// How long a new session lasts.
    pub fn session_ttl(&self) -> Duration {
        self.accounts.session_ttl()
    }

    /// Now, Unix ms (the master's clock).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Whether the first-start registration is still open.
    pub async fn registration_open(&self) -> Result<bool, StoreFailure> {
        self.accounts.registration_open().await
    }

    /// Registers the first user (once ever). Audited by the master.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<UserRecord, AuthFailure> {
        self.accounts.register(username, password, client).await
    }

    /// Logs in. Audited by the master.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        self.accounts.login(username, password, client).await
    }

    /// Validates a token.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, Rejected> {
        self.accounts.authenticate(token).await
    }

    /// Whether a session validated earlier is still valid.
    pub async fn session_valid(&self, who: &Authenticated) -> Result<bool, StoreFailure> {
        self.accounts.session_valid(who).await
    }

    /// Ends a session. Audited by the master.
    pub async fn logout(&self, auth: &Authenticated, client: IpAddr) {
        self.accounts.logout(auth, client).await;
    }

    /// Changes the password. Audited by the master.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        current: &str,
        new: &str,
        client: IpAddr,
    ) -> Result<Issued, AuthFailure> {
        self.accounts
            .change_password(auth, current, new, client)
            .await
    }

    /// Stores the user's language. Audited by the master.
    pub async fn set_language(
        &self,
        auth: &Authenticated,
        lang: Lang,
        client: IpAddr,
    ) -> Result<(), AuthFailure> {
        self.accounts.set_language(auth, lang, client).await
    }

    /// Writes an audit entry (`at_ms` 0 means now).
    pub async fn record(&self, entry: AuditEntry) {
        self.audit.record(entry).await;
    }

    /// Reads the audit log.
    pub async fn query_audit(&self, query: AuditQuery) -> Result<AuditPage, StoreFailure> {
        self.audit.query(query).await
    }
}
