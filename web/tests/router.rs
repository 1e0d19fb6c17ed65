//! The console's router against fake services, without the master: the route table's
//! access rules, and handlers that parse, call one service and render what it answers.
//! The rules themselves (lockout, audit per operation, ...) are the master's and are
//! tested there and in `cmd/tests/it/console`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use model::account::{
    AuthFailure, Authenticated, Credential, Issued, Lang, Rejected, SessionRecord, UserRecord,
};
use model::alert::{AlertList, AlertQuery, AlertRecord};
use model::audit::{AuditEntry, AuditPage, AuditQuery};
use model::data::{BackupFile, CompactReport, CompactionStatus, DataEnv, ResetCategory};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::{BoxFuture, Caller, OpCall, OpFailure, OpRequest, TaskHandle, Upload};
use model::project::ProjectInput;
use model::project::api::{
    CreatedProject, ProjectEvent, ProjectFailure, ProjectPatch, ProjectView, RevisionView,
};
use model::project::gateway::{GatewayListing, StandaloneGatewayInput, StandaloneGatewayPatch};
use model::service::{
    Accounts, AuditLog, Cluster, ContainerCreated, CreateContainer, DataAdmin, Followed,
    Operations, Projects,
};
use model::task::{TaskQuery, TaskRecord};
use model::token::{ApiToken, CreatedApiToken, NewApiToken, Scope, TokenFailure};
use model::{ManualClock, ServiceError, Services, StoreFailure};
use protocol::{MetricSample, ResponseBody};
use tokio::sync::broadcast;
use tower::ServiceExt;
use web::Access;

/// The session token the fake accounts accept.
const TOKEN: &str = "good.token.value";
/// API tokens the fake accounts accept, one per scope (their shape does not matter here:
/// the fake decides).
const READ_TOKEN: &str = "cmdr_fake_read";
const OPERATE_TOKEN: &str = "cmdr_fake_operate";
const ADMIN_TOKEN: &str = "cmdr_fake_admin";
/// The secret the fake's token creation answers.
const NEW_SECRET: &str = "cmdr_0123456789abcdef_secret";

/// Fake services: one node, operations that answer with a fixed failure and remember what
/// they were asked, accounts that know one session token and three API tokens, an audit
/// log that keeps what it is given.
struct Fakes {
    asked: Mutex<Vec<OpRequest>>,
    answer: OpFailure,
    audited: Mutex<Vec<AuditEntry>>,
    created: Mutex<Vec<NewApiToken>>,
}

fn user() -> UserRecord {
    UserRecord {
        username: "admin".into(),
        password_hash: String::new(),
        created_at_ms: 1,
        password_changed_at_ms: 1,
        session_epoch: 1,
        lang: Lang::En,
    }
}

fn admin() -> Authenticated {
    Authenticated::session(
        user(),
        SessionRecord {
            id: "s".repeat(32),
            username: "admin".into(),
            epoch: 1,
            created_at_ms: 1,
            expires_at_ms: u64::MAX,
            csrf: "c".repeat(64),
            client: "192.0.2.1".into(),
        },
    )
}

fn api_token(scope: Scope) -> ApiToken {
    ApiToken {
        id: format!("{:016x}", scope as u64 + 1),
        name: format!("{scope}-bot"),
        scopes: vec![scope],
        creator: "admin".into(),
        created_at_ms: 1,
        expires_at_ms: None,
        last_used_at_ms: None,
    }
}

fn by_token(scope: Scope) -> Authenticated {
    Authenticated {
        user: user(),
        credential: Credential::ApiToken(api_token(scope)),
    }
}

fn node() -> NodeView {
    NodeView {
        id: 1,
        hostname: "fake-host-alpha".into(),
        online: true,
        revoked: false,
        last_seen_ms: Some(1_700_000_000_000),
        agent_version: "t".into(),
        host: None,
        metrics: None,
    }
}

fn pending<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(async move { v })
}

impl Cluster for Fakes {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        pending(Ok(vec![node()]))
    }
    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        pending(Ok((id == 1).then(node)))
    }
    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>> {
        pending(Ok(StorageView::default()))
    }
    fn sample_series(
        &self,
        _id: u64,
        _from: u64,
        _to: u64,
        _points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>> {
        pending(Ok(Vec::new()))
    }
    fn metric_history(
        &self,
        _id: u64,
        _from: u64,
        _to: u64,
        _points: usize,
    ) -> BoxFuture<'_, Result<model::history::MetricHistory, ServiceError>> {
        pending(Ok(model::history::MetricHistory {
            tier: model::history::Tier::Raw,
            step_ms: 1,
            points: Vec::new(),
        }))
    }
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        None
    }
    fn alerts(&self, _q: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        pending(Ok(AlertList::default()))
    }
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        None
    }

    fn master_counters(&self) -> model::node::MasterCounters {
        model::node::MasterCounters::default()
    }
}

impl Operations for Fakes {
    fn call(&self, request: OpRequest) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        self.asked.lock().unwrap().push(request);
        pending(Err(self.answer.clone()))
    }
    fn read(&self, _call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        pending(Err(self.answer.clone()))
    }
    fn follow(
        &self,
        _request: OpRequest,
        _early: Duration,
    ) -> BoxFuture<'_, Result<Followed, OpFailure>> {
        pending(Err(self.answer.clone()))
    }
    fn start_task(
        &self,
        _request: OpRequest,
        _upload: Option<Upload>,
    ) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        pending(Err(self.answer.clone()))
    }
    fn create_container(
        &self,
        _create: CreateContainer,
    ) -> BoxFuture<'_, Result<ContainerCreated, OpFailure>> {
        pending(Err(self.answer.clone()))
    }
    fn refused(
        &self,
        _caller: &Caller,
        _action: &str,
        _target: &str,
        _failure: &OpFailure,
    ) -> BoxFuture<'_, ()> {
        pending(())
    }
    fn task(&self, _id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        pending(Ok(None))
    }
    fn tasks(&self, _q: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        pending(Ok(Vec::new()))
    }
    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        None
    }
}

fn busy<T: Send + 'static>() -> BoxFuture<'static, Result<T, ServiceError>> {
    pending(Err(ServiceError::Conflict("busy".into())))
}

impl DataAdmin for Fakes {
    fn compact(&self, _c: &Caller) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        busy()
    }
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        pending(Ok(CompactionStatus::default()))
    }
    fn cancel_compaction(&self, _c: &Caller) -> BoxFuture<'_, Result<bool, ServiceError>> {
        busy()
    }
    fn backup(
        &self,
        _c: &Caller,
        _env: DataEnv,
    ) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        busy()
    }
    fn reset(
        &self,
        _c: &Caller,
        _cat: ResetCategory,
        _days: u32,
    ) -> BoxFuture<'_, Result<u64, ServiceError>> {
        busy()
    }
}

impl Accounts for Fakes {
    fn registration_open(&self) -> BoxFuture<'_, Result<bool, StoreFailure>> {
        pending(Ok(false))
    }
    fn register<'a>(
        &'a self,
        _u: &'a str,
        _p: &'a str,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<UserRecord, AuthFailure>> {
        pending(Err(AuthFailure::RegistrationClosed))
    }
    fn login<'a>(
        &'a self,
        _u: &'a str,
        _p: &'a str,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>> {
        pending(Err(AuthFailure::BadCredentials))
    }
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Authenticated, Rejected>> {
        pending(match token {
            TOKEN => Ok(admin()),
            READ_TOKEN => Ok(by_token(Scope::Read)),
            OPERATE_TOKEN => Ok(by_token(Scope::Operate)),
            ADMIN_TOKEN => Ok(by_token(Scope::Admin)),
            _ => Err(Rejected::Invalid),
        })
    }
    fn session_valid<'a>(
        &'a self,
        _a: &'a Authenticated,
    ) -> BoxFuture<'a, Result<bool, StoreFailure>> {
        pending(Ok(true))
    }
    fn logout<'a>(&'a self, _a: &'a Authenticated, _c: IpAddr) -> BoxFuture<'a, ()> {
        pending(())
    }
    fn change_password<'a>(
        &'a self,
        _a: &'a Authenticated,
        _cur: &'a str,
        _new: &'a str,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>> {
        pending(Err(AuthFailure::WrongCurrentPassword))
    }
    fn set_language<'a>(
        &'a self,
        _a: &'a Authenticated,
        _l: Lang,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        pending(Ok(()))
    }
    fn session_ttl(&self) -> Duration {
        Duration::from_secs(3600)
    }
    fn create_api_token<'a>(
        &'a self,
        _a: &'a Authenticated,
        new: NewApiToken,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<CreatedApiToken, TokenFailure>> {
        let mut token = api_token(Scope::Read);
        token.id = "0123456789abcdef".into();
        token.name = new.name.clone();
        token.scopes = new.normalized_scopes();
        self.created.lock().unwrap().push(new);
        pending(Ok(CreatedApiToken {
            token,
            secret: NEW_SECRET.into(),
        }))
    }
    fn api_tokens<'a>(
        &'a self,
        _a: &'a Authenticated,
    ) -> BoxFuture<'a, Result<Vec<ApiToken>, TokenFailure>> {
        pending(Ok(vec![api_token(Scope::Admin), api_token(Scope::Read)]))
    }
    fn revoke_api_token<'a>(
        &'a self,
        _a: &'a Authenticated,
        id: &'a str,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<ApiToken, TokenFailure>> {
        pending(Err(TokenFailure::NotFound(id.to_owned())))
    }
}

impl AuditLog for Fakes {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        self.audited.lock().unwrap().push(entry);
        pending(())
    }
    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, StoreFailure>> {
        pending(Ok(AuditPage::default()))
    }
    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

/// Projects the fake knows none of.
struct NoProjects;

fn no_project<T: Send + 'static>(name: &str) -> BoxFuture<'static, Result<T, ProjectFailure>> {
    pending(Err(ProjectFailure::NotFound(format!(
        "no project {name:?}"
    ))))
}

impl Projects for NoProjects {
    fn create<'a>(
        &'a self,
        _c: &'a Caller,
        input: ProjectInput,
    ) -> BoxFuture<'a, Result<CreatedProject, ProjectFailure>> {
        pending(Err(ProjectFailure::Conflict(format!(
            "{} exists",
            input.name
        ))))
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ProjectView>, ProjectFailure>> {
        pending(Ok(Vec::new()))
    }
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn revisions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RevisionView>, ProjectFailure>> {
        no_project(name)
    }
    fn update<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        _p: ProjectPatch,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn scale<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        _r: u32,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn rollback<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        _r: Option<u64>,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn pause<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn resume<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn promote<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn delete<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        no_project(name)
    }
    fn webhook<'a>(
        &'a self,
        _client: &'a str,
        name: &'a str,
        _s: Option<&'a str>,
        _b: &'a [u8],
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        no_project(name)
    }
    fn events<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProjectEvent>, ProjectFailure>> {
        no_project(name)
    }
    fn live_events(&self) -> Option<broadcast::Receiver<(String, ProjectEvent)>> {
        None
    }
    fn gateways(&self) -> BoxFuture<'_, Result<Vec<GatewayListing>, ProjectFailure>> {
        pending(Ok(Vec::new()))
    }
    fn create_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        input: StandaloneGatewayInput,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        pending(Err(ProjectFailure::Conflict(format!(
            "{} exists",
            input.name
        ))))
    }
    fn update_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        _p: StandaloneGatewayPatch,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        no_project(name)
    }
    fn delete_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        no_project(name)
    }
}

fn app(answer: OpFailure) -> (axum::Router, Vec<web::RouteInfo>, Arc<Fakes>) {
    let fakes = Arc::new(Fakes {
        asked: Mutex::new(Vec::new()),
        answer,
        audited: Mutex::new(Vec::new()),
        created: Mutex::new(Vec::new()),
    });
    let services = Services {
        cluster: fakes.clone(),
        ops: fakes.clone(),
        data: fakes.clone(),
        accounts: fakes.clone(),
        audit: fakes.clone(),
        projects: Arc::new(NoProjects),
        channels: Arc::new(model::channel::NoChannels),
        alerting: Arc::new(model::alert_rule::NoAlertRules),
        clock: Arc::new(ManualClock::new(1_700_000_000_000)),
    };
    let (router, routes) = web::router_with_table(services, web::ConsoleSettings::default());
    (router, routes, fakes)
}

async fn send(
    router: &axum::Router,
    method: Method,
    path: &str,
    bearer: Option<&str>,
) -> (StatusCode, String) {
    send_json(router, method, path, bearer, "{}").await
}

async fn send_json(
    router: &axum::Router,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let mut req = builder
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A concrete path for a route pattern (`{node}` → 1, other parameters → x).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| match part {
            "{node}" => "1",
            p if p.starts_with('{') => "x",
            p => p,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn protected_routes_refuse_missing_and_forged_credentials() {
    let (router, routes, fakes) = app(OpFailure::Offline(1));
    let user_routes: Vec<_> = routes
        .iter()
        .filter(|r| r.access != Access::Public)
        .collect();
    assert!(user_routes.len() > 50, "{}", user_routes.len());
    for route in user_routes {
        let path = concrete(&route.path);
        for bearer in [None, Some("forged.token.x")] {
            let (status, body) = send(&router, route.method.clone(), &path, bearer).await;
            let api = path.starts_with("/api/");
            if api {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {path}: {body}",
                    route.method
                );
            } else {
                assert!(
                    status == StatusCode::SEE_OTHER || status == StatusCode::UNAUTHORIZED,
                    "{} {path}: {status}",
                    route.method
                );
            }
        }
    }
    assert!(
        fakes.asked.lock().unwrap().is_empty(),
        "nothing reached a service"
    );
}

#[tokio::test]
async fn handlers_render_what_the_cluster_service_answers() {
    let (router, _, _) = app(OpFailure::Offline(1));
    let (status, body) = send(&router, Method::GET, "/api/v1/nodes", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let nodes: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(nodes[0]["hostname"], "fake-host-alpha");
    let (status, body) = send(&router, Method::GET, "/slaves", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("fake-host-alpha"));
    let (status, _) = send(&router, Method::GET, "/api/v1/nodes/9", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_operation_is_one_service_call_with_caller_and_target_and_its_failure_mapped() {
    let (router, _, fakes) = app(OpFailure::Offline(1));
    let path = "/api/v1/nodes/1/docker/containers/web/stop";
    let (status, body) = send(&router, Method::POST, path, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("offline"), "{body}");
    let asked = fakes.asked.lock().unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].caller.user, "admin");
    assert_eq!(asked[0].caller.client, "192.0.2.1");
    assert_eq!(asked[0].target, "node/1/container/web");
    assert_eq!(asked[0].call.node, 1);
    assert_eq!(asked[0].call.body.name(), "docker.stop_container");
}

#[tokio::test]
async fn project_routes_map_the_service_answers() {
    let (router, _, _) = app(OpFailure::Offline(1));
    let (status, body) = send(&router, Method::GET, "/api/v1/projects", Some(TOKEN)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
    let (status, body) = send(&router, Method::GET, "/api/v1/projects/web", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains(r#""error""#), "{body}");
    // Without a live feed, the timeline cannot stream: 503.
    let req = Request::builder()
        .uri("/api/v1/projects/web/events")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo("192.0.2.1:5000".parse::<SocketAddr>().unwrap()));
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn data_conflicts_answer_409() {
    let (router, _, _) = app(OpFailure::Offline(1));
    let (status, body) = send(&router, Method::POST, "/api/v1/data/compact", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn every_route_says_what_an_api_token_needs() {
    let (_, routes, _) = app(OpFailure::Offline(1));
    let scope_of = |method: Method, path: &str| {
        routes
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("no route {method} {path}"))
            .token_scope
    };
    assert_eq!(scope_of(Method::GET, "/api/v1/nodes"), Some(Scope::Read));
    let stop = "/api/v1/nodes/{node}/docker/containers/{id}/stop";
    assert_eq!(scope_of(Method::POST, stop), Some(Scope::Operate));
    assert_eq!(
        scope_of(Method::POST, "/api/v1/data/compact"),
        Some(Scope::Admin)
    );
    assert_eq!(scope_of(Method::GET, "/api/v1/tokens"), Some(Scope::Admin));
    assert_eq!(scope_of(Method::POST, "/api/v1/tokens"), Some(Scope::Admin));
    assert_eq!(
        scope_of(Method::DELETE, "/api/v1/tokens/{id}"),
        Some(Scope::Admin)
    );
    assert_eq!(scope_of(Method::POST, "/api/v1/auth/password"), None);
    assert_eq!(scope_of(Method::POST, "/api/v1/auth/logout"), None);
    assert_eq!(
        scope_of(Method::GET, "/tokens"),
        None,
        "pages take no token"
    );
    for r in routes
        .iter()
        .filter(|r| r.path.starts_with("/api/") && r.access == Access::User)
    {
        if r.method == Method::GET
            && !r.path.starts_with("/api/v1/data")
            && !r.path.starts_with("/api/v1/tokens")
        {
            assert_eq!(r.token_scope, Some(Scope::Read), "{} {}", r.method, r.path);
        }
        if r.method != Method::GET {
            assert_ne!(r.token_scope, Some(Scope::Read), "{} {}", r.method, r.path);
        }
    }
    // The OpenAPI document says it too.
    let doc = web::openapi::document_value();
    let text = doc["paths"]["/api/v1/tokens"]["post"]["description"]
        .as_str()
        .unwrap();
    assert!(text.contains("`admin` scope"), "{text}");
}

#[tokio::test]
async fn api_tokens_are_held_to_their_scope_and_named_in_the_audit_log() {
    let (router, _, fakes) = app(OpFailure::Offline(1));
    // Read: GETs only.
    let (status, body) = send(&router, Method::GET, "/api/v1/nodes", Some(READ_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stop = "/api/v1/nodes/1/docker/containers/web/stop";
    let (status, body) = send(&router, Method::POST, stop, Some(READ_TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = error["error"].as_str().unwrap();
    assert!(
        text.contains("read scope") && text.contains("operate scope"),
        "{text}"
    );
    assert!(
        fakes.asked.lock().unwrap().is_empty(),
        "refused before the service"
    );
    {
        let audited = fakes.audited.lock().unwrap();
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert_eq!(audited[0].action, "http.scope");
        assert_eq!(audited[0].user, "admin");
        assert_eq!(audited[0].via, "token:0000000000000001 (read-bot)");
        assert_eq!(audited[0].target, format!("POST {stop}"));
    }

    // Operate: operations reach the service, attributed to the token.
    let (status, body) = send(&router, Method::POST, stop, Some(OPERATE_TOKEN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    {
        let asked = fakes.asked.lock().unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].caller.user, "admin");
        assert_eq!(asked[0].caller.via, "token:0000000000000002 (operate-bot)");
    }
    // ... but not data management, tokens or account steps.
    for (method, path) in [
        (Method::POST, "/api/v1/data/compact"),
        (Method::GET, "/api/v1/data/backup?env=data"),
        (Method::GET, "/api/v1/tokens"),
        (Method::POST, "/api/v1/tokens"),
        (Method::DELETE, "/api/v1/tokens/0123456789abcdef"),
    ] {
        let (status, body) = send(&router, method.clone(), path, Some(OPERATE_TOKEN)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert!(body.contains("admin scope"), "{body}");
    }
    // Admin: data management too.
    let (status, body) = send(
        &router,
        Method::POST,
        "/api/v1/data/compact",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // No token acts on the person's account.
    for path in ["/api/v1/auth/logout", "/api/v1/auth/password"] {
        let (status, body) = send(&router, Method::POST, path, Some(ADMIN_TOKEN)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("console session"), "{body}");
    }
    // On a page a token is no credential.
    let (status, _) = send(&router, Method::GET, "/slaves", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A session still may do everything.
    let (status, _) = send(&router, Method::GET, "/api/v1/tokens", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn token_routes_answer_201_with_the_secret_once_and_list_without_it() {
    let (router, _, fakes) = app(OpFailure::Offline(1));
    let body = r#"{"name": "ci", "scopes": ["read", "operate"], "expires_in_days": 30}"#;
    let (status, reply) = send_json(
        &router,
        Method::POST,
        "/api/v1/tokens",
        Some(ADMIN_TOKEN),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let created: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(created["token"], NEW_SECRET);
    assert_eq!(created["id"], "0123456789abcdef");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["scopes"], serde_json::json!(["read", "operate"]));
    assert!(created["created_at"].is_string(), "{created}");
    assert!(created.get("expires_at").is_some(), "{created}");
    assert_eq!(
        fakes.created.lock().unwrap()[0].expires_in_days,
        Some(30),
        "the master is asked for 30 days"
    );
    // null: never expires; missing: refused.
    let never = r#"{"name": "n", "scopes": ["admin"], "expires_in_days": null}"#;
    let (status, _) = send_json(&router, Method::POST, "/api/v1/tokens", Some(TOKEN), never).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(fakes.created.lock().unwrap()[1].expires_in_days, None);
    for (bad, field) in [
        (r#"{"name": "n", "scopes": ["read"]}"#, "expires_in_days"),
        (
            r#"{"name": "", "scopes": ["read"], "expires_in_days": 1}"#,
            "name",
        ),
        (
            r#"{"name": "n", "scopes": [], "expires_in_days": 1}"#,
            "scope",
        ),
        (
            r#"{"name": "n", "scopes": ["root"], "expires_in_days": 1}"#,
            "scope",
        ),
        (
            r#"{"name": "n", "scopes": ["read"], "expires_in_days": 0}"#,
            "expires_in_days",
        ),
        (
            r#"{"name": "n", "scopes": ["read"], "expires_in_days": 3651}"#,
            "expires_in_days",
        ),
    ] {
        let (status, reply) =
            send_json(&router, Method::POST, "/api/v1/tokens", Some(TOKEN), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {reply}");
        assert!(reply.contains(field), "{bad}: {reply}");
    }
    assert_eq!(
        fakes.created.lock().unwrap().len(),
        2,
        "nothing bad reached the master"
    );

    let (status, reply) = send(&router, Method::GET, "/api/v1/tokens", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let list: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let first = list[0].as_object().unwrap();
    for key in [
        "id",
        "name",
        "scopes",
        "creator",
        "created_at",
        "expires_at",
        "last_used_at",
    ] {
        assert!(first.contains_key(key), "{key} in {reply}");
    }
    assert!(
        !first.contains_key("token") && !first.contains_key("secret_hash"),
        "{reply}"
    );
    assert!(!reply.contains("cmdr_"), "{reply}");

    let (status, reply) = send(
        &router,
        Method::DELETE,
        "/api/v1/tokens/ffffffffffffffff",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
}
