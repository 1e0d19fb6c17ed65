//! The projects service: the rules behind the projects API, over the [`ProjectStore`].
//! Every change is validated (errors name the field), serialised (one change at a time, so
//! names and gateway ports stay unique), stored with its revision in one transaction and
//! audited once. What the replicas are doing comes from the [`ObservedProjects`] seam (the
//! reconciler); which nodes exist from the [`NodeDirectory`] seam (the cluster).
//!
//! The deploy webhook (`POST /api/v1/projects/{name}/webhook`) is checked here (in
//! `service_webhook.rs`): the `X-Commander-Signature: sha256=<hex>` header must be the
//! HMAC-SHA256 of the raw body under the project's key (compared in constant time), and a
//! signature accepted before is refused as a replay.
//!
//! Store calls run on a blocking thread ([`tokio::task::spawn_blocking`]): the LMDB store
//! may wait on the disk, which must not stall the async runtime.

use std::sync::Arc;

use model::audit::{AuditEntry, AuditResult};
use model::ops::Caller;
use model::project::api::{
    CreatedProject, GatewayStats, GatewayView, ProjectEvent, ProjectEventKind, ProjectFailure,
    ProjectPatch, ProjectView, ReplicaView, RevisionView,
};
use model::project::{ProjectInput, ProjectSpec, Revision, needs_new_revision};
use model::service::AuditLog;
use model::{Clock, Invalid};

use super::controller::{CommandError, Controller};
use super::events::ProjectEvents;
use super::record::ProjectRecord;
use crate::store::{ProjectStore, StoreError};

/// Whose a gateway port is, so that a gateway moving within its own port is no clash.
#[derive(Debug, Clone, Copy)]
pub(super) enum PortUser<'a> {
    /// The gateway of the project named so.
    Project(&'a str),
    /// The standalone gateway named so.
    Standalone(&'a str),
}

/// Who else has a gateway on `port` of `node`, described for a 409; `None` when the port
/// is free. Project gateways are those of each project's current revision.
pub(super) fn port_user(
    store: &dyn ProjectStore,
    node: u64,
    port: u16,
    asking: PortUser<'_>,
) -> Result<Option<String>, ProjectFailure> {
    for other in store.list_projects().map_err(store_failure)? {
        if matches!(asking, PortUser::Project(n) if n == other.name) {
            continue;
        }
        let theirs = store
            .project_revision(&other.name, other.controller.target)
            .map_err(store_failure)?;
        if let Some(g) = theirs.and_then(|s| s.gateway)
            && (g.node, g.port) == (node, port)
        {
            return Ok(Some(format!(
                "port {port} on node {node} is already the gateway of project {:?}",
                other.name
            )));
        }
    }
    for g in store.list_gateways().map_err(store_failure)? {
        if matches!(asking, PortUser::Standalone(n) if n == g.name) {
            continue;
        }
        if (g.node, g.port) == (node, port) {
            return Ok(Some(format!(
                "port {port} on node {node} is already used by gateway {:?}",
                g.name
            )));
        }
    }
    Ok(None)
}

/// A project's record and the spec of its current revision.
fn load_from(
    store: &dyn ProjectStore,
    name: &str,
) -> Result<(ProjectRecord, ProjectSpec), ProjectFailure> {
    let record = store
        .get_project(name)
        .map_err(store_failure)?
        .ok_or_else(|| not_found(name))?;
    let spec = store
        .project_revision(name, record.controller.target)
        .map_err(store_failure)?
        .ok_or_else(|| {
            ProjectFailure::Store(format!(
                "project {name:?} has no revision {}",
                record.controller.target
            ))
        })?;
    Ok((record, spec))
}

/// Writes a record (and a revision), or 404 when the project is gone.
fn save_to(
    store: &dyn ProjectStore,
    record: &ProjectRecord,
    revision: Option<(Revision, &ProjectSpec)>,
) -> Result<(), ProjectFailure> {
    if store
        .update_project(record, revision)
        .map_err(store_failure)?
    {
        Ok(())
    } else {
        Err(not_found(&record.name))
    }
}

/// Which nodes exist, as far as a project may name them.
pub trait NodeDirectory: Send + Sync + 'static {
    /// Whether node `id` is enrolled and not revoked.
    fn is_enrolled(&self, id: u64) -> bool;
}

/// What the replicas of each project are doing (the reconciler's view).
pub trait ObservedProjects: Send + Sync + 'static {
    /// The replicas of `project` as last observed.
    fn replicas(&self, project: &str) -> Vec<ReplicaView>;
    /// The upstreams its gateway sends traffic to now.
    fn upstreams(&self, project: &str) -> Vec<String>;
    /// The gateway named `name` as its slave last reported it (`project/<name>` for a
    /// project's gateway, else a standalone gateway's name); `None` before any report.
    fn gateway_stats(&self, name: &str) -> Option<GatewayStats>;
}

pub use model::project::api::MAX_WEBHOOK_BODY;

/// The projects service.
pub struct ProjectService {
    store: Arc<dyn ProjectStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    nodes: Arc<dyn NodeDirectory>,
    observed: Arc<dyn ObservedProjects>,
    events: Arc<ProjectEvents>,
    changes: tokio::sync::Mutex<()>,
}

fn store_failure(e: StoreError) -> ProjectFailure {
    ProjectFailure::Store(e.to_string())
}

fn not_found(name: &str) -> ProjectFailure {
    ProjectFailure::NotFound(format!("no project named {name:?}"))
}

impl ProjectService {
    /// A service over `store`, writing to `audit`, reading time from `clock`.
    pub fn new(
        store: Arc<dyn ProjectStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        nodes: Arc<dyn NodeDirectory>,
        observed: Arc<dyn ObservedProjects>,
        events: Arc<ProjectEvents>,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
            nodes,
            observed,
            events,
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// The lock every change of a project's record takes (the reconciler's steps too), so
    /// a command and a step never overwrite each other.
    pub(super) fn changes(&self) -> &tokio::sync::Mutex<()> {
        &self.changes
    }

    /// The store the service writes to.
    pub(super) fn store(&self) -> &Arc<dyn ProjectStore> {
        &self.store
    }

    /// The timelines.
    pub fn events(&self) -> &Arc<ProjectEvents> {
        &self.events
    }

    /// Adds an event to `project`'s timeline, stamped now.
    fn note(
        &self,
        project: &str,
        kind: ProjectEventKind,
        revision: Option<Revision>,
        message: String,
    ) {
        self.events.push(
            project,
            ProjectEvent {
                at_ms: self.clock.now_ms(),
                kind,
                revision,
                node: None,
                replica: None,
                message,
            },
        );
    }

    async fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        name: &str,
        outcome: Result<T, ProjectFailure>,
    ) -> Result<T, ProjectFailure> {
        let (result, detail) = match &outcome {
            Ok(_) => (AuditResult::Ok, String::new()),
            Err(
                ProjectFailure::Invalid(_)
                | ProjectFailure::Conflict(_)
                | ProjectFailure::Unauthorized(_),
            ) => (AuditResult::Denied, outcome_text(&outcome)),
            Err(_) => (AuditResult::Failed, outcome_text(&outcome)),
        };
        let entry = AuditEntry::new(
            &caller.user,
            action,
            &format!("project/{name}"),
            &caller.client,
            result,
            detail,
        )
        .via(caller.via.clone());
        self.audit.record(entry).await;
        outcome
    }

    /// Runs `f` with the store on a blocking thread.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ProjectStore) -> Result<T, ProjectFailure> + Send + 'static,
    ) -> Result<T, ProjectFailure> {
        let store = Arc::clone(self.store());
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ProjectFailure::Store(format!("store task failed: {e}")))?
    }

    /// Whether node `id` may run a gateway (enrolled and not revoked).
    pub(super) fn node_enrolled(&self, id: u64) -> bool {
        self.nodes.is_enrolled(id)
    }

    /// Checks what needs the cluster: the gateway's node exists and its port is free on
    /// that node (among other projects' gateways and the standalone gateways).
    async fn check_cluster(&self, spec: &ProjectSpec) -> Result<(), ProjectFailure> {
        let Some(gw) = &spec.gateway else {
            return Ok(());
        };
        if !self.nodes.is_enrolled(gw.node) {
            return Err(
                Invalid::new("gateway.node", format!("no enrolled node {}", gw.node)).into(),
            );
        }
        let (node, port, name) = (gw.node, gw.port, spec.name.clone());
        let user = self
            .blocking(move |store| port_user(store, node, port, PortUser::Project(&name)))
            .await?;
        match user {
            Some(message) => Err(ProjectFailure::Conflict(message)),
            None => Ok(()),
        }
    }

    /// Creates a project: its first revision, its controller and its webhook key.
    pub async fn create(
        &self,
        caller: &Caller,
        input: ProjectInput,
    ) -> Result<CreatedProject, ProjectFailure> {
        let name = input.name.clone();
        let outcome = self.create_inner(input).await;
        self.audited(caller, "project.create", &name, outcome).await
    }

    async fn create_inner(&self, input: ProjectInput) -> Result<CreatedProject, ProjectFailure> {
        let spec = input.validate()?;
        let _one = self.changes.lock().await;
        self.check_cluster(&spec).await?;
        let secret = plumbing::secret::random_hex(32).map_err(|e| {
            ProjectFailure::Store(format!("no randomness for the webhook key: {e}"))
        })?;
        let now = self.clock.now_ms();
        let record = ProjectRecord {
            name: spec.name.clone(),
            latest_revision: 1,
            controller: Controller::new(spec.replicas).state,
            webhook_secret: Some(secret.clone()),
            seen_signatures: Vec::new(),
            assignments: Vec::new(),
            created_ms: now,
            updated_ms: now,
        };
        let (stored, stored_spec) = (record.clone(), spec.clone());
        let created = self
            .blocking(move |store| {
                store
                    .create_project(&stored, &stored_spec)
                    .map_err(store_failure)
            })
            .await?;
        if !created {
            return Err(ProjectFailure::Conflict(format!(
                "a project named {:?} exists",
                spec.name
            )));
        }
        self.note(
            &spec.name,
            ProjectEventKind::Created,
            Some(1),
            format!("{} × {}", spec.replicas, spec.image),
        );
        Ok(CreatedProject {
            project: self.view(&record, &spec),
            webhook_secret: secret,
        })
    }

    async fn load(&self, name: &str) -> Result<(ProjectRecord, ProjectSpec), ProjectFailure> {
        let name = name.to_owned();
        self.blocking(move |store| load_from(store, &name)).await
    }

    fn view(&self, record: &ProjectRecord, spec: &ProjectSpec) -> ProjectView {
        let replicas = self.observed.replicas(&record.name);
        let target = record.controller.target;
        let healthy = replicas
            .iter()
            .filter(|r| r.revision == target && r.healthy)
            .count() as u32;
        let shown = Controller {
            state: record.controller.clone(),
        }
        .status_for(healthy);
        ProjectView {
            name: record.name.clone(),
            image: spec.image.clone(),
            revision: target,
            replicas_desired: record.controller.replicas,
            status: shown,
            gateway: spec.gateway.as_ref().map(|g| GatewayView {
                node: g.node,
                port: g.port,
                upstreams: self.observed.upstreams(&record.name),
            }),
            replicas,
            failure: record.controller.failure.clone(),
        }
    }

    /// One project as shown.
    pub async fn get(&self, name: &str) -> Result<ProjectView, ProjectFailure> {
        let (record, spec) = self.load(name).await?;
        Ok(self.view(&record, &spec))
    }

    /// Every project as shown, by name.
    pub async fn list(&self) -> Result<Vec<ProjectView>, ProjectFailure> {
        let all = self
            .blocking(|store| {
                let mut out = Vec::new();
                for record in store.list_projects().map_err(store_failure)? {
                    out.push(load_from(store, &record.name)?);
                }
                Ok(out)
            })
            .await?;
        Ok(all
            .iter()
            .map(|(record, spec)| self.view(record, spec))
            .collect())
    }

    /// Every project's record and current spec, by name (for the gateways list).
    pub(super) async fn current_specs(
        &self,
    ) -> Result<Vec<(ProjectRecord, ProjectSpec)>, ProjectFailure> {
        self.blocking(|store| {
            let mut out = Vec::new();
            for record in store.list_projects().map_err(store_failure)? {
                out.push(load_from(store, &record.name)?);
            }
            Ok(out)
        })
        .await
    }

    /// The upstreams `project`'s gateway sends traffic to now.
    pub(super) fn observed_upstreams(&self, project: &str) -> Vec<String> {
        self.observed.upstreams(project)
    }

    /// What the slave of the gateway named `name` last reported about it.
    pub(super) fn observed_gateway_stats(&self, name: &str) -> Option<GatewayStats> {
        self.observed.gateway_stats(name)
    }

    /// Every revision kept, oldest first.
    pub async fn revisions(
        &self,
        name: &str,
    ) -> Result<Vec<(Revision, ProjectSpec)>, ProjectFailure> {
        let name = name.to_owned();
        self.blocking(move |store| {
            load_from(store, &name)?;
            store.project_revisions(&name).map_err(store_failure)
        })
        .await
    }

    /// Every revision kept, oldest first, as the API lists them (credentials left out),
    /// marking the one the project converges to.
    pub async fn revision_views(&self, name: &str) -> Result<Vec<RevisionView>, ProjectFailure> {
        let name = name.to_owned();
        let (record, revisions) = self
            .blocking(move |store| {
                let (record, _) = load_from(store, &name)?;
                let revisions = store.project_revisions(&name).map_err(store_failure)?;
                Ok((record, revisions))
            })
            .await?;
        Ok(revisions
            .into_iter()
            .map(|(revision, spec)| RevisionView {
                revision,
                current: revision == record.controller.target,
                spec: spec.to_input(),
            })
            .collect())
    }

    /// Applies a partial update: a change of what runs in the containers makes a new
    /// revision and starts a rollout; anything else changes the current one in place.
    pub async fn update(
        &self,
        caller: &Caller,
        name: &str,
        patch: &ProjectPatch,
    ) -> Result<ProjectView, ProjectFailure> {
        let outcome = self.update_inner(name, patch).await;
        self.audited(caller, "project.update", name, outcome).await
    }

    async fn update_inner(
        &self,
        name: &str,
        patch: &ProjectPatch,
    ) -> Result<ProjectView, ProjectFailure> {
        let _one = self.changes.lock().await;
        let (mut record, spec) = self.load(name).await?;
        let new = spec.patched(patch)?;
        self.check_cluster(&new).await?;
        let from = record.controller.replicas;
        let scaled = new.replicas != from;
        let mut controller = Controller {
            state: record.controller.clone(),
        };
        controller.scale(new.replicas);
        record.controller = controller.state;
        let revised = needs_new_revision(&spec, &new);
        let revision = if revised {
            record.start_revision()
        } else {
            record.controller.target
        };
        record.updated_ms = self.clock.now_ms();
        self.save(&record, Some((revision, &new))).await?;
        if scaled {
            self.note(
                name,
                ProjectEventKind::Scaled,
                None,
                format!("{from} → {} replicas", new.replicas),
            );
        }
        if revised {
            self.note(
                name,
                ProjectEventKind::Updated,
                Some(revision),
                format!("revision {revision}: {}", new.image),
            );
        } else if !scaled {
            self.note(
                name,
                ProjectEventKind::Updated,
                None,
                format!("revision {revision} changed in place"),
            );
        }
        Ok(self.view(&record, &new))
    }

    async fn save(
        &self,
        record: &ProjectRecord,
        revision: Option<(Revision, &ProjectSpec)>,
    ) -> Result<(), ProjectFailure> {
        let record = record.clone();
        let revision = revision.map(|(r, s)| (r, s.clone()));
        self.blocking(move |store| save_to(store, &record, revision.as_ref().map(|(r, s)| (*r, s))))
            .await
    }

    /// Changes the replica count.
    pub async fn scale(
        &self,
        caller: &Caller,
        name: &str,
        replicas: u32,
    ) -> Result<ProjectView, ProjectFailure> {
        let patch = ProjectPatch {
            replicas: Some(replicas),
            ..ProjectPatch::default()
        };
        let outcome = self.update_inner(name, &patch).await;
        self.audited(caller, "project.scale", name, outcome).await
    }

    /// Rolls back to `revision`, or to the previous one.
    pub async fn rollback(
        &self,
        caller: &Caller,
        name: &str,
        revision: Option<Revision>,
    ) -> Result<ProjectView, ProjectFailure> {
        let outcome = self
            .command(
                name,
                ProjectEventKind::RollingBack,
                move |c, store, name| {
                    if let Some(r) = revision
                        && store
                            .project_revision(name, r)
                            .map_err(store_failure)?
                            .is_none()
                    {
                        return Err(ProjectFailure::NotFound(format!(
                            "project {name:?} has no revision {r} (kept: the newest {})",
                            super::record::MAX_REVISIONS
                        )));
                    }
                    c.rollback(revision).map_err(command_failure)
                },
            )
            .await;
        self.audited(caller, "project.rollback", name, outcome)
            .await
    }

    /// Pauses the rollout under way.
    pub async fn pause(&self, caller: &Caller, name: &str) -> Result<ProjectView, ProjectFailure> {
        let outcome = self
            .command(name, ProjectEventKind::Paused, |c, _, _| {
                c.pause().map_err(command_failure)
            })
            .await;
        self.audited(caller, "project.pause", name, outcome).await
    }

    /// Resumes a paused rollout.
    pub async fn resume(&self, caller: &Caller, name: &str) -> Result<ProjectView, ProjectFailure> {
        let outcome = self
            .command(name, ProjectEventKind::Resumed, |c, _, _| {
                c.resume().map_err(command_failure)
            })
            .await;
        self.audited(caller, "project.resume", name, outcome).await
    }

    /// Promotes canaries waiting for an operator.
    pub async fn promote(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<ProjectView, ProjectFailure> {
        let outcome = self
            .command(name, ProjectEventKind::Promoted, |c, _, _| {
                c.promote().map_err(command_failure)
            })
            .await;
        self.audited(caller, "project.promote", name, outcome).await
    }

    /// Runs an operator command on a project's controller: loads, applies `f` (which may
    /// read the store) and saves, in one blocking step under the change lock.
    async fn command(
        &self,
        name: &str,
        kind: ProjectEventKind,
        f: impl FnOnce(&mut Controller, &dyn ProjectStore, &str) -> Result<(), ProjectFailure>
        + Send
        + 'static,
    ) -> Result<ProjectView, ProjectFailure> {
        let _one = self.changes.lock().await;
        let now = self.clock.now_ms();
        let owned = name.to_owned();
        let (record, spec) = self
            .blocking(move |store| {
                let (mut record, _) = load_from(store, &owned)?;
                let mut controller = Controller {
                    state: record.controller.clone(),
                };
                f(&mut controller, store, &owned)?;
                record.controller = controller.state;
                record.updated_ms = now;
                save_to(store, &record, None)?;
                load_from(store, &owned)
            })
            .await?;
        self.note(
            name,
            kind,
            Some(record.controller.target),
            "by an operator".into(),
        );
        Ok(self.view(&record, &spec))
    }

    /// Removes a project (the reconciler then removes its replicas and gateway).
    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<(), ProjectFailure> {
        let outcome = async {
            let _one = self.changes.lock().await;
            let owned = name.to_owned();
            let deleted = self
                .blocking(move |store| store.delete_project(&owned).map_err(store_failure))
                .await?;
            if deleted {
                self.events.forget(name);
                self.note(name, ProjectEventKind::Deleted, None, String::new());
                Ok(())
            } else {
                Err(not_found(name))
            }
        }
        .await;
        self.audited(caller, "project.delete", name, outcome).await
    }
}

fn command_failure(e: CommandError) -> ProjectFailure {
    ProjectFailure::Conflict(e.to_string())
}

fn outcome_text<T>(outcome: &Result<T, ProjectFailure>) -> String {
    match outcome {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[path = "service_webhook.rs"]
mod webhook;
pub use webhook::hmac_sha256_hex;

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
