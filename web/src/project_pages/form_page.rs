//! The project form: `GET /projects/new` and `POST /projects/new` create a project (the
//! answer is the new project's page with its webhook secret, shown this once);
//! `GET /projects/{name}/edit` shows the current specification and `POST` saves it (a
//! change of what runs in the containers starts a rollout). A refused form is shown again
//! as typed (but the registry password) with the master's reason naming the field, and
//! the field marked.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use model::project::api::ProjectFailure;

use super::detail::{Shown, build};
use super::form::{ProjectForm, input_of};
use super::list::nodes_or_none;
use super::{NodeChoice, ProjectsText, explain, node_choices, path_segment, projects_text};
use crate::auth::AuthContext;
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// The create and edit form.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/form.html")]
pub struct FormPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// `New project` or `Edit project web`.
    pub title: String,
    /// Whether an existing project is edited (the name is then fixed).
    pub editing: bool,
    /// Where the form posts.
    pub action: String,
    /// Where "cancel" goes.
    pub back: String,
    /// The fields.
    pub form: ProjectForm,
    /// The slaves a gateway may run on.
    pub nodes: Vec<NodeChoice>,
    /// Why the form was refused.
    pub error: String,
    /// The input at fault (a form field name), for the script to mark.
    pub error_field: String,
}

/// Renders the form.
async fn show(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    editing: Option<&str>,
    form: ProjectForm,
    status: StatusCode,
    failure: Option<&ProjectFailure>,
) -> Response {
    let p = projects_text(ctx.lang());
    let nodes = nodes_or_none(&state.services).await;
    let (error, error_field) = failure.map_or_else(Default::default, |f| {
        let field = match f {
            ProjectFailure::Invalid(e) => input_of(&e.field),
            _ => String::new(),
        };
        (explain(f, p).1, field)
    });
    let mut frame = Frame::signed_in(ctx, "projects", uri);
    let (title, action, back) = match editing {
        Some(name) => (
            p.edit_title.replace("{name}", name),
            format!("/projects/{}/edit", path_segment(name)),
            format!("/projects/{}", path_segment(name)),
        ),
        None => (
            p.new_title.to_owned(),
            "/projects/new".to_owned(),
            "/projects".to_owned(),
        ),
    };
    frame.path.clone_from(&action);
    let page = FormPage {
        frame,
        p,
        title,
        editing: editing.is_some(),
        action,
        back,
        nodes: node_choices(&nodes, &form.gateway_node, p),
        form: form.redisplayed(),
        error,
        error_field,
    };
    (status, page).into_response()
}

/// `GET /projects/new`.
pub async fn new(State(state): State<AppState>, ctx: AuthContext, uri: Uri) -> Response {
    show(
        &state,
        &ctx,
        &uri,
        None,
        ProjectForm::blank(),
        StatusCode::OK,
        None,
    )
    .await
}

/// The form as sent; a body that does not parse is an empty form, which the master
/// refuses naming its first field.
fn form_of(form: Result<Form<ProjectForm>, FormRejection>) -> ProjectForm {
    form.map(|Form(f)| f).unwrap_or_default()
}

fn status_of(f: &ProjectFailure) -> StatusCode {
    StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `POST /projects/new`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<ProjectForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let form = form_of(form);
    let outcome = match form.to_input(p) {
        Ok(input) => state.services.projects.create(&ctx.caller(), input).await,
        Err(invalid) => Err(ProjectFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(created) => {
            let name = created.project.name.clone();
            let projects = &state.services.projects;
            let revisions = projects.revisions(&name).await.unwrap_or_default();
            let events = projects.events(&name).await.unwrap_or_default();
            let nodes = nodes_or_none(&state.services).await;
            let mut frame = Frame::signed_in(&ctx, "projects", &uri);
            frame.path = format!("/projects/{}", path_segment(&name));
            let shown = Shown {
                notice: p.done_created.replace("{name}", &name),
                error: String::new(),
                secret: Some(created.webhook_secret),
            };
            let page = build(frame, &created.project, &revisions, &events, &nodes, shown);
            (StatusCode::CREATED, page).into_response()
        }
        Err(f) => show(&state, &ctx, &uri, None, form, status_of(&f), Some(&f)).await,
    }
}

/// `GET /projects/{name}/edit`: the form showing the current revision's specification.
pub async fn edit(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    let p = projects_text(ctx.lang());
    let current = match state.services.projects.revisions(&name).await {
        Ok(list) => list.into_iter().find(|r| r.current),
        Err(f) => {
            let (status, text) = explain(&f, p);
            return ErrorPage::localized(status, text, ctx.lang());
        }
    };
    let Some(current) = current else {
        let text = format!("{} {name}", p.err_not_found);
        return ErrorPage::localized(StatusCode::NOT_FOUND, text, ctx.lang());
    };
    let form = ProjectForm::from_input(&current.spec);
    show(&state, &ctx, &uri, Some(&name), form, StatusCode::OK, None).await
}

/// `POST /projects/{name}/edit`.
pub async fn save(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ProjectForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let mut form = form_of(form);
    form.name.clone_from(&name);
    let outcome = match form.to_patch(p) {
        Ok(patch) => {
            state
                .services
                .projects
                .update(&ctx.caller(), &name, patch)
                .await
        }
        Err(invalid) => Err(ProjectFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => {
            Redirect::to(&format!("/projects/{}?done=saved", path_segment(&name))).into_response()
        }
        Err(f) => {
            show(
                &state,
                &ctx,
                &uri,
                Some(&name),
                form,
                status_of(&f),
                Some(&f),
            )
            .await
        }
    }
}
