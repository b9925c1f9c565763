use secrecy::SecretString;

use crate::{
    account::service::change_password::confirm_identity,
    audit::EventKind,
    auth::{AuthSession, client, signed_in},
    error::AppError,
    mail::templates,
    store::{self, Closing, RETIRED_USERNAME_SECONDS},
};

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn close(password: SecretString, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let client = client().await;
    confirm_identity(&state, &account, "password", password, Some(code), &client).await?;
    let kind = EventKind::AccountClosed.as_str();
    match store::close_account(&state.pool, user_id, kind, state.clock.now()).await? {
        Closing::LastOwnerOf(org) => return Err(AppError::LastOwnerOfOrg { org }),
        Closing::Closed => {}
    }
    tracing::info!(event = kind, "security event");
    crate::audit::count(EventKind::AccountClosed);
    let goodbye = templates::goodbye(
        &account.email,
        &account.username,
        RETIRED_USERNAME_SECONDS / (24 * 60 * 60),
    );
    if let Err(error) = state.mailer.send(goodbye).await {
        tracing::warn!(%error, "the goodbye email could not be sent");
    }
    AuthSession::from_request().await?.sign_out(&state).await
}
