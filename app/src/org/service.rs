//! What an organization's two-factor requirement means for one account.

use leptos::server_fn::ServerFn;

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

/// Server functions an account may call while its organization's requirement holds it: the
/// wizard and what it needs (email verification, password confirmation), signing out, and
/// leaving: a member who no longer wants the requirement can always go, and is then free.
pub const ALLOWED_WHILE_REQUIRED: [&str; 19] = [
    <crate::two_factor::settings::LoadSecurityOverview as ServerFn>::PATH,
    <crate::two_factor::enroll::StartEnrollment as ServerFn>::PATH,
    <crate::two_factor::enroll::ConfirmEnrollment as ServerFn>::PATH,
    <crate::two_factor::enroll::SaveRecoveryCode as ServerFn>::PATH,
    <crate::two_factor::enroll::CancelEnrollment as ServerFn>::PATH,
    <crate::account::verify_email::ResendVerification as ServerFn>::PATH,
    <crate::account::verify_email::VerifyEmail as ServerFn>::PATH,
    <crate::account::sessions::ConfirmPassword as ServerFn>::PATH,
    <crate::account::portal::Logout as ServerFn>::PATH,
    <crate::account::login::Login as ServerFn>::PATH,
    <crate::account::login::SignInState as ServerFn>::PATH,
    <crate::account::signup::Signup as ServerFn>::PATH,
    <crate::two_factor::prompt::VerifySignInCode as ServerFn>::PATH,
    <crate::two_factor::prompt::StartOver as ServerFn>::PATH,
    <crate::recovery::request::RequestRecovery as ServerFn>::PATH,
    <crate::recovery::confirm::RecoveryRequest as ServerFn>::PATH,
    <crate::recovery::confirm::ConfirmRecovery as ServerFn>::PATH,
    <crate::org::Organization as ServerFn>::PATH,
    <crate::org::LeaveOrganization as ServerFn>::PATH,
];

/// Pages such an account may open; an organization's page holds its Leave form.
pub fn page_allowed_while_required(path: &str) -> bool {
    path.starts_with("/settings/security")
        || path.starts_with("/org/")
        || ["/login", "/signup", "/verify-email", "/recover/confirm"].contains(&path)
}
