//! The master's side of the web seam: [`web::Backend`] for [`Cluster`]. Everything here
//! answers from memory or on a blocking thread, never blocking the tokio workers.

use crate::cluster::Cluster;
use std::sync::Arc;
use web::backend::{Backend, BackendError, NodeView, StorageView};

impl Backend for Cluster {
    async fn nodes(&self) -> Result<Vec<NodeView>, BackendError> {
        Ok(self.node_views())
    }

    async fn storage(&self) -> Result<StorageView, BackendError> {
        let store = Arc::clone(self.store());
        let sizes = tokio::task::spawn_blocking(move || store.sizes())
            .await
            .map_err(|e| BackendError::Internal(format!("store task failed: {e}")))?;
        Ok(StorageView {
            data_bytes: sizes.data_bytes,
            performance_bytes: sizes.performance_bytes,
        })
    }
}
