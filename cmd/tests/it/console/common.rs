//! Shared harness of the web crate's HTTP tests: a fake backend, an app with an in-memory
//! account store and a manual clock, and a small request builder.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use master::accounts::{AccountService, AccountSettings, HashCost, LockoutPolicy, MemoryAuthStore};
use master::alerts::notify::Notifier;
use master::alerts::service::{AlertHub, AlertingService};
use master::projects::events::ProjectEvents;
use master::projects::gateways::GatewayService;
use master::projects::service::{NodeDirectory, ObservedProjects, ProjectService};
use master::projects::service_traits::ProjectsApi;
use master::services::{DataFiles, DataService, NodeDispatch, OperationsService};
use model::ServiceError;
use model::alert::{AlertList, AlertQuery, AlertRecord};
use model::clock::ManualClock;
use model::data::{
    BackupFile, CompactReport, CompactedEnv, CompactionStatus, DataEnv, EnvCompacted,
    LastCompaction, ScheduledCompaction,
};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::BoxFuture;
use model::project::api::{GatewayStats, ReplicaView};
use model::service::{AuditLog, Cluster};
use protocol::{HostInfo, MetricSample};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tower::ServiceExt;
use web::RouteInfo;

/// What a test's fake master answers for: the cluster and the database files.
pub trait Backend: Cluster + DataFiles {}

impl<T: Cluster + DataFiles> Backend for T {}

/// The manual clock's start: 2024-02-29T12:34:56Z.
pub const START_MS: u64 = 1_709_210_096_000;
/// The test administrator.
pub const USER: &str = "admin";
/// Their password (satisfies the strength rule).
pub const PASSWORD: &str = "Correct horse 9";
/// Session lifetime of the test app.
pub const TTL: Duration = Duration::from_secs(3600);
/// Default client address of requests.
pub const CLIENT: &str = "192.0.2.10:40000";

/// What the fake backend answers.
#[derive(Clone)]
pub enum Fake {
    Nodes(Vec<NodeView>),
    /// Nodes, and a live feed the test sends samples into.
    Live(Vec<NodeView>, broadcast::Sender<LiveSample>),
    /// Nodes, but every data operation is refused as busy.
    Busy(Vec<NodeView>),
    NotFound(&'static str),
    Internal(&'static str),
}

/// What the fake's data operations did, for assertions.
pub static RESETS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

/// The bytes of the fake's backups.
pub const BACKUP_BYTES: &[u8] = b"fake LMDB copy";

impl Fake {
    fn ok(&self) -> Result<&Vec<NodeView>, ServiceError> {
        match self {
            Self::Nodes(nodes) | Self::Live(nodes, _) | Self::Busy(nodes) => Ok(nodes),
            Self::NotFound(what) => Err(ServiceError::NotFound((*what).to_owned())),
            Self::Internal(what) => Err(ServiceError::Internal((*what).to_owned())),
        }
    }

    fn data_op(&self) -> Result<(), ServiceError> {
        self.ok()?;
        match self {
            Self::Busy(_) => Err(ServiceError::Conflict("busy".into())),
            _ => Ok(()),
        }
    }
}

/// The counters [`Fake`] reports for `GET /metrics`.
pub const FAKE_COUNTERS: model::node::MasterCounters = model::node::MasterCounters {
    connections_accepted: 7,
    connections_open: 2,
    sessions: 5,
    connections_rejected: 1,
    bad_frames: 0,
    bytes_received: 123_456,
    heartbeats: 4_321,
    samples_written: 4_300,
    samples_dropped: 21,
};

impl Cluster for Fake {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        let nodes = self.ok().cloned();
        Box::pin(async move { nodes })
    }

    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        let node = self
            .ok()
            .map(|nodes| nodes.iter().find(|n| n.id == id).cloned());
        Box::pin(async move { node })
    }

    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>> {
        let sizes = self.ok().map(|_| StorageView {
            data_bytes: 3 << 20,
            performance_bytes: 5 << 30,
        });
        Box::pin(async move { sizes })
    }

    /// Three samples a second apart from `from_ms + 1000`, for known nodes.
    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        _to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>> {
        let series = self.ok().map(|nodes| {
            let known = nodes.iter().any(|n| n.id == id);
            let count = if known { points.min(3) as u64 } else { 0 };
            (1..=count)
                .map(|i| (from_ms + i * 1000, metrics()))
                .collect()
        });
        Box::pin(async move { series })
    }

    /// Raw points of up to three samples a second apart from `from_ms + 1000`, for known
    /// nodes (the master's tier choice is tested over a real cluster in `history.rs`).
    fn metric_history(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<model::history::MetricHistory, ServiceError>> {
        let history = self.ok().map(|nodes| {
            let known = nodes.iter().any(|n| n.id == id);
            let count = if known { points.min(3) as u64 } else { 0 };
            let values = master::store::rollup::Values::of(&metrics());
            model::history::MetricHistory {
                tier: model::history::Tier::Raw,
                step_ms: (to_ms - from_ms + 1).div_ceil(points as u64),
                points: (1..=count)
                    .map(|i| values.point(from_ms + i * 1000))
                    .collect(),
            }
        });
        Box::pin(async move { history })
    }

    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        match self {
            Self::Live(_, tx) => Some(tx.subscribe()),
            // A feed that is already over: streams end at once.
            _ => Some(broadcast::channel(1).1),
        }
    }

    fn alerts(&self, _query: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        Box::pin(async { Ok(AlertList::default()) })
    }

    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        // A feed that is already over: streams send the active alerts and end.
        Some(broadcast::channel(1).1)
    }

    fn master_counters(&self) -> model::node::MasterCounters {
        FAKE_COUNTERS
    }
}

impl DataFiles for Fake {
    fn compact(&self) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        let report = self.data_op().map(|()| CompactReport {
            envs: vec![CompactedEnv {
                env: DataEnv::Data,
                live_bytes: 3 << 20,
                compacted_bytes: 1 << 20,
                took_ms: 12,
            }],
            scheduled: true,
        });
        Box::pin(async move { report })
    }

    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        let status = self.ok().map(|_| CompactionStatus {
            scheduled: Some(ScheduledCompaction {
                requested_at_ms: START_MS,
            }),
            last: Some(LastCompaction {
                finished_at_ms: START_MS - 86_400_000,
                envs: vec![EnvCompacted {
                    env: "performance".into(),
                    before_bytes: 8 << 20,
                    after_bytes: 2 << 20,
                    took_ms: 1500,
                }],
                error: None,
            }),
        });
        Box::pin(async move { status })
    }

    fn cancel_compaction(&self) -> BoxFuture<'_, Result<bool, ServiceError>> {
        let done = self.data_op().map(|()| true);
        Box::pin(async move { done })
    }

    fn backup(&self, _env: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        let copy = self.data_op().map(|()| {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, BACKUP_BYTES).unwrap();
            std::io::Seek::rewind(&mut file).unwrap();
            BackupFile {
                file,
                len: BACKUP_BYTES.len() as u64,
            }
        });
        Box::pin(async move { copy })
    }

    fn reset_samples(&self, older_than_ms: u64) -> BoxFuture<'_, Result<u64, ServiceError>> {
        let done = self.data_op().map(|()| {
            RESETS.lock().unwrap().push(older_than_ms);
            42
        });
        Box::pin(async move { done })
    }
}

/// The security settings of a test app: the master's account settings and the console's
/// HTTP settings, in one place for tests to tweak.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: Vec<u8>,
    pub session_ttl: Duration,
    pub secure_cookies: bool,
    pub lockout: LockoutPolicy,
    pub trusted_proxies: Vec<IpAddr>,
    pub hash_cost: HashCost,
}

/// The settings of the test app.
pub fn settings() -> AuthSettings {
    AuthSettings {
        jwt_secret: b"test secret, 32 bytes or longer!".to_vec(),
        session_ttl: TTL,
        secure_cookies: false,
        lockout: LockoutPolicy {
            max_failures: 5,
            window: Duration::from_secs(600),
            lock_for: Duration::from_secs(900),
        },
        trusted_proxies: Vec::new(),
        hash_cost: HashCost::FAST_FOR_TESTS,
    }
}

/// A router over a fake backend, an in-memory store and a manual clock.
pub struct TestApp {
    pub router: Router,
    pub routes: Vec<RouteInfo>,
    pub store: Arc<MemoryAuthStore>,
    pub clock: Arc<ManualClock>,
    pub accounts: Arc<AccountService>,
    /// The master's projects service (over a memory store, nodes [`PROJECT_NODES`]).
    pub projects: Arc<ProjectService>,
    /// What the projects' observer reports.
    pub observed: Arc<TestObserved>,
    /// The master's notification channels (over a memory store, real HTTP and SMTP).
    pub channels: Arc<master::alerts::channels::ChannelService>,
    /// The master's alert rules service (over a memory store and its own cluster).
    pub alerting: Arc<AlertingService>,
}

/// The nodes a project's or gateway's `node` may name in the test app.
pub const PROJECT_NODES: [u64; 3] = [1, 2, 3];

/// Nodes [`PROJECT_NODES`] are enrolled.
struct TestNodes;

impl NodeDirectory for TestNodes {
    fn is_enrolled(&self, id: u64) -> bool {
        PROJECT_NODES.contains(&id)
    }
}

/// An observer the test sets: each gateway's stats by name (nothing else observed).
#[derive(Default)]
pub struct TestObserved {
    pub stats: std::sync::Mutex<std::collections::HashMap<String, GatewayStats>>,
}

impl ObservedProjects for TestObserved {
    fn replicas(&self, _project: &str) -> Vec<ReplicaView> {
        Vec::new()
    }

    fn upstreams(&self, _project: &str) -> Vec<String> {
        Vec::new()
    }

    fn gateway_stats(&self, name: &str) -> Option<GatewayStats> {
        self.stats.lock().unwrap().get(name).cloned()
    }
}

/// The master's projects and gateway services over a memory store, as the console calls
/// them.
pub fn projects_over(
    audit: Arc<dyn AuditLog>,
    clock: Arc<ManualClock>,
    observed: Arc<TestObserved>,
) -> (Arc<ProjectService>, Arc<dyn model::service::Projects>) {
    let projects = Arc::new(ProjectService::new(
        Arc::new(master::store::MemoryStore::new()),
        Arc::clone(&audit),
        clock,
        Arc::new(TestNodes),
        observed,
        Arc::new(ProjectEvents::new()),
    ));
    let gateways = Arc::new(GatewayService::new(Arc::clone(&projects), audit));
    let api = Arc::new(ProjectsApi::new(Arc::clone(&projects), gateways));
    (projects, api)
}

/// The master's alert rules service over a fresh memory store (with a cluster of its own
/// for the alert ids and the active alerts), notifying `notifier`.
pub fn alerting_over(
    audit: Arc<dyn AuditLog>,
    clock: Arc<ManualClock>,
    notifier: Arc<dyn Notifier>,
) -> Arc<AlertingService> {
    let store: Arc<dyn master::store::Store> = Arc::new(master::store::MemoryStore::new());
    let timing = master::cluster::ClusterTiming {
        heartbeat_interval: Duration::from_secs(1),
        ttl: Duration::from_secs(10),
        grace: Duration::from_secs(5),
        jitter: Duration::ZERO,
        history: master::store::history::HistoryPolicy::default(),
    };
    let cluster =
        master::cluster::Cluster::open(Arc::clone(&store), timing, clock.clone()).unwrap();
    let hub = AlertHub::new(&cluster, notifier, 15_000);
    Arc::new(AlertingService::open(store, audit, clock, hub).unwrap())
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf: String,
}

impl TestApp {
    pub fn new(fake: Fake) -> Self {
        Self::with(fake, |_| {})
    }

    pub fn with(fake: Fake, tweak: impl FnOnce(&mut AuthSettings)) -> Self {
        Self::over_with(fake, tweak)
    }

    /// An app over any backend (a test's own fake).
    pub fn over<B: Backend>(backend: B) -> Self {
        Self::over_with(backend, |_| {})
    }

    /// [`Self::over`] with the administrator registered and signed in.
    pub async fn ready_over<B: Backend>(backend: B) -> (Self, Session) {
        let app = Self::over(backend);
        app.register().await;
        let session = app.login().await;
        (app, session)
    }

    fn over_with<B: Backend>(backend: B, tweak: impl FnOnce(&mut AuthSettings)) -> Self {
        Self::wired(
            backend,
            Arc::new(crate::console::ops_fake::FakeOps::unused()),
            tweak,
        )
    }

    /// An app over `backend` whose node operations go to `nodes`: the master's real
    /// account, operations and data services over these fakes.
    pub fn wired<B: Backend>(
        backend: B,
        nodes: Arc<dyn NodeDispatch>,
        tweak: impl FnOnce(&mut AuthSettings),
    ) -> Self {
        let store = Arc::new(MemoryAuthStore::new());
        let clock = Arc::new(ManualClock::new(START_MS));
        let mut settings = settings();
        tweak(&mut settings);
        let account_settings = AccountSettings {
            jwt_secret: settings.jwt_secret.clone(),
            session_ttl: settings.session_ttl,
            lockout: settings.lockout,
            hash_cost: settings.hash_cost,
        };
        let accounts = Arc::new(AccountService::new(
            store.clone(),
            account_settings,
            clock.clone(),
        ));
        let audit: Arc<dyn AuditLog> = accounts.clone();
        let service = Arc::clone(&accounts);
        let backend = Arc::new(backend);
        let observed = Arc::new(TestObserved::default());
        let (projects, projects_api) =
            projects_over(Arc::clone(&audit), clock.clone(), observed.clone());
        let channels = master::alerts::channels::ChannelService::start(
            Arc::new(master::store::MemoryStore::new()),
            Arc::clone(&audit),
            clock.clone(),
        );
        let alerting = alerting_over(Arc::clone(&audit), clock.clone(), channels.clone());
        let services = model::Services {
            cluster: backend.clone(),
            ops: Arc::new(OperationsService::new(nodes, Arc::clone(&audit))),
            data: Arc::new(DataService::new(
                backend,
                store.clone(),
                Arc::clone(&audit),
                clock.clone(),
            )),
            accounts,
            audit,
            projects: projects_api,
            channels: channels.clone(),
            alerting: alerting.clone(),
            clock: clock.clone(),
        };
        let console = web::ConsoleSettings {
            secure_cookies: settings.secure_cookies,
            trusted_proxies: settings.trusted_proxies,
        };
        let (router, routes) = web::router_with_table(services, console);
        Self {
            router,
            routes,
            store,
            clock,
            accounts: service,
            projects,
            observed,
            channels,
            alerting,
        }
    }

    /// An app with the administrator registered and signed in.
    pub async fn ready(fake: Fake) -> (Self, Session) {
        let app = Self::new(fake);
        app.register().await;
        let session = app.login().await;
        (app, session)
    }

    pub async fn send(&self, req: Req) -> Reply {
        let resp = self.router.clone().oneshot(req.build()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Req::get(path)).await
    }

    pub async fn register(&self) {
        let r = self
            .send(Req::post("/api/v1/auth/register").json(&credentials(USER, PASSWORD)))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    /// Logs in over the JSON API and reads the session's CSRF token from a page.
    pub async fn login(&self) -> Session {
        self.login_as(USER, PASSWORD).await
    }

    pub async fn login_as(&self, user: &str, password: &str) -> Session {
        let r = self
            .send(Req::post("/api/v1/auth/login").json(&credentials(user, password)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let token = r.json()["token"].as_str().unwrap().to_owned();
        let page = self.send(Req::get("/account").cookie(&token)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        Session {
            csrf: page.csrf(),
            token,
        }
    }

    /// The audit log as the API returns it, with a query string.
    pub async fn audit(&self, session: &Session, query: &str) -> Vec<Value> {
        let r = self
            .send(Req::get(&format!("/api/v1/audit?{query}")).bearer(&session.token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["entries"].as_array().unwrap().clone()
    }
}

/// `method path` with the session's bearer token and, when given, a JSON body.
pub async fn call(
    app: &TestApp,
    s: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let req = Req::new(method, path).bearer(&s.token);
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    app.send(req).await
}

pub fn credentials(user: &str, password: &str) -> Value {
    serde_json::json!({ "username": user, "password": password })
}

/// A request under construction.
pub struct Req {
    builder: axum::http::request::Builder,
    body: Body,
    from: SocketAddr,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
            from: CLIENT.parse().unwrap(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn cookie(self, token: &str) -> Self {
        self.header("cookie", &format!("commander_session={token}"))
    }

    pub fn json(mut self, value: &Value) -> Self {
        self.builder = self.builder.header("content-type", "application/json");
        self.body = Body::from(value.to_string());
        self
    }

    /// A body sent as is, with its content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.builder = self.builder.header("content-type", content_type);
        self.body = body.into();
        self
    }

    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.builder = self
            .builder
            .header("content-type", "application/x-www-form-urlencoded");
        self.body = Body::from(serde_urlencoded::to_string(fields).unwrap());
        self
    }

    /// The TCP peer address the request comes from.
    pub fn from(mut self, addr: &str) -> Self {
        self.from = addr.parse().unwrap();
        self
    }

    pub fn build(self) -> Request<Body> {
        let mut req = self.builder.body(self.body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.from));
        req
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        assert!(
            self.header(header::CONTENT_TYPE)
                .starts_with("application/json"),
            "content type {:?}, body {}",
            self.header(header::CONTENT_TYPE),
            self.body
        );
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn assert_html(&self) {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
    }

    pub fn assert_security_headers(&self) {
        assert_eq!(
            self.header(header::CONTENT_SECURITY_POLICY),
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
        );
        assert_eq!(self.header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(self.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(self.header(header::REFERRER_POLICY), "no-referrer");
    }

    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.header(header::LOCATION)
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    /// The page's CSRF token (`<meta name="csrf-token">`).
    pub fn csrf(&self) -> String {
        self.attr_after(r#"<meta name="csrf-token" content=""#)
    }

    /// The login form's CSRF token (`<input type="hidden" name="csrf">`).
    pub fn form_csrf(&self) -> String {
        self.attr_after(r#"<input type="hidden" name="csrf" value=""#)
    }

    fn attr_after(&self, marker: &str) -> String {
        let start = self.body.find(marker).unwrap_or_else(|| {
            panic!("no {marker:?} in\n{}", self.body);
        }) + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

pub fn host(hostname: &str) -> HostInfo {
    HostInfo {
        hostname: hostname.to_owned(),
        os: "Debian GNU/Linux 13".to_owned(),
        kernel: "6.12.9".to_owned(),
        arch: "x86_64".to_owned(),
        cpu_model: "Test CPU".to_owned(),
        cpu_cores: 8,
        mem_total_bytes: 8 << 30,
        swap_total_bytes: 0,
        disks: Vec::new(),
        docker_version: Some("27.3.1".to_owned()),
        boot_time_unix: 1_700_000_000,
    }
}

pub fn metrics() -> MetricSample {
    MetricSample {
        taken_at_ms: 1_709_210_096_000,
        cpu_total_pct: 12.5,
        cpu_per_core_pct: vec![10.0, 15.0],
        load: [0.5, 0.25, 1.0],
        mem_total_bytes: 8 << 30,
        mem_used_bytes: 3 << 29,
        tcp_established: 42,
        tcp_total: 50,
        ..MetricSample::default()
    }
}

/// A node that reported everything.
pub fn full_node(id: u64, hostname: &str, last_seen_ms: u64) -> NodeView {
    NodeView {
        id,
        hostname: hostname.to_owned(),
        online: true,
        revoked: false,
        last_seen_ms: Some(last_seen_ms),
        agent_version: "0.1.0".to_owned(),
        host: Some(host(hostname)),
        metrics: Some(metrics()),
    }
}

/// A node enrolled but never heard from.
pub fn bare_node(id: u64) -> NodeView {
    NodeView {
        id,
        hostname: String::new(),
        online: false,
        revoked: false,
        last_seen_ms: None,
        agent_version: String::new(),
        host: None,
        metrics: None,
    }
}

pub fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since_epoch.as_millis()).unwrap()
}

/// A JSON login of the administrator from `from` with `password`.
pub async fn try_login(app: &TestApp, from: &str, password: &str) -> Reply {
    app.send(
        Req::post("/api/v1/auth/login")
            .from(from)
            .json(&credentials(USER, password)),
    )
    .await
}
