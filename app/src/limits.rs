//! The numbers the pages' copy tells people, each written once for both the rule and the words,
//! so "30 days" on a page cannot drift from what the code does. (Lengths of usernames and
//! passwords are in `validation`, beside their checks.)

/// A browser ticked "Remember this browser" skips the second step for this long.
pub const REMEMBER_DAYS: i64 = 30;
/// A password-reset link works for this long.
pub const RESET_LINK_MINUTES: i64 = 30;
/// New-device alerts an account is sent at most an hour: someone trying a stolen password from
/// many browsers fills no mailbox, and the owner still hears of the first few.
pub const NEW_DEVICE_ALERTS_PER_HOUR: i64 = 3;
/// The "Secure my account" link of a new-device alert works this long: a mail read days later
/// still acts.
pub const SECURE_ACCOUNT_LINK_DAYS: i64 = 7;
/// A recovery link (reset of two-factor authentication) works for this long.
pub const RECOVERY_LINK_MINUTES: i64 = 10;
/// A closed account's username is kept from new accounts for this long.
pub const RETIRED_USERNAME_DAYS: i64 = 30;
/// The longest grace period an organization may give its members to turn on a second factor.
pub const MAX_GRACE_DAYS: i64 = 365;

/// "Remember this browser for 30 days", as the code step and the settings name it.
pub fn remember_label() -> String {
    format!("Remember this browser for {REMEMBER_DAYS} days")
}
