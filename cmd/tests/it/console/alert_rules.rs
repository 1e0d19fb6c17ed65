//! Alert rules and silences through the router, over the master's real alert rules
//! service: statuses, validation errors naming the field, the audit trail, and the rule,
//! silence and filtered alert pages in both languages.

use crate::console::common::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn cpu_rule() -> Value {
    json!({"name": "cpu hot", "metric": "cpu_total_pct", "scope": {"all": true}, "op": ">",
        "threshold": 90, "for_s": 120, "recover_threshold": 80, "severity": "critical",
        "channels": ["ops"]})
}

#[tokio::test]
async fn rules_are_created_read_replaced_and_deleted_with_an_audit_trail() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    // The built-in rules exist from the start.
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/rules", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "slave offline",
            "container exited",
            "rollout rolled back",
            "disk nearly full"
        ]
    );
    let disk = &r.json()[3];
    assert_eq!(
        (
            disk["metric"].clone(),
            disk["op"].clone(),
            disk["threshold"].clone()
        ),
        (json!("disk_used_pct"), json!(">="), json!(90.0))
    );
    assert_eq!(disk["builtin"], true);

    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/rules",
        Some(cpu_rule()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let created = r.json();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(id, 5);
    assert_eq!(created["scope"], json!({"all": true}));
    assert_eq!(created["recover_threshold"], json!(80.0));
    assert_eq!(created["channels"], json!(["ops"]));

    let path = format!("/api/v1/alerts/rules/{id}");
    let r = call(&app, &s, Method::GET, &path, None).await;
    assert_eq!(
        (r.status, r.json()["name"].clone()),
        (StatusCode::OK, json!("cpu hot"))
    );

    let mut replaced = cpu_rule();
    replaced["threshold"] = json!(95);
    replaced["recover_threshold"] = Value::Null;
    replaced["scope"] = json!({"project": "web"});
    let r = call(&app, &s, Method::PUT, &path, Some(replaced)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["threshold"], json!(95.0));
    assert_eq!(
        r.json()["recover_threshold"],
        json!(95.0),
        "the whole rule: default again"
    );
    assert_eq!(r.json()["scope"], json!({"project": "web"}));

    // The same name twice is refused, naming the field.
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/rules",
        Some(cpu_rule()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.json()["error"].as_str().unwrap().starts_with("name:"),
        "{}",
        r.body
    );

    let r = call(&app, &s, Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for method in [Method::GET, Method::DELETE] {
        let r = call(&app, &s, method.clone(), &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {}", r.body);
        assert!(r.json()["error"].is_string());
    }
    let r = call(&app, &s, Method::PUT, &path, Some(cpu_rule())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/rules/x", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.json()["error"].is_string());

    let trail: Vec<String> = app
        .audit(&s, "action=alert_rule")
        .await
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{} {} {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            "alert_rule.create alert_rule/5 ok",
            "alert_rule.update alert_rule/5 ok",
            "alert_rule.create alert_rule/cpu hot denied",
            "alert_rule.delete alert_rule/5 ok",
            "alert_rule.delete alert_rule/5 denied",
            "alert_rule.update alert_rule/5 denied",
        ]
    );
}

#[tokio::test]
async fn invalid_rules_are_400s_naming_the_field() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!("")),
        ("metric", json!("cpu_pct")),
        ("scope", json!({"all": false})),
        ("scope", json!({"node": 1, "project": "x"})),
        ("scope", json!({"label": "novalue"})),
        ("op", json!("=")),
        ("threshold", json!(150)),
        ("for_s", json!(700_000)),
        ("recover_threshold", json!(95)),
        ("severity", json!("urgent")),
        ("channels", json!([""])),
        ("channels", json!(["x".repeat(65)])),
    ];
    for (field, value) in cases {
        let mut body = cpu_rule();
        body[field] = value.clone();
        let r = call(&app, &s, Method::POST, "/api/v1/alerts/rules", Some(body)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{field}={value}: {}",
            r.body
        );
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.starts_with(&format!("{field}:")),
            "{field}={value}: {error}"
        );
    }
    // Wrong types and unknown fields are named by the JSON reader.
    let mut body = cpu_rule();
    body["threshold"] = json!("ninety");
    let r = call(&app, &s, Method::POST, "/api/v1/alerts/rules", Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"].as_str().unwrap().contains("threshold"),
        "{}",
        r.body
    );
    let mut body = cpu_rule();
    body["treshold"] = json!(1);
    let r = call(&app, &s, Method::POST, "/api/v1/alerts/rules", Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"].as_str().unwrap().contains("treshold"),
        "{}",
        r.body
    );
    // Nothing was created; every refusal was audited.
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/rules", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 4);
    assert_eq!(app.audit(&s, "action=alert_rule.create").await.len(), 12);
}

#[tokio::test]
async fn silences_are_created_listed_and_deleted() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let until = START_MS + 60_000;
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/silences",
        Some(json!({"rule": "disk nearly full", "node": 2, "until": until, "comment": "resizing"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let silence = r.json();
    assert_eq!(
        (silence["id"].clone(), silence["until_ms"].clone()),
        (json!(1), json!(until))
    );
    assert_eq!(silence["created_by"], USER);
    for (body, field) in [
        (json!({"rule": "", "until": until}), "rule"),
        (json!({"rule": "x"}), "until"),
        (json!({"rule": "x", "until": START_MS - 1}), "until"),
        (json!({"rule": "x", "node": 0, "until": until}), "node"),
    ] {
        let r = call(
            &app,
            &s,
            Method::POST,
            "/api/v1/alerts/silences",
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert!(
            r.json()["error"].as_str().unwrap().starts_with(field),
            "{}",
            r.body
        );
    }
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/silences", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    // Expired silences are no longer listed.
    app.clock.advance(std::time::Duration::from_secs(61));
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/silences", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 0, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/silences",
        Some(json!({"rule": "5", "until": START_MS + 7_200_000})),
    )
    .await;
    let id = r.json()["id"].as_u64().unwrap();
    let r = call(
        &app,
        &s,
        Method::DELETE,
        &format!("/api/v1/alerts/silences/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::DELETE,
        &format!("/api/v1/alerts/silences/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let actions: Vec<String> = app
        .audit(&s, "action=alert_silence")
        .await
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions.iter().filter(|a| a.ends_with(" ok")).count(),
        3,
        "{actions:?}"
    );
    assert_eq!(actions.len(), 8, "{actions:?}");
}

#[tokio::test]
async fn read_tokens_may_list_but_not_change_rules() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(
            Req::post("/api/v1/tokens")
                .bearer(&s.token)
                .json(&json!({"name": "ro", "scopes": ["read"], "expires_in_days": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let r = app
        .send(Req::get("/api/v1/alerts/rules").bearer(&token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .send(
            Req::post("/api/v1/alerts/rules")
                .bearer(&token)
                .json(&cpu_rule()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.send(Req::get("/api/v1/alerts/rules")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn the_rule_and_silence_pages_render_and_save_in_both_languages() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let page = app.send(Req::get("/alerts/rules").cookie(&s.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_html();
    for needle in [
        "<h1>Alert rules <span class=\"count\">4</span></h1>",
        "disk nearly full",
        r#"href="/alerts/rules/new""#,
        r#"id="tab-silences""#,
        "Disk use per mount (%)",
    ] {
        assert!(
            page.body.contains(needle),
            "missing {needle:?} in\n{}",
            page.body
        );
    }
    let form = app
        .send(Req::get("/alerts/rules/new").cookie(&s.token))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    form.assert_html();
    assert!(
        form.body
            .contains(r#"<script src="/static/alerts.js" defer></script>"#)
    );
    // A bad number is shown next to its field, the form kept.
    let bad = [
        ("csrf", s.csrf.as_str()),
        ("name", "load"),
        ("metric", "load1"),
        ("scope", "all"),
        ("op", ">"),
        ("threshold", "lots"),
        ("for_s", "30"),
        ("severity", "info"),
        ("enabled", "on"),
    ];
    let r = app
        .send(Req::post("/alerts/rules/new").cookie(&s.token).form(&bad))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains(r#"data-error-field="threshold""#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            r#"<span class="field-error" data-for="threshold">threshold: Enter a number.</span>"#
        ),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"value="load""#));
    // The service's own check (recovery above an upper threshold) also lands by its field.
    let mut fields = bad.to_vec();
    fields[5] = ("threshold", "4");
    fields.push(("recover_threshold", "5"));
    let r = app
        .send(
            Req::post("/alerts/rules/new")
                .cookie(&s.token)
                .form(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains(r#"data-error-field="recover_threshold""#),
        "{}",
        r.body
    );
    fields.pop();
    let r = app
        .send(
            Req::post("/alerts/rules/new")
                .cookie(&s.token)
                .form(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let rule = app
        .send(Req::get("/api/v1/alerts/rules/5").bearer(&s.token))
        .await
        .json();
    assert_eq!(
        (
            rule["metric"].clone(),
            rule["threshold"].clone(),
            rule["severity"].clone()
        ),
        (json!("load1"), json!(4.0), json!("info"))
    );
    let edit = app.send(Req::get("/alerts/rules/5").cookie(&s.token)).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Edit alert rule load"), "{}", edit.body);
    let r = app
        .send(
            Req::post("/alerts/rules/5/delete")
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let r = app
        .send(Req::post("/alerts/silences").cookie(&s.token).form(&[
            ("csrf", s.csrf.as_str()),
            ("rule", "node_offline"),
            ("node", ""),
            ("minutes", "30"),
            ("comment", "maintenance"),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let silences = app
        .send(Req::get("/alerts/silences").cookie(&s.token))
        .await;
    silences.assert_html();
    assert!(silences.body.contains("maintenance") && silences.body.contains("every slave"));

    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for (path, needles) in [
        (
            "/alerts/rules",
            vec!["告警规则", "新建规则", "各挂载点磁盘使用率（%）"],
        ),
        (
            "/alerts/rules/new",
            vec!["新建告警规则", "恢复阈值", "创建规则"],
        ),
        (
            "/alerts/silences",
            vec!["静默", "所有节点", "静默时长（分钟）"],
        ),
        (
            "/alerts?state=firing&severity=critical&node=2&rule=x",
            vec!["任意", "应用", "触发中", "严重"],
        ),
    ] {
        let page = app.send(Req::get(path).cookie(&s.token)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        page.assert_html();
        for needle in needles {
            assert!(page.body.contains(needle), "{path}: missing {needle:?}");
        }
    }
}
