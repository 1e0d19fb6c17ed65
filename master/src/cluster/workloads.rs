//! Workloads on the wire (protocol version [`protocol::WORKLOADS_VERSION`]): the latest
//! [`ObservedState`] each node reported, and sending a node its [`DesiredState`].
//!
//! A desired state goes only to a node whose current session has already reported an
//! observed state: that report proves the session is welcomed and speaks workloads, and
//! it tells which generation the node runs, so the reconciler knows whether to send.

use std::net::IpAddr;
use std::sync::Arc;

use protocol::workload::{
    DesiredState, MAX_GATEWAYS_PER_NODE, MAX_REPLICAS_PER_NODE, ObservedState,
};
use protocol::{Message, WORKLOADS_VERSION};

use super::{Cluster, RequestError};
use crate::endpoint::Outbound;

/// A node's latest workload report.
#[derive(Debug, Clone)]
pub struct ObservedReport {
    /// What it reported.
    pub state: Arc<ObservedState>,
    /// When it arrived, Unix ms (master clock).
    pub received_ms: u64,
    /// The session it came on.
    pub conn_id: u64,
}

/// A node as the reconciler sees it.
#[derive(Debug, Clone)]
pub struct WorkloadNode {
    /// Node id.
    pub id: u64,
    /// Revoked by an operator: takes no replicas, its own are moved.
    pub revoked: bool,
    /// Heartbeat TTL not expired.
    pub online: bool,
    /// Its last heartbeat, Unix ms (master clock), if any.
    pub last_seen_ms: Option<u64>,
    /// Where other hosts reach its published ports: the address it advertises, else the
    /// address its session comes from.
    pub address: Option<IpAddr>,
    /// Its latest workload report on its current session (`None` before the first one).
    pub observed: Option<ObservedReport>,
    /// Memory not in use by its latest sample, bytes.
    pub mem_free_bytes: Option<u64>,
}

impl Cluster {
    pub(super) fn on_observed(&self, node_id: u64, obs: ObservedState) {
        if obs.replicas.len() > MAX_REPLICAS_PER_NODE || obs.gateways.len() > MAX_GATEWAYS_PER_NODE
        {
            tracing::warn!(
                node_id,
                replicas = obs.replicas.len(),
                gateways = obs.gateways.len(),
                "observed state over the limits ignored"
            );
            return;
        }
        let now = self.now_ms();
        let mut st = self.state();
        let Some(node) = st.nodes.get_mut(&node_id) else {
            return;
        };
        let Some(conn_id) = node.conn.as_ref().map(|c| c.conn_id) else {
            return;
        };
        node.observed = Some(ObservedReport {
            state: Arc::new(obs),
            received_ms: now,
            conn_id,
        });
    }

    /// Every enrolled node with what the reconciler needs of it.
    pub fn workload_nodes(&self) -> Vec<WorkloadNode> {
        let st = self.state();
        st.nodes
            .values()
            .map(|n| {
                let session = n.conn.as_ref();
                let observed = n
                    .observed
                    .clone()
                    .filter(|o| session.is_some_and(|c| c.conn_id == o.conn_id));
                let advertised = n
                    .observed
                    .as_ref()
                    .and_then(|o| o.state.advertise_address.parse::<IpAddr>().ok());
                WorkloadNode {
                    id: n.record.id,
                    revoked: n.record.revoked,
                    online: st.ttl.is_online(n.record.id),
                    last_seen_ms: n.last_seen_ms,
                    address: advertised.or(session.map(|c| c.peer_addr.ip())),
                    observed,
                    mem_free_bytes: n
                        .latest
                        .as_ref()
                        .map(|s| s.mem_total_bytes.saturating_sub(s.mem_used_bytes)),
                }
            })
            .collect()
    }

    /// Queues `desired` for node `node_id`. Fails for an unknown node, one without a
    /// session or whose session has not reported its workloads yet, an old protocol, or a
    /// full queue.
    pub fn send_desired(&self, node_id: u64, desired: DesiredState) -> Result<(), RequestError> {
        let st = self.state();
        let node = st
            .nodes
            .get(&node_id)
            .ok_or(RequestError::UnknownNode(node_id))?;
        let conn = node.conn.as_ref().ok_or(RequestError::Offline(node_id))?;
        if node.version < WORKLOADS_VERSION {
            return Err(RequestError::OldProtocol {
                node: node_id,
                version: node.version,
            });
        }
        if node
            .observed
            .as_ref()
            .is_none_or(|o| o.conn_id != conn.conn_id)
        {
            return Err(RequestError::Offline(node_id));
        }
        conn.outbound
            .try_send(Outbound::Send(Box::new(Message::DesiredState(desired))))
            .map_err(|_| RequestError::Busy(node_id))
    }
}

impl crate::projects::service::NodeDirectory for Cluster {
    fn is_enrolled(&self, id: u64) -> bool {
        self.state()
            .nodes
            .get(&id)
            .is_some_and(|n| !n.record.revoked)
    }
}

#[cfg(test)]
mod tests {
    use crate::projects::service::NodeDirectory;
    use crate::test_fixtures::{cluster_on, node_record};
    use std::sync::Arc;

    #[test]
    fn enrolled_nodes_may_run_gateways_until_revoked() {
        let store: Arc<dyn crate::store::Store> = Arc::new(crate::store::MemoryStore::new());
        store.put_node(&node_record(1)).unwrap();
        let mut revoked = node_record(2);
        revoked.revoked = true;
        store.put_node(&revoked).unwrap();
        let cluster = cluster_on(&store);
        assert!(cluster.is_enrolled(1));
        assert!(!cluster.is_enrolled(2), "revoked");
        assert!(!cluster.is_enrolled(3), "unknown");
    }
}
