//! Delivery: a bounded queue, retries with exponential backoff, and the bounded history of
//! every delivery with its outcome.
//!
//! [`Deliveries::enqueue`] records a pending [`DeliveryRecord`] per channel and puts a job
//! on a bounded queue with `try_send`, so the caller never waits; a full queue makes the
//! delivery fail at once ("queue full"). One worker task takes jobs off the queue and runs
//! each in its own task, at most [`MAX_CONCURRENT`] at a time. A job looks its channel up
//! (an unknown name fails the delivery), then tries up to [`RetryPolicy::attempts`] times,
//! pausing [`RetryPolicy::delay_after`] between attempts (1 s, 2 s, 4 s, ... capped). The
//! sending ([`Transport`]) and the pausing ([`Pause`]) are traits, so tests pass time in.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use model::alert::Notification;
use model::channel::{ChannelRecord, ChannelType, DeliveryOutcome, DeliveryRecord};
use model::clock::Clock;
use model::ops::BoxFuture;
use tokio::sync::{Semaphore, mpsc};

use crate::store::ChannelStore;

/// Jobs waiting for the worker, at most.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries kept in the history (oldest dropped first).
pub const HISTORY_CAPACITY: usize = 1000;
/// Deliveries in flight (each may be between retries), at most.
pub const MAX_CONCURRENT: usize = 16;

/// How often and how far apart a delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The pause after the first failed attempt; each further pause doubles.
    pub first_delay: Duration,
    /// The longest pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, pauses of 1, 2, 4 and 8 s.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt number `attempt` (1-based); `None` when it was the
    /// last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts.max(1) {
            return None;
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        Some(
            self.first_delay
                .checked_mul(factor)
                .map_or(self.max_delay, |d| d.min(self.max_delay)),
        )
    }
}

/// Sends one attempt of a notification to a channel.
pub trait Transport: Send + Sync + 'static {
    /// One attempt; `Err` says why it failed (never a secret).
    fn send<'a>(
        &'a self,
        channel: &'a ChannelRecord,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// Waits between attempts.
pub trait Pause: Send + Sync + 'static {
    /// Resolves after `delay`.
    fn pause(&self, delay: Duration) -> BoxFuture<'static, ()>;
}

/// [`Pause`] on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioPause;

impl Pause for TokioPause {
    fn pause(&self, delay: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// The bounded history of deliveries.
#[derive(Debug)]
pub struct History {
    inner: Mutex<(VecDeque<DeliveryRecord>, u64)>,
    capacity: usize,
}

impl History {
    /// An empty history keeping the newest `capacity` deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new((VecDeque::new(), 1)),
            capacity: capacity.max(1),
        }
    }

    /// Records a pending delivery of `n` to `channel`; answers its id.
    pub fn start(&self, channel: &str, n: &Notification, test: bool, now_ms: u64) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = inner.1;
        inner.1 += 1;
        if inner.0.len() >= self.capacity {
            inner.0.pop_front();
        }
        inner.0.push_back(DeliveryRecord {
            id,
            channel: channel.to_owned(),
            kind: None,
            alert_id: n.alert_id,
            rule: n.rule.clone(),
            status: n.status,
            test,
            outcome: DeliveryOutcome::Pending,
            attempts: 0,
            last_error: String::new(),
            queued_at_ms: now_ms,
            finished_at_ms: None,
        });
        id
    }

    /// Changes delivery `id` (gone from the history: nothing).
    pub fn update(&self, id: u64, change: impl FnOnce(&mut DeliveryRecord)) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(record) = inner.0.iter_mut().rev().find(|r| r.id == id) {
            change(record);
        }
    }

    /// Ends delivery `id` with `outcome`.
    pub fn finish(&self, id: u64, outcome: DeliveryOutcome, error: Option<String>, now_ms: u64) {
        self.update(id, |r| {
            r.outcome = outcome;
            if let Some(e) = error {
                r.last_error = e;
            }
            r.finished_at_ms = Some(now_ms);
        });
    }

    /// Delivery `id`.
    pub fn get(&self, id: u64) -> Option<DeliveryRecord> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0.iter().rev().find(|r| r.id == id).cloned()
    }

    /// The newest `limit` deliveries (of `channel` only, when given), newest first.
    pub fn list(&self, channel: Option<&str>, limit: usize) -> Vec<DeliveryRecord> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .0
            .iter()
            .rev()
            .filter(|r| channel.is_none_or(|c| r.channel == c))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// One queued delivery.
#[derive(Debug)]
pub struct Job {
    /// Its history id.
    pub id: u64,
    /// The channel's name.
    pub channel: String,
    /// What to send.
    pub notification: Notification,
}

/// What a delivery needs: where channels are, how to send and wait, the clock.
#[derive(Clone)]
pub struct Worker {
    /// The channels.
    pub store: Arc<dyn ChannelStore>,
    /// Sends one attempt.
    pub transport: Arc<dyn Transport>,
    /// Waits between attempts.
    pub pause: Arc<dyn Pause>,
    /// Stamps the history.
    pub clock: Arc<dyn Clock>,
    /// Attempts and pauses.
    pub policy: RetryPolicy,
    /// The history.
    pub history: Arc<History>,
}

impl Worker {
    /// The stored channel `name`, or why there is none.
    pub async fn lookup(&self, name: &str) -> Result<ChannelRecord, String> {
        let store = Arc::clone(&self.store);
        let owned = name.to_owned();
        match tokio::task::spawn_blocking(move || store.get_channel(&owned)).await {
            Ok(Ok(Some(record))) => Ok(record),
            Ok(Ok(None)) => Err(format!("no channel named {name:?}")),
            Ok(Err(e)) => Err(format!("store: {e}")),
            Err(e) => Err(format!("store task failed: {e}")),
        }
    }

    /// Delivers `job`: looks the channel up, then tries with backoff; records the outcome.
    pub async fn deliver(&self, job: Job) {
        let history = &self.history;
        let channel = match self.lookup(&job.channel).await {
            Ok(c) => c,
            Err(e) => {
                history.finish(
                    job.id,
                    DeliveryOutcome::Failed,
                    Some(e),
                    self.clock.now_ms(),
                );
                return;
            }
        };
        let kind: ChannelType = channel.config.kind();
        history.update(job.id, |r| r.kind = Some(kind));
        let mut attempt = 0;
        loop {
            attempt += 1;
            history.update(job.id, |r| r.attempts = attempt);
            match self.transport.send(&channel, &job.notification).await {
                Ok(()) => {
                    history.finish(
                        job.id,
                        DeliveryOutcome::Delivered,
                        None,
                        self.clock.now_ms(),
                    );
                    return;
                }
                Err(e) => {
                    tracing::debug!(channel = %job.channel, attempt, "delivery failed: {e}");
                    let delay = self.policy.delay_after(attempt);
                    let Some(delay) = delay else {
                        tracing::warn!(
                            channel = %job.channel,
                            alert = job.notification.alert_id,
                            attempts = attempt,
                            "notification not delivered: {e}"
                        );
                        history.finish(
                            job.id,
                            DeliveryOutcome::Failed,
                            Some(e),
                            self.clock.now_ms(),
                        );
                        return;
                    };
                    history.update(job.id, |r| r.last_error = e);
                    self.pause.pause(delay).await;
                }
            }
        }
    }

    /// Takes jobs off `queue` until it closes, each in its own task, at most
    /// [`MAX_CONCURRENT`] at a time.
    pub async fn run(self, mut queue: mpsc::Receiver<Job>) {
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
        while let Some(job) = queue.recv().await {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                worker.deliver(job).await;
                drop(permit);
            });
        }
    }
}

/// The queue side: what `Notifier::notify` calls.
#[derive(Clone)]
pub struct Deliveries {
    queue: mpsc::Sender<Job>,
    history: Arc<History>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliveries").finish_non_exhaustive()
    }
}

impl Deliveries {
    /// A queue of `capacity` jobs and its receiving end (for [`Worker::run`]).
    pub fn new(
        capacity: usize,
        history: Arc<History>,
        clock: Arc<dyn Clock>,
    ) -> (Self, mpsc::Receiver<Job>) {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                queue,
                history,
                clock,
            },
            rx,
        )
    }

    /// Queues `n` for each of `channels`; never waits. A full queue fails the delivery.
    pub fn enqueue(&self, channels: &[String], n: &Notification) {
        for channel in channels {
            let now = self.clock.now_ms();
            let id = self.history.start(channel, n, false, now);
            let job = Job {
                id,
                channel: channel.clone(),
                notification: n.clone(),
            };
            let why = match self.queue.try_send(job) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Full(_)) => "the delivery queue is full",
                Err(mpsc::error::TrySendError::Closed(_)) => "delivery has stopped",
            };
            tracing::warn!(channel = %channel, alert = n.alert_id, "notification dropped: {why}");
            self.history
                .finish(id, DeliveryOutcome::Failed, Some(why.to_owned()), now);
        }
    }

    /// The history.
    pub fn history(&self) -> &Arc<History> {
        &self.history
    }
}
