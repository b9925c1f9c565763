//! Portal's own pages, each path written once. The route table (`lib.rs`) spells them again
//! inside `path!`, which takes only literals; a server test checks every route against the
//! public and protected lists built from these.

pub const HOME: &str = "/";
pub const SIGNUP: &str = "/signup";
pub const LOGIN: &str = "/login";
pub const PORTAL: &str = "/portal";
pub const SECURITY: &str = "/settings/security";
/// The recovery code as a file to save: a plain GET, so the browser downloads it.
pub const RECOVERY_CODE_FILE: &str = "/settings/security/recovery-code.txt";
pub const CHANGE_PASSWORD: &str = "/settings/password";
pub const CHANGE_EMAIL: &str = "/settings/email";
pub const CLOSE_ACCOUNT: &str = "/settings/close";
pub const VERIFY_EMAIL: &str = "/verify-email";
pub const CONFIRM_RECOVERY: &str = "/recover/confirm";
pub const FORGOT_PASSWORD: &str = "/forgot-password";
pub const RESET_PASSWORD: &str = "/reset-password";
pub const CONFIRM_EMAIL: &str = "/confirm-email";
pub const KEEP_EMAIL: &str = "/keep-email";
/// Under it, each organization's page: see `org`.
pub const ORGS: &str = "/org/";

/// The page of the organization `slug`.
pub fn org(slug: &str) -> String {
    format!("{ORGS}{slug}")
}
