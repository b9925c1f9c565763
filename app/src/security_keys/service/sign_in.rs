use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential, WebauthnError,
};

use crate::security_keys::service::{from_json, refused, to_json, webauthn};
use crate::{
    audit::{EventKind, record},
    auth::{AuthSession, client, remembered},
    error::AppError,
    mail::templates::Notice,
    notify::send_notice,
    state::{AppState, app_state},
    store::{self, Client, KeyRow, UserId},
};

const SECOND_FACTOR: &str = "second_factor";
const PASSKEY: &str = "passkey";

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn start_second_factor() -> Result<String, AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(user_id) = auth.pending_second_factor(state.clock.now()).await? else {
        return Err(AppError::SignInExpired);
    };
    let passkeys: Vec<Passkey> = store::security_keys_of(&state.pool, user_id)
        .await?
        .iter()
        .filter_map(|key| from_json(&key.passkey).ok())
        .collect();
    if passkeys.is_empty() {
        return Err(AppError::KeyNotAccepted);
    }
    let (options, authentication) = webauthn(&state)?
        .start_passkey_authentication(&passkeys)
        .map_err(AppError::internal)?;
    auth.keep_ceremony(&state, SECOND_FACTOR, (user_id, authentication))
        .await?;
    to_json(&options)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn finish_second_factor(credential: &str, remember: bool) -> Result<(), AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(user_id) = auth.pending_second_factor(state.clock.now()).await? else {
        return Err(AppError::SignInExpired);
    };
    let ceremony = auth
        .take_ceremony::<(UserId, PasskeyAuthentication)>(&state, SECOND_FACTOR)
        .await?;
    let client = client().await;
    let Some((_, authentication)) = ceremony.filter(|(asked, _)| *asked == user_id) else {
        return Err(AppError::KeyNotAccepted);
    };
    let response: PublicKeyCredential = from_json(credential)?;
    let verified = webauthn(&state)?.finish_passkey_authentication(&response, &authentication);
    let result = match verified {
        Ok(result) => result,
        Err(error) => {
            return Err(answer_refused(&state, user_id, &client, error, "security key").await);
        }
    };
    let key = key_of(&state, user_id, result.cred_id().as_ref()).await?;
    if !note_use(&state, key, &result).await? {
        return Err(counter_went_back(&state, user_id, &client, "security key").await);
    }
    auth.complete_second_factor(
        &state,
        user_id,
        &client,
        crate::audit::SignInMethod::PasswordAndSecurityKey,
    )
    .await?;
    auth.note_key(result.backup_eligible()).await?;
    if remember {
        remembered::remember(&state, user_id, &client).await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn start_passkey() -> Result<String, AppError> {
    let state = app_state()?;
    let (options, discoverable) = webauthn(&state)?
        .start_discoverable_authentication()
        .map_err(AppError::internal)?;
    AuthSession::from_request()
        .await?
        .keep_ceremony(&state, PASSKEY, discoverable)
        .await?;
    to_json(&options)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn finish_passkey(credential: &str) -> Result<bool, AppError> {
    let state = app_state()?;
    let auth = AuthSession::from_request().await?;
    let Some(discoverable) = auth
        .take_ceremony::<DiscoverableAuthentication>(&state, PASSKEY)
        .await?
    else {
        return Err(AppError::KeyNotAccepted);
    };
    let response: PublicKeyCredential = from_json(credential)?;
    // Until the answer names an account and a key of it, a refusal has no owner to tell:
    // `refused` logs it.
    let (handle, credential_id) = webauthn(&state)?
        .identify_discoverable_authentication(&response)
        .map_err(refused)?;
    let user_id = store::user_by_webauthn_id(&state.pool, &handle.to_string())
        .await?
        .ok_or(AppError::KeyNotAccepted)?;
    let client = client().await;
    let key = key_of(&state, user_id, credential_id).await?;
    let passkey: Passkey = from_json(&key.passkey)?;
    let verified =
        webauthn(&state)?.finish_discoverable_authentication_v2(&response, discoverable, &passkey);
    let result = match verified {
        Ok(result) => result,
        Err(error) => {
            return Err(answer_refused(&state, user_id, &client, error, "passkey").await);
        }
    };
    if !note_use(&state, key, &result).await? {
        return Err(counter_went_back(&state, user_id, &client, "passkey").await);
    }
    auth.sign_in(
        &state,
        user_id,
        None,
        &client,
        Some(crate::audit::SignInMethod::Passkey),
    )
    .await?;
    auth.note_key(result.backup_eligible()).await?;
    let sign_in_id = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
    crate::org::service::begin_if_held(&state, user_id, &sign_in_id).await
}

/// The key with this credential id, if it is `user_id`'s.
async fn key_of(
    state: &AppState,
    user_id: UserId,
    credential_id: &[u8],
) -> Result<KeyRow, AppError> {
    store::security_key_by_credential(&state.pool, credential_id)
        .await?
        .filter(|key| key.user_id == user_id)
        .ok_or(AppError::KeyNotAccepted)
}

/// A key's answer that webauthn-rs refused, recorded as a warning on the owner's page; a
/// counter that did not rise is a suspected copy (`counter_went_back`) (review I3).
async fn answer_refused(
    state: &AppState,
    user_id: UserId,
    client: &Client,
    error: WebauthnError,
    detail: &str,
) -> AppError {
    if matches!(error, WebauthnError::CredentialPossibleCompromise) {
        refused(&error);
        return counter_went_back(state, user_id, client, detail).await;
    }
    let audited = record(state, user_id, EventKind::KeyRefused, client, Some(detail)).await;
    audited.err().unwrap_or_else(|| refused(error))
}

/// An answer whose signature counter is not above the last one recorded: what a copy of the
/// key sends (or an answer sent twice). The sign-in is refused, the owner's page shows a
/// warning and the owner is mailed, since only they can tell whether to remove the key.
async fn counter_went_back(
    state: &AppState,
    user_id: UserId,
    client: &Client,
    detail: &str,
) -> AppError {
    tracing::warn!(
        user_id = user_id.0,
        "a key answered with a counter that did not rise"
    );
    if let Err(error) = record(
        state,
        user_id,
        EventKind::KeyCounterWentBack,
        client,
        Some(detail),
    )
    .await
    {
        return error;
    }
    send_notice(state, user_id, Notice::KeyCounterWentBack).await;
    AppError::KeyNotAccepted
}

/// Stores the sign counter and backup flags the answer carried (webauthn-rs has refused a
/// counter that went backwards), and when the key was used. The store writes only a counter
/// higher than the one it holds, so two answers checked at once cannot both count: false
/// when another answer with this counter or a higher one was recorded meanwhile.
async fn note_use(
    state: &AppState,
    key: KeyRow,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<bool, AppError> {
    let mut passkey: Passkey = from_json(&key.passkey)?;
    passkey.update_credential(result);
    let counter = i64::from(result.counter());
    Ok(store::record_key_use(
        &state.pool,
        key.id,
        &to_json(&passkey)?,
        counter,
        state.clock.now(),
    )
    .await?)
}
