//! The JSON side of authentication under `/api/v1/auth`: register, login (answering
//! `{"token"}`), logout, password change, language, and who am I.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::client::ClientAddr;
use super::console::Auth;
use super::cookies::{self, SESSION_COOKIE};
use super::failure::status_of;
use super::guard::{AuthContext, Via};
use crate::api::{ApiError, ApiJson};
use crate::format::format_rfc3339_ms;
use crate::i18n::Lang;
use model::account::AuthFailure;
use model::account::Issued;

/// Body of register and login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Body of a password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password in use.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// Body of a language change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LanguageChange {
    /// `en` or `zh-CN`.
    pub lang: String,
}

/// Answer of login and password change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Token)]
pub struct TokenReply {
    /// The session token: send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// When it expires, Unix ms.
    pub expires_at_ms: u64,
    /// When it expires, RFC 3339.
    pub expires_at: Option<String>,
}

/// Answer of `POST /api/v1/auth/register`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    /// The new user's name.
    pub username: String,
}

/// Answer of `GET /api/v1/auth/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me<'a> {
    /// User name.
    pub username: &'a str,
    /// Console language.
    pub lang: Lang,
    /// When this session (or API token) expires, Unix ms; `null` for an API token that
    /// never expires.
    pub session_expires_at_ms: Option<u64>,
    /// The API token the request used, `token:ID (name)`; absent for a session.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub via: String,
}

fn failure(f: &AuthFailure) -> Response {
    let status = status_of(f);
    let mut response = ApiError::new(status, f.to_string()).into_response();
    let retry_after = match f {
        AuthFailure::Locked(left) => Some(left.as_secs().max(1)),
        AuthFailure::Throttled | AuthFailure::Busy => Some(1),
        _ => None,
    };
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn token_reply(issued: &Issued) -> TokenReply {
    TokenReply {
        token: issued.token.clone(),
        expires_at_ms: issued.session.expires_at_ms,
        expires_at: format_rfc3339_ms(issued.session.expires_at_ms),
    }
}

/// `POST /api/v1/auth/register` → 201 `{"username"}`; 403 once a user exists.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "post /api/v1/auth/register",
    tag = "auth",
    summary = "Create the first (administrator) account; refused with 403 once one exists (counted, not audited); bodies over 16 KiB get 413.",
    request_body = crate::auth::json::Credentials,
    responses(
        (status = 201, description = "Done.", body = crate::auth::json::Registered),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn register(
    State(auth): State<Arc<Auth>>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Response {
    match auth.register(&body.username, &body.password, client).await {
        Ok(user) => (
            StatusCode::CREATED,
            Json(Registered {
                username: user.username,
            }),
        )
            .into_response(),
        Err(f) => failure(&f),
    }
}

/// `POST /api/v1/auth/login` → `{"token", "expires_at_ms", "expires_at"}`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "post /api/v1/auth/login",
    tag = "auth",
    summary = "Log in; the token is accepted as `Authorization: Bearer` on every route. Five failures from one address lock it out (429); a second login in flight from the address or for the name gets 429, a full hashing queue 503; bodies over 16 KiB get 413.",
    request_body = crate::auth::json::Credentials,
    responses(
        (status = 200, description = "Done.", body = crate::auth::json::TokenReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn login(
    State(auth): State<Arc<Auth>>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Response {
    match auth.login(&body.username, &body.password, client).await {
        Ok(issued) => no_store(Json(token_reply(&issued)).into_response()),
        Err(f) => failure(&f),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/v1/auth/logout` → `{"status":"logged out"}`; the token is refused from now on.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "post /api/v1/auth/logout",
    tag = "auth",
    summary = "End this session; its token is refused afterwards.",
    responses(
        (status = 200, description = "Done.", body = crate::api::StatusReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn logout(State(auth): State<Arc<Auth>>, ctx: AuthContext) -> Response {
    auth.logout(&ctx.auth, ctx.client).await;
    let mut response = Json(crate::api::StatusReply {
        status: "logged out",
    })
    .into_response();
    if ctx.via == Via::Cookie
        && let Some(c) = cookies::clear(SESSION_COOKIE, auth.settings().secure_cookies)
    {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// `POST /api/v1/auth/password` → a new token; every older session of the user ends.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    operation_id = "post /api/v1/auth/password",
    tag = "auth",
    summary = "Change the password; every session of the user ends and a new token is issued.",
    request_body = crate::auth::json::PasswordChange,
    responses(
        (status = 200, description = "Done.", body = crate::auth::json::TokenReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn change_password(
    State(auth): State<Arc<Auth>>,
    ctx: AuthContext,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Response {
    match auth
        .change_password(
            &ctx.auth,
            &body.current_password,
            &body.new_password,
            ctx.client,
        )
        .await
    {
        Ok(issued) => {
            let mut response = no_store(Json(token_reply(&issued)).into_response());
            if ctx.via == Via::Cookie {
                let age = issued
                    .session
                    .expires_at_ms
                    .saturating_sub(issued.session.created_at_ms)
                    / 1000;
                let secure = auth.settings().secure_cookies;
                if let Some(c) = cookies::set(SESSION_COOKIE, &issued.token, age, secure) {
                    response.headers_mut().append(header::SET_COOKIE, c);
                }
            }
            response
        }
        Err(f) => failure(&f),
    }
}

/// `GET /api/v1/auth/me`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    operation_id = "get /api/v1/auth/me",
    tag = "auth",
    summary = "The signed-in user.",
    responses(
        (status = 200, description = "Done.", body = crate::auth::json::Me),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn me(ctx: AuthContext) -> Response {
    Json(Me {
        username: ctx.username(),
        lang: ctx.lang(),
        session_expires_at_ms: ctx.auth.expires_at_ms(),
        via: ctx.via(),
    })
    .into_response()
}

/// `PUT /api/v1/auth/language` with `{"lang": "zh-CN"}` → 204.
#[utoipa::path(
    put,
    path = "/api/v1/auth/language",
    operation_id = "put /api/v1/auth/language",
    tag = "auth",
    summary = "Set the console language of the user (`en` or `zh-CN`).",
    request_body = crate::auth::json::LanguageChange,
    responses(
        (status = 204, description = "Done."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn set_language(
    State(auth): State<Arc<Auth>>,
    ctx: AuthContext,
    ApiJson(body): ApiJson<LanguageChange>,
) -> Response {
    let Some(lang) = Lang::parse(&body.lang) else {
        return ApiError::new(StatusCode::BAD_REQUEST, "lang must be en or zh-CN").into_response();
    };
    match auth.set_language(&ctx.auth, lang, ctx.client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(f) => failure(&f),
    }
}
