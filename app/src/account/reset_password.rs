//! `/reset-password?token=…`: the page the reset email opens. Opening it changes nothing; its
//! form sets the new password, and with two-factor authentication on it also asks for a code
//! from the authenticator app: a mailbox alone never sets the password of such an account, and
//! neither does the mailbox with the recovery code (which resets the second factor, with the
//! password, at sign-in).

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    account::new_password::NewPasswordField,
    components::{Field, Hidden, Loaded, NextStep, PortalForm, SubmitButton},
    error::AppError,
};

/// Whose password the link would set, and whether a second factor is asked too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLink {
    pub username: String,
    pub two_factor: bool,
}

#[server(endpoint = "password_reset_link")]
pub async fn password_reset_link(token: String) -> Result<ResetLink, AppError> {
    super::service::reset_password::details(&token).await
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    token: String,
    new_password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    super::service::reset_password::reset(&token, new_password.into(), &code).await?;
    crate::validation::redirect(&Notice::PasswordReset.at(paths::LOGIN));
    Ok(())
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), password_reset_link);
    view! {
        <Title text="Choose a new password · Portal" />
        <h1>"Choose a new password"</h1>
        <Loaded
            resource=link
            loading="Checking the link…"
            next=NextStep { href: paths::FORGOT_PASSWORD, label: "Ask for a new link" }
            show=move |ResetLink { username, two_factor }| view! {
                <PortalForm<ResetPassword> novalidate=true class="card">
                    <p>"Choose a new password for " <strong>{username.clone()}</strong> ". Every session of the account will be signed out."</p>
                    <Hidden name="token" value=token />
                    // The username, for password managers that save the new password.
                    <input type="hidden" name="username" autocomplete="username" value=username.clone() />
                    <NewPasswordField known=vec![username] />
                    {two_factor.then(|| view! {
                        <Field
                            label="Authentication code"
                            name="code"
                            autocomplete="one-time-code"
                            inputmode="numeric"
                            hint="The 6-digit code from your authenticator app."
                        />
                    })}
                    <SubmitButton label="Set new password" />
                </PortalForm<ResetPassword>>
            }
        />
    }
}
