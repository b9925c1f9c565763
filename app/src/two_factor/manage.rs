//! With two-factor authentication on: turning it off, and a new recovery code. Each asks for a
//! current authentication code, so a session left open is not enough.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_router::components::A;

use crate::{
    components::{CodeField, Intro, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "disable_two_factor")]
pub async fn disable_two_factor(code: String) -> Result<(), AppError> {
    super::service::manage::disable(&code).await?;
    crate::validation::redirect(&Notice::Disabled.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "regenerate_recovery_code")]
pub async fn regenerate_recovery_code(code: String) -> Result<(), AppError> {
    super::service::manage::regenerate(&code).await?;
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
