//! The rules of account, applied to the store: what its pages' server functions do.

pub mod change_email;
pub mod change_password;
pub mod close;
pub mod email;
pub mod forgot_password;
pub mod login;
pub mod new_password;
pub mod password_check;
pub mod reset_password;
pub mod secure;
pub mod sessions;
pub mod signup;
pub mod verify_email;

use crate::{
    account::{AccountFacts, SignedInUser},
    auth::{AuthSession, signed_in},
    error::AppError,
    state::app_state,
    store,
};

/// The account's username; None when it is gone or cannot be read (logged), for what may show
/// a signed-out look rather than fail.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn username(state: &crate::state::AppState, user_id: store::UserId) -> Option<String> {
    store::username_of(&state.pool, user_id)
        .await
        .map_err(AppError::from)
        .ok()
        .flatten()
}

/// The signed-in account's name, or None: what a page shows of who is signed in.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn current_user() -> Result<Option<SignedInUser>, AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(user_id) = auth.signed_in_user(&state).await? else {
        return Ok(None);
    };
    let username = store::username_of(&state.pool, user_id).await?;
    let password_breached = auth.password_breached().await?;
    Ok(username.map(|username| SignedInUser {
        username,
        password_breached,
    }))
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn account_facts() -> Result<AccountFacts, AppError> {
    let (state, user_id) = signed_in().await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let two_factor = store::two_factor_of(&state.pool, user_id).await?.is_some();
    Ok(AccountFacts {
        username: account.username,
        email: account.email,
        two_factor,
    })
}
