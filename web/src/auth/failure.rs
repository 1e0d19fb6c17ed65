//! Why an authentication step did not happen: [`AuthFailure`] (login, registration,
//! password change) and [`Rejected`] (a token), with their texts.

use std::time::Duration;

use super::password::{PasswordProblem, UsernameProblem};
use super::store::StoreFailure;
use crate::i18n::{Lang, Messages};

/// Why a login, registration or password change did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong password (never says which).
    BadCredentials,
    /// The client address is locked out for this long.
    Locked(Duration),
    /// A first user exists already.
    RegistrationClosed,
    /// The user name breaks the rules.
    InvalidUsername(UsernameProblem),
    /// The new password is too weak.
    WeakPassword(PasswordProblem),
    /// The current password given for a change is wrong.
    WrongCurrentPassword,
    /// Store or hashing failure (logged; not the user's fault).
    Internal(String),
}

impl From<StoreFailure> for AuthFailure {
    fn from(e: StoreFailure) -> Self {
        AuthFailure::Internal(e.0)
    }
}

impl AuthFailure {
    /// English text for the JSON API and the audit log.
    pub fn describe(&self) -> String {
        self.localized(Lang::En.messages())
    }

    /// Text for a page in the user's language.
    pub fn localized(&self, t: &Messages) -> String {
        match self {
            AuthFailure::BadCredentials => t.err_credentials.to_owned(),
            AuthFailure::Locked(left) => {
                let minutes = left.as_secs().div_ceil(60).max(1);
                t.err_locked.replace("{minutes}", &minutes.to_string())
            }
            AuthFailure::RegistrationClosed => t.err_registration_closed.to_owned(),
            AuthFailure::InvalidUsername(UsernameProblem::Length) => {
                t.err_username_length.to_owned()
            }
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
            AuthFailure::Internal(_) => t.err_internal.to_owned(),
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// No credentials at all.
    Missing,
    /// Malformed or forged.
    Invalid,
    /// Past its expiry.
    Expired,
    /// Logged out, or ended by a password change.
    Revoked,
    /// The store failed.
    Internal(String),
}

impl Rejected {
    /// English text for the JSON error.
    pub fn describe(&self) -> &'static str {
        match self {
            Rejected::Missing => "authentication required",
            Rejected::Invalid => "invalid token",
            Rejected::Expired => "session expired",
            Rejected::Revoked => "session ended (logged out or password changed)",
            Rejected::Internal(_) => "cannot check the session",
        }
    }
}
