//! Data management through the router: the page's forms (compaction, backup download, reset
//! with its confirmation step), the JSON API, errors shown on the page, and the audit log.

use crate::console::common::*;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

fn form<'a>(s: &'a Session, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf", s.csrf.as_str())];
    all.extend_from_slice(fields);
    all
}

#[tokio::test]
async fn data_page_offers_every_action() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app.send(Req::get("/data").cookie(&s.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        r#"<form method="post" action="/data/compact" data-busy="Working…">"#,
        r#"<a class="button" href="/data/backup?env=data" download>"#,
        r#"<a class="button" href="/data/backup?env=performance" download>"#,
        r#"<form method="post" action="/data/reset" class="filters" id="reset-form">"#,
        r#"<option value="samples">"#,
        r#"<option value="audit">"#,
        "User accounts are never reset.",
    ] {
        assert!(r.body.contains(needle), "missing {needle:?} in\n{}", r.body);
    }
    assert!(!r.body.contains(r#"value="users""#));
}

#[tokio::test]
async fn compaction_from_the_page_reports_sizes_and_is_audited() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(
            Req::post("/data/compact")
                .cookie(&s.token)
                .form(&form(&s, &[])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.assert_html();
    assert!(r.body.contains(r#"<table id="compact-report">"#));
    assert!(r.body.contains("<td class=\"num\">3.0 MiB</td><td class=\"num\">1.0 MiB</td><td class=\"num\">2.0 MiB</td><td class=\"num\">12 ms</td>"), "{}", r.body);
    // The language switch of the result page returns to the Data page, not the POST.
    assert!(
        r.body
            .contains(r#"<input type="hidden" name="back" value="/data">"#)
    );
    let audit = app.audit(&s, "action=data").await;
    assert_eq!(audit[0]["action"], "data.compact");
    assert_eq!(audit[0]["result"], "ok");
    assert!(
        audit[0]["detail"]
            .as_str()
            .unwrap()
            .contains("3145728 -> 1048576")
    );
    // Without the CSRF token nothing runs.
    let r = app
        .send(
            Req::post("/data/compact")
                .cookie(&s.token)
                .form(&[("x", "y")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit(&s, "action=data").await.len(), 1);
}

#[tokio::test]
async fn reset_asks_for_confirmation_then_deletes_and_audits() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let before = RESETS.lock().unwrap().len();
    let fields = [("category", "samples"), ("older_than_days", "7")];
    let r = app
        .send(
            Req::post("/data/reset")
                .cookie(&s.token)
                .form(&form(&s, &fields)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        "<h1>Confirm the reset</h1>",
        "Delete every metric sample older than 7 days, of every slave?",
        r#"<input type="hidden" name="confirm" value="yes">"#,
        r#"<input type="hidden" name="category" value="samples">"#,
        r#"<a class="button" href="/data">Cancel</a>"#,
    ] {
        assert!(r.body.contains(needle), "missing {needle:?} in\n{}", r.body);
    }
    assert!(
        app.audit(&s, "action=data").await.is_empty(),
        "nothing ran yet"
    );

    let fields = [
        ("category", "samples"),
        ("older_than_days", "7"),
        ("confirm", "yes"),
    ];
    let r = app
        .send(
            Req::post("/data/reset")
                .cookie(&s.token)
                .form(&form(&s, &fields)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("42 entries removed."), "{}", r.body);
    // Other tests of this binary reset too: look for this one's cutoff.
    assert!(RESETS.lock().unwrap().len() > before);
    assert!(
        RESETS
            .lock()
            .unwrap()
            .contains(&(START_MS - 7 * 86_400_000))
    );
    let audit = app.audit(&s, "action=data.reset").await;
    assert_eq!(audit[0]["target"], "samples");
    assert_eq!(audit[0]["detail"], "older than 7 days: 42 removed");
}

#[tokio::test]
async fn reset_refuses_accounts_and_bad_input_on_the_page() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    for (fields, message) in [
        (
            [
                ("category", "users"),
                ("older_than_days", "0"),
                ("confirm", "yes"),
            ],
            "User accounts are never reset.",
        ),
        (
            [
                ("category", "audit"),
                ("older_than_days", "-3"),
                ("confirm", "yes"),
            ],
            "Days must be a whole number from 0 to 36500.",
        ),
    ] {
        let r = app
            .send(
                Req::post("/data/reset")
                    .cookie(&s.token)
                    .form(&form(&s, &fields)),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        r.assert_html();
        assert!(r.body.contains(message), "{}", r.body);
    }
    // The account still works.
    app.login().await;
}

#[tokio::test]
async fn audit_reset_keeps_newer_entries_accounts_and_logs_itself() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    assert!(!app.audit(&s, "").await.is_empty());
    app.clock
        .advance(std::time::Duration::from_secs(3 * 86_400));
    let s = app.login().await; // the old session expired meanwhile
    let r = app
        .send(
            Req::post("/api/v1/data/reset")
                .bearer(&s.token)
                .json(&json!({ "category": "audit", "older_than_days": 1, "confirm": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["removed"].as_u64().unwrap() >= 2);
    let left = app.audit(&s, "").await;
    let actions: Vec<&str> = left.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["data.reset", "auth.login"], "{left:?}");
    assert_eq!(left[0]["target"], "audit");
    app.login().await;
}

#[tokio::test]
async fn reset_api_needs_confirmation_and_never_touches_accounts() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let post = |body: serde_json::Value| {
        app.send(Req::post("/api/v1/data/reset").bearer(&s.token).json(&body))
    };
    let r = post(json!({ "category": "samples", "older_than_days": 0 })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("confirm"));
    let r = post(json!({ "category": "users", "older_than_days": 0, "confirm": true })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("never"));
    let r = post(json!({ "category": "samples", "older_than_days": 99999, "confirm": true })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(json!({ "category": "samples", "older_than_days": 0, "confirm": true })).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({ "category": "samples", "older_than_days": 0, "removed": 42 })
    );
}

#[tokio::test]
async fn backup_downloads_as_a_file_and_is_audited() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(Req::get("/data/backup?env=data").cookie(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "application/octet-stream");
    assert_eq!(
        r.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"commander-data-20240229T123456Z.mdb\""
    );
    assert_eq!(r.body.as_bytes(), BACKUP_BYTES);
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    let r = app
        .send(Req::get("/api/v1/data/backup?env=performance").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let audit = app.audit(&s, "action=data.backup").await;
    let targets: Vec<&str> = audit
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["performance", "data"]);
    let r = app
        .send(Req::get("/api/v1/data/backup?env=users").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].is_string());
    let r = app
        .send(Req::get("/data/backup?env=users").cookie(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.assert_html();
}

#[tokio::test]
async fn busy_and_failing_operations_show_clear_errors() {
    let (app, s) = TestApp::ready(Fake::Busy(Vec::new())).await;
    let r = app
        .send(
            Req::post("/data/compact")
                .cookie(&s.token)
                .form(&form(&s, &[])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    r.assert_html();
    assert!(
        r.body
            .contains("Another data operation is running; try again shortly.")
    );
    let r = app
        .send(
            Req::post("/api/v1/data/compact")
                .bearer(&s.token)
                .json(&json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["error"].is_string());
    let audit = app.audit(&s, "action=data.compact").await;
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|e| e["result"] == "failed"));

    let (app, s) = TestApp::ready(Fake::Internal("<disk> gone")).await;
    let r = app.send(Req::get("/data/backup").cookie(&s.token)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    r.assert_html();
    assert!(r.body.contains("&#60;disk&#62; gone"));
}

#[tokio::test]
async fn scheduled_compaction_is_shown_cancelled_and_audited() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app.send(Req::get("/data").cookie(&s.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        r#"<p class="notice" id="compact-scheduled">Compaction scheduled on 2024-02-29T12:34:56"#,
        r#"<form method="post" action="/data/compact/cancel">"#,
        r#"<p id="compact-last">Last compaction, 2024-02-28T12:34:56"#,
        "<td>Metric samples (performance)</td><td class=\"num\">8.0 MiB</td><td class=\"num\">2.0 MiB</td>",
        "commander db compact --data-dir DIR",
    ] {
        assert!(r.body.contains(needle), "missing {needle:?} in\n{}", r.body);
    }

    let r = app
        .send(Req::get("/api/v1/data/compact").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let status = r.json();
    assert_eq!(status["scheduled"]["requested_at_ms"], START_MS);
    assert_eq!(status["last"]["envs"][0]["after_bytes"], 2 << 20);
    assert!(status["last"]["error"].is_null());

    let r = app
        .send(Req::new(Method::DELETE, "/api/v1/data/compact").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["cancelled"], true);
    let r = app
        .send(
            Req::post("/data/compact/cancel")
                .cookie(&s.token)
                .form(&form(&s, &[])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("The scheduled compaction was cancelled."));
    let audit = app.audit(&s, "action=data.compact_cancel").await;
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|e| e["result"] == "ok"));

    // Without the CSRF token the page's cancel does nothing.
    let r = app
        .send(
            Req::post("/data/compact/cancel")
                .cookie(&s.token)
                .form(&[("x", "y")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
