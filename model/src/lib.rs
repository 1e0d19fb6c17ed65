//! Commander's domain model: every record the master stores or emits, their state
//! machines, the validation rules, typed errors, and the service traits through which the
//! console and the command line ask the master for things.
//!
//! | module | holds |
//! |---|---|
//! | [`cluster`] | enrolled nodes and join tokens as stored |
//! | [`node`] | nodes as shown, database sizes, live samples |
//! | [`history`] | metric history: tiers, retention, tier choice, history points |
//! | [`account`] | users, sessions, languages, name and password rules, account failures |
//! | [`audit`] | the audit log's entries, ids, queries and paging |
//! | [`task`] | tasks (long operations) and their state machine |
//! | [`token`] | API tokens: scopes, records, creation rules, token shape |
//! | [`alert`] | alerts and their history |
//! | [`channel`] | notification channels (webhook, email, DingTalk, WeCom, Feishu) and deliveries |
//! | [`data`] | data management: databases, compaction, backups, resets |
//! | [`ops`] | node operations: requests, failures (by side, retryable or not), checks |
//! | [`project`] | projects: specification, validation, revisions, status |
//! | [`service`] | the traits the master implements and the console calls |
//! | [`clock`] | time, injected wherever it matters |
//! | [`error`] | failures shared by every service |
//!
//! This crate depends on no HTTP framework, template engine, database or runtime: only
//! on `protocol` (the wire types records carry), serde, and `tokio`'s runtime-agnostic
//! `sync` channels (the event streams services hand out).

pub mod account;
pub mod alert;
pub mod alert_rule;
pub mod audit;
pub mod channel;
pub mod clock;
pub mod cluster;
pub mod data;
pub mod error;
pub mod history;
pub mod node;
pub mod ops;
pub mod project;
pub mod service;
pub mod task;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ServiceError, StoreFailure};
pub use service::Services;

/// An input that breaks a rule: the field at fault (as the client names it) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The field, as a REST client names it.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl Invalid {
    /// `field` is wrong because of `message`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
