//! `/recover/confirm?token=…`: the page the recovery email opens. Opening it changes nothing
//! (mail scanners prefetch links); only its button, a POST, resets the second factor.

use leptos::prelude::*;

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
    ssr::whose(&token).await
}

#[server(endpoint = "confirm_recovery")]
pub async fn confirm_recovery(token: String) -> Result<(), AppError> {
    ssr::confirm(&token).await?;
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

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{
        audit::EventKind,
        auth::{AuthSession, client},
        error::{AppError, Link},
        notify::{account_of_link, link_refusal},
        recovery::service::reset_two_factor,
        security::token,
        state::app_state,
        store::{self, TokenPurpose, TokenState},
    };

    fn refusal(found: TokenState) -> AppError {
        link_refusal(found, Link::Recovery)
    }

    pub async fn whose(token: &str) -> Result<String, AppError> {
        let state = app_state()?;
        Ok(
            account_of_link(&state, token, TokenPurpose::Recovery, Link::Recovery)
                .await?
                .username,
        )
    }

    pub async fn confirm(token: &str) -> Result<(), AppError> {
        let state = app_state()?;
        let now = state.clock.now();
        let hash = token::hash(token);
        let Some(user_id) =
            store::consume_token(&state.pool, &hash, TokenPurpose::Recovery, now).await?
        else {
            let found = store::token_state(&state.pool, &hash, TokenPurpose::Recovery, now).await?;
            return Err(refusal(found));
        };
        reset_two_factor(
            &state,
            user_id,
            EventKind::TwoFactorReset,
            &client().await,
            None,
        )
        .await?;
        // This browser may still hold the half-finished sign-in that asked for the link.
        AuthSession::from_request().await?.forget_pending().await
    }
}
