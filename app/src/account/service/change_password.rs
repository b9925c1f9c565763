use secrecy::{ExposeSecret, SecretString};

use crate::{
    account::service::{
        new_password::{check_new_password, check_not_breached},
        password_check::check_password,
    },
    audit::{EventKind, record},
    auth::{AuthSession, client, signed_in, this_sign_in_id},
    error::AppError,
    mail::templates::Notice,
    notify::send_notice,
    state::AppState,
    store::{self, Account, Client, UserId},
    two_factor::service::verify_any_factor,
};

/// The password (in the input `field`), then, when `code` is asked (`Some`) and the account
/// has a second factor, that too: what a change to the account asks of a signed-in browser,
/// so a session left open is not enough. The password check is sign-in's, throttle and all.
/// Whether a second factor was checked.
pub(crate) async fn confirm_identity(
    state: &AppState,
    account: &Account,
    field: &str,
    password: SecretString,
    code: Option<&str>,
    client: &Client,
) -> Result<bool, AppError> {
    let checked = check_password(state, &account.username, password, client).await?;
    if checked.map(|checked| checked.user_id) != Some(account.id) {
        return Err(AppError::validation(field, "That password is incorrect."));
    }
    if let Some(code) = code
        && store::two_factor_of(&state.pool, account.id)
            .await?
            .is_some()
    {
        verify_any_factor(state, account.id, code, client).await?;
        return Ok(true);
    }
    Ok(false)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn change(current: SecretString, new: SecretString, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let account = account(&state, user_id).await?;
    check_new_password(
        "new_password",
        new.expose_secret(),
        &[&account.username, &account.email],
    )?;
    // Before the identity check, so a refused password does not spend the second factor's code.
    check_not_breached(&state, "new_password", &new).await?;
    let client = client().await;
    let with_second_factor = confirm_identity(
        &state,
        &account,
        "current_password",
        current,
        Some(code),
        &client,
    )
    .await?;
    let password_hash = state.passwords.hash(new).await?;
    let now = state.clock.now();
    store::change_password(
        &state.pool,
        user_id,
        &password_hash,
        &this_sign_in_id().await?,
        // The old address's undo link guards against a thief who knew the password and moved
        // the address: a password alone must not withdraw it. Password and second factor
        // together are the owner's, who may have left that mailbox for good (review L4).
        with_second_factor,
        now,
    )
    .await?;
    // The password was just entered: a step up, under a new session id.
    let auth = AuthSession::from_request().await?;
    auth.password_confirmed(now).await?;
    // The new password passed the breach lists: this sign-in's warning is done with.
    auth.password_not_breached().await?;
    record(&state, user_id, EventKind::PasswordChanged, &client, None).await?;
    send_notice(&state, user_id, Notice::PasswordChanged).await;
    Ok(())
}

async fn account(state: &AppState, user_id: UserId) -> Result<Account, AppError> {
    store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)
}
