//! Notification channels (issue 14, item 4): where alert notifications go, and how.
//!
//! [`ChannelService`] keeps the channels ([`crate::store::ChannelStore`], the
//! `alert_channels` database), implements the console's [`model::channel::Channels`]
//! (create, change, delete, test; every change audited as `alert_channel.*` on
//! `channel/<name>`, never with a secret) and the evaluator's [`Notifier`]: `notify` queues
//! one delivery per named channel and returns at once ([`delivery`]).
//!
//! | module | does |
//! |---|---|
//! | [`delivery`] | bounded queue, retries with backoff, bounded history |
//! | [`http`] | the HTTP(S) client of the webhook kinds |
//! | [`render`] | the title and text people read |
//! | [`webhook`], [`dingtalk`], [`wecom`], [`feishu`], [`email`] | each kind's request, signature and answer check |
//!
//! A test (`POST /api/v1/alerts/channels/{name}/test`) is one attempt made while the caller
//! waits, recorded in the history like any delivery.

pub mod delivery;
pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod http;
pub mod render;
pub mod webhook;
pub mod wecom;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use model::alert::{Notification, NotificationStatus};
use model::audit::{AuditEntry, AuditResult};
use model::channel::{
    ChannelConfig, ChannelFailure, ChannelInput, ChannelRecord, ChannelView, Channels,
    DeliveryOutcome, DeliveryQuery, DeliveryRecord, MAX_CHANNELS,
};
use model::clock::Clock;
use model::ops::{BoxFuture, Caller};
use model::service::AuditLog;

use self::delivery::{
    Deliveries, HISTORY_CAPACITY, History, Pause, QUEUE_CAPACITY, RetryPolicy, TokioPause,
    Transport, Worker,
};
use self::http::HttpClient;
use super::notify::Notifier;
use crate::store::ChannelStore;
use crate::store::channels::Created;

/// The deadline of one HTTP attempt, and of each SMTP step.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Decides from an HTTP answer (status, body) whether a channel took the message.
type AnswerCheck = fn(u16, &[u8]) -> Result<(), String>;

/// The real [`Transport`]: HTTP for the webhook kinds, SMTP for email.
#[derive(Clone)]
pub struct Dispatch {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl Dispatch {
    /// Over `http`, stamping signatures with `clock`.
    pub fn new(http: HttpClient, clock: Arc<dyn Clock>, timeout: Duration) -> Self {
        Self {
            http,
            clock,
            timeout,
        }
    }

    async fn send_now(&self, channel: &ChannelRecord, n: &Notification) -> Result<(), String> {
        let now = self.clock.now_ms();
        let (request, check): (_, AnswerCheck) = match &channel.config {
            ChannelConfig::Email(e) => return email::send(e, n, self.timeout).await,
            ChannelConfig::Webhook { url, secret } => {
                (webhook::request(url, secret, n)?, webhook::check)
            }
            ChannelConfig::Dingtalk { url, secret } => {
                (dingtalk::request(url, secret, n, now), dingtalk::check)
            }
            ChannelConfig::Wecom { url } => (wecom::request(url, n), wecom::check),
            ChannelConfig::Feishu { url, secret } => {
                (feishu::request(url, secret, n, now), feishu::check)
            }
        };
        let (status, body) = self.http.post(&request).await?;
        check(status, &body)
    }
}

impl Transport for Dispatch {
    fn send<'a>(
        &'a self,
        channel: &'a ChannelRecord,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.send_now(channel, notification))
    }
}

/// The channels: records, the console's service and the evaluator's [`Notifier`].
pub struct ChannelService {
    worker: Worker,
    deliveries: Deliveries,
    audit: Arc<dyn AuditLog>,
    /// One change at a time (a PUT reads, merges and writes).
    changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ChannelService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelService").finish_non_exhaustive()
    }
}

fn store_failure(e: crate::store::StoreError) -> ChannelFailure {
    ChannelFailure::Store(e.to_string())
}

fn not_found(name: &str) -> ChannelFailure {
    ChannelFailure::NotFound(format!("no channel named {name:?}"))
}

impl ChannelService {
    /// The service of a running master: real HTTP and SMTP, tokio's timer, the default
    /// [`RetryPolicy`]. Spawns the delivery worker: call inside a tokio runtime.
    pub fn start(
        store: Arc<dyn ChannelStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let dispatch = Dispatch::new(
            HttpClient::new(ATTEMPT_TIMEOUT),
            Arc::clone(&clock),
            ATTEMPT_TIMEOUT,
        );
        Self::start_with(
            store,
            audit,
            clock,
            Arc::new(dispatch),
            Arc::new(TokioPause),
            RetryPolicy::default(),
            QUEUE_CAPACITY,
        )
    }

    /// The service with its parts given (tests). Spawns the delivery worker on the current
    /// tokio runtime (without one, nothing is delivered).
    pub fn start_with(
        store: Arc<dyn ChannelStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        transport: Arc<dyn Transport>,
        pause: Arc<dyn Pause>,
        policy: RetryPolicy,
        queue_capacity: usize,
    ) -> Arc<Self> {
        let history = Arc::new(History::new(HISTORY_CAPACITY));
        let (deliveries, rx) =
            Deliveries::new(queue_capacity, Arc::clone(&history), Arc::clone(&clock));
        let worker = Worker {
            store,
            transport,
            pause,
            clock,
            policy,
            history,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(worker.clone().run(rx));
            }
            Err(_) => tracing::warn!("no tokio runtime: notifications will not be delivered"),
        }
        Arc::new(Self {
            worker,
            deliveries,
            audit,
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// The delivery history.
    pub fn history(&self) -> &Arc<History> {
        self.deliveries.history()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ChannelStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ChannelFailure> {
        let store = Arc::clone(&self.worker.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ChannelFailure::Store(format!("store task failed: {e}")))?
            .map_err(store_failure)
    }

    async fn record(&self, name: &str) -> Result<ChannelRecord, ChannelFailure> {
        let owned = name.to_owned();
        self.blocking(move |s| s.get_channel(&owned))
            .await?
            .ok_or_else(|| not_found(name))
    }

    async fn create_channel(&self, input: ChannelInput) -> Result<ChannelView, ChannelFailure> {
        let config = input.validate(None)?;
        let now = self.worker.clock.now_ms();
        let record = ChannelRecord {
            name: input.name.clone(),
            config,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let stored = record.clone();
        let _one = self.changes.lock().await;
        match self
            .blocking(move |s| s.create_channel(&stored, MAX_CHANNELS))
            .await?
        {
            Created::Yes => Ok(ChannelView::of(&record)),
            Created::Taken => Err(ChannelFailure::Conflict(format!(
                "a channel named {:?} exists",
                record.name
            ))),
            Created::Full => Err(ChannelFailure::Conflict(format!(
                "at most {MAX_CHANNELS} channels may exist"
            ))),
        }
    }

    async fn update_channel(
        &self,
        name: &str,
        mut input: ChannelInput,
    ) -> Result<ChannelView, ChannelFailure> {
        if input.name.is_empty() {
            input.name = name.to_owned();
        } else if input.name != name {
            return Err(model::Invalid::new(
                "name",
                "a channel cannot be renamed: the name must match the path",
            )
            .into());
        }
        let _one = self.changes.lock().await;
        let current = self.record(name).await?;
        let config = input.validate(Some(&current.config))?;
        let record = ChannelRecord {
            name: current.name,
            config,
            created_at_ms: current.created_at_ms,
            updated_at_ms: self.worker.clock.now_ms(),
        };
        let stored = record.clone();
        if self.blocking(move |s| s.update_channel(&stored)).await? {
            Ok(ChannelView::of(&record))
        } else {
            Err(not_found(name))
        }
    }

    async fn delete_channel(&self, name: &str) -> Result<(), ChannelFailure> {
        let owned = name.to_owned();
        let _one = self.changes.lock().await;
        if self.blocking(move |s| s.delete_channel(&owned)).await? {
            Ok(())
        } else {
            Err(not_found(name))
        }
    }

    /// One attempt of a test notification to `name`, recorded; answers the record.
    async fn test_channel(&self, name: &str) -> Result<DeliveryRecord, ChannelFailure> {
        let channel = self.record(name).await?;
        let now = self.worker.clock.now_ms();
        let n = test_notification(name, now);
        let history = self.history();
        let id = history.start(name, &n, true, now);
        history.update(id, |r| {
            r.kind = Some(channel.config.kind());
            r.attempts = 1;
        });
        let outcome = self.worker.transport.send(&channel, &n).await;
        let end = self.worker.clock.now_ms();
        match outcome {
            Ok(()) => history.finish(id, DeliveryOutcome::Delivered, None, end),
            Err(e) => history.finish(id, DeliveryOutcome::Failed, Some(e), end),
        }
        history
            .get(id)
            .ok_or_else(|| ChannelFailure::Store("the delivery left the history".into()))
    }

    async fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        name: &str,
        outcome: Result<T, ChannelFailure>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, ChannelFailure> {
        let (result, detail) = match &outcome {
            Ok(v) => (AuditResult::Ok, detail(v)),
            Err(e @ (ChannelFailure::Invalid(_) | ChannelFailure::Conflict(_))) => {
                (AuditResult::Denied, e.to_string())
            }
            Err(e) => (AuditResult::Failed, e.to_string()),
        };
        let entry = AuditEntry::new(
            &caller.user,
            action,
            &format!("channel/{name}"),
            &caller.client,
            result,
            detail,
        )
        .via(caller.via.clone());
        self.audit.record(entry).await;
        outcome
    }
}

/// The notification a test sends.
pub fn test_notification(channel: &str, now_ms: u64) -> Notification {
    Notification {
        status: NotificationStatus::Firing,
        alert_id: 0,
        rule: "test".to_owned(),
        severity: "info".to_owned(),
        node: None,
        node_name: String::new(),
        metric: String::new(),
        value: None,
        threshold: None,
        started_at: now_ms,
        ended_at: None,
        summary: format!(
            "Test notification of channel {channel} from Commander / Commander 渠道 {channel} 的测试通知"
        ),
    }
}

impl Notifier for ChannelService {
    fn notify(&self, channels: &[String], notification: Notification) {
        self.deliveries.enqueue(channels, &notification);
    }
}

fn type_detail(v: &ChannelView) -> String {
    format!("type {}", v.kind.as_str())
}

impl Channels for ChannelService {
    fn list(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, ChannelFailure>> {
        Box::pin(async move {
            let all = self.blocking(|s| s.list_channels()).await?;
            Ok(all.iter().map(ChannelView::of).collect())
        })
    }

    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        Box::pin(async move { Ok(ChannelView::of(&self.record(name).await?)) })
    }

    fn create<'a>(
        &'a self,
        caller: &'a Caller,
        input: ChannelInput,
    ) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        Box::pin(async move {
            let name = input.name.clone();
            let outcome = self.create_channel(input).await;
            self.audited(caller, "alert_channel.create", &name, outcome, type_detail)
                .await
        })
    }

    fn update<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        input: ChannelInput,
    ) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        Box::pin(async move {
            let outcome = self.update_channel(name, input).await;
            self.audited(caller, "alert_channel.update", name, outcome, type_detail)
                .await
        })
    }

    fn delete<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ChannelFailure>> {
        Box::pin(async move {
            let outcome = self.delete_channel(name).await;
            self.audited(caller, "alert_channel.delete", name, outcome, |()| {
                String::new()
            })
            .await
        })
    }

    fn test<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<DeliveryRecord, ChannelFailure>> {
        Box::pin(async move {
            let outcome = self.test_channel(name).await;
            self.audited(caller, "alert_channel.test", name, outcome, |d| {
                match d.outcome {
                    DeliveryOutcome::Delivered => "delivered".to_owned(),
                    _ => format!("failed: {}", d.last_error),
                }
            })
            .await
        })
    }

    fn deliveries(
        &self,
        query: DeliveryQuery,
    ) -> BoxFuture<'_, Result<Vec<DeliveryRecord>, ChannelFailure>> {
        Box::pin(async move {
            let limit = query.limit()?;
            if let Some(c) = &query.channel {
                model::channel::validate_name(c)
                    .map_err(|e| model::Invalid::new("channel", e.message))?;
            }
            Ok(self.history().list(query.channel.as_deref(), limit))
        })
    }
}
