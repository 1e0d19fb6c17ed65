//! The master's [`model::service::Cluster`]: nodes, their metric history (tiers picked by
//! `crate::store::history::history`) and live samples,
//! database sizes and alerts. Everything answers from memory or on a blocking thread,
//! never blocking the tokio workers.

use std::sync::Arc;

use model::ServiceError;
use model::alert::{AlertList, AlertQuery, AlertRecord};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::BoxFuture;
use protocol::MetricSample;
use tokio::sync::broadcast;

use super::{blocking, store_error};
use crate::cluster::Cluster;
use crate::samples::decode_sample;
use crate::store::{Store, StoreError, history};
use model::history::MetricHistory;

/// At most `points` samples spread over `from..=to`: the first sample of each of `points`
/// equal slices. Empty stretches cost one lookup, so this is at most `points` seeks.
pub fn sample_series(
    store: &dyn Store,
    node: u64,
    from: u64,
    to: u64,
    points: usize,
) -> Result<Vec<(u64, MetricSample)>, StoreError> {
    let mut out = Vec::new();
    if points == 0 || from > to {
        return Ok(out);
    }
    let span = (to - from).saturating_add(1);
    let step = span.div_ceil(points as u64).max(1);
    let mut start = from;
    while let Some(row) = store.samples(node, start, to, 1)?.pop() {
        match decode_sample(&row.bytes) {
            Ok(sample) => out.push((row.taken_at_ms, sample)),
            Err(e) => tracing::warn!(node, at = row.taken_at_ms, "undecodable sample: {e}"),
        }
        let slice = (row.taken_at_ms - from) / step;
        let next = from.saturating_add(slice.saturating_add(1).saturating_mul(step));
        if next > to || next <= row.taken_at_ms || out.len() >= points {
            break;
        }
        start = next;
    }
    Ok(out)
}

impl model::service::Cluster for Cluster {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        Box::pin(async move { Ok(self.node_views()) })
    }

    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        Box::pin(async move { Ok(self.node_view(id)) })
    }

    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>> {
        let store = Arc::clone(self.store());
        Box::pin(async move {
            let sizes = blocking(move || Ok(store.sizes())).await?;
            Ok(StorageView {
                data_bytes: sizes.data_bytes,
                performance_bytes: sizes.performance_bytes,
            })
        })
    }

    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>> {
        let store = Arc::clone(self.store());
        Box::pin(blocking(move || {
            sample_series(store.as_ref(), id, from_ms, to_ms, points).map_err(store_error)
        }))
    }

    fn metric_history(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<MetricHistory, ServiceError>> {
        let store = Arc::clone(self.store());
        let keep = self.history_policy().keep;
        let now = self.now_ms();
        Box::pin(blocking(move || {
            history::history(store.as_ref(), id, from_ms, to_ms, points, &keep, now)
                .map_err(store_error)
        }))
    }

    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        self.subscribe_live()
    }

    fn alerts(&self, query: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        Box::pin(async move { self.alert_list(query).await.map_err(store_error) })
    }

    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        self.subscribe_alerts()
    }

    fn master_counters(&self) -> model::node::MasterCounters {
        Cluster::master_counters(self)
    }
}
