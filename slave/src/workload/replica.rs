//! The replica reconciler's sans-io core: from the desired replicas, this slave's [`Owner`], the
//! containers the engine lists and what the supervisor remembers (creations under way,
//! failed creations, removals under way), it decides what to do ([`Action`]) and what to
//! report ([`ObservedReplica`]). No engine, clock or socket here: [`super::driver`] lists
//! the containers and carries the actions out.
//!
//! Rules:
//! * a container is ours when its [`LABEL_OWNER`] is this slave's key fingerprint and it
//!   has a [`LABEL_REPLICA`]; containers of other slaves (two slaves, of one cluster or of
//!   two, may share one engine: node ids repeat across clusters, key fingerprints do not)
//!   and unlabelled ones are never touched;
//! * a desired replica without a container is created (again, when removed by hand),
//!   unless its creation is under way or failed (reported `Exited` with the message: the
//!   master replaces it);
//! * a container of ours whose replica is not desired, or a second container of one
//!   replica, is removed;
//! * an exited container is reported `Exited` with its exit code and left for the master.

use protocol::ops::docker::ContainerCreate;
use protocol::workload::{
    LABEL_NODE, LABEL_OWNER, LABEL_PROJECT, LABEL_REPLICA, LABEL_REVISION, ObservedReplica,
    ReplicaSpec, ReplicaState,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Prefix of every replica container's name: `commander-<replica id>`.
pub const CONTAINER_PREFIX: &str = "commander-";

/// The slave a replica container belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The node id the master gave this slave (label [`LABEL_NODE`], for people and the
    /// master; every master numbers its first slave 1).
    pub node: u64,
    /// Hex SHA-256 fingerprint of this slave's static public key (label [`LABEL_OWNER`]):
    /// what tells this slave's containers from any other's.
    pub key: String,
}

/// A container as the engine lists it, with the facts the driver read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenContainer {
    /// Engine id.
    pub id: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Engine state: `created`, `running`, `paused`, `restarting`, `exited`, `dead`, ...
    pub state: String,
    /// The host port its replica's container port is published on, when known.
    pub host_port: Option<u16>,
    /// Its exit code, once it exited and was inspected.
    pub exit_code: Option<i64>,
}

impl SeenContainer {
    /// The replica id when the container belongs to `owner` (its owner label is the
    /// owner's key; the node label is not looked at, since node ids repeat across clusters).
    pub fn replica_of(&self, owner: &Owner) -> Option<&str> {
        let key = self.labels.get(LABEL_OWNER)?;
        (!owner.key.is_empty() && *key == owner.key)
            .then(|| self.labels.get(LABEL_REPLICA).map(String::as_str))
            .flatten()
    }

    fn is_exited(&self) -> bool {
        matches!(self.state.as_str(), "exited" | "dead" | "removing")
    }

    fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "paused")
    }
}

/// What the supervisor remembers between reconciles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Replicas whose creation is under way.
    pub creating: HashSet<String>,
    /// Replicas whose creation failed, with the message for a person.
    pub failed: HashMap<String, String>,
    /// Containers whose removal is under way.
    pub removing: HashSet<String>,
}

impl Memory {
    /// Forgets failures of replicas no longer desired.
    pub fn prune(&mut self, desired: &[ReplicaSpec]) {
        let ids: HashSet<&str> = desired.iter().map(|r| r.id.as_str()).collect();
        self.failed.retain(|id, _| ids.contains(id.as_str()));
    }
}

/// One step for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Pull if missing, create and start this replica's container.
    Create(Box<ReplicaSpec>),
    /// Stop (10 s) and remove this container of ours.
    Remove {
        /// Engine id.
        container: String,
        /// The replica it was.
        replica: String,
    },
}

/// The outcome of one reconcile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Steps to take, creations first.
    pub actions: Vec<Action>,
    /// Every desired replica as it is now, in the desired order.
    pub observed: Vec<ObservedReplica>,
}

/// Decides what to do. `healthy(replica, container)` tells whether a running replica's
/// health check passes.
pub fn plan(
    desired: &[ReplicaSpec],
    owner: &Owner,
    containers: &[SeenContainer],
    memory: &Memory,
    healthy: impl Fn(&str, &str) -> bool,
) -> Plan {
    let mut by_replica: HashMap<&str, Vec<&SeenContainer>> = HashMap::new();
    for c in containers {
        if let Some(replica) = c.replica_of(owner) {
            by_replica.entry(replica).or_default().push(c);
        }
    }
    let mut plan = Plan::default();
    let mut removals = Vec::new();
    let wanted: HashSet<&str> = desired.iter().map(|r| r.id.as_str()).collect();
    for spec in desired {
        let mut mine = by_replica.remove(spec.id.as_str()).unwrap_or_default();
        // Prefer a running container, then a fresh one; the others are extras.
        mine.sort_by_key(|c| (!c.is_running(), c.is_exited()));
        let chosen = mine.first().copied();
        for extra in mine.iter().skip(1) {
            removals.push(remove(extra, &spec.id));
        }
        let observed = match chosen {
            Some(c) => observe(spec, c, healthy(&spec.id, &c.id)),
            None => {
                if let Some(message) = memory.failed.get(&spec.id) {
                    exited(spec, String::new(), None, message.clone())
                } else {
                    if !memory.creating.contains(&spec.id) {
                        plan.actions.push(Action::Create(Box::new(spec.clone())));
                    }
                    starting(spec, String::new())
                }
            }
        };
        plan.observed.push(observed);
    }
    let mut strays: Vec<_> = by_replica
        .into_iter()
        .filter(|(id, _)| !wanted.contains(id))
        .collect();
    strays.sort_by_key(|(id, _)| *id);
    for (id, list) in strays {
        for c in list {
            removals.push(remove(c, id));
        }
    }
    plan.actions.extend(removals.into_iter().filter(
        |a| !matches!(a, Action::Remove { container, .. } if memory.removing.contains(container)),
    ));
    plan
}

fn remove(c: &SeenContainer, replica: &str) -> Action {
    Action::Remove {
        container: c.id.clone(),
        replica: replica.to_string(),
    }
}

fn observe(spec: &ReplicaSpec, c: &SeenContainer, healthy: bool) -> ObservedReplica {
    if c.is_exited() {
        let message = match c.exit_code {
            Some(code) => format!("the container exited with code {code}"),
            None => "the container exited".to_string(),
        };
        return exited(spec, c.id.clone(), c.exit_code, message);
    }
    if !c.is_running() {
        return starting(spec, c.id.clone());
    }
    ObservedReplica {
        id: spec.id.clone(),
        container: c.id.clone(),
        state: ReplicaState::Running,
        host_port: c.host_port,
        healthy: healthy && c.state == "running",
        exit_code: None,
        message: if c.state == "paused" {
            "the container is paused".into()
        } else {
            String::new()
        },
    }
}

fn starting(spec: &ReplicaSpec, container: String) -> ObservedReplica {
    ObservedReplica {
        id: spec.id.clone(),
        container,
        state: ReplicaState::Starting,
        host_port: None,
        healthy: false,
        exit_code: None,
        message: String::new(),
    }
}

fn exited(
    spec: &ReplicaSpec,
    container: String,
    exit_code: Option<i64>,
    message: String,
) -> ObservedReplica {
    ObservedReplica {
        id: spec.id.clone(),
        container,
        state: ReplicaState::Exited,
        host_port: None,
        healthy: false,
        exit_code,
        message,
    }
}

/// The container of `spec` for `owner`: named `commander-<id>`, the spec's labels with ours
/// on top, restart policy "no", its limits. The container port is published separately
/// ([`crate::docker::ContainerRuntime::create_container_engine_ports`]).
pub fn container_form(spec: &ReplicaSpec, owner: &Owner) -> ContainerCreate {
    let mut labels: BTreeMap<String, String> = spec.labels.iter().cloned().collect();
    labels.insert(LABEL_PROJECT.into(), spec.project.clone());
    labels.insert(LABEL_REVISION.into(), spec.revision.to_string());
    labels.insert(LABEL_NODE.into(), owner.node.to_string());
    labels.insert(LABEL_OWNER.into(), owner.key.clone());
    labels.insert(LABEL_REPLICA.into(), spec.id.clone());
    ContainerCreate {
        image: spec.image.clone(),
        name: Some(format!("{CONTAINER_PREFIX}{}", spec.id)),
        cmd: spec.cmd.clone(),
        env: spec.env.clone(),
        ports: Vec::new(),
        volumes: spec.volumes.clone(),
        restart: protocol::ops::docker::RestartPolicy::No,
        labels,
        memory_bytes: spec.memory_bytes,
        nano_cpus: spec.nano_cpus,
        network: None,
        workdir: None,
        user: None,
        start: true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::workload::testing::replica_spec;

    const NODE: u64 = 3;

    /// The slave numbered `node`, with a key of its own.
    fn owner(node: u64) -> Owner {
        Owner {
            node,
            key: format!("{node:064x}"),
        }
    }

    fn container(id: &str, node: u64, replica: &str, state: &str) -> SeenContainer {
        SeenContainer {
            id: id.into(),
            labels: BTreeMap::from([
                (LABEL_NODE.to_string(), node.to_string()),
                (LABEL_OWNER.to_string(), owner(node).key),
                (LABEL_REPLICA.to_string(), replica.to_string()),
                (LABEL_PROJECT.to_string(), "web".to_string()),
            ]),
            state: state.into(),
            host_port: (state == "running").then_some(32768),
            exit_code: None,
        }
    }

    fn healthy_all(_: &str, _: &str) -> bool {
        true
    }

    #[test]
    fn missing_replicas_are_created_and_reported_starting() {
        let desired = vec![
            replica_spec("web-1-a", "web", 1, "app:v1"),
            replica_spec("web-1-b", "web", 1, "app:v1"),
        ];
        let p = plan(&desired, &owner(NODE), &[], &Memory::default(), healthy_all);
        assert_eq!(
            p.actions,
            vec![
                Action::Create(Box::new(desired[0].clone())),
                Action::Create(Box::new(desired[1].clone()))
            ]
        );
        assert!(p.observed.iter().all(|o| o.state == ReplicaState::Starting));
        assert_eq!(p.observed[1].id, "web-1-b");
    }

    #[test]
    fn creation_under_way_is_not_repeated() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let memory = Memory {
            creating: HashSet::from(["web-1-a".to_string()]),
            ..Memory::default()
        };
        let p = plan(&desired, &owner(NODE), &[], &memory, healthy_all);
        assert!(p.actions.is_empty());
        assert_eq!(p.observed[0].state, ReplicaState::Starting);
    }

    #[test]
    fn running_replica_is_reported_with_port_and_health() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let seen = vec![container("c1", NODE, "web-1-a", "running")];
        let p = plan(&desired, &owner(NODE), &seen, &Memory::default(), |r, c| {
            r == "web-1-a" && c == "c1"
        });
        assert!(p.actions.is_empty());
        let o = &p.observed[0];
        assert_eq!(
            (o.state, o.host_port, o.healthy, o.container.as_str()),
            (ReplicaState::Running, Some(32768), true, "c1")
        );
        let p = plan(&desired, &owner(NODE), &seen, &Memory::default(), |_, _| {
            false
        });
        assert!(!p.observed[0].healthy);
    }

    #[test]
    fn foreign_node_and_unlabelled_containers_are_never_touched() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let mut unlabelled = container("u1", NODE, "x", "running");
        unlabelled.labels.clear();
        let seen = vec![
            // Another slave's container, even one for a replica id we are asked to run.
            container("f1", NODE + 1, "web-1-a", "running"),
            container("f2", NODE + 1, "old-stray", "exited"),
            unlabelled,
        ];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert_eq!(
            p.actions,
            vec![Action::Create(Box::new(desired[0].clone()))]
        );
        assert_eq!(p.observed[0].state, ReplicaState::Starting);
    }

    #[test]
    fn stray_own_containers_are_removed() {
        let desired = vec![replica_spec("web-2-a", "web", 2, "app:v2")];
        let seen = vec![
            container("c-old", NODE, "web-1-a", "running"),
            container("c-new", NODE, "web-2-a", "running"),
            container("c-gone", NODE, "web-1-b", "exited"),
        ];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert_eq!(
            p.actions,
            vec![
                Action::Remove {
                    container: "c-old".into(),
                    replica: "web-1-a".into()
                },
                Action::Remove {
                    container: "c-gone".into(),
                    replica: "web-1-b".into()
                },
            ]
        );
        // A removal under way is not asked for again.
        let memory = Memory {
            removing: HashSet::from(["c-old".to_string()]),
            ..Memory::default()
        };
        let p = plan(&desired, &owner(NODE), &seen, &memory, healthy_all);
        assert_eq!(p.actions.len(), 1);
    }

    #[test]
    fn duplicate_container_of_one_replica_keeps_the_running_one() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let seen = vec![
            container("c-dead", NODE, "web-1-a", "exited"),
            container("c-live", NODE, "web-1-a", "running"),
        ];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert_eq!(p.observed[0].container, "c-live");
        assert_eq!(
            p.actions,
            vec![Action::Remove {
                container: "c-dead".into(),
                replica: "web-1-a".into()
            }]
        );
    }

    #[test]
    fn hand_removed_replica_is_created_again() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let seen = vec![container("c1", NODE, "web-1-a", "running")];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert!(p.actions.is_empty());
        // Someone ran `docker rm -f`: the next listing lacks it.
        let p = plan(&desired, &owner(NODE), &[], &Memory::default(), healthy_all);
        assert_eq!(
            p.actions,
            vec![Action::Create(Box::new(desired[0].clone()))]
        );
    }

    #[test]
    fn exited_replica_is_reported_with_its_code_and_left_alone() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let mut c = container("c1", NODE, "web-1-a", "exited");
        c.exit_code = Some(137);
        let p = plan(
            &desired,
            &owner(NODE),
            &[c],
            &Memory::default(),
            healthy_all,
        );
        assert!(p.actions.is_empty(), "left for the master to replace");
        let o = &p.observed[0];
        assert_eq!(
            (o.state, o.exit_code, o.healthy, o.host_port),
            (ReplicaState::Exited, Some(137), false, None)
        );
        assert!(o.message.contains("137"), "{}", o.message);
    }

    #[test]
    fn failed_creation_is_reported_exited_with_the_message_and_not_retried() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let mut memory = Memory::default();
        memory
            .failed
            .insert("web-1-a".into(), "pull access denied".into());
        let p = plan(&desired, &owner(NODE), &[], &memory, healthy_all);
        assert!(p.actions.is_empty());
        assert_eq!(p.observed[0].state, ReplicaState::Exited);
        assert_eq!(p.observed[0].message, "pull access denied");
        memory.prune(&[]);
        assert!(memory.failed.is_empty(), "forgotten once not desired");
    }

    #[test]
    fn created_but_not_started_is_starting() {
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let seen = vec![container("c1", NODE, "web-1-a", "created")];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert!(p.actions.is_empty());
        assert_eq!(p.observed[0].state, ReplicaState::Starting);
        assert_eq!(p.observed[0].container, "c1");
    }

    #[test]
    fn another_clusters_slave_with_our_node_id_is_never_touched() {
        // Two masters both number their first slave 1; their slaves share one engine.
        let desired = vec![replica_spec("web-1-a", "web", 1, "app:v1")];
        let other_cluster = Owner {
            node: NODE,
            key: "f".repeat(64),
        };
        let mut theirs = container("t1", NODE, "api-1-x", "running");
        theirs
            .labels
            .insert(LABEL_OWNER.into(), other_cluster.key.clone());
        let mut theirs_same_replica = container("t2", NODE, "web-1-a", "running");
        theirs_same_replica
            .labels
            .insert(LABEL_OWNER.into(), other_cluster.key.clone());
        // A container with our node label but no owner label (not made by a slave of
        // this version, or by hand) is not ours either.
        let mut ownerless = container("t3", NODE, "web-1-z", "running");
        ownerless.labels.remove(LABEL_OWNER);
        let seen = vec![theirs, theirs_same_replica, ownerless];
        let p = plan(
            &desired,
            &owner(NODE),
            &seen,
            &Memory::default(),
            healthy_all,
        );
        assert_eq!(
            p.actions,
            vec![Action::Create(Box::new(desired[0].clone()))]
        );
        // And the other cluster's slave, asked for nothing, removes nothing of ours.
        let ours = container("o1", NODE, "web-1-a", "running");
        let p = plan(
            &[],
            &other_cluster,
            &[ours],
            &Memory::default(),
            healthy_all,
        );
        assert!(p.actions.is_empty(), "{:?}", p.actions);
    }

    #[test]
    fn our_key_owns_a_container_whatever_its_node_label() {
        // Re-enrolled with the same key under a new node id: the old containers are still
        // this slave's, so an undesired one is removed as a stray.
        let seen = vec![container("c1", NODE, "web-1-a", "running")];
        let me = Owner {
            node: NODE + 10,
            key: owner(NODE).key,
        };
        let p = plan(&[], &me, &seen, &Memory::default(), healthy_all);
        assert_eq!(
            p.actions,
            vec![Action::Remove {
                container: "c1".into(),
                replica: "web-1-a".into()
            }]
        );
    }

    #[test]
    fn form_has_our_labels_over_the_specs_and_no_restart() {
        let mut spec = replica_spec("web-1-a", "web", 4, "app:v1");
        spec.labels = vec![
            (LABEL_NODE.into(), "999".into()),
            ("team".into(), "blue".into()),
        ];
        spec.memory_bytes = Some(64 << 20);
        spec.nano_cpus = Some(500_000_000);
        let form = container_form(&spec, &owner(NODE));
        assert_eq!(form.name.as_deref(), Some("commander-web-1-a"));
        assert_eq!(form.labels[LABEL_NODE], "3");
        assert_eq!(form.labels[LABEL_OWNER], owner(NODE).key);
        assert_eq!(form.labels[LABEL_PROJECT], "web");
        assert_eq!(form.labels[LABEL_REVISION], "4");
        assert_eq!(form.labels[LABEL_REPLICA], "web-1-a");
        assert_eq!(form.labels["team"], "blue");
        assert_eq!(form.restart, protocol::ops::docker::RestartPolicy::No);
        assert_eq!(
            (form.memory_bytes, form.nano_cpus),
            (Some(64 << 20), Some(500_000_000))
        );
        assert!(form.ports.is_empty());
    }
}
