use secrecy::{ExposeSecret, SecretString};

use crate::account::reset_password::ResetLink;
use crate::{
    account::service::new_password::{check_new_password, check_not_breached},
    audit::{EventKind, record},
    auth::client,
    error::{AppError, Link},
    mail::templates::Notice,
    notify::{account_of_link, link_refusal, send_notice},
    security::{recovery_code, token, totp},
    state::{AppState, app_state},
    store::{self, Client, Factor, TokenPurpose, UserId},
    two_factor::service::{check_throttle, verify_totp},
};

const LINK: Link = Link::PasswordReset;
/// Codes one reset link takes: a typo or two, then the mailbox alone guesses no further.
const CODE_TRIES: i64 = 3;

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn details(token: &str) -> Result<ResetLink, AppError> {
    let state = app_state()?;
    let account = account_of_link(&state, token, TokenPurpose::PasswordReset, LINK).await?;
    let two_factor = store::two_factor_of(&state.pool, account.id)
        .await?
        .is_some();
    Ok(ResetLink {
        username: account.username,
        two_factor,
    })
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn reset(token: &str, password: SecretString, code: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let account = account_of_link(&state, token, TokenPurpose::PasswordReset, LINK).await?;
    let user_id = account.id;
    check_new_password(
        "new_password",
        password.expose_secret(),
        &[&account.username, &account.email],
    )?;
    // Before the code, so a refused password does not cost the link one of its tries.
    check_not_breached(&state, "new_password", &password).await?;
    let client = client().await;
    // The mailbox is one factor; an account with a second one needs it here too.
    if store::two_factor_of(&state.pool, user_id).await?.is_some() {
        check_code(&state, token, user_id, code, &client).await?;
    }
    let password_hash = state.passwords.hash(password).await?;
    let now = state.clock.now();
    let hash = token::hash(token);
    if store::reset_password(&state.pool, &hash, &password_hash, now)
        .await?
        .is_none()
    {
        let found =
            store::token_state(&state.pool, &hash, TokenPurpose::PasswordReset, now).await?;
        return Err(link_refusal(found, LINK));
    }
    record(&state, user_id, EventKind::PasswordReset, &client, None).await?;
    send_notice(&state, user_id, Notice::PasswordReset).await;
    Ok(())
}

/// A code from the authenticator app, and only that: the recovery code is refused here, since
/// the mailbox and the recovery code would then set a password, and with it reach the
/// recovery flow that turns two-factor off (review L5). Each link takes `CODE_TRIES` codes and
/// then dies, so the mailbox alone cannot keep pushing the owner's code counter.
async fn check_code(
    state: &AppState,
    token: &str,
    user_id: UserId,
    code: &str,
    client: &Client,
) -> Result<(), AppError> {
    if totp::parse_code(code).is_none() {
        let message = if recovery_code::normalize(code).is_some() {
            "A recovery code does not reset a password: enter the 6-digit code from your authenticator app. Without the app, contact support."
        } else {
            "Enter the 6-digit code from your authenticator app."
        };
        return Err(AppError::validation("code", message));
    }
    let now = state.clock.now();
    // A cheap refusal first, so a wait does not cost the link a try.
    check_throttle(state, user_id, Factor::Totp, now).await?;
    let hash = token::hash(token);
    if !store::take_link_try(
        &state.pool,
        &hash,
        TokenPurpose::PasswordReset,
        now,
        CODE_TRIES,
    )
    .await?
    {
        let found =
            store::token_state(&state.pool, &hash, TokenPurpose::PasswordReset, now).await?;
        // A live link without tries left has had them all.
        return Err(match found {
            store::TokenState::Valid(_) => AppError::LinkUsed { link: LINK },
            found => link_refusal(found, LINK),
        });
    }
    let checked = verify_totp(state, user_id, code, client).await;
    if checked.is_err() {
        store::retire_tried_link(
            &state.pool,
            &hash,
            TokenPurpose::PasswordReset,
            now,
            CODE_TRIES,
        )
        .await?;
    }
    checked
}
