//! The seam between the alert evaluator and the notification channels: the evaluator calls
//! [`Notifier::notify`] once when an alert fires and once when it resolves; the channels
//! (`alerts::channels`) queue a delivery per named channel, retry with backoff and record
//! each outcome. Nothing here blocks: delivery happens elsewhere.

use model::alert::Notification;

/// Delivers notifications to named channels.
pub trait Notifier: Send + Sync + 'static {
    /// Queues `notification` for each channel named in `channels`. A name that matches no
    /// channel is recorded as a failed delivery, not an error. Never blocks.
    fn notify(&self, channels: &[String], notification: Notification);
}
