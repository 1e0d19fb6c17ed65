//! The `/alerts` page: the alerts firing now and the history, newest first, one page at a
//! time (`?before=ID`, the id after the last row), filtered by `state`, `severity`, `node`
//! and `rule` (kept across pages). Tabs lead to the rules and silences pages
//! ([`crate::alert_pages`]). The page marks its live region with
//! `data-alert-refresh`; the frame's script (`static/commander.js`), which follows
//! `GET /api/v1/alerts/events` on every page for the badge and the toast, refreshes that
//! region in place as soon as an alert fires or resolves, without reloading the page.

use model::service::Cluster;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use crate::alert_pages::text::{AlertsText, alerts_text};
use crate::alerts::{AlertParams, AlertQuery, AlertRecord, AlertRule, AlertState, Resolution};
use crate::auth::AuthContext;
use crate::format::{format_duration_in, format_rfc3339_ms};
use crate::i18n::LangExt;
use crate::i18n::{Lang, Messages};
use crate::pages::{Frame, backend_error_page, now_ms};

/// History rows per page.
pub const PAGE_ROWS: usize = 50;

/// One alert, formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Alert id.
    pub id: u64,
    /// The node.
    pub node: u64,
    /// The node's name (host name or `node N`).
    pub node_name: String,
    /// What the alert is about, in the page's language.
    pub rule: &'static str,
    /// Badge class: `firing` or `resolved`.
    pub state: &'static str,
    /// The state, in the page's language.
    pub state_label: &'static str,
    /// When it fired (RFC 3339, UTC).
    pub fired: String,
    /// When it resolved, or `–`.
    pub resolved: String,
    /// Why it resolved (empty while firing).
    pub resolution: &'static str,
    /// How long it lasted (or has lasted so far).
    pub duration: String,
    /// `info`, `warning` or `critical` (badge class).
    pub severity_key: &'static str,
    /// The same, translated.
    pub severity: &'static str,
    /// The rule's name (threshold rules and project events), empty for a built-in.
    pub rule_name: String,
    /// What happened, e.g. `cpu_total_pct 93.1 > 90 for 120 s`.
    pub summary: String,
    /// A silence matched: shown, not notified.
    pub silenced: bool,
}

impl AlertRow {
    /// Formats `alert` as seen at `now_ms`, in `lang`.
    pub fn new(alert: &AlertRecord, now_ms: u64, lang: Lang) -> Self {
        let t: &Messages = lang.messages();
        let a = alerts_text(lang);
        let until = alert.resolved_ms.unwrap_or(now_ms);
        let time = |ms: u64| format_rfc3339_ms(ms).unwrap_or_else(|| "–".to_owned());
        Self {
            id: alert.id,
            node: alert.node,
            node_name: alert.node_label(),
            rule: match alert.rule {
                AlertRule::NodeOffline => t.rule_node_offline,
                AlertRule::Threshold => a.rule_threshold,
                AlertRule::ContainerExited => a.rule_container_exited,
                AlertRule::RolloutRolledBack => a.rule_rollout_rolled_back,
            },
            state: match alert.state {
                AlertState::Firing => "firing",
                AlertState::Resolved => "resolved",
            },
            state_label: match alert.state {
                AlertState::Firing => t.alert_firing,
                AlertState::Resolved => t.alert_resolved,
            },
            fired: time(alert.fired_ms),
            resolved: alert.resolved_ms.map_or_else(|| "–".to_owned(), time),
            resolution: match alert.resolution {
                None => "",
                Some(Resolution::Online) => t.resolution_online,
                Some(Resolution::Revoked) => t.resolution_revoked,
                Some(Resolution::Recovered) => a.resolution_recovered,
                Some(Resolution::RuleDeleted) => a.resolution_rule_deleted,
                Some(Resolution::NoData) => a.resolution_no_data,
            },
            duration: format_duration_in(
                lang,
                Duration::from_millis(until.saturating_sub(alert.fired_ms)),
            ),
            severity_key: alert.severity.as_str(),
            severity: a.severity(alert.severity),
            rule_name: if alert.rule == AlertRule::NodeOffline {
                String::new()
            } else {
                alert.rule_name.clone()
            },
            summary: alert.summary.clone(),
            silenced: alert.silenced,
        }
    }
}

/// The alerts page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    /// The frame.
    pub frame: Frame,
    /// Alerts firing now.
    pub active: Vec<AlertRow>,
    /// One page of the history.
    pub history: Vec<AlertRow>,
    /// Alerts kept in the history.
    pub total: u64,
    /// `before` of the next (older) page; `None` on the last page.
    pub older: Option<u64>,
    /// Whether this is a later page (show a link back to the newest).
    pub paged: bool,
    /// The alert pages' strings.
    pub a: &'static AlertsText,
    /// The filter as given (`state`, `severity`, `node`, `rule`; empty: any).
    pub filter: FilterForm,
    /// The filter as a query suffix for the paging links (`&state=firing...`).
    pub filter_query: String,
    /// The newest page with the same filter.
    pub newest_href: String,
}

/// The filter's fields as the page's form sends them.
#[derive(Debug, Clone, Default)]
pub struct FilterForm {
    /// `firing`, `resolved` or empty.
    pub state: String,
    /// `info`, `warning`, `critical` or empty.
    pub severity: String,
    /// A node id or empty.
    pub node: String,
    /// A rule id, name or kind, or empty.
    pub rule: String,
}

/// `v` percent-encoded for a query string (unreserved characters kept).
fn encode_query(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /alerts?before=`.
pub async fn page(
    State(backend): State<Arc<dyn Cluster>>,
    ctx: AuthContext,
    uri: Uri,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> Response {
    // A malformed query string shows the newest, unfiltered page rather than a bare 400;
    // so does a filter that breaks a rule.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let before = params.before;
    let filter = params.to_query().map(|q| q.filter).unwrap_or_default();
    let form = FilterForm {
        state: filter
            .state
            .map(|s| match s {
                AlertState::Firing => "firing",
                AlertState::Resolved => "resolved",
            })
            .unwrap_or_default()
            .to_owned(),
        severity: filter
            .severity
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_owned(),
        node: filter.node.map(|n| n.to_string()).unwrap_or_default(),
        rule: filter.rule.clone().unwrap_or_default(),
    };
    let filter_query: String = [
        ("state", &form.state),
        ("severity", &form.severity),
        ("node", &form.node),
        ("rule", &form.rule),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("&{k}={}", encode_query(v)))
    .collect();
    let query = AlertQuery {
        before,
        limit: PAGE_ROWS,
        filter,
    };
    let lang = ctx.lang();
    match backend.alerts(query).await {
        Ok(list) => {
            let now = now_ms();
            let rows = |alerts: &[AlertRecord]| -> Vec<AlertRow> {
                alerts.iter().map(|a| AlertRow::new(a, now, lang)).collect()
            };
            AlertsPage {
                frame: Frame::signed_in(&ctx, "alerts", &uri),
                active: rows(&list.active),
                history: rows(&list.history),
                total: list.total,
                older: list.next,
                paged: before.is_some(),
                a: alerts_text(lang),
                filter: form,
                newest_href: match filter_query.strip_prefix('&') {
                    Some(q) => format!("/alerts?{q}"),
                    None => "/alerts".to_owned(),
                },
                filter_query,
            }
            .into_response()
        }
        Err(err) => backend_error_page(&err, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_formatted_in_both_languages() {
        let mut alert = AlertRecord::offline(4, 2, "db-1", 1_709_210_096_000);
        let row = AlertRow::new(&alert, 1_709_210_096_000 + 65_000, Lang::En);
        assert_eq!(
            (row.rule, row.state, row.duration.as_str()),
            ("Slave offline", "firing", "1 min 5 s")
        );
        assert_eq!(row.fired, "2024-02-29T12:34:56.000Z");
        assert_eq!((row.resolved.as_str(), row.resolution), ("–", ""));
        alert.state = AlertState::Resolved;
        alert.resolved_ms = Some(alert.fired_ms + 3_000);
        alert.resolution = Some(Resolution::Online);
        let row = AlertRow::new(&alert, u64::MAX, Lang::ZhCn);
        assert_eq!(
            (row.state_label, row.resolution, row.duration.as_str()),
            ("已恢复", "已重新上线", "3秒")
        );
        assert_eq!(row.severity, "严重");
        alert.rule = AlertRule::Threshold;
        alert.rule_name = "disk nearly full".into();
        alert.resolution = Some(Resolution::NoData);
        let row = AlertRow::new(&alert, u64::MAX, Lang::En);
        assert_eq!((row.rule, row.resolution), ("Threshold", "no data"));
        assert_eq!(row.rule_name, "disk nearly full");
    }
}
