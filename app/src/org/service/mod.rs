//! What an organization's two-factor requirement means for one account.

pub mod invitations;
pub mod organization;

use crate::store::SignInId;
use crate::{
    error::AppError,
    org::OrgLink,
    state::AppState,
    store::{self, UserId},
    two_factor::service::enroll,
    unix_time::UnixTime,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// No organization asks, or the account has two-factor authentication.
    Free,
    /// Asked, with time left until `deadline`.
    Grace {
        org_name: String,
        deadline: UnixTime,
    },
    /// Past the deadline: the account reaches nothing but the enrollment wizard, and that
    /// organization's page, where it can leave.
    Required { org_name: String, org_slug: String },
}

pub const DAY: i64 = 24 * 60 * 60;

/// When a member must have two-factor authentication: `grace_days` after the later of the
/// requirement turned on (`since`) and the member joining. The one home of this rule.
pub fn grace_deadline(since: UnixTime, joined_at: UnixTime, grace_days: i64) -> UnixTime {
    since.max(joined_at) + grace_days * DAY
}

/// What the nearest deadline of the account's organizations means for it now.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn enforcement(state: &AppState, user_id: UserId) -> Result<Enforcement, AppError> {
    let nearest = store::two_factor_requirements(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|requirement| {
            let deadline = grace_deadline(
                requirement.since,
                requirement.joined_at,
                requirement.grace_days,
            );
            (deadline, requirement)
        })
        .min_by_key(|(deadline, _)| *deadline);
    Ok(match nearest {
        None => Enforcement::Free,
        Some((deadline, requirement)) if deadline > state.clock.now() => Enforcement::Grace {
            org_name: requirement.org_name,
            deadline,
        },
        Some((_, requirement)) => Enforcement::Required {
            org_name: requirement.org_name,
            org_slug: requirement.org_slug,
        },
    })
}

/// The organization whose requirement holds the viewer's account (past its deadline without a
/// second factor), linked to its page to leave it.
#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn held_by(viewer: &crate::auth::Viewer) -> Result<Option<OrgLink>, AppError> {
    Ok(match enforcement(&viewer.state, viewer.user_id()).await? {
        Enforcement::Required { org_name, org_slug } => Some(OrgLink {
            slug: org_slug,
            name: org_name,
        }),
        _ => None,
    })
}

/// An organization's requirement takes a held member into the wizard at each step up (a
/// password sign-in, the password confirmed again): the enrollment starts there, so loading
/// the security page never writes. A member held while signed in turns it on with the switch.
/// Returns whether the account is held.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn begin_if_held(
    state: &AppState,
    user_id: UserId,
    sign_in_id: &SignInId,
) -> Result<bool, AppError> {
    let held = matches!(
        enforcement(state, user_id).await?,
        Enforcement::Required { .. }
    );
    if held && enroll::email_verified(state, user_id).await? {
        enroll::begin_enrollment(state, user_id, sign_in_id).await?;
    }
    Ok(held)
}
