//! On the security page: the account's keys (name, when added, when last used), each removable,
//! and "Add a security key or passkey". Adding needs the browser's script; without it the page
//! says so and every other factor works as before.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
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
    super::service::manage::start(&name, &code).await
}

/// Finishes adding the key: `credential` is the browser's answer, as JSON.
#[server(endpoint = "finish_key_registration")]
pub async fn finish_key_registration(credential: String) -> Result<(), AppError> {
    super::service::manage::finish(&credential).await
}

/// Removes the key `id` once `code`, a code from an app or the recovery code, confirms it: as
/// adding one, removing one is not for a session alone (stolen, or a remembered browser with the
/// password), which would otherwise take the phishing-resistant factor away (review M3).
#[server(endpoint = "remove_security_key")]
pub async fn remove_security_key(id: i64, #[server(default)] code: String) -> Result<(), AppError> {
    super::service::manage::remove(id, &code).await?;
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
