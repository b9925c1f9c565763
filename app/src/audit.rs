//! The security events of an account: written to the audit table, shown on the security page.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    SignedIn,
    PasswordFailed,
    SecondFactorFailed,
    CodeReplayed,
    SecondFactorLocked,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeRegenerated,
    RecoveryCodeFailed,
    RecoveryRequested,
    TwoFactorReset,
    AdminReset,
    EmailVerified,
    OrgChanged,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeUndone,
    /// Written without the account (it is gone): that an account was closed, and when.
    AccountClosed,
    SecurityKeyAdded,
    SecurityKeyRemoved,
    AppAdded,
    AppRemoved,
    /// A key's answer refused at sign-in (signature, credential or ceremony wrong).
    KeyRefused,
    /// A key's answer whose signature counter did not rise: what a copy of the key sends.
    KeyCounterWentBack,
}

impl EventKind {
    const ALL: [Self; 27] = [
        Self::SignedIn,
        Self::PasswordFailed,
        Self::SecondFactorFailed,
        Self::CodeReplayed,
        Self::SecondFactorLocked,
        Self::TwoFactorEnabled,
        Self::TwoFactorDisabled,
        Self::RecoveryCodeRegenerated,
        Self::RecoveryCodeFailed,
        Self::RecoveryRequested,
        Self::TwoFactorReset,
        Self::AdminReset,
        Self::EmailVerified,
        Self::OrgChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailChangeUndone,
        Self::AccountClosed,
        Self::SecurityKeyAdded,
        Self::SecurityKeyRemoved,
        Self::AppAdded,
        Self::AppRemoved,
        Self::KeyRefused,
        Self::KeyCounterWentBack,
    ];

    /// The name stored in the audit table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::PasswordFailed => "password_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::CodeReplayed => "code_replayed",
            Self::SecondFactorLocked => "second_factor_locked",
            Self::TwoFactorEnabled => "two_factor_enabled",
            Self::TwoFactorDisabled => "two_factor_disabled",
            Self::RecoveryCodeRegenerated => "recovery_code_regenerated",
            Self::RecoveryCodeFailed => "recovery_code_failed",
            Self::RecoveryRequested => "recovery_requested",
            Self::TwoFactorReset => "two_factor_reset",
            Self::AdminReset => "admin_reset",
            Self::EmailVerified => "email_verified",
            Self::OrgChanged => "org_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::EmailChangeUndone => "email_change_undone",
            Self::AccountClosed => "account_closed",
            Self::SecurityKeyAdded => "security_key_added",
            Self::SecurityKeyRemoved => "security_key_removed",
            Self::AppAdded => "authenticator_app_added",
            Self::AppRemoved => "authenticator_app_removed",
            Self::KeyRefused => "security_key_refused",
            Self::KeyCounterWentBack => "security_key_counter_went_back",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// What the account's owner reads on the security page.
    pub fn description(self) -> &'static str {
        match self {
            Self::SignedIn => "Signed in",
            Self::PasswordFailed => "Incorrect password entered",
            Self::SecondFactorFailed => "Incorrect authentication code entered",
            Self::CodeReplayed => {
                "An authentication code was used a second time. If this was not you, someone may have seen your code."
            }
            Self::SecondFactorLocked => {
                "Authentication codes locked after too many incorrect attempts"
            }
            Self::TwoFactorEnabled => "Two-factor authentication enabled",
            Self::TwoFactorDisabled => "Two-factor authentication disabled",
            Self::RecoveryCodeRegenerated => "New recovery code created",
            Self::RecoveryCodeFailed => "Incorrect recovery code entered",
            Self::RecoveryRequested => "Recovery email requested",
            Self::TwoFactorReset => "Two-factor authentication reset by email recovery",
            Self::AdminReset => "Two-factor authentication reset by support",
            Self::EmailVerified => "Email address verified",
            Self::OrgChanged => "Organization changed",
            Self::PasswordResetRequested => "Password reset email requested",
            Self::PasswordReset => "Password reset by email link",
            Self::PasswordChanged => "Password changed",
            Self::EmailChangeRequested => "Change of email address requested",
            Self::EmailChanged => "Email address changed",
            Self::EmailChangeUndone => {
                "Change of email address undone from the old address; every session was signed out"
            }
            Self::AccountClosed => "Account closed",
            Self::SecurityKeyAdded => "Security key or passkey added",
            Self::SecurityKeyRemoved => "Security key or passkey removed",
            Self::AppAdded => "Authenticator app added",
            Self::AppRemoved => "Authenticator app removed",
            Self::KeyRefused => "A security key or passkey answer was refused",
            Self::KeyCounterWentBack => {
                "A security key or passkey answered with a counter lower than before: it may have been copied. If you are not sure, remove it."
            }
        }
    }

    /// Events the owner should look at twice.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::CodeReplayed
                | Self::SecondFactorLocked
                | Self::SecondFactorFailed
                | Self::RecoveryCodeFailed
                | Self::EmailChangeUndone
                | Self::KeyRefused
                | Self::KeyCounterWentBack
        )
    }
}

/// Counts a security event for the operator's metrics (by kind only: no account, no address).
/// Every event written to the audit table is counted, wherever it is written.
#[cfg(feature = "ssr")]
pub fn count(kind: EventKind) {
    metrics::counter!("portal_security_events_total", "kind" => kind.as_str()).increment(1);
}

/// Writes a security event of the account to the audit table (and the log, without secrets).
#[cfg(feature = "ssr")]
pub async fn record(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    kind: EventKind,
    client: &crate::store::Client,
    detail: Option<&str>,
) -> Result<(), crate::error::AppError> {
    tracing::info!(user_id = user_id.0, event = kind.as_str(), "security event");
    count(kind);
    crate::store::record_event(
        &state.pool,
        Some(user_id),
        kind.as_str(),
        state.clock.now(),
        client,
        detail,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("nonsense"), None);
    }
}
