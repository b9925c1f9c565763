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
    let (stage, held) = super::service::login::login(username, password.into()).await?;
    if stage == LoginStage::Password {
        // Signed in: no second factor is on. An organization's requirement goes first.
        crate::validation::redirect(crate::validation::after_sign_in(held, &next));
    }
    Ok(stage)
}

#[server(endpoint = "login_stage")]
pub async fn sign_in_state() -> Result<SignInProgress, AppError> {
    super::service::login::sign_in_state().await
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let state = Resource::new(|| (), |_| sign_in_state());
    // `rd`: an app behind the proxy sent the browser here (forward-auth); once signed in, Portal
    // checks it against the access rules and sends the browser back to it.
    let search = leptos_router::hooks::use_location().search;
    let next = Signal::derive(move || {
        match (
            query.read().get("next"),
            crate::validation::rd_of(&search.read()),
        ) {
            (Some(next), _) => next,
            (None, Some(rd)) => crate::validation::forward_auth_continue(&rd),
            (None, None) => String::new(),
        }
    });
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
