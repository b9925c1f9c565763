use crate::{
    audit::EventKind,
    auth::{AuthSession, client},
    error::{AppError, Link},
    notify::{account_of_link, link_refusal},
    recovery::service::reset_two_factor,
    security::token,
    state::app_state,
    store::{self, TokenPurpose, TokenState},
};

fn refusal(found: TokenState) -> AppError {
    link_refusal(found, Link::Recovery)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn whose(token: &str) -> Result<String, AppError> {
    let state = app_state()?;
    Ok(
        account_of_link(&state, token, TokenPurpose::Recovery, Link::Recovery)
            .await?
            .username,
    )
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn confirm(token: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let now = state.clock.now();
    let hash = token::hash(token);
    let Some(user_id) =
        store::consume_token(&state.pool, &hash, TokenPurpose::Recovery, now).await?
    else {
        let found = store::token_state(&state.pool, &hash, TokenPurpose::Recovery, now).await?;
        return Err(refusal(found));
    };
    reset_two_factor(
        &state,
        user_id,
        EventKind::TwoFactorReset,
        &client().await,
        None,
    )
    .await?;
    // This browser may still hold the half-finished sign-in that asked for the link.
    AuthSession::from_request().await?.forget_pending().await
}
