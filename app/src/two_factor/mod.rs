//! Two-factor authentication: the enrollment wizard, disabling, a new recovery code, and the
//! code step of sign-in.

pub mod apps;
pub mod enroll;
pub mod manage;
pub mod prompt;
#[cfg(feature = "ssr")]
pub mod recovery_code_file;
pub mod section;
#[cfg(feature = "ssr")]
pub mod service;

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
    /// Wizard step 2: the recovery code is shown (in `TwoFactorSection::recovery_code`).
    SavingRecoveryCode,
    On,
}
