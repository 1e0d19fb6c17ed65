//! The engine, images, deployments, networks and volumes of one node, under
//! `/api/v1/nodes/{node}/docker`:
//!
//! | route | operation | answer |
//! |---|---|---|
//! | `GET /info` | `docker.info` | engine version and facts |
//! | `GET /images?all=` | `docker.list_images` | images |
//! | `POST /images` `{"reference", "auth"}` | `docker.pull_image` (task) | 202 `{"task", "state", "href"}` |
//! | `POST /images/import?repo=&tag=` (body: the tarball, `Content-Length` required) | `docker.import_image` (task) | 202 |
//! | `GET /images/{image}` | `docker.inspect_image` | the image in detail |
//! | `GET /images/{image}/history` | `docker.image_history` | its layers |
//! | `POST /images/{image}/tag` `{"repo", "tag"}` | `docker.tag_image` | 201 `{"image": "repo:tag"}` |
//! | `DELETE /images/{image}?force=&prune=` | `docker.remove_image` | what was untagged and deleted |
//! | `POST /deploy` (the run form of `containers`) | `docker.deploy` (task) | 202 |
//! | `GET /networks`, `POST /networks` `{"name", "driver", "internal", "labels"}`, `DELETE /networks/{id}` | `docker.*_network` | list, 201 `{"id"}`, 204 |
//! | `GET /volumes`, `POST /volumes` `{"name", "driver", "labels"}`, `DELETE /volumes/{name}?force=` | `docker.*_volume` | list, 201 `{"name"}`, 204 |
//!
//! `{image}` is a reference or an id, percent-encoded where it has a `/`
//! (`commander-test%2Fbusybox:1`). An import without `repo` loads a `docker save` archive
//! (tags come from inside it); with `repo` (and `tag`, default `latest`) it imports a root
//! file system. The tarball is streamed to the slave in chunks as it arrives; the answer
//! comes once it was all handed over, the import itself finishing in the task.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_lite::StreamExt;
use protocol::ops::docker::{
    DeployRequest, DockerOp, ImportRequest, ImportSource, NetworkCreate, PullRequest, VolumeCreate,
};
use protocol::ops::{MAX_UPLOAD_LEN, validate};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::call::{OP_TIMEOUT, Op, accepted, answer, docker};
use super::containers::{container_form, registry_auth};
use super::error::OpsError;
use super::params::{JsonBody, PathParams, QueryParams, object, required_text, typed};
use super::schema;
use crate::auth::AuthContext;
use crate::state::AppState;
use model::ops::reply_value;
use model::ops::{Upload, UploadFailure};

/// `GET /api/v1/nodes/{node}/docker/info`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/info",
    operation_id = "get /api/v1/nodes/{node}/docker/info",
    tag = "docker",
    summary = "Engine version and facts.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn info(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.info").on_part("docker");
    Ok(answer(&op.call(docker(DockerOp::Info), OP_TIMEOUT).await?))
}

/// `GET /api/v1/nodes/{node}/docker/images?all=`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/images",
    operation_id = "get /api/v1/nodes/{node}/docker/images",
    tag = "docker",
    summary = "Images.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("all" = Option<bool>, Query, description = "Include intermediate images."),
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
    let op = Op::new(&state, &ctx, &path, "docker.list_images").on_part("images");
    let all = op.args(query.flag("all", false)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::ListImages { all }), OP_TIMEOUT)
            .await?,
    ))
}

/// `POST /api/v1/nodes/{node}/docker/images` `{"reference", "auth"}`: a pull task.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/images",
    operation_id = "post /api/v1/nodes/{node}/docker/images",
    tag = "docker",
    summary = "Pull an image (a task with per-layer progress).",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::Pull,
    responses(
        (status = 202, description = "Done.", body = crate::ops::schema::TaskAccepted),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn pull(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let reference = body.text("reference");
    let op = Op::new(&state, &ctx, &path, "docker.pull_image").on("image", &reference);
    let request = op
        .args((|| {
            let mut map = object(body.0?, schema::PULL_FIELDS)?;
            let reference = required_text(&mut map, "reference")?;
            validate::image_ref("reference", &reference)?;
            let auth = match map.remove("auth") {
                None | Some(Value::Null) => None,
                Some(v) => Some(registry_auth(v)?),
            };
            Ok(PullRequest { reference, auth })
        })())
        .await?;
    let (task, _) = op.task(docker(DockerOp::PullImage(request)), None).await?;
    Ok(accepted(&task))
}

/// `POST /api/v1/nodes/{node}/docker/deploy` (the run form): a deployment task.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/deploy",
    operation_id = "post /api/v1/nodes/{node}/docker/deploy",
    tag = "docker",
    summary = "Pull (per `pull`), create and start a container (a task).",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::ContainerForm,
    responses(
        (status = 202, description = "Done.", body = crate::ops::schema::TaskAccepted),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn deploy(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let image = body.text("image");
    let op = Op::new(&state, &ctx, &path, "docker.deploy").on("image", &image);
    let (container, pull, auth) = op.args(body.0.and_then(container_form)).await?;
    let request = DeployRequest {
        container,
        pull: pull.unwrap_or_default(),
        auth,
    };
    let (task, _) = op.task(docker(DockerOp::Deploy(request)), None).await?;
    Ok(accepted(&task))
}

/// The import's kind and size from its query and headers.
fn import_request(query: &QueryParams, headers: &HeaderMap) -> Result<ImportRequest, OpsError> {
    let source = match query.text("repo") {
        None => {
            if query.text("tag").is_some() {
                return Err(OpsError::bad("tag", "needs `repo` too"));
            }
            ImportSource::Load
        }
        Some(repo) => {
            let tag = query.text("tag").unwrap_or("latest");
            validate::repo_name("repo", repo)?;
            validate::tag("tag", tag)?;
            ImportSource::RootFs {
                repo: repo.to_owned(),
                tag: tag.to_owned(),
            }
        }
    };
    let total_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            OpsError::new(
                StatusCode::LENGTH_REQUIRED,
                "the tarball's size is needed up front: send Content-Length",
            )
        })?;
    if total_len == 0 || total_len > MAX_UPLOAD_LEN {
        return Err(OpsError::bad(
            "Content-Length",
            format!("must be in 1..={MAX_UPLOAD_LEN} bytes"),
        ));
    }
    Ok(ImportRequest { source, total_len })
}

/// `POST /api/v1/nodes/{node}/docker/images/import?repo=&tag=`: streams the tarball to the
/// slave and answers 202 with the import task once all of it was handed over.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/images/import",
    operation_id = "post /api/v1/nodes/{node}/docker/images/import",
    tag = "docker",
    summary = "Import an image tarball (the request body, Content-Length required), streamed to the slave in chunks (a task).",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("repo" = Option<String>, Query, description = "Import a root file system as this repository (else load a `docker save` archive)."),
        ("tag" = Option<String>, Query, description = "Tag of the imported root file system (default latest)."),
    ),
    responses(
        (status = 202, description = "Done.", body = crate::ops::schema::TaskAccepted),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn import(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OpsError> {
    let what = query.text("repo").unwrap_or("archive").to_owned();
    let op = Op::new(&state, &ctx, &path, "docker.import_image").on("image", &what);
    let request = op.args(import_request(&query, &headers)).await?;
    let total_len = request.total_len;
    let (tx, rx) = mpsc::channel(8);
    let upload = Upload {
        total_len,
        data: rx,
    };
    let (task, uploaded) = op
        .task(docker(DockerOp::ImportImage(request)), Some(upload))
        .await?;
    let mut frames = body.into_data_stream();
    let mut received = 0u64;
    let mut client_error = None;
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(bytes) => {
                received += bytes.len() as u64;
                if tx.send(bytes).await.is_err() {
                    break; // the master gave up; `uploaded` says why
                }
            }
            Err(e) => {
                client_error = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    if let Some(e) = client_error {
        return Err(OpsError::bad("body", format!("the upload broke off: {e}")));
    }
    let outcome = match uploaded {
        Some(rx) => rx.await.unwrap_or(Err(UploadFailure::MasterStopped)),
        None => Ok(received),
    };
    match outcome {
        Ok(_) => Ok(accepted(&task)),
        Err(_) if received != total_len => Err(OpsError::bad(
            "body",
            format!("{received} bytes received, Content-Length said {total_len}"),
        )),
        Err(why) => Err(OpsError::new(
            StatusCode::BAD_GATEWAY,
            format!("the upload failed: {why} (task {})", task.id),
        )),
    }
}

/// The `{image}` of the path, checked.
fn image(path: &PathParams) -> Result<String, OpsError> {
    let image = path.text("image")?;
    validate::image_target("image", image)?;
    Ok(image.to_owned())
}

/// `GET /api/v1/nodes/{node}/docker/images/{image}`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/images/{image}",
    operation_id = "get /api/v1/nodes/{node}/docker/images/{image}",
    tag = "docker",
    summary = "One image in detail.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("image" = String, Path, description = "Image reference or id, percent-encoded (`a%2Fb:1`)."),
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
    let op = Op::new(&state, &ctx, &path, "docker.inspect_image").on("image", path.text("image")?);
    let reference = op.args(image(&path)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::InspectImage { reference }), OP_TIMEOUT)
            .await?,
    ))
}

/// `GET /api/v1/nodes/{node}/docker/images/{image}/history`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/images/{image}/history",
    operation_id = "get /api/v1/nodes/{node}/docker/images/{image}/history",
    tag = "docker",
    summary = "An image's layers.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("image" = String, Path, description = "Image reference or id, percent-encoded (`a%2Fb:1`)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.image_history").on("image", path.text("image")?);
    let reference = op.args(image(&path)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::ImageHistory { reference }), OP_TIMEOUT)
            .await?,
    ))
}

/// `POST /api/v1/nodes/{node}/docker/images/{image}/tag` `{"repo", "tag"}`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/images/{image}/tag",
    operation_id = "post /api/v1/nodes/{node}/docker/images/{image}/tag",
    tag = "docker",
    summary = "Add a `repo:tag` to an image.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("image" = String, Path, description = "Image reference or id, percent-encoded (`a%2Fb:1`)."),
    ),
    request_body = crate::ops::schema::Tag,
    responses(
        (status = 201, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn tag(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.tag_image").on("image", path.text("image")?);
    let body = op
        .args((|| {
            let source = image(&path)?;
            let mut map = object(body.0?, schema::TAG_FIELDS)?;
            let repo = required_text(&mut map, "repo")?;
            let tag = match map.remove("tag") {
                None => "latest".to_owned(),
                Some(v) => super::params::field("tag", v)?,
            };
            Ok(DockerOp::TagImage { source, repo, tag })
        })())
        .await?;
    let name = match &body {
        DockerOp::TagImage { repo, tag, .. } => format!("{repo}:{tag}"),
        _ => String::new(),
    };
    op.call(docker(body), OP_TIMEOUT).await?;
    Ok((StatusCode::CREATED, Json(json!({ "image": name }))).into_response())
}

/// `DELETE /api/v1/nodes/{node}/docker/images/{image}?force=&prune=`.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{node}/docker/images/{image}",
    operation_id = "delete /api/v1/nodes/{node}/docker/images/{image}",
    tag = "docker",
    summary = "Remove an image.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("image" = String, Path, description = "Image reference or id, percent-encoded (`a%2Fb:1`)."),
        ("force" = Option<bool>, Query, description = "Also when used by stopped containers or tagged in several repositories."),
        ("prune" = Option<bool>, Query, description = "Remove untagged parents (default true)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.remove_image").on("image", path.text("image")?);
    let body = op
        .args((|| {
            Ok(DockerOp::RemoveImage {
                reference: image(&path)?,
                force: query.flag("force", false)?,
                prune: query.flag("prune", true)?,
            })
        })())
        .await?;
    Ok(answer(&op.call(docker(body), OP_TIMEOUT).await?))
}

/// `GET /api/v1/nodes/{node}/docker/networks`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/networks",
    operation_id = "get /api/v1/nodes/{node}/docker/networks",
    tag = "docker",
    summary = "Networks.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn networks(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.list_networks").on_part("networks");
    Ok(answer(
        &op.call(docker(DockerOp::ListNetworks), OP_TIMEOUT).await?,
    ))
}

/// 201 with the answer.
fn created(body: &protocol::ResponseBody) -> Response {
    (StatusCode::CREATED, Json(reply_value(body))).into_response()
}

/// `POST /api/v1/nodes/{node}/docker/networks`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/networks",
    operation_id = "post /api/v1/nodes/{node}/docker/networks",
    tag = "docker",
    summary = "Create a network.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::NetworkForm,
    responses(
        (status = 201, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create_network(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let name = body.text("name");
    let op = Op::new(&state, &ctx, &path, "docker.create_network").on("network", &name);
    let form: NetworkCreate = op
        .args(
            body.0
                .and_then(|b| object(b, schema::NETWORK_FIELDS))
                .and_then(typed),
        )
        .await?;
    Ok(created(
        &op.call(docker(DockerOp::CreateNetwork(form)), OP_TIMEOUT)
            .await?,
    ))
}

/// `DELETE /api/v1/nodes/{node}/docker/networks/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{node}/docker/networks/{id}",
    operation_id = "delete /api/v1/nodes/{node}/docker/networks/{id}",
    tag = "docker",
    summary = "Remove a network.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("id" = String, Path, description = "Network id or name."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn remove_network(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let id = path.text("id")?.to_owned();
    let op = Op::new(&state, &ctx, &path, "docker.remove_network").on("network", &id);
    Ok(answer(
        &op.call(docker(DockerOp::RemoveNetwork { id }), OP_TIMEOUT)
            .await?,
    ))
}

/// `GET /api/v1/nodes/{node}/docker/volumes`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/docker/volumes",
    operation_id = "get /api/v1/nodes/{node}/docker/volumes",
    tag = "docker",
    summary = "Volumes.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn volumes(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "docker.list_volumes").on_part("volumes");
    Ok(answer(
        &op.call(docker(DockerOp::ListVolumes), OP_TIMEOUT).await?,
    ))
}

/// `POST /api/v1/nodes/{node}/docker/volumes`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/docker/volumes",
    operation_id = "post /api/v1/nodes/{node}/docker/volumes",
    tag = "docker",
    summary = "Create a volume.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::VolumeForm,
    responses(
        (status = 201, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create_volume(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let name = body.text("name");
    let op = Op::new(&state, &ctx, &path, "docker.create_volume").on("volume", &name);
    let form: VolumeCreate = op
        .args(
            body.0
                .and_then(|b| object(b, schema::VOLUME_FIELDS))
                .and_then(typed),
        )
        .await?;
    Ok(created(
        &op.call(docker(DockerOp::CreateVolume(form)), OP_TIMEOUT)
            .await?,
    ))
}

/// `DELETE /api/v1/nodes/{node}/docker/volumes/{name}?force=`.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{node}/docker/volumes/{name}",
    operation_id = "delete /api/v1/nodes/{node}/docker/volumes/{name}",
    tag = "docker",
    summary = "Remove a volume.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("name" = String, Path, description = "Volume name."),
        ("force" = Option<bool>, Query, description = "Also when in use."),
    ),
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn remove_volume(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let name = path.text("name")?.to_owned();
    let op = Op::new(&state, &ctx, &path, "docker.remove_volume").on("volume", &name);
    let force = op.args(query.flag("force", false)).await?;
    Ok(answer(
        &op.call(docker(DockerOp::RemoveVolume { name, force }), OP_TIMEOUT)
            .await?,
    ))
}
