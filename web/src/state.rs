//! The router's shared state: the master's [`Services`] and the console's [`Auth`].

use std::sync::Arc;

use axum::extract::FromRef;
use model::Services;

use crate::auth::Auth;

/// State of every handler.
#[derive(Clone)]
pub struct AppState {
    /// What the master offers: cluster, operations, data, accounts, audit.
    pub services: Services,
    /// Accounts and sessions as the handlers use them, with the HTTP settings.
    pub auth: Arc<Auth>,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.auth)
    }
}

impl FromRef<AppState> for Arc<dyn model::service::Cluster> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.services.cluster)
    }
}
