//! The router's shared state: the master's [`Backend`] and the console's [`Auth`].

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Auth;
use crate::backend::Backend;

/// State of every handler.
pub struct AppState<B> {
    /// The master.
    pub backend: Arc<B>,
    /// Authentication, sessions, audit.
    pub auth: Arc<Auth>,
    /// Node operations (see [`crate::ops`]).
    pub ops: Arc<dyn crate::ops::OpsBackend>,
}

impl<B> Clone for AppState<B> {
    fn clone(&self) -> Self {
        Self {
            backend: Arc::clone(&self.backend),
            auth: Arc::clone(&self.auth),
            ops: Arc::clone(&self.ops),
        }
    }
}

impl<B: Backend> FromRef<AppState<B>> for Arc<B> {
    fn from_ref(state: &AppState<B>) -> Self {
        Arc::clone(&state.backend)
    }
}

impl<B: Backend> FromRef<AppState<B>> for Arc<Auth> {
    fn from_ref(state: &AppState<B>) -> Self {
        Arc::clone(&state.auth)
    }
}
