//! The project and gateway pages through the router, against an in-memory projects
//! service that validates like the master (the model's rules) and keeps revisions,
//! events and standalone gateways: every page renders in English and Chinese, forms read
//! every field and show the master's refusal naming the field with the input kept,
//! actions redirect with a notice, destructive ones ask first.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use model::account::{
    AuthFailure, Authenticated, Issued, Lang, Rejected, SessionRecord, UserRecord,
};
use model::alert::{AlertList, AlertQuery, AlertRecord};
use model::audit::{AuditEntry, AuditPage, AuditQuery};
use model::data::{BackupFile, CompactReport, CompactionStatus, DataEnv, ResetCategory};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::{BoxFuture, Caller, OpCall, OpFailure, OpRequest, TaskHandle, Upload};
use model::project::api::{
    CreatedProject, GatewayStats, GatewayView, ProjectEvent, ProjectEventKind, ProjectFailure,
    ProjectPatch, ProjectView, ReplicaView, RevisionView, UpstreamStats,
};
use model::project::gateway::{
    GatewayKind, GatewayListing, StandaloneGateway, StandaloneGatewayInput, StandaloneGatewayPatch,
};
use model::project::{ProjectInput, ProjectSpec, ProjectStatus, needs_new_revision};
use model::service::{
    Accounts, AuditLog, Cluster, ContainerCreated, CreateContainer, DataAdmin, Followed,
    Operations, Projects,
};
use model::task::{TaskQuery, TaskRecord};
use model::token::{ApiToken, CreatedApiToken, NewApiToken, TokenFailure};
use model::{ManualClock, ServiceError, Services, StoreFailure};
use protocol::{MetricSample, ResponseBody};
use tokio::sync::broadcast;
use tower::ServiceExt;

/// Session tokens of an English and a Chinese user.
const EN: &str = "english.session.token";
const ZH: &str = "chinese.session.token";
/// The webhook secret the fake answers.
const SECRET: &str = "whsec_0123456789abcdef";

fn pending<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(async move { v })
}

/// Everything but projects: two nodes, two users, nothing else.
struct Base;

fn node(id: u64, name: &str, online: bool) -> NodeView {
    NodeView {
        id,
        hostname: name.into(),
        online,
        revoked: false,
        last_seen_ms: Some(1_700_000_000_000),
        agent_version: "t".into(),
        host: None,
        metrics: None,
    }
}

fn session(lang: Lang) -> Authenticated {
    Authenticated::session(
        UserRecord {
            username: "admin".into(),
            password_hash: String::new(),
            created_at_ms: 1,
            password_changed_at_ms: 1,
            session_epoch: 1,
            lang,
        },
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

impl Cluster for Base {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        pending(Ok(vec![
            node(1, "alpha-host", true),
            node(2, "beta-host", false),
        ]))
    }
    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        pending(Ok((id == 1).then(|| node(1, "alpha-host", true))))
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
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        None
    }
    fn alerts(&self, _q: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        pending(Ok(AlertList::default()))
    }
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        None
    }
}

impl Operations for Base {
    fn call(&self, _r: OpRequest) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        pending(Err(OpFailure::Offline(1)))
    }
    fn read(&self, _call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        pending(Err(OpFailure::Offline(1)))
    }
    fn follow(&self, _r: OpRequest, _e: Duration) -> BoxFuture<'_, Result<Followed, OpFailure>> {
        pending(Err(OpFailure::Offline(1)))
    }
    fn start_task(
        &self,
        _r: OpRequest,
        _u: Option<Upload>,
    ) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        pending(Err(OpFailure::Offline(1)))
    }
    fn create_container(
        &self,
        _c: CreateContainer,
    ) -> BoxFuture<'_, Result<ContainerCreated, OpFailure>> {
        pending(Err(OpFailure::Offline(1)))
    }
    fn refused(&self, _c: &Caller, _a: &str, _t: &str, _f: &OpFailure) -> BoxFuture<'_, ()> {
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

impl DataAdmin for Base {
    fn compact(&self, _c: &Caller) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        busy()
    }
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        pending(Ok(CompactionStatus::default()))
    }
    fn cancel_compaction(&self, _c: &Caller) -> BoxFuture<'_, Result<bool, ServiceError>> {
        busy()
    }
    fn backup(&self, _c: &Caller, _e: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
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

impl Accounts for Base {
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
            EN => Ok(session(Lang::En)),
            ZH => Ok(session(Lang::ZhCn)),
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
        _n: NewApiToken,
        _c: IpAddr,
    ) -> BoxFuture<'a, Result<CreatedApiToken, TokenFailure>> {
        pending(Err(TokenFailure::TooMany))
    }
    fn api_tokens<'a>(
        &'a self,
        _a: &'a Authenticated,
    ) -> BoxFuture<'a, Result<Vec<ApiToken>, TokenFailure>> {
        pending(Ok(Vec::new()))
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

impl AuditLog for Base {
    fn record(&self, _e: AuditEntry) -> BoxFuture<'_, ()> {
        pending(())
    }
    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, StoreFailure>> {
        pending(Ok(AuditPage::default()))
    }
    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

/// One stored project.
struct Stored {
    revisions: Vec<(u64, ProjectSpec)>,
    target: u64,
    status: ProjectStatus,
    events: Vec<ProjectEvent>,
}

impl Stored {
    fn spec(&self) -> &ProjectSpec {
        &self
            .revisions
            .iter()
            .find(|(r, _)| *r == self.target)
            .unwrap()
            .1
    }

    fn event(&mut self, kind: ProjectEventKind, node: Option<u64>, message: &str) {
        self.events.push(ProjectEvent {
            at_ms: 1_700_000_000_000 + self.events.len() as u64 * 1000,
            kind,
            revision: Some(self.target),
            node,
            replica: None,
            message: message.into(),
        });
    }

    /// As shown: every replica on node 1, healthy on the target revision.
    fn view(&self) -> ProjectView {
        let spec = self.spec();
        ProjectView {
            name: spec.name.clone(),
            image: spec.image.clone(),
            revision: self.target,
            replicas_desired: spec.replicas,
            status: self.status,
            replicas: (0..spec.replicas)
                .map(|i| ReplicaView {
                    node: 1,
                    container: format!("c0ffee{i:02}0123456789abcdef"),
                    host_port: Some(32_000 + u16::try_from(i).unwrap()),
                    state: "running".into(),
                    healthy: true,
                    revision: self.target,
                })
                .collect(),
            gateway: spec.gateway.as_ref().map(|g| GatewayView {
                node: g.node,
                port: g.port,
                upstreams: vec!["192.0.2.10:32000".into()],
            }),
            failure: None,
        }
    }
}

/// Projects and standalone gateways in memory, validated by the model's rules.
#[derive(Default)]
struct MemoryProjects {
    projects: Mutex<BTreeMap<String, Stored>>,
    gateways: Mutex<BTreeMap<String, StandaloneGateway>>,
    /// Rollout commands asked, `pause web`.
    asked: Mutex<Vec<String>>,
}

fn missing(name: &str) -> ProjectFailure {
    ProjectFailure::NotFound(format!("no project {name:?}"))
}

impl MemoryProjects {
    fn with<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Stored) -> Result<T, ProjectFailure>,
    ) -> Result<T, ProjectFailure> {
        let mut all = self.projects.lock().unwrap();
        let stored = all.get_mut(name).ok_or_else(|| missing(name))?;
        f(stored)
    }

    fn port_taken(&self, node: u64, port: u16, except: &str) -> bool {
        let projects = self.projects.lock().unwrap();
        let by_project = projects.values().any(|s| {
            s.spec()
                .gateway
                .as_ref()
                .is_some_and(|g| g.node == node && g.port == port)
        });
        let standalone = self
            .gateways
            .lock()
            .unwrap()
            .values()
            .any(|g| g.name != except && g.node == node && g.port == port);
        by_project || standalone
    }
}

impl Projects for MemoryProjects {
    fn create<'a>(
        &'a self,
        _c: &'a Caller,
        input: ProjectInput,
    ) -> BoxFuture<'a, Result<CreatedProject, ProjectFailure>> {
        let outcome = input
            .validate()
            .map_err(ProjectFailure::from)
            .and_then(|spec| {
                let mut all = self.projects.lock().unwrap();
                if all.contains_key(&spec.name) {
                    return Err(ProjectFailure::Conflict(format!("{} exists", spec.name)));
                }
                let mut stored = Stored {
                    revisions: vec![(1, spec.clone())],
                    target: 1,
                    status: ProjectStatus::Ready,
                    events: Vec::new(),
                };
                stored.event(ProjectEventKind::Created, None, "created");
                stored.event(ProjectEventKind::Scheduled, Some(1), "placed");
                stored.event(ProjectEventKind::Healthy, Some(1), "passes its check");
                let project = stored.view();
                all.insert(spec.name.clone(), stored);
                Ok(CreatedProject {
                    project,
                    webhook_secret: SECRET.into(),
                })
            });
        pending(outcome)
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<ProjectView>, ProjectFailure>> {
        let all = self.projects.lock().unwrap();
        pending(Ok(all.values().map(Stored::view).collect()))
    }
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        pending(self.with(name, |s| Ok(s.view())))
    }
    fn revisions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RevisionView>, ProjectFailure>> {
        pending(self.with(name, |s| {
            Ok(s.revisions
                .iter()
                .map(|(r, spec)| RevisionView {
                    revision: *r,
                    current: *r == s.target,
                    spec: spec.to_input(),
                })
                .collect())
        }))
    }
    fn update<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        patch: ProjectPatch,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        pending(self.with(name, |s| {
            let new = s.spec().patched(&patch)?;
            if needs_new_revision(s.spec(), &new) {
                let next = s.revisions.iter().map(|(r, _)| *r).max().unwrap_or(0) + 1;
                s.revisions.push((next, new));
                s.target = next;
                s.status = ProjectStatus::Updating;
                s.event(ProjectEventKind::Updated, None, "new image");
            } else {
                let target = s.target;
                let slot = s.revisions.iter_mut().find(|(r, _)| *r == target).unwrap();
                slot.1 = new;
            }
            Ok(s.view())
        }))
    }
    fn scale<'a>(
        &'a self,
        c: &'a Caller,
        name: &'a str,
        replicas: u32,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        let patch = ProjectPatch {
            replicas: Some(replicas),
            ..ProjectPatch::default()
        };
        self.update(c, name, patch)
    }
    fn rollback<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        revision: Option<u64>,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        pending(self.with(name, |s| {
            let to = revision.unwrap_or(s.target.saturating_sub(1));
            if to == s.target || !s.revisions.iter().any(|(r, _)| *r == to) {
                return Err(ProjectFailure::NotFound(format!(
                    "no revision {to} to return to"
                )));
            }
            s.target = to;
            s.status = ProjectStatus::RollingBack;
            s.event(ProjectEventKind::RollingBack, None, "by an operator");
            Ok(s.view())
        }))
    }
    fn pause<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        self.asked.lock().unwrap().push(format!("pause {name}"));
        pending(self.with(name, |s| match s.status {
            ProjectStatus::Updating => {
                s.status = ProjectStatus::Paused;
                Ok(s.view())
            }
            _ => Err(ProjectFailure::Conflict("no rollout to pause".into())),
        }))
    }
    fn resume<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        self.asked.lock().unwrap().push(format!("resume {name}"));
        pending(self.with(name, |s| match s.status {
            ProjectStatus::Paused => {
                s.status = ProjectStatus::Updating;
                Ok(s.view())
            }
            _ => Err(ProjectFailure::Conflict("no paused rollout".into())),
        }))
    }
    fn promote<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        self.asked.lock().unwrap().push(format!("promote {name}"));
        pending(self.with(name, |_| {
            Err(ProjectFailure::Conflict(
                "no canary waits for promotion".into(),
            ))
        }))
    }
    fn delete<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        let removed = self.projects.lock().unwrap().remove(name);
        pending(removed.map(|_| ()).ok_or_else(|| missing(name)))
    }
    fn webhook<'a>(
        &'a self,
        _client: &'a str,
        name: &'a str,
        _s: Option<&'a str>,
        _b: &'a [u8],
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>> {
        pending(Err(missing(name)))
    }
    fn events<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProjectEvent>, ProjectFailure>> {
        pending(self.with(name, |s| Ok(s.events.clone())))
    }
    fn live_events(&self) -> Option<broadcast::Receiver<(String, ProjectEvent)>> {
        None
    }
    fn gateways(&self) -> BoxFuture<'_, Result<Vec<GatewayListing>, ProjectFailure>> {
        let mut out: Vec<GatewayListing> = Vec::new();
        for stored in self.projects.lock().unwrap().values() {
            let spec = stored.spec();
            if let Some(g) = &spec.gateway {
                out.push(GatewayListing {
                    name: format!("project/{}", spec.name),
                    kind: GatewayKind::Project,
                    project: Some(spec.name.clone()),
                    node: g.node,
                    port: g.port,
                    algorithm: g.algorithm,
                    upstreams: vec!["192.0.2.10:32000".into()],
                    allow: Vec::new(),
                    deny: Vec::new(),
                    max_conns_per_ip: None,
                    conn_rate_per_ip: None,
                    stats: Some(GatewayStats {
                        serving: true,
                        message: String::new(),
                        active_conns: 3,
                        total_conns: 1234,
                        refused_conns: 7,
                        bytes_in: 2048,
                        bytes_out: 3 * 1024 * 1024,
                        upstreams: vec![UpstreamStats {
                            addr: "192.0.2.10:32000".into(),
                            healthy: true,
                            active_conns: 3,
                            total_conns: 1234,
                        }],
                        reported_ms: 1_700_000_000_000,
                    }),
                });
            }
        }
        for g in self.gateways.lock().unwrap().values() {
            out.push(GatewayListing::standalone(g, None));
        }
        pending(Ok(out))
    }
    fn create_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        input: StandaloneGatewayInput,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        let outcome = input
            .validate()
            .map_err(ProjectFailure::from)
            .and_then(|g| {
                if self.port_taken(g.node, g.port, &g.name) {
                    return Err(ProjectFailure::Conflict(format!(
                        "port {} is already used on node {}",
                        g.port, g.node
                    )));
                }
                self.gateways
                    .lock()
                    .unwrap()
                    .insert(g.name.clone(), g.clone());
                Ok(GatewayListing::standalone(&g, None))
            });
        pending(outcome)
    }
    fn update_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
        patch: StandaloneGatewayPatch,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>> {
        let current = self.gateways.lock().unwrap().get(name).cloned();
        let outcome = current.ok_or_else(|| missing(name)).and_then(|g| {
            let new = g.patched(&patch)?;
            self.gateways
                .lock()
                .unwrap()
                .insert(name.to_owned(), new.clone());
            Ok(GatewayListing::standalone(&new, None))
        });
        pending(outcome)
    }
    fn delete_gateway<'a>(
        &'a self,
        _c: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>> {
        let removed = self.gateways.lock().unwrap().remove(name);
        pending(removed.map(|_| ()).ok_or_else(|| missing(name)))
    }
}

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
