//! Portal as an OpenID Connect provider: other apps send people here to sign in, with Portal's
//! own pages and second factor, and get back a code they exchange for an ID token. This module
//! holds the consent page (`consent`) and the security page's "Apps with access" card
//! (`section`); the rules are in `service`, the HTTP endpoints the apps call in `endpoints`.

pub mod consent;
#[cfg(feature = "ssr")]
pub mod endpoints;
pub mod section;
#[cfg(feature = "ssr")]
pub mod service;

use serde::{Deserialize, Serialize};

/// A scope an app may ask for, in the words the consent page and the security page use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    OpenId,
    Profile,
    Email,
    Groups,
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::Groups,
        Scope::OfflineAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenId => "openid",
            Self::Profile => "profile",
            Self::Email => "email",
            Self::Groups => "groups",
            Self::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// What the app receives, as the person is told.
    pub fn words(self) -> &'static str {
        match self {
            Self::OpenId => "who you are on Portal (an id that names nothing else)",
            Self::Profile => "your username",
            Self::Email => "your email address and whether it is verified",
            Self::Groups => "the organizations you belong to",
            Self::OfflineAccess => "access while you are away, until you revoke it",
        }
    }
}

/// Scopes as the space-separated list OAuth writes, each known one once, in a fixed order.
pub fn scopes_from(list: &str) -> Vec<Scope> {
    let asked: Vec<&str> = list.split_ascii_whitespace().collect();
    Scope::ALL
        .into_iter()
        .filter(|scope| asked.contains(&scope.as_str()))
        .collect()
}

pub fn scopes_to_string(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_keep_the_known_ones_once_in_order() {
        let scopes = scopes_from("email  openid unknown email offline_access");
        assert_eq!(
            scopes,
            vec![Scope::OpenId, Scope::Email, Scope::OfflineAccess]
        );
        assert_eq!(scopes_to_string(&scopes), "openid email offline_access");
    }
}
