//! The project page's actions, each a form posting to the page's own address:
//!
//! - `POST /projects/{name}/scale` (`replicas`), `/pause`, `/resume`, `/promote`;
//! - `POST /projects/{name}/rollback` (`revision`, empty for the previous one) and
//!   `POST /projects/{name}/delete`: without `confirm=yes` they show a confirmation page;
//!   with it they act.
//!
//! Success redirects to the project (the list after a deletion) with `?done=`; a failure
//! shows the project page with the master's reason.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use model::Invalid;
use model::project::api::ProjectFailure;
use serde::Deserialize;

use super::detail::{Shown, render};
use super::form::{number, optional};
use super::{ProjectsText, explain, path_segment, projects_text};
use crate::auth::AuthContext;
use crate::pages::Frame;
use crate::state::AppState;

/// A confirmation page (deleting, rolling back).
#[derive(Debug, Template, WebTemplate)]
#[template(path = "projects/confirm.html")]
pub struct ConfirmPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub p: &'static ProjectsText,
    /// The question.
    pub question: String,
    /// Where the confirmed form posts.
    pub action: String,
    /// Hidden fields sent along: `(name, value)`.
    pub fields: Vec<(String, String)>,
    /// Where "cancel" goes.
    pub back: String,
}

/// Fields of the action forms (each uses what it needs).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    /// Scale: replicas wanted.
    pub replicas: String,
    /// Rollback: the revision, empty for the previous one.
    pub revision: String,
    /// `yes` once confirmed.
    pub confirm: String,
}

/// Where an action on `name` lands on success.
fn done(name: &str, key: &str) -> Response {
    Redirect::to(&format!("/projects/{}?done={key}", path_segment(name))).into_response()
}

/// The project page with `f` as its error.
async fn failed(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    name: &str,
    f: &ProjectFailure,
) -> Response {
    let p = projects_text(ctx.lang());
    let (status, error) = explain(f, p);
    let shown = Shown {
        error,
        ..Shown::default()
    };
    render(state, ctx, uri, name, status, shown).await
}

/// The form, or an empty one when it does not parse (its fields are then refused).
fn form_of(form: Result<Form<ActionForm>, FormRejection>) -> ActionForm {
    form.map(|Form(f)| f).unwrap_or_default()
}

/// `POST /projects/{name}/scale`.
pub async fn scale(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let outcome = match number::<u32>(&form_of(form).replicas, "replicas", p) {
        Ok(replicas) => {
            state
                .services
                .projects
                .scale(&ctx.caller(), &name, replicas)
                .await
        }
        Err(invalid) => Err(ProjectFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => done(&name, "scaled"),
        Err(f) => failed(&state, &ctx, &uri, &name, &f).await,
    }
}

/// The rollout commands without fields.
#[derive(Debug, Clone, Copy)]
enum Command {
    Pause,
    Resume,
    Promote,
}

async fn command(
    state: AppState,
    ctx: AuthContext,
    uri: Uri,
    name: String,
    command: Command,
) -> Response {
    let projects = &state.services.projects;
    let caller = ctx.caller();
    let (outcome, key) = match command {
        Command::Pause => (projects.pause(&caller, &name).await, "paused"),
        Command::Resume => (projects.resume(&caller, &name).await, "resumed"),
        Command::Promote => (projects.promote(&caller, &name).await, "promoted"),
    };
    match outcome {
        Ok(_) => done(&name, key),
        Err(f) => failed(&state, &ctx, &uri, &name, &f).await,
    }
}

/// `POST /projects/{name}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    command(state, ctx, uri, name, Command::Pause).await
}

/// `POST /projects/{name}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    command(state, ctx, uri, name, Command::Resume).await
}

/// `POST /projects/{name}/promote`.
pub async fn promote(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    command(state, ctx, uri, name, Command::Promote).await
}

/// A confirmation page asking `question` before posting `fields` to `action`.
fn confirm(
    ctx: &AuthContext,
    uri: &Uri,
    active: &'static str,
    question: String,
    action: String,
    fields: Vec<(String, String)>,
    back: String,
) -> Response {
    let mut frame = Frame::signed_in(ctx, active, uri);
    frame.path.clone_from(&back);
    ConfirmPage {
        frame,
        p: projects_text(ctx.lang()),
        question,
        action,
        fields,
        back,
    }
    .into_response()
}

/// `POST /projects/{name}/rollback`.
pub async fn rollback(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    let form = form_of(form);
    let revision: Result<Option<u64>, Invalid> = optional(&form.revision, "revision", p);
    let revision = match revision {
        Ok(r) => r,
        Err(invalid) => {
            return failed(&state, &ctx, &uri, &name, &ProjectFailure::Invalid(invalid)).await;
        }
    };
    if form.confirm != "yes" {
        // Asking needs the project to exist: an unknown one shows its error now.
        if let Err(f) = state.services.projects.get(&name).await {
            return failed(&state, &ctx, &uri, &name, &f).await;
        }
        let question = match revision {
            Some(r) => p
                .confirm_rollback
                .replace("{name}", &name)
                .replace("{revision}", &r.to_string()),
            None => p.confirm_rollback_previous.replace("{name}", &name),
        };
        let fields = vec![("revision".to_owned(), form.revision.trim().to_owned())];
        return confirm(
            &ctx,
            &uri,
            "projects",
            question,
            format!("/projects/{name}/rollback"),
            fields,
            format!("/projects/{name}"),
        );
    }
    match state
        .services
        .projects
        .rollback(&ctx.caller(), &name, revision)
        .await
    {
        Ok(_) => done(&name, "rolled_back"),
        Err(f) => failed(&state, &ctx, &uri, &name, &f).await,
    }
}

/// `POST /projects/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let p = projects_text(ctx.lang());
    if form_of(form).confirm != "yes" {
        if let Err(f) = state.services.projects.get(&name).await {
            return failed(&state, &ctx, &uri, &name, &f).await;
        }
        let question = p.confirm_delete.replace("{name}", &name);
        return confirm(
            &ctx,
            &uri,
            "projects",
            question,
            format!("/projects/{name}/delete"),
            Vec::new(),
            format!("/projects/{name}"),
        );
    }
    match state.services.projects.delete(&ctx.caller(), &name).await {
        Ok(()) => Redirect::to("/projects?done=deleted").into_response(),
        Err(f) => failed(&state, &ctx, &uri, &name, &f).await,
    }
}

/// A confirmation page for deleting a standalone gateway (shared template).
pub(crate) fn confirm_gateway_delete(
    ctx: &AuthContext,
    uri: &Uri,
    name: &str,
    segment: &str,
) -> Response {
    let p = projects_text(ctx.lang());
    confirm(
        ctx,
        uri,
        "gateways",
        p.confirm_delete_gateway.replace("{name}", name),
        format!("/gateways/{segment}/delete"),
        Vec::new(),
        format!("/gateways/{segment}"),
    )
}
