//! Server-rendered HTML pages (askama templates under `web/templates/`) and the view models
//! they render. All formatting happens here, in Rust, so templates only print strings and
//! askama escapes every one of them. Every page extends `base.html`, the frame with the
//! navigation, the language switch and the logout button, described by [`Frame`].

use crate::api::backend_status;
use crate::auth::AuthContext;
use crate::format::{
    format_bytes, format_load, format_percent, format_relative_in, format_rfc3339_ms,
};
use crate::i18n::LangExt;
use crate::i18n::{Lang, Messages};
use crate::listing::{HOME_ROWS, ListParams, PER_PAGE, Pager};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use model::ServiceError;
use model::node::NodeView;
use model::service::Cluster;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Shown in a cell when a value is not known yet.
const MISSING: &str = "–";

/// Picks a label out of the catalogue.
type Label = fn(&Messages) -> &'static str;

/// The areas of the navigation: key, path and label.
const NAV: [(&str, &str, Label); 10] = [
    ("home", "/", |t| t.nav_home),
    ("slaves", "/slaves", |t| t.nav_slaves),
    ("projects", "/projects", |t| t.nav_projects),
    ("gateways", "/gateways", |t| t.nav_gateways),
    ("docker", "/docker", |t| t.nav_docker),
    ("records", "/records", |t| t.nav_records),
    ("alerts", "/alerts", |t| t.nav_alerts),
    ("channels", "/alerts/channels", |t| t.nav_channels),
    ("data", "/data", |t| t.nav_data),
    ("tokens", "/tokens", |t| t.nav_tokens),
];

/// What the frame around every page needs.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Messages in the page's language.
    pub t: &'static Messages,
    /// The page's language.
    pub lang: Lang,
    /// The signed-in user; empty on the login and registration pages.
    pub user: String,
    /// The session's CSRF token (empty when signed out).
    pub csrf: String,
    /// Key of the active navigation area.
    pub active: &'static str,
    /// The page's path (where the language switch returns to).
    pub path: String,
}

/// One navigation link.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Target.
    pub href: &'static str,
    /// Label.
    pub label: &'static str,
    /// Whether it is the current area.
    pub active: bool,
}

/// One language button.
#[derive(Debug, Clone)]
pub struct LangItem {
    /// Tag sent with the form.
    pub code: &'static str,
    /// The language's own name.
    pub name: &'static str,
    /// Whether it is the current language.
    pub current: bool,
}

impl Frame {
    /// The frame of a signed-in page.
    pub fn signed_in(ctx: &AuthContext, active: &'static str, uri: &Uri) -> Self {
        let lang = ctx.lang();
        Self {
            t: lang.messages(),
            lang,
            user: ctx.username().to_owned(),
            csrf: ctx.csrf().to_owned(),
            active,
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        }
    }

    /// The frame of a page without a session (no navigation).
    pub fn anonymous(lang: Lang) -> Self {
        Self {
            t: lang.messages(),
            lang,
            user: String::new(),
            csrf: String::new(),
            active: "",
            path: "/".to_owned(),
        }
    }

    /// The navigation links.
    pub fn nav(&self) -> Vec<NavItem> {
        NAV.iter()
            .map(|(key, href, label)| NavItem {
                href,
                label: label(self.t),
                active: *key == self.active,
            })
            .collect()
    }

    /// The strings of the operation pages (`crate::manage`), in the page's language.
    pub fn ops(&self) -> &'static crate::manage::OpsText {
        crate::manage::ops_text(self.lang)
    }

    /// The language buttons.
    pub fn langs(&self) -> Vec<LangItem> {
        Lang::ALL
            .iter()
            .map(|l| LangItem {
                code: l.code(),
                name: l.name(),
                current: *l == self.lang,
            })
            .collect()
    }
}

/// The home page: counts and every node in one table.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    /// The frame.
    pub frame: Frame,
    /// Nodes online.
    pub online: usize,
    /// Nodes revoked.
    pub revoked: usize,
    /// Nodes enrolled.
    pub total: usize,
    /// Alerts firing now.
    pub alerts: usize,
    /// Projects, `–` when the master could not count them.
    pub projects: String,
    /// Projects not ready.
    pub projects_not_ready: String,
    /// Whether some project is not ready.
    pub projects_attention: bool,
    /// Gateways.
    pub gateways: String,
    /// The first [`HOME_ROWS`] rows, in backend order.
    pub nodes: Vec<NodeRow>,
}

/// The slave list, searchable and paginated.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "slaves.html")]
pub struct SlavesPage {
    /// The frame.
    pub frame: Frame,
    /// Nodes enrolled (before the search).
    pub total: usize,
    /// The rows of this page.
    pub nodes: Vec<NodeRow>,
    /// Search and page links.
    pub pager: Pager,
}

/// One node, formatted for the node tables.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    /// Node id.
    pub id: u64,
    /// Host name, or a placeholder until reported.
    pub hostname: String,
    /// Badge class: `online`, `offline` or `revoked`.
    pub status: &'static str,
    /// Relative last heartbeat, `3 s ago` or `never`.
    pub last_seen: String,
    /// Absolute last heartbeat (RFC 3339), for the cell's tooltip; empty when unknown.
    pub last_seen_abs: String,
    /// Agent build version.
    pub agent_version: String,
    /// Total CPU use, `12.5 %`.
    pub cpu: String,
    /// Memory, `1.2 GiB / 4.0 GiB`.
    pub memory: String,
    /// Load averages, `0.52 0.40 0.31`.
    pub load: String,
    /// Established TCP connections.
    pub tcp: String,
    /// OS, kernel, architecture and cores; empty until reported.
    pub host_line: String,
    /// Docker engine version: `Some("")` when the host has none, `None` until reported.
    pub docker: Option<String>,
}

impl NodeRow {
    /// Formats `node` as seen at `now_ms` (Unix milliseconds), in English.
    pub fn new(node: &NodeView, now_ms: u64) -> Self {
        Self::new_in(node, now_ms, Lang::En)
    }

    /// Formats `node` as seen at `now_ms`, with the relative time in `lang`.
    pub fn new_in(node: &NodeView, now_ms: u64, lang: Lang) -> Self {
        let status = if node.revoked {
            "revoked"
        } else if node.online {
            "online"
        } else {
            "offline"
        };
        let hostname = match (&node.hostname, &node.host) {
            (name, _) if !name.is_empty() => name.clone(),
            (_, Some(host)) if !host.hostname.is_empty() => host.hostname.clone(),
            _ => "(unknown)".to_owned(),
        };
        let missing = || MISSING.to_owned();
        let metrics = node.metrics.as_ref();
        Self {
            id: node.id,
            hostname,
            status,
            last_seen: format_relative_in(lang, node.last_seen_ms, now_ms),
            last_seen_abs: node
                .last_seen_ms
                .and_then(format_rfc3339_ms)
                .unwrap_or_default(),
            agent_version: node.agent_version.clone(),
            cpu: metrics.map_or_else(missing, |m| format_percent(m.cpu_total_pct)),
            memory: metrics.map_or_else(missing, |m| {
                format!(
                    "{} / {}",
                    format_bytes(m.mem_used_bytes),
                    format_bytes(m.mem_total_bytes)
                )
            }),
            load: metrics.map_or_else(missing, |m| format_load(m.load)),
            tcp: metrics.map_or_else(missing, |m| m.tcp_established.to_string()),
            host_line: node.host.as_ref().map_or_else(String::new, |h| {
                format!(
                    "{} · kernel {} · {} · {} cores",
                    h.os, h.kernel, h.arch, h.cpu_cores
                )
            }),
            docker: node
                .host
                .as_ref()
                .map(|h| h.docker_version.clone().unwrap_or_default()),
        }
    }
}

/// Docker engines per slave.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "docker.html")]
pub struct DockerPage {
    /// The frame.
    pub frame: Frame,
    /// One row per node.
    pub nodes: Vec<NodeRow>,
}

/// A page for errors and unknown paths.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The frame.
    pub frame: Frame,
    /// HTTP status code, e.g. 404.
    pub code: u16,
    /// Short title, e.g. `Not Found`.
    pub title: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl ErrorPage {
    /// An error page answered with `status`, in English.
    pub fn response(status: StatusCode, message: impl Into<String>) -> Response {
        Self::localized(status, message, Lang::En)
    }

    /// An error page answered with `status`, in `lang`.
    pub fn localized(status: StatusCode, message: impl Into<String>, lang: Lang) -> Response {
        let page = Self {
            frame: Frame::anonymous(lang),
            code: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: message.into(),
        };
        (status, page).into_response()
    }
}

/// The current time as Unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The error page for a backend failure.
pub(crate) fn backend_error_page(err: &ServiceError, lang: Lang) -> Response {
    let status = backend_status(err);
    if status.is_server_error() {
        tracing::warn!(error = %err, "backend failed");
    }
    ErrorPage::localized(status, err.to_string(), lang)
}

async fn node_rows(backend: &dyn Cluster, lang: Lang) -> Result<Vec<NodeRow>, ServiceError> {
    let nodes = backend.nodes().await?;
    let now = now_ms();
    Ok(nodes
        .iter()
        .map(|n| NodeRow::new_in(n, now, lang))
        .collect())
}

/// `GET /`.
pub async fn index(
    State(state): State<crate::state::AppState>,
    ctx: AuthContext,
    uri: Uri,
) -> Response {
    let backend = Arc::clone(&state.services.cluster);
    let counts = crate::project_pages::list::HomeCounts::fetch(&state.services).await;
    let count = |n: Option<usize>| n.map_or_else(|| MISSING.to_owned(), |n| n.to_string());
    let active = crate::alerts::AlertQuery {
        before: None,
        limit: 0,
        ..Default::default()
    };
    let alerts = match backend.alerts(active).await {
        Ok(list) => list.active.len(),
        Err(err) => return backend_error_page(&err, ctx.lang()),
    };
    match node_rows(backend.as_ref(), ctx.lang()).await {
        Ok(mut nodes) => {
            let total = nodes.len();
            let online = nodes.iter().filter(|n| n.status == "online").count();
            let revoked = nodes.iter().filter(|n| n.status == "revoked").count();
            nodes.truncate(HOME_ROWS);
            IndexPage {
                frame: Frame::signed_in(&ctx, "home", &uri),
                online,
                revoked,
                total,
                alerts,
                projects: count(counts.projects),
                projects_not_ready: count(counts.not_ready),
                projects_attention: counts.not_ready.is_some_and(|n| n > 0),
                gateways: count(counts.gateways),
                nodes,
            }
            .into_response()
        }
        Err(err) => backend_error_page(&err, ctx.lang()),
    }
}

/// `GET /slaves?q=&page=`.
pub async fn slaves(
    State(backend): State<Arc<dyn Cluster>>,
    ctx: AuthContext,
    uri: Uri,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    // A malformed query string shows the first page rather than a bare 400.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    match node_rows(backend.as_ref(), ctx.lang()).await {
        Ok(rows) => {
            let total = rows.len();
            let t = ctx.lang().messages();
            let (nodes, pager) = Pager::paginate(rows, &params, PER_PAGE, t);
            SlavesPage {
                frame: Frame::signed_in(&ctx, "slaves", &uri),
                total,
                nodes,
                pager,
            }
            .into_response()
        }
        Err(err) => backend_error_page(&err, ctx.lang()),
    }
}

/// `GET /docker`.
pub async fn docker(
    State(backend): State<Arc<dyn Cluster>>,
    ctx: AuthContext,
    uri: Uri,
) -> Response {
    match node_rows(backend.as_ref(), ctx.lang()).await {
        Ok(nodes) => DockerPage {
            frame: Frame::signed_in(&ctx, "docker", &uri),
            nodes,
        }
        .into_response(),
        Err(err) => backend_error_page(&err, ctx.lang()),
    }
}

/// The HTML 404 for any unknown path outside `/api`.
pub fn not_found() -> Response {
    ErrorPage::response(StatusCode::NOT_FOUND, "There is no page at this address.")
}
