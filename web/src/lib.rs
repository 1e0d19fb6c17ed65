//! Commander's web console and REST API.
//!
//! [`router`] builds the whole HTTP surface on top of the master's [`model::Services`]
//! (one object of `dyn` services: cluster, operations, data, accounts, audit) and the
//! console's HTTP settings ([`ConsoleSettings`]); [`serve()`] and [`serve_tls`] run it on a
//! listener until a shutdown future completes. Handlers parse, call one service, render:
//! the rules are the master's.
//!
//! Every route is declared once in [`router_with_table`] with its [`Access`]: only the login
//! and registration pages and calls, the health check and static assets are
//! [`Access::Public`]; everything else passes `auth::guard::require_user` (session cookie or
//! `Authorization: Bearer`, plus CSRF on state-changing cookie requests). Unauthenticated
//! API calls answer 401 `{"error": ...}`; unauthenticated pages redirect to `/login` (to
//! `/register` while no user was ever registered). The table is public so that a test can
//! walk it.
//!
//! Every response carries the headers in [`SECURITY_HEADERS`]; unknown paths answer a JSON
//! 404 under `/api` and an HTML 404 elsewhere.

pub mod alerts;
pub mod alerts_page;
pub mod api;
pub mod assets;
pub mod auth;
pub mod data;
pub mod data_page;
pub mod detail;
pub mod format;
pub mod i18n;
pub mod listing;
pub mod live;
pub mod manage;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod records;
pub mod serve;
pub mod sse;
pub mod state;

pub use assets::STATIC_CACHE_CONTROL;
pub use auth::{Auth, ConsoleSettings};
pub use serve::{TlsError, load_tls_config, serve, serve_tls};
pub use state::AppState;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
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

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: login, registration, health, static assets.
    Public,
    /// A signed-in user (cookie or Bearer token).
    User,
}

/// One entry of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

pub(crate) struct Table {
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
    auth: Arc<Auth>,
}

impl Table {
    pub(crate) fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = if method == Method::POST {
            MethodFilter::POST
        } else if method == Method::PUT {
            MethodFilter::PUT
        } else if method == Method::DELETE {
            MethodFilter::DELETE
        } else {
            MethodFilter::GET
        };
        let mut route = on(filter, handler);
        if access == Access::User {
            let guard =
                middleware::from_fn_with_state(Arc::clone(&self.auth), auth::guard::require_user);
            route = route.route_layer(guard);
        }
        self.router = self.router.route(path, route);
        self.routes.push(RouteInfo {
            method,
            path,
            access,
        });
        self
    }
}

/// Builds the console and API router over the master's `services`, with `settings`.
pub fn router(services: model::Services, settings: ConsoleSettings) -> Router {
    router_with_table(services, settings).0
}

/// [`router`] and its route table.
pub fn router_with_table(
    services: model::Services,
    settings: ConsoleSettings,
) -> (Router, Vec<RouteInfo>) {
    use Access::{Public, User};
    use auth::{forms, json};
    let auth = Arc::new(Auth::new(&services, settings));
    let state = AppState {
        services,
        auth: Arc::clone(&auth),
    };
    let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
    let t = Table {
        router: Router::new(),
        routes: Vec::new(),
        auth: Arc::clone(&auth),
    };
    let t = t
        .add(get.clone(), "/login", Public, forms::login_page)
        .add(post.clone(), "/login", Public, forms::login_submit)
        .add(get.clone(), "/register", Public, forms::register_page)
        .add(post.clone(), "/register", Public, forms::register_submit)
        .add(
            post.clone(),
            "/api/v1/auth/register",
            Public,
            json::register,
        )
        .add(post.clone(), "/api/v1/auth/login", Public, json::login)
        .add(get.clone(), "/api/v1/health", Public, api::health)
        .add(get.clone(), "/", User, pages::index)
        .add(get.clone(), "/slaves", User, pages::slaves)
        .add(get.clone(), "/slaves/{node}", User, detail::page)
        .add(get.clone(), "/docker", User, pages::docker)
        .add(
            get.clone(),
            "/slaves/{node}/processes",
            User,
            manage::processes,
        )
        .add(get.clone(), "/slaves/{node}/ports", User, manage::ports)
        .add(get.clone(), "/slaves/{node}/env", User, manage::env)
        .add(get.clone(), "/slaves/{node}/hosts", User, manage::hosts)
        .add(get.clone(), "/docker/{node}", User, manage::docker)
        .add(get.clone(), "/docker/{node}/images", User, manage::images)
        .add(
            get.clone(),
            "/docker/{node}/networks",
            User,
            manage::networks,
        )
        .add(get.clone(), "/docker/{node}/volumes", User, manage::volumes)
        .add(
            get.clone(),
            "/docker/{node}/containers/{id}",
            User,
            manage::container,
        )
        .add(get.clone(), "/records/tasks", User, manage::tasks)
        .add(get.clone(), "/data", User, data_page::page)
        .add(post.clone(), "/data/compact", User, data_page::compact)
        .add(
            post.clone(),
            "/data/compact/cancel",
            User,
            data_page::cancel_compaction,
        )
        .add(get.clone(), "/data/backup", User, data_page::backup)
        .add(post.clone(), "/data/reset", User, data_page::reset)
        .add(get.clone(), "/records", User, records::page)
        .add(get.clone(), "/alerts", User, alerts_page::page)
        .add(get.clone(), "/account", User, forms::account_page)
        .add(
            post.clone(),
            "/account/password",
            User,
            forms::password_submit,
        )
        .add(
            post.clone(),
            "/account/language",
            User,
            forms::language_submit,
        )
        .add(post.clone(), "/logout", User, forms::logout_submit)
        .add(get.clone(), "/api/v1/nodes", User, api::nodes)
        .add(get.clone(), "/api/v1/storage", User, api::storage)
        .add(get.clone(), "/api/v1/nodes/{node}", User, api::node)
        .add(
            get.clone(),
            "/api/v1/nodes/{node}/metrics",
            User,
            live::history,
        )
        .add(
            get.clone(),
            "/api/v1/nodes/{node}/metrics/stream",
            User,
            live::stream,
        )
        .add(
            post.clone(),
            "/api/v1/data/compact",
            User,
            data::api_compact,
        )
        .add(
            get.clone(),
            "/api/v1/data/compact",
            User,
            data::api_compaction_status,
        )
        .add(
            Method::DELETE,
            "/api/v1/data/compact",
            User,
            data::api_cancel_compaction,
        )
        .add(get.clone(), "/api/v1/data/backup", User, data::api_backup)
        .add(post.clone(), "/api/v1/data/reset", User, data::api_reset)
        .add(get.clone(), "/api/v1/openapi.json", User, openapi::document)
        .add(get.clone(), "/api/v1/audit", User, records::api)
        .add(get.clone(), "/api/v1/alerts", User, alerts::list)
        .add(get.clone(), "/api/v1/alerts/events", User, alerts::events)
        .add(get.clone(), "/api/v1/auth/me", User, json::me)
        .add(post.clone(), "/api/v1/auth/logout", User, json::logout)
        .add(post, "/api/v1/auth/password", User, json::change_password)
        .add(put, "/api/v1/auth/language", User, json::set_language);
    let t = ops::routes(t);
    let t = assets::ASSETS.iter().fold(t, |t, (path, _, _)| {
        t.add(Method::GET, path, Public, assets::serve)
    });
    let router = t
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(auth, auth::guard::edge))
        .layer(middleware::from_fn(security_headers));
    (router, t.routes)
}

/// Whether `path` belongs to the JSON API, whose errors are JSON too.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
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
