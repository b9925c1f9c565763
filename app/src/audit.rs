//! The security events of an account: written to the audit table, shown on the security page.

use serde::{Deserialize, Serialize};

/// The kinds, each with its stored name, its words on the security page and whether the owner
/// should look at it twice, written once: a kind cannot be left out of `ALL` (which `parse`
/// reads), and the security page cannot silently drop one.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $stored:literal => $description:expr $(, $warning:ident)?;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            pub const ALL: &[EventKind] = &[$(EventKind::$variant,)*];

            /// The name stored in the audit table.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $stored,)*
                }
            }

            /// What the account's owner reads on the security page.
            pub fn description(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $description,)*
                }
            }

            /// Events the owner should look at twice.
            pub fn is_warning(self) -> bool {
                match self {
                    $(EventKind::$variant => event_kinds!(@warning $($warning)?),)*
                }
            }
        }
    };
    (@warning warning) => { true };
    (@warning) => { false };
}

event_kinds! {
    SignedIn = "signed_in" => "Signed in";
    PasswordFailed = "password_failed" => "Incorrect password entered";
    SecondFactorFailed = "second_factor_failed" => "Incorrect authentication code entered", warning;
    CodeReplayed = "code_replayed" => "An authentication code was used a second time. If this was not you, someone may have seen your code.", warning;
    SecondFactorLocked = "second_factor_locked" => "Authentication codes locked after too many incorrect attempts", warning;
    TwoFactorEnabled = "two_factor_enabled" => "Two-factor authentication enabled";
    TwoFactorDisabled = "two_factor_disabled" => "Two-factor authentication disabled";
    RecoveryCodeRegenerated = "recovery_code_regenerated" => "New recovery code created";
    RecoveryCodeFailed = "recovery_code_failed" => "Incorrect recovery code entered", warning;
    RecoveryRequested = "recovery_requested" => "Recovery email requested";
    TwoFactorReset = "two_factor_reset" => "Two-factor authentication reset by email recovery";
    AdminReset = "admin_reset" => "Two-factor authentication reset by support";
    EmailVerified = "email_verified" => "Email address verified";
    OrgChanged = "org_changed" => "Organization changed";
    PasswordResetRequested = "password_reset_requested" => "Password reset email requested";
    PasswordReset = "password_reset" => "Password reset by email link";
    PasswordChanged = "password_changed" => "Password changed";
    EmailChangeRequested = "email_change_requested" => "Change of email address requested";
    EmailChanged = "email_changed" => "Email address changed";
    EmailChangeUndone = "email_change_undone" => "Change of email address undone from the old address; every session was signed out", warning;
    /// Written without the account (it is gone): that an account was closed, and when.
    AccountClosed = "account_closed" => "Account closed";
    SecurityKeyAdded = "security_key_added" => "Security key or passkey added";
    SecurityKeyRemoved = "security_key_removed" => "Security key or passkey removed";
    AppAdded = "authenticator_app_added" => "Authenticator app added";
    AppRemoved = "authenticator_app_removed" => "Authenticator app removed";
    /// A key's answer refused at sign-in (signature, credential or ceremony wrong).
    KeyRefused = "security_key_refused" => "A security key or passkey answer was refused", warning;
    /// A key's answer whose signature counter did not rise: what a copy of the key sends.
    KeyCounterWentBack = "security_key_counter_went_back" => "A security key or passkey answered with a counter lower than before: it may have been copied. If you are not sure, remove it.", warning;
    SignInAlertsOn = "sign_in_alerts_on" => "Emails at every new sign-in turned on";
    /// Off is worth a second look: someone in the account would want the owner not to hear.
    SignInAlertsOff = "sign_in_alerts_off" => "Emails at every new sign-in turned off", warning;
    AppAccessGranted = "app_access_granted" => "An app was allowed to sign you in";
    AppAccessRevoked = "app_access_revoked" => "An app's access was revoked";
    /// "Secure my account": worth a second look, as the owner thought someone else was in.
    AccountSecured = "account_secured" => "Account secured: every session signed out, open links withdrawn, apps signed out, and a password reset emailed", warning;
}

impl EventKind {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }
}

/// How an account signed in: the detail of its audit event and the label of its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SignInMethod {
    Password,
    PasswordOnRememberedBrowser,
    PasswordAndCode,
    PasswordAndSecurityKey,
    Passkey,
}

impl SignInMethod {
    /// Stored as the sign-in event's detail; the words are kept as they were first written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::PasswordOnRememberedBrowser => "password on a remembered browser",
            Self::PasswordAndCode => "password and authentication code",
            Self::PasswordAndSecurityKey => "password and security key",
            Self::Passkey => "passkey",
        }
    }
}

/// Counts a security event for the operator's metrics (by kind only: no account, no address).
/// Every event written to the audit table is counted, wherever it is written.
#[cfg(feature = "ssr")]
pub fn count(kind: EventKind) {
    metrics::counter!("portal_security_events_total", "kind" => kind.as_str()).increment(1);
}

/// Writes a security event to the audit table (and the log, without secrets): of an account, or
/// of none (`None`: an attempt on an unknown username, an account that is gone).
#[cfg(feature = "ssr")]
pub async fn record(
    state: &crate::state::AppState,
    user_id: impl Into<Option<crate::store::UserId>>,
    kind: EventKind,
    client: &crate::store::Client,
    detail: Option<&str>,
) -> Result<(), crate::error::AppError> {
    let user_id = user_id.into();
    tracing::info!(
        user_id = user_id.map(|id| id.0),
        event = kind.as_str(),
        "security event"
    );
    count(kind);
    crate::store::record_event(
        &state.pool,
        user_id,
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
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(EventKind::parse("nonsense"), None);
    }
}
