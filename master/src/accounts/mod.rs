//! Console accounts on the master: the rules behind [`model::service::Accounts`] and the
//! audit log behind [`model::service::AuditLog`].
//!
//! - [`AccountService`] (in `service`; its `model` trait impls in `service_traits`) holds
//!   the rules: first-start registration (once ever), argon2id password hashes with a
//!   minimum strength, HS256 session tokens backed by a server-side session table (expiry,
//!   logout and password change enforced here), the login lockout per client address, and
//!   audit writes.
//! - [`AuthStore`] is the persistence seam, implemented on LMDB ([`crate::store`]) and in
//!   memory ([`MemoryAuthStore`]) for tests.
//! - `api_tokens` holds the rules of API tokens (create, verify, revoke, last use),
//!   part of [`AccountService`].
//! - [`recovery`] is `commander user reset-password`.
//! - [`audit`] bounds the audit log ([`AuditLimits`], applied by every store as it appends)
//!   and counts failed audit writes ([`AuditWrites`], shown by the health check).

mod api_tokens;
pub mod audit;
pub mod lockout;
pub mod password;
pub mod recovery;
mod service;
mod service_traits;
pub mod store;
pub mod token;

#[cfg(test)]
mod api_token_tests;
#[cfg(test)]
mod attack_tests;

pub use api_tokens::secret_hash as api_token_secret_hash;
pub use audit::{AuditLimits, AuditWrites};
pub use lockout::LockoutPolicy;
pub use password::HashCost;
pub use service::{
    AUDITED_DETAIL_CHARS, AUDITED_FIELD_CHARS, AUDITED_NAME_CHARS, AccountService, AccountSettings,
    HASHING_QUEUE, HASHING_SLOTS, RefusedCounts,
};
pub use store::{AuthStore, MemoryAuthStore};
