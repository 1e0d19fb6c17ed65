//! Commander's web console and REST API.
//!
//! [`router`] builds the whole HTTP surface on top of a [`Backend`] (the seam to the master);
//! [`serve`] runs it on a listener until a shutdown future completes.
//!
//! - `GET /api/v1/nodes`, `GET /api/v1/health`: JSON ([`api`]).
//! - `GET /`: the server-rendered console ([`pages`]), styled by `GET /static/commander.css`.
//! - Unknown paths: a JSON 404 under `/api`, an HTML 404 elsewhere.
//!
//! Every response carries the headers in [`SECURITY_HEADERS`].

pub mod api;
pub mod backend;
pub mod format;
pub mod pages;

pub use backend::{Backend, BackendError, NodeView};

use axum::Router;
use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;

/// The console's stylesheet, embedded in the binary.
pub const STYLESHEET: &str = include_str!("../static/commander.css");

/// `Cache-Control` for embedded static assets. Their URLs are not fingerprinted, so keep
/// the lifetime short enough for an upgrade to show within minutes.
pub const STATIC_CACHE_CONTROL: &str = "public, max-age=300";

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

/// Builds the console and API router over `backend`.
pub fn router<B: Backend>(backend: Arc<B>) -> Router {
    Router::new()
        .route("/", get(pages::index::<B>))
        .route("/api/v1/nodes", get(api::nodes::<B>))
        .route("/api/v1/health", get(api::health))
        .route("/static/commander.css", get(stylesheet))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(backend)
        .layer(middleware::from_fn(security_headers))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "web console listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// `GET /static/commander.css`.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, STATIC_CACHE_CONTROL),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Whether `path` belongs to the JSON API, whose errors are JSON too.
fn is_api_path(path: &str) -> bool {
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
