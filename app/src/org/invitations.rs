//! Invitations: an owner invites by username, and the account joins only when it accepts on the
//! portal. Until then it is no member: not listed with its two-factor status, not held by a
//! requirement, not mailed.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use serde::{Deserialize, Serialize};

use crate::{
    components::{Field, FormMessage, Hidden, PortalForm, error_of},
    error::AppError,
};

/// Invitations an organization may have waiting at once: enough for a team joining together,
/// few enough that no one can flood accounts with invitations or sweep usernames through them.
pub const MAX_PENDING_INVITATIONS: i64 = 20;

/// An invitation as its invitee sees it on the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub slug: String,
    pub org_name: String,
    /// Told before accepting: accepting may hold the account to the enrollment wizard.
    pub requires_two_factor: bool,
    pub invited_by: Option<String>,
}

#[server(endpoint = "invite_member")]
pub async fn invite_member(slug: String, username: String) -> Result<(), AppError> {
    let slug = super::service::invitations::invite(&slug, &username).await?;
    crate::validation::redirect(&Notice::Invited.at(&paths::org(&slug)));
    Ok(())
}

#[server(endpoint = "withdraw_invitation")]
pub async fn withdraw_invitation(slug: String, username: String) -> Result<(), AppError> {
    let slug = super::service::invitations::withdraw(&slug, &username).await?;
    crate::validation::redirect(&paths::org(&slug));
    Ok(())
}

#[server(endpoint = "my_invitations")]
pub async fn my_invitations() -> Result<Vec<InvitationView>, AppError> {
    super::service::invitations::mine().await
}

#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(slug: String) -> Result<(), AppError> {
    let slug = super::service::invitations::accept(&slug).await?;
    crate::validation::redirect(&paths::org(&slug));
    Ok(())
}

#[server(endpoint = "decline_invitation")]
pub async fn decline_invitation(slug: String) -> Result<(), AppError> {
    super::service::invitations::decline(&slug).await?;
    crate::validation::redirect(paths::PORTAL);
    Ok(())
}

/// The portal's invitations, each with Accept and Decline; nothing when there are none.
#[component]
pub fn InvitationList() -> impl IntoView {
    let invitations = Resource::new(|| (), |_| my_invitations());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let invitations = invitations.await.unwrap_or_default();
                (!invitations.is_empty()).then(|| view! {
                    <section class="card" aria-labelledby="invitations-heading">
                        <h2 id="invitations-heading">"Invitations"</h2>
                        <FormMessage error={error_of::<AcceptInvitation>()} />
                        <FormMessage error={error_of::<DeclineInvitation>()} />
                        <ul class="invitations">
                            {invitations
                                .into_iter()
                                .map(|invitation| view! { <InvitationItem invitation /> })
                                .collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
fn InvitationItem(invitation: InvitationView) -> impl IntoView {
    let requirement = if invitation.requires_two_factor {
        "It requires two-factor authentication of its members."
    } else {
        "It does not require two-factor authentication."
    };
    let from = invitation
        .invited_by
        .map(|owner| format!(" (invited by {owner})"));
    let accept_label = format!("Accept the invitation to {}", invitation.org_name);
    let decline_label = format!("Decline the invitation to {}", invitation.org_name);
    let (accept_slug, decline_slug) = (invitation.slug.clone(), invitation.slug);
    view! {
        <li>
            <p><strong>{invitation.org_name}</strong>{from}". "{requirement}</p>
            <PortalForm<AcceptInvitation> class="inline" message=false>
                <Hidden name="slug" value=accept_slug />
                <button type="submit" aria-label=accept_label>"Accept"</button>
            </PortalForm<AcceptInvitation>>
            " "
            <PortalForm<DeclineInvitation> class="inline" message=false>
                <Hidden name="slug" value=decline_slug />
                <button type="submit" class="secondary" aria-label=decline_label>"Decline"</button>
            </PortalForm<DeclineInvitation>>
        </li>
    }
}

/// The owners' form: invite by username.
#[component]
pub fn InviteForm(slug: String) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a member"</h2>
            <p>"They join when they accept the invitation on their portal."</p>
            <PortalForm<InviteMember> novalidate=true>
                <Hidden name="slug" value=slug />
                <Field label="Username" name="username" />
                <button type="submit">"Invite"</button>
            </PortalForm<InviteMember>>
        </section>
    }
}

/// Invitations not answered yet, by username only: no status of an account that has not agreed.
#[component]
pub fn PendingInvitations(slug: String, usernames: Vec<String>) -> impl IntoView {
    (!usernames.is_empty()).then(|| {
        view! {
            <section class="card" aria-labelledby="pending-heading">
                <h2 id="pending-heading">"Invitations waiting"</h2>
                <FormMessage error={error_of::<WithdrawInvitation>()} />
                <ul class="invitations">
                    {usernames
                        .into_iter()
                        .map(|username| {
                            let label = format!("Withdraw the invitation of {username}");
                            let slug = slug.clone();
                            view! {
                                <li>
                                    {username.clone()} " "
                                    <PortalForm<WithdrawInvitation> class="inline" message=false>
                                        <Hidden name="slug" value=slug />
                                        <Hidden name="username" value=username />
                                        <button type="submit" class="secondary" aria-label=label>"Withdraw"</button>
                                    </PortalForm<WithdrawInvitation>>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}
