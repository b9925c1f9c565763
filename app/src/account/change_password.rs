//! `/settings/password`: the current password, a new one, and the second factor when it is on.
//! Every other session is signed out, and the account is told by email.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    account::{
        AccountFacts, SecondFactorField, load_account_facts, new_password::NewPasswordField,
    },
    components::{Field, Loaded, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    super::service::change_password::change(current_password.into(), new_password.into(), &code)
        .await?;
    crate::validation::redirect(&Notice::PasswordChanged.at(paths::SECURITY));
    Ok(())
}

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let facts = Resource::new(|| (), |_| load_account_facts());
    view! {
        <Title text="Change password · Portal" />
        <h1>"Change password"</h1>
        <Loaded
            resource=facts
            show=move |AccountFacts { username, email, two_factor }| view! {
                <PortalForm<ChangePassword> novalidate=true class="card">
                    <input type="hidden" name="username" autocomplete="username" value=username.clone() />
                    <Field
                        label="Current password"
                        name="current_password"
                        input_type="password"
                        autocomplete="current-password"
                    />
                    <NewPasswordField known=vec![username, email] />
                    {two_factor.then(|| view! { <SecondFactorField /> })}
                    <p class="hint">"Your other sessions will be signed out."</p>
                    <div class="actions">
                        <SubmitButton label="Change password" />
                        <A href=paths::SECURITY>"Cancel"</A>
                    </div>
                </PortalForm<ChangePassword>>
            }
        />
    }
}
