//! Organizations: owners, members who joined by accepting an invitation, and a two-factor
//! requirement with a grace period that holds every member without a second factor to the
//! enrollment wizard once it runs out.

pub mod invitations;
pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::paths;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub username: String,
    pub role: String,
    /// "on", "off", "in grace period until …" or "required (overdue)".
    pub two_factor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDetails {
    pub slug: String,
    pub name: String,
    pub is_owner: bool,
    pub requires_two_factor: bool,
    pub grace_days: i64,
    /// Whether members may have browsers remembered.
    pub remembered_browsers_allowed: bool,
    /// Shown to owners only.
    pub members: Vec<MemberView>,
    /// Usernames invited and not answered yet; shown to owners only.
    pub invitations: Vec<String>,
}

/// An organization named and linked, such as the one whose requirement holds an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLink {
    pub slug: String,
    pub name: String,
}

/// The grace-period banner: which organization asks, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementNotice {
    pub org_name: String,
    pub deadline: String,
}

#[server(endpoint = "my_organizations")]
pub async fn my_organizations() -> Result<Vec<OrgSummary>, AppError> {
    service::organization::mine().await
}

#[server(endpoint = "create_organization")]
pub async fn create_organization(name: String) -> Result<(), AppError> {
    let slug = service::organization::create(&name).await?;
    crate::validation::redirect(&paths::org(&slug));
    Ok(())
}

#[server(endpoint = "organization")]
pub async fn organization(slug: String) -> Result<OrgDetails, AppError> {
    service::organization::details(&slug).await
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(slug: String, username: String) -> Result<(), AppError> {
    service::organization::remove_member(&slug, &username).await
}

#[server(endpoint = "leave_organization")]
pub async fn leave_organization(slug: String) -> Result<(), AppError> {
    service::organization::leave(&slug).await?;
    crate::validation::redirect(paths::PORTAL);
    Ok(())
}

/// `required` is present when the switch turns the requirement on.
#[server(endpoint = "set_two_factor_requirement")]
pub async fn set_two_factor_requirement(
    slug: String,
    required: Option<String>,
    grace_days: Option<String>,
) -> Result<(), AppError> {
    service::organization::set_requirement(
        &slug,
        required.is_some(),
        grace_days.as_deref().unwrap_or("0"),
    )
    .await
}

/// `allowed` is present when the switch allows members to remember browsers.
#[server(endpoint = "set_remembered_browsers")]
pub async fn set_remembered_browsers(
    slug: String,
    allowed: Option<String>,
) -> Result<(), AppError> {
    service::organization::set_remembered_browsers(&slug, allowed.is_some()).await
}

#[server(endpoint = "requirement_notice")]
pub async fn load_requirement_notice() -> Result<Option<RequirementNotice>, AppError> {
    service::organization::notice().await
}

/// Organizations one account may own: each is rows kept for good, so one account cannot add them
/// without end. Enough for a consultant in many teams.
pub const MAX_OWNED_ORGS: i64 = 20;

/// An organization's name has at most `end` characters, and at least `start` letters or digits
/// in its slug.
pub const ORG_NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=80;

/// The name as kept (trimmed), or why it cannot be one. Names reach members' pages, mail
/// subjects and support's terminal, so they hold printable text only: no control characters
/// (terminal escapes) and no invisible or bidi formatting (a name that reads as another).
pub fn check_org_name(raw: &str) -> Result<&str, std::borrow::Cow<'static, str>> {
    let name = raw.trim();
    if name.chars().any(crate::validation::is_invisible) {
        return Err(
            "Use printable characters only: control characters and invisible formatting characters are not allowed.".into(),
        );
    }
    if name.chars().count() > *ORG_NAME_LENGTH.end()
        || slug_of(name).len() < *ORG_NAME_LENGTH.start()
    {
        return Err(format!(
            "Give the organization a name of {} to {} characters with some letters or digits.",
            ORG_NAME_LENGTH.start(),
            ORG_NAME_LENGTH.end()
        )
        .into());
    }
    Ok(name)
}

/// "Acme Corp" → "acme-corp": letters and digits, single dashes.
pub fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::{check_org_name, slug_of};

    #[test]
    fn a_slug_keeps_letters_and_digits_joined_by_single_dashes() {
        assert_eq!(slug_of("Acme Corp"), "acme-corp");
        assert_eq!(slug_of("  R&D -- Team 7! "), "r-d-team-7");
        assert_eq!(slug_of("!!!"), "");
    }

    #[test]
    fn a_name_is_printable_text_of_2_to_80_characters() {
        assert_eq!(check_org_name("  Café Ünïcode "), Ok("Café Ünïcode"));
        assert!(check_org_name("日本 Team 7").is_ok());
        for hidden in [
            "Acme\u{1b}[2J",
            "Acme\nCorp",
            "Acme\u{7f}",
            "Ac\u{200b}me",
            "Acme\u{200f}",
            "Acme\u{202e}",
            "Acme\u{2066}x",
            "\u{feff}Acme",
        ] {
            let refused = check_org_name(hidden).unwrap_err();
            assert!(refused.contains("printable"), "{hidden:?}");
        }
        assert!(check_org_name("!!").unwrap_err().contains("2 to 80"));
        assert!(check_org_name(&"a".repeat(81)).is_err());
    }
}
