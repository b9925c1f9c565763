use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use super::activity::{ActivityList, ActivitySection};
use crate::{
    account::{
        email::{EmailCard, EmailSection},
        sessions::{ReauthForm, RememberedBrowsers, SessionList, SessionsSection},
    },
    components::{ErrorCard, Loading},
    error::AppError,
    notice::NoticeLine,
    oidc::section::{AppsWithAccess, AppsWithAccessCard},
    org::{OrgLink, page::HeldBanner},
    security_keys::manage::{KeysSection, SecurityKeys},
    two_factor::{
        apps::{AppsSection, AuthenticatorApps},
        section::{TwoFactorCard, TwoFactorSection},
    },
};

/// Each card's data, as its flow loads it for the viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPageData {
    pub two_factor: TwoFactorSection,
    /// The organization whose requirement holds the account, linked to its page to leave it.
    pub held_by: Option<OrgLink>,
    pub apps: AppsSection,
    pub keys: KeysSection,
    pub email: EmailSection,
    pub sessions: SessionsSection,
    pub activity: ActivitySection,
    /// Apps signed in through Portal (OpenID Connect), and what each can see.
    pub apps_with_access: AppsWithAccess,
}

#[server(endpoint = "security_overview")]
pub async fn load_security_overview() -> Result<SecurityPageData, AppError> {
    let viewer = crate::auth::Viewer::current().await?;
    Ok(SecurityPageData {
        two_factor: crate::two_factor::service::section(&viewer).await?,
        held_by: crate::org::service::held_by(&viewer).await?,
        apps: crate::two_factor::service::apps::section(&viewer).await?,
        keys: crate::security_keys::service::manage::section(&viewer).await?,
        email: crate::account::service::email::section(&viewer).await?,
        sessions: crate::account::service::sessions::section(&viewer).await?,
        activity: super::service::activity(&viewer).await?,
        apps_with_access: crate::oidc::service::section::section(&viewer).await?,
    })
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(|| (), |_| load_security_overview());
    let change = query.read_untracked().get("change").unwrap_or_default();
    view! {
        <Title text="Security settings · Portal" />
        <h1>"Security settings"</h1>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new({
                let change = change.clone();
                async move {
                    match data.await {
                        Ok(data) => view! { <Cards data change /> }.into_any(),
                        Err(error) => view! { <ErrorCard error bare=true /> }.into_any(),
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Cards(data: SecurityPageData, change: String) -> impl IntoView {
    let on = data.two_factor.is_on();
    view! {
        <NoticeLine />
        <TwoFactorCard section=data.two_factor change reauth=view! { <ReauthForm /> }.into_any()>
            {data.held_by.map(|org| view! { <HeldBanner org /> })}
        </TwoFactorCard>
        {on.then(|| view! {
            <AuthenticatorApps section=data.apps />
            <SecurityKeys section=data.keys />
            <RememberedBrowsers browsers=data.sessions.remembered.clone() />
        })}
        <EmailCard section=data.email />
        <AccountActions />
        <SessionList sessions=data.sessions.sessions />
        <AppsWithAccessCard section=data.apps_with_access />
        <ActivityList section=data.activity />
    }
}

/// The account's own changes, each on a page of its own.
#[component]
fn AccountActions() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="account-heading">
            <h2 id="account-heading">"Account"</h2>
            <ul class="links">
                <li><A href=paths::CHANGE_PASSWORD>"Change password"</A></li>
                <li><A href=paths::CLOSE_ACCOUNT>"Close account"</A></li>
            </ul>
        </section>
    }
}
