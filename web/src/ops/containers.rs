//! Containers of one node's Docker Engine, under `/api/v1/nodes/{node}/docker`:
//!
//! | route | operation | answer |
//! |---|---|---|
//! | `GET /containers?all=true` | `docker.list_containers` | containers |
//! | `POST /containers` (the run form, below) | `docker.create_container`, or `docker.deploy` when the image must be pulled | 201 `{"id", "warnings", "started"}`, or 202 `{"task", "state", "href"}` |
//! | `GET /containers/{id}` | `docker.inspect_container` | the container in detail |
//! | `POST /containers/{id}/start`, `/pause`, `/unpause` | `docker.<verb>_container` | 204 |
//! | `POST /containers/{id}/stop?timeout=10`, `/restart?timeout=10` | `docker.stop_container`, `docker.restart_container` | 204 |
//! | `POST /containers/{id}/kill?signal=SIGTERM` | `docker.kill_container` | 204 |
//! | `POST /containers/{id}/rename` `{"name"}` | `docker.rename_container` | 204 |
//! | `DELETE /containers/{id}?force=false&volumes=false` | `docker.remove_container` | 204 |
//! | `GET /containers/{id}/logs?tail=N&stdout=&stderr=&timestamps=&since=&follow=` | `docker.logs` | `{"entries": [...]}`, or an event stream when following (see `stream`) |
//! | `GET /containers/{id}/top` | `docker.top` | `{"titles", "processes"}` |
//! | `GET /containers/{id}/stats?stream=` | `docker.stats` | one reading, or an event stream of readings |
//!
//! The run form is a JSON object: `image` (required), `name`, `cmd` (argv, no shell), `env`
//! (`["KEY=VALUE"]`), `ports` (`["[IP:]HOST:CONTAINER[/tcp|udp|sctp]"]`), `volumes`
//! (`["SOURCE:TARGET[:ro]"]`), `restart` (`no`, `always`, `unless-stopped`,
//! `on-failure[:N]`), `labels`, `memory_bytes`, `nano_cpus`, `network`, `workdir`, `user`,
//! `start` (default true), and for pulling: `pull` (`missing` (default), `always`,
//! `never`) and `auth` (`{"server", "username", "password"}`, never logged nor answered).
//! When the image is present and `pull` is not `always`, the container is created at once;
//! otherwise a deployment task pulls the image first.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::ResponseBody;
use protocol::ops::docker::{
    ContainerCreate, DockerOp, LogsQuery, PullPolicy, RegistryAuth, RestartPolicy,
};
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::validate;
use serde_json::Value;

use super::call::{OP_TIMEOUT, Op, accepted, answer, docker};
use super::error::OpsError;
use super::params::{JsonBody, PathParams, QueryParams, field, object, required_text, typed};
use super::schema;
use super::stream;
use crate::auth::AuthContext;
use crate::state::AppState;
use model::ops::LogsAnswer;
use model::service::{ContainerCreated, CreateContainer};
use std::time::Duration;

/// Fields of the run form.
pub const FORM_FIELDS: &[&str] = &[
    "image",
    "name",
    "cmd",
    "env",
    "ports",
    "volumes",
    "restart",
    "labels",
    "memory_bytes",
    "nano_cpus",
    "network",
    "workdir",
    "user",
    "start",
    "pull",
    "auth",
];

/// `restart` as a string (`unless-stopped`, `on-failure:3`) in the protocol's JSON shape.
fn restart_policy(value: Value) -> Result<RestartPolicy, OpsError> {
    let Value::String(s) = &value else {
        return field("restart", value);
    };
    let s = s.trim().replace('_', "-");
    Ok(match s.as_str() {
        "" | "no" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure { max_retries: 0 },
        other => match other.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(max_retries)) => RestartPolicy::OnFailure { max_retries },
            _ => {
                return Err(OpsError::bad(
                    "restart",
                    format!("{other:?} is not no, always, unless-stopped or on-failure[:N]"),
                ));
            }
        },
    })
}

/// `pull`: `missing`, `always` or `never`.
fn pull_policy(value: Value) -> Result<PullPolicy, OpsError> {
    field("pull", value).map_err(|_| OpsError::bad("pull", "must be missing, always or never"))
}

/// Registry credentials (`auth`); the password is never echoed in errors.
pub fn registry_auth(value: Value) -> Result<RegistryAuth, OpsError> {
    let mut map =
        object(value, schema::AUTH_FIELDS).map_err(|e| OpsError::bad("auth", e.message))?;
    let username = required_text(&mut map, "username")
        .map_err(|e| OpsError::bad("auth.username", e.message))?;
    let password = required_text(&mut map, "password")
        .map_err(|_| OpsError::bad("auth.password", "a string is required"))?;
    let server = match map.remove("server") {
        None | Some(Value::Null) => None,
        Some(v) => Some(field::<String>("auth.server", v)?),
    };
    let auth = RegistryAuth {
        server,
        username,
        password,
    };
    validate::registry_auth("auth", &auth)?;
    Ok(auth)
}

/// A run form: the container, the pull policy if given, credentials if given.
pub fn container_form(
    body: Value,
) -> Result<(ContainerCreate, Option<PullPolicy>, Option<RegistryAuth>), OpsError> {
    let mut map = object(body, FORM_FIELDS)?;
    let pull = map.remove("pull").map(pull_policy).transpose()?;
    let auth = match map.remove("auth") {
        None | Some(Value::Null) => None,
        Some(v) => Some(registry_auth(v)?),
    };
    let restart = map.remove("restart").map(restart_policy).transpose()?;
    if !map.contains_key("image") {
        return Err(OpsError::bad("image", "is required"));
    }
    let mut form: ContainerCreate = typed(map)?;
    if let Some(r) = restart {
        form.restart = r;
    }
    validate::container_create(&form)?;
    Ok((form, pull, auth))
}

/// `GET /api/v1/nodes/{node}/docker/containers?all=`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/containers",
    operation_id = "get /api/v1/nodes/{node}/docker/containers",
    tag = "docker",
    summary = "Containers.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("all" = Option<bool>, Query, description = "Include stopped containers."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.list_containers").on_part("containers");
    let all = op.args(query.flag("all", false)).await?;
    let reply = op
        .call(docker(DockerOp::ListContainers { all }), OP_TIMEOUT)
        .await?;
    Ok(answer(&reply))
}

/// `POST /api/v1/nodes/{node}/docker/containers`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers",
    operation_id = "post /api/v1/nodes/{node}/docker/containers",
    tag = "docker",
    summary = "Create and run a container; 201 with its id, or 202 with a task when the image must be pulled first.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::ContainerForm,
    responses(
        (status = 201, description = "Done.", body = crate::ops::schema::ContainerCreatedReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let image = body.text("image");
    let op = Op::new(&state, &ctx, &path, "docker.create_container").on("image", &image);
    let (spec, pull, auth) = op.args(body.0.and_then(container_form)).await?;
    let node = op.node().await?;
    let create = CreateContainer {
        caller: op.caller(),
        target: op.target().to_owned(),
        node,
        spec,
        pull,
        auth,
    };
    match state.services.ops.create_container(create).await {
        Ok(ContainerCreated::Created(reply)) => Ok(created(&reply)),
        Ok(ContainerCreated::Deploying(task)) => Ok(accepted(&task)),
        Err(f) => Err(OpsError::from(f)),
    }
}

/// 201 with `{"id", "warnings", "started"}` of a created container.
pub fn created(reply: &ResponseBody) -> Response {
    match reply {
        ResponseBody::Docker(r) => match &**r {
            DockerReply::Created {
                id,
                warnings,
                started,
                ..
            } => {
                let body = super::schema::ContainerCreatedReply {
                    id,
                    warnings,
                    started: *started,
                };
                (StatusCode::CREATED, Json(body)).into_response()
            }
            _ => answer(reply),
        },
        _ => answer(reply),
    }
}

/// The container id or name from the path, checked.
fn container_id(path: &PathParams) -> Result<String, OpsError> {
    let id = path.text("id")?;
    validate::container_ref("id", id)?;
    Ok(id.to_owned())
}

/// `GET /api/v1/nodes/{node}/docker/containers/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/containers/{id}",
    operation_id = "get /api/v1/nodes/{node}/docker/containers/{id}",
    tag = "docker",
    summary = "One container in detail.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn inspect(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op =
        Op::new(&state, &ctx, &path, "docker.inspect_container").on("container", path.text("id")?);
    let id = op.args(container_id(&path)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::InspectContainer { id }), OP_TIMEOUT)
            .await?,
    ))
}

/// The operation of `POST /containers/{id}/<verb>`.
fn verb_op(verb: &str, id: String, q: &QueryParams) -> Result<DockerOp, OpsError> {
    let timeout_secs = q.u32("timeout")?;
    Ok(match verb {
        "start" => DockerOp::StartContainer { id },
        "stop" => DockerOp::StopContainer { id, timeout_secs },
        "restart" => DockerOp::RestartContainer { id, timeout_secs },
        "pause" => DockerOp::PauseContainer { id },
        "unpause" => DockerOp::UnpauseContainer { id },
        "kill" => DockerOp::KillContainer {
            id,
            signal: q.text("signal").map(str::to_owned),
        },
        other => {
            return Err(OpsError::not_found(format!(
                "no container action {other:?}"
            )));
        }
    })
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/{start|stop|restart|pause|unpause|kill}`:
/// each verb is its own route and handler (below), so that each is documented with its own
/// query; the handler names its verb.
async fn action(
    verb: &str,
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let action = format!("docker.{verb}_container");
    let op = Op::new(&state, &ctx, &path, &action).on("container", path.text("id")?);
    let body = op
        .args(container_id(&path).and_then(|id| verb_op(verb, id, &query)))
        .await?;
    // Stopping waits for the container's grace period: the deadline covers it.
    let grace = match &body {
        DockerOp::StopContainer { timeout_secs, .. }
        | DockerOp::RestartContainer { timeout_secs, .. } => u64::from(timeout_secs.unwrap_or(10)),
        _ => 0,
    };
    let timeout = OP_TIMEOUT + Duration::from_secs(grace);
    Ok(answer(&op.call(docker(body), timeout).await?))
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/start`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/start",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/start",
    tag = "docker",
    summary = "Start a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn start(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("start", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/stop`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/stop",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/stop",
    tag = "docker",
    summary = "Stop a container, killing it after `timeout` seconds.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("timeout" = Option<u64>, Query, description = "Seconds before it is killed (default 10)."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn stop(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("stop", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/restart`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/restart",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/restart",
    tag = "docker",
    summary = "Restart a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("timeout" = Option<u64>, Query, description = "Seconds before it is killed (default 10)."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn restart(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("restart", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/pause`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/pause",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/pause",
    tag = "docker",
    summary = "Pause a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn pause(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("pause", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/unpause`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/unpause",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/unpause",
    tag = "docker",
    summary = "Unpause a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn unpause(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("unpause", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/kill`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/kill",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/kill",
    tag = "docker",
    summary = "Send a signal to a container (default SIGKILL).",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("signal" = Option<String>, Query, description = "Signal name or number."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn kill(
    state: State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    action("kill", state, ctx, path, query).await
}

/// `POST /api/v1/nodes/{node}/docker/containers/{id}/rename` `{"name": "new-name"}`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/rename",
    operation_id = "post /api/v1/nodes/{node}/docker/containers/{id}/rename",
    tag = "docker",
    summary = "Rename a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    request_body = crate::ops::schema::Rename,
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn rename(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let op =
        Op::new(&state, &ctx, &path, "docker.rename_container").on("container", path.text("id")?);
    let body = op
        .args((|| {
            let id = container_id(&path)?;
            let new_name = required_text(&mut object(body.0?, schema::RENAME_FIELDS)?, "name")?;
            validate::container_name("name", &new_name)?;
            Ok(DockerOp::RenameContainer { id, new_name })
        })())
        .await?;
    Ok(answer(&op.call(docker(body), OP_TIMEOUT).await?))
}

/// `DELETE /api/v1/nodes/{node}/docker/containers/{id}?force=&volumes=`.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{node}/docker/containers/{id}",
    operation_id = "delete /api/v1/nodes/{node}/docker/containers/{id}",
    tag = "docker",
    summary = "Remove a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("force" = Option<bool>, Query, description = "Kill it first when running."),
        ("volumes" = Option<bool>, Query, description = "Remove its anonymous volumes."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op =
        Op::new(&state, &ctx, &path, "docker.remove_container").on("container", path.text("id")?);
    let body = op
        .args((|| {
            Ok(DockerOp::RemoveContainer {
                id: container_id(&path)?,
                force: query.flag("force", false)?,
                volumes: query.flag("volumes", false)?,
            })
        })())
        .await?;
    Ok(answer(&op.call(docker(body), OP_TIMEOUT).await?))
}

/// The logs query.
pub fn logs_query(id: String, q: &QueryParams) -> Result<LogsQuery, OpsError> {
    Ok(LogsQuery {
        id,
        tail: q.u32("tail")?,
        follow: q.flag("follow", false)?,
        stdout: q.flag("stdout", true)?,
        stderr: q.flag("stderr", true)?,
        timestamps: q.flag("timestamps", false)?,
        since_unix: q.i64("since")?,
    })
}

/// `GET /api/v1/nodes/{node}/docker/containers/{id}/logs`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/logs",
    operation_id = "get /api/v1/nodes/{node}/docker/containers/{id}/logs",
    tag = "docker",
    summary = "Logs; with follow=true a text/event-stream of `logs` batches ending with `end` or `error`.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("tail" = Option<u64>, Query, description = "Only the last N lines."),
        ("follow" = Option<bool>, Query, description = "Stream new lines (Server-Sent Events)."),
        ("stdout" = Option<bool>, Query, description = "Include standard output (default true)."),
        ("stderr" = Option<bool>, Query, description = "Include standard error (default true)."),
        ("timestamps" = Option<bool>, Query, description = "Engine timestamps."),
        ("since" = Option<u64>, Query, description = "Only lines since this Unix time, seconds."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn logs(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.logs").on("container", path.text("id")?);
    let q = op
        .args(container_id(&path).and_then(|id| logs_query(id, &query)))
        .await?;
    if q.follow {
        return stream::follow_logs(op, q).await;
    }
    let timeout = model::ops::STREAMED_LOG_TIMEOUT;
    Ok(match op.logs(docker(DockerOp::Logs(q)), timeout).await? {
        LogsAnswer::Fed(feed) => super::log_body::respond_fed(feed),
        LogsAnswer::Whole(ResponseBody::Docker(reply)) => match *reply {
            DockerReply::Logs(batch) => super::log_body::respond(batch),
            other => answer(&ResponseBody::Docker(Box::new(other))),
        },
        LogsAnswer::Whole(other) => answer(&other),
    })
}

/// `GET /api/v1/nodes/{node}/docker/containers/{id}/top`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/top",
    operation_id = "get /api/v1/nodes/{node}/docker/containers/{id}/top",
    tag = "docker",
    summary = "Processes inside a container.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn top(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.top").on("container", path.text("id")?);
    let id = op.args(container_id(&path)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::Top { id }), OP_TIMEOUT).await?,
    ))
}

/// `GET /api/v1/nodes/{node}/docker/containers/{id}/stats?stream=`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/containers/{id}/stats",
    operation_id = "get /api/v1/nodes/{node}/docker/containers/{id}/stats",
    tag = "docker",
    summary = "One stats reading; with stream=true a text/event-stream of `stats` events.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Container id (or unique prefix) or name."),
        ("stream" = Option<bool>, Query, description = "Stream readings (Server-Sent Events)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn stats(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.stats").on("container", path.text("id")?);
    let (id, live) = op
        .args(container_id(&path).and_then(|id| Ok((id, query.flag("stream", false)?))))
        .await?;
    if live {
        return stream::stats(op, id).await;
    }
    Ok(answer(
        &op.call(docker(DockerOp::Stats { id }), OP_TIMEOUT).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_forms_are_parsed_and_checked() {
        let (form, pull, auth) = container_form(json!({
            "image": "busybox:1", "name": "web", "cmd": ["httpd", "-f"],
            "env": ["A=1"], "ports": ["8080:80/tcp"], "restart": "on-failure:3",
            "pull": "always", "auth": {"username": "u", "password": "p"}
        }))
        .unwrap();
        assert_eq!(form.restart, RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(
            (pull, auth.map(|a| a.username)),
            (Some(PullPolicy::Always), Some("u".into()))
        );
        assert!(form.start);
        for (body, field) in [
            (
                json!({"image": "busybox", "ports": ["8080:80/tcp", "99999:80"]}),
                "ports[1]",
            ),
            (json!({"image": "busybox", "port": []}), "port"),
            (json!({"name": "x1"}), "image"),
            (json!({"image": "busybox", "cmd": "sh -c x"}), "cmd"),
            (
                json!({"image": "busybox", "restart": "sometimes"}),
                "restart",
            ),
            (json!({"image": "busybox", "pull": "maybe"}), "pull"),
            (
                json!({"image": "busybox", "auth": {"username": "u"}}),
                "auth.password",
            ),
            (json!({"image": "Bad Image"}), "image"),
        ] {
            let e = container_form(body.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{body}: {}", e.message);
        }
        let e = container_form(
            json!({"image": "busybox", "auth": {"username": "u", "password": "s3cret\n"}}),
        )
        .unwrap_err();
        assert!(!e.message.contains("s3cret"), "{}", e.message);
    }
}
