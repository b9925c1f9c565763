//! At sign-in, with the password accepted: a recovery code, which sends a link to the account's
//! email address.

use leptos::prelude::*;

use crate::paths;
use leptos_router::components::A;

use crate::{
    components::{Field, Intro, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "request_recovery")]
pub async fn request_recovery(recovery_code: String) -> Result<(), AppError> {
    super::service::request::request(&recovery_code).await?;
    crate::validation::redirect(&format!("{}?recovery=sent", paths::LOGIN));
    Ok(())
}

/// The last-resort line, under the recovery form and on the "Check your email" page.
#[component]
pub fn SupportLine(support_email: String) -> impl IntoView {
    let mailto = format!("mailto:{support_email}");
    view! {
        <p class="aside support">
            "Lost your recovery code? Contact support at " <a href=mailto>{support_email}</a> "."
        </p>
    }
}

#[component]
pub fn RecoveryStep(support_email: String) -> impl IntoView {
    view! {
        <PortalForm<RequestRecovery> novalidate=true class="card">
            <Intro slot>
                <h2>"Use a recovery code"</h2>
                <p>"Enter the recovery code you saved when you turned on two-factor authentication. We will email a link to reset it."</p>
            </Intro>
            <Field
                label="Recovery code"
                name="recovery_code"
                autocomplete="off"
                hint="16 letters and digits, like ABCD-EFGH-JKMN-PQRS."
            />
            <SubmitButton label="VERIFY" />
            <p>
                <A href=paths::LOGIN>"Use your authenticator app instead"</A>
            </p>
        </PortalForm<RequestRecovery>>
        <SupportLine support_email />
    }
}

#[component]
pub fn CheckEmail(support_email: String) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="check-email-heading">
            <h2 id="check-email-heading">"Check your email"</h2>
            <p>
                {format!("We sent a link to the email address of your account. Open it within {} minutes to reset two-factor authentication.", crate::limits::RECOVERY_LINK_MINUTES)}
            </p>
        </section>
        <SupportLine support_email />
    }
}
