//! The notification channel pages: `GET /alerts/channels` lists the channels, each with a
//! test button (a form posting to `/alerts/channels/{name}/test`; the channels script sends
//! it to the API instead and shows the answer in place), and the recent deliveries with
//! their outcomes. `GET`/`POST /alerts/channels/new` and `/alerts/channels/{name}/edit` are
//! the form (the fields of the chosen type shown, a refusal written next to its field);
//! `POST /alerts/channels/{name}/delete` asks for confirmation first. The rules are the
//! master's, behind [`model::channel::Channels`].

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use model::Invalid;
use model::alert::NotificationStatus;
use model::channel::{
    ChannelFailure, ChannelInput, ChannelType, ChannelView, DeliveryOutcome, DeliveryQuery,
    DeliveryRecord,
};
use serde::Deserialize;

use crate::auth::AuthContext;
use crate::channels_text::{ChannelsText, channels_text};
use crate::format::format_rfc3339_ms;
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// Deliveries the list page shows.
pub const PAGE_DELIVERIES: usize = 50;

/// A channel type as a page names it.
pub fn type_label(kind: ChannelType, c: &ChannelsText) -> &'static str {
    match kind {
        ChannelType::Webhook => c.type_webhook,
        ChannelType::Email => c.type_email,
        ChannelType::Dingtalk => c.type_dingtalk,
        ChannelType::Wecom => c.type_wecom,
        ChannelType::Feishu => c.type_feishu,
    }
}

/// One channel, formatted.
#[derive(Debug, Clone)]
pub struct ChannelRow {
    /// Name.
    pub name: String,
    /// Type, translated.
    pub kind: &'static str,
    /// The URL's origin, or `user@host:port → recipients`.
    pub target: String,
    /// `set`, `not set` (translated), empty when the type has none.
    pub secret: &'static str,
}

impl ChannelRow {
    /// `v` formatted.
    pub fn new(v: &ChannelView, c: &ChannelsText) -> Self {
        let target = match v.kind {
            ChannelType::Email => format!(
                "{}:{} → {}",
                v.host.clone().unwrap_or_default(),
                v.port.unwrap_or_default(),
                v.to.clone().unwrap_or_default().join(", ")
            ),
            _ => v.url_origin.clone().unwrap_or_default(),
        };
        let secret = match v.kind {
            ChannelType::Wecom => "",
            ChannelType::Email if v.password_set => c.set,
            ChannelType::Email => c.not_set,
            _ if v.secret_set => c.set,
            _ => c.not_set,
        };
        Self {
            name: v.name.clone(),
            kind: type_label(v.kind, c),
            target,
            secret,
        }
    }
}

/// One delivery, formatted.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Queued at, RFC 3339.
    pub time: String,
    /// Channel name.
    pub channel: String,
    /// Channel type, translated (`unknown` when no such channel).
    pub kind: &'static str,
    /// Rule name (`test` for a test).
    pub rule: String,
    /// Whether it was a test.
    pub test: bool,
    /// `firing` / `resolved`, translated.
    pub status: &'static str,
    /// `pending`, `delivered` or `failed` (the API's name, for the badge and tests).
    pub outcome_key: &'static str,
    /// The same, translated.
    pub outcome: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// Last error.
    pub error: String,
}

/// `outcome`'s API name and label.
pub fn outcome_label(outcome: DeliveryOutcome, c: &ChannelsText) -> (&'static str, &'static str) {
    match outcome {
        DeliveryOutcome::Pending => ("pending", c.outcome_pending),
        DeliveryOutcome::Delivered => ("delivered", c.outcome_delivered),
        DeliveryOutcome::Failed => ("failed", c.outcome_failed),
    }
}

impl DeliveryRow {
    /// `d` formatted.
    pub fn new(d: &DeliveryRecord, c: &ChannelsText) -> Self {
        let (outcome_key, outcome) = outcome_label(d.outcome, c);
        Self {
            time: format_rfc3339_ms(d.queued_at_ms).unwrap_or_default(),
            channel: d.channel.clone(),
            kind: d.kind.map_or(c.unknown_channel, |k| type_label(k, c)),
            rule: d.rule.clone(),
            test: d.test,
            status: match d.status {
                NotificationStatus::Firing => c.status_firing,
                NotificationStatus::Resolved => c.status_resolved,
            },
            outcome_key,
            outcome,
            attempts: d.attempts,
            error: d.last_error.clone(),
        }
    }
}

/// The channels list with the recent deliveries.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "channels/list.html")]
pub struct ChannelsPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub c: &'static ChannelsText,
    /// The strings as JSON, for the script.
    pub labels: String,
    /// Every channel.
    pub rows: Vec<ChannelRow>,
    /// Recent deliveries.
    pub deliveries: Vec<DeliveryRow>,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

/// The channel form's fields as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Webhook URL (empty on an edit: keep).
    pub url: String,
    /// Secret (empty on an edit: keep).
    pub secret: String,
    /// SMTP host.
    pub host: String,
    /// SMTP port (empty: the security's default).
    pub port: String,
    /// `starttls`, `tls`, `none`.
    pub security: String,
    /// SMTP login.
    pub username: String,
    /// SMTP password (empty on an edit: keep).
    pub password: String,
    /// Sender.
    pub from: String,
    /// Recipients, one per line.
    pub to: String,
}

fn some(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl ChannelForm {
    /// The form of a new channel.
    pub fn blank() -> Self {
        Self {
            kind: "webhook".to_owned(),
            security: "starttls".to_owned(),
            ..Self::default()
        }
    }

    /// The form of `v` (no secret: they are never shown).
    pub fn of(v: &ChannelView) -> Self {
        Self {
            name: v.name.clone(),
            kind: v.kind.as_str().to_owned(),
            host: v.host.clone().unwrap_or_default(),
            port: v.port.map(|p| p.to_string()).unwrap_or_default(),
            security: v.security.map_or("starttls", |s| s.as_str()).to_owned(),
            username: v.username.clone().unwrap_or_default(),
            from: v.from.clone().unwrap_or_default(),
            to: v.to.clone().unwrap_or_default().join("\n"),
            ..Self::default()
        }
    }

    /// The API input: only the chosen type's fields; empty secrets left out (kept).
    pub fn to_input(&self, c: &ChannelsText) -> Result<ChannelInput, Invalid> {
        let mut input = ChannelInput {
            name: self.name.trim().to_owned(),
            kind: self.kind.clone(),
            ..ChannelInput::default()
        };
        match ChannelType::parse(&self.kind) {
            Some(ChannelType::Email) => {
                input.host = some(&self.host);
                input.port = match some(&self.port) {
                    None => None,
                    Some(p) => Some(p.parse().map_err(|_| Invalid::new("port", c.err_port))?),
                };
                input.security = some(&self.security);
                input.username = some(&self.username);
                input.password = (!self.password.is_empty()).then(|| self.password.clone());
                input.from = some(&self.from);
                input.to = Some(
                    self.to
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                );
            }
            Some(kind) => {
                input.url = some(&self.url);
                if kind != ChannelType::Wecom {
                    input.secret = (!self.secret.is_empty()).then(|| self.secret.clone());
                }
            }
            None => {}
        }
        Ok(input)
    }
}

/// One entry of the type menu.
#[derive(Debug, Clone)]
pub struct TypeChoice {
    /// The API's name.
    pub value: &'static str,
    /// Translated.
    pub label: &'static str,
    /// Selected.
    pub selected: bool,
}

/// The channel form.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "channels/form.html")]
pub struct ChannelFormPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub c: &'static ChannelsText,
    /// `New channel` or `Edit channel ops`.
    pub title: String,
    /// Whether an existing channel is edited.
    pub editing: bool,
    /// Where the form posts.
    pub action: String,
    /// The fields.
    pub form: ChannelForm,
    /// The type menu.
    pub types: Vec<TypeChoice>,
    /// On an edit: a URL is stored, and the hint naming its origin.
    pub url_keep: String,
    /// On an edit: a secret is stored.
    pub secret_kept: bool,
    /// On an edit: a password is stored.
    pub password_kept: bool,
    /// Why the form was refused.
    pub error: String,
    /// The field at fault (`url`, `to`, ...), for the message next to it.
    pub error_field: String,
}

/// The delete confirmation.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "channels/confirm.html")]
pub struct ConfirmPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub c: &'static ChannelsText,
    /// The question.
    pub question: String,
    /// Where the confirmation posts.
    pub action: String,
}

/// A channels failure as a person reads it, with the status the page answers.
pub fn explain(f: &ChannelFailure, c: &ChannelsText) -> (StatusCode, String) {
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = match f {
        ChannelFailure::Invalid(e) => format!("{}: {}", e.field, e.message),
        ChannelFailure::NotFound(m) => format!("{} {m}", c.err_not_found),
        ChannelFailure::Conflict(m) => format!("{} {m}", c.err_conflict),
        ChannelFailure::Store(m) => {
            tracing::warn!(error = %m, "channels store failed");
            c.err_store.to_owned()
        }
    };
    (status, text)
}

/// `?done=`.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    /// Which action succeeded.
    #[serde(default)]
    pub done: String,
}

impl DoneQuery {
    fn notice(&self, c: &ChannelsText) -> String {
        match self.done.as_str() {
            "created" => c.done_created,
            "saved" => c.done_saved,
            "deleted" => c.done_deleted,
            _ => "",
        }
        .to_owned()
    }
}

/// Renders the list with `notice` or `error`.
async fn show_list(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    notice: String,
    mut error: String,
) -> Response {
    let c = channels_text(ctx.lang());
    let mut status = StatusCode::OK;
    let rows = match state.services.channels.list().await {
        Ok(list) => list.iter().map(|v| ChannelRow::new(v, c)).collect(),
        Err(f) => {
            let (s, text) = explain(&f, c);
            status = s;
            error = text;
            Vec::new()
        }
    };
    let query = DeliveryQuery {
        channel: None,
        limit: Some(PAGE_DELIVERIES),
    };
    let deliveries = state
        .services
        .channels
        .deliveries(query)
        .await
        .unwrap_or_default()
        .iter()
        .map(|d| DeliveryRow::new(d, c))
        .collect();
    let mut frame = Frame::signed_in(ctx, "channels", uri);
    frame.path = "/alerts/channels".to_owned();
    let page = ChannelsPage {
        frame,
        c,
        labels: serde_json::to_string(c).unwrap_or_default(),
        rows,
        deliveries,
        notice,
        error,
    };
    (status, page).into_response()
}

/// `GET /alerts/channels?done=`.
pub async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let c = channels_text(ctx.lang());
    let notice = query.map(|Query(q)| q.notice(c)).unwrap_or_default();
    show_list(&state, &ctx, &uri, notice, String::new()).await
}

/// `POST /alerts/channels/{name}/test`: one attempt, its outcome on the list.
pub async fn test(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    let c = channels_text(ctx.lang());
    match state.services.channels.test(&ctx.caller(), &name).await {
        Ok(d) if d.outcome == DeliveryOutcome::Delivered => {
            let notice = c.test_delivered.replace("{name}", &name);
            show_list(&state, &ctx, &uri, notice, String::new()).await
        }
        Ok(d) => {
            let error = format!(
                "{} {}",
                c.test_failed.replace("{name}", &name),
                d.last_error
            );
            show_list(&state, &ctx, &uri, String::new(), error).await
        }
        Err(f) => {
            let (_, text) = explain(&f, c);
            show_list(&state, &ctx, &uri, String::new(), text).await
        }
    }
}

/// Renders the form.
fn show_form(
    ctx: &AuthContext,
    uri: &Uri,
    editing: Option<&ChannelView>,
    form: ChannelForm,
    failure: Option<&ChannelFailure>,
) -> Response {
    let c = channels_text(ctx.lang());
    let (status, error, error_field) = match failure {
        None => (StatusCode::OK, String::new(), String::new()),
        Some(f) => {
            let (status, text) = explain(f, c);
            let field = match f {
                ChannelFailure::Invalid(e) => {
                    e.field.split('[').next().unwrap_or_default().to_owned()
                }
                _ => String::new(),
            };
            (status, text, field)
        }
    };
    let (title, action) = match editing {
        Some(v) => (
            c.edit_title.replace("{name}", &v.name),
            format!("/alerts/channels/{}/edit", v.name),
        ),
        None => (c.new_title.to_owned(), "/alerts/channels/new".to_owned()),
    };
    let same_type = |v: &&ChannelView| v.kind.as_str() == form.kind;
    let kept = editing.filter(same_type);
    let url_keep = kept
        .filter(|v| v.url_set)
        .map(|v| {
            c.f_url_keep
                .replace("{origin}", v.url_origin.as_deref().unwrap_or_default())
        })
        .unwrap_or_default();
    let types = ChannelType::ALL
        .iter()
        .map(|t| TypeChoice {
            value: t.as_str(),
            label: type_label(*t, c),
            selected: t.as_str() == form.kind,
        })
        .collect();
    let mut frame = Frame::signed_in(ctx, "channels", uri);
    frame.path.clone_from(&action);
    let page = ChannelFormPage {
        frame,
        c,
        title,
        editing: editing.is_some(),
        action,
        types,
        url_keep,
        secret_kept: kept.is_some_and(|v| v.secret_set),
        password_kept: kept.is_some_and(|v| v.password_set),
        form,
        error,
        error_field,
    };
    (status, page).into_response()
}

fn form_of(form: Result<Form<ChannelForm>, FormRejection>) -> ChannelForm {
    form.map(|Form(f)| f).unwrap_or_default()
}

/// Channel `name`, or the error page.
async fn find(state: &AppState, ctx: &AuthContext, name: &str) -> Result<ChannelView, Response> {
    let c = channels_text(ctx.lang());
    state.services.channels.get(name).await.map_err(|f| {
        let (status, text) = explain(&f, c);
        ErrorPage::localized(status, text, ctx.lang())
    })
}

/// `GET /alerts/channels/new`.
pub async fn new(ctx: AuthContext, uri: Uri) -> Response {
    show_form(&ctx, &uri, None, ChannelForm::blank(), None)
}

/// `POST /alerts/channels/new`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<ChannelForm>, FormRejection>,
) -> Response {
    let c = channels_text(ctx.lang());
    let form = form_of(form);
    let outcome = match form.to_input(c) {
        Ok(input) => state.services.channels.create(&ctx.caller(), input).await,
        Err(invalid) => Err(ChannelFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => Redirect::to("/alerts/channels?done=created").into_response(),
        Err(f) => show_form(&ctx, &uri, None, form, Some(&f)),
    }
}

/// `GET /alerts/channels/{name}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    match find(&state, &ctx, &name).await {
        Ok(v) => show_form(&ctx, &uri, Some(&v), ChannelForm::of(&v), None),
        Err(page) => page,
    }
}

/// `POST /alerts/channels/{name}/edit`.
pub async fn save(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<ChannelForm>, FormRejection>,
) -> Response {
    let c = channels_text(ctx.lang());
    let current = match find(&state, &ctx, &name).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let mut form = form_of(form);
    form.name.clone_from(&name);
    let outcome = match form.to_input(c) {
        Ok(input) => {
            state
                .services
                .channels
                .update(&ctx.caller(), &name, input)
                .await
        }
        Err(invalid) => Err(ChannelFailure::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => Redirect::to("/alerts/channels?done=saved").into_response(),
        Err(f) => show_form(&ctx, &uri, Some(&current), form, Some(&f)),
    }
}

/// The delete form: `confirm=yes` acts.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    /// `yes` once confirmed.
    #[serde(default)]
    pub confirm: String,
}

/// `POST /alerts/channels/{name}/delete`: confirmation first, then removal.
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(name): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let c = channels_text(ctx.lang());
    let confirmed = form.is_ok_and(|Form(f)| f.confirm == "yes");
    let v = match find(&state, &ctx, &name).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if !confirmed {
        let mut frame = Frame::signed_in(&ctx, "channels", &uri);
        frame.path = "/alerts/channels".to_owned();
        return ConfirmPage {
            frame,
            c,
            question: c.confirm_delete.replace("{name}", &v.name),
            action: format!("/alerts/channels/{}/delete", v.name),
        }
        .into_response();
    }
    match state.services.channels.delete(&ctx.caller(), &name).await {
        Ok(()) => Redirect::to("/alerts/channels?done=deleted").into_response(),
        Err(f) => {
            let (status, text) = explain(&f, c);
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels_text::EN;

    #[test]
    fn the_form_sends_only_the_chosen_types_fields() {
        let form = ChannelForm {
            name: " ops ".into(),
            kind: "wecom".into(),
            url: "https://h/x".into(),
            secret: "ignored".into(),
            host: "ignored".into(),
            ..ChannelForm::blank()
        };
        let input = form.to_input(&EN).unwrap();
        assert_eq!(input.name, "ops");
        assert_eq!(input.url.as_deref(), Some("https://h/x"));
        assert_eq!(input.secret, None);
        assert_eq!(input.host, None);
        let mail = ChannelForm {
            name: "m".into(),
            kind: "email".into(),
            host: "smtp.example.com".into(),
            port: "x".into(),
            ..ChannelForm::blank()
        };
        assert_eq!(mail.to_input(&EN).unwrap_err().field, "port");
        let mail = ChannelForm {
            port: "2525".into(),
            to: "a@example.com\n\n b@example.com \n".into(),
            ..mail
        };
        let input = mail.to_input(&EN).unwrap();
        assert_eq!(input.port, Some(2525));
        assert_eq!(
            input.to,
            Some(vec!["a@example.com".into(), "b@example.com".into()])
        );
        assert_eq!(input.password, None, "empty password: keep");
    }
}
