//! Alerts through the router with a fake backend: the list API and its paging, the event
//! stream (snapshot first, then changes, a fresh snapshot after lagging), the `/alerts`
//! page in both languages, the home page's count and the frame's badge and toast.

use crate::console::common::*;
use axum::http::{StatusCode, header};
use master::services::DataFiles;
use model::ServiceError;
use model::alert::{AlertList, AlertQuery, AlertRecord, AlertRule, AlertState, Resolution};
use model::data::{BackupFile, CompactReport, CompactionStatus, DataEnv};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::BoxFuture;
use model::service::Cluster;
use protocol::MetricSample;
use serde_json::json;
use tokio::sync::broadcast;
use tower::ServiceExt;

/// [`Fake`] with alerts: fixed active ones, a history paged like the master's, and a feed
/// the test sends changes into (room for two).
struct AlertFake {
    inner: Fake,
    active: Vec<AlertRecord>,
    history: Vec<AlertRecord>,
    tx: broadcast::Sender<AlertRecord>,
}

impl Cluster for AlertFake {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        self.inner.nodes()
    }
    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        self.inner.node(id)
    }
    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>> {
        self.inner.storage()
    }
    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>> {
        self.inner.sample_series(id, from_ms, to_ms, points)
    }
    fn metric_history(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<model::history::MetricHistory, ServiceError>> {
        self.inner.metric_history(id, from_ms, to_ms, points)
    }
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        self.inner.live_samples()
    }
    fn alerts(&self, query: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        let mut history: Vec<AlertRecord> = self
            .history
            .iter()
            .filter(|a| query.before.is_none_or(|b| a.id < b))
            .take(query.limit + 1)
            .cloned()
            .collect();
        let next = if history.len() > query.limit {
            history.truncate(query.limit);
            history.last().map(|a| a.id)
        } else {
            None
        };
        let list = AlertList {
            active: self.active.clone(),
            history,
            total: self.history.len() as u64,
            next,
        };
        Box::pin(async move { Ok(list) })
    }
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        Some(self.tx.subscribe())
    }

    fn master_counters(&self) -> model::node::MasterCounters {
        model::node::MasterCounters::default()
    }
}

impl DataFiles for AlertFake {
    fn compact(&self) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        self.inner.compact()
    }
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        DataFiles::compaction_status(&self.inner)
    }
    fn cancel_compaction(&self) -> BoxFuture<'_, Result<bool, ServiceError>> {
        DataFiles::cancel_compaction(&self.inner)
    }
    fn backup(&self, env: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        self.inner.backup(env)
    }
    fn reset_samples(&self, older_than_ms: u64) -> BoxFuture<'_, Result<u64, ServiceError>> {
        self.inner.reset_samples(older_than_ms)
    }
}

const HOSTILE: &str = "<script>alert(1)</script>";

fn alert(id: u64, node: u64, name: &str) -> AlertRecord {
    let alert = AlertRecord::offline(id, node, name, START_MS - 65_000 + id);
    assert_eq!(alert.rule, AlertRule::NodeOffline);
    alert
}

fn resolved(id: u64, node: u64) -> AlertRecord {
    AlertRecord {
        state: AlertState::Resolved,
        resolved_ms: Some(START_MS - 60_000),
        resolution: Some(Resolution::Online),
        ..alert(id, node, "beta")
    }
}

/// One active alert (node 2, a hostile name) and a history of five, newest first.
fn fake() -> (AlertFake, broadcast::Sender<AlertRecord>) {
    let tx = broadcast::channel(2).0;
    let firing = alert(5, 2, HOSTILE);
    let mut history = vec![firing.clone()];
    history.extend((1..=4).rev().map(|id| resolved(id, 3)));
    let fake = AlertFake {
        inner: Fake::Nodes(vec![full_node(1, "alpha", now_ms()), bare_node(2)]),
        active: vec![firing],
        history,
        tx: tx.clone(),
    };
    (fake, tx)
}

#[tokio::test]
async fn the_list_answers_active_alerts_and_pages_the_history() {
    let (fake, _tx) = fake();
    let (app, s) = TestApp::ready_over(fake).await;
    let get = |path: &str| app.send(Req::get(path).bearer(&s.token));
    let r = get("/api/v1/alerts?limit=2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(body["active"][0]["node_name"], HOSTILE);
    assert_eq!(body["active"][0]["state"], "firing");
    assert_eq!(body["active"][0]["rule"], "node_offline");
    let ids: Vec<u64> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        (ids, body["next"].clone(), body["total"].clone()),
        (vec![5, 4], json!(4), json!(5))
    );
    let older = get("/api/v1/alerts?limit=2&before=2").await.json();
    assert_eq!(older["history"][0]["resolution"], "online");
    assert_eq!(older["next"], json!(null));
    for bad in ["limit=501", "limit=-1", "before=x"] {
        let r = get(&format!("/api/v1/alerts?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn the_stream_starts_with_the_active_alerts_and_resyncs_after_lagging() {
    let (fake, tx) = fake();
    let (app, s) = TestApp::ready_over(fake).await;
    let response = app
        .router
        .clone()
        .oneshot(Req::get("/api/v1/alerts/events").bearer(&s.token).build())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut events = crate::console::sse_client::Events::new(response);
    let active = events.expect("active").await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["id"], 5);

    let fired = alert(6, 1, "alpha");
    tx.send(fired.clone()).unwrap();
    assert_eq!(
        events.expect("alert").await,
        serde_json::to_value(&fired).unwrap()
    );
    // Four changes into room for two: the stream lost two and sends the snapshot again.
    for id in 7..=10 {
        tx.send(alert(id, 1, "alpha")).unwrap();
    }
    assert_eq!(events.expect("active").await[0]["id"], 5);
    assert_eq!(events.expect("alert").await["id"], 9);
    assert_eq!(events.expect("alert").await["id"], 10);
}

#[tokio::test]
async fn the_page_shows_active_alerts_and_history_escaped_in_both_languages() {
    let (fake, _tx) = fake();
    let (app, s) = TestApp::ready_over(fake).await;
    let page = app.send(Req::get("/alerts").cookie(&s.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_html();
    let body = &page.body;
    for needle in [
        "<h1>Alerts</h1>",
        r#"<div id="alerts-live" data-alert-refresh>"#,
        r#"<h2>Firing now <span class="count" id="alerts-active-count">1</span></h2>"#,
        r#"<tr data-alert="5" data-node="2" data-state="firing" data-severity="critical">"#,
        r#"<span class="badge badge-firing">firing</span>"#,
        r#"<span class="badge badge-resolved">resolved</span>"#,
        "<span class=\"hint\">back online</span>",
        r#"<a href="/alerts" class="active" aria-current="page">Alerts<span id="alert-badge""#,
        r#"<div id="alert-toast" class="toast" role="alert" data-text="Alert: {name} (slave {id}) is offline." data-text-rule="Alert {rule}: {summary} ({name})." hidden>"#,
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert!(!body.contains(HOSTILE));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    // 50 rows a page: all five fit, no link to older ones.
    assert!(!body.contains("/alerts?before="));

    let r = app
        .send(
            Req::new(axum::http::Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let zh = app
        .send(Req::get("/alerts?before=3").cookie(&s.token))
        .await
        .body;
    for needle in [
        "<h1>告警</h1>",
        "告警中",
        "已恢复",
        "已重新上线",
        "节点离线",
        r#"<a href="/alerts">最新</a>"#,
    ] {
        assert!(zh.contains(needle), "missing {needle:?} in\n{zh}");
    }
    // `before=3`: the history starts at alert 2.
    assert!(zh.contains(r#"<tr data-alert="2""#) && !zh.contains(r#"<tr data-alert="4""#));
}

#[tokio::test]
async fn home_counts_the_active_alerts_and_links_to_them() {
    let (fake, _tx) = fake();
    let (app, s) = TestApp::ready_over(fake).await;
    let body = app.send(Req::get("/").cookie(&s.token)).await.body;
    assert!(
        body.contains(r#"<a class="card card-link card-alert" id="card-alerts" href="/alerts"><div class="card-value">1</div><div class="card-label">Active alerts</div></a>"#),
        "{body}"
    );
    // The cards are a live region: the frame's script refreshes it when an alert changes.
    assert!(body.contains(r#"<div id="live-home" data-live-refresh="5">"#));
    // Without alerts: a zero, not highlighted.
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let body = app.send(Req::get("/").cookie(&s.token)).await.body;
    assert!(body.contains(r#"<a class="card card-link" id="card-alerts" href="/alerts"><div class="card-value">0</div>"#), "{body}");
    // No toast and no badge without a session.
    let login = app.get("/login").await.body;
    assert!(!login.contains("alert-toast") && !login.contains("alert-badge"));
}
