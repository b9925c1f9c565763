//! `/org/‹slug›`, the organizations section of the portal, and the grace-period banner.

use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use super::{
    CreateOrganization, LeaveOrganization, MemberView, OrgDetails, OrgLink, RemoveMember,
    SetRememberedBrowsers, SetTwoFactorRequirement,
    invitations::{InviteForm, PendingInvitations},
    load_requirement_notice, my_organizations, organization,
};
use crate::components::{
    ErrorCard, Field, FormMessage, Hidden, Loading, PortalForm, Switch, error_of,
};
use crate::notice::NoticeLine;

#[component]
pub fn OrgPage() -> impl IntoView {
    let params = use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let details = Resource::new(move || slug.get(), organization);
    view! {
        <Title text="Organization · Portal" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(org) => view! { <OrgView org /> }.into_any(),
                    Err(error) => view! {
                        <h1>"Organization"</h1>
                        <ErrorCard error />
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OrgView(org: OrgDetails) -> impl IntoView {
    let slug = org.slug.clone();
    view! {
        <h1>{org.name.clone()}</h1>
        <NoticeLine />
        {org.is_owner.then(|| {
            view! {
                <RequirementSwitch slug=org.slug.clone() on=org.requires_two_factor grace_days=org.grace_days />
                <RememberingSwitch slug=org.slug.clone() on=org.remembered_browsers_allowed />
                <MemberList slug=org.slug.clone() members=org.members.clone() />
                <InviteForm slug=org.slug.clone() />
                <PendingInvitations slug=org.slug.clone() usernames=org.invitations.clone() />
            }
        })}
        <section class="card">
            <PortalForm<LeaveOrganization>>
                <Hidden name="slug" value=slug />
                <button type="submit" class="secondary">"Leave organization"</button>
            </PortalForm<LeaveOrganization>>
        </section>
    }
}

/// Whether members may skip the second step on browsers they chose to remember.
#[component]
fn RememberingSwitch(slug: String, on: bool) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="remembering-heading">
            <h2 id="remembering-heading">"Remembered browsers"</h2>
            <p>{format!("Members may tick “{}” at the code step. Turning this off forgets the browsers they have remembered.", crate::limits::remember_label())}</p>
            <PortalForm<SetRememberedBrowsers>>
                <Hidden name="slug" value=slug />
                {(!on).then(|| view! { <Hidden name="allowed" value="yes" /> })}
                <Switch on label="Allow remembered browsers" />
            </PortalForm<SetRememberedBrowsers>>
        </section>
    }
}

#[component]
fn RequirementSwitch(slug: String, on: bool, grace_days: i64) -> impl IntoView {
    let error = error_of::<SetTwoFactorRequirement>();
    view! {
        <section class="card" aria-labelledby="requirement-heading">
            <h2 id="requirement-heading">"Two-factor requirement"</h2>
            <PortalForm<SetTwoFactorRequirement> novalidate=true>
                <Hidden name="slug" value=slug />
                {(!on).then(|| view! { <Hidden name="required" value="yes" /> })}
                <div class="field">
                    <label for="field-grace_days">"Grace period (days)"</label>
                    <input id="field-grace_days" name="grace_days" type="number" min="0" max=crate::limits::MAX_GRACE_DAYS.to_string() value=grace_days.to_string() />
                    <p class="field-message">{move || error.get().and_then(|error| error.message_for("grace_days"))}</p>
                </div>
                <Switch on label="Require two-factor authentication" />
            </PortalForm<SetTwoFactorRequirement>>
        </section>
    }
}

#[component]
fn MemberList(slug: String, members: Vec<MemberView>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <table class="members">
                <thead><tr><th scope="col">"Member"</th><th scope="col">"Role"</th><th scope="col">"Two-factor"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    {members
                        .into_iter()
                        .map(|member| {
                            let label = format!("Remove {}", member.username);
                            let slug = slug.clone();
                            view! {
                                <tr>
                                    <td>{member.username.clone()}</td>
                                    <td>{member.role.clone()}</td>
                                    <td>{member.two_factor.clone()}</td>
                                    <td>
                                        <PortalForm<RemoveMember> class="inline" message=false>
                                            <Hidden name="slug" value=slug />
                                            <Hidden name="username" value=member.username.clone() />
                                            <button type="submit" class="secondary" aria-label=label>"Remove"</button>
                                        </PortalForm<RemoveMember>>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <FormMessage error={error_of::<RemoveMember>()} />
        </section>
    }
}

/// The portal's list of the account's organizations, and a new one.
#[component]
pub fn OrgSection() -> impl IntoView {
    let orgs = Resource::new(|| (), |_| my_organizations());
    view! {
        <section class="card" aria-labelledby="orgs-heading">
            <h2 id="orgs-heading">"Organizations"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let orgs = orgs.await.unwrap_or_default();
                    (!orgs.is_empty()).then(|| view! {
                        <ul class="orgs">
                            {orgs
                                .into_iter()
                                .map(|org| view! {
                                    <li><A href=paths::org(&org.slug)>{org.name}</A> " (" {org.role} ")"</li>
                                })
                                .collect_view()}
                        </ul>
                    })
                })}
            </Suspense>
            <PortalForm<CreateOrganization> novalidate=true>
                <Field label="Organization name" name="name" />
                <button type="submit" class="secondary">"New organization"</button>
            </PortalForm<CreateOrganization>>
        </section>
    }
}

/// Above the two-factor switch of a held account: who holds it, and the way out.
#[component]
pub fn HeldBanner(org: OrgLink) -> impl IntoView {
    view! {
        <p class="banner" role="alert">
            {format!("{} requires two-factor authentication. Turn it on to continue.", org.name)}
            " " <A href=paths::org(&org.slug)>{format!("Or leave {}", org.name)}</A>
        </p>
    }
}

/// On every page during a grace period: which organization asks, and by when.
#[component]
pub fn RequirementBanner() -> impl IntoView {
    let notice = Resource::new(|| (), |_| load_requirement_notice());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                notice.await.ok().flatten().map(|notice| view! {
                    <p class="banner" role="status">
                        {notice.org_name} " requires two-factor authentication by " {notice.deadline} ". "
                        <A href=paths::SECURITY>"Turn it on now"</A>
                    </p>
                })
            })}
        </Suspense>
    }
}
