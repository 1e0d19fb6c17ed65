//! The project and gateway pages through the router, against an in-memory projects
//! service that validates like the master (the model's rules) and keeps revisions,
//! events and standalone gateways ([`fakes`]): every page renders in English and Chinese,
//! forms read every field and show the master's refusal naming the field with the input
//! kept, actions redirect with a notice, destructive ones ask first.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod fakes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use fakes::{Base, EN, MemoryProjects, SECRET, ZH};
use http_body_util::BodyExt;
use model::{ManualClock, Services};
use tower::ServiceExt;

fn app() -> (axum::Router, Arc<MemoryProjects>) {
    let base = Arc::new(Base);
    let projects = Arc::new(MemoryProjects::default());
    let services = Services {
        cluster: base.clone(),
        ops: base.clone(),
        data: base.clone(),
        accounts: base.clone(),
        audit: base,
        projects: projects.clone(),
        channels: Arc::new(model::channel::NoChannels),
        alerting: Arc::new(model::alert_rule::NoAlertRules),
        clock: Arc::new(ManualClock::new(1_700_000_000_000)),
    };
    (
        web::router(services, web::ConsoleSettings::default()),
        projects,
    )
}

/// An answer: status, `Location` header, body.
struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

async fn call(
    router: &axum::Router,
    method: Method,
    path: &str,
    token: &str,
    form: &str,
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(router: &axum::Router, path: &str, token: &str) -> Answer {
    call(router, Method::GET, path, token, "").await
}

async fn post(router: &axum::Router, path: &str, token: &str, form: &str) -> Answer {
    call(router, Method::POST, path, token, form).await
}

/// The create form of project `web`: 2 replicas of busybox behind a gateway on node 1.
const WEB_FORM: &str = "name=web&image=busybox%3Av1&replicas=2&container_port=80\
&env=GREETING%3Dhi%0D%0AMODE%3Dprod&cmd=httpd%0D%0A-f&volumes=&memory_mib=64&cpus=0.5\
&labels=team%3Dcore&registry_server=&registry_user=ci&registry_password=hunter2-secret\
&probe=http&health_path=%2F&health_status=200&interval_s=2&timeout_s=1\
&healthy_threshold=1&unhealthy_threshold=3&start_period_s=0&strategy=rolling&max_surge=1\
&max_unavailable=0&canaries=1&promotion=auto&healthy_period_s=30&deadline_s=60\
&auto_rollback=on&gateway=on&gateway_node=1&gateway_port=18080&algorithm=least_conn\
&allow=&deny=&max_conns_per_ip=&conn_rate_per_ip=";

async fn with_web() -> (axum::Router, Arc<MemoryProjects>) {
    let (router, projects) = app();
    let created = post(&router, "/projects/new", EN, WEB_FORM).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (router, projects)
}

#[tokio::test]
async fn creating_through_the_form_shows_the_project_and_its_webhook_secret_once() {
    let (router, projects) = app();
    let created = post(&router, "/projects/new", EN, WEB_FORM).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let page = &created.body;
    assert!(page.contains("Project web"), "{page}");
    assert!(
        page.contains(SECRET),
        "the secret is shown right after creation"
    );
    assert!(page.contains("shown this once"), "with its warning");
    assert!(
        page.contains("data-copy=\"secret-value\""),
        "and a copy button"
    );
    assert!(
        page.contains("/api/v1/projects/web/webhook"),
        "the webhook is explained"
    );
    assert!(page.contains("X-Commander-Signature"));
    assert!(
        !page.contains("hunter2-secret"),
        "the registry password is never shown"
    );
    // Every field reached the service.
    let spec = projects.projects.lock().unwrap()["web"].spec().clone();
    assert_eq!(spec.env, vec!["GREETING=hi", "MODE=prod"]);
    assert_eq!(spec.cmd, vec!["httpd", "-f"]);
    assert_eq!(spec.resources.memory_bytes, Some(64 * 1024 * 1024));
    assert_eq!(spec.resources.nano_cpus, Some(500_000_000));
    assert_eq!(spec.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(
        spec.registry_auth.as_ref().map(|a| a.username.as_str()),
        Some("ci")
    );
    assert_eq!(spec.health.interval_s, 2);
    let gateway = spec.gateway.clone().unwrap();
    assert_eq!((gateway.node, gateway.port), (1, 18080));
    // The secret is not on the page afterwards.
    let again = get(&router, "/projects/web", EN).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(!again.body.contains(SECRET));
}

#[tokio::test]
async fn the_project_pages_render_in_english_and_chinese() {
    let (router, _) = with_web().await;
    let list = get(&router, "/projects", EN).await;
    assert_eq!(list.status, StatusCode::OK);
    for text in [
        "Projects",
        "busybox:v1",
        "data-status=\"ready\"",
        "2 / 2",
        "alpha-host:18080",
        "href=\"/projects/new\"",
    ] {
        assert!(list.body.contains(text), "{text} in {}", list.body);
    }
    let list = get(&router, "/projects", ZH).await;
    for text in ["项目", "就绪", "新建项目", "健康 / 期望"] {
        assert!(list.body.contains(text), "{text} in {}", list.body);
    }
    let detail = get(&router, "/projects/web", EN).await;
    for text in [
        "Replicas",
        "alpha-host",
        "href=\"/slaves/1\"",
        "/docker/1/containers/c0ffee000123456789abcdef#logs",
        "/docker/1/containers/c0ffee000123456789abcdef#container-stats",
        "32000",
        "2 of 2 replicas healthy on revision 1",
        "Timeline",
        "data-kind=\"scheduled\"",
        "data-events=\"/api/v1/projects/web/events\"",
        "href=\"/gateways/project%2Fweb\"",
        "Scale",
        "Delete project",
    ] {
        assert!(detail.body.contains(text), "{text} in {}", detail.body);
    }
    let detail = get(&router, "/projects/web", ZH).await;
    for text in [
        "副本",
        "事件时间线",
        "已调度",
        "健康",
        "扩缩容",
        "删除项目",
        "部署 Webhook",
        "运行中",
    ] {
        assert!(detail.body.contains(text), "{text} in {}", detail.body);
    }
    let home = get(&router, "/", EN).await;
    assert!(home.body.contains("id=\"card-projects\""), "{}", home.body);
    assert!(home.body.contains("Projects not ready"));
    let home = get(&router, "/", ZH).await;
    assert!(home.body.contains("未就绪的项目"), "{}", home.body);
    assert!(
        home.body.contains("href=\"/projects\""),
        "the menu has the projects"
    );
    let unknown = get(&router, "/projects/nope", ZH).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("未找到"), "{}", unknown.body);
}

#[tokio::test]
async fn a_refused_form_names_the_field_and_keeps_what_was_typed() {
    let (router, projects) = app();
    let bad_name = WEB_FORM.replace("name=web", "name=Web_App");
    let refused = post(&router, "/projects/new", EN, &bad_name).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("Not saved: name:"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Web_App\""),
        "the input is kept"
    );
    assert!(refused.body.contains("GREETING=hi"), "every input is kept");
    assert!(refused.body.contains("data-error-field=\"name\""));
    assert!(
        !refused.body.contains("hunter2-secret"),
        "but not the password"
    );
    let bad_number = WEB_FORM.replace("interval_s=2", "interval_s=often");
    let refused = post(&router, "/projects/new", ZH, &bad_number).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("health.interval_s: 必须是整数"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("data-error-field=\"interval_s\""));
    assert!(refused.body.contains("value=\"often\""));
    let bad_cidr = WEB_FORM.replace("allow=&", "allow=10.0.0.0%2F8%0D%0Anot-a-cidr&");
    let refused = post(&router, "/projects/new", EN, &bad_cidr).await;
    assert!(
        refused.body.contains("gateway.allow[1]"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("data-error-field=\"allow\""));
    assert!(
        projects.projects.lock().unwrap().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn editing_shows_the_current_spec_without_credentials_and_saves_a_new_revision() {
    let (router, projects) = with_web().await;
    let form = get(&router, "/projects/web/edit", EN).await;
    assert_eq!(form.status, StatusCode::OK);
    for text in [
        "Edit project web",
        "value=\"busybox:v1\"",
        "GREETING=hi\nMODE=prod",
        "value=\"64\"",
        "value=\"0.5\"",
        "value=\"18080\"",
    ] {
        assert!(form.body.contains(text), "{text} in {}", form.body);
    }
    assert!(!form.body.contains("hunter2-secret"));
    assert!(!form.body.contains("name=\"name\""), "the name is fixed");
    let v2 = WEB_FORM
        .replace("image=busybox%3Av1", "image=busybox%3Av2")
        .replace("registry_user=ci", "registry_user=")
        .replace("registry_password=hunter2-secret", "registry_password=");
    let saved = post(&router, "/projects/web/edit", EN, &v2).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location, "/projects/web?done=saved");
    {
        let all = projects.projects.lock().unwrap();
        let web = &all["web"];
        assert_eq!((web.target, web.spec().image.as_str()), (2, "busybox:v2"));
        assert!(
            web.spec().registry_auth.is_some(),
            "empty credentials keep the stored ones"
        );
    }
    let page = get(&router, &saved.location, ZH).await;
    assert!(page.body.contains("项目已保存。"), "{}", page.body);
    assert!(page.body.contains("id=\"revision-1\""));
    assert!(page.body.contains("回滚到此版本"));
    assert!(page.body.contains("更新中"), "the rollout shows");
    let bad = v2.replace("replicas=2", "replicas=2000");
    let refused = post(&router, "/projects/web/edit", EN, &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("replicas:"), "{}", refused.body);
    assert!(refused.body.contains("value=\"2000\""));
}

#[tokio::test]
async fn actions_redirect_with_a_notice_and_destructive_ones_ask_first() {
    let (router, projects) = with_web().await;
    let scaled = post(&router, "/projects/web/scale", EN, "replicas=4").await;
    assert_eq!(scaled.status, StatusCode::SEE_OTHER);
    assert_eq!(scaled.location, "/projects/web?done=scaled");
    let page = get(&router, &scaled.location, EN).await;
    assert!(page.body.contains("Replica count changed."));
    assert!(page.body.contains("4 of 4 replicas"), "{}", page.body);
    let refused = post(&router, "/projects/web/scale", EN, "replicas=many").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("replicas: must be a whole number"));

    // Nothing to pause: the master's reason, on the project page.
    let paused = post(&router, "/projects/web/pause", ZH, "").await;
    assert_eq!(paused.status, StatusCode::CONFLICT);
    assert!(
        paused.body.contains("冲突： no rollout to pause"),
        "{}",
        paused.body
    );
    let promoted = post(&router, "/projects/web/promote", EN, "").await;
    assert_eq!(promoted.status, StatusCode::CONFLICT);
    assert_eq!(
        *projects.asked.lock().unwrap(),
        vec!["pause web".to_owned(), "promote web".to_owned()]
    );

    // A new revision, then back to the first one: asked, then done.
    let v2 = WEB_FORM.replace("image=busybox%3Av1", "image=busybox%3Av2");
    post(&router, "/projects/web/edit", EN, &v2).await;
    let pause = post(&router, "/projects/web/pause", EN, "").await;
    assert_eq!(pause.location, "/projects/web?done=paused");
    let resume = post(&router, "/projects/web/resume", EN, "").await;
    assert_eq!(resume.location, "/projects/web?done=resumed");
    let ask = post(&router, "/projects/web/rollback", ZH, "revision=1").await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.body.contains("将项目 web 回滚到版本 1？"),
        "{}",
        ask.body
    );
    assert!(ask.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        projects.projects.lock().unwrap()["web"].target,
        2,
        "asking changes nothing"
    );
    let done = post(
        &router,
        "/projects/web/rollback",
        EN,
        "revision=1&confirm=yes",
    )
    .await;
    assert_eq!(done.location, "/projects/web?done=rolled_back");
    assert_eq!(projects.projects.lock().unwrap()["web"].target, 1);

    let ask = post(&router, "/projects/web/delete", EN, "").await;
    assert!(ask.body.contains("Delete project web?"), "{}", ask.body);
    assert!(projects.projects.lock().unwrap().contains_key("web"));
    let deleted = post(&router, "/projects/web/delete", EN, "confirm=yes").await;
    assert_eq!(deleted.location, "/projects?done=deleted");
    assert!(projects.projects.lock().unwrap().is_empty());
    let list = get(&router, &deleted.location, ZH).await;
    assert!(list.body.contains("项目已删除。"));
    assert!(list.body.contains("还没有项目。"));
}

#[tokio::test]
async fn gateway_pages_list_every_gateway_and_manage_standalone_ones() {
    let (router, projects) = with_web().await;
    let form = get(&router, "/gateways/new", ZH).await;
    assert!(form.body.contains("新建网关"));
    assert!(
        form.body.contains("#2 beta-host (离线)"),
        "offline nodes are marked: {}",
        form.body
    );
    let taken = post(
        &router,
        "/gateways/new",
        EN,
        "name=edge&node=1&port=18080&upstreams=10.0.0.5%3A80&algorithm=hash",
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(taken.body.contains("port 18080 is already used"));
    assert!(taken.body.contains("10.0.0.5:80"), "the input is kept");
    let bad = post(
        &router,
        "/gateways/new",
        EN,
        "name=edge&node=1&port=18081&upstreams=10.0.0.5%3A80%0D%0Anowhere",
    )
    .await;
    assert!(bad.body.contains("upstreams[1]"), "{}", bad.body);
    assert!(bad.body.contains("data-error-field=\"upstreams\""));
    let created = post(
        &router,
        "/gateways/new",
        EN,
        "name=edge&node=1&port=18081&upstreams=10.0.0.5%3A80&algorithm=hash&max_conns_per_ip=10",
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location, "/gateways/edge?done=gateway_created");

    let list = get(&router, "/gateways", EN).await;
    for text in [
        "project/web",
        "edge",
        "standalone",
        "serving",
        "3 / 1234",
        "3.0 MiB",
        "not reported yet",
        "href=\"/gateways/project%2Fweb\"",
    ] {
        assert!(list.body.contains(text), "{text} in {}", list.body);
    }
    let list = get(&router, "/gateways", ZH).await;
    for text in ["网关", "独立", "服务中", "尚未上报"] {
        assert!(list.body.contains(text), "{text} in {}", list.body);
    }
    let owned = get(&router, "/gateways/project%2Fweb", EN).await;
    assert_eq!(owned.status, StatusCode::OK, "{}", owned.body);
    assert!(owned.body.contains("belongs to project web"));
    assert!(owned.body.contains("192.0.2.10:32000"));
    assert!(
        !owned.body.contains("id=\"delete-gateway\""),
        "a project's gateway is not deleted here"
    );
    let refused = post(&router, "/gateways/project%2Fweb/delete", EN, "confirm=yes").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    let edit = get(&router, "/gateways/edge/edit", EN).await;
    assert!(edit.body.contains("value=\"10\""), "{}", edit.body);
    let saved = post(
        &router,
        "/gateways/edge/edit",
        EN,
        "node=1&port=18082&upstreams=10.0.0.6%3A80&algorithm=round_robin&max_conns_per_ip=",
    )
    .await;
    assert_eq!(saved.location, "/gateways/edge?done=gateway_saved");
    {
        let all = projects.gateways.lock().unwrap();
        assert_eq!(
            (all["edge"].port, all["edge"].max_conns_per_ip),
            (18082, None)
        );
    }
    let page = get(&router, &saved.location, ZH).await;
    assert!(page.body.contains("网关已保存。"));
    assert!(page.body.contains("10.0.0.6:80"));
    let ask = post(&router, "/gateways/edge/delete", EN, "").await;
    assert!(ask.body.contains("Delete gateway edge?"), "{}", ask.body);
    let deleted = post(&router, "/gateways/edge/delete", EN, "confirm=yes").await;
    assert_eq!(deleted.location, "/gateways?done=gateway_deleted");
    assert!(projects.gateways.lock().unwrap().is_empty());
    let gone = get(&router, "/gateways/edge", EN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
