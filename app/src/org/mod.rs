//! Organizations: owners, members who joined by accepting an invitation, and a two-factor
//! requirement with a grace period that holds every member without a second factor to the
//! enrollment wizard once it runs out.

pub mod invitations;
pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use leptos::prelude::*;

use crate::paths;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub username: String,
    pub role: String,
    /// "on", "off", "in grace period until …" or "required (overdue)".
    pub two_factor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDetails {
    pub slug: String,
    pub name: String,
    pub is_owner: bool,
    pub requires_two_factor: bool,
    pub grace_days: i64,
    /// Whether members may have browsers remembered.
    pub remembered_browsers_allowed: bool,
    /// Shown to owners only.
    pub members: Vec<MemberView>,
    /// Usernames invited and not answered yet; shown to owners only.
    pub invitations: Vec<String>,
}

/// An organization named and linked, such as the one whose requirement holds an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLink {
    pub slug: String,
    pub name: String,
}

/// The grace-period banner: which organization asks, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementNotice {
    pub org_name: String,
    pub deadline: String,
}

#[server(endpoint = "my_organizations")]
pub async fn my_organizations() -> Result<Vec<OrgSummary>, AppError> {
    let (state, user_id) = crate::auth::signed_in().await?;
    Ok(crate::store::memberships_of(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|row| OrgSummary {
            slug: row.slug,
            name: row.name,
            role: row.role.to_string(),
        })
        .collect())
}

#[server(endpoint = "create_organization")]
pub async fn create_organization(name: String) -> Result<(), AppError> {
    let slug = ssr::create(&name).await?;
    crate::validation::redirect(&paths::org(&slug));
    Ok(())
}

#[server(endpoint = "organization")]
pub async fn organization(slug: String) -> Result<OrgDetails, AppError> {
    ssr::details(&slug).await
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(slug: String, username: String) -> Result<(), AppError> {
    ssr::remove_member(&slug, &username).await
}

#[server(endpoint = "leave_organization")]
pub async fn leave_organization(slug: String) -> Result<(), AppError> {
    ssr::leave(&slug).await?;
    crate::validation::redirect(paths::PORTAL);
    Ok(())
}

/// `required` is present when the switch turns the requirement on.
#[server(endpoint = "set_two_factor_requirement")]
pub async fn set_two_factor_requirement(
    slug: String,
    required: Option<String>,
    grace_days: Option<String>,
) -> Result<(), AppError> {
    ssr::set_requirement(
        &slug,
        required.is_some(),
        grace_days.as_deref().unwrap_or("0"),
    )
    .await
}

/// `allowed` is present when the switch allows members to remember browsers.
#[server(endpoint = "set_remembered_browsers")]
pub async fn set_remembered_browsers(
    slug: String,
    allowed: Option<String>,
) -> Result<(), AppError> {
    ssr::set_remembered_browsers(&slug, allowed.is_some()).await
}

#[server(endpoint = "requirement_notice")]
pub async fn load_requirement_notice() -> Result<Option<RequirementNotice>, AppError> {
    ssr::notice().await
}

/// Organizations one account may own: each is rows kept for good, so one account cannot add them
/// without end. Enough for a consultant in many teams.
pub const MAX_OWNED_ORGS: i64 = 20;

/// An organization's name has at most `end` characters, and at least `start` letters or digits
/// in its slug.
pub const ORG_NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=80;

/// The name as kept (trimmed), or why it cannot be one. Names reach members' pages, mail
/// subjects and support's terminal, so they hold printable text only: no control characters
/// (terminal escapes) and no invisible or bidi formatting (a name that reads as another).
pub fn check_org_name(raw: &str) -> Result<&str, std::borrow::Cow<'static, str>> {
    let name = raw.trim();
    if name.chars().any(crate::validation::is_invisible) {
        return Err(
            "Use printable characters only: control characters and invisible formatting characters are not allowed.".into(),
        );
    }
    if name.chars().count() > *ORG_NAME_LENGTH.end()
        || slug_of(name).len() < *ORG_NAME_LENGTH.start()
    {
        return Err(format!(
            "Give the organization a name of {} to {} characters with some letters or digits.",
            ORG_NAME_LENGTH.start(),
            ORG_NAME_LENGTH.end()
        )
        .into());
    }
    Ok(name)
}

/// "Acme Corp" → "acme-corp": letters and digits, single dashes.
pub fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(40).collect()
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{MemberView, OrgDetails, RequirementNotice, service};
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

    const DAY: i64 = 86_400;
    const MAX_GRACE_DAYS: i64 = 365;

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

    pub async fn create(name: &str) -> Result<String, AppError> {
        let (state, user_id) = signed_in().await?;
        let name =
            super::check_org_name(name).map_err(|message| AppError::validation("name", message))?;
        let base = super::slug_of(name);
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
                super::MAX_OWNED_ORGS,
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
                            super::MAX_OWNED_ORGS
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

    fn describe(
        member: &store::MemberRow,
        org: &OrgRow,
        now: crate::unix_time::UnixTime,
    ) -> String {
        if member.has_two_factor {
            return "on".into();
        }
        let Some(since) = org.require_two_factor_since else {
            return "off".into();
        };
        let deadline = since.max(member.joined_at) + org.grace_days * DAY;
        if deadline > now {
            format!("in grace period until {}", format_time(deadline))
        } else {
            "required (overdue)".into()
        }
    }

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

    pub async fn remove_member(slug: &str, username: &str) -> Result<(), AppError> {
        let (state, owner, org) = ownership(slug).await?;
        let user_id =
            store::user_id_by_username(&state.pool, &username.trim().to_ascii_lowercase())
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

    pub async fn set_requirement(
        slug: &str,
        required: bool,
        grace_days: &str,
    ) -> Result<(), AppError> {
        let (state, owner, org) = ownership(slug).await?;
        let grace_days: i64 = grace_days
            .trim()
            .parse()
            .ok()
            .filter(|days| (0..=MAX_GRACE_DAYS).contains(days))
            .ok_or_else(|| {
                AppError::validation("grace_days", "Enter a number of days from 0 to 365.")
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
            && store::claim_requirement_mail(&state.pool, org.id, now, now - DAY).await?
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
        for member in members.iter().filter(|member| {
            member.email_verified && only.is_none_or(|only| only == member.user_id)
        }) {
            let deadline = format_time(since.max(member.joined_at) + org.grace_days * DAY);
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
}

#[cfg(test)]
mod tests {
    use super::{check_org_name, slug_of};

    #[test]
    fn a_slug_keeps_letters_and_digits_joined_by_single_dashes() {
        assert_eq!(slug_of("Acme Corp"), "acme-corp");
        assert_eq!(slug_of("  R&D -- Team 7! "), "r-d-team-7");
        assert_eq!(slug_of("!!!"), "");
    }

    #[test]
    fn a_name_is_printable_text_of_2_to_80_characters() {
        assert_eq!(check_org_name("  Café Ünïcode "), Ok("Café Ünïcode"));
        assert!(check_org_name("日本 Team 7").is_ok());
        for hidden in [
            "Acme\u{1b}[2J",
            "Acme\nCorp",
            "Acme\u{7f}",
            "Ac\u{200b}me",
            "Acme\u{200f}",
            "Acme\u{202e}",
            "Acme\u{2066}x",
            "\u{feff}Acme",
        ] {
            let refused = check_org_name(hidden).unwrap_err();
            assert!(refused.contains("printable"), "{hidden:?}");
        }
        assert!(check_org_name("!!").unwrap_err().contains("2 to 80"));
        assert!(check_org_name(&"a".repeat(81)).is_err());
    }
}
