//! Console authentication: accounts, sessions, lockout, CSRF, and their HTTP handlers.
//!
//! - [`Auth`] (in `core`) holds the rules: first-start registration (once ever), argon2id
//!   password hashes with a minimum strength, HS256 session tokens backed by a server-side
//!   session table (expiry, logout and password change enforced by the server), the login
//!   lockout per client address, and audit writes.
//! - [`guard`] authenticates protected routes (cookie or `Authorization: Bearer`) and checks
//!   CSRF tokens; its module documentation explains the CSRF design.
//! - [`forms`] and [`json`] are the HTML and JSON handlers.
//! - [`AuthStore`] is the persistence seam the master implements on LMDB;
//!   [`MemoryAuthStore`] is the in-memory twin for tests.

pub mod client;
pub mod clock;
pub mod cookies;
mod core;
mod failure;
pub mod forms;
pub mod guard;
pub mod json;
pub mod lockout;
pub mod password;
pub mod random;
pub mod recovery;
pub mod store;
pub mod token;

pub use self::core::{
    Auth, AuthSettings, Authenticated, Console, HASHING_SLOTS, Issued, entry_for,
};
pub use client::ClientAddr;
pub use clock::{Clock, ManualClock, SystemClock};
pub use failure::{AuthFailure, Rejected};
pub use guard::{AuthContext, Via};
pub use lockout::LockoutPolicy;
pub use password::HashCost;
pub use store::{AuthStore, MemoryAuthStore, SessionRecord, StoreFailure, UserRecord};
