//! Form pieces shared by every flow: the form of a server action with its no-JS return path,
//! message; labelled fields that show their own message; and what a page
//! shows while it loads or when loading fails.

mod fields;
mod form;
mod status;

use leptos::{prelude::*, server_fn::ServerFn};

pub use fields::{CheckboxField, CodeField, Field, Hidden, Switch};
pub use form::{
    EnterSubmitsNothing, FormMessage, FormState, Intro, PortalForm, ReturnHere, SubmitButton,
};
pub use status::{ErrorCard, LinkPage, Loaded, Loading, NextStep};

use crate::error::AppError;

/// The error server function `S` answered this page's last post with, if it failed: read from
/// the request the server returned to this page with.
pub fn error_of<S>() -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    last_error(ServerAction::<S>::new())
}

/// The error of a server action's last run, if it failed.
fn last_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
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

pub use crate::kept_fields::KeptFields;
