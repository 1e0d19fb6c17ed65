//! The HTML side of authentication: `/login`, `/register`, `/logout` and `/account`.
//!
//! The login and registration forms exist before any session, so their CSRF defence is a
//! double-submit token: a random value in an HttpOnly, SameSite=Strict cookie that the form
//! must repeat. Everything after login uses the session's synchronizer token, checked by
//! `guard::require_user` before these handlers run.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::client::ClientAddr;
use super::console::Auth;
use super::cookies::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::failure::{localized, status_of};
use super::guard::AuthContext;
use crate::i18n::Lang;
use crate::i18n::LangExt;
use crate::pages::{ErrorPage, Frame};
use model::StoreFailure;
use model::account::AuthFailure;
use model::account::Issued;
use plumbing::secret::{constant_time_eq, random_hex};

/// Lifetime of the login form's CSRF cookie.
pub const LOGIN_CSRF_MAX_AGE_SECS: u64 = 3600;

/// An urlencoded form whose rejection is an HTML error page.
#[derive(Debug)]
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| PageForm(v))
            .map_err(|rej| ErrorPage::response(rej.status(), rej.body_text()))
    }
}

/// `?lang=` of the public pages.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The login page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The frame (no navigation).
    pub frame: Frame,
    /// The double-submit CSRF token.
    pub csrf: String,
    /// The name typed last time.
    pub username: String,
    /// What went wrong, if anything.
    pub error: String,
}

/// The first-start registration page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "register.html")]
pub struct RegisterPage {
    /// The frame (no navigation).
    pub frame: Frame,
    /// The double-submit CSRF token.
    pub csrf: String,
    /// The name typed last time.
    pub username: String,
    /// What went wrong, if anything.
    pub error: String,
}

/// The account page (password change).
#[derive(Debug, Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    /// The frame.
    pub frame: Frame,
    /// A success message.
    pub notice: String,
    /// What went wrong, if anything.
    pub error: String,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    lang: String,
}

/// The registration form.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    username: String,
    password: String,
    confirm: String,
    csrf: String,
    #[serde(default)]
    lang: String,
}

fn page_lang(explicit: Option<&str>, headers: &HeaderMap) -> Lang {
    explicit
        .and_then(Lang::parse)
        .unwrap_or_else(|| Lang::from_headers(headers))
}

/// The form token: the cookie's when it looks like ours, else a new one (and its cookie).
fn login_csrf(
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), StoreFailure> {
    if let Some(v) = cookies::get(headers, LOGIN_CSRF_COOKIE)
        && v.len() == 64
        && v.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok((v.to_owned(), None));
    }
    let token = random_hex(32).map_err(|e| StoreFailure(e.to_string()))?;
    let cookie = cookies::set(
        LOGIN_CSRF_COOKIE,
        &token,
        LOGIN_CSRF_MAX_AGE_SECS,
        auth.settings().secure_cookies,
    );
    Ok((token, cookie))
}

fn internal_page(e: &str) -> Response {
    tracing::error!("console: {e}");
    ErrorPage::response(
        StatusCode::INTERNAL_SERVER_ERROR,
        Lang::En.messages().err_internal,
    )
}

fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Redirects to `/` with the session cookie of `issued` (and the login CSRF cookie gone).
fn signed_in(auth: &Auth, issued: &Issued, to: &str) -> Response {
    let secure = auth.settings().secure_cookies;
    let age = issued
        .session
        .expires_at_ms
        .saturating_sub(issued.session.created_at_ms)
        / 1000;
    let mut response = Redirect::to(to).into_response();
    let headers = response.headers_mut();
    if let Some(c) = cookies::set(SESSION_COOKIE, &issued.token, age, secure) {
        headers.append(header::SET_COOKIE, c);
    }
    if let Some(c) = cookies::clear(LOGIN_CSRF_COOKIE, secure) {
        headers.append(header::SET_COOKIE, c);
    }
    response
}

/// `GET /login`.
pub async fn login_page(
    State(auth): State<Arc<Auth>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    match auth.registration_open().await {
        Ok(true) => return Redirect::to("/register").into_response(),
        Ok(false) => {}
        Err(e) => return internal_page(&e.0),
    }
    let (csrf, cookie) = match login_csrf(&auth, &headers) {
        Ok(v) => v,
        Err(e) => return internal_page(&e.0),
    };
    let lang = page_lang(q.lang.as_deref(), &headers);
    let page = LoginPage {
        frame: Frame::anonymous(lang),
        csrf,
        username: String::new(),
        error: String::new(),
    };
    with_cookie(page.into_response(), cookie)
}

/// `POST /login`.
pub async fn login_submit(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let lang = page_lang(Some(&form.lang), &headers);
    let t = lang.messages();
    let cookie_token = cookies::get(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let render = |status: StatusCode, error: String| {
        let page = LoginPage {
            frame: Frame::anonymous(lang),
            csrf: cookie_token.to_owned(),
            username: form.username.chars().take(64).collect(),
            error,
        };
        with_cookie((status, page).into_response(), None)
    };
    if cookie_token.is_empty() || !constant_time_eq(cookie_token, &form.csrf) {
        return ErrorPage::localized(StatusCode::FORBIDDEN, t.err_form_expired, lang);
    }

    match auth.login(&form.username, &form.password, client).await {
        Ok(issued) => signed_in(&auth, &issued, "/"),
        Err(failure) => render(status_of(&failure), localized(&failure, t)),
    }
}

/// `GET /register`.
pub async fn register_page(
    State(auth): State<Arc<Auth>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    match auth.registration_open().await {
        Ok(false) => return Redirect::to("/login").into_response(),
        Ok(true) => {}
        Err(e) => return internal_page(&e.0),
    }
    let (csrf, cookie) = match login_csrf(&auth, &headers) {
        Ok(v) => v,
        Err(e) => return internal_page(&e.0),
    };
    let page = RegisterPage {
        frame: Frame::anonymous(page_lang(q.lang.as_deref(), &headers)),
        csrf,
        username: String::new(),
        error: String::new(),
    };
    with_cookie(page.into_response(), cookie)
}

/// `POST /register`: creates the first user and signs them in.
pub async fn register_submit(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    PageForm(form): PageForm<RegisterForm>,
) -> Response {
    let lang = page_lang(Some(&form.lang), &headers);
    let t = lang.messages();
    let cookie_token = cookies::get(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || !constant_time_eq(cookie_token, &form.csrf) {
        return ErrorPage::localized(StatusCode::FORBIDDEN, t.err_form_expired, lang);
    }
    let render = |status: StatusCode, error: String| {
        let page = RegisterPage {
            frame: Frame::anonymous(lang),
            csrf: cookie_token.to_owned(),
            username: form.username.chars().take(64).collect(),
            error,
        };
        with_cookie((status, page).into_response(), None)
    };
    if form.password != form.confirm {
        return render(StatusCode::BAD_REQUEST, t.err_mismatch.to_owned());
    }

    match auth.register(&form.username, &form.password, client).await {
        Ok(_) => {}
        Err(AuthFailure::RegistrationClosed) => return Redirect::to("/login").into_response(),
        Err(failure) => return render(status_of(&failure), localized(&failure, t)),
    }
    match auth.login(&form.username, &form.password, client).await {
        Ok(issued) => signed_in(&auth, &issued, "/"),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// `POST /logout`.
pub async fn logout_submit(State(auth): State<Arc<Auth>>, ctx: AuthContext) -> Response {
    auth.logout(&ctx.auth, ctx.client).await;
    let mut response = Redirect::to("/login").into_response();
    if let Some(c) = cookies::clear(SESSION_COOKIE, auth.settings().secure_cookies) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// `?done=` of the account page.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

/// `GET /account`.
pub async fn account_page(ctx: AuthContext, uri: Uri, Query(q): Query<AccountQuery>) -> Response {
    let t = ctx.lang().messages();
    let notice = match q.done.as_deref() {
        Some("password") => t.password_changed,
        Some("language") => t.language_saved,
        _ => "",
    };
    AccountPage {
        frame: Frame::signed_in(&ctx, "account", &uri),
        notice: notice.to_owned(),
        error: String::new(),
    }
    .into_response()
}

/// The password change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account/password`: ends every session of the user and signs this browser in
/// again.
pub async fn password_submit(
    State(auth): State<Arc<Auth>>,
    ctx: AuthContext,
    uri: Uri,
    PageForm(form): PageForm<PasswordForm>,
) -> Response {
    let t = ctx.lang().messages();
    let render = |status: StatusCode, error: String| {
        let page = AccountPage {
            frame: Frame::signed_in(&ctx, "account", &uri),
            notice: String::new(),
            error,
        };
        (status, page).into_response()
    };
    if form.new != form.confirm {
        return render(StatusCode::BAD_REQUEST, t.err_mismatch.to_owned());
    }
    match auth
        .change_password(&ctx.auth, &form.current, &form.new, ctx.client)
        .await
    {
        Ok(issued) => signed_in(&auth, &issued, "/account?done=password"),
        Err(failure) => render(status_of(&failure), localized(&failure, t)),
    }
}

/// The language switch form.
#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Where to return after a form: a local path only (no scheme, no `//host`), in visible
/// ASCII (it becomes a `Location` header; the frame sends the already-encoded path).
pub fn local_path(back: &str) -> &str {
    let ok = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && back.chars().all(|c| c.is_ascii_graphic());
    if ok { back } else { "/" }
}

/// `POST /account/language`.
pub async fn language_submit(
    State(auth): State<Arc<Auth>>,
    ctx: AuthContext,
    PageForm(form): PageForm<LanguageForm>,
) -> Response {
    let Some(lang) = Lang::parse(&form.lang) else {
        return ErrorPage::response(StatusCode::BAD_REQUEST, "unknown language");
    };
    match auth.set_language(&ctx.auth, lang, ctx.client).await {
        Ok(()) => Redirect::to(local_path(&form.back)).into_response(),
        Err(failure) => {
            let status = status_of(&failure);
            ErrorPage::localized(status, localized(&failure, lang.messages()), lang)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/records?user=a"), "/records?user=a");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("/a\r\nSet-Cookie: x"), "/");
        assert_eq!(local_path(""), "/");
        assert_eq!(local_path("/é"), "/");
        assert_eq!(local_path("/a b"), "/");
    }
}
