//! [`NothingObserved`]: the stand-in for what the replicas and gateways are doing until the
//! reconciler (which watches the slaves and replaces this in `crate::server`) is wired. It
//! reports no replica, no upstream and no gateway statistics, so every project shows
//! nothing running and `GET /api/v1/gateways` shows `"stats": null`.

use model::project::api::{GatewayStats, ReplicaView};

use super::service::ObservedProjects;

/// Observes nothing (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct NothingObserved;

impl ObservedProjects for NothingObserved {
    fn replicas(&self, _project: &str) -> Vec<ReplicaView> {
        Vec::new()
    }

    fn upstreams(&self, _project: &str) -> Vec<String> {
        Vec::new()
    }

    fn gateway_stats(&self, _name: &str) -> Option<GatewayStats> {
        None
    }
}
