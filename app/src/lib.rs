//! Portal's pages and server functions, shared by the server (feature `ssr`) and the browser
//! (feature `hydrate`).

pub mod account;
pub mod audit;
pub mod components;
pub mod error;
pub mod forward_auth;
pub mod frame;
pub mod kept_fields;
pub mod limits;
#[cfg(feature = "ssr")]
pub mod mail;
pub mod notice;
pub mod oidc;
pub mod org;
pub mod paths;
pub mod recovery;
pub mod security_keys;
pub mod settings;
pub mod two_factor;
pub mod unix_time;
pub mod validation;

#[cfg(test)]
mod architecture_tests;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod breached_passwords;
#[cfg(feature = "ssr")]
pub mod display;
#[cfg(feature = "ssr")]
pub mod maintenance;
#[cfg(feature = "ssr")]
pub mod notify;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;

use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

use account::{
    change_email::{ChangeEmailPage, ConfirmEmailPage, KeepEmailPage},
    change_password::ChangePasswordPage,
    close::CloseAccountPage,
    forgot_password::ForgotPasswordPage,
    login::LoginPage,
    portal::PortalPage,
    reset_password::ResetPasswordPage,
    secure::SecureAccountPage,
    signup::SignupPage,
    verify_email::VerifyEmailPage,
};
use frame::Frame;
use org::page::OrgPage;
use recovery::confirm::ConfirmRecoveryPage;
use settings::SecurityPage;

/// Pages that need a signed-in account: these paths and everything under the ones ending in `/`.
/// Every page of the route table is either here or in `PUBLIC_PAGES` (a server test checks).
pub const PROTECTED_PAGES: [&str; 4] = [
    paths::PORTAL,
    "/settings/",
    paths::ORGS,
    paths::OIDC_CONSENT,
];
/// Pages anyone may open.
pub const PUBLIC_PAGES: [&str; 11] = [
    paths::HOME,
    paths::SIGNUP,
    paths::LOGIN,
    paths::VERIFY_EMAIL,
    paths::CONFIRM_RECOVERY,
    paths::FORGOT_PASSWORD,
    paths::RESET_PASSWORD,
    paths::CONFIRM_EMAIL,
    paths::KEEP_EMAIL,
    paths::SIGN_OUT,
    paths::SECURE_ACCOUNT,
];

/// Pages an account held by an organization's requirement may still open: the wizard on the
/// security page (and its recovery-code file), "Secure my account" (whoever sees a takeover must
/// be able to stop it), an organization's page with its Leave form, and the ways in and out. Each is the path and what lies under it; a server test checks that each names
/// a page of the route table.
pub const PAGES_WHILE_HELD: [&str; 7] = [
    paths::SECURITY,
    paths::SECURE_ACCOUNT,
    paths::ORGS,
    paths::LOGIN,
    paths::SIGNUP,
    paths::VERIFY_EMAIL,
    paths::CONFIRM_RECOVERY,
];

/// Whether an account held by an organization's requirement may open the page at `path`.
pub fn page_allowed_while_held(path: &str) -> bool {
    PAGES_WHILE_HELD.iter().any(|page| {
        path == page.trim_end_matches('/')
            || path.starts_with(page)
                && (page.ends_with('/') || path[page.len()..].starts_with('/'))
    })
}

/// Whether the page at `path` needs a signed-in account.
pub fn page_needs_sign_in(path: &str) -> bool {
    PROTECTED_PAGES.iter().any(|page| {
        if page.ends_with('/') {
            path.starts_with(page) || path == page.trim_end_matches('/')
        } else {
            path == *page
        }
    })
}

/// Link clicks and form posts without a full page load (see the script's own comment).
const NAVIGATE_SCRIPT: &str = include_str!("navigate.js");
/// The WebAuthn ceremonies of security keys and passkeys (see the script's own comment).
const WEBAUTHN_SCRIPT: &str = include_str!("webauthn.js");

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="portal" />
                <HydrationScripts options islands=true />
                <script type="module" nonce=leptos::nonce::use_nonce() inner_html=NAVIGATE_SCRIPT></script>
                <script type="module" nonce=leptos::nonce::use_nonce() inner_html=WEBAUTHN_SCRIPT></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Portal" />
        <Router>
            <Frame>
                // Async: each page is rendered whole on the server, so it works without JavaScript
                // and can still answer with a redirect or a status.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home ssr=SsrMode::Async />
                    <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/portal") view=PortalPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/security") view=SecurityPage ssr=SsrMode::Async />
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                    <Route path=path!("/recover/confirm") view=ConfirmRecoveryPage ssr=SsrMode::Async />
                    <Route path=path!("/org/:slug") view=OrgPage ssr=SsrMode::Async />
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/password") view=ChangePasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/email") view=ChangeEmailPage ssr=SsrMode::Async />
                    <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async />
                    <Route path=path!("/keep-email") view=KeepEmailPage ssr=SsrMode::Async />
                    <Route path=path!("/secure-account") view=SecureAccountPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/close") view=CloseAccountPage ssr=SsrMode::Async />
                    <Route path=path!("/logout") view=forward_auth::SignOutPage ssr=SsrMode::Async />
                    <Route path=path!("/oauth2/consent") view=oidc::consent::ConsentPage ssr=SsrMode::Async />
                </Routes>
            </Frame>
        </Router>
    }
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <Title text="Portal" />
        <h1>"Welcome to Portal"</h1>
        <section class="card">
            <p>"Sign in with your password and, when you turn it on, a code from your authenticator app."</p>
            <p class="actions">
                <A href=paths::LOGIN>"Sign in"</A>
                <A href=paths::SIGNUP>"Create an account"</A>
            </p>
        </section>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Portal" />
        <h1>"Page not found"</h1>
        <section class="card">
            <p>"There is no page at this address."</p>
            <p>
                <A href=paths::HOME>"Go to the start page"</A>
            </p>
        </section>
    }
}
