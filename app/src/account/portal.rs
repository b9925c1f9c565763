use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};

use super::current_user;
use crate::{
    components::{ErrorCard, Loading, PortalForm},
    error::AppError,
};

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let auth = crate::auth::AuthSession::from_request().await?;
    let sign_in = auth.sign_in_id().await?;
    auth.sign_out(&state).await?;
    // Apps signed in through this sign-in that asked to hear of it (back-channel logout).
    if let Some(sign_in) = sign_in {
        crate::oidc::service::logout::tell_apps_of_sign_in(&state, &sign_in).await;
    }
    crate::validation::redirect(paths::LOGIN);
    Ok(())
}

#[component]
pub fn PortalPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Title text="Portal" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        view! {
                            <h1>"Portal"</h1>
                            <section class="card">
                                {user.password_breached.then(|| view! { <BreachedPasswordBanner /> })}
                                <p class="signed-in-as">
                                    "Signed in as " <strong>{user.username}</strong>
                                </p>
                                <p>
                                    <A href=paths::SECURITY>"Security settings"</A>
                                </p>
                                <PortalForm<Logout>>
                                    <button type="submit" class="secondary">"Sign out"</button>
                                </PortalForm<Logout>>
                            </section>
                            <crate::org::invitations::InvitationList />
                            <crate::org::page::OrgSection />
                        }
                            .into_any()
                    }
                    // Held by an organization's requirement: to the wizard.
                    Err(AppError::TwoFactorRequired { .. }) => {
                        view! { <Redirect path=paths::SECURITY /> }.into_any()
                    }
                    Ok(None) | Err(AppError::Unauthorized) => {
                        view! { <Redirect path=format!("{}?next=%2Fportal", paths::LOGIN) /> }.into_any()
                    }
                    Err(error) => view! { <ErrorCard error bare=true /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A sign-in whose password is on a breach list: it went through (a list is no reason to lock
/// anyone out), and is asked to change the password.
#[component]
fn BreachedPasswordBanner() -> impl IntoView {
    view! {
        <p class="banner breached-password" role="alert">
            "This password has appeared in a data breach; change it. "
            <A href=paths::CHANGE_PASSWORD>"Change your password"</A>
        </p>
    }
}
