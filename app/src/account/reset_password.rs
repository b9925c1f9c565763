//! `/reset-password?token=…`: the page the reset email opens. Opening it changes nothing; its
//! form sets the new password, and with two-factor authentication on it also asks for a code
//! from the authenticator app: a mailbox alone never sets the password of such an account, and
//! neither does the mailbox with the recovery code (which resets the second factor, with the
//! password, at sign-in).

use leptos::prelude::*;

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
    ssr::details(&token).await
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    token: String,
    new_password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    ssr::reset(&token, new_password.into(), &code).await?;
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
        security::{recovery_code, token, totp},
        state::{AppState, app_state},
        store::{self, Client, Factor, TokenPurpose, UserId},
        two_factor::service::{check_throttle, verify_totp},
    };

    const LINK: Link = Link::PasswordReset;
    /// Codes one reset link takes: a typo or two, then the mailbox alone guesses no further.
    const CODE_TRIES: i64 = 3;

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
            check_code(&state, token, user_id, code, &client).await?;
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

    /// A code from the authenticator app, and only that: the recovery code is refused here, since
    /// the mailbox and the recovery code would then set a password, and with it reach the
    /// recovery flow that turns two-factor off (review L5). Each link takes `CODE_TRIES` codes and
    /// then dies, so the mailbox alone cannot keep pushing the owner's code counter.
    async fn check_code(
        state: &AppState,
        token: &str,
        user_id: UserId,
        code: &str,
        client: &Client,
    ) -> Result<(), AppError> {
        if totp::parse_code(code).is_none() {
            let message = if recovery_code::normalize(code).is_some() {
                "A recovery code does not reset a password: enter the 6-digit code from your authenticator app. Without the app, contact support."
            } else {
                "Enter the 6-digit code from your authenticator app."
            };
            return Err(AppError::validation("code", message));
        }
        let now = state.clock.now();
        // A cheap refusal first, so a wait does not cost the link a try.
        check_throttle(state, user_id, Factor::Totp, now).await?;
        let hash = token::hash(token);
        if !store::take_link_try(
            &state.pool,
            &hash,
            TokenPurpose::PasswordReset,
            now,
            CODE_TRIES,
        )
        .await?
        {
            let found =
                store::token_state(&state.pool, &hash, TokenPurpose::PasswordReset, now).await?;
            // A live link without tries left has had them all.
            return Err(match found {
                store::TokenState::Valid(_) => AppError::LinkUsed { link: LINK },
                found => link_refusal(found, LINK),
            });
        }
        let checked = verify_totp(state, user_id, code, client).await;
        if checked.is_err() {
            store::retire_tried_link(
                &state.pool,
                &hash,
                TokenPurpose::PasswordReset,
                now,
                CODE_TRIES,
            )
            .await?;
        }
        checked
    }
}
