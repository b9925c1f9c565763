//! The one error type of Portal's server functions: variants a person can act on, each with its
//! words and its HTTP status here, and an opaque `Internal` whose cause is logged on the server
//! (where it happens, with its chain of sources) and never sent to the browser. A database that
//! cannot answer just now is `Unavailable` instead (503: try again), as `outage` tells.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod outage;

/// Which emailed link an error is about: their words differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Link {
    /// Verifies an account's email address.
    Verification,
    /// Resets a lost second factor.
    Recovery,
    /// Sets a forgotten password.
    PasswordReset,
    /// Proves a new email address.
    EmailChange,
    /// Keeps the old address when a change was not wanted.
    EmailChangeUndo,
    /// "Secure my account", from a new-device alert.
    SecureAccount,
}

impl Link {
    fn noun(self) -> &'static str {
        match self {
            Self::Verification => "verification",
            Self::Recovery => "recovery",
            Self::PasswordReset => "password reset",
            Self::EmailChange => "confirmation",
            Self::EmailChangeUndo => "undo",
            Self::SecureAccount => "\"Secure my account\"",
        }
    }

    fn expired(self) -> &'static str {
        match self {
            Self::Verification => {
                "This verification link has expired. Send a new one from Security settings."
            }
            Self::Recovery => {
                "This recovery link has expired. Sign in and enter your recovery code again for a new one."
            }
            Self::PasswordReset => {
                "This password reset link has expired. Ask for a new one from \"Forgot your password?\" on the sign-in page."
            }
            Self::EmailChange => {
                "This confirmation link has expired. Ask for the change again from Security settings."
            }
            Self::EmailChangeUndo => {
                "This link has expired: it worked for 7 days. Sign in, or reset your password, and contact support."
            }
            Self::SecureAccount => {
                "This \"Secure my account\" link has expired: it worked for 7 days. Sign in and use \"This wasn't me\" in Security settings, or reset your password from \"Forgot your password?\" on the sign-in page."
            }
        }
    }

    fn invalid(self) -> &'static str {
        match self {
            Self::Verification => {
                "This verification link is not valid. Check that you copied it whole."
            }
            Self::Recovery => {
                "This recovery link is not valid. Check that you opened the whole link from the email."
            }
            Self::PasswordReset
            | Self::EmailChange
            | Self::EmailChangeUndo
            | Self::SecureAccount => {
                "This link is not valid. Check that you opened the whole link from the email."
            }
        }
    }
}

/// What a `NotFound` could not find (or the caller may not know exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// Also what a non-member is told, so no one learns which organizations exist.
    Organization,
    Invitation,
    SecurityKey,
    RememberedBrowser,
    AuthenticatorApp,
}

impl Missing {
    fn words(self) -> &'static str {
        match self {
            Self::Organization => "There is no such organization, or you are not in it.",
            Self::Invitation => "There is no such invitation: it may have been withdrawn.",
            Self::SecurityKey => "There is no such key on your account: it may have been removed.",
            Self::AuthenticatorApp => {
                "There is no such authenticator app on your account: it may have been removed."
            }
            Self::RememberedBrowser => {
                "That browser is not remembered: it may have been forgotten already."
            }
        }
    }
}

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
    #[error("Too many incorrect recovery codes: recovery by code is locked. Contact support.")]
    RecoveryCodesLocked,
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
    /// At most `per_hour` emails with a `link` an hour, so a form cannot flood a mailbox.
    #[error(
        "{} {} emails were sent in the last hour. Check your inbox and spam folder, or try again later.",
        count_in_words(*per_hour),
        link.noun()
    )]
    TooManyEmails { link: Link, per_hour: i64 },
    #[error("The email could not be sent. Nothing was changed: please try again in a moment.")]
    MailNotSent,
    #[error("{}", link.expired())]
    LinkExpired { link: Link },
    #[error("This {} link was already used.", link.noun())]
    LinkUsed { link: Link },
    #[error("{}", link.invalid())]
    LinkInvalid { link: Link },
    /// The password step is past, or was never taken: the second step has nothing to finish.
    #[error("Your sign-in timed out. Start over with your username and password.")]
    SignInExpired,
    /// The address was verified by another account meanwhile: one verified owner per address.
    #[error(
        "This address is already verified on another account. Sign in to that account, or change this one's address."
    )]
    AddressVerifiedElsewhere,
    #[error("{}", what.words())]
    NotFound { what: Missing },
    #[error("Only the organization's owners can do that.")]
    OwnersOnly,
    #[error("An organization needs an owner: make another member owner first.")]
    LastOwner,
    /// Closing the account would leave an organization with members but no owner.
    #[error(
        "You are the last owner of {org}, which has other members. Make another member owner, or remove the other members, then close your account."
    )]
    LastOwnerOfOrg { org: String },
    #[error("Two-factor authentication is already on.")]
    TwoFactorAlreadyOn,
    #[error("Two-factor authentication is off for this account.")]
    TwoFactorOff,
    /// Recovery links go to the address, so it must be known to work before enrollment.
    #[error(
        "Verify your email address first: recovery links are sent to it. Open the link in the email we sent, or resend it below."
    )]
    VerifyEmailFirst,
    /// The enrollment was replaced, finished, or belongs to another sign-in.
    #[error("Start again: switch two-factor authentication on.")]
    EnrollmentGone,
    /// The app being added was finished, cancelled, replaced, or shown to another sign-in.
    #[error("Start again: add the app once more.")]
    AppAdditionGone,
    /// The last app goes only with two-factor authentication itself.
    #[error(
        "This is your only authenticator app. To stop using codes, turn two-factor authentication off."
    )]
    LastAuthenticatorApp,
    /// Only the sign-in that was shown the recovery code can say it is saved.
    #[error("There is no recovery code waiting to be saved here.")]
    NoRecoveryCodeToSave,
    /// A member of an organization that requires two-factor authentication keeps it on.
    #[error(
        "{org} requires two-factor authentication, so it cannot be turned off while you are a member."
    )]
    CannotDisableWhileRequired { org: String },
    /// A WebAuthn answer that did not verify (or came for no ceremony of this session).
    #[error(
        "That security key or passkey was not accepted. Try again, or use your authentication code."
    )]
    KeyNotAccepted,
    /// Keys are added beside the authenticator app, whose recovery code covers them.
    #[error(
        "Turn on two-factor authentication with an authenticator app first: its recovery code also covers your keys."
    )]
    KeysNeedTwoFactor,
    /// The server is reached by an IP address, which WebAuthn refuses.
    #[error(
        "Security keys and passkeys are not available on this server: it must be reached by a name, not an IP address."
    )]
    KeysUnavailable,
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("The form could not be read. Please reload the page and try again.")]
    BadRequest,
    #[error("Portal could not be reached. Check your connection and try again.")]
    Network,
    /// The database cannot answer just now (restarting, unreachable, or its disk is full): the
    /// request changed nothing, and the same request works once it is back (503, Retry-After).
    #[error(
        "Portal cannot reach its database just now. Nothing was lost: please try again in a moment."
    )]
    Unavailable,
    /// A fault on the server. Its cause is logged with `reference`, the request's id, which the
    /// person can quote to support (empty where no request is known).
    #[error(
        "Something went wrong on our side. Please try again.{}",
        quoted_reference(reference)
    )]
    Internal { reference: String },
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

    /// The HTTP status a server function answers with when it fails this way. No wildcard: a
    /// new variant is given its status here.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidCredentials | Self::Unauthorized => 401,
            Self::InvalidCode
            | Self::CodeReplayed
            | Self::InvalidRecoveryCode
            | Self::KeyNotAccepted => 401,
            Self::Validation { .. } => 422,
            Self::TryAgainIn { .. }
            | Self::TooManyInvitations { .. }
            | Self::TooManyEmails { .. } => 429,
            Self::NotFound { .. } => 404,
            Self::LastOwner | Self::LastOwnerOfOrg { .. } | Self::AddressVerifiedElsewhere => 409,
            Self::FactorLocked
            | Self::RecoveryCodesLocked
            | Self::PasswordRequired
            | Self::TwoFactorRequired { .. }
            | Self::LinkExpired { .. }
            | Self::LinkUsed { .. }
            | Self::LinkInvalid { .. }
            | Self::SignInExpired
            | Self::OwnersOnly
            | Self::TwoFactorAlreadyOn
            | Self::TwoFactorOff
            | Self::VerifyEmailFirst
            | Self::KeysNeedTwoFactor
            | Self::KeysUnavailable
            | Self::EnrollmentGone
            | Self::AppAdditionGone
            | Self::LastAuthenticatorApp
            | Self::NoRecoveryCodeToSave
            | Self::CannotDisableWhileRequired { .. } => 403,
            Self::BadRequest => 400,
            Self::Network => 502,
            Self::MailNotSent | Self::Unavailable => 503,
            Self::Internal { .. } => 500,
        }
    }
}

/// Internal causes: logged where they happen (the `?` that converts them, through
/// `#[track_caller]`), with their chain of sources, and hidden from the browser.
#[cfg(feature = "ssr")]
impl AppError {
    /// For a cause that is not an error type (a broken invariant, said in words).
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let at = std::panic::Location::caller();
        tracing::error!(%cause, %at, "internal error");
        Self::Internal {
            reference: request_id::current(),
        }
    }

    /// For an error value: its sources are logged too.
    #[track_caller]
    pub fn internal_error(cause: &(dyn std::error::Error + 'static)) -> Self {
        Self::internal(error_chain(cause))
    }
}

/// "outer: inner: innermost", leaving out a source whose words its outer error already says.
#[cfg(feature = "ssr")]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !chain.contains(&words) {
            chain.push_str(": ");
            chain.push_str(&words);
        }
        source = cause.source();
    }
    chain
}

/// A database that cannot answer just now is `Unavailable` (logged by `outage`); any other
/// database error is a fault, `Internal`.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    #[track_caller]
    fn from(error: sqlx::Error) -> Self {
        match outage::of(&error) {
            Some(outage) => outage::unavailable(outage, &error),
            None => Self::internal_error(&error),
        }
    }
}

/// The session store says so when its database could not answer (`outage::SESSION_STORE`).
#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for AppError {
    #[track_caller]
    fn from(error: tower_sessions::session::Error) -> Self {
        use tower_sessions::{session::Error, session_store};
        match &error {
            Error::Store(session_store::Error::Backend(message))
                if message == outage::SESSION_STORE =>
            {
                Self::Unavailable
            }
            _ => Self::internal_error(&error),
        }
    }
}

/// A sealed secret that does not open is a wrong key or tampered data: nothing a person can fix.
#[cfg(feature = "ssr")]
impl From<crate::security::crypto::OpenError> for AppError {
    #[track_caller]
    fn from(error: crate::security::crypto::OpenError) -> Self {
        Self::internal_error(&error)
    }
}

/// The password hashers' permits are never closed: a closed semaphore is a bug.
#[cfg(feature = "ssr")]
impl From<tokio::sync::AcquireError> for AppError {
    #[track_caller]
    fn from(error: tokio::sync::AcquireError) -> Self {
        Self::internal_error(&error)
    }
}

/// A blocking task (Argon2id) that panicked or was cancelled.
#[cfg(feature = "ssr")]
impl From<tokio::task::JoinError> for AppError {
    #[track_caller]
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal_error(&error)
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
            _ => Self::Internal {
                reference: String::new(),
            },
        }
    }
}

/// " Reference: …" after a fault's words, when the request's id is known.
fn quoted_reference(reference: &str) -> String {
    if reference.is_empty() {
        String::new()
    } else {
        format!(" If it keeps happening, quote this reference to support: {reference}.")
    }
}

/// The id of the request being answered: the outermost layer gives each request one, logs it
/// with every line the request writes, and shows it on a fault's page, so an operator finds
/// the log line a person quotes.
#[cfg(feature = "ssr")]
pub mod request_id {
    tokio::task_local! {
        static REQUEST_ID: String;
    }

    /// Runs `answer` as the request `id`.
    pub async fn scope<F: Future>(id: String, answer: F) -> F::Output {
        REQUEST_ID.scope(id, answer).await
    }

    /// The id of the request this task answers; empty outside one (a task spawned apart).
    pub fn current() -> String {
        REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
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

/// "One" to "Ten", else the digits: a count that begins a sentence.
pub fn count_in_words(count: i64) -> String {
    const WORDS: [&str; 10] = [
        "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
    ];
    usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_sub(1))
        .and_then(|index| WORDS.get(index))
        .map_or_else(|| count.to_string(), |word| (*word).to_owned())
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
    fn a_count_that_begins_a_sentence_is_a_word_up_to_ten() {
        assert_eq!(count_in_words(1), "One");
        assert_eq!(count_in_words(3), "Three");
        assert_eq!(count_in_words(10), "Ten");
        assert_eq!(count_in_words(11), "11");
        assert_eq!(count_in_words(0), "0");
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
        assert!(AppError::LastOwner.is_form_level());
    }

    #[test]
    fn malformed_input_is_a_bad_request_not_an_internal_error() {
        let error = AppError::from_server_fn_error(ServerFnErrorErr::Deserialization("x".into()));
        assert_eq!(error, AppError::BadRequest);
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn a_cap_on_emails_is_said_from_its_constant_and_answers_429() {
        let error = AppError::TooManyEmails {
            link: Link::Recovery,
            per_hour: 3,
        };
        assert_eq!(
            error.to_string(),
            "Three recovery emails were sent in the last hour. Check your inbox and spam folder, or try again later."
        );
        assert_eq!(error.status(), 429);
        let error = AppError::TooManyEmails {
            link: Link::Verification,
            per_hour: 5,
        };
        assert!(error.to_string().starts_with("Five verification emails"));
    }

    #[test]
    fn each_link_is_named_in_its_refusals() {
        assert_eq!(
            AppError::LinkUsed {
                link: Link::Verification
            }
            .to_string(),
            "This verification link was already used."
        );
        assert_eq!(
            AppError::LinkUsed {
                link: Link::Recovery
            }
            .to_string(),
            "This recovery link was already used."
        );
        assert!(
            AppError::LinkExpired {
                link: Link::Recovery
            }
            .to_string()
            .contains("enter your recovery code again")
        );
        assert!(
            AppError::LinkInvalid {
                link: Link::Verification
            }
            .to_string()
            .contains("copied it whole")
        );
    }

    #[test]
    fn what_is_missing_is_404_a_last_owner_409_and_owners_only_403() {
        let missing = AppError::NotFound {
            what: Missing::Organization,
        };
        assert_eq!(missing.status(), 404);
        assert_eq!(
            missing.to_string(),
            "There is no such organization, or you are not in it."
        );
        assert_eq!(AppError::LastOwner.status(), 409);
        assert_eq!(AppError::OwnersOnly.status(), 403);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn an_error_crosses_to_the_browser_as_json_and_back() {
        for error in [
            AppError::NotFound {
                what: Missing::Invitation,
            },
            AppError::TooManyEmails {
                link: Link::Verification,
                per_hour: 3,
            },
            AppError::CannotDisableWhileRequired { org: "Acme".into() },
            AppError::LinkExpired {
                link: Link::Recovery,
            },
            AppError::SignInExpired,
        ] {
            let json = serde_json::to_string(&error).unwrap();
            assert_eq!(
                serde_json::from_str::<AppError>(&json).unwrap(),
                error,
                "{json}"
            );
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_database_error_becomes_internal_through_question_mark() {
        fn fails() -> Result<(), AppError> {
            Err(sqlx::Error::RowNotFound)?;
            Ok(())
        }
        assert_eq!(
            fails(),
            Err(AppError::Internal {
                reference: String::new()
            })
        );
        assert_eq!(fails().unwrap_err().status(), 500);
    }
}
