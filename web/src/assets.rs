//! Static assets embedded in the binary (no CDN, no build step): the stylesheet, the page
//! scripts and the vendored Chart.js with its licence. [`ASSETS`] lists them; the router
//! mounts each path publicly with [`serve`].

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// `Cache-Control` for embedded static assets. Their URLs are not fingerprinted, so keep
/// the lifetime short enough for an upgrade to show within minutes.
pub const STATIC_CACHE_CONTROL: &str = "public, max-age=300";

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every embedded asset: path, content type, bytes.
pub const ASSETS: [(&str, &str, &[u8]); 13] = [
    (
        "/static/commander.css",
        CSS,
        include_bytes!("../static/commander.css"),
    ),
    (
        "/static/commander.js",
        JS,
        include_bytes!("../static/commander.js"),
    ),
    ("/static/slave.js", JS, include_bytes!("../static/slave.js")),
    (
        "/static/channels.js",
        JS,
        include_bytes!("../static/channels.js"),
    ),
    (
        "/static/alerts.js",
        JS,
        include_bytes!("../static/alerts.js"),
    ),
    (
        "/static/projects.js",
        JS,
        include_bytes!("../static/projects.js"),
    ),
    ("/static/ops.css", CSS, include_bytes!("../static/ops.css")),
    (
        "/static/ops-common.js",
        JS,
        include_bytes!("../static/ops-common.js"),
    ),
    ("/static/host.js", JS, include_bytes!("../static/host.js")),
    (
        "/static/docker.js",
        JS,
        include_bytes!("../static/docker.js"),
    ),
    (
        "/static/container.js",
        JS,
        include_bytes!("../static/container.js"),
    ),
    (
        "/static/vendor/chart.min.js",
        JS,
        include_bytes!("../static/vendor/chart.min.js"),
    ),
    (
        "/static/vendor/chart.js.LICENSE.txt",
        TEXT,
        include_bytes!("../static/vendor/chart.js.LICENSE.txt"),
    ),
];

/// `GET` of any path in [`ASSETS`].
pub async fn serve(uri: Uri) -> Response {
    match ASSETS.iter().find(|(path, _, _)| *path == uri.path()) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, STATIC_CACHE_CONTROL),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
