//! Request-level protection: the client address and cross-site check every request goes
//! through ([`edge`]), and the authentication and CSRF check of protected routes
//! ([`require_user`]).
//!
//! # Credentials
//!
//! A request is authenticated by `Authorization: Bearer TOKEN` when that header is present
//! (the cookie is then ignored), else by the `commander_session` cookie. Both carry the same
//! JWT and go through the same validation ([`Auth::authenticate`]).
//!
//! # API tokens
//!
//! A Bearer token may also be an API token (`cmdr_…`, see `model::token`). It is accepted
//! on the JSON API only (a page answers as if no credential was sent) and only within its
//! scope: each route's guard knows the scope a token needs ([`Guard::token_scope`], from
//! the route table's `TokenAccess`). A token lacking it gets 403 with a JSON error naming
//! both scopes, and the refusal is audited (`http.scope`); a route no token may call
//! (account steps) answers 403 too. The request then acts as the token's creator, and
//! audit entries name the token ([`AuthContext::via`]).
//!
//! # CSRF
//!
//! State-changing requests (anything but GET, HEAD, OPTIONS) authenticated by the cookie
//! must carry the session's synchronizer token, in the `X-CSRF-Token` header (scripts of
//! the pages) or, for HTML forms, in the `csrf` field of an urlencoded body. Requests
//! authenticated by a Bearer header are exempt: a browser never attaches that header on
//! its own, and a cross-origin page cannot set it without a CORS preflight, which the
//! console never approves. Requests carrying both are treated as Bearer requests, so a
//! forged request would still need the token itself. On top of that, [`edge`] refuses
//! state-changing requests a browser labels `Sec-Fetch-Site: cross-site` or `same-site`,
//! and the cookie is `SameSite=Strict`. The login and registration forms have no session
//! yet and use a double-submit cookie instead (see `auth::handlers`); their JSON twins only
//! accept `Content-Type: application/json`, which a cross-origin form cannot send without a
//! preflight.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::client::{ClientAddr, client_ip, forwarded_https};
use super::console::Auth;
use super::cookies::{self, SESSION_COOKIE};
use crate::i18n::Lang;
use crate::{api, is_api_path, pages};
use model::account::{Authenticated, Rejected};
use model::audit::{AuditEntry, AuditResult, actions};
use model::ops::Caller;
use model::token::Scope;
use plumbing::secret::constant_time_eq;

/// Header carrying the CSRF token of scripted requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Largest urlencoded form body read for its CSRF field.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The session cookie (a browser).
    Cookie,
    /// `Authorization: Bearer` (a script).
    Bearer,
}

/// The signed-in user of a protected request, placed in its extensions by
/// [`require_user`]. Handlers take it as an extractor.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// User and session.
    pub auth: Authenticated,
    /// How the request authenticated.
    pub via: Via,
    /// The client address.
    pub client: IpAddr,
}

impl AuthContext {
    /// The user's name.
    pub fn username(&self) -> &str {
        &self.auth.user.username
    }

    /// The user's language.
    pub fn lang(&self) -> Lang {
        self.auth.user.lang
    }

    /// The session's CSRF token (for forms and the page's `<meta>`); empty for an API
    /// token, which never reaches a page.
    pub fn csrf(&self) -> &str {
        self.auth.session_record().map_or("", |s| s.csrf.as_str())
    }

    /// How the audit log names the credential when it is not a session
    /// (`token:ID (name)`), else empty.
    pub fn via(&self) -> String {
        self.auth.via()
    }

    /// Who asks, for the master's audit record and tasks.
    pub fn caller(&self) -> Caller {
        Caller {
            user: self.username().to_owned(),
            client: self.client.to_string(),
            via: self.via(),
        }
    }

    /// An audit entry for an operation by this user from this client, stamped when
    /// written: `state.auth.record(ctx.event("docker.remove", id, AuditResult::Ok, ""))`.
    pub fn event(
        &self,
        action: &str,
        target: &str,
        result: AuditResult,
        detail: &str,
    ) -> AuditEntry {
        AuditEntry::new(
            self.username(),
            action,
            target,
            self.client,
            result,
            detail.to_owned(),
        )
        .via(self.via())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .ok_or_else(|| {
                // Only reachable if a protected handler was mounted without the guard.
                tracing::error!(path = %parts.uri.path(), "handler without authentication guard");
                unauthorized_api(Rejected::Missing)
            })
    }
}

/// The client address of a request (set by [`edge`]; unspecified when missing).
pub fn client_of(headers_ext: &axum::http::Extensions) -> IpAddr {
    headers_ext
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a browser says the request comes from another site.
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v, "cross-site" | "same-site"))
}

/// Middleware on every request: resolves the client address and refuses cross-site
/// state-changing requests.
pub async fn edge(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    let trusted = &auth.settings().trusted_proxies;
    let (client, via_https_proxy) = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => (
            client_ip(peer.ip(), request.headers(), trusted),
            forwarded_https(peer.ip(), request.headers(), trusted),
        ),
        None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), false),
    };
    request.extensions_mut().insert(ClientAddr(client));
    if !is_safe(request.method()) && cross_site(request.headers()) {
        tracing::warn!(%client, path = %request.uri().path(), "cross-site request refused");
        return forbidden(request.uri().path(), "cross-site request refused");
    }
    let mut response = next.run(request).await;
    if via_https_proxy {
        cookies::mark_secure(response.headers_mut());
    }
    response
}

fn forbidden(path: &str, message: &str) -> Response {
    if is_api_path(path) {
        api::ApiError::new(StatusCode::FORBIDDEN, message).into_response()
    } else {
        pages::ErrorPage::response(StatusCode::FORBIDDEN, message)
    }
}

fn unauthorized_api(why: Rejected) -> Response {
    let mut response = api::ApiError::new(StatusCode::UNAUTHORIZED, why.describe()).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of `Authorization: Bearer TOKEN`: `None` without the header, `Some(Err)` for
/// another scheme.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ());
    Some(text.and_then(|t| match t.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(()),
    }))
}

/// The guard of one protected route: the accounts, and the scope an API token needs to
/// call the route (`None`: no token may).
#[derive(Debug, Clone)]
pub struct Guard {
    /// Accounts and sessions.
    pub auth: Arc<Auth>,
    /// What an API token needs here.
    pub token_scope: Option<Scope>,
}

/// The 403 of an API token outside its scope, or `None` when the token may go on.
fn token_refusal(
    held: Scope,
    needed: Option<Scope>,
    method: &Method,
    path: &str,
) -> Option<String> {
    match needed {
        None => Some(format!(
            "{method} {path} needs a console session; API tokens cannot call it"
        )),
        Some(needed) if !held.covers(needed) => Some(format!(
            "this API token has the {held} scope; {method} {path} needs the {needed} scope"
        )),
        Some(_) => None,
    }
}

/// Middleware of protected routes: authenticates, holds API tokens to the route's scope,
/// checks CSRF, and places an [`AuthContext`] in the request.
pub async fn require_user(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let auth = guard.auth;
    let path = request.uri().path().to_owned();
    let api = is_api_path(&path);
    let client = client_of(request.extensions());
    let (token, via) = match bearer(request.headers()) {
        Some(Ok(token)) => (Some(token.to_owned()), Via::Bearer),
        Some(Err(())) => return unauthorized_api(Rejected::Invalid),
        None => (
            cookies::get(request.headers(), SESSION_COOKIE).map(str::to_owned),
            Via::Cookie,
        ),
    };
    let had_cookie = token.is_some() && via == Via::Cookie;
    let verdict = match token {
        Some(token) => auth.authenticate(&token).await,
        None => Err(Rejected::Missing),
    };
    // API tokens are for the JSON API, sent as Bearer: in a cookie or on a page one counts
    // as no credential.
    let verdict = verdict.and_then(|a| {
        if a.api_token().is_some() && (!api || via != Via::Bearer) {
            Err(Rejected::Invalid)
        } else {
            Ok(a)
        }
    });
    let authenticated = match verdict {
        Ok(a) => a,
        Err(why) => {
            if let Rejected::Internal(e) = &why {
                tracing::error!("session check failed: {e}");
            }
            return if api {
                unauthorized_api(why)
            } else {
                to_login(&auth, had_cookie).await
            };
        }
    };
    if authenticated.api_token().is_some()
        && let Some(message) = token_refusal(
            authenticated.scope(),
            guard.token_scope,
            request.method(),
            &path,
        )
    {
        let ctx = AuthContext {
            auth: authenticated,
            via,
            client,
        };
        let event = ctx.event(
            actions::SCOPE_REFUSED,
            &format!("{} {path}", request.method()),
            AuditResult::Denied,
            &message,
        );
        auth.record(event).await;
        return forbidden(&path, &message);
    }
    let mut request = request;
    if via == Via::Cookie && !is_safe(request.method()) {
        let expected = authenticated
            .session_record()
            .map_or_else(String::new, |s| s.csrf.clone());
        let (checked, ok) = check_csrf(request, &expected).await;
        request = checked;
        if !ok {
            let ctx = AuthContext {
                auth: authenticated,
                via,
                client,
            };
            let event = ctx.event(
                actions::CSRF_REFUSED,
                &path,
                AuditResult::Denied,
                "missing or wrong CSRF token",
            );
            auth.record(event).await;
            tracing::warn!(%client, %path, "CSRF check failed");
            return forbidden(&path, "missing or wrong CSRF token");
        }
    }
    request.extensions_mut().insert(AuthContext {
        auth: authenticated,
        via,
        client,
    });
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Where an unauthenticated page request goes: registration while no user was ever
/// registered, else the login page. A stale session cookie is removed.
async fn to_login(auth: &Auth, had_cookie: bool) -> Response {
    let target = match auth.registration_open().await {
        Ok(true) => "/register",
        _ => "/login",
    };
    let mut response = Redirect::to(target).into_response();
    if had_cookie
        && let Some(clear) = cookies::clear(SESSION_COOKIE, auth.settings().secure_cookies)
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// Checks the CSRF token of `request` against `expected`; returns the request (its body
/// restored when it had to be read) and the verdict.
async fn check_csrf(request: Request, expected: &str) -> (Request, bool) {
    if expected.is_empty() {
        return (request, false);
    }
    if let Some(sent) = request.headers().get(CSRF_HEADER) {
        let ok = sent.to_str().is_ok_and(|s| constant_time_eq(s, expected));
        return (request, ok);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (Request::from_parts(parts, Body::empty()), false);
    };
    let ok = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == CSRF_FIELD))
        .is_some_and(|(_, v)| constant_time_eq(&v, expected));
    (Request::from_parts(parts, Body::from(bytes)), ok)
}
