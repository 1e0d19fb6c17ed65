//! The host-operation and Docker pages (`web::manage`): every page renders its frame for a
//! known node without a live slave, unknown nodes are an HTML 404, hostile node and
//! container names are escaped, pages need a session, the scripts are files, the labels
//! follow the user's language, and the slave detail and Docker overview link to them.

use crate::console::common::*;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

const PAGES: [&str; 10] = [
    "/slaves/3/processes",
    "/slaves/3/ports",
    "/slaves/3/env",
    "/slaves/3/hosts",
    "/docker/3",
    "/docker/3/images",
    "/docker/3/networks",
    "/docker/3/volumes",
    "/docker/3/containers/web-1",
    "/records/tasks",
];

const HOSTILE: &str = "<script>alert(1)</script>";

/// Only `<script src="/static/...">` tags, no inline code or styles.
fn assert_scripts_are_files(body: &str) {
    for (i, _) in body.match_indices("<script") {
        let tag = &body[i..i + body[i..].find('>').unwrap()];
        assert!(tag.starts_with(r#"<script src="/static/"#), "{tag}");
    }
    assert!(!body.contains("style="));
    assert!(!body.contains("<style"));
}

#[tokio::test]
async fn every_page_renders_its_frame_for_a_known_node() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![full_node(3, "alpha", now_ms())])).await;
    for path in PAGES {
        let page = app.send(Req::get(path).cookie(&s.token)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        page.assert_html();
        page.assert_security_headers();
        let body = &page.body;
        assert_scripts_are_files(body);
        assert!(
            body.contains(r#"<script src="/static/ops-common.js" defer></script>"#),
            "{path}"
        );
        assert!(body.contains(r#"id="ops" data-page=""#), "{path}");
        assert!(body.contains("data-labels=\"{&#34;"), "{path}");
        assert!(body.contains(r#"<div id="ops-alert""#), "{path}");
        if path != "/records/tasks" {
            assert!(body.contains(r#"data-node="3""#), "{path}");
            assert!(body.contains("alpha"), "{path}");
            assert!(
                body.contains(r#"<a href="/slaves/3/processes""#),
                "{path}: sub-navigation"
            );
        }
    }
    let docker = app.send(Req::get("/docker/3").cookie(&s.token)).await.body;
    for needle in [
        r#"<form id="deploy-form""#,
        r#"<input type="checkbox" id="containers-all" checked>"#,
        r#"<script src="/static/docker.js" defer></script>"#,
        r#"<a href="/docker/3" class="current" aria-current="page">Containers</a>"#,
        r#"<option value="unless-stopped">"#,
    ] {
        assert!(docker.contains(needle), "missing {needle:?} in\n{docker}");
    }
    let one = app
        .send(Req::get("/docker/3/containers/web-1").cookie(&s.token))
        .await
        .body;
    for needle in [
        r#"data-target="web-1""#,
        r#"<code id="container-name">web-1</code>"#,
        r#"<script src="/static/vendor/chart.min.js" defer></script>"#,
        r#"<script src="/static/container.js" defer></script>"#,
        r#"<button type="button" data-action="remove" class="danger">Remove</button>"#,
        r#"<pre class="logs" id="logs-output""#,
    ] {
        assert!(one.contains(needle), "missing {needle:?} in\n{one}");
    }
    // The container script is loaded before docker.js, which starts it.
    assert!(one.find("container.js").unwrap() < one.find("docker.js").unwrap());
    let procs = app
        .send(Req::get("/slaves/3/processes").cookie(&s.token))
        .await
        .body;
    assert!(procs.contains(r#"<script src="/static/host.js" defer></script>"#));
    assert!(procs.contains(r#"<form id="process-filter""#));
}

#[tokio::test]
async fn unknown_or_malformed_nodes_and_bad_container_names_are_html_404s() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    for path in [
        "/slaves/2/processes",
        "/slaves/abc/env",
        "/docker/-1",
        "/docker/9/images",
        "/docker/2/containers/x",
    ] {
        let page = app.send(Req::get(path).cookie(&s.token)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        page.assert_html();
        assert!(
            page.body.contains("There is no slave with this id."),
            "{path}"
        );
    }
    let long = format!("/docker/1/containers/{}", "a".repeat(300));
    let page = app.send(Req::get(&long).cookie(&s.token)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("This is not a container name or id."));
    let control = app
        .send(Req::get("/docker/1/containers/a%0Ab").cookie(&s.token))
        .await;
    assert_eq!(control.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hostile_node_and_container_names_show_as_text() {
    let node = full_node(1, HOSTILE, now_ms());
    let (app, s) = TestApp::ready(Fake::Nodes(vec![node])).await;
    let encoded = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [
        "/slaves/1/processes".to_owned(),
        "/docker/1".to_owned(),
        format!("/docker/1/containers/{encoded}"),
    ] {
        let page = app.send(Req::get(&path).cookie(&s.token)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains(HOSTILE), "{path} echoes raw markup");
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {}",
            page.body
        );
        assert_scripts_are_files(&page.body);
    }
    let page = app
        .send(Req::get(&format!("/docker/1/containers/{encoded}")).cookie(&s.token))
        .await;
    assert!(
        page.body
            .contains(r#"data-target="&#60;script&#62;alert(1)&#60;/script&#62;""#),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn pages_need_a_session() {
    let (app, _s) = TestApp::ready(Fake::Nodes(vec![bare_node(3)])).await;
    for path in PAGES {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), "/login", "{path}");
    }
}

#[tokio::test]
async fn pages_speak_the_users_language() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![full_node(3, "alpha", now_ms())])).await;
    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let page = app.send(Req::get("/docker/3").cookie(&s.token)).await;
    assert!(page.body.contains(r#"<html lang="zh-CN">"#));
    assert!(page.body.contains("部署容器"), "{}", page.body);
    assert!(page.body.contains("&#34;a_remove&#34;:&#34;删除&#34;"));
    let tasks = app.send(Req::get("/records/tasks").cookie(&s.token)).await;
    assert!(tasks.body.contains("<h1>任务</h1>"), "{}", tasks.body);
}

#[tokio::test]
async fn detail_docker_and_records_pages_link_to_the_operation_pages() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![full_node(3, "alpha", now_ms())])).await;
    let detail = app.send(Req::get("/slaves/3").cookie(&s.token)).await.body;
    for href in [
        "/slaves/3/processes",
        "/slaves/3/ports",
        "/slaves/3/env",
        "/slaves/3/hosts",
        "/docker/3",
    ] {
        assert!(
            detail.contains(&format!(r#"<a href="{href}">"#)),
            "{href} in\n{detail}"
        );
    }
    let docker = app.send(Req::get("/docker").cookie(&s.token)).await.body;
    assert!(docker.contains(r#"<a class="hostname" href="/docker/3">alpha</a>"#));
    let records = app.send(Req::get("/records").cookie(&s.token)).await.body;
    assert!(records.contains(r#"href="/records/tasks""#));
}

#[tokio::test]
async fn page_scripts_are_served_as_javascript() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    for (path, kind) in [
        ("/static/ops-common.js", "text/javascript"),
        ("/static/docker.js", "text/javascript"),
        ("/static/container.js", "text/javascript"),
        ("/static/host.js", "text/javascript"),
        ("/static/ops.css", "text/css"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header(header::CONTENT_TYPE).starts_with(kind), "{path}");
        assert!(
            !r.body.contains(".innerHTML"),
            "{path} must not use innerHTML"
        );
    }
}
