//! Projects' timelines: the newest [`MAX_EVENTS_PER_PROJECT`] events of each project in
//! memory, and a broadcast of every new one for live views (`GET
//! /api/v1/projects/{name}/events` with `Accept: text/event-stream`). Both the projects
//! service (operator commands) and the reconciler (scheduling, health, rollouts) write here.
//! Timelines are not persisted: after a master restart a project's timeline starts again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use model::project::api::ProjectEvent;
use tokio::sync::broadcast;

/// Events kept per project (older ones are dropped).
pub const MAX_EVENTS_PER_PROJECT: usize = 500;
/// Events a slow live subscriber may lag behind before it misses some.
const LIVE_BUFFER: usize = 256;

/// Every project's timeline.
pub struct ProjectEvents {
    rings: Mutex<HashMap<String, VecDeque<ProjectEvent>>>,
    /// `None` once closed (the master is shutting down): live views end.
    live: Mutex<Option<broadcast::Sender<(String, ProjectEvent)>>>,
}

impl Default for ProjectEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl ProjectEvents {
    /// Empty timelines.
    pub fn new() -> Self {
        Self {
            rings: Mutex::new(HashMap::new()),
            live: Mutex::new(Some(broadcast::channel(LIVE_BUFFER).0)),
        }
    }

    fn rings(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<ProjectEvent>>> {
        self.rings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Option<broadcast::Sender<(String, ProjectEvent)>>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `event` to `project`'s timeline and tells live subscribers.
    pub fn push(&self, project: &str, event: ProjectEvent) {
        {
            let mut rings = self.rings();
            let ring = rings.entry(project.to_owned()).or_default();
            if ring.len() == MAX_EVENTS_PER_PROJECT {
                ring.pop_front();
            }
            ring.push_back(event.clone());
        }
        if let Some(live) = &*self.live() {
            // No subscriber is not an error.
            let _ = live.send((project.to_owned(), event));
        }
    }

    /// `project`'s timeline, oldest first.
    pub fn list(&self, project: &str) -> Vec<ProjectEvent> {
        self.rings()
            .get(project)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every new event of every project from now on; after [`Self::close`], a receiver
    /// that is already closed.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, ProjectEvent)> {
        match &*self.live() {
            Some(live) => live.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.live().is_none()
    }

    /// Ends every live view (the master is shutting down); timelines are still kept.
    pub fn close(&self) {
        self.live().take();
    }

    /// Drops `project`'s timeline (it was deleted and its replicas are gone).
    pub fn forget(&self, project: &str) {
        self.rings().remove(project);
    }
}

#[cfg(test)]
mod tests {
    use model::project::api::ProjectEventKind;

    use super::*;

    fn event(at_ms: u64) -> ProjectEvent {
        ProjectEvent {
            at_ms,
            kind: ProjectEventKind::Scheduled,
            revision: Some(1),
            node: Some(2),
            replica: None,
            message: String::new(),
        }
    }

    #[test]
    fn timelines_are_bounded_per_project_and_oldest_first() {
        let events = ProjectEvents::new();
        for i in 0..(MAX_EVENTS_PER_PROJECT as u64 + 10) {
            events.push("web", event(i));
        }
        events.push("api", event(7));
        let web = events.list("web");
        assert_eq!(web.len(), MAX_EVENTS_PER_PROJECT);
        assert_eq!(web.first().map(|e| e.at_ms), Some(10));
        assert_eq!(
            web.last().map(|e| e.at_ms),
            Some(MAX_EVENTS_PER_PROJECT as u64 + 9)
        );
        assert_eq!(events.list("api").len(), 1);
        events.forget("web");
        assert!(events.list("web").is_empty());
    }

    #[test]
    fn subscribers_see_new_events_with_their_project() {
        let events = ProjectEvents::new();
        let mut rx = events.subscribe();
        events.push("web", event(1));
        let (project, got) = rx.try_recv().expect("one event");
        assert_eq!((project.as_str(), got.at_ms), ("web", 1));
    }

    #[test]
    fn closing_ends_live_views_and_keeps_timelines() {
        let events = ProjectEvents::new();
        let mut rx = events.subscribe();
        events.close();
        assert!(events.is_closed());
        assert_eq!(rx.try_recv(), Err(broadcast::error::TryRecvError::Closed));
        let mut late = events.subscribe();
        assert_eq!(late.try_recv(), Err(broadcast::error::TryRecvError::Closed));
        events.push("web", event(2));
        assert_eq!(events.list("web").len(), 1);
    }
}
