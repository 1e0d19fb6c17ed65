//! The cluster as the projects' [`NodeDirectory`]: a node may run a gateway when it is
//! enrolled and not revoked (online or not: a gateway waits for its slave to come back).

use super::service::NodeDirectory;
use crate::cluster::Cluster;

impl NodeDirectory for Cluster {
    fn is_enrolled(&self, id: u64) -> bool {
        self.node_view(id).is_some_and(|n| !n.revoked)
    }
}
