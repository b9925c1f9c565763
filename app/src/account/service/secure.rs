//! "Secure my account": what the link (or the signed-in browser) may do, and doing it.

use crate::{
    account::{secure::SecureLink, service::forgot_password::send_reset_link},
    audit::{EventKind, record},
    auth::{AuthSession, client, signed_in},
    error::{AppError, Link},
    mail::templates::Notice,
    notify::{account_of_link, link_refusal, send_notice},
    security::token,
    state::app_state,
    store::{self, SecureBy, TokenPurpose},
};

const LINK: Link = Link::SecureAccount;

/// The account a link would secure; without a link, the account signed in to this browser (what
/// "This wasn't me" on the security page opens).
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn details(token: &str) -> Result<SecureLink, AppError> {
    let state = app_state()?;
    let account = if token.trim().is_empty() {
        let (_, user_id) = signed_in()
            .await
            .map_err(|_| AppError::LinkInvalid { link: LINK })?;
        store::account(&state.pool, user_id)
            .await?
            .ok_or(AppError::LinkInvalid { link: LINK })?
    } else {
        account_of_link(&state, token, TokenPurpose::SecureAccount, LINK).await?
    };
    Ok(SecureLink {
        username: account.username,
    })
}

/// Ends what an intruder may hold (see `store::secure_account`), audits it, tells the owner, and
/// mails a password-reset link to a verified address (an unproven mailbox gets none, as in
/// "Forgot your password?"). This browser is signed out too.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn secure(token: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let now = state.clock.now();
    let hash = token::hash(token);
    let by = if token.trim().is_empty() {
        let (_, user_id) = signed_in()
            .await
            .map_err(|_| AppError::LinkInvalid { link: LINK })?;
        SecureBy::SignedIn(user_id)
    } else {
        SecureBy::Link(&hash)
    };
    let Some(user_id) = store::secure_account(&state.pool, by, now).await? else {
        let found =
            store::token_state(&state.pool, &hash, TokenPurpose::SecureAccount, now).await?;
        return Err(link_refusal(found, LINK));
    };
    tracing::Span::current().record("user_id", user_id.0);
    let client = client().await;
    record(&state, user_id, EventKind::AccountSecured, &client, None).await?;
    send_notice(&state, user_id, Notice::AccountSecured).await;
    let verified = store::account(&state.pool, user_id)
        .await?
        .is_some_and(|account| account.email_verified_at.is_some());
    if verified && let Err(error) = send_reset_link(&state, user_id, &client).await {
        tracing::warn!(%error, user_id = user_id.0, "no password reset email sent after securing");
    }
    AuthSession::from_request().await?.sign_out(&state).await
}
