//! Live and historical metrics of one node, for the slave detail page's charts.
//!
//! - `GET /api/v1/nodes/{node}/metrics?from=&to=&points=` answers the chart window from the
//!   stored history: at most `points` points over `[from, to]` (Unix ms; default the last
//!   15 minutes) from the tier the master picks (raw samples, 1-minute or 1-hour roll-ups,
//!   see [`model::history::pick_tier`]), each with its time and the min/avg/max of every
//!   chart metric (`avg` alone for raw samples).
//! - `GET /api/v1/nodes/{node}/metrics/stream` is a Server-Sent Events stream: one `sample`
//!   event (a [`ChartPoint`] as JSON) per heartbeat of that node, fed by the master's
//!   broadcast of samples ([`LiveSample`], see [`model::service::Cluster::live_samples`]). The stream
//!   re-checks the session every [`SESSION_RECHECK`] and ends with an `end` event when the
//!   session expired or was logged out; it also ends when the master shuts down.
//!
//! Times are the master's receive times, the same keys the store uses, so history and live
//! points line up.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use model::history::{HistoryPoint, Tier};
use protocol::MetricSample;
use serde::{Deserialize, Serialize};

use crate::api::{ApiError, bad_query};
use crate::auth::AuthContext;
use crate::sse::{self, Feed, Got};
use crate::state::AppState;

pub use model::node::LiveSample;

/// Default chart window: 15 minutes.
pub const DEFAULT_WINDOW_MS: u64 = 15 * 60 * 1000;
/// Longest chart window: 366 days.
pub const MAX_WINDOW_MS: u64 = 366 * 24 * 3600 * 1000;
/// Points answered unless asked otherwise.
pub const DEFAULT_POINTS: usize = 300;
/// Most points one history request answers.
pub const MAX_POINTS: usize = 2000;
pub use crate::sse::SESSION_RECHECK;
/// Most mounts a point carries (the first ones the slave reports).
pub const MAX_DISKS: usize = 8;

/// Usage of one mount in a [`ChartPoint`].
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DiskPoint {
    /// Mount point.
    pub mount: String,
    /// Used bytes.
    pub used: u64,
    /// Size in bytes.
    pub total: u64,
}

/// What the charts draw of one sample.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChartPoint {
    /// Master receive time, Unix ms.
    pub t: u64,
    /// CPU busy, percent of all cores.
    pub cpu: f32,
    /// Load average over one minute.
    pub load1: f32,
    /// Memory in use, bytes.
    pub mem_used: u64,
    /// Physical memory, bytes.
    pub mem_total: u64,
    /// Swap in use, bytes.
    pub swap_used: u64,
    /// Swap size, bytes.
    pub swap_total: u64,
    /// Receive rate summed over every interface but loopback, bytes/s.
    pub rx: u64,
    /// Transmit rate summed over every interface but loopback, bytes/s.
    pub tx: u64,
    /// Established TCP connections.
    pub tcp: u32,
    /// Per-mount usage (at most [`MAX_DISKS`]).
    pub disks: Vec<DiskPoint>,
}

impl ChartPoint {
    /// The chart view of `sample`, received at `t`.
    pub fn new(t: u64, sample: &MetricSample) -> Self {
        let real = || sample.nets.iter().filter(|n| n.iface != "lo");
        Self {
            t,
            cpu: sample.cpu_total_pct,
            load1: sample.load[0],
            mem_used: sample.mem_used_bytes,
            mem_total: sample.mem_total_bytes,
            swap_used: sample.swap_used_bytes,
            swap_total: sample.swap_total_bytes,
            rx: real().fold(0u64, |a, n| a.saturating_add(n.rx_bytes_per_sec)),
            tx: real().fold(0u64, |a, n| a.saturating_add(n.tx_bytes_per_sec)),
            tcp: sample.tcp_established,
            disks: sample
                .disks
                .iter()
                .take(MAX_DISKS)
                .map(|d| DiskPoint {
                    mount: d.mount.clone(),
                    used: d.used_bytes,
                    total: d.total_bytes,
                })
                .collect(),
        }
    }
}

/// Query of the history endpoint (all optional).
#[derive(Debug, Default, Deserialize)]
pub struct HistoryParams {
    /// Window start, Unix ms (default `to` minus 15 minutes).
    pub from: Option<u64>,
    /// Window end, Unix ms (default now).
    pub to: Option<u64>,
    /// Most points, 1..=[`MAX_POINTS`] (default [`DEFAULT_POINTS`]).
    pub points: Option<usize>,
}

/// The history answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    /// The node.
    pub node: u64,
    /// Window start, Unix ms.
    pub from: u64,
    /// Window end, Unix ms.
    pub to: u64,
    /// The tier the points come from: `raw`, `1m` or `1h`.
    pub tier: Tier,
    /// Time one point spans, ms.
    pub step_ms: u64,
    /// Points, oldest first.
    pub points: Vec<HistoryPoint>,
}

/// Parses a `{node}` path segment; `None` for anything but a decimal id.
pub fn parse_node_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn no_such_node(text: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no node {text:?}"))
}

/// Checks the window of a history query: `(from, to, points)`.
pub fn window(params: &HistoryParams, now_ms: u64) -> Result<(u64, u64, usize), model::Invalid> {
    let to = params.to.unwrap_or(now_ms);
    let from = params
        .from
        .unwrap_or_else(|| to.saturating_sub(DEFAULT_WINDOW_MS));
    if from > to {
        return Err(model::Invalid::new("from", "from must not be after to"));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(model::Invalid::new(
            "from",
            "from must be at most 366 days before to",
        ));
    }
    let points = params.points.unwrap_or(DEFAULT_POINTS);
    if !(1..=MAX_POINTS).contains(&points) {
        return Err(model::Invalid::new(
            "points",
            format!("points must be in 1..={MAX_POINTS}"),
        ));
    }
    Ok((from, to, points))
}

/// `GET /api/v1/nodes/{node}/metrics`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/metrics",
    operation_id = "get /api/v1/nodes/{node}/metrics",
    tag = "metrics",
    summary = "The stored metric history of a node over a window (default the last 15 minutes), from the tier that fits: raw samples when one point spans under a minute and raw samples still cover the window, else 1-minute roll-ups (under an hour a point, still kept), else 1-hour roll-ups. Each point has its time and min/avg/max per metric (avg only for raw samples).",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("from" = Option<u64>, Query, description = "Window start, Unix ms (default `to` minus 15 minutes); the window spans at most 366 days."),
        ("to" = Option<u64>, Query, description = "Window end, Unix ms (default now)."),
        ("points" = Option<u64>, Query, description = "Most points, 1..=2000 (default 300)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::live::History),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Path(node): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let id = parse_node_id(&node).ok_or_else(|| no_such_node(&node))?;
    let (from, to, points) = window(&params, state.auth.now_ms())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.message))?;
    if state.services.cluster.node(id).await?.is_none() {
        return Err(no_such_node(&node));
    }
    let history = state
        .services
        .cluster
        .metric_history(id, from, to, points)
        .await?;
    Ok(Json(History {
        node: id,
        from,
        to,
        tier: history.tier,
        step_ms: history.step_ms,
        points: history.points,
    })
    .into_response())
}

/// The next event of a node's metric stream, or `None` when the stream is over.
async fn next_point(feed: &mut Feed<LiveSample>, node: u64) -> Option<Event> {
    loop {
        match feed.next().await? {
            Got::Item(s) if s.node_id == node => {
                let point = ChartPoint::new(s.at_ms, &s.sample);
                if let Some(event) = sse::json_event("sample", &point) {
                    return Some(event);
                }
            }
            Got::Item(_) => {}
            Got::Lagged(n) => tracing::debug!(node, skipped = n, "metrics stream lagged"),
            Got::End(event) => return Some(event),
        }
    }
}

/// `GET /api/v1/nodes/{node}/metrics/stream`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/metrics/stream",
    operation_id = "get /api/v1/nodes/{node}/metrics/stream",
    tag = "metrics",
    summary = "Server-Sent Events: a `sample` event (a ChartPoint) per heartbeat of the node; an `end` event when the session ended.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = String, content_type = "text/event-stream"),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn stream(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(node): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_node_id(&node).ok_or_else(|| no_such_node(&node))?;
    if state.services.cluster.node(id).await?.is_none() {
        return Err(no_such_node(&node));
    }
    let Some(rx) = state.services.cluster.live_samples() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "live metrics are not available (the master is shutting down)",
        ));
    };
    let feed = Feed::new(rx, Arc::clone(&state.auth), ctx.auth);
    let events = futures_lite::stream::unfold(feed, move |mut feed| async move {
        let event = next_point(&mut feed, id).await?;
        Some((event, feed))
    });
    Ok(sse::respond(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{DiskUsage, NetUsage};

    #[test]
    fn point_sums_real_interfaces_and_caps_disks() {
        let net = |iface: &str, rx, tx| NetUsage {
            iface: iface.into(),
            rx_bytes: 0,
            tx_bytes: 0,
            rx_bytes_per_sec: rx,
            tx_bytes_per_sec: tx,
        };
        let sample = MetricSample {
            cpu_total_pct: 12.5,
            load: [0.5, 0.0, 0.0],
            nets: vec![
                net("lo", 1000, 1000),
                net("eth0", 10, 20),
                net("eth1", 1, 2),
            ],
            disks: (0..12)
                .map(|i| DiskUsage {
                    mount: format!("/m{i}"),
                    total_bytes: 100,
                    used_bytes: i,
                })
                .collect(),
            ..MetricSample::default()
        };
        let p = ChartPoint::new(7, &sample);
        assert_eq!((p.t, p.rx, p.tx, p.load1), (7, 11, 22, 0.5));
        assert_eq!(p.disks.len(), MAX_DISKS);
        assert_eq!(p.disks[3].mount, "/m3");
    }

    #[test]
    fn windows_and_ids_are_checked() {
        let p = HistoryParams::default();
        assert_eq!(
            window(&p, 1_000_000_000),
            Ok((
                1_000_000_000 - DEFAULT_WINDOW_MS,
                1_000_000_000,
                DEFAULT_POINTS
            ))
        );
        let bad = |from, to, points| {
            window(
                &HistoryParams {
                    from: Some(from),
                    to: Some(to),
                    points,
                },
                0,
            )
            .is_err()
        };
        assert!(bad(10, 5, None));
        assert!(bad(0, MAX_WINDOW_MS + 1, None));
        assert!(bad(0, 10, Some(0)));
        assert!(bad(0, 10, Some(MAX_POINTS + 1)));
        assert!(!bad(0, 10, Some(MAX_POINTS)));
        assert_eq!(parse_node_id("42"), Some(42));
        for text in ["", "-1", "+1", "1x", "99999999999999999999999"] {
            assert_eq!(parse_node_id(text), None, "{text}");
        }
    }
}
