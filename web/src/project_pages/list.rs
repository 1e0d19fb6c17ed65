//! `GET /projects`: every project with its image, revision, status, healthy and desired
//! replicas and gateway, refreshed in place while the page is open; and the counts the
//! home page shows ([`HomeCounts`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use model::node::NodeView;
use model::project::ProjectStatus;
use model::project::api::ProjectView;
use model::service::Services;

use super::{DoneQuery, ProjectsText, StatusBadge, explain, node_label, projects_text};
use crate::auth::AuthContext;
use crate::pages::Frame;
use crate::state::AppState;

/// One project, formatted for the list.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    /// Name.
    pub name: String,
    /// Image of the revision it converges to.
    pub image: String,
    /// That revision.
    pub revision: u64,
    /// Its status.
    pub status: StatusBadge,
    /// Healthy replicas of that revision.
    pub healthy: usize,
    /// Replicas wanted.
    pub desired: u32,
    /// `host:port` of its gateway, empty without one.
    pub gateway: String,
}

impl ProjectRow {
    /// `view` formatted, its gateway's node named from `nodes`.
    pub fn new(view: &ProjectView, nodes: &[NodeView], p: &ProjectsText) -> Self {
        Self {
            name: view.name.clone(),
            image: view.image.clone(),
            revision: view.revision,
            status: StatusBadge::new(view.status, p),
            healthy: healthy_replicas(view),
            desired: view.replicas_desired,
            gateway: view.gateway.as_ref().map_or_else(String::new, |g| {
                format!("{}:{}", node_label(nodes, g.node), g.port)
            }),
        }
    }
}

/// Replicas of `view` that run its current revision and pass their health check.
pub fn healthy_replicas(view: &ProjectView) -> usize {
    view.replicas
        .iter()
        .filter(|r| r.healthy && r.revision == view.revision)
        .count()
}

/// The projects list.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/list.html")]
pub struct ProjectsPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// The projects, by name.
    pub rows: Vec<ProjectRow>,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

/// The nodes, or none (logged) when the cluster cannot answer: names are a nicety here.
pub async fn nodes_or_none(services: &Services) -> Vec<NodeView> {
    services.cluster.nodes().await.unwrap_or_else(|e| {
        tracing::debug!("nodes unavailable for a projects page: {e}");
        Vec::new()
    })
}

/// `GET /projects?done=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let notice = query.map(|Query(q)| q.notice(p)).unwrap_or_default();
    let nodes = nodes_or_none(&state.services).await;
    let (status, rows, error) = match state.services.projects.list().await {
        Ok(list) => (
            axum::http::StatusCode::OK,
            list.iter().map(|v| ProjectRow::new(v, &nodes, p)).collect(),
            String::new(),
        ),
        Err(f) => {
            let (status, text) = explain(&f, p);
            (status, Vec::new(), text)
        }
    };
    let mut frame = Frame::signed_in(&ctx, "projects", &uri);
    frame.path = "/projects".to_owned();
    (
        status,
        ProjectsPage {
            frame,
            p,
            rows,
            notice,
            error,
        },
    )
        .into_response()
}

/// What the home page counts of projects and gateways; `None` when the master could not
/// answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HomeCounts {
    /// Projects.
    pub projects: Option<usize>,
    /// Projects not ready.
    pub not_ready: Option<usize>,
    /// Gateways, project-owned and standalone.
    pub gateways: Option<usize>,
}

impl HomeCounts {
    /// Asks the master.
    pub async fn fetch(services: &Services) -> Self {
        let projects = services.projects.list().await.map_err(|e| {
            tracing::debug!("home: projects unavailable: {e}");
        });
        let gateways = services.projects.gateways().await.map_err(|e| {
            tracing::debug!("home: gateways unavailable: {e}");
        });
        Self {
            projects: projects.as_ref().ok().map(Vec::len),
            not_ready: projects.as_ref().ok().map(|list| {
                list.iter()
                    .filter(|v| v.status != ProjectStatus::Ready)
                    .count()
            }),
            gateways: gateways.ok().map(|g| g.len()),
        }
    }
}
