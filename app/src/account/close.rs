//! `/settings/close`: closing the account, with the password and the second factor when it is
//! on. Refused while the account is the last owner of an organization with other members.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    account::{AccountFacts, SecondFactorField, load_account_facts},
    components::{Field, Loaded, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "close_account")]
pub async fn close_account(
    password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    super::service::close::close(password.into(), &code).await?;
    crate::validation::redirect(&Notice::Closed.at(paths::LOGIN));
    Ok(())
}

#[component]
pub fn CloseAccountPage() -> impl IntoView {
    let facts = Resource::new(|| (), |_| load_account_facts());
    view! {
        <Title text="Close account · Portal" />
        <h1>"Close account"</h1>
        <Loaded
            resource=facts
            show=move |AccountFacts { username, two_factor, .. }| view! {
                <PortalForm<CloseAccount> novalidate=true class="card">
                    <p>
                        "Closing " <strong>{username.clone()}</strong>
                        {format!(" deletes its sessions, second factors, links and memberships, and signs it out everywhere. It cannot be undone. The username stays reserved for {} days.", crate::limits::RETIRED_USERNAME_DAYS)}
                    </p>
                    <input type="hidden" name="username" autocomplete="username" value=username />
                    <Field label="Password" name="password" input_type="password" autocomplete="current-password" />
                    {two_factor.then(|| view! { <SecondFactorField /> })}
                    <div class="actions">
                        <SubmitButton label="Close account" class="danger" />
                        <A href=paths::SECURITY>"Cancel"</A>
                    </div>
                </PortalForm<CloseAccount>>
            }
        />
    }
}
