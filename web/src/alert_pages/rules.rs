//! The rules list and the rule editor (see [`super`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use model::Invalid;
use model::alert::Severity;
use model::alert_rule::{AlertFailure, AlertRuleRecord, Metric, Op, RuleInput, Scope};
use serde::Deserialize;

use super::text::{AlertsText, alerts_text};
use super::{DoneQuery, explain};
use crate::auth::AuthContext;
use crate::pages::{ErrorPage, Frame};
use crate::state::AppState;

/// One rule, formatted.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Metric label.
    pub metric: &'static str,
    /// `> 90 for 120 s`, empty for an event.
    pub condition: String,
    /// Scope for people.
    pub scope: String,
    /// `info`, `warning` or `critical` (badge class).
    pub severity_key: &'static str,
    /// The same, translated.
    pub severity: &'static str,
    /// Channels, comma separated, or `–`.
    pub channels: String,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Written at the first start.
    pub builtin: bool,
}

impl RuleRow {
    /// `r` formatted in `a`'s language.
    pub fn new(r: &AlertRuleRecord, a: &AlertsText) -> Self {
        let condition = if r.metric.is_event() {
            String::new()
        } else {
            let mut c = format!("{} {}", r.op.as_str(), r.threshold);
            if r.recover_threshold != r.threshold {
                c.push_str(&format!(" (↺ {})", r.recover_threshold));
            }
            if r.for_s > 0 {
                c.push_str(&format!(" · {} s", r.for_s));
            }
            c
        };
        Self {
            id: r.id,
            name: r.name.clone(),
            metric: a.metric(r.metric),
            condition,
            scope: scope_label(&r.scope, a),
            severity_key: r.severity.as_str(),
            severity: a.severity(r.severity),
            channels: if r.channels.is_empty() {
                a.none.to_owned()
            } else {
                r.channels.join(", ")
            },
            enabled: r.enabled,
            builtin: r.builtin,
        }
    }
}

fn scope_label(scope: &Scope, a: &AlertsText) -> String {
    match scope {
        Scope::All(_) => a.scope_all.to_owned(),
        Scope::Node(n) => format!("{} #{n}", a.scope_node),
        Scope::Label(l) => format!("{} {l}", a.scope_label),
        Scope::Project(p) => format!("{} {p}", a.scope_project),
    }
}

/// The rules list.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "alert_rules.html")]
pub struct RulesPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub a: &'static AlertsText,
    /// Every rule.
    pub rows: Vec<RuleRow>,
    /// A success message.
    pub notice: String,
}

/// `GET /alerts/rules?done=`.
pub async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    let a = alerts_text(ctx.lang());
    match state.services.alerting.rules().await {
        Ok(rules) => RulesPage {
            frame: Frame::signed_in(&ctx, "alerts", &uri),
            a,
            rows: rules.iter().map(|r| RuleRow::new(r, a)).collect(),
            notice: query.map(|Query(q)| q.notice(a)).unwrap_or_default(),
        }
        .into_response(),
        Err(f) => {
            let (status, text) = explain(&f, a);
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}

/// The rule form, as sent (every field text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    /// Name.
    pub name: String,
    /// Metric key.
    pub metric: String,
    /// `all`, `node`, `label` or `project`.
    pub scope: String,
    /// The scope's node id, label or project.
    pub scope_value: String,
    /// `>`, `>=`, `<`, `<=`.
    pub op: String,
    /// Threshold.
    pub threshold: String,
    /// Seconds.
    pub for_s: String,
    /// Recovery threshold (empty: the threshold).
    pub recover_threshold: String,
    /// Severity key.
    pub severity: String,
    /// Channel names, by line or comma.
    pub channels: String,
    /// `on` when checked.
    pub enabled: String,
}

impl RuleForm {
    /// A new rule's form.
    pub fn blank() -> Self {
        Self {
            metric: Metric::CpuTotalPct.as_str().to_owned(),
            scope: "all".into(),
            op: ">".into(),
            for_s: "60".into(),
            severity: Severity::Warning.as_str().into(),
            enabled: "on".into(),
            ..Self::default()
        }
    }

    /// The form of an existing rule.
    pub fn of(r: &AlertRuleRecord) -> Self {
        let (scope, scope_value) = match &r.scope {
            Scope::All(_) => ("all", String::new()),
            Scope::Node(n) => ("node", n.to_string()),
            Scope::Label(l) => ("label", l.clone()),
            Scope::Project(p) => ("project", p.clone()),
        };
        let event = r.metric.is_event();
        let num = |v: f64| if event { String::new() } else { v.to_string() };
        Self {
            name: r.name.clone(),
            metric: r.metric.as_str().to_owned(),
            scope: scope.into(),
            scope_value,
            op: r.op.as_str().into(),
            threshold: num(r.threshold),
            for_s: if event {
                String::new()
            } else {
                r.for_s.to_string()
            },
            recover_threshold: if event || r.recover_threshold == r.threshold {
                String::new()
            } else {
                r.recover_threshold.to_string()
            },
            severity: r.severity.as_str().into(),
            channels: r.channels.join("\n"),
            enabled: if r.enabled {
                "on".into()
            } else {
                String::new()
            },
        }
    }

    /// The input this form describes, or the first field the page itself can tell is
    /// wrong (a number that is not one); the rest is the service's to check.
    pub fn to_input(&self, a: &AlertsText) -> Result<RuleInput, Invalid> {
        let event = Metric::parse(self.metric.trim()).is_some_and(Metric::is_event);
        let number = |field: &str, v: &str| -> Result<Option<f64>, Invalid> {
            let v = v.trim();
            if v.is_empty() || event {
                return Ok(None);
            }
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| Invalid::new(field, format!("{field}: {}", a.err_number)))
        };
        let for_s = match self.for_s.trim() {
            "" => None,
            _ if event => None,
            v => Some(
                v.parse::<u64>()
                    .map_err(|_| Invalid::new("for_s", format!("for_s: {}", a.err_whole_number)))?,
            ),
        };
        let value = self.scope_value.trim();
        let scope_err = || Invalid::new("scope", format!("scope: {}", a.err_scope_value));
        let scope = match self.scope.as_str() {
            "" | "all" => serde_json::json!({"all": true}),
            "node" => serde_json::json!({"node": value.parse::<u64>().map_err(|_| scope_err())?}),
            "label" if !value.is_empty() => serde_json::json!({"label": value}),
            "project" if !value.is_empty() => serde_json::json!({"project": value}),
            _ => return Err(scope_err()),
        };
        Ok(RuleInput {
            name: self.name.clone(),
            metric: self.metric.clone(),
            scope: Some(scope),
            op: (!event).then(|| self.op.clone()),
            threshold: number("threshold", &self.threshold)?,
            for_s,
            recover_threshold: number("recover_threshold", &self.recover_threshold)?,
            severity: Some(self.severity.clone()),
            channels: self
                .channels
                .split(['\n', ','])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            enabled: Some(self.enabled == "on"),
        })
    }
}

/// One `<option>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Value sent.
    pub value: &'static str,
    /// Label shown.
    pub label: &'static str,
    /// Whether it is the form's.
    pub selected: bool,
}

/// The rule editor.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "alert_rule_form.html")]
pub struct RuleFormPage {
    /// The frame.
    pub frame: Frame,
    /// The page's strings.
    pub a: &'static AlertsText,
    /// Heading.
    pub title: String,
    /// Where the form posts.
    pub action: String,
    /// Editing an existing rule (shows the delete button).
    pub editing: Option<u64>,
    /// The form's values.
    pub form: RuleForm,
    /// Metrics and events.
    pub metrics: Vec<Choice>,
    /// Scopes.
    pub scopes: Vec<Choice>,
    /// Comparisons.
    pub ops: Vec<Choice>,
    /// Severities.
    pub severities: Vec<Choice>,
    /// The error, if the last attempt failed.
    pub error: String,
    /// The field at fault (`name`, `metric`, ...), empty when none.
    pub error_field: String,
}

fn choices(values: &[(&'static str, &'static str)], selected: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: *value == selected,
        })
        .collect()
}

fn show_form(
    ctx: &AuthContext,
    uri: &Uri,
    editing: Option<u64>,
    form: RuleForm,
    failure: Option<&AlertFailure>,
) -> Response {
    let a = alerts_text(ctx.lang());
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
    let (title, action) = match editing {
        Some(id) => (
            a.edit_rule_title.replace("{name}", &form.name),
            format!("/alerts/rules/{id}"),
        ),
        None => (a.new_rule_title.to_owned(), "/alerts/rules/new".to_owned()),
    };
    let metrics: Vec<(&'static str, &'static str)> = Metric::ALL
        .iter()
        .map(|m| (m.as_str(), a.metric(*m)))
        .collect();
    let ops: Vec<(&'static str, &'static str)> = [Op::Gt, Op::Ge, Op::Lt, Op::Le]
        .iter()
        .map(|o| (o.as_str(), o.as_str()))
        .collect();
    let severities: Vec<(&'static str, &'static str)> =
        [Severity::Info, Severity::Warning, Severity::Critical]
            .iter()
            .map(|s| (s.as_str(), a.severity(*s)))
            .collect();
    let scopes = [
        ("all", a.scope_all),
        ("node", a.scope_node),
        ("label", a.scope_label),
        ("project", a.scope_project),
    ];
    let mut frame = Frame::signed_in(ctx, "alerts", uri);
    frame.path.clone_from(&action);
    let page = RuleFormPage {
        frame,
        a,
        title,
        action,
        editing,
        metrics: choices(&metrics, &form.metric),
        scopes: choices(&scopes, &form.scope),
        ops: choices(&ops, &form.op),
        severities: choices(&severities, &form.severity),
        form,
        error,
        error_field,
    };
    (status, page).into_response()
}

fn form_of(form: Result<Form<RuleForm>, FormRejection>) -> RuleForm {
    form.map(|Form(f)| f).unwrap_or_default()
}

fn id_of(raw: &str) -> Option<u64> {
    raw.parse().ok().filter(|id| *id > 0)
}

fn not_found(ctx: &AuthContext, raw: &str) -> Response {
    let a = alerts_text(ctx.lang());
    ErrorPage::localized(
        StatusCode::NOT_FOUND,
        format!("{} {raw}", a.err_not_found),
        ctx.lang(),
    )
}

/// `GET /alerts/rules/new`.
pub async fn new(ctx: AuthContext, uri: Uri) -> Response {
    show_form(&ctx, &uri, None, RuleForm::blank(), None)
}

/// `POST /alerts/rules/new`.
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<RuleForm>, FormRejection>,
) -> Response {
    let a = alerts_text(ctx.lang());
    let form = form_of(form);
    let outcome = match form.to_input(a) {
        Ok(input) => {
            state
                .services
                .alerting
                .create_rule(&ctx.caller(), input)
                .await
        }
        Err(e) => Err(AlertFailure::Invalid(e)),
    };
    match outcome {
        Ok(_) => Redirect::to("/alerts/rules?done=created").into_response(),
        Err(f) => show_form(&ctx, &uri, None, form, Some(&f)),
    }
}

/// `GET /alerts/rules/{id}`.
pub async fn edit(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = id_of(&raw) else {
        return not_found(&ctx, &raw);
    };
    match state.services.alerting.rule(id).await {
        Ok(rule) => show_form(&ctx, &uri, Some(id), RuleForm::of(&rule), None),
        Err(f) => {
            let (status, text) = explain(&f, alerts_text(ctx.lang()));
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}

/// `POST /alerts/rules/{id}`.
pub async fn save(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    Path(raw): Path<String>,
    form: Result<Form<RuleForm>, FormRejection>,
) -> Response {
    let Some(id) = id_of(&raw) else {
        return not_found(&ctx, &raw);
    };
    let a = alerts_text(ctx.lang());
    let form = form_of(form);
    let outcome = match form.to_input(a) {
        Ok(input) => {
            state
                .services
                .alerting
                .update_rule(&ctx.caller(), id, input)
                .await
        }
        Err(e) => Err(AlertFailure::Invalid(e)),
    };
    match outcome {
        Ok(_) => Redirect::to("/alerts/rules?done=saved").into_response(),
        Err(f) => show_form(&ctx, &uri, Some(id), form, Some(&f)),
    }
}

/// `POST /alerts/rules/{id}/delete` (the page asks for confirmation in the browser).
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = id_of(&raw) else {
        return not_found(&ctx, &raw);
    };
    match state.services.alerting.delete_rule(&ctx.caller(), id).await {
        Ok(()) => Redirect::to("/alerts/rules?done=deleted").into_response(),
        Err(f) => {
            let (status, text) = explain(&f, alerts_text(ctx.lang()));
            ErrorPage::localized(status, text, ctx.lang())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_name_bad_numbers() {
        let a = alerts_text(crate::i18n::Lang::En);
        let mut form = RuleForm::blank();
        form.name = "cpu".into();
        form.threshold = "90".into();
        form.channels = "ops, pager\nops".into();
        let rule = form.to_input(a).unwrap().validate().unwrap();
        assert_eq!(rule.threshold, 90.0);
        assert_eq!(rule.channels, vec!["ops", "pager"]);
        assert_eq!(RuleForm::of(&rule).threshold, "90");
        form.threshold = "ninety".into();
        assert_eq!(form.to_input(a).unwrap_err().field, "threshold");
        form.threshold = "90".into();
        form.for_s = "1.5".into();
        assert_eq!(form.to_input(a).unwrap_err().field, "for_s");
        form.for_s = "60".into();
        form.scope = "node".into();
        form.scope_value = "x".into();
        assert_eq!(form.to_input(a).unwrap_err().field, "scope");
        form.scope_value = "3".into();
        assert_eq!(
            form.to_input(a).unwrap().validate().unwrap().scope,
            Scope::Node(3)
        );
        // An event needs no threshold.
        let event = RuleForm {
            name: "off".into(),
            metric: "node_offline".into(),
            threshold: "junk".into(),
            ..RuleForm::blank()
        };
        assert!(
            event
                .to_input(a)
                .unwrap()
                .validate()
                .unwrap()
                .metric
                .is_event()
        );
    }
}
