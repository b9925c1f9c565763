//! A verified email address: recovery of the second factor goes through this mailbox, so two-
//! factor authentication can only be turned on once the address is proven.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    account::change_email::KeepLink,
    components::{Hidden, LinkPage, NextStep, PortalForm, SubmitButton},
    error::AppError,
};

/// The address the verification link would verify, and whose it is. Opening the link changes
/// nothing: a mail scanner that opens it must not bind the address to an account (perhaps one
/// that someone else signed up with it).
#[server(endpoint = "verification_link")]
pub async fn verification_link(token: String) -> Result<KeepLink, AppError> {
    super::service::verify_email::details(&token).await
}

/// Verifies the address of the link's token: a POST from the link's page.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    super::service::verify_email::verify(&token).await?;
    crate::validation::redirect(&format!("{}?done=1", paths::VERIFY_EMAIL));
    Ok(())
}

#[server(endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), AppError> {
    super::service::verify_email::resend().await?;
    crate::validation::redirect(&Notice::VerificationSent.at(paths::SECURITY));
    Ok(())
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), verification_link);
    view! {
        <Title text="Verify your email · Portal" />
        <h1>"Verify your email"</h1>
        <LinkPage
            resource=link
            done="Your email address is verified."
            next=NextStep { href: paths::SECURITY, label: "Go to Security settings" }
            show=move |KeepLink { username, email }| view! {
                <PortalForm<VerifyEmail> class="card">
                    <p>"Verify " <strong>{email}</strong> " as the email address of " <strong>{username}</strong> "? If you did not sign up for this account, leave this page."</p>
                    <Hidden name="token" value=token />
                    <SubmitButton label="Verify this address" />
                </PortalForm<VerifyEmail>>
            }
        />
    }
}
