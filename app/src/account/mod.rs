//! Accounts: sign-up, sign-in, the portal page and sign-out.

pub mod login;
#[cfg(feature = "ssr")]
pub mod password_check;
pub mod portal;
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
