//! A project as the master stores it: its controller state and bookkeeping, next to the
//! specification of each revision (kept separately, see `store::projects`).

use model::project::Revision;
use serde::{Deserialize, Serialize};

use super::controller::ControllerState;

/// Revisions kept per project; older ones are pruned (never the current or previous one).
pub const MAX_REVISIONS: usize = 50;

/// One project's record in the `projects` database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// Its name (the key).
    pub name: String,
    /// The newest revision allocated (the next one is one more).
    pub latest_revision: Revision,
    /// What its controller remembers.
    pub controller: ControllerState,
    /// SHA-256 of the deploy webhook's secret, hex; no webhook when absent.
    #[serde(default)]
    pub webhook_secret_sha256: Option<String>,
    /// When it was created, Unix ms.
    pub created_ms: u64,
    /// When it last changed, Unix ms.
    pub updated_ms: u64,
}
