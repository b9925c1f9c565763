use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    components::{Field, Hidden, Loading, PortalForm, SubmitButton},
    error::AppError,
    notice::NoticeLine,
    recovery::request::{CheckEmail, RecoveryStep},
    security_keys::sign_in::{PasskeySignIn, UseSecurityKey},
    two_factor::prompt::CodeStep,
};

/// Where this browser is in signing in, and whom to ask when every factor is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInProgress {
    pub stage: LoginStage,
    /// At the second step: the account has a security key or passkey to use.
    pub security_keys: bool,
    /// At the second step: the browser may be remembered (no organization forbids it).
    pub remembering_allowed: bool,
    pub support_email: String,
}

/// Which step of sign-in this browser is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginStage {
    Password,
    /// The password was right; a second factor is due.
    SecondFactor,
}

/// `next` is where to go once signed in: a path on this site, else the portal.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: String,
) -> Result<LoginStage, AppError> {
    let (stage, held) = ssr::login(username, password.into()).await?;
    if stage == LoginStage::Password {
        // Signed in: no second factor is on. An organization's requirement goes first.
        crate::validation::redirect(crate::validation::after_sign_in(held, &next));
    }
    Ok(stage)
}

#[server(endpoint = "login_stage")]
pub async fn sign_in_state() -> Result<SignInProgress, AppError> {
    ssr::sign_in_state().await
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let state = Resource::new(|| (), |_| sign_in_state());
    let next = Signal::derive(move || query.read().get("next").unwrap_or_default());
    let recovery = move || query.read().get("recovery").unwrap_or_default();
    view! {
        <Title text="Sign in · Portal" />
        <h1>"Sign in to Portal"</h1>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let Ok(SignInProgress { stage, support_email, security_keys, remembering_allowed }) = state.await else {
                    return view! { <PasswordStep next /> }.into_any();
                };
                match (stage, recovery().as_str()) {
                    (_, "sent") => view! { <CheckEmail support_email /> }.into_any(),
                    (LoginStage::SecondFactor, "1") => view! { <RecoveryStep support_email /> }.into_any(),
                    (LoginStage::SecondFactor, _) => view! {
                        {security_keys.then(|| view! { <UseSecurityKey /> })}
                        <CodeStep next offer_remember=remembering_allowed />
                    }
                        .into_any(),
                    (LoginStage::Password, _) => view! {
                        <NoticeLine />
                        <PasswordStep next />
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PasswordStep(next: Signal<String>) -> impl IntoView {
    view! {
        <PortalForm<Login> novalidate=true class="card">
            <Hidden name="next" value=next />
            <Field label="Username" name="username" autocomplete="username webauthn" />
            <Field
                label="Password"
                name="password"
                input_type="password"
                autocomplete="current-password"
            />
            <SubmitButton label="Sign in" />
            <p><A href=paths::FORGOT_PASSWORD>"Forgot your password?"</A></p>
        </PortalForm<Login>>
        <PasskeySignIn />
        <p class="aside">"New to Portal? " <A href=paths::SIGNUP>"Create an account"</A></p>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use secrecy::SecretString;

    use super::{LoginStage, SignInProgress};
    use crate::{
        account::password_check::check_password,
        audit::SignInMethod,
        auth::{AuthSession, client, remembered},
        error::AppError,
        state::app_state,
        store, validation,
    };

    /// A half-finished sign-in whose account no longer has a second factor (it was reset
    /// meanwhile) starts over at the password.
    pub async fn sign_in_state() -> Result<SignInProgress, AppError> {
        let state = app_state()?;
        let auth = AuthSession::from_request().await?;
        let (pending, security_keys, remembering_allowed) =
            match auth.pending_second_factor(state.clock.now()).await? {
                Some(user_id) => (
                    store::two_factor_of(&state.pool, user_id).await?.is_some(),
                    !store::security_keys_of(&state.pool, user_id)
                        .await?
                        .is_empty(),
                    store::remembering_allowed(&state.pool, user_id).await?,
                ),
                None => (false, false, false),
            };
        if !pending {
            auth.forget_pending().await?;
        }
        Ok(SignInProgress {
            stage: if pending {
                LoginStage::SecondFactor
            } else {
                LoginStage::Password
            },
            support_email: state.settings.support_email.clone(),
            security_keys,
            remembering_allowed,
        })
    }

    /// Unknown username and wrong password answer alike, in words and in work: both verify one
    /// Argon2id hash (see `password_check`).
    /// The stage reached, and whether an organization's requirement holds the account.
    pub async fn login(
        username: String,
        password: SecretString,
    ) -> Result<(LoginStage, bool), AppError> {
        let state = app_state()?;
        // Nothing is stored for a name no account could have.
        let username = validation::normalize_username(&username)
            .map_err(|message| AppError::validation("username", message))?;
        let client = client().await;
        let Some(checked) = check_password(&state, &username, password, &client).await? else {
            return Err(AppError::InvalidCredentials);
        };
        let user_id = checked.user_id;
        let auth = AuthSession::from_request().await?;
        let now = state.clock.now();
        let two_factor = store::two_factor_of(&state.pool, user_id).await?.is_some();
        // A browser remembered for this account skips the second step: only the second step.
        let remembered = two_factor && remembered::is_remembered(&state, user_id).await?;
        if two_factor && !remembered {
            auth.begin_second_factor(user_id, checked.generation, now)
                .await?;
            return Ok((LoginStage::SecondFactor, false));
        }
        let how = if remembered {
            SignInMethod::PasswordOnRememberedBrowser
        } else {
            SignInMethod::Password
        };
        auth.sign_in(
            &state,
            user_id,
            Some(checked.generation),
            &client,
            Some(how),
        )
        .await?;
        let sign_in_id = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
        let held = crate::org::service::begin_if_held(&state, user_id, &sign_in_id).await?;
        Ok((LoginStage::Password, held))
    }
}
