//! The second step of sign-in: after a right password on an account with two-factor
//! authentication, a code from the authenticator app.

use leptos::prelude::*;

use crate::paths;
use leptos_router::components::A;

use crate::{
    components::{CheckboxField, CodeField, Hidden, Intro, PortalForm, SubmitButton},
    error::AppError,
};

/// `remember`: the box "Remember this browser for 30 days" was ticked.
#[server(endpoint = "verify_sign_in_code")]
pub async fn verify_sign_in_code(
    code: String,
    next: String,
    #[server(default)] remember: Option<String>,
) -> Result<(), AppError> {
    super::service::prompt::verify(&code, remember.is_some()).await?;
    crate::validation::redirect(&next);
    Ok(())
}

/// Drops the pending sign-in, back to the password.
#[server(endpoint = "start_over")]
pub async fn start_over() -> Result<(), AppError> {
    crate::auth::AuthSession::from_request()
        .await?
        .forget_pending()
        .await?;
    Ok(())
}

#[component]
pub fn CodeStep(
    next: Signal<String>,
    /// Offer "Remember this browser" (an organization of the account may forbid it).
    #[prop(default = true)]
    offer_remember: bool,
) -> impl IntoView {
    view! {
        <PortalForm<VerifySignInCode> novalidate=true class="card">
            <Intro slot>
                <h2>"Two-factor authentication"</h2>
                <p>"Open your authenticator app and enter the code it shows for Portal."</p>
            </Intro>
            <Hidden name="next" value=next />
            <CodeField />
            {offer_remember.then(|| view! {
                <CheckboxField label=crate::limits::remember_label() name="remember" value="yes" />
            })}
            <SubmitButton label="Verify" />
            <p>
                <A href=move || recovery_href(&next.get())>"Enter a recovery code"</A>
            </p>
        </PortalForm<VerifySignInCode>>
        <PortalForm<StartOver> class="inline" message=false>
            <p class="aside">
                "Not you, or wrong account? "
                <button type="submit" class="link">"Start over"</button>
            </p>
        </PortalForm<StartOver>>
    }
}

/// The sign-in page showing the recovery form, keeping where to go afterwards.
fn recovery_href(next: &str) -> String {
    if next.is_empty() {
        format!("{}?recovery=1", paths::LOGIN)
    } else {
        format!(
            "{}?recovery=1&next={}",
            paths::LOGIN,
            crate::validation::encode_component(next)
        )
    }
}
