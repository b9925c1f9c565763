//! Signing in with a key: at the second step after the password ("Use your security key"), or
//! alone with a passkey ("Sign in with a passkey"), whose user verification makes it both factors.

use leptos::prelude::*;

use super::CeremonyOptions;
use crate::error::AppError;

/// The options for `navigator.credentials.get` with the pending account's keys.
#[server(endpoint = "start_key_sign_in")]
pub async fn start_key_sign_in() -> Result<CeremonyOptions, AppError> {
    super::service::sign_in::start_second_factor().await
}

/// `remember`: the second step's "Remember this browser for 30 days" was ticked. `next`: the
/// sign-in page's `next`, as it came. Answers where the script goes: `next` if it is a path on
/// this site, else the portal (the script follows nothing else).
#[server(endpoint = "finish_key_sign_in")]
pub async fn finish_key_sign_in(
    credential: String,
    #[server(default)] remember: Option<String>,
    #[server(default)] next: String,
) -> Result<String, AppError> {
    super::service::sign_in::finish_second_factor(&credential, remember.is_some()).await?;
    Ok(crate::validation::safe_next_path(&next).to_owned())
}

/// The options for a passkey the browser finds itself (no username asked).
#[server(endpoint = "start_passkey_sign_in")]
pub async fn start_passkey_sign_in() -> Result<CeremonyOptions, AppError> {
    super::service::sign_in::start_passkey().await
}

/// Signs in with the passkey's answer. Answers where the script goes: the security page when an
/// organization's requirement holds the account, else `next` (the sign-in page's, as it came) if
/// it is a path on this site, else the portal.
#[server(endpoint = "finish_passkey_sign_in")]
pub async fn finish_passkey_sign_in(
    credential: String,
    #[server(default)] next: String,
) -> Result<String, AppError> {
    let held = super::service::sign_in::finish_passkey(&credential).await?;
    Ok(crate::validation::after_sign_in(held, &next).to_owned())
}

/// "Use your security key", beside the code field; shown by webauthn.js when the browser can.
#[component]
pub fn UseSecurityKey() -> impl IntoView {
    view! {
        <div class="webauthn" data-webauthn="second-factor" hidden>
            <p class="form-message" role="alert" hidden></p>
            <button type="button" class="secondary">"Use your security key"</button>
        </div>
    }
}

/// "Sign in with a passkey" on /login; shown by webauthn.js when the browser can.
#[component]
pub fn PasskeySignIn() -> impl IntoView {
    view! {
        <div class="webauthn card" data-webauthn="passkey" hidden>
            <p class="form-message" role="alert" hidden></p>
            <button type="button" class="secondary">"Sign in with a passkey"</button>
        </div>
    }
}
