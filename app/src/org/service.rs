//! What an organization's two-factor requirement means for one account.

use crate::{
    error::AppError,
    state::AppState,
    store::{self, UserId},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// No organization asks, or the account has two-factor authentication.
    Free,
    /// Asked, with time left until `deadline`.
    Grace { org_name: String, deadline: i64 },
    /// Past the deadline: the account reaches nothing but the enrollment wizard, and that
    /// organization's page, where it can leave.
    Required { org_name: String, org_slug: String },
}

pub async fn enforcement(state: &AppState, user_id: UserId) -> Result<Enforcement, AppError> {
    let requirement = store::two_factor_requirement(&state.pool, user_id).await?;
    Ok(match requirement {
        None => Enforcement::Free,
        Some(requirement) if requirement.deadline > state.clock.now() => Enforcement::Grace {
            org_name: requirement.org_name,
            deadline: requirement.deadline,
        },
        Some(requirement) => Enforcement::Required {
            org_name: requirement.org_name,
            org_slug: requirement.org_slug,
        },
    })
}
