//! The alert rule and silence pages, linked from the alerts page's tabs:
//!
//! - [`rules`]: `GET /alerts/rules` lists the rules; `/alerts/rules/new` and
//!   `/alerts/rules/{id}` create and edit one (errors shown next to their field, and
//!   checked in the browser first by `static/alerts.js` where it can);
//!   `POST /alerts/rules/{id}/delete` deletes one;
//! - [`silences`]: `GET /alerts/silences` lists the silences in effect and creates one;
//!   `POST /alerts/silences/{id}/delete` deletes one.
//!
//! Every change goes through [`model::service::AlertRules`], like the JSON API.

pub mod rules;
pub mod silences;
pub mod text;

use serde::Deserialize;

use text::AlertsText;

/// `?done=` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    /// Which change succeeded.
    #[serde(default)]
    pub done: String,
}

impl DoneQuery {
    /// The notice of `done` in `a`'s language; empty for an unknown key.
    pub fn notice(&self, a: &AlertsText) -> String {
        match self.done.as_str() {
            "created" => a.done_created,
            "saved" => a.done_saved,
            "deleted" => a.done_deleted,
            "silenced" => a.done_silenced,
            "unsilenced" => a.done_unsilenced,
            _ => "",
        }
        .to_owned()
    }
}

/// The text of a failure, and its HTTP status.
pub fn explain(
    f: &model::alert_rule::AlertFailure,
    a: &AlertsText,
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    use model::alert_rule::AlertFailure as F;
    match f {
        F::Invalid(e) => (StatusCode::BAD_REQUEST, e.message.clone()),
        F::NotFound(m) => (StatusCode::NOT_FOUND, format!("{} {m}", a.err_not_found)),
        F::Full(m) => (StatusCode::CONFLICT, m.clone()),
        F::Service(e) => (crate::api::backend_status(e), e.to_string()),
    }
}
