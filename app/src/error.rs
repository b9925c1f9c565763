//! The one error type of Portal's server functions: variants a person can act on, and an opaque
//! `Internal` whose cause is logged on the server and never sent to the browser.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// One message for an unknown username and a wrong password, so neither tells which
    /// accounts exist.
    #[error("Incorrect username or password.")]
    InvalidCredentials,
    /// A field the person can correct; `field` is the input's name.
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("That code is incorrect. Check your authenticator app and try again.")]
    InvalidCode,
    /// Right once, but already spent: RFC 6238 §5.2 allows each code once.
    #[error("That code is invalid: it has already been used. Wait for the next code in your app.")]
    CodeReplayed,
    #[error("That recovery code is incorrect.")]
    InvalidRecoveryCode,
    #[error("Too many attempts. Try again in {}.", wait_in_words(*seconds))]
    TryAgainIn { seconds: u64 },
    #[error(
        "Too many incorrect codes: sign-in with authentication codes is locked. Use your recovery code."
    )]
    FactorLocked,
    /// An organization's requirement holds this account to the enrollment wizard.
    #[error("{org} requires two-factor authentication. Turn it on to continue.")]
    TwoFactorRequired { org: String },
    /// Changing a factor on an older sign-in: the password is asked for again.
    #[error("For your security, enter your password again to continue.")]
    PasswordRequired,
    /// An organization's invitations waiting for an answer are capped (`limit`).
    #[error(
        "This organization already has {limit} invitations waiting, the most it may have. Withdraw one, or wait for answers."
    )]
    TooManyInvitations { limit: i64 },
    #[error("The email could not be sent. Nothing was changed: please try again in a moment.")]
    MailNotSent,
    /// Refused for a reason the person can read and act on.
    #[error("{0}")]
    NotAllowed(String),
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("The form could not be read. Please reload the page and try again.")]
    BadRequest,
    #[error("Portal could not be reached. Check your connection and try again.")]
    Network,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The input this error is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Validation { field, .. } => Some(field),
            Self::InvalidCode | Self::CodeReplayed => Some("code"),
            Self::InvalidRecoveryCode => Some("recovery_code"),
            _ => None,
        }
    }

    /// The message for the input named `name`, when this error is about that input.
    pub fn message_for(&self, name: &str) -> Option<String> {
        (self.field() == Some(name)).then(|| self.to_string())
    }

    /// True for errors that belong to no single field and are shown above the form.
    pub fn is_form_level(&self) -> bool {
        self.field().is_none()
    }

    /// The HTTP status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidCredentials | Self::Unauthorized => 401,
            Self::InvalidCode | Self::CodeReplayed | Self::InvalidRecoveryCode => 401,
            Self::Validation { .. } => 422,
            Self::TryAgainIn { .. } | Self::TooManyInvitations { .. } => 429,
            Self::FactorLocked
            | Self::NotAllowed(_)
            | Self::PasswordRequired
            | Self::TwoFactorRequired { .. } => 403,
            Self::BadRequest => 400,
            Self::Network => 502,
            Self::MailNotSent => 503,
            Self::Internal => 500,
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Logs the cause for the operators and hides it from the browser.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::Internal
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => Self::Network,
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

/// "1 second", "40 seconds", "3 minutes", "15 minutes": the wait a throttled person is told.
pub fn wait_in_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "1 second".to_owned(),
        2..=59 => format!("{seconds} seconds"),
        _ => {
            let minutes = seconds.div_ceil(60);
            if minutes == 1 {
                "1 minute".to_owned()
            } else {
                format!("{minutes} minutes")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_said_in_seconds_then_whole_minutes_rounded_up() {
        assert_eq!(wait_in_words(0), "1 second");
        assert_eq!(wait_in_words(30), "30 seconds");
        assert_eq!(wait_in_words(60), "1 minute");
        assert_eq!(wait_in_words(61), "2 minutes");
        assert_eq!(wait_in_words(900), "15 minutes");
    }

    #[test]
    fn a_validation_error_belongs_to_its_field_only() {
        let error = AppError::validation("email", "Enter an email address.");
        assert_eq!(
            error.message_for("email").as_deref(),
            Some("Enter an email address.")
        );
        assert_eq!(error.message_for("username"), None);
        assert!(!error.is_form_level());
        assert!(AppError::InvalidCredentials.is_form_level());
    }

    #[test]
    fn malformed_input_is_a_bad_request_not_an_internal_error() {
        let error = AppError::from_server_fn_error(ServerFnErrorErr::Deserialization("x".into()));
        assert_eq!(error, AppError::BadRequest);
        assert_eq!(error.status(), 400);
    }
}
