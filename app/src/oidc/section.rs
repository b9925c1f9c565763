//! The security page's "Apps with access" card: each app the person let sign them in, what it
//! can see, when it was last used, and Revoke (which ends its tokens).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{
    components::{Hidden, PortalForm},
    error::AppError,
    notice::Notice,
    paths,
};

/// One app with access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAccess {
    pub client_id: String,
    pub name: String,
    /// What it can see, in words.
    pub sees: Vec<String>,
    pub last_used: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsWithAccess {
    pub apps: Vec<AppAccess>,
}

/// Revoke: the app's access and tokens end.
#[server(endpoint = "revoke_app_access")]
pub async fn revoke_app_access(client_id: String) -> Result<(), AppError> {
    super::service::section::revoke(&client_id).await?;
    crate::validation::redirect(&Notice::AppAccessRevoked.at(paths::SECURITY));
    Ok(())
}

#[component]
pub fn AppsWithAccessCard(section: AppsWithAccess) -> impl IntoView {
    if section.apps.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card" aria-labelledby="apps-with-access-heading">
            <h2 id="apps-with-access-heading">"Apps with access"</h2>
            <ul class="sessions">
                {section.apps.into_iter().map(|app| view! { <AppRow app /> }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn AppRow(app: AppAccess) -> impl IntoView {
    let AppAccess {
        client_id,
        name,
        sees,
        last_used,
    } = app;
    // The button names its app: a list of Revoke buttons tells them apart.
    let label = format!("Revoke {name}");
    view! {
        <li>
            <span class="what">{name}</span>
            <span>"Can see " {sees.join(", ")} "."</span>
            <span class="when">
                {match last_used {
                    Some(at) => format!("Last used {at}."),
                    None => "Not used yet.".to_owned(),
                }}
            </span>
            <PortalForm<RevokeAppAccess> class="inline">
                <Hidden name="client_id" value=client_id />
                <button type="submit" class="secondary" aria-label=label>"Revoke"</button>
            </PortalForm<RevokeAppAccess>>
        </li>
    }
}
