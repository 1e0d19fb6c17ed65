//! Remote operations over REST: host and Docker management of one node through the master,
//! tasks for long operations, and the audit record of every call.
//!
//! # How a call flows
//!
//! 1. The route (all under the authenticated group: Bearer token or cookie + CSRF) reads its
//!    path, query and JSON body; a malformed one is a 400 naming the field ([`params`]).
//! 2. The operation is built and checked with `protocol::ops::validate` — the checks the
//!    slave applies again — so bad input is a 400 before anything is sent ([`call`]).
//! 3. [`OpsBackend`] (the master's cluster, or a fake in tests) sends it over the node's
//!    encrypted session: an unknown node is a 404, an offline one a 503 at once.
//! 4. Short operations wait for the answer (a large one arrives in chunks and is
//!    reassembled: nothing is truncated) and answer JSON. Long ones (pull, deploy, import)
//!    become [`tasks`] and answer 202 with the task id. A followed log and live stats are
//!    event streams ([`stream`]).
//! 5. Every call writes one audit entry: who, what, target, when, client, result.
//!
//! Failures map to statuses as in [`error`]. The routes are listed in [`host`],
//! [`containers`], [`images`], [`tasks`] and [`task_events`], and documented in the OpenAPI document
//! ([`openapi`]). Registry credentials are accepted in requests only: they appear in no
//! answer, log line, task or audit entry.

pub mod backend;
pub mod call;
pub mod containers;
pub mod error;
pub mod host;
pub mod images;
pub mod openapi;
pub mod openapi_docker;
pub mod params;
pub mod stream;
pub mod task_events;
pub mod tasks;

pub use backend::{
    BoxFuture, NoOps, OpCall, OpFailure, OpStream, OpsBackend, TaskHandle, TaskStart, Upload,
};
pub use error::{OpsError, failure_kind, failure_status, kind_status};
pub use params::{PathParams, QueryParams};
pub use tasks::{TaskError, TaskProgress, TaskQuery, TaskRecord, TaskState};

use axum::http::Method;

use crate::Access::User;
use crate::Table;
use crate::backend::Backend;

/// Adds every operations route to the table, all for signed-in users.
pub(crate) fn routes<B: Backend>(t: Table<B>) -> Table<B> {
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    t.add(
        get.clone(),
        "/api/v1/nodes/{node}/processes",
        User,
        host::processes::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/processes/{pid}",
        User,
        host::process::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/processes/{pid}/signal",
        User,
        host::signal::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/sockets",
        User,
        host::sockets::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/env",
        User,
        host::get_env::<B>,
    )
    .add(
        put.clone(),
        "/api/v1/nodes/{node}/env",
        User,
        host::put_env::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/hosts",
        User,
        host::get_hosts::<B>,
    )
    .add(
        put.clone(),
        "/api/v1/nodes/{node}/hosts",
        User,
        host::put_hosts::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/hosts/restore",
        User,
        host::restore_hosts::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/disks",
        User,
        host::disks::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/performance",
        User,
        host::performance::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/info",
        User,
        images::info::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers",
        User,
        containers::list::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers",
        User,
        containers::create::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}",
        User,
        containers::inspect::<B>,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}",
        User,
        containers::remove::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/start",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/stop",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/restart",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/pause",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/unpause",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/kill",
        User,
        containers::action::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/rename",
        User,
        containers::rename::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/logs",
        User,
        containers::logs::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/top",
        User,
        containers::top::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/stats",
        User,
        containers::stats::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images",
        User,
        images::list::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images",
        User,
        images::pull::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images/import",
        User,
        images::import::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}",
        User,
        images::inspect::<B>,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}",
        User,
        images::remove::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}/history",
        User,
        images::history::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}/tag",
        User,
        images::tag::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/deploy",
        User,
        images::deploy::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/networks",
        User,
        images::networks::<B>,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/networks",
        User,
        images::create_network::<B>,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/networks/{id}",
        User,
        images::remove_network::<B>,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/volumes",
        User,
        images::volumes::<B>,
    )
    .add(
        post,
        "/api/v1/nodes/{node}/docker/volumes",
        User,
        images::create_volume::<B>,
    )
    .add(
        delete,
        "/api/v1/nodes/{node}/docker/volumes/{name}",
        User,
        images::remove_volume::<B>,
    )
    .add(get.clone(), "/api/v1/tasks", User, tasks::list::<B>)
    .add(
        get.clone(),
        "/api/v1/tasks/events",
        User,
        task_events::events::<B>,
    )
    .add(get, "/api/v1/tasks/{id}", User, tasks::get::<B>)
}
