//! The slave detail page, `GET /slaves/{node}`: host facts, the latest metrics, disks, and
//! four charts (CPU, memory, network, disk) drawn by `static/slave.js` with the vendored
//! Chart.js from the history endpoint over a chosen time range (15 minutes to 30 days, or
//! custom), growing with the SSE stream of [`crate::live`] while the range ends now.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthContext;
use crate::format::{
    format_bytes, format_load, format_percent, format_relative_in, format_rfc3339_ms,
};
use crate::i18n::LangExt;
use crate::i18n::{Lang, Messages};
use crate::live::parse_node_id;
use crate::pages::{ErrorPage, Frame, NodeRow, backend_error_page, now_ms};
use crate::state::AppState;
use model::node::NodeView;

/// One labelled value of a facts table.
#[derive(Debug, Clone)]
pub struct Fact {
    /// Label.
    pub label: &'static str,
    /// Value, formatted.
    pub value: String,
    /// Element id for the page script to update, or empty.
    pub id: &'static str,
}

fn fact(label: &'static str, value: String) -> Fact {
    Fact {
        label,
        value,
        id: "",
    }
}

/// One mounted file system.
#[derive(Debug, Clone)]
pub struct DiskRow {
    /// Mount point.
    pub mount: String,
    /// Device.
    pub device: String,
    /// File-system type.
    pub fs: String,
    /// Size, formatted.
    pub size: String,
    /// Used share, formatted (from the latest sample), or a dash.
    pub used: String,
}

/// The slave detail page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "slave.html")]
pub struct SlavePage {
    /// The frame.
    pub frame: Frame,
    /// The node as the tables show it.
    pub row: NodeRow,
    /// Host facts; empty until reported.
    pub host: Vec<Fact>,
    /// The latest metrics.
    pub now: Vec<Fact>,
    /// Mounted disks.
    pub disks: Vec<DiskRow>,
    /// Chart labels in the page's language, as JSON for the page script.
    pub labels_json: String,
}

/// Host facts of `node`, formatted for `lang` at `now`.
pub fn host_facts(node: &NodeView, t: &Messages, lang: Lang, now: u64) -> Vec<Fact> {
    let Some(h) = &node.host else {
        return Vec::new();
    };
    let boot_ms = h.boot_time_unix.saturating_mul(1000);
    let booted = match format_rfc3339_ms(boot_ms) {
        Some(at) if h.boot_time_unix > 0 => format!(
            "{} UTC ({})",
            at.get(..16).unwrap_or(&at).replace('T', " "),
            format_relative_in(lang, Some(boot_ms), now)
        ),
        _ => "–".to_owned(),
    };
    let docker = match &h.docker_version {
        Some(v) if !v.is_empty() => v.clone(),
        _ => t.docker_not_installed.to_owned(),
    };
    vec![
        fact(t.host_os, h.os.clone()),
        fact(t.host_kernel, h.kernel.clone()),
        fact(t.host_arch, h.arch.clone()),
        fact(t.host_cpu, h.cpu_model.clone()),
        fact(t.host_cores, h.cpu_cores.to_string()),
        fact(t.host_memory, format_bytes(h.mem_total_bytes)),
        fact(t.host_swap, format_bytes(h.swap_total_bytes)),
        fact(t.host_booted, booted),
        fact(t.docker_version, docker),
    ]
}

/// The latest metrics of `node`, with element ids the page script updates.
pub fn current_facts(node: &NodeView, t: &Messages) -> Vec<Fact> {
    let m = node.metrics.as_ref();
    let dash = || "–".to_owned();
    let with_id = |label, value, id| Fact { label, value, id };
    vec![
        with_id(
            t.col_cpu,
            m.map_or_else(dash, |m| format_percent(m.cpu_total_pct)),
            "now-cpu",
        ),
        with_id(
            t.col_memory,
            m.map_or_else(dash, |m| {
                format!(
                    "{} / {}",
                    format_bytes(m.mem_used_bytes),
                    format_bytes(m.mem_total_bytes)
                )
            }),
            "now-mem",
        ),
        with_id(
            t.host_swap,
            m.map_or_else(dash, |m| {
                format!(
                    "{} / {}",
                    format_bytes(m.swap_used_bytes),
                    format_bytes(m.swap_total_bytes)
                )
            }),
            "now-swap",
        ),
        with_id(
            t.col_load,
            m.map_or_else(dash, |m| format_load(m.load)),
            "now-load",
        ),
        with_id(
            t.col_tcp,
            m.map_or_else(dash, |m| m.tcp_established.to_string()),
            "now-tcp",
        ),
    ]
}

/// Disks of `node`: the host's mounts with the latest usage.
pub fn disk_rows(node: &NodeView) -> Vec<DiskRow> {
    let Some(h) = &node.host else {
        return Vec::new();
    };
    let usage = node.metrics.as_ref().map(|m| &m.disks);
    h.disks
        .iter()
        .map(|d| {
            let used = usage
                .and_then(|u| u.iter().find(|u| u.mount == d.mount))
                .filter(|u| u.total_bytes > 0)
                .map_or_else(
                    || "–".to_owned(),
                    |u| format_percent((u.used_bytes as f64 * 100.0 / u.total_bytes as f64) as f32),
                );
            DiskRow {
                mount: d.mount.clone(),
                device: d.device.clone(),
                fs: d.fs_type.clone(),
                size: format_bytes(d.total_bytes),
                used,
            }
        })
        .collect()
}

/// The labels `slave.js` needs, as JSON.
pub fn chart_labels(t: &Messages, lang: Lang) -> String {
    serde_json::json!({
        "lang": lang.code(),
        "cpu": t.col_cpu,
        "memory": t.series_memory,
        "swap": t.series_swap,
        "rx": t.series_rx,
        "tx": t.series_tx,
        "waiting": t.live_waiting,
        "live": t.live_on,
        "off": t.live_off,
        "ended": t.live_ended,
        "min": t.series_min,
        "max": t.series_max,
        "range_err": t.range_err,
        "tiers": { "raw": t.tier_raw, "1m": t.tier_1m, "1h": t.tier_1h },
    })
    .to_string()
}

/// `GET /slaves/{node}`.
pub async fn page(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(node): Path<String>,
) -> Response {
    let lang = ctx.lang();
    let t = lang.messages();
    let missing = || ErrorPage::localized(StatusCode::NOT_FOUND, t.err_no_slave, lang);
    let Some(id) = parse_node_id(&node) else {
        return missing();
    };
    let view = match state.services.cluster.node(id).await {
        Ok(Some(view)) => view,
        Ok(None) => return missing(),
        Err(err) => return backend_error_page(&err, lang),
    };
    let now = now_ms();
    SlavePage {
        frame: Frame::signed_in(&ctx, "slaves", &uri),
        row: NodeRow::new_in(&view, now, lang),
        host: host_facts(&view, t, lang, now),
        now: current_facts(&view, t),
        disks: disk_rows(&view),
        labels_json: chart_labels(t, lang),
    }
    .into_response()
}
