use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Uuid};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::security_keys::manage::{KeyInfo, KeysSection};
use crate::security_keys::service::{from_json, refused, to_json, webauthn};
use crate::{
    audit::EventKind,
    auth::{AuthSession, client, signed_in_recently},
    display::format_time,
    error::{AppError, Missing},
    mail::templates::Notice,
    state::AppState,
    store::{self, KeyAdded, NewKey, UserId},
    two_factor::service::{factor_changed, verify_any_factor},
    validation,
};

const CEREMONY: &str = "registration";

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &crate::auth::Viewer) -> Result<KeysSection, AppError> {
    Ok(KeysSection {
        keys: keys_of(&viewer.state, viewer.user_id()).await?,
    })
}

async fn keys_of(state: &AppState, user_id: UserId) -> Result<Vec<KeyInfo>, AppError> {
    Ok(store::security_keys_of(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|key| KeyInfo {
            id: key.id,
            name: key.name,
            added: format_time(key.created_at),
            last_used: key.last_used_at.map(format_time),
        })
        .collect())
}

fn key_name(typed: &str) -> Result<String, AppError> {
    validation::factor_name(typed, "Name the key, e.g. “YubiKey”.")
        .map_err(|message| AppError::validation("name", message))
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn start(name: &str, code: &str) -> Result<String, AppError> {
    let (state, user_id) = signed_in_recently().await?;
    let name = key_name(name)?;
    if store::two_factor_of(&state.pool, user_id).await?.is_none() {
        return Err(AppError::KeysNeedTwoFactor);
    }
    verify_any_factor(&state, user_id, code, &client().await).await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let handle = store::webauthn_id_of(&state.pool, user_id, &Uuid::new_v4().to_string()).await?;
    let handle = Uuid::parse_str(&handle).map_err(AppError::internal)?;
    // The account's keys are excluded: the same key is not added twice.
    let existing = store::security_keys_of(&state.pool, user_id)
        .await?
        .iter()
        .filter_map(|key| from_json::<Passkey>(&key.passkey).ok())
        .map(|passkey| passkey.cred_id().clone())
        .collect();
    let (mut options, registration) = webauthn(&state)?
        .start_passkey_registration(handle, &account.username, &account.username, Some(existing))
        .map_err(AppError::internal)?;
    // Discoverable where the authenticator can be: the same key then also signs in alone.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    AuthSession::from_request()
        .await?
        .keep_ceremony(&state, CEREMONY, (user_id, name, registration))
        .await?;
    to_json(&options)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn finish(credential: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    let auth = AuthSession::from_request().await?;
    // Only the account that started the ceremony finishes it (the browser may have signed
    // in to another meanwhile).
    let Some((_, name, registration)) = auth
        .take_ceremony::<(UserId, String, PasskeyRegistration)>(&state, CEREMONY)
        .await?
        .filter(|(started_by, ..)| *started_by == user_id)
    else {
        return Err(AppError::KeyNotAccepted);
    };
    let response: RegisterPublicKeyCredential = from_json(credential)?;
    let passkey = webauthn(&state)?
        .finish_passkey_registration(&response, &registration)
        .map_err(refused)?;
    let key = NewKey {
        user_id,
        name: &name,
        credential_id: passkey.cred_id().as_ref(),
        passkey: &to_json(&passkey)?,
        created_at: state.clock.now(),
    };
    match store::add_security_key(&state.pool, key).await? {
        KeyAdded::Added => {}
        KeyAdded::Duplicate => return Err(AppError::KeyNotAccepted),
        KeyAdded::TwoFactorOff => return Err(AppError::KeysNeedTwoFactor),
    }
    // A new factor, like a new recovery code, ends every other session.
    factor_changed(
        &state,
        user_id,
        EventKind::SecurityKeyAdded,
        Some(&name),
        Notice::SecurityKeyAdded,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn remove(id: i64, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    verify_any_factor(&state, user_id, code, &client().await).await?;
    if !store::remove_security_key(&state.pool, user_id, id).await? {
        return Err(AppError::NotFound {
            what: Missing::SecurityKey,
        });
    }
    // A factor changed: other sessions end and no browser skips the second step any more.
    factor_changed(
        &state,
        user_id,
        EventKind::SecurityKeyRemoved,
        None,
        Notice::SecurityKeyRemoved,
    )
    .await
}
