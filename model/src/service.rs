//! The services through which the console and the command line ask the master for
//! things. The master implements them (`master::services`); the console's tests implement
//! them with fakes. Every trait is object-safe: the console holds one [`Services`] of
//! `Arc<dyn ...>` and no generic parameter.
//!
//! Rules live behind these traits, not in their callers: an operation is validated before
//! anything is sent and written to the audit log exactly once, where it ends (for a task,
//! when the task ends); a data operation runs alone and is audited; an account step checks
//! the lockout before hashing and is audited.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::MetricSample;
use protocol::ResponseBody;
use protocol::ops::docker::{ContainerCreate, PullPolicy, RegistryAuth};
use tokio::sync::broadcast;

use crate::account::{AuthFailure, Authenticated, Issued, Lang, Rejected, UserRecord};
use crate::alert::{AlertList, AlertQuery, AlertRecord};
use crate::alert_rule::{AlertFailure, AlertRuleRecord, RuleInput, SilenceInput, SilenceRecord};
use crate::audit::{AuditEntry, AuditPage, AuditQuery, AuditWriteHealth};
use crate::data::{BackupFile, CompactReport, CompactionStatus, DataEnv, ResetCategory};
use crate::error::{ServiceError, StoreFailure};
use crate::node::{LiveSample, NodeView, StorageView};
use crate::ops::{
    BoxFuture, Caller, LogsAnswer, OpCall, OpFailure, OpRequest, OpStream, TaskHandle, Upload,
};
use crate::project::api::{
    CreatedProject, ProjectEvent, ProjectFailure, ProjectPatch, ProjectView, RevisionView,
};
use crate::project::gateway::{GatewayListing, StandaloneGatewayInput, StandaloneGatewayPatch};
use crate::project::{ProjectInput, Revision};
use crate::task::{TaskQuery, TaskRecord};
use crate::token::{ApiToken, CreatedApiToken, NewApiToken, TokenFailure};

/// The cluster as the console sees it: nodes, their metrics, alerts.
pub trait Cluster: Send + Sync + 'static {
    /// All enrolled nodes, ordered by id.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>>;

    /// One node, `None` when no node has this id.
    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>>;

    /// Database sizes.
    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>>;

    /// At most `points` stored samples of node `id` spread evenly over
    /// `from_ms..=to_ms` (the first sample of each of `points` equal slices), oldest first,
    /// each with the master's receive time (Unix ms).
    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>>;

    /// The stored history of node `id` over `from_ms..=to_ms` (Unix ms) in at most `points`
    /// points, from the tier [`crate::history::pick_tier`] picks. The caller checks the
    /// node exists and the range is sane.
    fn metric_history(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<crate::history::MetricHistory, ServiceError>>;

    /// A receiver of every node's samples as they arrive, or `None` when live data has
    /// ended (the master is shutting down). Streams end when the sender closes.
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>>;

    /// The alerts firing now and one page of the alert history; `limit` 0 skips the
    /// history.
    fn alerts(&self, query: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>>;

    /// A receiver of every alert as it fires or resolves, or `None` when there is no
    /// alerting or the master is shutting down. A receiver that lags must fetch the active
    /// alerts again.
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>>;

    /// The master's own counters (protocol endpoint, heartbeats, stored and dropped
    /// samples), read without blocking.
    fn master_counters(&self) -> crate::node::MasterCounters;
}

/// Data management. Runs one operation at a time (a second one meanwhile is a
/// [`ServiceError::Conflict`]); every call that changes or copies data is audited.
pub trait DataAdmin: Send + Sync + 'static {
    /// Writes a compacted copy of each database next to it, reports the sizes and
    /// schedules the compaction of the live files for the next start.
    fn compact(&self, caller: &Caller) -> BoxFuture<'_, Result<CompactReport, ServiceError>>;

    /// Whether a compaction is scheduled and how the last one went.
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>>;

    /// Cancels the scheduled compaction; `true` when one was scheduled.
    fn cancel_compaction(&self, caller: &Caller) -> BoxFuture<'_, Result<bool, ServiceError>>;

    /// A consistent copy of one database as an open, already unlinked file.
    fn backup(
        &self,
        caller: &Caller,
        env: DataEnv,
    ) -> BoxFuture<'_, Result<BackupFile, ServiceError>>;

    /// Deletes one category's entries older than `older_than_days` days; returns how many.
    fn reset(
        &self,
        caller: &Caller,
        category: ResetCategory,
        older_than_days: u32,
    ) -> BoxFuture<'_, Result<u64, ServiceError>>;
}

/// What creating a container became.
#[derive(Debug)]
pub enum ContainerCreated {
    /// The image was on the node: the container exists (the slave's answer).
    Created(ResponseBody),
    /// The image must be pulled first: a deployment task runs.
    Deploying(TaskRecord),
}

/// A container to create, as the console asks for it.
#[derive(Debug, Clone)]
pub struct CreateContainer {
    /// Who asks.
    pub caller: Caller,
    /// What it is done to, for the audit record (`node/<id>/image/<image>`).
    pub target: String,
    /// The node.
    pub node: u64,
    /// The container.
    pub spec: ContainerCreate,
    /// Whether to pull the image first (`None`: only when missing).
    pub pull: Option<PullPolicy>,
    /// Registry credentials for a pull (never stored or logged).
    pub auth: Option<RegistryAuth>,
}

/// Host and Docker operations on nodes, and the tasks that run the long ones.
pub trait Operations: Send + Sync + 'static {
    /// Validates and sends an operation, waits for its final answer (a streamed answer is
    /// reassembled) and audits it. An unknown node, an offline one, or one without
    /// operations fails at once, before anything is sent.
    fn call(&self, request: OpRequest) -> BoxFuture<'_, Result<ResponseBody, OpFailure>>;

    /// A container's log (`DockerOp::Logs`, not followed): fed in acknowledged batches when
    /// the node's session streams logs, else whole as [`Operations::call`] answers it.
    /// Audited once (when the first batch or the answer arrived).
    fn logs(&self, request: OpRequest) -> BoxFuture<'_, Result<LogsAnswer, OpFailure>> {
        Box::pin(async move { self.call(request).await.map(LogsAnswer::Whole) })
    }

    /// [`Operations::call`] without an audit entry: a read the caller does not record
    /// (a probe, a periodic reading of a stream that was audited when it began).
    fn read(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>>;

    /// Starts an operation whose progress updates are wanted as they come (a followed
    /// log). A failure that comes within `early` is answered as an error; otherwise the
    /// stream is returned. Audited.
    fn follow(
        &self,
        request: OpRequest,
        early: Duration,
    ) -> BoxFuture<'_, Result<Followed, OpFailure>>;

    /// Validates an operation, records a task and runs it in the background; the task's
    /// audit entry is written when it ends. Fails at once, creating no task, for an unknown
    /// or offline node.
    fn start_task(
        &self,
        request: OpRequest,
        upload: Option<Upload>,
    ) -> BoxFuture<'_, Result<TaskHandle, OpFailure>>;

    /// Creates a container: at once when the image is on the node, as a deployment task
    /// (pull, create, start) when it must be pulled, refused when it is missing and `pull`
    /// is `never`. Audited.
    fn create_container(
        &self,
        create: CreateContainer,
    ) -> BoxFuture<'_, Result<ContainerCreated, OpFailure>>;

    /// Records an operation refused before it could be built (a malformed argument).
    fn refused(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        failure: &OpFailure,
    ) -> BoxFuture<'_, ()>;

    /// One task, running or finished.
    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>>;

    /// Tasks, newest first.
    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>>;

    /// A receiver of every task change from now on, or `None` when there are no task
    /// events or the master is shutting down. A receiver that lags must refetch the list.
    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>>;
}

/// A followed operation: its stream, and its answer when it already ended within the
/// early window (progress queued before the answer is still on the stream).
#[derive(Debug)]
pub struct Followed {
    /// Progress updates and the final answer.
    pub stream: OpStream,
    /// The answer, when the operation ended early.
    pub ended: Option<ResponseBody>,
}

/// Console accounts, sessions and API tokens. [`Accounts::authenticate`] accepts both a
/// session's JWT and an API token (`cmdr_…`, see [`crate::token`]).
pub trait Accounts: Send + Sync + 'static {
    /// Whether the first-start registration is still open.
    fn registration_open(&self) -> BoxFuture<'_, Result<bool, StoreFailure>>;

    /// Registers the first user (once ever). Audited.
    fn register<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<UserRecord, AuthFailure>>;

    /// Checks the lockout, then the password; opens a session on success. Audited.
    fn login<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>>;

    /// Validates a token: a session's JWT (signature, expiry, session record, user and
    /// epoch) or an API token (record, secret hash, expiry, creator).
    fn authenticate<'a>(&'a self, token: &'a str)
    -> BoxFuture<'a, Result<Authenticated, Rejected>>;

    /// Whether a credential validated earlier is still valid (session: not logged out, not
    /// expired, password unchanged; API token: not revoked, not expired); long-lived
    /// streams ask this periodically.
    fn session_valid<'a>(
        &'a self,
        auth: &'a Authenticated,
    ) -> BoxFuture<'a, Result<bool, StoreFailure>>;

    /// Ends a session. Audited.
    fn logout<'a>(&'a self, auth: &'a Authenticated, client: IpAddr) -> BoxFuture<'a, ()>;

    /// Changes the password: every session of the user ends and a new one is opened for
    /// the caller. Audited.
    fn change_password<'a>(
        &'a self,
        auth: &'a Authenticated,
        current: &'a str,
        new: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>>;

    /// Stores the user's language. Audited.
    fn set_language<'a>(
        &'a self,
        auth: &'a Authenticated,
        lang: Lang,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<(), AuthFailure>>;

    /// How long a new session lasts.
    fn session_ttl(&self) -> Duration;

    /// Creates an API token for the caller (a session or an admin-scoped token) and
    /// returns it with its secret, which is never shown again. Audited.
    fn create_api_token<'a>(
        &'a self,
        auth: &'a Authenticated,
        new: NewApiToken,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<CreatedApiToken, TokenFailure>>;

    /// Every API token, newest first, without secrets or hashes; only for a session or an
    /// admin-scoped token.
    fn api_tokens<'a>(
        &'a self,
        auth: &'a Authenticated,
    ) -> BoxFuture<'a, Result<Vec<ApiToken>, TokenFailure>>;

    /// Revokes an API token at once: the next request with it is refused. Audited.
    fn revoke_api_token<'a>(
        &'a self,
        auth: &'a Authenticated,
        id: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<ApiToken, TokenFailure>>;
}

/// The audit log.
pub trait AuditLog: Send + Sync + 'static {
    /// Writes an entry (`at_ms` 0 means now). A failure is logged and counted, never
    /// returned: the operation it describes has already happened.
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()>;

    /// Reads one page of the log, newest first.
    fn query(&self, query: AuditQuery) -> BoxFuture<'_, Result<AuditPage, StoreFailure>>;

    /// How audit writes have gone since the master started (failures counted by
    /// [`AuditLog::record`]), for the health check and monitoring.
    fn write_health(&self) -> AuditWriteHealth;
}

/// Projects (replicated services behind a gateway) and gateways. Every change is
/// validated (a [`ProjectFailure::Invalid`] names the field), serialised and audited once.
pub trait Projects: Send + Sync + 'static {
    /// Creates a project; answers it with its deploy webhook's secret, shown this once.
    fn create<'a>(
        &'a self,
        caller: &'a Caller,
        input: ProjectInput,
    ) -> BoxFuture<'a, Result<CreatedProject, ProjectFailure>>;

    /// Every project as shown, by name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<ProjectView>, ProjectFailure>>;

    /// One project as shown.
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Every revision kept, oldest first.
    fn revisions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RevisionView>, ProjectFailure>>;

    /// Applies a partial update (a new image starts a rollout).
    fn update<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        patch: ProjectPatch,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Changes the replica count.
    fn scale<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        replicas: u32,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Rolls back to `revision`, or to the previous one.
    fn rollback<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Pauses the rollout under way.
    fn pause<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Resumes a paused rollout.
    fn resume<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Promotes canaries waiting for an operator.
    fn promote<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// Deletes a project (its replicas and gateway are then removed).
    fn delete<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>>;

    /// A deploy webhook call from `client`: `signature` is the `X-Commander-Signature`
    /// header, `body` the raw body. Authenticated by the signature alone; audited.
    fn webhook<'a>(
        &'a self,
        client: &'a str,
        name: &'a str,
        signature: Option<&'a str>,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<ProjectView, ProjectFailure>>;

    /// A project's timeline, oldest first.
    fn events<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProjectEvent>, ProjectFailure>>;

    /// A receiver of every project's new events (with the project's name) from now on, or
    /// `None` when there are none to follow. A receiver that lags must refetch the list.
    fn live_events(&self) -> Option<broadcast::Receiver<(String, ProjectEvent)>>;

    /// Every gateway, project-owned and standalone, with its slave's last report.
    fn gateways(&self) -> BoxFuture<'_, Result<Vec<GatewayListing>, ProjectFailure>>;

    /// Creates a standalone gateway.
    fn create_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        input: StandaloneGatewayInput,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>>;

    /// Changes a standalone gateway.
    fn update_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        patch: StandaloneGatewayPatch,
    ) -> BoxFuture<'a, Result<GatewayListing, ProjectFailure>>;

    /// Removes a standalone gateway.
    fn delete_gateway<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ProjectFailure>>;
}

/// Everything the console asks the master for.
#[derive(Clone)]
pub struct Services {
    /// Nodes, metrics, alerts.
    pub cluster: Arc<dyn Cluster>,
    /// Node operations and tasks.
    pub ops: Arc<dyn Operations>,
    /// Data management.
    pub data: Arc<dyn DataAdmin>,
    /// Accounts and sessions.
    pub accounts: Arc<dyn Accounts>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Projects and gateways.
    pub projects: Arc<dyn Projects>,
    /// Alert notification channels and their deliveries.
    pub channels: Arc<dyn crate::channel::Channels>,
    /// Alert rules and silences.
    pub alerting: Arc<dyn AlertRules>,
    /// The master's clock.
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// Alert rules and silences (see [`crate::alert_rule`]). Every change is validated (an
/// [`AlertFailure::Invalid`] names the field), takes effect in the evaluator at once and is
/// audited once.
pub trait AlertRules: Send + Sync + 'static {
    /// Every rule, by id.
    fn rules(&self) -> BoxFuture<'_, Result<Vec<AlertRuleRecord>, AlertFailure>>;

    /// One rule.
    fn rule(&self, id: u64) -> BoxFuture<'_, Result<AlertRuleRecord, AlertFailure>>;

    /// Creates a rule; answers it with its id.
    fn create_rule<'a>(
        &'a self,
        caller: &'a Caller,
        input: RuleInput,
    ) -> BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>>;

    /// Replaces a rule (the whole rule); its alerts whose condition no longer holds resolve.
    fn update_rule<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
        input: RuleInput,
    ) -> BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>>;

    /// Deletes a rule; its firing alerts resolve.
    fn delete_rule<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
    ) -> BoxFuture<'a, Result<(), AlertFailure>>;

    /// Every silence not yet expired, by id.
    fn silences(&self) -> BoxFuture<'_, Result<Vec<SilenceRecord>, AlertFailure>>;

    /// Creates a silence.
    fn create_silence<'a>(
        &'a self,
        caller: &'a Caller,
        input: SilenceInput,
    ) -> BoxFuture<'a, Result<SilenceRecord, AlertFailure>>;

    /// Deletes a silence.
    fn delete_silence<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
    ) -> BoxFuture<'a, Result<(), AlertFailure>>;
}
