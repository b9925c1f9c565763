//! The email card of the security page: the address recovery goes through, whether it is
//! verified, a change waiting for its link, and the undo link of the last change.

use leptos::prelude::*;

use crate::paths;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::{
    account::verify_email::ResendVerification,
    components::{PortalForm, SubmitButton},
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
}

#[component]
pub fn EmailCard(section: EmailSection) -> impl IntoView {
    let EmailSection {
        address,
        verified,
        pending,
        undo,
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
            <p><A href=paths::CHANGE_EMAIL>"Change email"</A></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub async fn section(viewer: &crate::auth::Viewer) -> Result<EmailSection, crate::error::AppError> {
    use crate::{display::format_time, store};
    let (pool, user_id) = (&viewer.state.pool, viewer.user_id());
    let now = viewer.state.clock.now();
    let pending =
        store::live_token_email(pool, user_id, store::TokenPurpose::EmailChange, now).await?;
    let undo = store::live_link(pool, user_id, store::TokenPurpose::EmailChangeUndo, now)
        .await?
        .and_then(|link| {
            Some(UndoEmail {
                email: link.email?,
                until: format_time(link.expires_at),
            })
        });
    Ok(EmailSection {
        address: viewer.account.email.clone(),
        verified: viewer.account.email_verified_at.is_some(),
        pending,
        undo,
    })
}
