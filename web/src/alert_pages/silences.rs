//! The silences page: the silences in effect, a form to add one (for a number of minutes
//! from now) and a delete button per silence (see [`super`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use model::Invalid;
use model::alert_rule::{AlertFailure, SilenceInput, SilenceRecord};
use serde::Deserialize;

use super::text::{AlertsText, alerts_text};
use super::{DoneQuery, explain};
use crate::auth::AuthContext;
use crate::format::format_rfc3339_ms;
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// One silence, formatted.
#[derive(Debug, Clone)]
pub struct SilenceRow {
    /// Id.
    pub id: u64,
    /// Rule reference.
    pub rule: String,
    /// `#N`, or every slave.
    pub node: String,
    /// When it ends (RFC 3339, UTC).
    pub until: String,
    /// Comment.
    pub comment: String,
    /// Who created it.
    pub by: String,
}

impl SilenceRow {
    /// `s` formatted in `a`'s language.
    pub fn new(s: &SilenceRecord, a: &AlertsText) -> Self {
        Self {
            id: s.id,
            rule: s.rule.clone(),
            node: s
                .node
                .map_or_else(|| a.any_node.to_owned(), |n| format!("#{n}")),
            until: format_rfc3339_ms(s.until_ms).unwrap_or_default(),
            comment: s.comment.clone(),
            by: s.created_by.clone(),
        }
    }
}

/// The silence form, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SilenceForm {
    /// Rule reference.
    pub rule: String,
    /// Node id, empty for every node.
    pub node: String,
    /// Minutes from now.
    pub minutes: String,
    /// Comment.
    pub comment: String,
}

impl SilenceForm {
    /// The input this form describes at `now_ms`, or the field the page can tell is wrong.
    pub fn to_input(&self, a: &AlertsText, now_ms: u64) -> Result<SilenceInput, Invalid> {
        let node = match self.node.trim() {
            "" => None,
            v => Some(
                v.parse::<u64>()
                    .map_err(|_| Invalid::new("node", format!("node: {}", a.err_whole_number)))?,
            ),
        };
        let minutes: u64 = self
            .minutes
            .trim()
            .parse()
            .map_err(|_| Invalid::new("until", format!("until: {}", a.err_whole_number)))?;
        Ok(SilenceInput {
            rule: self.rule.clone(),
            node,
            until: Some(now_ms.saturating_add(minutes.saturating_mul(60_000))),
            comment: self.comment.clone(),
        })
    }
}

/// The silences page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "alert_silences.html")]
pub struct SilencesPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub a: &'static AlertsText,
    /// The silences in effect.
    pub rows: Vec<SilenceRow>,
    /// The form's values.
    pub form: SilenceForm,
    /// A success message.
    pub notice: String,
    /// The error of the last attempt.
    pub error: String,
    /// The field at fault.
    pub error_field: String,
}

async fn show(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    form: SilenceForm,
    notice: String,
    failure: Option<&AlertFailure>,
) -> Response {
    let a = alerts_text(ctx.lang());
    let rows = match state.services.alerting.silences().await {
        Ok(list) => list.iter().map(|s| SilenceRow::new(s, a)).collect(),
        Err(f) => {
            let (status, text) = explain(&f, a);
            return ErrorPage::localized(status, text, ctx.lang());
        }
    };
    let (status, error, error_field) = match failure {
        None => (StatusCode::OK, String::new(), String::new()),
        Some(f) => {
            let (status, text) = explain(f, a);
            let field = match f {
                AlertFailure::Invalid(e) => e.field.clone(),
                _ => String::new(),
            };
            (status, text, field)
        }
    };
    let mut frame = Frame::signed_in(ctx, "alerts", uri);
    frame.path = "/alerts/silences".into();
    let page = SilencesPage {
        frame,
        a,
        rows,
        form,
        notice,
        error,
        error_field,
    };
    (status, page).into_response()
}

/// `GET /alerts/silences?done=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let a = alerts_text(ctx.lang());
    let notice = query.map(|Query(q)| q.notice(a)).unwrap_or_default();
    let form = SilenceForm {
        minutes: "60".into(),
        ..SilenceForm::default()
    };
    show(&state, &ctx, &uri, form, notice, None).await
}

/// `POST /alerts/silences`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<SilenceForm>, FormRejection>,
) -> Response {
    let a = alerts_text(ctx.lang());
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let outcome = match form.to_input(a, state.services.clock.now_ms()) {
        Ok(input) => {
            state
                .services
                .alerting
                .create_silence(&ctx.caller(), input)
                .await
        }
        Err(e) => Err(AlertFailure::Invalid(e)),
    };
    match outcome {
        Ok(_) => Redirect::to("/alerts/silences?done=silenced").into_response(),
        Err(f) => show(&state, &ctx, &uri, form, String::new(), Some(&f)).await,
    }
}

/// `POST /alerts/silences/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(raw): Path<String>,
) -> Response {
    let a = alerts_text(ctx.lang());
    let Some(id) = raw.parse::<u64>().ok().filter(|id| *id > 0) else {
        return ErrorPage::localized(
            StatusCode::NOT_FOUND,
            format!("{} {raw}", a.err_not_found),
            ctx.lang(),
        );
    };
    match state
        .services
        .alerting
        .delete_silence(&ctx.caller(), id)
        .await
    {
        Ok(()) => Redirect::to("/alerts/silences?done=unsilenced").into_response(),
        Err(f) => {
            let (status, text) = explain(&f, a);
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}
