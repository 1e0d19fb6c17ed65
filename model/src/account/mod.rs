//! Console accounts: users, sessions, the console language, the rules for names and
//! passwords ([`rules`]), and why an account step did not happen ([`AuthFailure`],
//! [`Rejected`]). The master implements the rules behind
//! [`crate::service::Accounts`]; the console shows them.

pub mod rules;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::StoreFailure;
use crate::token::{ApiToken, Scope};
pub use rules::{PasswordProblem, UsernameProblem};

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Lang {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    /// Every language, in menu order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag: `en` or `zh-CN`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhCn => "简体中文",
        }
    }

    /// Parses a tag: `en...` or `zh...` (case-insensitive).
    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "en" || tag.starts_with("en-") {
            Some(Lang::En)
        } else if tag == "zh" || tag.starts_with("zh-") {
            Some(Lang::ZhCn)
        } else {
            None
        }
    }
}

/// A console account. Its `Debug` output leaves the password hash out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Login name (see [`rules::check_username`]).
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Creation time, Unix ms.
    pub created_at_ms: u64,
    /// Last password change, Unix ms.
    pub password_changed_at_ms: u64,
    /// Bumped at every password change; sessions of an older epoch are refused.
    pub session_epoch: u64,
    /// Console language.
    #[serde(default)]
    pub lang: Lang,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .field("password_changed_at_ms", &self.password_changed_at_ms)
            .field("session_epoch", &self.session_epoch)
            .field("lang", &self.lang)
            .finish()
    }
}

/// A server-side session: the JWT names it, and it is valid only while this record exists,
/// has not expired and carries the user's current epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Random id (32 hex digits), the JWT's `sid`.
    pub id: String,
    /// The user.
    pub username: String,
    /// The user's `session_epoch` when the session began.
    pub epoch: u64,
    /// Start, Unix ms.
    pub created_at_ms: u64,
    /// End, Unix ms (exclusive).
    pub expires_at_ms: u64,
    /// The synchronizer CSRF token of this session (64 hex digits).
    pub csrf: String,
    /// Client address at login.
    pub client: String,
}

/// A fresh session and its token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The signed JWT.
    pub token: String,
    /// The session record.
    pub session: SessionRecord,
}

/// What a request authenticated with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A console session (cookie, or its JWT as a Bearer token): may do everything.
    Session(SessionRecord),
    /// An API token, limited to its scope (see [`crate::token`]).
    ApiToken(ApiToken),
}

/// A valid credential and its user (for an API token, the token's creator).
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: UserRecord,
    /// The session or API token.
    pub credential: Credential,
}

impl Authenticated {
    /// A session's authentication.
    pub fn session(user: UserRecord, session: SessionRecord) -> Self {
        Self {
            user,
            credential: Credential::Session(session),
        }
    }

    /// The session, when authenticated by one.
    pub fn session_record(&self) -> Option<&SessionRecord> {
        match &self.credential {
            Credential::Session(s) => Some(s),
            Credential::ApiToken(_) => None,
        }
    }

    /// The API token, when authenticated by one.
    pub fn api_token(&self) -> Option<&ApiToken> {
        match &self.credential {
            Credential::Session(_) => None,
            Credential::ApiToken(t) => Some(t),
        }
    }

    /// What the credential may do: a session everything ([`Scope::Admin`]), a token its
    /// highest scope.
    pub fn scope(&self) -> Scope {
        self.api_token().map_or(Scope::Admin, ApiToken::scope)
    }

    /// How the audit log names the credential when it is not a session:
    /// `token:ID (name)`; empty for a session.
    pub fn via(&self) -> String {
        self.api_token()
            .map(ApiToken::audit_label)
            .unwrap_or_default()
    }

    /// When the credential ends, Unix ms (`None`: an API token without expiry).
    pub fn expires_at_ms(&self) -> Option<u64> {
        match &self.credential {
            Credential::Session(s) => Some(s.expires_at_ms),
            Credential::ApiToken(t) => t.expires_at_ms,
        }
    }
}

/// Why a login, registration or password change did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Unknown user or wrong password (never says which).
    #[error("Wrong user name or password.")]
    BadCredentials,
    /// The client address is locked out for this long.
    #[error("Too many failed logins from this address. Try again in {} min.", .0.as_secs().div_ceil(60).max(1))]
    Locked(Duration),
    /// A first user exists already.
    #[error("Registration is closed: the administrator account exists.")]
    RegistrationClosed,
    /// The user name breaks the rules.
    #[error("{0}")]
    InvalidUsername(UsernameProblem),
    /// The new password is too weak.
    #[error("{0}")]
    WeakPassword(PasswordProblem),
    /// The current password given for a change is wrong.
    #[error("The current password is wrong.")]
    WrongCurrentPassword,
    /// Another login from this address, or for this user name, is being checked; refused
    /// without hashing (HTTP 429).
    #[error(
        "Another login from this address or for this user is being checked. Try again in a moment."
    )]
    Throttled,
    /// The password-hashing queue is full; refused without hashing (HTTP 503).
    #[error("The server is busy checking other logins. Try again in a moment.")]
    Busy,
    /// The step acts on the person's own account or session, which an API token may not
    /// do (HTTP 403).
    #[error("This needs a console session; an API token cannot do it.")]
    SessionRequired,
    /// Store or hashing failure (logged; not the user's fault).
    #[error("Something went wrong on the server; the master's log has the details.")]
    Internal(String),
}

impl From<StoreFailure> for AuthFailure {
    fn from(e: StoreFailure) -> Self {
        AuthFailure::Internal(e.0)
    }
}

/// Why a session token or API token was not accepted. An unknown, revoked or forged API
/// token is [`Rejected::Invalid`] (which of them is not said).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// No credentials at all.
    #[error("authentication required")]
    Missing,
    /// Malformed or forged.
    #[error("invalid token")]
    Invalid,
    /// Past its expiry.
    #[error("session expired")]
    Expired,
    /// Logged out, or ended by a password change.
    #[error("session ended (logged out or password changed)")]
    Revoked,
    /// An API token past its expiry.
    #[error("API token expired")]
    TokenExpired,
    /// The store failed.
    #[error("cannot check the session")]
    Internal(String),
}

impl Rejected {
    /// English text for the JSON error.
    pub fn describe(&self) -> &'static str {
        match self {
            Rejected::Missing => "authentication required",
            Rejected::Invalid => "invalid token",
            Rejected::Expired => "session expired",
            Rejected::Revoked => "session ended (logged out or password changed)",
            Rejected::TokenExpired => "API token expired",
            Rejected::Internal(_) => "cannot check the session",
        }
    }
}
