use crate::store::SignInId;
use crate::two_factor::apps::{AppAddition, AppInfo, AppsSection};
use crate::{
    audit::EventKind,
    auth::{client, signed_in, signed_in_recently, this_sign_in_id},
    display::format_time,
    error::{AppError, Missing},
    mail::templates::Notice,
    security::totp::{self, CodeCheck},
    state::AppState,
    store::{self, UserId},
    two_factor::{
        service::enroll::{new_secret, scan_code},
        service::{REVEAL_SECONDS, factor_changed, secret_context, verify_any_factor},
    },
    validation,
};

/// Each code check tries every app of the account: a handful is what people carry.
const MAX_APPS: usize = 10;

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &crate::auth::Viewer) -> Result<AppsSection, AppError> {
    let (state, user_id) = (&viewer.state, viewer.user_id());
    let adding = match viewer.reveal_to() {
        Some(sign_in_id) => {
            addition_of(state, user_id, &viewer.account.username, sign_in_id).await?
        }
        None => None,
    };
    Ok(AppsSection {
        apps: apps_of(state, user_id).await?,
        adding,
    })
}

async fn apps_of(state: &AppState, user_id: UserId) -> Result<Vec<AppInfo>, AppError> {
    Ok(store::authenticator_apps_of(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|app| AppInfo {
            id: app.id,
            name: app.name,
            added: format_time(app.created_at),
            last_used: app.last_used_at.map(format_time),
        })
        .collect())
}

/// The addition under way that `sign_in_id` started, recently.
async fn addition_of(
    state: &AppState,
    user_id: UserId,
    username: &str,
    sign_in_id: &SignInId,
) -> Result<Option<AppAddition>, AppError> {
    let Some(addition) = current_addition(state, user_id, sign_in_id).await? else {
        return Ok(None);
    };
    let secret = state
        .secrets
        .open(&addition.secret_sealed, &secret_context(user_id))?;
    let (qr_svg, key) = scan_code(state, username, &secret)?;
    Ok(Some(AppAddition {
        name: addition.name,
        qr_svg,
        key,
    }))
}

async fn current_addition(
    state: &AppState,
    user_id: UserId,
    sign_in_id: &SignInId,
) -> Result<Option<store::AdditionRow>, AppError> {
    let recent = state.clock.now() - REVEAL_SECONDS;
    Ok(store::app_addition_of(&state.pool, user_id)
        .await?
        .filter(|addition| addition.sign_in_id == *sign_in_id && addition.started_at >= recent))
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn start(name: &str, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    let name = validation::factor_name(name, "Name the app, e.g. “Work phone”.")
        .map_err(|message| AppError::validation("app_name", message))?;
    if store::two_factor_of(&state.pool, user_id).await?.is_none() {
        return Err(AppError::TwoFactorOff);
    }
    if store::authenticator_apps_of(&state.pool, user_id)
        .await?
        .len()
        >= MAX_APPS
    {
        return Err(AppError::validation(
            "app_name",
            format!("An account has at most {MAX_APPS} authenticator apps: remove one first."),
        ));
    }
    verify_any_factor(&state, user_id, code, &client().await)
        .await
        .map_err(|error| match error {
            AppError::Validation { message, .. } => AppError::validation("app_code", message),
            other => other,
        })?;
    let sealed = state.secrets.seal(&new_secret(), &secret_context(user_id));
    store::start_app_addition(
        &state.pool,
        user_id,
        &this_sign_in_id().await?,
        &name,
        &sealed,
        state.clock.now(),
    )
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn finish(code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let sign_in_id = this_sign_in_id().await?;
    let code = totp::parse_code(code).ok_or_else(|| {
        AppError::validation("new_app_code", "Enter the 6-digit code the new app shows.")
    })?;
    let addition = current_addition(&state, user_id, &sign_in_id)
        .await?
        .ok_or(AppError::AppAdditionGone)?;
    let secret = state
        .secrets
        .open(&addition.secret_sealed, &secret_context(user_id))?;
    let now = state.clock.now();
    let CodeCheck::Accepted(step) = totp::check_code(&secret, &code, now, None) else {
        return Err(AppError::validation(
            "new_app_code",
            "That code is not the new app’s. Check that it shows Portal’s new entry, and enter its current code.",
        ));
    };
    if !store::finish_app_addition(
        &state.pool,
        user_id,
        &sign_in_id,
        &addition.secret_sealed,
        step.0,
        now,
    )
    .await?
    {
        return Err(AppError::AppAdditionGone);
    }
    factor_changed(
        &state,
        user_id,
        EventKind::AppAdded,
        Some(&addition.name),
        Notice::AppAdded,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn remove(id: i64, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    verify_any_factor(&state, user_id, code, &client().await).await?;
    let apps = store::authenticator_apps_of(&state.pool, user_id).await?;
    if !apps.iter().any(|app| app.id == id) {
        return Err(AppError::NotFound {
            what: Missing::AuthenticatorApp,
        });
    }
    // The count is checked again under the write lock: of two removals at once, one stays.
    let Some(name) = store::remove_authenticator_app(&state.pool, user_id, id).await? else {
        return Err(AppError::LastAuthenticatorApp);
    };
    factor_changed(
        &state,
        user_id,
        EventKind::AppRemoved,
        Some(&name),
        Notice::AppRemoved,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn cancel() -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    store::cancel_app_addition(&state.pool, user_id).await?;
    Ok(())
}
