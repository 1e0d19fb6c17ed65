//! [`ProjectsApi`]: the [`model::service::Projects`] trait the console calls, over the
//! [`ProjectService`] and the [`GatewayService`]; each method hands over to the service's
//! own method of the same name.

use std::sync::Arc;

use model::ops::{BoxFuture, Caller};
use model::project::api::{
    CreatedProject, ProjectEvent, ProjectFailure, ProjectPatch, ProjectView, RevisionView,
};
use model::project::gateway::{GatewayListing, StandaloneGatewayInput, StandaloneGatewayPatch};
use model::project::{ProjectInput, Revision};
use tokio::sync::broadcast;

use super::gateways::GatewayService;
use super::service::ProjectService;

/// Projects and gateways, as the console sees them.
pub struct ProjectsApi {
    projects: Arc<ProjectService>,
    gateways: Arc<GatewayService>,
}

impl ProjectsApi {
    /// The API over both services.
    pub fn new(projects: Arc<ProjectService>, gateways: Arc<GatewayService>) -> Self {
        Self { projects, gateways }
    }
}

impl model::service::Projects for ProjectsApi {
    fn create<'a>(
        &'a self,
        caller: &'a Caller,
        input: ProjectInput,
    ) -> BoxFuture<'a, Result<CreatedProject, ProjectFailure>> {
        Box::pin(self.projects.create(caller, input))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ProjectView>, ProjectFailure>> {
        Box::pin(self.projects.list())
    }

    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.get(name))
    }

    fn revisions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RevisionView>, ProjectFailure>> {
        Box::pin(self.projects.revision_views(name))
    }

    fn update<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        patch: ProjectPatch,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(async move { self.projects.update(caller, name, &patch).await })
    }

    fn scale<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        replicas: u32,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.scale(caller, name, replicas))
    }

    fn rollback<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.rollback(caller, name, revision))
    }

    fn pause<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.pause(caller, name))
    }

    fn resume<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.resume(caller, name))
    }

    fn promote<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.promote(caller, name))
    }

    fn delete<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        Box::pin(self.projects.delete(caller, name))
    }

    fn webhook<'a>(
        &'a self,
        client: &'a str,
        name: &'a str,
        signature: Option<&'a str>,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        Box::pin(self.projects.webhook(client, name, signature, body))
    }

    fn events<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProjectEvent>, ProjectFailure>> {
        Box::pin(async move {
            // A name that is no project is a 404, not an empty timeline.
            self.projects.get(name).await?;
            Ok(self.projects.events().list(name))
        })
    }

    fn live_events(&self) -> Option<broadcast::Receiver<(String, ProjectEvent)>> {
        let events = self.projects.events();
        (!events.is_closed()).then(|| events.subscribe())
    }

    fn gateways(&self) -> BoxFuture<'_, Result<Vec<GatewayListing>, ProjectFailure>> {
        Box::pin(self.gateways.list())
    }

    fn create_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        input: StandaloneGatewayInput,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        Box::pin(self.gateways.create(caller, input))
    }

    fn update_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        patch: StandaloneGatewayPatch,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        Box::pin(async move { self.gateways.update(caller, name, &patch).await })
    }

    fn delete_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        Box::pin(self.gateways.delete(caller, name))
    }
}
