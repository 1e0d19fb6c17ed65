//! Commander's web console and REST API.
//!
//! [`router`] builds the whole HTTP surface on top of the master's [`model::Services`]
//! (one object of `dyn` services: cluster, operations, data, accounts, audit) and the
//! console's HTTP settings ([`ConsoleSettings`]); [`serve()`] and [`serve_tls`] run it on a
//! listener until a shutdown future completes. Handlers parse, call one service, render:
//! the rules are the master's.
//!
//! Every route is declared once in [`routes`] with its [`Access`]; the same declaration
//! gives the router, the route table a test walks, and the OpenAPI document served at
//! `GET /api/v1/openapi.json` ([`openapi`]). Only the login
//! and registration pages and calls, the health check, static assets and the projects'
//! deploy webhook (authenticated by its signature, see [`projects::webhook`]) are
//! [`Access::Public`]; everything else passes `auth::guard::require_user` (session cookie or
//! `Authorization: Bearer` with a session token or, on the JSON API, an API token limited to
//! its scope (see [`tokens`] and [`routes::TokenAccess`]), plus CSRF on state-changing
//! cookie requests). Unauthenticated
//! API calls answer 401 `{"error": ...}`; unauthenticated pages redirect to `/login` (to
//! `/register` while no user was ever registered). The table is public so that a test can
//! walk it.
//!
//! Every response carries the headers in [`SECURITY_HEADERS`]; unknown paths answer a JSON
//! 404 under `/api` and an HTML 404 elsewhere.

pub mod alert_pages;
pub mod alert_rules;
pub mod alerts;
pub mod alerts_page;
pub mod api;
pub mod assets;
pub mod auth;
pub mod channels;
pub mod channels_page;
pub mod channels_text;
pub mod data;
pub mod data_page;
pub mod detail;
pub mod format;
pub mod gateways;
pub mod i18n;
pub mod listing;
pub mod live;
pub mod manage;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod project_pages;
pub mod projects;
pub mod prometheus;
pub mod records;
pub mod routes;
pub mod serve;
pub mod sse;
pub mod state;
pub mod tokens;
pub mod tokens_page;

pub use assets::STATIC_CACHE_CONTROL;
pub use auth::{Auth, ConsoleSettings};
pub use routes::{Access, RouteInfo};
pub use serve::{HttpLimits, TlsError, load_tls_config, serve, serve_tls};
pub use state::AppState;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The console's stylesheet, embedded in the binary.
pub const STYLESHEET: &str = include_str!("../static/commander.css");
/// The console's script (confirmations), embedded in the binary. The CSP forbids inline
/// scripts, so every script lives here.
pub const SCRIPT: &str = include_str!("../static/commander.js");

/// Headers added to every response, page, API or error alike.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// Builds the console and API router over the master's `services`, with `settings`.
pub fn router(services: model::Services, settings: ConsoleSettings) -> Router {
    router_with_table(services, settings).0
}

/// [`router`] and its route table (see [`routes`]).
pub fn router_with_table(
    services: model::Services,
    settings: ConsoleSettings,
) -> (Router, Vec<RouteInfo>) {
    let auth = Arc::new(Auth::new(&services, settings));
    let state = AppState {
        services,
        auth: Arc::clone(&auth),
    };
    let table = routes::declare(routes::Table::new(Some(Arc::clone(&auth))));
    let (router, table, _) = table.into_parts();
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(auth, auth::guard::edge))
        .layer(middleware::from_fn(security_headers));
    (router, table)
}

/// Whether `path` is for programs: the JSON API, and the Prometheus exposition
/// ([`prometheus::METRICS_PATH`]). Their errors are JSON, they take API tokens, and an
/// anonymous call answers 401 instead of a redirect to the login page.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == prometheus::METRICS_PATH
}

/// Fallback for paths no route matches.
async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    tracing::debug!(%method, %uri, "no route");
    if is_api_path(uri.path()) {
        api::not_found().into_response()
    } else {
        pages::not_found()
    }
}

/// Fallback for known paths asked with a method they do not support.
async fn method_not_allowed(uri: axum::http::Uri) -> Response {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    if is_api_path(uri.path()) {
        api::ApiError::new(status, "method not allowed").into_response()
    } else {
        pages::ErrorPage::response(status, "This address does not accept that method.")
    }
}

/// Middleware adding [`SECURITY_HEADERS`] to every response.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
