//! Remote operations over REST: host and Docker management of one node through the master,
//! tasks for long operations, and the audit record of every call.
//!
//! # How a call flows
//!
//! 1. The route (all under the authenticated group: Bearer token or cookie + CSRF) reads its
//!    path, query and JSON body; a malformed one is a 400 naming the field ([`params`]).
//! 2. The operation is built and handed to the master's [`model::service::Operations`]
//!    ([`call`]), which checks it with `protocol::ops::validate` — the checks the slave
//!    applies again — so bad input is a 400 before anything is sent.
//! 3. The master sends it over the node's encrypted session: an unknown node is a 404, an
//!    offline one a 503 at once.
//! 4. Short operations wait for the answer (a large one arrives in chunks and is
//!    reassembled: nothing is truncated) and answer JSON. Long ones (pull, deploy, import)
//!    become [`tasks`] and answer 202 with the task id. A followed log and live stats are
//!    event streams ([`stream`]).
//! 5. The master writes one audit entry per call: who, what, target, when, client, result.
//!
//! Failures map to statuses as in [`error`]. The routes are listed in [`host`],
//! [`containers`], [`images`], [`tasks`] and [`task_events`], and documented in the OpenAPI document
//! ([`openapi`]). Registry credentials are accepted in requests only: they appear in no
//! answer, log line, task or audit entry.

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

pub use error::{OpsError, failure_status};
pub use params::{PathParams, QueryParams};

use axum::http::Method;

use crate::Access::User;
use crate::Table;

/// Adds every operations route to the table, all for signed-in users.
pub(crate) fn routes(t: Table) -> Table {
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    t.add(
        get.clone(),
        "/api/v1/nodes/{node}/processes",
        User,
        host::processes,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/processes/{pid}",
        User,
        host::process,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/processes/{pid}/signal",
        User,
        host::signal,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/sockets",
        User,
        host::sockets,
    )
    .add(get.clone(), "/api/v1/nodes/{node}/env", User, host::get_env)
    .add(put.clone(), "/api/v1/nodes/{node}/env", User, host::put_env)
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/hosts",
        User,
        host::get_hosts,
    )
    .add(
        put.clone(),
        "/api/v1/nodes/{node}/hosts",
        User,
        host::put_hosts,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/hosts/restore",
        User,
        host::restore_hosts,
    )
    .add(get.clone(), "/api/v1/nodes/{node}/disks", User, host::disks)
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/performance",
        User,
        host::performance,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/info",
        User,
        images::info,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers",
        User,
        containers::list,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers",
        User,
        containers::create,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}",
        User,
        containers::inspect,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}",
        User,
        containers::remove,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/start",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/stop",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/restart",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/pause",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/unpause",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/kill",
        User,
        containers::action,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/rename",
        User,
        containers::rename,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/logs",
        User,
        containers::logs,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/top",
        User,
        containers::top,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/containers/{id}/stats",
        User,
        containers::stats,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images",
        User,
        images::list,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images",
        User,
        images::pull,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images/import",
        User,
        images::import,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}",
        User,
        images::inspect,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}",
        User,
        images::remove,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}/history",
        User,
        images::history,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/images/{image}/tag",
        User,
        images::tag,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/deploy",
        User,
        images::deploy,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/networks",
        User,
        images::networks,
    )
    .add(
        post.clone(),
        "/api/v1/nodes/{node}/docker/networks",
        User,
        images::create_network,
    )
    .add(
        delete.clone(),
        "/api/v1/nodes/{node}/docker/networks/{id}",
        User,
        images::remove_network,
    )
    .add(
        get.clone(),
        "/api/v1/nodes/{node}/docker/volumes",
        User,
        images::volumes,
    )
    .add(
        post,
        "/api/v1/nodes/{node}/docker/volumes",
        User,
        images::create_volume,
    )
    .add(
        delete,
        "/api/v1/nodes/{node}/docker/volumes/{name}",
        User,
        images::remove_volume,
    )
    .add(get.clone(), "/api/v1/tasks", User, tasks::list)
    .add(
        get.clone(),
        "/api/v1/tasks/events",
        User,
        task_events::events,
    )
    .add(get, "/api/v1/tasks/{id}", User, tasks::get)
}
