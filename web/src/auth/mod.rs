//! Console authentication over HTTP: the client address, cookies, the guard of protected
//! routes (session cookie or `Authorization: Bearer`, CSRF), and the HTML and JSON handlers
//! of login, registration, logout, password and language. The rules themselves (hashing,
//! lockout, registration once, sessions) are the master's, behind
//! [`model::service::Accounts`]; [`Auth`] forwards to them.
//!
//! - [`guard`] authenticates protected routes and checks CSRF tokens; its module
//!   documentation explains the CSRF design.
//! - [`forms`] and [`json`] are the HTML and JSON handlers.

pub mod client;
mod console;
pub mod cookies;
mod failure;
pub mod forms;
pub mod guard;
pub mod json;

/// Largest body accepted by login and registration (JSON and forms), bytes; a larger one
/// is answered 413 before anything is read into memory or audited.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;

pub use client::ClientAddr;
pub use console::{Auth, ConsoleSettings};
pub use failure::{localized, status_of};
pub use guard::{AuthContext, Via};
pub use model::account::{AuthFailure, Authenticated, Issued, Rejected, UserRecord};
pub use plumbing::secret::{constant_time_eq, random_hex};
