//! A project as the master stores it: its controller state and bookkeeping, next to the
//! specification of each revision (kept separately, see `store::projects`).
//!
//! The record holds the webhook's key itself, as GitHub and GitLab do for theirs: an HMAC
//! cannot be checked against a hash of its key. The `data` environment is private to the
//! master (0600); the key never leaves it after creation.

use model::project::Revision;
use serde::{Deserialize, Serialize};

use super::controller::{Controller, ControllerState};

/// Accepted webhook signatures remembered per project against replays.
pub const MAX_SEEN_SIGNATURES: usize = 256;

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
    /// The deploy webhook's HMAC-SHA256 key (it must be kept to check signatures; shown
    /// once at creation, never answered again); no webhook when absent.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Signatures of the newest accepted webhook calls (at most [`MAX_SEEN_SIGNATURES`]),
    /// so a replayed call is refused.
    #[serde(default)]
    pub seen_signatures: Vec<String>,
    /// The replicas the master placed, each on a node with a revision (the slaves are told
    /// to run exactly these).
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// When it was created, Unix ms.
    pub created_ms: u64,
    /// When it last changed, Unix ms.
    pub updated_ms: u64,
}

impl ProjectRecord {
    /// Allocates the next revision and starts the controller's rollout to it; answers it.
    pub fn start_revision(&mut self) -> Revision {
        self.latest_revision += 1;
        let mut controller = Controller {
            state: self.controller.clone(),
        };
        controller.update(self.latest_revision);
        self.controller = controller.state;
        self.latest_revision
    }
}

/// One replica the master placed: the slave of `node` is told to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Replica id, unique in the cluster (`<project>-<revision>-<random>`).
    pub id: String,
    /// The node told to run it.
    pub node: u64,
    /// The revision it runs.
    pub revision: Revision,
    /// When it was placed, Unix ms (master clock).
    pub created_ms: u64,
    /// Since when it is out of the gateway, waiting to be stopped.
    #[serde(default)]
    pub draining_since_ms: Option<u64>,
}
