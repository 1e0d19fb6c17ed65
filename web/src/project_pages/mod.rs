//! The console pages of projects and gateways (issue 12 item 9), server-rendered over
//! [`model::service::Projects`] like every other page; the rules are the master's.
//!
//! | page | module |
//! |---|---|
//! | `GET /projects`: every project with its status, replicas and gateway | [`list`] |
//! | `GET /projects/{name}`: replicas, revisions, live timeline, actions, webhook | [`detail`] |
//! | `POST /projects/{name}/{scale,pause,resume,promote,rollback,delete}` | [`actions`] |
//! | `GET`/`POST /projects/new`, `/projects/{name}/edit`: the specification form | [`form_page`] (parsing in [`form`]) |
//! | `GET /gateways`, `/gateways/{name}`: every gateway with its traffic, live | [`gateway_pages`] |
//! | `GET`/`POST /gateways/new`, `/gateways/{name}/edit`, `POST /gateways/{name}/delete` | [`gateway_pages`] |
//!
//! A successful action redirects (303) to the page it acted on with `?done=<key>`, which
//! shows a translated notice; a failure renders the page at once with the master's reason,
//! the form keeping what the user typed. Deleting and rolling back ask on a confirmation
//! page first (`confirm=yes` then acts). Live regions refresh from `data-live-src`, the
//! page's own address, so a page rendered as the answer of a POST still refreshes.

pub mod actions;
pub mod detail;
pub mod form;
pub mod form_page;
pub mod gateway_form;
pub mod gateway_pages;
pub mod list;
pub mod text;

pub use text::{ProjectsText, projects_text};

use axum::http::StatusCode;
use model::node::NodeView;
use model::project::ProjectStatus;
use model::project::api::ProjectFailure;
use serde::Deserialize;

/// Query of a page after a successful action: `?done=<key>`.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    /// Which action succeeded.
    #[serde(default)]
    pub done: String,
}

impl DoneQuery {
    /// The notice of `done` in `p`'s language; empty for an unknown key.
    pub fn notice(&self, p: &ProjectsText) -> String {
        match self.done.as_str() {
            "scaled" => p.done_scaled,
            "paused" => p.done_paused,
            "resumed" => p.done_resumed,
            "promoted" => p.done_promoted,
            "rolled_back" => p.done_rolled_back,
            "saved" => p.done_saved,
            "deleted" => p.done_deleted,
            "gateway_created" => p.done_gateway_created,
            "gateway_saved" => p.done_gateway_saved,
            "gateway_deleted" => p.done_gateway_deleted,
            _ => "",
        }
        .to_owned()
    }
}

/// A project's status as a page shows it: key, translated label, badge class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBadge {
    /// `ready`, `deploying`, ... (the API's name, for tests and scripts).
    pub key: &'static str,
    /// In the page's language.
    pub label: &'static str,
    /// CSS class of the badge.
    pub class: &'static str,
}

impl StatusBadge {
    /// The badge of `status`.
    pub fn new(status: ProjectStatus, p: &ProjectsText) -> Self {
        let (label, class) = match status {
            ProjectStatus::Deploying => (p.status_deploying, "badge-busy"),
            ProjectStatus::Ready => (p.status_ready, "badge-ok"),
            ProjectStatus::Updating => (p.status_updating, "badge-busy"),
            ProjectStatus::RollingBack => (p.status_rolling_back, "badge-failed"),
            ProjectStatus::Paused => (p.status_paused, "badge-paused"),
            ProjectStatus::Degraded => (p.status_degraded, "badge-failed"),
        };
        Self {
            key: status.as_str(),
            label,
            class,
        }
    }
}

/// A projects failure as a person reads it on a page, with the status the page answers.
/// An invalid field reads `field: message`, the field named as the API names it.
pub fn explain(f: &ProjectFailure, p: &ProjectsText) -> (StatusCode, String) {
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = match f {
        ProjectFailure::Invalid(e) => format!("{}: {}", e.field, e.message),
        ProjectFailure::NotFound(m) => format!("{} {m}", p.err_not_found),
        ProjectFailure::Conflict(m) => format!("{} {m}", p.err_conflict),
        ProjectFailure::Unauthorized(m) => m.clone(),
        ProjectFailure::Unavailable(m) => format!("{} {m}", p.err_unavailable),
        ProjectFailure::Store(m) => {
            tracing::warn!(error = %m, "projects store failed");
            p.err_store.to_owned()
        }
    };
    (status, text)
}

/// One slave in a form's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChoice {
    /// Node id (the value sent).
    pub id: u64,
    /// `#3 web-1`, with `(offline)` when it is.
    pub label: String,
    /// Whether it is selected.
    pub selected: bool,
}

/// The enrolled, non-revoked slaves as menu entries, `selected` (a node id as the form
/// sent it) marked.
pub fn node_choices(nodes: &[NodeView], selected: &str, p: &ProjectsText) -> Vec<NodeChoice> {
    nodes
        .iter()
        .filter(|n| !n.revoked)
        .map(|n| NodeChoice {
            id: n.id,
            label: if n.online {
                format!("#{} {}", n.id, node_name(n))
            } else {
                format!("#{} {} ({})", n.id, node_name(n), p.node_offline)
            },
            selected: selected == n.id.to_string(),
        })
        .collect()
}

/// A node's host name, or `#id` before it reported one.
pub fn node_name(n: &NodeView) -> String {
    match (&n.hostname, &n.host) {
        (name, _) if !name.is_empty() => name.clone(),
        (_, Some(host)) if !host.hostname.is_empty() => host.hostname.clone(),
        _ => format!("#{}", n.id),
    }
}

/// The name of node `id` among `nodes`, `#id` when unknown.
pub fn node_label(nodes: &[NodeView], id: u64) -> String {
    nodes
        .iter()
        .find(|n| n.id == id)
        .map_or_else(|| format!("#{id}"), node_name)
}

/// `text` as one path segment: a project gateway's name (`project/web`) carries a `/`.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_name_becomes_one_path_segment() {
        assert_eq!(path_segment("project/web-1"), "project%2Fweb-1");
        assert_eq!(path_segment("edge"), "edge");
    }

    #[test]
    fn both_catalogues_are_complete() {
        for (name, text) in text::EN.all().into_iter().chain(text::ZH_CN.all()) {
            assert!(!text.trim().is_empty(), "{name} is empty");
        }
        assert_ne!(text::EN.projects_title, text::ZH_CN.projects_title);
    }

    #[test]
    fn an_unknown_done_key_shows_nothing() {
        let p = &text::EN;
        assert_eq!(
            DoneQuery {
                done: "scaled".into()
            }
            .notice(p),
            p.done_scaled
        );
        assert_eq!(DoneQuery { done: "<b>".into() }.notice(p), "");
    }
}
