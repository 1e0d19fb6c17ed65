//! [`LogNotifier`]: the [`Notifier`] the master binary uses until notification channels
//! (webhook, email, DingTalk, WeCom, Feishu) land: it writes each notification to the log
//! and delivers nothing. It is replaced by the channels' notifier when they are merged.

use model::alert::Notification;

use super::notify::Notifier;

/// Logs notifications (at `info` for firing and resolved alike); delivers nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, channels: &[String], notification: Notification) {
        tracing::info!(
            alert = notification.alert_id,
            status = ?notification.status,
            rule = %notification.rule,
            severity = %notification.severity,
            channels = ?channels,
            "alert notification (not delivered: no notification channels in this build): {}",
            notification.summary
        );
    }
}
