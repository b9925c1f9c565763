//! `/secure-account`: "Secure my account", for someone who sees a sign-in that was not theirs.
//! Opened from a new-device alert's single-use link (7 days; the person need not be signed in:
//! they may have lost the account), or from "This wasn't me" on the security page, where the
//! signed-in session stands for the link. Opening the page changes nothing (mail scanners open
//! links); its one button ends every session and remembered browser, withdraws every emailed
//! link, signs the account out of apps, and emails a password-reset link. No factor is turned off.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::paths;
use crate::{
    components::{Hidden, LinkPage, NextStep, PortalForm, SubmitButton},
    error::AppError,
};

/// Whose account the button would secure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecureLink {
    pub username: String,
}

/// What the link (or, without one, this browser's sign-in) would secure; changes nothing.
#[server(endpoint = "secure_account_link")]
pub async fn secure_account_link(#[server(default)] token: String) -> Result<SecureLink, AppError> {
    super::service::secure::details(&token).await
}

/// The button: a POST, so a mail scanner opening the link does not press it.
#[server(endpoint = "secure_account")]
pub async fn secure_account(#[server(default)] token: String) -> Result<(), AppError> {
    super::service::secure::secure(&token).await?;
    crate::validation::redirect(&format!("{}?done=1", paths::SECURE_ACCOUNT));
    Ok(())
}

/// What the page says once the button has done its work.
pub const DONE: &str = "Your account is secured: every session and remembered browser is signed out, every emailed link is withdrawn, and apps must sign you in again. Check your mail: we have sent a link to choose a new password. With two-factor authentication on, its page also asks for a code from your authenticator app.";

#[component]
pub fn SecureAccountPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), secure_account_link);
    view! {
        <Title text="Secure my account · Portal" />
        <h1>"Secure my account"</h1>
        <LinkPage
            resource=link
            done=DONE
            next=NextStep { href: paths::LOGIN, label: "Go to sign-in" }
            show=move |SecureLink { username }| view! {
                <PortalForm<SecureAccount> class="card">
                    <p>"If someone else signed in to " <strong>{username}</strong> ", this button:"</p>
                    <ul>
                        <li>"signs the account out everywhere, this browser too, and forgets every remembered browser;"</li>
                        <li>"withdraws every link we have emailed (password reset, email change, verification, recovery);"</li>
                        <li>"signs the account out of the apps it signed in to through Portal;"</li>
                        <li>"emails you a link to choose a new password. With two-factor authentication on, that page also asks for a code from your authenticator app."</li>
                    </ul>
                    <p>"Your second factors stay as they are. It works once."</p>
                    <Hidden name="token" value=token />
                    <SubmitButton label="Secure my account" />
                </PortalForm<SecureAccount>>
            }
        />
    }
}
