//! Two-factor authentication: the security page, the enrollment wizard, disabling, a new
//! recovery code, and the code step of sign-in.

pub mod enroll;
pub mod manage;
pub mod prompt;
#[cfg(feature = "ssr")]
pub mod service;
pub mod settings;

use serde::{Deserialize, Serialize};

/// Where the account's second factor stands, as the security page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorState {
    Off,
    /// Wizard step 1: the secret as a QR code and as text.
    Scanning {
        qr_svg: String,
        key: String,
    },
    /// Wizard step 2: the recovery code is shown (in `SecurityOverview::recovery_code`).
    SavingRecoveryCode,
    On,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub description: String,
    pub warning: bool,
    pub at: String,
    pub address: String,
    pub browser: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub two_factor: TwoFactorState,
    /// A recovery code waiting to be saved: shown once, during enrollment or after a new one.
    pub recovery_code: Option<String>,
    pub events: Vec<SecurityEvent>,
    pub sessions: Vec<crate::account::sessions::ActiveSession>,
    /// Whether the password was entered in the last 15 minutes: changes need it.
    pub password_recent: bool,
    /// The organization that requires two-factor authentication of this account, if any.
    pub required_by: Option<String>,
    /// Past the requirement's deadline without a second factor: nothing else is reachable.
    pub enforced: bool,
    /// The organization whose requirement holds the account, linked to its page to leave it.
    pub held_by: Option<crate::org::OrgLink>,
}
