//! `/org/‹slug›`, the organizations section of the portal, and the grace-period banner.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use super::{
    CreateOrganization, LeaveOrganization, MemberView, OrgDetails, RemoveMember,
    SetRememberedBrowsers, SetTwoFactorRequirement,
    invitations::{INVITED, InviteForm, InviteMember, PendingInvitations, WithdrawInvitation},
    load_requirement_notice, my_organizations, organization,
};
use crate::components::{ErrorCard, Field, FormMessage, Hidden, Loading, PortalForm, last_error};

#[component]
pub fn OrgPage() -> impl IntoView {
    let params = use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let invite = ServerAction::<InviteMember>::new();
    let withdraw = ServerAction::<WithdrawInvitation>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let set = ServerAction::<SetTwoFactorRequirement>::new();
    let leave = ServerAction::<LeaveOrganization>::new();
    let remembering = ServerAction::<SetRememberedBrowsers>::new();
    let details = Resource::new(
        move || {
            (
                slug.get(),
                invite.version().get(),
                withdraw.version().get(),
                remove.version().get(),
                set.version().get(),
                remembering.version().get(),
            )
        },
        |(slug, ..)| organization(slug),
    );
    let actions = OrgActions {
        invite,
        withdraw,
        remove,
        set,
        leave,
        remembering,
    };
    view! {
        <Title text="Organization · Portal" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(org) => view! { <OrgView org actions /> }.into_any(),
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

/// What the organization page can do, in one value so its parts take what they need.
#[derive(Clone, Copy)]
struct OrgActions {
    invite: ServerAction<InviteMember>,
    withdraw: ServerAction<WithdrawInvitation>,
    remove: ServerAction<RemoveMember>,
    set: ServerAction<SetTwoFactorRequirement>,
    leave: ServerAction<LeaveOrganization>,
    remembering: ServerAction<SetRememberedBrowsers>,
}

/// What `?notice=` says after an invitation, in fixed words (nothing from the URL is echoed).
fn notice_text(notice: &str) -> Option<&'static str> {
    (notice == "invited").then_some(INVITED)
}

#[component]
fn OrgView(org: OrgDetails, actions: OrgActions) -> impl IntoView {
    let OrgActions {
        invite,
        withdraw,
        remove,
        set,
        leave,
        remembering,
    } = actions;
    let slug = org.slug.clone();
    let query = use_query_map();
    let notice = move || {
        query
            .read()
            .get("notice")
            .and_then(|notice| notice_text(&notice))
    };
    view! {
        <h1>{org.name.clone()}</h1>
        {move || notice().map(|text| view! { <p class="notice" role="status">{text}</p> })}
        {org.is_owner.then(|| {
            view! {
                <RequirementSwitch slug=org.slug.clone() on=org.requires_two_factor grace_days=org.grace_days set />
                <RememberingSwitch slug=org.slug.clone() on=org.remembered_browsers_allowed set=remembering />
                <MemberList slug=org.slug.clone() members=org.members.clone() remove />
                <InviteForm slug=org.slug.clone() invite />
                <PendingInvitations slug=org.slug.clone() usernames=org.invitations.clone() withdraw />
            }
        })}
        <section class="card">
            <PortalForm action=leave>
                <Hidden name="slug" value=slug />
                <button type="submit" class="secondary">"Leave organization"</button>
            </PortalForm>
        </section>
    }
}

/// Whether members may skip the second step on browsers they chose to remember.
#[component]
fn RememberingSwitch(
    slug: String,
    on: bool,
    set: ServerAction<SetRememberedBrowsers>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="remembering-heading">
            <h2 id="remembering-heading">"Remembered browsers"</h2>
            <p>"Members may tick “Remember this browser for 30 days” at the code step. Turning this off forgets the browsers they have remembered."</p>
            <PortalForm action=set>
                <Hidden name="slug" value=slug />
                {(!on).then(|| view! { <Hidden name="allowed" value="yes" /> })}
                <button type="submit" role="switch" aria-checked=if on { "true" } else { "false" } class="switch">
                    <span class="switch-track" aria-hidden="true"><span class="switch-thumb"></span></span>
                    <span class="switch-label">"Allow remembered browsers"</span>
                </button>
            </PortalForm>
        </section>
    }
}

#[component]
fn RequirementSwitch(
    slug: String,
    on: bool,
    grace_days: i64,
    set: ServerAction<SetTwoFactorRequirement>,
) -> impl IntoView {
    let error = last_error(set);
    view! {
        <section class="card" aria-labelledby="requirement-heading">
            <h2 id="requirement-heading">"Two-factor requirement"</h2>
            <PortalForm action=set novalidate=true>
                <Hidden name="slug" value=slug />
                {(!on).then(|| view! { <Hidden name="required" value="yes" /> })}
                <div class="field">
                    <label for="field-grace_days">"Grace period (days)"</label>
                    <input id="field-grace_days" name="grace_days" type="number" min="0" max="365" value=grace_days.to_string() />
                    <p class="field-message">{move || error.get().and_then(|error| error.message_for("grace_days"))}</p>
                </div>
                <button type="submit" role="switch" aria-checked=if on { "true" } else { "false" } class="switch">
                    <span class="switch-track" aria-hidden="true"><span class="switch-thumb"></span></span>
                    <span class="switch-label">"Require two-factor authentication"</span>
                </button>
            </PortalForm>
        </section>
    }
}

#[component]
fn MemberList(
    slug: String,
    members: Vec<MemberView>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
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
                                        <PortalForm action=remove class="inline" message=false>
                                            <Hidden name="slug" value=slug />
                                            <Hidden name="username" value=member.username.clone() />
                                            <button type="submit" class="secondary" aria-label=label>"Remove"</button>
                                        </PortalForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <FormMessage error=last_error(remove) />
        </section>
    }
}

/// The portal's list of the account's organizations, and a new one.
#[component]
pub fn OrgSection() -> impl IntoView {
    let create = ServerAction::<CreateOrganization>::new();
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
                                    <li><A href=format!("/org/{}", org.slug)>{org.name}</A> " (" {org.role} ")"</li>
                                })
                                .collect_view()}
                        </ul>
                    })
                })}
            </Suspense>
            <PortalForm action=create novalidate=true>
                <Field label="Organization name" name="name" />
                <button type="submit" class="secondary">"New organization"</button>
            </PortalForm>
        </section>
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
                        <A href="/settings/security">"Turn it on now"</A>
                    </p>
                })
            })}
        </Suspense>
    }
}
