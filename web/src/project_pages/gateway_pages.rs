//! The gateway pages: `GET /gateways` lists every gateway (the projects' and the
//! standalone ones) with where it runs, whether it serves and its traffic, refreshed in
//! place; `GET /gateways/{name}` shows one with its upstreams' health and connections (a
//! project's gateway is `project%2F<name>` there). Standalone gateways are created
//! (`/gateways/new`), edited (`/gateways/{name}/edit`) and deleted
//! (`POST /gateways/{name}/delete`, confirmed first) here; a project's gateway is changed
//! on its project's form.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use model::node::NodeView;
use model::project::api::ProjectFailure;
use model::project::gateway::{GatewayKind, GatewayListing};
use model::project::spec::Algorithm;

use super::actions::{ActionForm, confirm_gateway_delete};
use super::gateway_form::GatewayForm;
use super::list::nodes_or_none;
use super::{
    DoneQuery, NodeChoice, ProjectsText, explain, node_choices, node_label, path_segment,
    projects_text,
};
use crate::auth::AuthContext;
use crate::format::{format_bytes, format_rfc3339_ms};
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// One gateway, formatted.
#[derive(Debug, Clone)]
pub struct GatewayRow {
    /// Name (`project/web` for a project's).
    pub name: String,
    /// Its page.
    pub href: String,
    /// Whether it is standalone (editable here).
    pub standalone: bool,
    /// `project` or `standalone`, translated.
    pub kind: &'static str,
    /// The project it fronts, empty for a standalone one.
    pub project: String,
    /// `host:port`.
    pub address: String,
    /// `serving`, `not_serving` or `not_reported`.
    pub serving_key: &'static str,
    /// The same, translated.
    pub serving: &'static str,
    /// Why it does not serve, from its slave.
    pub message: String,
    /// `open / total`.
    pub conns: String,
    /// `in / out`.
    pub bytes: String,
    /// Connections refused.
    pub refused: String,
    /// Upstreams configured or healthy.
    pub upstream_count: usize,
    /// Algorithm, translated.
    pub algorithm: &'static str,
    /// Allowed CIDRs, or everyone.
    pub allow: String,
    /// Denied CIDRs.
    pub deny: String,
    /// `open / per second`.
    pub limits: String,
    /// When its slave reported, RFC 3339.
    pub reported: String,
}

/// One upstream, formatted.
#[derive(Debug, Clone)]
pub struct UpstreamRow {
    /// `address:port`.
    pub addr: String,
    /// `healthy`, `unhealthy` or `not_reported`.
    pub health_key: &'static str,
    /// The same, translated.
    pub health: &'static str,
    /// Connections open.
    pub active: String,
    /// Connections made.
    pub total: String,
}

const DASH: &str = "–";

fn algorithm_label(a: Algorithm, p: &ProjectsText) -> &'static str {
    match a {
        Algorithm::RoundRobin => p.alg_round_robin,
        Algorithm::LeastConn => p.alg_least_conn,
        Algorithm::Hash => p.alg_hash,
    }
}

impl GatewayRow {
    /// `g` formatted, its node named from `nodes`.
    pub fn new(g: &GatewayListing, nodes: &[NodeView], p: &ProjectsText) -> Self {
        let (serving_key, serving) = match &g.stats {
            None => ("not_reported", p.not_reported),
            Some(s) if s.serving => ("serving", p.serving),
            Some(_) => ("not_serving", p.not_serving),
        };
        let stats = g.stats.as_ref();
        let limit = |v: Option<u32>| v.map_or_else(|| DASH.to_owned(), |v| v.to_string());
        Self {
            name: g.name.clone(),
            href: format!("/gateways/{}", path_segment(&g.name)),
            standalone: g.kind == GatewayKind::Standalone,
            kind: match g.kind {
                GatewayKind::Project => p.kind_project,
                GatewayKind::Standalone => p.kind_standalone,
            },
            project: g.project.clone().unwrap_or_default(),
            address: format!("{}:{}", node_label(nodes, g.node), g.port),
            serving_key,
            serving,
            message: stats.map(|s| s.message.clone()).unwrap_or_default(),
            conns: stats.map_or_else(
                || DASH.to_owned(),
                |s| format!("{} / {}", s.active_conns, s.total_conns),
            ),
            bytes: stats.map_or_else(
                || DASH.to_owned(),
                |s| {
                    format!(
                        "{} / {}",
                        format_bytes(s.bytes_in),
                        format_bytes(s.bytes_out)
                    )
                },
            ),
            refused: stats.map_or_else(|| DASH.to_owned(), |s| s.refused_conns.to_string()),
            upstream_count: g.upstreams.len(),
            algorithm: algorithm_label(g.algorithm, p),
            allow: g.allow.join(", "),
            deny: g.deny.join(", "),
            limits: format!(
                "{} / {}",
                limit(g.max_conns_per_ip),
                limit(g.conn_rate_per_ip)
            ),
            reported: stats
                .and_then(|s| format_rfc3339_ms(s.reported_ms))
                .unwrap_or_default(),
        }
    }
}

/// The upstreams of `g`: as its slave reported them, else as configured (health unknown).
fn upstream_rows(g: &GatewayListing, p: &ProjectsText) -> Vec<UpstreamRow> {
    match &g.stats {
        Some(s) if !s.upstreams.is_empty() => s
            .upstreams
            .iter()
            .map(|u| UpstreamRow {
                addr: u.addr.clone(),
                health_key: if u.healthy { "healthy" } else { "unhealthy" },
                health: if u.healthy { p.healthy } else { p.unhealthy },
                active: u.active_conns.to_string(),
                total: u.total_conns.to_string(),
            })
            .collect(),
        _ => g
            .upstreams
            .iter()
            .map(|addr| UpstreamRow {
                addr: addr.clone(),
                health_key: "not_reported",
                health: p.not_reported,
                active: DASH.to_owned(),
                total: DASH.to_owned(),
            })
            .collect(),
    }
}

/// The gateways list.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/gateways.html")]
pub struct GatewaysPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// Every gateway.
    pub rows: Vec<GatewayRow>,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

/// One gateway's page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/gateway.html")]
pub struct GatewayPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// `Gateway edge`.
    pub title: String,
    /// The gateway.
    pub row: GatewayRow,
    /// Its upstreams.
    pub upstreams: Vec<UpstreamRow>,
    /// For a project's gateway: where it is changed.
    pub project_note: String,
    /// Its name as one path segment.
    pub segment: String,
    /// A success message.
    pub notice: String,
}

/// The standalone gateway form.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/gateway_form.html")]
pub struct GatewayFormPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// `New gateway` or `Edit gateway edge`.
    pub title: String,
    /// Whether an existing gateway is edited.
    pub editing: bool,
    /// Where the form posts.
    pub action: String,
    /// Where "cancel" goes.
    pub back: String,
    /// The fields.
    pub form: GatewayForm,
    /// The slaves.
    pub nodes: Vec<NodeChoice>,
    /// Why the form was refused.
    pub error: String,
    /// The input at fault, for the script to mark.
    pub error_field: String,
}

/// `GET /gateways?done=`.
pub async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let notice = query.map(|Query(q)| q.notice(p)).unwrap_or_default();
    let nodes = nodes_or_none(&state.services).await;
    let (status, rows, error) = match state.services.projects.gateways().await {
        Ok(list) => (
            StatusCode::OK,
            list.iter().map(|g| GatewayRow::new(g, &nodes, p)).collect(),
            String::new(),
        ),
        Err(f) => {
            let (status, text) = explain(&f, p);
            (status, Vec::new(), text)
        }
    };
    let mut frame = Frame::signed_in(&ctx, "gateways", &uri);
    frame.path = "/gateways".to_owned();
    let page = GatewaysPage {
        frame,
        p,
        rows,
        notice,
        error,
    };
    (status, page).into_response()
}

/// Gateway `name`, or the error page.
async fn find(state: &AppState, ctx: &AuthContext, name: &str) -> Result<GatewayListing, Response> {
    let p = projects_text(ctx.lang());
    match state.services.projects.gateways().await {
        Ok(list) => list.into_iter().find(|g| g.name == name).ok_or_else(|| {
            let text = format!("{} {name}", p.err_not_found);
            ErrorPage::localized(StatusCode::NOT_FOUND, text, ctx.lang())
        }),
        Err(f) => {
            let (status, text) = explain(&f, p);
            Err(ErrorPage::localized(status, text, ctx.lang()))
        }
    }
}

/// `GET /gateways/{name}?done=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let g = match find(&state, &ctx, &name).await {
        Ok(g) => g,
        Err(page) => return page,
    };
    let nodes = nodes_or_none(&state.services).await;
    let segment = path_segment(&g.name);
    let mut frame = Frame::signed_in(&ctx, "gateways", &uri);
    frame.path = format!("/gateways/{segment}");
    GatewayPage {
        frame,
        p,
        title: p.gateway_title.replace("{name}", &g.name),
        upstreams: upstream_rows(&g, p),
        project_note: g.project.as_ref().map_or_else(String::new, |project| {
            p.gateway_project_note.replace("{name}", project)
        }),
        row: GatewayRow::new(&g, &nodes, p),
        segment,
        notice: query.map(|Query(q)| q.notice(p)).unwrap_or_default(),
    }
    .into_response()
}

/// Renders the gateway form.
async fn show_form(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    editing: Option<&str>,
    form: GatewayForm,
    failure: Option<&ProjectFailure>,
) -> Response {
    let p = projects_text(ctx.lang());
    let nodes = nodes_or_none(&state.services).await;
    let (status, error, error_field) = match failure {
        None => (StatusCode::OK, String::new(), String::new()),
        Some(f) => {
            let (status, text) = explain(f, p);
            let field = match f {
                ProjectFailure::Invalid(e) => {
                    e.field.split('[').next().unwrap_or_default().to_owned()
                }
                _ => String::new(),
            };
            (status, text, field)
        }
    };
    let (title, action, back) = match editing {
        Some(name) => (
            p.edit_gateway_title.replace("{name}", name),
            format!("/gateways/{}/edit", path_segment(name)),
            format!("/gateways/{}", path_segment(name)),
        ),
        None => (
            p.new_gateway_title.to_owned(),
            "/gateways/new".to_owned(),
            "/gateways".to_owned(),
        ),
    };
    let mut frame = Frame::signed_in(ctx, "gateways", uri);
    frame.path.clone_from(&action);
    let page = GatewayFormPage {
        frame,
        p,
        title,
        editing: editing.is_some(),
        action,
        back,
        nodes: node_choices(&nodes, &form.node, p),
        form,
        error,
        error_field,
    };
    (status, page).into_response()
}

fn form_of(form: Result<Form<GatewayForm>, FormRejection>) -> GatewayForm {
    form.map(|Form(f)| f).unwrap_or_default()
}

fn done(name: &str, key: &str) -> Response {
    axum::response::Redirect::to(&format!("/gateways/{}?done={key}", path_segment(name)))
        .into_response()
}

/// `GET /gateways/new`.
pub async fn new(State(state): State<AppState>, ctx: AuthContext, uri: Uri) -> Response {
    show_form(&state, &ctx, &uri, None, GatewayForm::blank(), None).await
}

/// `POST /gateways/new`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<GatewayForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let form = form_of(form);
    let outcome = match form.to_input(p) {
        Ok(input) => {
            state
                .services
                .projects
                .create_gateway(&ctx.caller(), input)
                .await
        }
        Err(invalid) => Err(ProjectFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(g) => done(&g.name, "gateway_created"),
        Err(f) => show_form(&state, &ctx, &uri, None, form, Some(&f)).await,
    }
}

/// `GET /gateways/{name}/edit` (standalone gateways only).
pub async fn edit(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    match find(&state, &ctx, &name).await {
        Ok(g) if g.kind == GatewayKind::Standalone => {
            let form = GatewayForm::from_listing(&g);
            show_form(&state, &ctx, &uri, Some(&name), form, None).await
        }
        Ok(g) => not_standalone(&ctx, &g),
        Err(page) => page,
    }
}

/// The error page for changing a project's gateway here.
fn not_standalone(ctx: &AuthContext, g: &GatewayListing) -> Response {
    let p = projects_text(ctx.lang());
    let project = g.project.clone().unwrap_or_default();
    let text = p.gateway_project_note.replace("{name}", &project);
    ErrorPage::localized(StatusCode::CONFLICT, text, ctx.lang())
}

/// `POST /gateways/{name}/edit`.
pub async fn save(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<GatewayForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let mut form = form_of(form);
    form.name.clone_from(&name);
    let outcome = match form.to_patch(p) {
        Ok(patch) => {
            state
                .services
                .projects
                .update_gateway(&ctx.caller(), &name, patch)
                .await
        }
        Err(invalid) => Err(ProjectFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => done(&name, "gateway_saved"),
        Err(f) => show_form(&state, &ctx, &uri, Some(&name), form, Some(&f)).await,
    }
}

/// `POST /gateways/{name}/delete`: confirmation first, then removal.
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let confirmed = form.map(|Form(f)| f.confirm == "yes").unwrap_or(false);
    let g = match find(&state, &ctx, &name).await {
        Ok(g) if g.kind == GatewayKind::Standalone => g,
        Ok(g) => return not_standalone(&ctx, &g),
        Err(page) => return page,
    };
    if !confirmed {
        return confirm_gateway_delete(&ctx, &uri, &g.name, &path_segment(&g.name));
    }
    match state
        .services
        .projects
        .delete_gateway(&ctx.caller(), &name)
        .await
    {
        Ok(()) => axum::response::Redirect::to("/gateways?done=gateway_deleted").into_response(),
        Err(f) => {
            let p = projects_text(ctx.lang());
            let (status, text) = explain(&f, p);
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}
