use crate::{
    audit::EventKind,
    auth::{client, signed_in_recently},
    error::AppError,
    mail::templates::Notice,
    store,
    two_factor::service::{self, factor_changed, verify_totp},
};

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn disable(code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    if let Some(org) = store::requiring_org(&state.pool, user_id).await? {
        return Err(AppError::CannotDisableWhileRequired { org });
    }
    let client = client().await;
    verify_totp(&state, user_id, code, &client).await?;
    store::remove_two_factor(&state.pool, user_id, state.clock.now()).await?;
    factor_changed(
        &state,
        user_id,
        EventKind::TwoFactorDisabled,
        None,
        Notice::Disabled,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn regenerate(code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    let client = client().await;
    verify_totp(&state, user_id, code, &client).await?;
    let recovery = service::new_recovery_code(&state, user_id).await?;
    store::replace_recovery_code(
        &state.pool,
        user_id,
        &crate::auth::this_sign_in_id().await?,
        &recovery.hash,
        &recovery.sealed,
        state.clock.now(),
    )
    .await?;
    factor_changed(
        &state,
        user_id,
        EventKind::RecoveryCodeRegenerated,
        None,
        Notice::RecoveryCodeRegenerated,
    )
    .await
}
