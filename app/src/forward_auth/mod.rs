//! Forward-auth: a reverse proxy (Caddy's `forward_auth`, nginx's `auth_request`, Traefik's
//! ForwardAuth) asks Portal, for every request to an app behind it, whether the browser's Portal
//! session may reach it, by the access rules (`security::access_rules`). The server answers the
//! proxy (`/auth/verify`, `/auth/request`); this module holds the rules (`service`), the way
//! back to the app after signing in or out (`endpoints`) and the sign-out page an app links to.

#[cfg(feature = "ssr")]
pub mod endpoints;
#[cfg(feature = "ssr")]
pub mod service;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{
    components::{Hidden, PortalForm, SubmitButton},
    error::AppError,
    paths,
};

/// Signs this browser out, then sends it back to the app at `rd` (if a rule names its host).
#[server(endpoint = "sign_out_to_app")]
pub async fn sign_out_to_app(rd: String) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let auth = crate::auth::AuthSession::from_request().await?;
    let sign_in = auth.sign_in_id().await?;
    auth.sign_out(&state).await?;
    if let Some(sign_in) = sign_in {
        crate::oidc::service::logout::tell_apps_of_sign_in(&state, &sign_in).await;
    }
    let rd = crate::validation::encode_component(&rd);
    crate::validation::redirect(&format!("{}?rd={rd}", paths::FORWARD_AUTH_LEAVE));
    Ok(())
}

/// `/logout?rd=`: an app's sign-out link lands here; signing out is a button (a post), never a
/// link a page could follow for the person.
#[component]
pub fn SignOutPage() -> impl IntoView {
    let query = use_query_map();
    let rd = query.read_untracked().get("rd").unwrap_or_default();
    view! {
        <Title text="Sign out · Portal" />
        <h1>"Sign out of Portal?"</h1>
        <section class="card">
            <p>"You will be signed out of Portal and of every app behind it on this browser."</p>
            <PortalForm<SignOutToApp>>
                <Hidden name="rd" value=rd />
                <SubmitButton label="Sign out" />
            </PortalForm<SignOutToApp>>
        </section>
    }
}
