//! The API tokens page: the list, the creation form (the new token shown once, with a copy
//! button and a warning) and revocation with a confirmation page. The rules are the
//! master's (see [`crate::tokens`]); results and errors are shown on the page.
//!
//! - `GET /tokens`: the list and the form.
//! - `POST /tokens`: creates a token and shows the page with it, this once (the answer is
//!   `Cache-Control: no-store` like every signed-in page).
//! - `POST /tokens/{id}/revoke`: without `confirm=yes` shows the confirmation page; with it
//!   revokes and shows the page with a notice.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use model::token::{ApiToken, MAX_EXPIRY_DAYS, NewApiToken, TokenFailure};

use crate::auth::AuthContext;
use crate::format::format_rfc3339_ms;
use crate::i18n::{LangExt, Messages};
use crate::pages::Frame;
use crate::state::AppState;

/// Lifetimes offered by the form, in days; `0` stands for no expiry.
const EXPIRY_CHOICES: [u32; 5] = [7, 30, 90, 365, 0];
/// The lifetime selected unless the form said otherwise.
const DEFAULT_EXPIRY: &str = "90";

/// One token, formatted.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Scopes, comma-separated.
    pub scopes: String,
    /// Creator.
    pub creator: String,
    /// Creation time.
    pub created: String,
    /// Expiry, or "never".
    pub expires: String,
    /// Last use, or "never".
    pub last_used: String,
    /// Whether it expired.
    pub expired: bool,
}

/// One choice of the lifetime menu.
#[derive(Debug, Clone)]
pub struct ExpiryOption {
    /// Value sent (`never` or days).
    pub value: String,
    /// Label.
    pub label: String,
    /// Whether it is selected.
    pub selected: bool,
}

/// A token just created, shown once.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// The whole token.
    pub secret: String,
}

/// The tokens page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    /// The frame.
    pub frame: Frame,
    /// The tokens, newest first.
    pub rows: Vec<TokenRow>,
    /// The token just created, if any.
    pub created: Option<NewSecret>,
    /// The form's name (kept after an error).
    pub form_name: String,
    /// The form's scope.
    pub form_scope: String,
    /// The lifetime menu.
    pub expiry_options: Vec<ExpiryOption>,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

/// The confirmation page of a revocation.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "tokens_confirm.html")]
pub struct ConfirmPage {
    /// The frame.
    pub frame: Frame,
    /// The question.
    pub question: String,
    /// The token id.
    pub id: String,
}

/// Fields of the creation form.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `read`, `operate` or `admin`.
    #[serde(default)]
    pub scope: String,
    /// Days, or `never`.
    #[serde(default)]
    pub expires_in_days: String,
}

/// Fields of the revocation form.
#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    /// `yes` once confirmed.
    #[serde(default)]
    pub confirm: String,
}

fn when(t: &Messages, ms: Option<u64>) -> String {
    ms.and_then(format_rfc3339_ms)
        .unwrap_or_else(|| t.tokens_never.to_owned())
}

fn row(token: &ApiToken, now_ms: u64, t: &Messages) -> TokenRow {
    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
    TokenRow {
        id: token.id.clone(),
        name: token.name.clone(),
        scopes: scopes.join(", "),
        creator: token.creator.clone(),
        created: when(t, Some(token.created_at_ms)),
        expires: when(t, token.expires_at_ms),
        last_used: when(t, token.last_used_at_ms),
        expired: token.expired(now_ms),
    }
}

fn expiry_options(t: &Messages, selected: &str) -> Vec<ExpiryOption> {
    EXPIRY_CHOICES
        .iter()
        .map(|&days| {
            let (value, label) = if days == 0 {
                ("never".to_owned(), t.tokens_expiry_never.to_owned())
            } else {
                (
                    days.to_string(),
                    t.tokens_expiry_days.replace("{days}", &days.to_string()),
                )
            };
            ExpiryOption {
                selected: value == selected,
                value,
                label,
            }
        })
        .collect()
}

/// A token failure as a person reads it on the page.
fn explain(f: &TokenFailure, t: &Messages) -> String {
    match f {
        TokenFailure::Invalid(invalid) => match invalid.field.as_str() {
            "name" => t.tokens_err_name.to_owned(),
            "scopes" => t.tokens_err_scope.to_owned(),
            _ => t.tokens_err_expiry.to_owned(),
        },
        TokenFailure::NotFound(_) => t.tokens_err_not_found.to_owned(),
        TokenFailure::TooMany => t.tokens_err_too_many.to_owned(),
        TokenFailure::Forbidden => t.err_session_required.to_owned(),
        TokenFailure::Internal(e) => {
            tracing::error!("API tokens: {e}");
            t.err_internal.to_owned()
        }
    }
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    created: Option<NewSecret>,
    form: CreateForm,
    notice: String,
    error: String,
}

async fn render(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let t = ctx.lang().messages();
    let mut error = shown.error;
    let now = state.auth.now_ms();
    let rows = match state.services.accounts.api_tokens(&ctx.auth).await {
        Ok(tokens) => tokens.iter().map(|tok| row(tok, now, t)).collect(),
        Err(f) => {
            error = explain(&f, t);
            Vec::new()
        }
    };
    let mut frame = Frame::signed_in(ctx, "tokens", uri);
    frame.path = "/tokens".to_owned();
    let expiry = if shown.form.expires_in_days.is_empty() {
        DEFAULT_EXPIRY
    } else {
        shown.form.expires_in_days.as_str()
    };
    let page = TokensPage {
        frame,
        rows,
        created: shown.created,
        form_name: shown.form.name.clone(),
        form_scope: if shown.form.scope.is_empty() {
            "read".to_owned()
        } else {
            shown.form.scope.clone()
        },
        expiry_options: expiry_options(t, expiry),
        notice: shown.notice,
        error,
    };
    (status, page).into_response()
}

/// `GET /tokens`.
pub async fn page(State(state): State<AppState>, ctx: AuthContext, uri: Uri) -> Response {
    render(&state, &ctx, &uri, StatusCode::OK, Shown::default()).await
}

/// Reads the creation form: `never` is no expiry, anything else a day count.
fn parse_form(form: &CreateForm) -> Result<NewApiToken, model::Invalid> {
    let days = match form.expires_in_days.trim() {
        "never" => None,
        text => Some(
            text.parse::<i64>()
                .unwrap_or(i64::from(MAX_EXPIRY_DAYS) + 1),
        ),
    };
    NewApiToken::parse(&form.name, std::slice::from_ref(&form.scope), days)
}

/// `POST /tokens`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Response {
    let t = ctx.lang().messages();
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let outcome = match parse_form(&form) {
        Ok(new) => {
            state
                .services
                .accounts
                .create_api_token(&ctx.auth, new, ctx.client)
                .await
        }
        Err(invalid) => Err(TokenFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(made) => {
            let shown = Shown {
                notice: t.tokens_created.replace("{name}", &made.token.name),
                created: Some(NewSecret {
                    secret: made.secret,
                }),
                ..Shown::default()
            };
            render(&state, &ctx, &uri, StatusCode::OK, shown).await
        }
        Err(f) => {
            let status = crate::tokens::status_of(&f);
            let shown = Shown {
                error: explain(&f, t),
                form,
                ..Shown::default()
            };
            render(&state, &ctx, &uri, status, shown).await
        }
    }
}

/// `POST /tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let t = ctx.lang().messages();
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if form.confirm != "yes" {
        let tokens = match state.services.accounts.api_tokens(&ctx.auth).await {
            Ok(tokens) => tokens,
            Err(f) => {
                let status = crate::tokens::status_of(&f);
                let shown = Shown {
                    error: explain(&f, t),
                    ..Shown::default()
                };
                return render(&state, &ctx, &uri, status, shown).await;
            }
        };
        let Some(token) = tokens.into_iter().find(|tok| tok.id == id) else {
            let shown = Shown {
                error: t.tokens_err_not_found.to_owned(),
                ..Shown::default()
            };
            return render(&state, &ctx, &uri, StatusCode::NOT_FOUND, shown).await;
        };
        let mut frame = Frame::signed_in(&ctx, "tokens", &uri);
        frame.path = "/tokens".to_owned();
        return ConfirmPage {
            frame,
            question: t.tokens_confirm_question.replace("{name}", &token.name),
            id: token.id,
        }
        .into_response();
    }
    let (status, shown) = match state
        .services
        .accounts
        .revoke_api_token(&ctx.auth, &id, ctx.client)
        .await
    {
        Ok(token) => (
            StatusCode::OK,
            Shown {
                notice: t.tokens_revoked.replace("{name}", &token.name),
                ..Shown::default()
            },
        ),
        Err(f) => (
            crate::tokens::status_of(&f),
            Shown {
                error: explain(&f, t),
                ..Shown::default()
            },
        ),
    };
    render(&state, &ctx, &uri, status, shown).await
}
