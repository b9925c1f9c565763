//! Accounts: sign-up, sign-in, the portal page and sign-out, and the rest of an account's life:
//! a forgotten password, a new password, a new address, closing it.

pub mod change_email;
pub mod change_password;
pub mod close;
pub mod email;
pub mod forgot_password;
pub mod login;
pub mod new_password;
pub mod portal;
pub mod reset_password;
pub mod secure;
#[cfg(feature = "ssr")]
pub mod service;
pub mod sessions;
pub mod signup;
pub mod verify_email;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What a page needs to know of the person signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub username: String,
    /// This sign-in's password is on a breach list: the portal asks to change it.
    pub password_breached: bool,
}

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedInUser>, AppError> {
    service::current_user().await
}

/// What the account's own change forms need to know: its names (a new password must not be
/// made of them) and whether a second factor is asked too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFacts {
    pub username: String,
    pub email: String,
    pub two_factor: bool,
}

#[server(endpoint = "account_facts")]
pub async fn load_account_facts() -> Result<AccountFacts, AppError> {
    service::account_facts().await
}

/// The second factor asked beside the password before a change: a code from the app, or the
/// recovery code, in one field.
#[component]
pub fn SecondFactorField() -> impl IntoView {
    view! {
        <crate::components::Field
            label="Authentication code"
            name="code"
            autocomplete="one-time-code"
            hint="The 6-digit code from your authenticator app, or your recovery code."
        />
    }
}
