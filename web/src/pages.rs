//! Server-rendered HTML pages (askama templates under `web/templates/`) and the view models
//! they render. All formatting happens here, in Rust, so templates only print strings and
//! askama escapes every one of them.

use crate::api::backend_status;
use crate::backend::{Backend, NodeView};
use crate::format::{
    format_bytes, format_load, format_percent, format_relative, format_rfc3339_ms,
};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Shown in a cell when a value is not known yet.
const MISSING: &str = "–";

/// The home page: every node in one table.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    /// One row per node, in backend order.
    pub nodes: Vec<NodeRow>,
}

/// One node, formatted for the home page table.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    /// Node id.
    pub id: u64,
    /// Host name, or a placeholder until reported.
    pub hostname: String,
    /// Badge text: `online`, `offline` or `revoked`.
    pub status: &'static str,
    /// Relative last heartbeat, `3 s ago` or `never`.
    pub last_seen: String,
    /// Absolute last heartbeat (RFC 3339), for the cell's tooltip; empty when unknown.
    pub last_seen_abs: String,
    /// Agent build version.
    pub agent_version: String,
    /// Total CPU use, `12.5 %`.
    pub cpu: String,
    /// Memory, `1.2 GiB / 4.0 GiB`.
    pub memory: String,
    /// Load averages, `0.52 0.40 0.31`.
    pub load: String,
    /// Established TCP connections.
    pub tcp: String,
    /// OS, kernel, architecture and cores; empty until reported.
    pub host_line: String,
}

impl NodeRow {
    /// Formats `node` as seen at `now_ms` (Unix milliseconds).
    pub fn new(node: &NodeView, now_ms: u64) -> Self {
        let status = if node.revoked {
            "revoked"
        } else if node.online {
            "online"
        } else {
            "offline"
        };
        let hostname = match (&node.hostname, &node.host) {
            (name, _) if !name.is_empty() => name.clone(),
            (_, Some(host)) if !host.hostname.is_empty() => host.hostname.clone(),
            _ => "(unknown)".to_owned(),
        };
        let missing = || MISSING.to_owned();
        let metrics = node.metrics.as_ref();
        Self {
            id: node.id,
            hostname,
            status,
            last_seen: format_relative(node.last_seen_ms, now_ms),
            last_seen_abs: node
                .last_seen_ms
                .and_then(format_rfc3339_ms)
                .unwrap_or_default(),
            agent_version: node.agent_version.clone(),
            cpu: metrics.map_or_else(missing, |m| format_percent(m.cpu_total_pct)),
            memory: metrics.map_or_else(missing, |m| {
                format!(
                    "{} / {}",
                    format_bytes(m.mem_used_bytes),
                    format_bytes(m.mem_total_bytes)
                )
            }),
            load: metrics.map_or_else(missing, |m| format_load(m.load)),
            tcp: metrics.map_or_else(missing, |m| m.tcp_established.to_string()),
            host_line: node.host.as_ref().map_or_else(String::new, |h| {
                format!(
                    "{} · kernel {} · {} · {} cores",
                    h.os, h.kernel, h.arch, h.cpu_cores
                )
            }),
        }
    }
}

/// A page for errors and unknown paths.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// HTTP status code, e.g. 404.
    pub code: u16,
    /// Short title, e.g. `Not Found`.
    pub title: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl ErrorPage {
    /// An error page answered with `status`.
    pub fn response(status: StatusCode, message: impl Into<String>) -> Response {
        let page = Self {
            code: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: message.into(),
        };
        (status, page).into_response()
    }
}

/// The current time as Unix milliseconds (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `GET /`.
pub async fn index<B: Backend>(State(backend): State<Arc<B>>) -> Response {
    match backend.nodes().await {
        Ok(nodes) => {
            let now = now_ms();
            let nodes = nodes.iter().map(|n| NodeRow::new(n, now)).collect();
            IndexPage { nodes }.into_response()
        }
        Err(err) => {
            let status = backend_status(&err);
            if status.is_server_error() {
                tracing::warn!(error = %err, "backend failed");
            }
            ErrorPage::response(status, err.to_string())
        }
    }
}

/// The HTML 404 for any unknown path outside `/api`.
pub fn not_found() -> Response {
    ErrorPage::response(StatusCode::NOT_FOUND, "There is no page at this address.")
}
