//! The fakes behind the project pages' tests: [`Base`] answers everything but projects
//! (two nodes, an English and a Chinese session), [`MemoryProjects`] keeps projects,
//! revisions, events and standalone gateways in memory and validates like the master
//! (the model's rules).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

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
use model::{ServiceError, StoreFailure};
use protocol::{MetricSample, ResponseBody};
use tokio::sync::broadcast;

/// Session tokens of an English and a Chinese user.
pub(crate) const EN: &str = "english.session.token";
pub(crate) const ZH: &str = "chinese.session.token";
/// The webhook secret the fake answers.
pub(crate) const SECRET: &str = "whsec_0123456789abcdef";

pub(crate) fn pending<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(async move { v })
}

/// Everything but projects: two nodes, two users, nothing else.
pub(crate) struct Base;

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
pub(crate) struct Stored {
    pub(crate) revisions: Vec<(u64, ProjectSpec)>,
    pub(crate) target: u64,
    status: ProjectStatus,
    events: Vec<ProjectEvent>,
}

impl Stored {
    pub(crate) fn spec(&self) -> &ProjectSpec {
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
pub(crate) struct MemoryProjects {
    pub(crate) projects: Mutex<BTreeMap<String, Stored>>,
    pub(crate) gateways: Mutex<BTreeMap<String, StandaloneGateway>>,
    /// Rollout commands asked, `pause web`.
    pub(crate) asked: Mutex<Vec<String>>,
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
