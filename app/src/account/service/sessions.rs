use secrecy::SecretString;

use crate::account::sessions::{ActiveSession, RememberedBrowser, SessionsSection};
use crate::store::SignInId;
use crate::{
    account::service::password_check::check_password,
    auth::{AuthSession, Viewer, client, signed_in},
    display::{address_or_unknown, browser_name, format_time},
    error::{AppError, Missing},
    store,
    two_factor::service::verify_any_factor,
};

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &Viewer) -> Result<SessionsSection, AppError> {
    let (state, user_id) = (&viewer.state, viewer.user_id());
    let now = state.clock.now();
    let idle_since = now - crate::auth::IDLE_TIMEOUT_SECONDS;
    let apps = store::apps_of_sign_ins(&state.pool, user_id).await?;
    let sessions = store::sign_ins_of(&state.pool, user_id, idle_since)
        .await?
        .into_iter()
        .map(|row| ActiveSession {
            apps: apps
                .iter()
                .filter(|(sign_in, _)| *sign_in == row.id)
                .map(|(_, host)| host.clone())
                .collect(),
            current: viewer.sign_in_id == row.id,
            browser: browser_name(row.user_agent.as_deref()),
            address: address_or_unknown(row.address),
            signed_in: format_time(row.created_at),
            last_seen: format_time(row.last_seen_at),
            id: row.id.0,
        })
        .collect();
    let remembered = store::remembered_browsers_of(&state.pool, user_id, now)
        .await?
        .into_iter()
        .map(|row| RememberedBrowser {
            id: row.id,
            browser: browser_name(row.user_agent.as_deref()),
            address: address_or_unknown(row.address),
            remembered: format_time(row.created_at),
            until: format_time(row.expires_at),
        })
        .collect();
    Ok(SessionsSection {
        sessions,
        remembered,
    })
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn forget_browser(id: i64, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    // Browsers are remembered only with two-factor authentication on (turning it off forgets
    // them all), so this asks in practice always.
    if store::two_factor_of(&state.pool, user_id).await?.is_some() {
        verify_any_factor(&state, user_id, code, &client().await).await?;
    }
    if !store::forget_browser(&state.pool, user_id, id).await? {
        return Err(AppError::NotFound {
            what: Missing::RememberedBrowser,
        });
    }
    Ok(())
}

/// The sign-in's password check, with its throttle and audit: a stolen session is no
/// unthrottled way to guess the owner's password.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn confirm_password(password: SecretString) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let username = store::username_of(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let checked = check_password(&state, &username, password, &client().await).await?;
    if checked.map(|checked| checked.user_id) != Some(user_id) {
        return Err(AppError::validation(
            "password",
            "That password is incorrect.",
        ));
    }
    let auth = AuthSession::from_request().await?;
    auth.password_confirmed(state.clock.now()).await?;
    let sign_in_id = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
    crate::org::service::begin_if_held(&state, user_id, &sign_in_id).await?;
    Ok(())
}

/// Signs out one of the account's sessions (its sign-in row goes; its browser is signed out at
/// its next request).
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn revoke(id: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    store::delete_sign_in(&state.pool, user_id, &SignInId(id.to_owned())).await?;
    Ok(())
}
