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
/// "Secure my account": from a new-device alert's link, or "This wasn't me" on the security page.
pub const SECURE_ACCOUNT: &str = "/secure-account";
/// Under it, each organization's page: see `org`.
pub const ORGS: &str = "/org/";

/// The page of the organization `slug`.
pub fn org(slug: &str) -> String {
    format!("{ORGS}{slug}")
}

/// OpenID Connect: the discovery document, at the place the standard fixes.
pub const OIDC_DISCOVERY: &str = "/.well-known/openid-configuration";
pub const OIDC_AUTHORIZE: &str = "/oauth2/authorize";
/// Where an authorization request goes on after Portal's own sign-in or consent pages.
pub const OIDC_CONTINUE: &str = "/oauth2/continue";
/// The consent page: what an app asks for, Allow or Deny.
pub const OIDC_CONSENT: &str = "/oauth2/consent";
pub const OIDC_TOKEN: &str = "/oauth2/token";
pub const OIDC_USERINFO: &str = "/oauth2/userinfo";
pub const OIDC_JWKS: &str = "/oauth2/jwks";
pub const OIDC_REVOKE: &str = "/oauth2/revoke";
pub const OIDC_END_SESSION: &str = "/oauth2/logout";

/// Forward-auth: the page that sends a signed-in browser on to the app it came from (`rd`), if a
/// rule names its host.
pub const FORWARD_AUTH_CONTINUE: &str = "/auth/continue";
/// Forward-auth: back to the app after signing out.
pub const FORWARD_AUTH_LEAVE: &str = "/auth/leave";
/// Forward-auth: the page with a Sign out button for an app's sign-out link (`/logout?rd=`).
pub const SIGN_OUT: &str = "/logout";
