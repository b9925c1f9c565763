//! "Forgot your password?": a link to set a new one, mailed to the account's verified address.
//! The answer is the same, and as quick, whether or not an account matches: the mail is sent
//! after the answer.

use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    components::{Field, Intro, PortalForm, SubmitButton},
    error::AppError,
};

/// The one answer, known account or not.
/// What the form answers, whether or not an account matches.
pub fn sent_text() -> String {
    format!(
        "If an account matches, we have sent a link. Open it within {} minutes to choose a new password.",
        crate::limits::RESET_LINK_MINUTES
    )
}

#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(account: String) -> Result<(), AppError> {
    super::service::forgot_password::request(&account).await?;
    crate::validation::redirect(&format!("{}?sent=1", paths::FORGOT_PASSWORD));
    Ok(())
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Forgot your password? · Portal" />
        <h1>"Forgot your password?"</h1>
        <Show
            when=sent
            fallback=move || view! {
                <PortalForm<RequestPasswordReset> novalidate=true class="card">
                    <Intro slot>
                        <p>"Enter your username or your account's verified email address. We will email a link to choose a new password."</p>
                    </Intro>
                    <Field label="Email or username" name="account" autocomplete="username" />
                    <SubmitButton label="Send reset link" />
                </PortalForm<RequestPasswordReset>>
            }
        >
            <section class="card">
                <p class="notice" role="status">{sent_text()}</p>
                <p>"With two-factor authentication on, the link's page also asks for a code from your authenticator app."</p>
            </section>
        </Show>
        <p class="aside"><A href=paths::LOGIN>"Back to sign-in"</A></p>
    }
}
