//! Failures shared by every service: the store's ([`StoreFailure`]) and the generic answer
//! of a service that could not do what was asked ([`ServiceError`]).

/// The store failed (I/O, corrupt record, full map); the message is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(pub String);

/// A service could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The thing asked for does not exist (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with work in progress, e.g. another data operation runs
    /// (409); retrying later makes sense.
    #[error("{0}")]
    Conflict(String),
    /// The store failed (500).
    #[error("store: {0}")]
    Store(#[from] StoreFailure),
    /// Anything else on the master's side (500).
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// Whether asking again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, ServiceError::Conflict(_))
    }
}
