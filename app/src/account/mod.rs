//! Accounts: sign-up, sign-in, the portal page and sign-out, and the rest of an account's life:
//! a forgotten password, a new password, a new address, closing it.

pub mod change_email;
pub mod change_password;
pub mod close;
pub mod email;
pub mod forgot_password;
pub mod login;
pub mod new_password;
#[cfg(feature = "ssr")]
pub mod password_check;
pub mod portal;
pub mod reset_password;
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
}

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedInUser>, AppError> {
    let state = crate::state::app_state()?;
    let auth = crate::auth::AuthSession::from_request().await?;
    let Some(user_id) = auth.signed_in_user(&state).await? else {
        return Ok(None);
    };
    let username = crate::store::username_of(&state.pool, user_id).await?;
    Ok(username.map(|username| SignedInUser { username }))
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
    let (state, user_id) = crate::auth::signed_in().await?;
    let account = crate::store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let two_factor = crate::store::two_factor_of(&state.pool, user_id)
        .await?
        .is_some();
    Ok(AccountFacts {
        username: account.username,
        email: account.email,
        two_factor,
    })
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
