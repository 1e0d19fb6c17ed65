//! `GET /projects/{name}`: one project. Its status and deploy progress, replicas (with
//! links to each container's logs and stats on its node's container page) and revisions
//! refresh in place every two seconds; its timeline follows the project's events over
//! Server-Sent Events (`/api/v1/projects/{name}/events`, `static/projects.js`). The
//! actions (scale, pause, resume, promote, roll back, edit, delete) and the deploy
//! webhook's usage are below; right after creation the webhook secret is shown, once.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use model::node::NodeView;
use model::project::api::{ProjectEvent, ProjectEventKind, ProjectView, RevisionView};

use super::list::{healthy_replicas, nodes_or_none};
use super::{
    DoneQuery, ProjectsText, StatusBadge, explain, node_label, path_segment, projects_text,
};
use crate::auth::AuthContext;
use crate::format::format_rfc3339_ms;
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// Characters of a container id shown (Docker's short form).
const SHORT_ID: usize = 12;

/// One replica, formatted.
#[derive(Debug, Clone)]
pub struct ReplicaRow {
    /// Node id.
    pub node: u64,
    /// Node name.
    pub node_name: String,
    /// Container id, short.
    pub container: String,
    /// `starting`, `running`, ... in the page's language.
    pub state: String,
    /// Whether its check passes.
    pub healthy: bool,
    /// Host port, or a dash.
    pub host_port: String,
    /// Revision it runs.
    pub revision: u64,
    /// Its container page, empty before the container exists.
    pub container_href: String,
}

/// One kept revision, formatted.
#[derive(Debug, Clone)]
pub struct RevisionRow {
    /// Number.
    pub revision: u64,
    /// Image.
    pub image: String,
    /// Whether the project converges to it.
    pub current: bool,
}

/// One timeline entry, formatted.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// RFC 3339 time.
    pub time: String,
    /// The kind's API name (`healthy`).
    pub kind: String,
    /// The kind in the page's language.
    pub label: &'static str,
    /// Message, node and revision.
    pub details: String,
}

/// The project's gateway, formatted.
#[derive(Debug, Clone)]
pub struct GatewaySummary {
    /// `host:port`.
    pub address: String,
    /// Its gateway page.
    pub href: String,
    /// Its upstreams.
    pub upstreams: Vec<String>,
}

/// The project page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/detail.html")]
pub struct ProjectPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// Name.
    pub name: String,
    /// Title, `Project web`.
    pub title: String,
    /// Image.
    pub image: String,
    /// Revision.
    pub revision: u64,
    /// Status.
    pub status: StatusBadge,
    /// `2 of 3 replicas healthy on revision 4`.
    pub progress: String,
    /// Replicas wanted (the scale form's value).
    pub desired: u32,
    /// Why the last rollout failed.
    pub failure: String,
    /// Replicas.
    pub replicas: Vec<ReplicaRow>,
    /// Revisions, newest first.
    pub revisions: Vec<RevisionRow>,
    /// Timeline, newest first.
    pub events: Vec<EventRow>,
    /// The gateway.
    pub gateway: Option<GatewaySummary>,
    /// The webhook secret, right after creation only.
    pub secret: Option<String>,
    /// What the timeline script writes ([`timeline_labels`]), as JSON.
    pub labels_json: String,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

impl ProjectPage {
    /// The webhook's path.
    pub fn webhook_path(&self) -> String {
        format!("/api/v1/projects/{}/webhook", self.name)
    }
}

/// What a page shows besides the project.
#[derive(Debug, Default)]
pub struct Shown {
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
    /// The webhook secret, after creation.
    pub secret: Option<String>,
}

/// A replica state in `p`'s language (an unknown one as the master wrote it).
fn state_label(state: &str, p: &ProjectsText) -> String {
    match state {
        "starting" => p.state_starting,
        "running" => p.state_running,
        "draining" => p.state_draining,
        "exited" => p.state_exited,
        other => other,
    }
    .to_owned()
}

/// An event kind in `p`'s language.
pub fn kind_label(kind: ProjectEventKind, p: &ProjectsText) -> &'static str {
    use ProjectEventKind as K;
    match kind {
        K::Created => p.ev_created,
        K::Updated => p.ev_updated,
        K::Scaled => p.ev_scaled,
        K::Scheduled => p.ev_scheduled,
        K::Started => p.ev_started,
        K::Healthy => p.ev_healthy,
        K::Unhealthy => p.ev_unhealthy,
        K::Exited => p.ev_exited,
        K::Drained => p.ev_drained,
        K::Removed => p.ev_removed,
        K::Rescheduled => p.ev_rescheduled,
        K::Unplaced => p.ev_unplaced,
        K::AwaitingPromotion => p.ev_awaiting_promotion,
        K::Promoted => p.ev_promoted,
        K::Ready => p.ev_ready,
        K::RolloutFailed => p.ev_rollout_failed,
        K::RollingBack => p.ev_rolling_back,
        K::Paused => p.ev_paused,
        K::Resumed => p.ev_resumed,
        K::Deleted => p.ev_deleted,
    }
}

/// The strings the timeline script writes: every event kind as `ev_<kind>`, the words
/// of the details and the live state.
pub fn timeline_labels(p: &ProjectsText) -> std::collections::BTreeMap<&'static str, &'static str> {
    p.all()
        .into_iter()
        .filter(|(field, _)| field.starts_with("ev_") || field.starts_with("live_"))
        .collect()
}

fn event_row(e: &ProjectEvent, nodes: &[NodeView], p: &ProjectsText) -> EventRow {
    let mut parts = vec![e.message.clone()];
    if let Some(node) = e.node {
        parts.push(format!("{} {}", p.ev_node, node_label(nodes, node)));
    }
    if let Some(revision) = e.revision {
        parts.push(format!("{} {revision}", p.ev_revision));
    }
    parts.retain(|part| !part.is_empty());
    let details = parts.join(" · ");
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    EventRow {
        time: format_rfc3339_ms(e.at_ms).unwrap_or_default(),
        kind,
        label: kind_label(e.kind, p),
        details,
    }
}

/// The page of `view`.
pub fn build(
    frame: Frame,
    view: &ProjectView,
    revisions: &[RevisionView],
    events: &[ProjectEvent],
    nodes: &[NodeView],
    shown: Shown,
) -> ProjectPage {
    let p = projects_text(frame.lang);
    let healthy = healthy_replicas(view);
    ProjectPage {
        p,
        name: view.name.clone(),
        title: p.detail_title.replace("{name}", &view.name),
        image: view.image.clone(),
        revision: view.revision,
        status: StatusBadge::new(view.status, p),
        progress: p
            .progress
            .replace("{healthy}", &healthy.to_string())
            .replace("{desired}", &view.replicas_desired.to_string())
            .replace("{revision}", &view.revision.to_string()),
        desired: view.replicas_desired,
        failure: view.failure.clone().unwrap_or_default(),
        replicas: view
            .replicas
            .iter()
            .map(|r| ReplicaRow {
                node: r.node,
                node_name: node_label(nodes, r.node),
                container: r.container.chars().take(SHORT_ID).collect(),
                state: state_label(&r.state, p),
                healthy: r.healthy,
                host_port: r
                    .host_port
                    .map_or_else(|| "–".to_owned(), |h| h.to_string()),
                revision: r.revision,
                container_href: if r.container.is_empty() {
                    String::new()
                } else {
                    format!(
                        "/docker/{}/containers/{}",
                        r.node,
                        path_segment(&r.container)
                    )
                },
            })
            .collect(),
        revisions: revisions
            .iter()
            .rev()
            .map(|r| RevisionRow {
                revision: r.revision,
                image: r.spec.image.clone(),
                current: r.current,
            })
            .collect(),
        events: events
            .iter()
            .rev()
            .map(|e| event_row(e, nodes, p))
            .collect(),
        gateway: view.gateway.as_ref().map(|g| GatewaySummary {
            address: format!("{}:{}", node_label(nodes, g.node), g.port),
            href: format!(
                "/gateways/{}",
                path_segment(&model::project::gateway::project_gateway_name(&view.name))
            ),
            upstreams: g.upstreams.clone(),
        }),
        secret: shown.secret,
        labels_json: serde_json::to_string(&timeline_labels(p)).unwrap_or_default(),
        notice: shown.notice,
        error: shown.error,
        frame,
    }
}

/// Renders project `name` with `status`, or the error page when it cannot be read.
pub async fn render(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    name: &str,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let p = projects_text(ctx.lang());
    let projects = &state.services.projects;
    let view = match projects.get(name).await {
        Ok(view) => view,
        Err(f) => {
            let (status, text) = explain(&f, p);
            return ErrorPage::localized(status, text, ctx.lang());
        }
    };
    // The revisions and the timeline are secondary: without them the page still shows
    // the project and says what failed.
    let mut shown = shown;
    let revisions = projects.revisions(name).await.unwrap_or_else(|f| {
        shown.error = explain(&f, p).1;
        Vec::new()
    });
    let events = projects.events(name).await.unwrap_or_else(|f| {
        shown.error = explain(&f, p).1;
        Vec::new()
    });
    let nodes = nodes_or_none(&state.services).await;
    let mut frame = Frame::signed_in(ctx, "projects", uri);
    frame.path = format!("/projects/{name}");
    let page = build(frame, &view, &revisions, &events, &nodes, shown);
    (status, page).into_response()
}

/// `GET /projects/{name}?done=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let shown = Shown {
        notice: query.map(|Query(q)| q.notice(p)).unwrap_or_default(),
        ..Shown::default()
    };
    render(&state, &ctx, &uri, &name, StatusCode::OK, shown).await
}
