//! Form pieces shared by every flow: the form of a server action with its no-JS return path,
//! message and pending state; labelled fields that show their own message; and what a page
//! shows while it loads or when loading fails.

mod fields;
mod form;
mod status;

use leptos::{prelude::*, server_fn::ServerFn};

pub use fields::{CheckboxField, CodeField, Field, Hidden};
pub use form::{FormMessage, FormState, Intro, PortalForm, ReturnHere, SubmitButton};
pub use status::{ErrorCard, Loading};

use crate::error::AppError;

/// The error of a server action's last run, if it failed.
pub fn last_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action
            .value()
            .with(|result| result.as_ref().and_then(|r| r.as_ref().err().cloned()))
    })
}

/// What a browser without JavaScript typed into a form that came back with an error (never a
/// password, code or token), so the page it returns to shows it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptFields(pub Vec<(String, String)>);

/// Inputs never kept: secrets, and what only the server reads.
pub const UNKEPT_FIELDS: [&str; 6] = ["password", "code", "recovery_code", "token", "id", "slug"];
