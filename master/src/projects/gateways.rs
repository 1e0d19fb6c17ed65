//! Standalone gateways (the original's gateway page): a gateway on one slave with a fixed
//! list of upstreams. [`GatewayService`] creates, changes and removes them (validated, one
//! change at a time under the projects' change lock, audited as `gateway.*` on
//! `gateway/<name>`), and lists every gateway, the projects' (`project/<name>`) with the
//! standalone ones, with what their slaves last reported.
//!
//! A gateway port is unique per node across both kinds: a port another standalone gateway
//! or a project's gateway already uses on that node is a 409, an unknown node a 400
//! (`node`). The reconciler reads the stored gateways
//! (`crate::store::GatewayStore::list_gateways`) and pushes them to their slaves.

use std::sync::Arc;

use model::Invalid;
use model::audit::{AuditEntry, AuditResult};
use model::ops::Caller;
use model::project::api::ProjectFailure;
use model::project::gateway::{
    GatewayKind, GatewayListing, StandaloneGateway, StandaloneGatewayInput, StandaloneGatewayPatch,
    project_gateway_name,
};
use model::service::AuditLog;

use super::service::{PortUser, ProjectService, port_user};

/// The standalone gateways' service, next to the projects it shares ports with.
pub struct GatewayService {
    projects: Arc<ProjectService>,
    audit: Arc<dyn AuditLog>,
}

fn store_failure(e: crate::store::StoreError) -> ProjectFailure {
    ProjectFailure::Store(e.to_string())
}

fn not_found(name: &str) -> ProjectFailure {
    ProjectFailure::NotFound(format!("no gateway named {name:?}"))
}

impl GatewayService {
    /// A service over the projects service's store and change lock.
    pub fn new(projects: Arc<ProjectService>, audit: Arc<dyn AuditLog>) -> Self {
        Self { projects, audit }
    }

    /// Every gateway: the projects' (by project name), then the standalone ones (by name).
    pub async fn list(&self) -> Result<Vec<GatewayListing>, ProjectFailure> {
        let projects = self.projects.current_specs().await?;
        let standalone = self
            .projects
            .blocking(|store| store.list_gateways().map_err(store_failure))
            .await?;
        let mut out = Vec::with_capacity(projects.len() + standalone.len());
        for (record, spec) in &projects {
            let Some(g) = &spec.gateway else { continue };
            let name = project_gateway_name(&record.name);
            let upstreams = self.projects.observed_upstreams(&record.name);
            let stats = self.projects.observed_gateway_stats(&name);
            out.push(GatewayListing {
                name,
                kind: GatewayKind::Project,
                project: Some(record.name.clone()),
                node: g.node,
                port: g.port,
                algorithm: g.algorithm,
                upstreams,
                allow: g.allow.iter().map(ToString::to_string).collect(),
                deny: g.deny.iter().map(ToString::to_string).collect(),
                max_conns_per_ip: g.max_conns_per_ip,
                conn_rate_per_ip: g.conn_rate_per_ip,
                stats,
            });
        }
        for g in &standalone {
            out.push(self.listing(g));
        }
        Ok(out)
    }

    fn listing(&self, g: &StandaloneGateway) -> GatewayListing {
        GatewayListing::standalone(g, self.projects.observed_gateway_stats(&g.name))
    }

    /// Creates a standalone gateway.
    pub async fn create(
        &self,
        caller: &Caller,
        input: StandaloneGatewayInput,
    ) -> Result<GatewayListing, ProjectFailure> {
        let name = input.name.clone();
        let outcome = async {
            let gateway = input.validate()?;
            let _one = self.projects.changes().lock().await;
            self.check_cluster(&gateway).await?;
            let stored = gateway.clone();
            let created = self
                .projects
                .blocking(move |store| store.create_gateway(&stored).map_err(store_failure))
                .await?;
            if !created {
                return Err(ProjectFailure::Conflict(format!(
                    "a gateway named {:?} exists",
                    gateway.name
                )));
            }
            Ok(self.listing(&gateway))
        }
        .await;
        self.audited(caller, "gateway.create", &name, outcome).await
    }

    /// Changes a standalone gateway: absent fields keep their value.
    pub async fn update(
        &self,
        caller: &Caller,
        name: &str,
        patch: &StandaloneGatewayPatch,
    ) -> Result<GatewayListing, ProjectFailure> {
        let outcome = async {
            let _one = self.projects.changes().lock().await;
            let owned = name.to_owned();
            let current = self
                .projects
                .blocking(move |store| store.get_gateway(&owned).map_err(store_failure))
                .await?
                .ok_or_else(|| not_found(name))?;
            let gateway = current.patched(patch)?;
            self.check_cluster(&gateway).await?;
            let stored = gateway.clone();
            let updated = self
                .projects
                .blocking(move |store| store.update_gateway(&stored).map_err(store_failure))
                .await?;
            if !updated {
                return Err(not_found(name));
            }
            Ok(self.listing(&gateway))
        }
        .await;
        self.audited(caller, "gateway.update", name, outcome).await
    }

    /// Removes a standalone gateway (its slave then stops it).
    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<(), ProjectFailure> {
        let outcome = async {
            let _one = self.projects.changes().lock().await;
            let owned = name.to_owned();
            let deleted = self
                .projects
                .blocking(move |store| store.delete_gateway(&owned).map_err(store_failure))
                .await?;
            if deleted {
                Ok(())
            } else {
                Err(not_found(name))
            }
        }
        .await;
        self.audited(caller, "gateway.delete", name, outcome).await
    }

    /// The node exists and the port is free on it (call under the change lock).
    async fn check_cluster(&self, g: &StandaloneGateway) -> Result<(), ProjectFailure> {
        if !self.projects.node_enrolled(g.node) {
            return Err(Invalid::new("node", format!("no enrolled node {}", g.node)).into());
        }
        let (node, port, name) = (g.node, g.port, g.name.clone());
        let user = self
            .projects
            .blocking(move |store| port_user(store, node, port, PortUser::Standalone(&name)))
            .await?;
        match user {
            Some(message) => Err(ProjectFailure::Conflict(message)),
            None => Ok(()),
        }
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
            Err(e @ (ProjectFailure::Invalid(_) | ProjectFailure::Conflict(_))) => {
                (AuditResult::Denied, e.to_string())
            }
            Err(e) => (AuditResult::Failed, e.to_string()),
        };
        let entry = AuditEntry::new(
            &caller.user,
            action,
            &format!("gateway/{name}"),
            &caller.client,
            result,
            detail,
        )
        .via(caller.via.clone());
        self.audit.record(entry).await;
        outcome
    }
}

#[cfg(test)]
#[path = "gateways_tests.rs"]
mod tests;
