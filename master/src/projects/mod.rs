//! Projects: the orchestration core. Pure parts first, each tested without sockets:
//!
//! | module | does |
//! |---|---|
//! | [`schedule`] | cluster snapshot + replicas wanted per revision → plan (starts, stops) |
//! | [`rollout`] | strategy + replicas observed + now → replicas wanted per revision |
//! | [`controller`] | a project's activity (deploy, update, rollback, pause, promote) driving both |
//! | [`events`] | each project's timeline (bounded, in memory) and its live feed |
//! | [`reconcile`] | every interval: step each project, save, send each slave its desired state |
//! | [`record`] | a project as stored (with `store::projects`: the revision history) |
//! | [`service`] | the API's rules: create, update, scale, rollback, pause, resume, promote, delete, webhook |
//! | [`gateways`] | standalone gateways (create, update, delete) and every gateway as listed |
//! | [`service_traits`] | both services as the console's `model::service::Projects` |
//!
//! [`status`] derives what `GET /api/v1/projects/{name}` shows from both.

pub mod controller;
pub mod events;
pub mod gateways;
pub mod reconcile;
pub mod record;
pub mod rollout;
pub mod schedule;
pub mod service;
pub mod service_traits;

use model::project::ProjectStatus;

/// What a project is doing, as its controller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Its first revision is being started.
    FirstDeploy,
    /// A rollout to a new revision is under way.
    Updating,
    /// A rollout back to an earlier revision after a failure.
    RollingBack,
    /// An operator paused the rollout.
    Paused,
    /// No rollout.
    Steady,
}

/// The status shown for a project doing `activity` with `healthy` healthy replicas of its
/// current revision out of `desired`.
pub fn status(activity: Activity, healthy: u32, desired: u32) -> ProjectStatus {
    match activity {
        Activity::Updating => ProjectStatus::Updating,
        Activity::RollingBack => ProjectStatus::RollingBack,
        Activity::Paused => ProjectStatus::Paused,
        Activity::FirstDeploy if healthy < desired => ProjectStatus::Deploying,
        Activity::FirstDeploy | Activity::Steady if healthy >= desired => ProjectStatus::Ready,
        Activity::FirstDeploy | Activity::Steady => ProjectStatus::Degraded,
    }
}

#[cfg(test)]
mod tests;
