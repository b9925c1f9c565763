//! "Remember this browser for 30 days": a random token in a cookie (stored as SHA-256) that lets
//! this browser skip the second step of one account. Never the password; only this browser; and
//! not where an organization of the account forbids it.

use super::cookie;
use crate::{
    error::AppError,
    security::token,
    state::AppState,
    store::{self, Client, UserId},
};

/// How long a browser is remembered.
pub use crate::limits::REMEMBER_DAYS;
const COOKIE: &str = "portal_remember";

/// Whether this browser is remembered for `user_id` now (the use is noted).
pub async fn is_remembered(state: &AppState, user_id: UserId) -> Result<bool, AppError> {
    let Some(value) = cookie::read(&cookie::name(state, COOKIE)).await else {
        return Ok(false);
    };
    let now = state.clock.now();
    Ok(
        store::use_remembered_browser(&state.pool, user_id, &token::hash(&value), now).await?
            && store::remembering_allowed(&state.pool, user_id).await?,
    )
}

/// Remembers this browser for `user_id`, unless an organization of the account forbids it.
pub async fn remember(state: &AppState, user_id: UserId, client: &Client) -> Result<(), AppError> {
    if !store::remembering_allowed(&state.pool, user_id).await? {
        return Ok(());
    }
    let value = token::new_token();
    let now = state.clock.now();
    let expires = now + REMEMBER_DAYS * 24 * 60 * 60;
    store::remember_browser(
        &state.pool,
        user_id,
        &token::hash(&value),
        now,
        expires,
        client,
    )
    .await?;
    cookie::set(state, cookie::name(state, COOKIE), value, REMEMBER_DAYS);
    Ok(())
}
