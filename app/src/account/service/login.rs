use secrecy::{ExposeSecret, SecretString};

use crate::account::login::{LoginStage, SignInProgress};
use crate::{
    account::service::password_check::check_password,
    audit::SignInMethod,
    auth::{AuthSession, client, remembered},
    error::AppError,
    security::breached::PasswordSha1,
    state::{AppState, app_state},
    store, validation,
};

/// A half-finished sign-in whose account no longer has a second factor (it was reset
/// meanwhile) starts over at the password.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn sign_in_state() -> Result<SignInProgress, AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let (pending, security_keys, remembering_allowed) =
        match auth.pending_second_factor(state.clock.now()).await? {
            Some(user_id) => (
                store::two_factor_of(&state.pool, user_id).await?.is_some(),
                !store::security_keys_of(&state.pool, user_id)
                    .await?
                    .is_empty(),
                store::remembering_allowed(&state.pool, user_id).await?,
            ),
            None => (false, false, false),
        };
    if !pending {
        auth.forget_pending().await?;
    }
    Ok(SignInProgress {
        stage: if pending {
            LoginStage::SecondFactor
        } else {
            LoginStage::Password
        },
        support_email: state.settings.support_email.clone(),
        security_keys,
        remembering_allowed,
    })
}

/// Unknown username and wrong password answer alike, in words and in work: both verify one
/// Argon2id hash (see `password_check`).
/// The stage reached, and whether an organization's requirement holds the account.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn login(
    username: String,
    password: SecretString,
) -> Result<(LoginStage, bool), AppError> {
    let state = app_state()?;
    // Nothing is stored for a name no account could have.
    let username = validation::normalize_username(&username)
        .map_err(|message| AppError::validation("username", message))?;
    let client = client().await;
    let sha1 = state
        .settings
        .breached_passwords
        .is_on()
        .then(|| PasswordSha1::of(password.expose_secret()));
    let Some(checked) = check_password(&state, &username, password, &client).await? else {
        return Err(AppError::InvalidCredentials);
    };
    let user_id = checked.user_id;
    let auth = AuthSession::from_request().await?;
    let breached = breached(&state, sha1).await;
    let now = state.clock.now();
    let two_factor = store::two_factor_of(&state.pool, user_id).await?.is_some();
    // A browser remembered for this account skips the second step: only the second step.
    let remembered = two_factor && remembered::is_remembered(&state, user_id).await?;
    if two_factor && !remembered {
        auth.begin_second_factor(user_id, checked.generation, now)
            .await?;
        if breached {
            auth.flag_pending_breached_password().await?;
        }
        return Ok((LoginStage::SecondFactor, false));
    }
    let how = if remembered {
        SignInMethod::PasswordOnRememberedBrowser
    } else {
        SignInMethod::Password
    };
    auth.sign_in(
        &state,
        user_id,
        Some(checked.generation),
        &client,
        Some(how),
    )
    .await?;
    if breached {
        auth.flag_breached_password().await?;
    }
    let sign_in_id = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
    let held = crate::org::service::begin_if_held(&state, user_id, &sign_in_id).await?;
    Ok((LoginStage::Password, held))
}

/// Whether the right password just entered is on a breach list. Looked up only once it proved
/// right, so no guess is sent; bounded and never a refusal (`BreachedPasswords::lists`): the
/// sign-in goes on and the portal asks for a new password.
async fn breached(state: &AppState, sha1: Option<PasswordSha1>) -> bool {
    match sha1 {
        Some(sha1) => state.settings.breached_passwords.lists(&sha1).await,
        None => false,
    }
}
