//! With two-factor authentication on: turning it off, and a new recovery code. Each asks for a
//! current authentication code, so a session left open is not enough.

use leptos::prelude::*;

use crate::{notice::Notice, paths};
use leptos_router::components::A;

use crate::{
    components::{CodeField, Intro, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "disable_two_factor")]
pub async fn disable_two_factor(code: String) -> Result<(), AppError> {
    ssr::disable(&code).await?;
    crate::validation::redirect(&Notice::Disabled.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "regenerate_recovery_code")]
pub async fn regenerate_recovery_code(code: String) -> Result<(), AppError> {
    ssr::regenerate(&code).await?;
    crate::validation::redirect(paths::SECURITY);
    Ok(())
}

#[component]
pub fn DisableForm() -> impl IntoView {
    view! {
        <PortalForm<DisableTwoFactor> novalidate=true>
            <Intro slot>
                <p>"Enter a code from your authenticator app to turn two-factor authentication off."</p>
            </Intro>
            <CodeConfirmFields button="Disable" />
        </PortalForm<DisableTwoFactor>>
    }
}

#[component]
pub fn RegenerateForm() -> impl IntoView {
    view! {
        <PortalForm<RegenerateRecoveryCode> novalidate=true>
            <Intro slot>
                <p>
                    "Enter a code from your authenticator app to get a new recovery code. Your old one stops working."
                </p>
            </Intro>
            <CodeConfirmFields button="Regenerate recovery code" />
        </PortalForm<RegenerateRecoveryCode>>
    }
}

/// The rest of a form that asks for an authentication code before it acts.
#[component]
fn CodeConfirmFields(button: &'static str) -> impl IntoView {
    view! {
        <CodeField />
        <div class="actions">
            <SubmitButton label=button />
            <A href=paths::SECURITY>"Cancel"</A>
        </div>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{
        audit::EventKind,
        auth::{AuthSession, client, signed_in_recently},
        error::AppError,
        mail::templates::Notice,
        notify::send_notice,
        store,
        two_factor::service::{self, verify_totp},
    };

    pub async fn disable(code: &str) -> Result<(), AppError> {
        let (state, user_id) = signed_in_recently().await?;
        if let Some(org) = store::requiring_org(&state.pool, user_id).await? {
            return Err(AppError::CannotDisableWhileRequired { org });
        }
        let client = client().await;
        verify_totp(&state, user_id, code, &client).await?;
        store::remove_two_factor(&state.pool, user_id, state.clock.now()).await?;
        AuthSession::from_request()
            .await?
            .sign_out_others(&state, user_id)
            .await?;
        crate::audit::record(&state, user_id, EventKind::TwoFactorDisabled, &client, None).await?;
        send_notice(&state, user_id, Notice::Disabled).await;
        Ok(())
    }

    pub async fn regenerate(code: &str) -> Result<(), AppError> {
        let (state, user_id) = signed_in_recently().await?;
        let client = client().await;
        verify_totp(&state, user_id, code, &client).await?;
        let recovery = service::new_recovery_code(&state, user_id).await?;
        store::replace_recovery_code(
            &state.pool,
            user_id,
            &crate::auth::this_sign_in_id().await?,
            &recovery.hash,
            &recovery.sealed,
            state.clock.now(),
        )
        .await?;
        AuthSession::from_request()
            .await?
            .sign_out_others(&state, user_id)
            .await?;
        crate::audit::record(
            &state,
            user_id,
            EventKind::RecoveryCodeRegenerated,
            &client,
            None,
        )
        .await?;
        send_notice(&state, user_id, Notice::RecoveryCodeRegenerated).await;
        Ok(())
    }
}
