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
//!    reassembled: nothing is truncated) and answer JSON; a log answer is written entry by
//!    entry as the client reads it ([`log_body`]). Long ones (pull, deploy, import)
//!    become [`tasks`] and answer 202 with the task id. A followed log and live stats are
//!    event streams ([`stream`]).
//! 5. The master writes one audit entry per call: who, what, target, when, client, result.
//!
//! Failures map to statuses as in [`error`]. Each handler of [`host`], [`containers`],
//! [`images`], [`tasks`] and [`task_events`] describes its route in a `#[utoipa::path]`
//! attribute, and `routes` adds them to the route table (see [`crate::routes`]); the request
//! bodies and small answers are described in [`schema`]. Registry credentials are accepted
//! in requests only: they appear in no answer, log line, task or audit entry.

pub mod call;
pub mod containers;
pub mod error;
pub mod host;
pub mod images;
pub mod log_body;
pub mod params;
pub mod schema;
pub mod stream;
pub mod task_events;
pub mod tasks;

pub use error::{OpsError, failure_status};
pub use params::{PathParams, QueryParams};

use utoipa_axum::routes;

use crate::routes::Access::User;
use crate::routes::Table;

/// Adds every operations route to the table, all for signed-in users.
pub(crate) fn routes(t: Table) -> Table {
    t.api(User, routes!(host::processes))
        .api(User, routes!(host::process))
        .api(User, routes!(host::signal))
        .api(User, routes!(host::sockets))
        .api(User, routes!(host::get_env))
        .api(User, routes!(host::put_env))
        .api(User, routes!(host::get_hosts))
        .api(User, routes!(host::put_hosts))
        .api(User, routes!(host::restore_hosts))
        .api(User, routes!(host::disks))
        .api(User, routes!(host::performance))
        .api(User, routes!(images::info))
        .api(User, routes!(containers::list))
        .api(User, routes!(containers::create))
        .api(User, routes!(containers::inspect))
        .api(User, routes!(containers::remove))
        .api(User, routes!(containers::start))
        .api(User, routes!(containers::stop))
        .api(User, routes!(containers::restart))
        .api(User, routes!(containers::pause))
        .api(User, routes!(containers::unpause))
        .api(User, routes!(containers::kill))
        .api(User, routes!(containers::rename))
        .api(User, routes!(containers::logs))
        .api(User, routes!(containers::top))
        .api(User, routes!(containers::stats))
        .api(User, routes!(images::list))
        .api(User, routes!(images::pull))
        .api(User, routes!(images::import))
        .api(User, routes!(images::inspect))
        .api(User, routes!(images::remove))
        .api(User, routes!(images::history))
        .api(User, routes!(images::tag))
        .api(User, routes!(images::deploy))
        .api(User, routes!(images::networks))
        .api(User, routes!(images::create_network))
        .api(User, routes!(images::remove_network))
        .api(User, routes!(images::volumes))
        .api(User, routes!(images::create_volume))
        .api(User, routes!(images::remove_volume))
        .api(User, routes!(tasks::list))
        .api(User, routes!(task_events::events))
        .api(User, routes!(tasks::get))
}
