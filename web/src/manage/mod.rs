//! Console pages for host operations and Docker management of one slave.
//!
//! Each page is a server-rendered frame (node name, sub-navigation, empty tables and forms)
//! whose script (`static/host.js` or `static/docker.js`, with the shared helpers of
//! `static/ops-common.js`) calls the operations REST API under
//! `/api/v1/nodes/{node}/...` with the session cookie and the `X-CSRF-Token` header, and
//! writes every value with `textContent`. So a page renders without a live slave; what the
//! slave answers, including its errors, appears on the page when it arrives.
//!
//! | page | path |
//! |---|---|
//! | processes (list, details, signal) | `/slaves/{node}/processes` |
//! | ports in use | `/slaves/{node}/ports` |
//! | environment profile | `/slaves/{node}/env` |
//! | hosts file editor | `/slaves/{node}/hosts` |
//! | engine, containers, deploy | `/docker/{node}` |
//! | images (pull, tag, remove, import) | `/docker/{node}/images` |
//! | networks | `/docker/{node}/networks` |
//! | volumes | `/docker/{node}/volumes` |
//! | one container (actions, logs, top, stats) | `/docker/{node}/containers/{id}` |
//! | tasks with live status | `/records/tasks` |

pub mod text;

pub use text::{OpsText, ops_text};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthContext;
use crate::i18n::LangExt;
use crate::live::parse_node_id;
use crate::pages::{ErrorPage, Frame, NodeRow, backend_error_page, now_ms};
use crate::state::AppState;

/// Longest container id or name a page accepts in its path.
pub const MAX_TARGET: usize = 256;

/// The page kinds: key, navigation area, whether it is a Docker page, and its script.
const KINDS: [(&str, &str, bool); 9] = [
    ("processes", "slaves", false),
    ("ports", "slaves", false),
    ("env", "slaves", false),
    ("hosts", "slaves", false),
    ("containers", "docker", true),
    ("images", "docker", true),
    ("networks", "docker", true),
    ("volumes", "docker", true),
    ("container", "docker", true),
];

/// One operations page of a node.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "ops.html")]
pub struct OpsPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub x: &'static OpsText,
    /// The node.
    pub node: NodeRow,
    /// Which page: a key of the kinds table (`processes`, `containers`, ...).
    pub kind: &'static str,
    /// Whether it is a Docker page (sub-navigation, script).
    pub docker: bool,
    /// The container of the container page, as given in the path; empty elsewhere.
    pub target: String,
    /// The page title.
    pub title: &'static str,
    /// [`OpsText`] as JSON, for the script.
    pub labels_json: String,
}

impl OpsPage {
    /// Sub-navigation of the node: `(href, label, current)`.
    pub fn host_nav(&self) -> Vec<(String, &'static str, bool)> {
        let id = self.node.id;
        let x = self.x;
        vec![
            (format!("/slaves/{id}"), x.sub_overview, false),
            (
                format!("/slaves/{id}/processes"),
                x.sub_processes,
                self.kind == "processes",
            ),
            (
                format!("/slaves/{id}/ports"),
                x.sub_ports,
                self.kind == "ports",
            ),
            (format!("/slaves/{id}/env"), x.sub_env, self.kind == "env"),
            (
                format!("/slaves/{id}/hosts"),
                x.sub_hosts,
                self.kind == "hosts",
            ),
            (format!("/docker/{id}"), x.sub_docker, self.docker),
        ]
    }

    /// Sub-navigation of the node's Docker pages.
    pub fn docker_nav(&self) -> Vec<(String, &'static str, bool)> {
        let id = self.node.id;
        let x = self.x;
        let k = self.kind;
        vec![
            (
                format!("/docker/{id}"),
                x.sub_containers,
                k == "containers" || k == "container",
            ),
            (format!("/docker/{id}/images"), x.sub_images, k == "images"),
            (
                format!("/docker/{id}/networks"),
                x.sub_networks,
                k == "networks",
            ),
            (
                format!("/docker/{id}/volumes"),
                x.sub_volumes,
                k == "volumes",
            ),
        ]
    }
}

fn title_of(x: &'static OpsText, kind: &str) -> &'static str {
    match kind {
        "processes" => x.processes_title,
        "ports" => x.ports_title,
        "env" => x.env_title,
        "hosts" => x.hosts_title,
        "containers" => x.docker_node_title,
        "images" => x.images_title,
        "networks" => x.networks_title,
        "volumes" => x.volumes_title,
        _ => x.container_title,
    }
}

/// Renders page `kind` of node `node` (the path's text), for `target`.
async fn render(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    node: &str,
    kind: &'static str,
    target: String,
) -> Response {
    let lang = ctx.lang();
    let t = lang.messages();
    let missing = || ErrorPage::localized(StatusCode::NOT_FOUND, t.err_no_slave, lang);
    let Some(id) = parse_node_id(node) else {
        return missing();
    };
    let view = match state.services.cluster.node(id).await {
        Ok(Some(view)) => view,
        Ok(None) => return missing(),
        Err(err) => return backend_error_page(&err, lang),
    };
    let (_, area, docker) = KINDS
        .iter()
        .copied()
        .find(|(k, _, _)| *k == kind)
        .unwrap_or(("container", "docker", true));
    let x = ops_text(lang);
    OpsPage {
        frame: Frame::signed_in(ctx, area, uri),
        x,
        node: NodeRow::new_in(&view, now_ms(), lang),
        kind,
        docker,
        target,
        title: title_of(x, kind),
        labels_json: serde_json::to_string(x).unwrap_or_default(),
    }
    .into_response()
}

macro_rules! node_page {
    ($name:ident, $kind:literal, $path:literal) => {
        #[doc = concat!("`GET ", $path, "`.")]
        pub async fn $name(
            State(state): State<AppState>,
            ctx: AuthContext,
            uri: Uri,
            Path(node): Path<String>,
        ) -> Response {
            render(&state, &ctx, &uri, &node, $kind, String::new()).await
        }
    };
}

node_page!(processes, "processes", "/slaves/{node}/processes");
node_page!(ports, "ports", "/slaves/{node}/ports");
node_page!(env, "env", "/slaves/{node}/env");
node_page!(hosts, "hosts", "/slaves/{node}/hosts");
node_page!(docker, "containers", "/docker/{node}");
node_page!(images, "images", "/docker/{node}/images");
node_page!(networks, "networks", "/docker/{node}/networks");
node_page!(volumes, "volumes", "/docker/{node}/volumes");

/// `GET /docker/{node}/containers/{id}`.
pub async fn container(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path((node, id)): Path<(String, String)>,
) -> Response {
    if id.is_empty() || id.len() > MAX_TARGET || id.chars().any(char::is_control) {
        let lang = ctx.lang();
        return ErrorPage::localized(StatusCode::NOT_FOUND, ops_text(lang).bad_container, lang);
    }
    render(&state, &ctx, &uri, &node, "container", id).await
}

/// The tasks page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "tasks.html")]
pub struct TasksPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub x: &'static OpsText,
    /// [`OpsText`] as JSON, for the script.
    pub labels_json: String,
}

/// `GET /records/tasks`: pulls, deployments and imports with live status and progress.
pub async fn tasks(ctx: AuthContext, uri: Uri) -> Response {
    let x = ops_text(ctx.lang());
    TasksPage {
        frame: Frame::signed_in(&ctx, "records", &uri),
        x,
        labels_json: serde_json::to_string(x).unwrap_or_default(),
    }
    .into_response()
}
