//! On the security page: the account's keys (name, when added, when last used), each removable,
//! and "Add a security key or passkey". Adding needs the browser's script; without it the page
//! says so and every other factor works as before.

use leptos::prelude::*;

use crate::{notice::Notice, paths};
use serde::{Deserialize, Serialize};

use super::CeremonyOptions;
use crate::{
    components::{EnterSubmitsNothing, Field, PortalForm},
    error::AppError,
    validation,
};

/// A key as the security page lists it.
/// The keys card: the account's security keys and passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysSection {
    pub keys: Vec<KeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

/// Starts adding a key named `name`: the options for `navigator.credentials.create`. `code`, a
/// code from the app or the recovery code, is asked first: a session alone (stolen, or a
/// remembered browser with the password) must not add a passkey that signs in on its own.
#[server(endpoint = "start_key_registration")]
pub async fn start_key_registration(
    name: String,
    #[server(default)] code: String,
) -> Result<CeremonyOptions, AppError> {
    ssr::start(&name, &code).await
}

/// Finishes adding the key: `credential` is the browser's answer, as JSON.
#[server(endpoint = "finish_key_registration")]
pub async fn finish_key_registration(credential: String) -> Result<(), AppError> {
    ssr::finish(&credential).await
}

/// Removes the key `id` once `code`, a code from an app or the recovery code, confirms it: as
/// adding one, removing one is not for a session alone (stolen, or a remembered browser with the
/// password), which would otherwise take the phishing-resistant factor away (review M3).
#[server(endpoint = "remove_security_key")]
pub async fn remove_security_key(id: i64, #[server(default)] code: String) -> Result<(), AppError> {
    ssr::remove(id, &code).await?;
    crate::validation::redirect(&Notice::KeyRemoved.at(paths::SECURITY));
    Ok(())
}

/// The keys and the way to add one (with two-factor authentication on).
#[component]
pub fn SecurityKeys(section: KeysSection) -> impl IntoView {
    let KeysSection { keys } = section;
    view! {
        <section class="card" aria-labelledby="keys-heading">
            <h2 id="keys-heading">"Security keys and passkeys"</h2>
            {if keys.is_empty() {
                view! { <p>"None yet. A key or passkey signs in where a code could be phished."</p> }.into_any()
            } else {
                // One form for the list: the code typed once, and the Remove button pressed
                // names its key (`id`), with and without JavaScript.
                view! {
                    <PortalForm<RemoveSecurityKey> novalidate=true>
                        <EnterSubmitsNothing />
                        <ul class="sessions">
                            {keys
                                .into_iter()
                                .map(|key| {
                                    let label = format!("Remove {}", key.name);
                                    let used = key
                                        .last_used
                                        .map_or_else(|| "never used".to_owned(), |at| format!("last used {at}"));
                                    view! {
                                        <li>
                                            <span class="what">{key.name}</span>
                                            <span class="when">"Added " {key.added} " · " {used}</span>
                                            <button type="submit" name="id" value=key.id.to_string() class="secondary" aria-label=label>"Remove"</button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                        <Field
                            label="Code to remove a key"
                            name="code"
                            id="remove_key_code"
                            autocomplete="one-time-code"
                            hint="A code from your authenticator app, or your recovery code; then press Remove beside the key."
                        />
                    </PortalForm<RemoveSecurityKey>>
                }
                    .into_any()
            }}
            // Driven by webauthn.js, which shows it where the browser can run the ceremony.
            <form class="webauthn" data-webauthn="register" hidden>
                <div class="field">
                    <label for="field-key_name">"Name of the key"</label>
                    <p id="key_name-hint" class="hint">"So you can tell your keys apart, e.g. “YubiKey” or “Phone”."</p>
                    <input id="field-key_name" name="name" type="text" maxlength=validation::FACTOR_NAME_LENGTH.to_string() aria-describedby="key_name-hint" required />
                </div>
                <div class="field">
                    <label for="field-key_code">"Confirmation code"</label>
                    <p id="key_code-hint" class="hint">"A code from your authenticator app, or your recovery code: it confirms that it is you."</p>
                    <input id="field-key_code" name="code" type="text" autocomplete="one-time-code" aria-describedby="key_code-hint" required />
                </div>
                <p class="form-message" role="alert" hidden></p>
                <button type="submit">"Add a security key or passkey"</button>
            </form>
            // Hidden by webauthn.js where the browser can add a key.
            <p class="hint" data-webauthn-missing>"Adding a security key or passkey needs a browser with JavaScript."</p>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub use ssr::section;

#[cfg(feature = "ssr")]
mod ssr {
    use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Uuid};
    use webauthn_rs_proto::ResidentKeyRequirement;

    use super::super::ssr::{from_json, refused, to_json, webauthn};
    use super::{KeyInfo, KeysSection};
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
        let handle =
            store::webauthn_id_of(&state.pool, user_id, &Uuid::new_v4().to_string()).await?;
        let handle = Uuid::parse_str(&handle).map_err(AppError::internal)?;
        // The account's keys are excluded: the same key is not added twice.
        let existing = store::security_keys_of(&state.pool, user_id)
            .await?
            .iter()
            .filter_map(|key| from_json::<Passkey>(&key.passkey).ok())
            .map(|passkey| passkey.cred_id().clone())
            .collect();
        let (mut options, registration) = webauthn(&state)?
            .start_passkey_registration(
                handle,
                &account.username,
                &account.username,
                Some(existing),
            )
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
}
