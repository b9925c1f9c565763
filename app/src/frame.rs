//! The frame around every page: a skip link, the site header that knows who is signed in, an
//! organization's notice, and the page itself in `<main id="main">`. It is server-rendered like
//! the pages (no island): after every post the next page, header and all, comes from the server.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{account::portal::Logout, components::PortalForm, org::page::RequirementBanner, paths};

/// Where the skip link goes: the `id` of `<main>`.
const MAIN_ID: &str = "main";

#[component]
pub fn Frame(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href=format!("#{MAIN_ID}")>"Skip to content"</a>
        <SiteHeader />
        <RequirementBanner />
        <main id=MAIN_ID>{children()}</main>
    }
}

/// The brand, and what the person can do from anywhere: signed in, their account's pages and
/// Sign out; signed out, Sign in and Create an account.
#[component]
fn SiteHeader() -> impl IntoView {
    let username = signed_in_username();
    view! {
        <header class="site-header">
            <Suspense fallback=|| ()>
                {Suspend::new(async move {
                    match username.await {
                        Some(username) => view! { <SignedInBar username /> }.into_any(),
                        None => view! { <SignedOutBar /> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}

/// Not a link when signed in: the **Portal** link beside it goes to the person's portal, and a
/// second link of the same name going elsewhere would only confuse.
#[component]
fn SignedInBar(username: String) -> impl IntoView {
    view! {
        <span class="brand">"Portal"</span>
        <nav class="site-nav" aria-label="Account">
            <span class="who">
                <span class="visually-hidden">"Account: "</span>
                {username}
            </span>
            <A href=paths::PORTAL exact=true>"Portal"</A>
            <A href=paths::SECURITY exact=true>"Security settings"</A>
            <PortalForm<Logout> class="inline">
                <button type="submit" class="link">"Sign out"</button>
            </PortalForm<Logout>>
        </nav>
    }
}

#[component]
fn SignedOutBar() -> impl IntoView {
    view! {
        <A href=paths::HOME exact=true attr:class="brand">"Portal"</A>
        <nav class="site-nav" aria-label="Account">
            <A href=paths::LOGIN exact=true>"Sign in"</A>
            <A href=paths::SIGNUP exact=true>"Create an account"</A>
        </nav>
    }
}

/// The username of the account this request is signed in as. The sign-in layer has already
/// checked the session and put `SignedInUser` in the request (only a full sign-in: a session
/// waiting for its second factor has none), so this is one read and writes nothing. A failed read
/// is logged and shows the signed-out header rather than failing the page.
#[cfg(feature = "ssr")]
fn signed_in_username() -> impl Future<Output = Option<String>> + Send + 'static {
    let user = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::auth::SignedInUser>().copied());
    let state = use_context::<crate::state::AppState>();
    async move {
        let (Some(crate::auth::SignedInUser(user_id)), Some(state)) = (user, state) else {
            return None;
        };
        crate::account::service::username(&state, user_id).await
    }
}

/// The header is never rendered in the browser (no island holds it).
#[cfg(not(feature = "ssr"))]
fn signed_in_username() -> impl Future<Output = Option<String>> + Send + 'static {
    std::future::ready(None)
}
