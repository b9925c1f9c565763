//! What a page says after a change sent a browser to it: a `Notice`, carried as `?notice=` and
//! shown in fixed words, so nothing from the URL is ever echoed. Every redirect builds one with
//! `Notice::at`, and `NoticeLine` reads it back.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The notices, each with its name in the query and its words, written once.
macro_rules! notices {
    ($($(#[$doc:meta])* $variant:ident = $slug:literal => $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Notice {
            $($(#[$doc])* $variant,)*
        }

        impl Notice {
            pub const ALL: &[Notice] = &[$(Notice::$variant,)*];

            /// Its name in `?notice=`.
            pub fn slug(self) -> &'static str {
                match self {
                    $(Notice::$variant => $slug,)*
                }
            }

            pub fn text(self) -> &'static str {
                match self {
                    $(Notice::$variant => $text,)*
                }
            }
        }
    };
}

notices! {
    Enabled = "enabled" => "Two-factor authentication is enabled.",
    Disabled = "disabled" => "Two-factor authentication is disabled.",
    RecoveryCodeSaved = "saved" => "Your new recovery code is saved. The old one no longer works.",
    SignedOut = "signed-out" => "That session is signed out.",
    SignedOutOthers = "signed-out-others" => "All your other sessions are signed out.",
    AppAccessRevoked = "app-revoked" => "That app's access is revoked: it must ask you again to sign you in.",
    KeyAdded = "key-added" => "Your security key or passkey is added.",
    KeyRemoved = "key-removed" => "That security key or passkey is removed.",
    BrowserForgotten = "browser-forgotten" => "That browser is forgotten: it will ask for the second step again.",
    AppAdded = "app-added" => "Your new authenticator app is added. Its codes sign in too.",
    AppRemoved = "app-removed" => "That authenticator app is removed. Its codes no longer sign in.",
    VerificationSent = "verification-sent" => "A verification email is on its way. Open its link to verify your address.",
    SignInAlertsOn = "alerts-on" => "You will get an email at every new sign-in.",
    SignInAlertsOff = "alerts-off" => "You will no longer get an email at new sign-ins.",
    PasswordChanged = "password-changed" => "Your password is changed. Your other sessions are signed out.",
    EmailChangeSent = "email-change-sent" => "We sent a link to the new address. Your account switches to it when you open the link.",
    PasswordReset = "password-reset" => "Your password is changed. Sign in with your new password.",
    TwoFactorReset = "two-factor-reset" => "Two-factor authentication has been reset. Sign in with your password.",
    Closed = "closed" => "Your account is closed. We have emailed you a confirmation.",
    EmailKept = "email-kept" => "Your email address is kept and every session is signed out. If you did not ask for the change, reset your password now.",
    /// The one answer to an invitation, whether or not the username names an account, and
    /// whether or not that account is already in: the form is no way to learn who exists.
    Invited = "invited" => "If that account exists, it has been invited.",
}

impl Notice {
    pub fn parse(slug: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|notice| notice.slug() == slug)
    }

    /// `path` (a page of Portal's, without a query) saying this notice.
    pub fn at(self, path: &str) -> String {
        format!("{path}?notice={}", self.slug())
    }
}

/// The notice this page's address names, if any, as a status line.
#[component]
pub fn NoticeLine() -> impl IntoView {
    let notice = use_query_map()
        .read_untracked()
        .get("notice")
        .and_then(|slug| Notice::parse(&slug));
    notice.map(|notice| view! { <p class="notice" role="status">{notice.text()}</p> })
}

#[cfg(test)]
mod tests {
    use super::Notice;

    #[test]
    fn every_notice_reads_back_from_its_own_name_only() {
        for notice in Notice::ALL {
            assert_eq!(Notice::parse(notice.slug()), Some(*notice));
        }
        assert_eq!(Notice::parse("<script>"), None);
        assert_eq!(Notice::parse(""), None);
    }
}
