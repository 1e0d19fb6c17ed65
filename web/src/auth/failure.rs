//! The texts of account failures in the user's language.

use axum::http::StatusCode;
use model::account::{AuthFailure, PasswordProblem, UsernameProblem};

use crate::i18n::Messages;

/// The HTTP status of `failure`, the same for pages and the JSON API (an internal failure
/// is logged here).
pub fn status_of(failure: &AuthFailure) -> StatusCode {
    match failure {
        AuthFailure::BadCredentials => StatusCode::UNAUTHORIZED,
        AuthFailure::Locked(_) | AuthFailure::Throttled => StatusCode::TOO_MANY_REQUESTS,
        AuthFailure::Busy => StatusCode::SERVICE_UNAVAILABLE,
        AuthFailure::RegistrationClosed
        | AuthFailure::WrongCurrentPassword
        | AuthFailure::SessionRequired => StatusCode::FORBIDDEN,
        AuthFailure::InvalidUsername(_) | AuthFailure::WeakPassword(_) => StatusCode::BAD_REQUEST,
        AuthFailure::Internal(e) => {
            tracing::error!("console auth: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Text of `failure` for a page in the user's language.
pub fn localized(failure: &AuthFailure, t: &Messages) -> String {
    match failure {
        AuthFailure::BadCredentials => t.err_credentials.to_owned(),
        AuthFailure::Locked(left) => {
            let minutes = left.as_secs().div_ceil(60).max(1);
            t.err_locked.replace("{minutes}", &minutes.to_string())
        }
        AuthFailure::RegistrationClosed => t.err_registration_closed.to_owned(),
        AuthFailure::InvalidUsername(UsernameProblem::Length) => t.err_username_length.to_owned(),
        AuthFailure::InvalidUsername(UsernameProblem::Characters) => {
            t.err_username_characters.to_owned()
        }
        AuthFailure::WeakPassword(p) => match p {
            PasswordProblem::TooShort => t.err_password_short,
            PasswordProblem::TooLong => t.err_password_long,
            PasswordProblem::OneKindOfCharacter => t.err_password_kinds,
            PasswordProblem::TooRepetitive => t.err_password_repetitive,
            PasswordProblem::ContainsUsername => t.err_password_username,
            PasswordProblem::Common => t.err_password_common,
        }
        .to_owned(),
        AuthFailure::WrongCurrentPassword => t.err_current_password.to_owned(),
        AuthFailure::Throttled => t.err_login_in_flight.to_owned(),
        AuthFailure::Busy => t.err_login_busy.to_owned(),
        AuthFailure::SessionRequired => t.err_session_required.to_owned(),
        AuthFailure::Internal(_) => t.err_internal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::account::Lang;

    #[test]
    fn english_texts_match_the_model_messages() {
        let t = crate::i18n::messages(Lang::En);
        let cases = [
            AuthFailure::BadCredentials,
            AuthFailure::Locked(std::time::Duration::from_secs(61)),
            AuthFailure::RegistrationClosed,
            AuthFailure::InvalidUsername(UsernameProblem::Length),
            AuthFailure::InvalidUsername(UsernameProblem::Characters),
            AuthFailure::WeakPassword(PasswordProblem::TooShort),
            AuthFailure::WeakPassword(PasswordProblem::Common),
            AuthFailure::WrongCurrentPassword,
            AuthFailure::Throttled,
            AuthFailure::Busy,
            AuthFailure::SessionRequired,
            AuthFailure::Internal("x".into()),
        ];
        for f in cases {
            assert_eq!(localized(&f, t), f.to_string(), "{f:?}");
        }
    }
}
