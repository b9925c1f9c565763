//! The consent page: an app asks to sign the person in and to receive some facts; Allow or
//! Deny. Allowed scopes are remembered per account and app, and asked again when they grow.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{
    components::{ErrorCard, Hidden, Loading, PortalForm, SubmitButton},
    error::AppError,
    paths,
};

/// What the consent page shows of the waiting request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAsk {
    pub id: String,
    pub app: String,
    /// The host the browser goes back to.
    pub host: String,
    /// What the app receives, in words.
    pub receives: Vec<String>,
}

#[server(endpoint = "consent_request")]
pub async fn load_consent(request: String) -> Result<Option<ConsentAsk>, AppError> {
    super::service::consent::request(&request).await
}

/// Allow (`decision` = "allow") or Deny: then on to the app.
#[server(endpoint = "decide_consent")]
pub async fn decide_consent(request: String, decision: String) -> Result<(), AppError> {
    if super::service::consent::decide(&request, decision == "allow").await? {
        crate::validation::redirect(&format!("{}?request={request}", paths::OIDC_CONTINUE));
    } else {
        crate::validation::redirect(paths::PORTAL);
    }
    Ok(())
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_query_map();
    let id = query.read_untracked().get("request").unwrap_or_default();
    let data = Resource::new(move || id.clone(), load_consent);
    view! {
        <Title text="Allow access · Portal" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(request)) => view! { <Consent request /> }.into_any(),
                    Ok(None) => view! {
                        <h1>"This sign-in has expired"</h1>
                        <section class="card">
                            <p>"Go back to the app and sign in again."</p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorCard error bare=true /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Consent(request: ConsentAsk) -> impl IntoView {
    let ConsentAsk {
        id,
        app,
        host,
        receives,
    } = request;
    let deny_id = id.clone();
    view! {
        <h1>"Sign in to " {app.clone()} "?"</h1>
        <section class="card" aria-labelledby="consent-heading">
            <h2 id="consent-heading">{app.clone()} " at " {host} " will receive:"</h2>
            <ul>
                {receives.into_iter().map(|words| view! { <li>{words}</li> }).collect_view()}
            </ul>
            <p>"You can revoke its access at any time on your security page."</p>
            <div class="actions">
                <PortalForm<DecideConsent>>
                    <Hidden name="request" value=id />
                    <Hidden name="decision" value="allow" />
                    <SubmitButton label="Allow" />
                </PortalForm<DecideConsent>>
                <PortalForm<DecideConsent>>
                    <Hidden name="request" value=deny_id />
                    <Hidden name="decision" value="deny" />
                    <SubmitButton label="Deny" class="secondary" />
                </PortalForm<DecideConsent>>
            </div>
        </section>
    }
}
