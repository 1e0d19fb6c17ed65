//! The master's implementations of the [`model::service`] traits, and [`services`], which
//! bundles them into the one [`model::Services`] the console and the command line use.
//!
//! | trait | implemented by |
//! |---|---|
//! | [`model::service::Cluster`] | [`crate::cluster::Cluster`] ([`cluster`]) |
//! | [`model::service::Operations`] | [`OperationsService`] ([`operations`]) |
//! | [`model::service::DataAdmin`] | [`DataService`] ([`data`]) |
//! | [`model::service::Accounts`], [`model::service::AuditLog`] | [`crate::accounts::AccountService`] |
//! | [`model::service::Projects`] | [`crate::projects::service_traits::ProjectsApi`] |
//! | [`model::channel::Channels`] | [`crate::alerts::channels::ChannelService`] |
//! | [`model::service::AlertRules`] | [`crate::alerts::service::AlertingService`] |

pub mod cluster;
pub mod data;
pub mod operations;

use std::sync::Arc;

use model::clock::Clock;
use model::{ServiceError, Services};

pub use data::{DataFiles, DataService, StoreFiles};
pub use operations::{NodeDispatch, OperationsService};

use crate::accounts::{AccountService, AuthStore};
use crate::cluster::Cluster;
use crate::store::StoreError;

/// Every service of a master over `cluster`, with accounts and the audit log in
/// `accounts`, projects and gateways in `projects`, notification channels in `channels`,
/// and alert rules in `alerting`.
pub fn services(
    cluster: &Cluster,
    accounts: Arc<AccountService>,
    account_store: Arc<dyn AuthStore>,
    projects: Arc<dyn model::service::Projects>,
    channels: Arc<dyn model::channel::Channels>,
    alerting: Arc<dyn model::service::AlertRules>,
    clock: Arc<dyn Clock>,
) -> Services {
    let audit: Arc<dyn model::service::AuditLog> = accounts.clone();
    Services {
        cluster: Arc::new(cluster.clone()),
        ops: Arc::new(OperationsService::new(
            Arc::new(cluster.clone()),
            Arc::clone(&audit),
        )),
        data: Arc::new(DataService::new(
            Arc::new(StoreFiles::new(
                Arc::clone(cluster.store()),
                Arc::clone(&clock),
            )),
            account_store,
            Arc::clone(&audit),
            Arc::clone(&clock),
        )),
        accounts,
        audit,
        projects,
        channels,
        alerting,
        clock,
    }
}

/// The audit entry of `caller`'s `action` on `target` (the audit log stamps the time).
pub(crate) fn audit_entry(
    caller: &model::ops::Caller,
    action: &str,
    target: &str,
    result: model::audit::AuditResult,
    detail: String,
) -> model::audit::AuditEntry {
    model::audit::AuditEntry::new(&caller.user, action, target, &caller.client, result, detail)
        .via(caller.via.clone())
}

pub(crate) fn store_error(e: StoreError) -> ServiceError {
    ServiceError::Internal(format!("store: {e}"))
}

/// Runs `f` on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("store task failed: {e}")))?
}

#[cfg(test)]
mod tests;
