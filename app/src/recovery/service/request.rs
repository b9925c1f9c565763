use super::{RECOVERY_EMAILS_PER_HOUR, RECOVERY_LINK_SECONDS};
use crate::{
    audit::EventKind,
    audit::record,
    auth::{AuthSession, client},
    error::{AppError, Link},
    mail::templates,
    notify::{LinkMail, TokenCap, send_token_link},
    state::app_state,
    store::TokenPurpose,
    two_factor::service::verify_recovery_code,
};

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn request(typed: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(user_id) = auth.pending_second_factor(state.clock.now()).await? else {
        return Err(AppError::SignInExpired);
    };
    let client = client().await;
    verify_recovery_code(&state, user_id, typed, &client).await?;
    // One live link at a time, at most 3 an hour: decided in one transaction, so 50
    // requests with one code send one email.
    let cap = TokenCap {
        per_hour: RECOVERY_EMAILS_PER_HOUR,
        one_live: true,
        link: Link::Recovery,
    };
    let mail = LinkMail {
        purpose: TokenPurpose::Recovery,
        lifetime: RECOVERY_LINK_SECONDS,
        cap,
        path: "/recover/confirm",
        email: None,
    };
    let sent = send_token_link(&state, user_id, mail, |account, link| {
        templates::recovery_link(
            &account.email,
            &account.username,
            link,
            RECOVERY_LINK_SECONDS / 60,
        )
    })
    .await?;
    if sent {
        record(&state, user_id, EventKind::RecoveryRequested, &client, None).await?;
    }
    Ok(())
}
