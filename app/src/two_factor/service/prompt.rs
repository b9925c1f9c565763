use crate::{
    auth::{AuthSession, client, remembered},
    error::AppError,
    state::app_state,
    two_factor::service::verify_totp,
};

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn verify(code: &str, remember: bool) -> Result<(), AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(user_id) = auth.pending_second_factor(state.clock.now()).await? else {
        return Err(AppError::SignInExpired);
    };
    let client = client().await;
    verify_totp(&state, user_id, code, &client).await?;
    auth.complete_second_factor(
        &state,
        user_id,
        &client,
        crate::audit::SignInMethod::PasswordAndCode,
    )
    .await?;
    if remember {
        remembered::remember(&state, user_id, &client).await?;
    }
    Ok(())
}
