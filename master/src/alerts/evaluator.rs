//! The evaluator task: feeds the [`RuleEngine`](super::engine::RuleEngine) behind an
//! [`AlertHub`] on its own tokio task, never on the heartbeat path. Its inputs:
//!
//! - the cluster's live-sample broadcast (one `Arc` per heartbeat, no copy; an evaluator
//!   that falls behind skips samples rather than slowing ingest);
//! - the node-offline alerts of the cluster's book, through an unbounded channel
//!   attached to the cluster (in order; at most one per node change);
//! - the projects' timeline events (replica exited, automatic rollback, ready, deleted);
//! - a tick: staleness, silence expiry, and every [`REFRESH`] the node names and the
//!   nodes running each project (for `{"project":NAME}` scopes).
//!
//! The task ends when the live broadcast closes (the master shuts down).

use std::sync::Arc;
use std::time::Duration;

use model::alert::AlertRecord;
use model::project::api::{ProjectEvent, ProjectEventKind};
use tokio::sync::{broadcast, mpsc};

use super::engine::EventKind;
use super::service::{AlertHub, project_nodes};

/// How often node names and project placements are read again.
pub const REFRESH: Duration = Duration::from_secs(10);

/// What a project event means for alerts: the kind it fires, whether the project is
/// ready again (resolving its event alerts).
pub fn classify(event: &ProjectEvent) -> (Option<EventKind>, bool) {
    match event.kind {
        ProjectEventKind::Exited => (Some(EventKind::ContainerExited), false),
        // Only the reconciler's own rollback after a failed rollout; an operator's
        // rollback is a decision, not an incident.
        ProjectEventKind::RollingBack if event.message.starts_with("automatic") => {
            (Some(EventKind::RolloutRolledBack), false)
        }
        ProjectEventKind::Ready | ProjectEventKind::Deleted => (None, true),
        _ => (None, false),
    }
}

async fn next_event(
    rx: &mut Option<broadcast::Receiver<(String, ProjectEvent)>>,
) -> Option<Result<(String, ProjectEvent), broadcast::error::RecvError>> {
    match rx {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}

/// Subscribes to the cluster's samples and offline alerts and to `projects`' events
/// (before returning, so nothing after this call is missed) and spawns the task, which
/// ticks every `tick`. Returns `None` when the cluster's live data already ended.
pub fn spawn(
    hub: Arc<AlertHub>,
    projects: Option<Arc<dyn model::service::Projects>>,
    tick: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let cluster = hub.cluster().clone();
    let mut samples = cluster.subscribe_live()?;
    let (tx, mut builtin) = mpsc::unbounded_channel::<AlertRecord>();
    cluster.attach_alert_sink(tx);
    let mut events = projects.as_ref().and_then(|p| p.live_events());
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(tick.max(Duration::from_millis(10)));
        let mut names = cluster.node_names();
        let mut last_refresh: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                got = samples.recv() => match got {
                    Ok(live) => {
                        if !names.contains_key(&live.node_id) {
                            names = cluster.node_names();
                        }
                        let name = names.get(&live.node_id).map_or("", String::as_str);
                        hub.apply(|e| e.sample(live.node_id, name, &live.sample, live.at_ms));
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "the alert evaluator fell behind; samples skipped");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                Some(alert) = builtin.recv() => {
                    let now = cluster.now_ms();
                    hub.apply(|e| e.builtin_alert(&alert, now));
                }
                Some(got) = next_event(&mut events) => match got {
                    Ok((project, event)) => {
                        let (fire, ready) = classify(&event);
                        if fire.is_some() || ready {
                            let now = cluster.now_ms();
                            hub.apply(|e| {
                                e.project_event(&project, fire, ready, event.node, &event.message, now)
                            });
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "the alert evaluator missed project events");
                    }
                    Err(broadcast::error::RecvError::Closed) => events = None,
                },
                _ = ticker.tick() => {
                    let now = cluster.now_ms();
                    hub.apply(|e| e.tick(now));
                    if last_refresh.is_none_or(|t| t.elapsed() >= REFRESH) {
                        last_refresh = Some(tokio::time::Instant::now());
                        names = cluster.node_names();
                        if let Some(p) = &projects {
                            match p.list().await {
                                Ok(list) => {
                                    let map = project_nodes(&list);
                                    let now = cluster.now_ms();
                                    hub.apply(|e| e.set_project_nodes(map, now));
                                }
                                Err(e) => tracing::warn!("cannot list projects for alert scopes: {e}"),
                            }
                        }
                    }
                }
            }
        }
        tracing::debug!("alert evaluator stopped");
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: ProjectEventKind, message: &str) -> ProjectEvent {
        ProjectEvent {
            at_ms: 0,
            kind,
            revision: None,
            node: Some(1),
            replica: None,
            message: message.into(),
        }
    }

    #[test]
    fn project_events_map_to_alert_kinds() {
        assert_eq!(
            classify(&event(ProjectEventKind::Exited, "exit code 1")),
            (Some(EventKind::ContainerExited), false)
        );
        assert_eq!(
            classify(&event(
                ProjectEventKind::RollingBack,
                "automatic rollback to revision 2"
            )),
            (Some(EventKind::RolloutRolledBack), false)
        );
        assert_eq!(
            classify(&event(
                ProjectEventKind::RollingBack,
                "rollback to revision 2"
            )),
            (None, false),
            "an operator's rollback"
        );
        assert_eq!(classify(&event(ProjectEventKind::Ready, "")), (None, true));
        assert_eq!(
            classify(&event(ProjectEventKind::Deleted, "")),
            (None, true)
        );
        assert_eq!(
            classify(&event(ProjectEventKind::Started, "")),
            (None, false)
        );
    }
}
