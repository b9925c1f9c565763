//! The rules of Portal as an OpenID Connect provider: which requests are good, what a person
//! allowed, which codes and tokens are issued, and what they stand for.

pub mod authorize;
pub mod clients;
pub mod consent;
pub mod keys;
pub mod logout;
pub mod section;
pub mod token;

use crate::{audit::SignInMethod, auth::Authentication, state::AppState};

/// A code is exchanged within this many seconds, once.
pub const CODE_SECONDS: i64 = 60;
/// How long an access token is good for.
pub const ACCESS_TOKEN_SECONDS: i64 = 10 * 60;
/// How long a refresh token is good for, each rotation starting again.
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 60 * 60;

/// The issuer: Portal's base URL, without a trailing slash.
pub fn issuer(state: &AppState) -> String {
    state.settings.base_url.trim_end_matches('/').to_owned()
}

/// RFC 8176 method references for how the browser signed in: `pwd` a password, `otp` a code,
/// `hwk` a key bound to one device, `swk` a key synced between devices (a synced passkey), and
/// `mfa` when more than one factor was shown. A remembered browser had its second factor shown
/// on it before, within the days it is remembered.
pub fn amr(authentication: &Authentication) -> Vec<&'static str> {
    let key = if authentication.synced_key {
        "swk"
    } else {
        "hwk"
    };
    match authentication.method {
        SignInMethod::Password => vec!["pwd"],
        SignInMethod::PasswordOnRememberedBrowser => vec!["pwd", "mfa"],
        SignInMethod::PasswordAndCode => vec!["pwd", "otp", "mfa"],
        SignInMethod::PasswordAndSecurityKey => vec!["pwd", key, "mfa"],
        // A passkey is a key and the person's PIN or fingerprint on it (user verification).
        SignInMethod::Passkey => vec![key, "user", "mfa"],
    }
}

/// Whether a sign-in with these method references showed a second factor.
pub fn is_multi_factor(amr: &str) -> bool {
    amr.split(' ').any(|method| method == "mfa")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unix_time::UnixTime;

    fn amr_of(method: SignInMethod, synced_key: bool) -> Vec<&'static str> {
        amr(&Authentication {
            at: UnixTime(0),
            method,
            synced_key,
        })
    }

    #[test]
    fn each_way_of_signing_in_has_its_method_references() {
        assert_eq!(amr_of(SignInMethod::Password, false), ["pwd"]);
        assert_eq!(
            amr_of(SignInMethod::PasswordAndCode, false),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr_of(SignInMethod::PasswordAndSecurityKey, false),
            ["pwd", "hwk", "mfa"]
        );
        assert_eq!(amr_of(SignInMethod::Passkey, true), ["swk", "user", "mfa"]);
        assert_eq!(amr_of(SignInMethod::Passkey, false), ["hwk", "user", "mfa"]);
        assert!(!is_multi_factor("pwd"));
        assert!(is_multi_factor("pwd otp mfa"));
    }
}
