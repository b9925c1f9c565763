//! The email card of the security page: the address recovery goes through, whether it is
//! verified, a change waiting for its link, the undo link of the last change, and whether the
//! owner is emailed at a sign-in from a new device (on by default).

use leptos::prelude::*;

use leptos_router::components::A;
use serde::{Deserialize, Serialize};

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{
    account::verify_email::ResendVerification,
    components::{Hidden, PortalForm, SubmitButton, Switch},
    error::AppError,
    notice::Notice,
    paths,
};

/// The previous address, whose undo link still works, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoEmail {
    pub email: String,
    pub until: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailSection {
    pub address: String,
    pub verified: bool,
    /// A new address waiting for its confirmation link to be opened.
    pub pending: Option<String>,
    /// A live link to the previous address that can move the account back to it.
    pub undo: Option<UndoEmail>,
    /// Whether a sign-in from a new device is emailed to the address.
    pub sign_in_alerts: bool,
}

/// Turns the email at a sign-in from a new device on (`on` present) or off.
#[server(endpoint = "set_sign_in_alerts")]
pub async fn set_sign_in_alerts(on: Option<String>) -> Result<(), AppError> {
    let on = on.is_some();
    super::service::email::set_sign_in_alerts(on).await?;
    let notice = if on {
        Notice::SignInAlertsOn
    } else {
        Notice::SignInAlertsOff
    };
    crate::validation::redirect(&notice.at(paths::SECURITY));
    Ok(())
}

/// What the switch does, with its cap.
pub fn alerts_help() -> String {
    format!(
        "A sign-in from a browser that has never signed in to your account is emailed to you, with a link to secure the account if it was not you; a browser you signed in with before, or one you asked to remember, is not. At most {} such emails an hour.",
        crate::limits::NEW_DEVICE_ALERTS_PER_HOUR
    )
}

#[component]
pub fn EmailCard(section: EmailSection) -> impl IntoView {
    let EmailSection {
        address,
        verified,
        pending,
        undo,
        sign_in_alerts,
    } = section;
    view! {
        <section class="card" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email address"</h2>
            <p>
                <strong>{address}</strong>
                {if verified { " is verified." } else { " is not verified yet." }}
            </p>
            {(!verified).then(|| view! {
                <p>"Two-factor authentication needs a verified address: recovery links are sent to it."</p>
                <PortalForm<ResendVerification>>
                    <SubmitButton label="Resend verification email" class="secondary" />
                </PortalForm<ResendVerification>>
            })}
            {pending.map(|pending| view! {
                <p>"Waiting for " <strong>{pending}</strong> " to be confirmed: open the link we sent to it."</p>
            })}
            {undo.map(|UndoEmail { email, until }| view! {
                <p>"Until " {until} ", the link sent to " <strong>{email}</strong> " can move your account back to that address; changing your password with two-factor authentication on withdraws it."</p>
            })}
            <PortalForm<SetSignInAlerts>>
                {(!sign_in_alerts).then(|| view! { <Hidden name="on" value="yes" /> })}
                <Switch on=sign_in_alerts label="Email me at every new sign-in" described_by=Some("sign-in-alerts-help") />
            </PortalForm<SetSignInAlerts>>
            <p id="sign-in-alerts-help" class="hint">{alerts_help()}</p>
            <p><A href=paths::CHANGE_EMAIL>"Change email"</A></p>
        </section>
    }
}
