//! `/recover/confirm?token=…`: the page the recovery email opens. Opening it changes nothing
//! (mail scanners prefetch links); only its button, a POST, resets the second factor.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{Hidden, Loaded, NextStep, PortalForm, SubmitButton},
    error::AppError,
};

/// The username whose second factor the token would reset.
#[server(endpoint = "recovery_request")]
pub async fn recovery_request(token: String) -> Result<String, AppError> {
    super::service::confirm::whose(&token).await
}

#[server(endpoint = "confirm_recovery")]
pub async fn confirm_recovery(token: String) -> Result<(), AppError> {
    super::service::confirm::confirm(&token).await?;
    crate::validation::redirect(&Notice::TwoFactorReset.at(paths::LOGIN));
    Ok(())
}

#[component]
pub fn ConfirmRecoveryPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let whose = Resource::new(move || token.get(), recovery_request);
    view! {
        <Title text="Reset two-factor authentication · Portal" />
        <h1>"Reset two-factor authentication"</h1>
        <Loaded
            resource=whose
            loading="Checking the link…"
            next=NextStep { href: paths::LOGIN, label: "Go to sign-in" }
            show=move |username: String| view! {
                <PortalForm<ConfirmRecovery> class="card">
                    <p>
                        "This turns off two-factor authentication for " <strong>{username}</strong>
                        ", removes its recovery code and signs the account out everywhere. You can turn it on again after you sign in."
                    </p>
                    <Hidden name="token" value=token />
                    <SubmitButton label="Reset two-factor authentication" />
                </PortalForm<ConfirmRecovery>>
            }
        />
    }
}
