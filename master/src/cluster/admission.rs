//! Admission of a slave's session: protocol version negotiation, then enrolment with a
//! one-time join token or resumption with a known key, decided against the store off the
//! async workers. An accepted session replaces the node's previous one and brings the node
//! online (resolving its offline alert); a key revoked behind the master's back is
//! forgotten in memory too.

use super::{Cluster, LiveNode};
use crate::endpoint::{AuthVerdict, ConnHandle, Outbound};
use crate::store::{Store, StoreError};
use crate::ttl::Liveness;
use model::cluster::{EnrollRefusal, NodeRecord};
use protocol::{HelloAuth, Reject, RejectReason, negotiate};
use std::sync::Arc;

impl Cluster {
    pub(super) async fn authenticate(
        &self,
        conn: ConnHandle,
        peer_static: [u8; 32],
        hello: protocol::Hello,
    ) -> AuthVerdict {
        let reject = |reason, message: String| AuthVerdict::Reject(Reject { reason, message });
        let Some(version) = negotiate(hello.min_version, hello.max_version) else {
            let why = format!(
                "no common protocol version: slave speaks {}..={}, master {}..={}",
                hello.min_version,
                hello.max_version,
                protocol::PROTOCOL_VERSION_MIN,
                protocol::PROTOCOL_VERSION_MAX
            );
            return reject(RejectReason::VersionUnsupported, why);
        };
        let store = Arc::clone(&self.inner.store);
        let agent_version = hello.agent_version.clone();
        let auth = hello.auth.clone();
        let now = self.now_ms();
        let decided = tokio::task::spawn_blocking(move || {
            let outcome = decide(store.as_ref(), &auth, &peer_static, &agent_version, now)?;
            // A key revoked behind the master's back (`commander node revoke`): its node
            // is forgotten in memory too, so its silence raises no alert.
            let revoked = match &outcome {
                Err(AuthVerdict::Reject(r)) if r.reason == RejectReason::Revoked => {
                    store.node_by_key(&peer_static)?.map(|n| n.id)
                }
                _ => None,
            };
            Ok::<_, StoreError>(outcome.map_err(|verdict| (verdict, revoked)))
        })
        .await;
        let record = match decided {
            Ok(Ok(Ok(record))) => record,
            Ok(Ok(Err((verdict, revoked)))) => {
                if let Some(node_id) = revoked {
                    let mut st = self.state();
                    self.forget_revoked(&mut st, node_id, self.now_ms());
                }
                return verdict;
            }
            Ok(Err(e)) => {
                tracing::error!("store failed during authentication: {e}");
                return reject(RejectReason::Internal, "master storage error".into());
            }
            Err(e) => {
                tracing::error!("authentication task failed: {e}");
                return reject(RejectReason::Internal, "master error".into());
            }
        };
        let node_id = record.id;
        let now = self.now_ms();
        let mut st = self.state();
        let liveness = st.ttl.heartbeat(node_id, now);
        let node = st.nodes.entry(node_id).or_insert_with(|| LiveNode {
            record: record.clone(),
            conn: None,
            latest: None,
            last_seen_ms: None,
            version,
            observed: None,
        });
        node.record = record;
        node.last_seen_ms = Some(now);
        node.version = version;
        if let Some(old) = node.conn.replace(conn) {
            let _ = old.outbound.try_send(Outbound::Close);
        }
        if liveness == Liveness::CameOnline {
            self.alert_online(&mut st, node_id, now);
        }
        drop(st);
        tracing::info!(node_id, agent = %hello.agent_version, "node online (session accepted)");
        AuthVerdict::Accept {
            node_id,
            version,
            heartbeat_interval_ms: self.inner.timing.heartbeat_interval.as_millis() as u32,
        }
    }
}

/// Authentication against the store; blocking (runs off the async workers).
fn decide(
    store: &dyn Store,
    auth: &HelloAuth,
    peer_static: &[u8; 32],
    agent_version: &str,
    now_ms: u64,
) -> Result<Result<NodeRecord, AuthVerdict>, StoreError> {
    let reject = |reason, message: String| Err(AuthVerdict::Reject(Reject { reason, message }));
    match auth {
        HelloAuth::Enroll { secret } => {
            let hash = protocol::token::secret_hash(secret);
            match store.enroll_node(&hash, peer_static, agent_version, now_ms)? {
                Ok(record) => {
                    tracing::info!(node_id = record.id, "node enrolled");
                    Ok(Ok(record))
                }
                Err(refusal) => {
                    let why = match refusal {
                        EnrollRefusal::UnknownToken => "unknown join token".to_string(),
                        EnrollRefusal::TokenUsed => "join token already used".to_string(),
                        EnrollRefusal::TokenExpired => "join token expired".to_string(),
                        EnrollRefusal::KeyAlreadyEnrolled { node_id } => {
                            format!("this key is already enrolled as node {node_id}")
                        }
                    };
                    Ok(reject(RejectReason::TokenInvalid, why))
                }
            }
        }
        HelloAuth::Resume { node_id } => match store.node_by_key(peer_static)? {
            Some(n) if n.revoked => Ok(reject(
                RejectReason::Revoked,
                format!("node {} was revoked", n.id),
            )),
            Some(mut n) if n.id == *node_id => {
                if n.agent_version != agent_version {
                    n.agent_version = agent_version.to_owned();
                    let mut set_version =
                        |stored: &mut NodeRecord| stored.agent_version = agent_version.to_owned();
                    store.update_node(n.id, &mut set_version)?;
                }
                Ok(Ok(n))
            }
            _ => Ok(reject(
                RejectReason::UnknownNode,
                format!("node {node_id} is not known with this key"),
            )),
        },
    }
}
