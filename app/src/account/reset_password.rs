//! `/reset-password?token=…`: the page the reset email opens. Opening it changes nothing; its
//! form sets the new password, and with two-factor authentication on it also asks for a code
//! (or the recovery code): a mailbox alone never sets the password of such an account.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    account::{SecondFactorField, new_password::NewPasswordField},
    components::{Hidden, Loaded, NextStep, PortalForm, SubmitButton},
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
    ssr::details(&token).await
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    token: String,
    new_password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    ssr::reset(&token, new_password.into(), &code).await?;
    crate::validation::redirect("/login?notice=password-reset");
    Ok(())
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), password_reset_link);
    let reset = ServerAction::<ResetPassword>::new();
    view! {
        <Title text="Choose a new password · Portal" />
        <h1>"Choose a new password"</h1>
        <Loaded
            resource=link
            loading="Checking the link…"
            next=NextStep { href: "/forgot-password", label: "Ask for a new link" }
            show=move |ResetLink { username, two_factor }| view! {
                <PortalForm action=reset novalidate=true class="card">
                    <p>"Choose a new password for " <strong>{username.clone()}</strong> ". Every session of the account will be signed out."</p>
                    <Hidden name="token" value=token />
                    // The username, for password managers that save the new password.
                    <input type="hidden" name="username" autocomplete="username" value=username.clone() />
                    <NewPasswordField known=vec![username] />
                    {two_factor.then(|| view! { <SecondFactorField /> })}
                    <SubmitButton label="Set new password" />
                </PortalForm>
            }
        />
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use secrecy::{ExposeSecret, SecretString};

    use super::ResetLink;
    use crate::{
        account::new_password::check_new_password,
        audit::{EventKind, record},
        auth::client,
        error::{AppError, Link},
        mail::templates::Notice,
        notify::{account_of_link, link_refusal, send_notice},
        security::token,
        state::app_state,
        store::{self, TokenPurpose},
        two_factor::service::verify_any_factor,
    };

    const LINK: Link = Link::PasswordReset;

    pub async fn details(token: &str) -> Result<ResetLink, AppError> {
        let state = app_state()?;
        let account = account_of_link(&state, token, TokenPurpose::PasswordReset, LINK).await?;
        let two_factor = store::two_factor_of(&state.pool, account.id)
            .await?
            .is_some();
        Ok(ResetLink {
            username: account.username,
            two_factor,
        })
    }

    pub async fn reset(token: &str, password: SecretString, code: &str) -> Result<(), AppError> {
        let state = app_state()?;
        let account = account_of_link(&state, token, TokenPurpose::PasswordReset, LINK).await?;
        let user_id = account.id;
        check_new_password(
            "new_password",
            password.expose_secret(),
            &[&account.username, &account.email],
        )?;
        let client = client().await;
        // The mailbox is one factor; an account with a second one needs it here too.
        if store::two_factor_of(&state.pool, user_id).await?.is_some() {
            verify_any_factor(&state, user_id, code, &client).await?;
        }
        let password_hash = state.passwords.hash(password).await?;
        let now = state.clock.now();
        let hash = token::hash(token);
        if store::reset_password(&state.pool, &hash, &password_hash, now)
            .await?
            .is_none()
        {
            let found =
                store::token_state(&state.pool, &hash, TokenPurpose::PasswordReset, now).await?;
            return Err(link_refusal(found, LINK));
        }
        record(&state, user_id, EventKind::PasswordReset, &client, None).await?;
        send_notice(&state, user_id, Notice::PasswordReset).await;
        Ok(())
    }
}
