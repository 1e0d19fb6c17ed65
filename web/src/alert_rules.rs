//! Alert rules and silences over REST (the rules are the master's, behind
//! [`model::service::AlertRules`]; the records are in [`model::alert_rule`]):
//!
//! - `GET /api/v1/alerts/rules`, `POST` → 201 with the rule and its `id`;
//! - `GET`, `PUT` (the whole rule), `DELETE` → 204 `/api/v1/alerts/rules/{id}`;
//! - `GET /api/v1/alerts/silences` (those not expired), `POST` → 201,
//!   `DELETE /api/v1/alerts/silences/{id}` → 204.
//!
//! A field that breaks a rule is a 400 whose `error` starts with the field's name; an
//! unknown id a 404; too many rules or silences a 409.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::alert_rule::{AlertFailure, RuleInput, SilenceInput};

use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::projects::Body;
use crate::state::AppState;

/// The HTTP answer of a failed rule or silence call.
pub fn failure(f: AlertFailure) -> ApiError {
    match f {
        AlertFailure::Invalid(e) => ApiError::new(StatusCode::BAD_REQUEST, e.message),
        AlertFailure::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
        AlertFailure::Full(m) => ApiError::new(StatusCode::CONFLICT, m),
        AlertFailure::Service(e) => e.into(),
    }
}

/// The id in a path: a number, or a JSON 404 naming what was asked.
fn id_of(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no {what} {raw:?}")))
}

/// `GET /api/v1/alerts/rules`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules",
    operation_id = "get /api/v1/alerts/rules",
    tag = "alerts",
    summary = "Every alert rule, by id (threshold rules and event rules, the built-in ones included).",
    responses(
        (status = 200, description = "Done.", body = [model::alert_rule::AlertRuleRecord]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _ctx: AuthContext) -> Result<Response, ApiError> {
    let rules = state.services.alerting.rules().await.map_err(failure)?;
    Ok(Json(rules).into_response())
}

/// `POST /api/v1/alerts/rules`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules",
    operation_id = "post /api/v1/alerts/rules",
    tag = "alerts",
    summary = "Create an alert rule: `metric op threshold` held for `for_s` seconds on the nodes of `scope` fires; back past `recover_threshold` resolves. Event metrics (`node_offline`, `container_exited`, `rollout_rolled_back`) take no threshold. A field at fault is a 400 naming it. Audited.",
    request_body = model::alert_rule::RuleInput,
    responses(
        (status = 201, description = "Created.", body = model::alert_rule::AlertRuleRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    Body(input): Body<RuleInput>,
) -> Result<Response, ApiError> {
    let rule = state
        .services
        .alerting
        .create_rule(&ctx.caller(), input)
        .await
        .map_err(failure)?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// `GET /api/v1/alerts/rules/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules/{id}",
    operation_id = "get /api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "One alert rule.",
    params(("id" = u64, Path, description = "Rule id.")),
    responses(
        (status = 200, description = "Done.", body = model::alert_rule::AlertRuleRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "alert rule")?;
    let rule = state.services.alerting.rule(id).await.map_err(failure)?;
    Ok(Json(rule).into_response())
}

/// `PUT /api/v1/alerts/rules/{id}`.
#[utoipa::path(
    put,
    path = "/api/v1/alerts/rules/{id}",
    operation_id = "put /api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "Replace an alert rule (the whole rule, as for create); its firing alerts whose condition no longer holds resolve at once. Audited.",
    params(("id" = u64, Path, description = "Rule id.")),
    request_body = model::alert_rule::RuleInput,
    responses(
        (status = 200, description = "Done.", body = model::alert_rule::AlertRuleRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    Body(input): Body<RuleInput>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "alert rule")?;
    let rule = state
        .services
        .alerting
        .update_rule(&ctx.caller(), id, input)
        .await
        .map_err(failure)?;
    Ok(Json(rule).into_response())
}

/// `DELETE /api/v1/alerts/rules/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/rules/{id}",
    operation_id = "delete /api/v1/alerts/rules/{id}",
    tag = "alerts",
    summary = "Delete an alert rule; its firing alerts resolve. Audited.",
    params(("id" = u64, Path, description = "Rule id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "alert rule")?;
    state
        .services
        .alerting
        .delete_rule(&ctx.caller(), id)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/alerts/silences`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/silences",
    operation_id = "get /api/v1/alerts/silences",
    tag = "alerts",
    summary = "Every silence not yet expired, by id.",
    responses(
        (status = 200, description = "Done.", body = [model::alert_rule::SilenceRecord]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn silences(
    State(state): State<AppState>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    let list = state.services.alerting.silences().await.map_err(failure)?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/alerts/silences`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/silences",
    operation_id = "post /api/v1/alerts/silences",
    tag = "alerts",
    summary = "Silence a rule (by id, name or built-in kind), on one node or all, until `until` (Unix milliseconds): its alerts still show but send no notification. Audited.",
    request_body = model::alert_rule::SilenceInput,
    responses(
        (status = 201, description = "Created.", body = model::alert_rule::SilenceRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create_silence(
    State(state): State<AppState>,
    ctx: AuthContext,
    Body(input): Body<SilenceInput>,
) -> Result<Response, ApiError> {
    let silence = state
        .services
        .alerting
        .create_silence(&ctx.caller(), input)
        .await
        .map_err(failure)?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

/// `DELETE /api/v1/alerts/silences/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/silences/{id}",
    operation_id = "delete /api/v1/alerts/silences/{id}",
    tag = "alerts",
    summary = "Delete a silence. Audited.",
    params(("id" = u64, Path, description = "Silence id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn delete_silence(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "silence")?;
    state
        .services
        .alerting
        .delete_silence(&ctx.caller(), id)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
