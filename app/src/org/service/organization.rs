use crate::org::{MemberView, OrgDetails, RequirementNotice, service};
use crate::validation::Username;
use crate::{
    audit::EventKind,
    audit::record,
    auth::{client, signed_in},
    display::format_time,
    error::{AppError, Missing},
    mail::{Email, templates},
    state::AppState,
    store::{self, OrgRow, RemoveOutcome, Role, UserId},
};

use crate::limits::MAX_GRACE_DAYS;

pub(super) fn not_found() -> AppError {
    AppError::NotFound {
        what: Missing::Organization,
    }
}

/// The organization and the caller's role in it; others are told it does not exist.
async fn membership(slug: &str) -> Result<(AppState, UserId, OrgRow, Role), AppError> {
    let (state, user_id) = signed_in().await?;
    let org = store::org_by_slug(&state.pool, slug)
        .await?
        .ok_or_else(not_found)?;
    let role = store::role_in(&state.pool, org.id, user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((state, user_id, org, role))
}

pub(super) async fn ownership(slug: &str) -> Result<(AppState, UserId, OrgRow), AppError> {
    let (state, user_id, org, role) = membership(slug).await?;
    if role != Role::Owner {
        return Err(AppError::OwnersOnly);
    }
    Ok((state, user_id, org))
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn create(name: &str) -> Result<String, AppError> {
    let (state, user_id) = signed_in().await?;
    let name = crate::org::check_org_name(name)
        .map_err(|message| AppError::validation("name", message))?;
    let base = crate::org::slug_of(name);
    for attempt in 1..=20 {
        let slug = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let created = store::create_org(
            &state.pool,
            &slug,
            name,
            user_id,
            crate::org::MAX_OWNED_ORGS,
            state.clock.now(),
        )
        .await?;
        match created {
            store::OrgCreation::Created => return Ok(slug),
            store::OrgCreation::SlugTaken => {}
            store::OrgCreation::TooMany => {
                return Err(AppError::validation(
                    "name",
                    format!(
                        "You own {} organizations, the most one account can.",
                        crate::org::MAX_OWNED_ORGS
                    ),
                ));
            }
        }
    }
    Err(AppError::validation(
        "name",
        "That name is taken. Choose another.",
    ))
}

fn describe(member: &store::MemberRow, org: &OrgRow, now: crate::unix_time::UnixTime) -> String {
    if member.has_two_factor {
        return "on".into();
    }
    let Some(since) = org.require_two_factor_since else {
        return "off".into();
    };
    let deadline = service::grace_deadline(since, member.joined_at, org.grace_days);
    if deadline > now {
        format!("in grace period until {}", format_time(deadline))
    } else {
        "required (overdue)".into()
    }
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn details(slug: &str) -> Result<OrgDetails, AppError> {
    let (state, _, org, role) = membership(slug).await?;
    let is_owner = role == Role::Owner;
    let (members, invitations) = if is_owner {
        (
            member_views(&state, &org).await?,
            store::pending_invitations_of(&state.pool, org.id).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(OrgDetails {
        slug: org.slug,
        name: org.name,
        is_owner,
        requires_two_factor: org.require_two_factor_since.is_some(),
        grace_days: org.grace_days,
        remembered_browsers_allowed: org.remembered_browsers_allowed,
        members,
        invitations,
    })
}

async fn member_views(state: &AppState, org: &OrgRow) -> Result<Vec<MemberView>, AppError> {
    let now = state.clock.now();
    Ok(store::members_of(&state.pool, org.id)
        .await?
        .iter()
        .map(|member| MemberView {
            username: member.username.clone(),
            role: member.role.to_string(),
            two_factor: describe(member, org, now),
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn remove_member(slug: &str, username: &str) -> Result<(), AppError> {
    let (state, owner, org) = ownership(slug).await?;
    let user_id = store::user_id_by_username(&state.pool, Username::canonical(username).as_str())
        .await?
        .ok_or_else(not_found)?;
    removal(&state, &org, user_id).await?;
    record(
        &state,
        owner,
        EventKind::OrgChanged,
        &client().await,
        Some(&format!("removed {username} from {}", org.slug)),
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn leave(slug: &str) -> Result<(), AppError> {
    let (state, user_id, org, _) = membership(slug).await?;
    removal(&state, &org, user_id).await?;
    record(
        &state,
        user_id,
        EventKind::OrgChanged,
        &client().await,
        Some(&format!("left {}", org.slug)),
    )
    .await
}

async fn removal(state: &AppState, org: &OrgRow, user_id: UserId) -> Result<(), AppError> {
    match store::remove_member(&state.pool, org.id, user_id).await? {
        RemoveOutcome::Removed => Ok(()),
        RemoveOutcome::NotAMember => Err(not_found()),
        RemoveOutcome::LastOwner => Err(AppError::LastOwner),
    }
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn set_remembered_browsers(slug: &str, allowed: bool) -> Result<(), AppError> {
    let (state, owner, org) = ownership(slug).await?;
    store::set_remembered_browsers(&state.pool, org.id, allowed).await?;
    let detail = if allowed {
        format!("{} allows remembered browsers", org.slug)
    } else {
        format!("{} forbids remembered browsers", org.slug)
    };
    record_change(&state, owner, &detail).await
}

/// An owner's change to the organization, in the owner's audit log.
async fn record_change(state: &AppState, owner: UserId, detail: &str) -> Result<(), AppError> {
    record(
        state,
        owner,
        EventKind::OrgChanged,
        &client().await,
        Some(detail),
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn set_requirement(slug: &str, required: bool, grace_days: &str) -> Result<(), AppError> {
    let (state, owner, org) = ownership(slug).await?;
    let grace_days: i64 = grace_days
        .trim()
        .parse()
        .ok()
        .filter(|days| (0..=MAX_GRACE_DAYS).contains(days))
        .ok_or_else(|| {
            AppError::validation(
                "grace_days",
                format!("Enter a number of days from 0 to {MAX_GRACE_DAYS}."),
            )
        })?;
    let since = required.then(|| org.require_two_factor_since.unwrap_or(state.clock.now()));
    store::set_requirement(&state.pool, org.id, since, grace_days).await?;
    let detail = if required {
        format!(
            "{} requires two-factor authentication, grace {grace_days} days",
            org.slug
        )
    } else {
        format!("{} no longer requires two-factor authentication", org.slug)
    };
    record_change(&state, owner, &detail).await?;
    let now = state.clock.now();
    // Once a day at most: an owner switching it off and on must not flood the members.
    if required
        && org.require_two_factor_since.is_none()
        && store::claim_requirement_mail(&state.pool, org.id, now, now - service::DAY).await?
    {
        let org = store::org_by_slug(&state.pool, slug)
            .await?
            .ok_or_else(not_found)?;
        notify_members(&state, &org, None).await;
    }
    Ok(())
}

/// Owners hear that the requirement is on; members without a second factor (or only `only`)
/// hear that it applies to them and by when.
pub(super) async fn notify_members(state: &AppState, org: &OrgRow, only: Option<UserId>) {
    let Ok(members) = store::members_of(&state.pool, org.id).await else {
        return;
    };
    let since = org.require_two_factor_since.unwrap_or(state.clock.now());
    for member in members
        .iter()
        .filter(|member| member.email_verified && only.is_none_or(|only| only == member.user_id))
    {
        let deadline = format_time(service::grace_deadline(
            since,
            member.joined_at,
            org.grace_days,
        ));
        let email = if member.role == Role::Owner && only.is_none() {
            templates::org_requirement_on(
                &member.email,
                &member.username,
                &org.name,
                org.grace_days,
            )
        } else if !member.has_two_factor {
            templates::org_requirement_applies(
                &member.email,
                &member.username,
                &org.name,
                &deadline,
                &state.settings.base_url,
            )
        } else {
            continue;
        };
        send(state, email).await;
    }
}

async fn send(state: &AppState, email: Email) {
    if let Err(error) = state.mailer.send(email).await {
        tracing::warn!(%error, "an organization notice could not be sent");
    }
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn notice() -> Result<Option<RequirementNotice>, AppError> {
    let state = crate::state::app_state()?;
    let auth = crate::auth::AuthSession::from_request().await?;
    let Some(user_id) = auth.signed_in_user(&state).await? else {
        return Ok(None);
    };
    Ok(match service::enforcement(&state, user_id).await? {
        service::Enforcement::Grace { org_name, deadline } => Some(RequirementNotice {
            org_name,
            deadline: format_time(deadline),
        }),
        _ => None,
    })
}

/// The signed-in account's organizations, for its portal.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn mine() -> Result<Vec<crate::org::OrgSummary>, AppError> {
    let (state, user_id) = crate::auth::signed_in().await?;
    Ok(store::memberships_of(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|row| crate::org::OrgSummary {
            slug: row.slug,
            name: row.name,
            role: row.role.to_string(),
        })
        .collect())
}
