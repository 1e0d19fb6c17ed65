//! The cluster's side of alerts (see [`crate::alerts`]): it feeds the [`AlertBook`] from
//! liveness changes (TTL expiry, a node heard from again, revocation, a node not back
//! after a restart), broadcasts every fired or resolved alert to console streams (only
//! when someone listens) and hands it to the [`AlertWriter`] for the history. It also
//! answers the console's alert list.

use super::{Cluster, LiveNode, State};
use crate::alerts::AlertBook;
use crate::alerts::writer::AlertWriter;
use crate::store::{Store, StoreError};
use model::alert::{AlertList, AlertQuery, AlertRecord, AlertRule, AlertState};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The node's name for an alert: its host name as reported (empty when never reported).
fn node_name(node: &LiveNode) -> String {
    match (&node.record.hostname, &node.record.host_info) {
        (name, _) if !name.is_empty() => name.clone(),
        (_, Some(host)) => host.hostname.clone(),
        _ => String::new(),
    }
}

/// What [`open_book`] found: the book, the records to save, and the evaluator's alerts
/// still firing (for the rule evaluator to take back).
type Opened = (AlertBook, Vec<AlertRecord>, Vec<AlertRecord>);

/// The book at start: node-offline alerts still firing in the store are taken back
/// (resolved at once for a node revoked meanwhile), ids continue after the newest stored,
/// and every other node is expected back by `deadline_ms`. Returns the book, the records
/// to save and the other firing alerts (the rule evaluator's).
pub(super) fn open_book(
    store: &dyn Store,
    nodes: &BTreeMap<u64, LiveNode>,
    deadline_ms: u64,
    now_ms: u64,
) -> Result<Opened, StoreError> {
    let stored = store.list_alerts(
        None,
        usize::try_from(crate::alerts::MAX_HISTORY).unwrap_or(usize::MAX),
    )?;
    let mut book = AlertBook::new(stored.first().map_or(1, |a| a.id.saturating_add(1)));
    let mut restored = Vec::new();
    for alert in stored.into_iter().filter(|a| a.state == AlertState::Firing) {
        if alert.rule == AlertRule::NodeOffline {
            book.restore(alert);
        } else {
            restored.push(alert);
        }
    }
    let mut changed = Vec::new();
    for (id, node) in nodes {
        if node.record.revoked {
            changed.extend(book.node_revoked(*id, now_ms));
        } else {
            book.expect(*id, deadline_ms);
        }
    }
    Ok((book, changed, restored))
}

impl Cluster {
    /// Sends `alert` to console streams, to the history and to the attached sink.
    fn publish_alert(&self, st: &State, alert: AlertRecord) {
        if let Some(sink) = &st.alert_sink
            && alert.rule == AlertRule::NodeOffline
        {
            let _ = sink.send(alert.clone());
        }
        if let Some(tx) = st
            .alert_events
            .as_ref()
            .filter(|tx| tx.receiver_count() > 0)
        {
            let _ = tx.send(alert.clone());
        }
        self.inner.alert_writer.submit(alert);
    }

    /// `node_id` went offline at `now`: fires its alert (not for a revoked node).
    pub(super) fn alert_offline(&self, st: &mut State, node_id: u64, now: u64) {
        let Some(node) = st.nodes.get(&node_id) else {
            return;
        };
        if node.record.revoked {
            return;
        }
        let name = node_name(node);
        if let Some(alert) = st.alerts.node_offline(node_id, &name, now) {
            tracing::warn!(node_id, alert = alert.id, "alert fired: node offline");
            self.publish_alert(st, alert);
        }
    }

    /// `node_id` was heard from at `now`: resolves its alert, if one fires.
    pub(super) fn alert_online(&self, st: &mut State, node_id: u64, now: u64) {
        if let Some(alert) = st.alerts.node_online(node_id, now) {
            tracing::info!(
                node_id,
                alert = alert.id,
                "alert resolved: node back online"
            );
            self.publish_alert(st, alert);
        }
    }

    /// Raises the offline alert of every node not back since the start in time.
    pub(super) fn alert_overdue(&self, st: &mut State, now: u64) {
        for node_id in st.alerts.overdue(now) {
            if !st.ttl.is_online(node_id) {
                self.alert_offline(st, node_id, now);
            }
        }
    }

    /// Marks `node_id` revoked in memory: no TTL, no session, no alert (a firing one
    /// resolves). The store is the caller's business.
    pub(super) fn forget_revoked(&self, st: &mut State, node_id: u64, now: u64) {
        st.ttl.remove(node_id);
        if let Some(node) = st.nodes.get_mut(&node_id) {
            node.record.revoked = true;
            if let Some(conn) = node.conn.take() {
                let _ = conn.outbound.try_send(crate::endpoint::Outbound::Close);
            }
        }
        if let Some(alert) = st.alerts.node_revoked(node_id, now) {
            tracing::info!(node_id, alert = alert.id, "alert resolved: node revoked");
            self.publish_alert(st, alert);
        }
    }

    /// A receiver of every alert as it fires or resolves; `None` after
    /// [`Self::close_live`].
    pub fn subscribe_alerts(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        self.state()
            .alert_events
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }

    /// The alerts firing now (the book's and the evaluator's), newest first.
    pub fn active_alerts(&self) -> Vec<AlertRecord> {
        let st = self.state();
        let mut all = st.alerts.active();
        all.extend(st.rule_active.values().cloned());
        all.sort_by_key(|a| std::cmp::Reverse(a.id));
        all
    }

    /// The alert id counter (shared with the rule evaluator).
    pub fn alert_ids(&self) -> crate::alerts::AlertIds {
        self.state().alerts.ids().clone()
    }

    /// From now on every node-offline alert (firing or resolved) is also sent to `sink`,
    /// in order.
    pub fn attach_alert_sink(&self, sink: tokio::sync::mpsc::UnboundedSender<AlertRecord>) {
        self.state().alert_sink = Some(sink);
    }

    /// The evaluator's alerts that were firing when the master stopped (once).
    pub fn take_restored_alerts(&self) -> Vec<AlertRecord> {
        std::mem::take(&mut self.state().restored)
    }

    /// Publishes an alert the rule evaluator raised or resolved: active list, console
    /// streams and history.
    pub fn publish_rule_alert(&self, alert: AlertRecord) {
        let mut st = self.state();
        match alert.state {
            AlertState::Firing => st.rule_active.insert(alert.id, alert.clone()),
            AlertState::Resolved => st.rule_active.remove(&alert.id),
        };
        self.publish_alert(&st, alert);
    }

    /// Every node's host name (empty when never reported), by id.
    pub fn node_names(&self) -> BTreeMap<u64, String> {
        self.state()
            .nodes
            .iter()
            .map(|(id, n)| (*id, node_name(n)))
            .collect()
    }

    /// The alert history writer (for flushing in tests).
    pub fn alert_writer(&self) -> &AlertWriter {
        &self.inner.alert_writer
    }

    /// The active alerts (from memory) and one page of the history (from the store),
    /// both filtered by `query.filter`.
    pub async fn alert_list(&self, query: AlertQuery) -> Result<AlertList, StoreError> {
        let mut active = self.active_alerts();
        active.retain(|a| query.filter.matches(a));
        let store = Arc::clone(self.store());
        let filter = query.filter.clone();
        let (mut history, total) = tokio::task::spawn_blocking(move || {
            let page = match query.limit {
                0 => Vec::new(),
                n if filter.is_empty() => store.list_alerts(query.before, n.saturating_add(1))?,
                n => filtered_page(store.as_ref(), &filter, query.before, n.saturating_add(1))?,
            };
            Ok::<_, StoreError>((page, store.alert_count()?))
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
        let next = if history.len() > query.limit {
            history.truncate(query.limit);
            history.last().map(|a| a.id)
        } else {
            None
        };
        Ok(AlertList {
            active,
            history,
            total,
            next,
        })
    }
}

/// Up to `want` alerts below `before` passing `filter`, newest first: the history is
/// read in batches (it holds at most `MAX_HISTORY` alerts, so this ends).
fn filtered_page(
    store: &dyn Store,
    filter: &model::alert::AlertFilter,
    mut before: Option<u64>,
    want: usize,
) -> Result<Vec<AlertRecord>, StoreError> {
    const BATCH: usize = 500;
    let mut out = Vec::new();
    loop {
        let batch = store.list_alerts(before, BATCH)?;
        let Some(last) = batch.last().map(|a| a.id) else {
            return Ok(out);
        };
        let full = batch.len() == BATCH;
        out.extend(
            batch
                .into_iter()
                .filter(|a| filter.matches(a))
                .take(want - out.len()),
        );
        if out.len() >= want || !full {
            return Ok(out);
        }
        before = Some(last);
    }
}

#[cfg(test)]
mod tests;
