//! A new email address: asked for with the password, proven by a link to the new address, and
//! only then the account's (recovery and notices keep going to the verified old one until
//! then). The old address is told, with a link that keeps it for 7 days.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    account::{SecondFactorField, load_account_facts},
    components::{Field, Hidden, LinkPage, Loaded, NextStep, PortalForm, SubmitButton},
    error::AppError,
};

/// `code`: with two-factor authentication on, a code from the app or the recovery code (the
/// mailbox is the recovery channel, so a password alone must not move it).
#[server(endpoint = "change_email")]
pub async fn change_email(
    new_email: String,
    password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    super::service::change_email::request(&new_email, password.into(), &code).await?;
    crate::validation::redirect(&Notice::EmailChangeSent.at(paths::SECURITY));
    Ok(())
}

/// The address the confirmation link would give its account. Opening the link changes nothing:
/// a mail scanner that opens it must not tie the address to an account nobody confirmed.
#[server(endpoint = "email_change_link")]
pub async fn email_change_link(token: String) -> Result<KeepLink, AppError> {
    super::service::change_email::change_details(&token).await
}

/// The confirmation, a POST from the link's page; answers nothing, the page says it.
#[server(endpoint = "confirm_email_change")]
pub async fn confirm_email_change(token: String) -> Result<(), AppError> {
    super::service::change_email::confirm(&token).await?;
    crate::validation::redirect(&format!("{}?done=1", paths::CONFIRM_EMAIL));
    Ok(())
}

/// Whose address the undo link keeps, and which address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepLink {
    pub username: String,
    pub email: String,
}

#[server(endpoint = "email_undo_link")]
pub async fn email_undo_link(token: String) -> Result<KeepLink, AppError> {
    super::service::change_email::undo_details(&token).await
}

/// A POST, since it signs the account out everywhere: a mail scanner opening the link does not.
#[server(endpoint = "keep_email")]
pub async fn keep_email(token: String) -> Result<(), AppError> {
    super::service::change_email::undo(&token).await?;
    crate::validation::redirect(&Notice::EmailKept.at(paths::LOGIN));
    Ok(())
}

#[component]
pub fn ChangeEmailPage() -> impl IntoView {
    let facts = Resource::new(|| (), |_| load_account_facts());
    view! {
        <Title text="Change email · Portal" />
        <h1>"Change email"</h1>
        <PortalForm<ChangeEmail> novalidate=true class="card">
            <p>"We will send a link to the new address. Your account switches to it when you open the link; until then, mail goes to your current address, which also hears of the change."</p>
            <Field label="New email" name="new_email" input_type="email" autocomplete="email" />
            <Field label="Password" name="password" input_type="password" autocomplete="current-password" />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    facts.await.ok().filter(|facts| facts.two_factor).map(|_| view! { <SecondFactorField /> })
                })}
            </Suspense>
            <div class="actions">
                <SubmitButton label="Send confirmation link" />
                <A href=paths::SECURITY>"Cancel"</A>
            </div>
        </PortalForm<ChangeEmail>>
    }
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), email_change_link);
    view! {
        <Title text="Confirm your new email · Portal" />
        <h1>"Confirm your new email"</h1>
        <LinkPage
            resource=link
            done="Your account's email address is changed."
            next=NextStep { href: paths::SECURITY, label: "Go to Security settings" }
            show=move |KeepLink { username, email }| view! {
                <PortalForm<ConfirmEmailChange> class="card">
                    <p>"Make " <strong>{email}</strong> " the email address of " <strong>{username}</strong> "?"</p>
                    <Hidden name="token" value=token />
                    <SubmitButton label="Confirm this email address" />
                </PortalForm<ConfirmEmailChange>>
            }
        />
    }
}

#[component]
pub fn KeepEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let link = Resource::new(move || token.get(), email_undo_link);
    view! {
        <Title text="Keep your email address · Portal" />
        <h1>"Keep your email address"</h1>
        <Loaded
            resource=link
            loading="Checking the link…"
            next=NextStep { href: paths::LOGIN, label: "Go to sign-in" }
            show=move |KeepLink { username, email }| view! {
                <PortalForm<KeepEmail> class="card">
                    <p>
                        "This keeps " <strong>{email}</strong> " as the email address of " <strong>{username}</strong>
                        " (or brings it back), cancels the change, and signs the account out everywhere. If you did not ask for the change, reset your password afterwards."
                    </p>
                    <Hidden name="token" value=token />
                    <SubmitButton label="Keep this email address" />
                </PortalForm<KeepEmail>>
            }
        />
    }
}
