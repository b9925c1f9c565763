//! The words of every email Portal sends, each in plain text and HTML.

use super::Email;

/// Escapes text for HTML: usernames and addresses are checked, but never trusted in markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn email(to: &str, subject: &str, paragraphs: &[String], link: Option<(&str, &str)>) -> Email {
    email_with_links(to, subject, paragraphs, link.as_slice())
}

/// A mail with its `links` under the paragraphs; the last is the one logged (the action).
fn email_with_links(
    to: &str,
    subject: &str,
    paragraphs: &[String],
    links: &[(&str, &str)],
) -> Email {
    let mut text = paragraphs.join("\n\n");
    let mut html: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect();
    for (label, url) in links {
        text.push_str(&format!("\n\n{label}:\n{url}\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(label)
        ));
    }
    text.push_str("\n\n— Portal\n");
    html.push_str("<p>— Portal</p>");
    Email {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html: format!("<!DOCTYPE html><html><body>{html}</body></html>"),
        link: links.last().map(|(_, url)| (*url).to_owned()),
    }
}

pub fn verify_email(to: &str, username: &str, link: &str) -> Email {
    email(
        to,
        "Verify your email address for Portal",
        &[
            format!("Hello {username},"),
            "Open the link below to verify this address. Portal sends recovery links here if you ever lose your authenticator app.".into(),
            "If you did not create a Portal account, ignore this email.".into(),
        ],
        Some(("Verify your email address", link)),
    )
}

/// Sign-up with an address another account has verified: its owner hears of it, and the person
/// signing up learns nothing.
pub fn address_in_use(to: &str, owner: &str, sign_in: &str) -> Email {
    email(
        to,
        "Someone tried to use your address for another Portal account",
        &[
            "Someone tried to use this email address for another Portal account: a new one, or a change of address.".into(),
            format!("This address already belongs to your account {owner}, so it was not added to the other one."),
            "If this was you, sign in to your account instead. If it was not you, you can ignore this email.".into(),
        ],
        Some(("Sign in to Portal", sign_in)),
    )
}

pub fn recovery_link(to: &str, username: &str, link: &str, minutes: i64) -> Email {
    email(
        to,
        "Reset two-factor authentication on Portal",
        &[
            format!("Hello {username},"),
            "Someone signed in to your Portal account with your password and your recovery code, and asked to reset two-factor authentication.".into(),
            format!("If this was you, open the link below within {minutes} minutes and confirm. It works once."),
            "If this was not you, do not open the link: change your password, because someone knows it and has your recovery code.".into(),
        ],
        Some(("Reset two-factor authentication", link)),
    )
}

pub fn password_reset_link(to: &str, username: &str, link: &str, minutes: i64) -> Email {
    email(
        to,
        "Reset your Portal password",
        &[
            format!("Hello {username},"),
            format!("Someone asked to reset the password of your Portal account. If this was you, open the link below within {minutes} minutes and choose a new password. It works once."),
            "If two-factor authentication is on, the page also asks for a code from your authenticator app: this email alone cannot change your password.".into(),
            "If this was not you, ignore this email: your password stays as it is.".into(),
        ],
        Some(("Choose a new password", link)),
    )
}

/// To the new address: the link that proves it and switches the account to it.
pub fn email_change_link(to: &str, username: &str, link: &str, hours: i64) -> Email {
    email(
        to,
        "Confirm your new email address for Portal",
        &[
            format!("Hello {username},"),
            format!(
                "Open the link below within {hours} hours to make this the email address of your Portal account. Until then your account keeps its current address."
            ),
            "If you did not ask for this, ignore this email: nothing changes.".into(),
        ],
        Some(("Confirm this email address", link)),
    )
}

/// To the old address: a change was asked for, and (when this address was verified) the link that
/// keeps it.
pub fn email_change_notice(
    to: &str,
    username: &str,
    new_email: &str,
    undo: Option<(&str, i64)>,
) -> Email {
    let mut paragraphs = vec![
        format!("Hello {username},"),
        format!(
            "Someone asked to change the email address of your Portal account to {new_email}. The change happens when that address is confirmed."
        ),
    ];
    match undo {
        Some((_, days)) => paragraphs.push(format!("If this was not you, open the link below within {days} days: it keeps this address (or brings it back), signs your account out everywhere, and you should then change your password.")),
        None => paragraphs.push("If this was not you, change your password and contact support.".into()),
    }
    email(
        to,
        "The email address of your Portal account is changing",
        &paragraphs,
        undo.map(|(link, _)| ("Keep this email address", link)),
    )
}

/// To a closed account's address: what went, and when its username is free again.
pub fn goodbye(to: &str, username: &str, days: i64) -> Email {
    email(
        to,
        "Your Portal account is closed",
        &[
            format!("Hello {username},"),
            format!(
                "Your Portal account {username} is closed: its sessions, second factors, links and memberships are deleted. The username stays reserved for {days} days."
            ),
            "If this was not you, contact support at once.".into(),
        ],
        None,
    )
}

/// A notice of a change to the account's security, so its owner hears of it wherever it came from.
pub fn notice(to: &str, username: &str, what: Notice) -> Email {
    let (subject, body) = match what {
        Notice::Enabled => (
            "Two-factor authentication is on",
            "Two-factor authentication was turned on for your Portal account. Signing in now asks for a code from your authenticator app.",
        ),
        Notice::Disabled => (
            "Two-factor authentication is off",
            "Two-factor authentication was turned off for your Portal account. Signing in now needs only your password.",
        ),
        Notice::RecoveryRequested => (
            "Recovery of your Portal account was requested",
            "Your password and recovery code were used to ask for a reset of two-factor authentication. A separate email holds the link that confirms it.",
        ),
        Notice::Reset => (
            "Two-factor authentication was reset",
            "Two-factor authentication was reset for your Portal account through email recovery, and every session was signed out. Sign in with your password and turn it on again from Security settings.",
        ),
        Notice::AdminReset => (
            "Two-factor authentication was reset by support",
            "Portal support reset two-factor authentication for your account, and every session was signed out. Sign in with your password and turn it on again from Security settings.",
        ),
        Notice::RecoveryCodeRegenerated => (
            "You have a new recovery code",
            "A new recovery code was created for your Portal account. The old one no longer works.",
        ),
        Notice::PasswordReset => (
            "Your Portal password was reset",
            "The password of your Portal account was reset through the link emailed to you, and every session was signed out.",
        ),
        Notice::PasswordChanged => (
            "Your Portal password was changed",
            "The password of your Portal account was changed from Security settings, and every other session was signed out.",
        ),
        Notice::EmailChanged => (
            "Your Portal email address was changed",
            "This is now the email address of your Portal account: notices and recovery links come here.",
        ),
        Notice::SecurityKeyAdded => (
            "A security key or passkey was added",
            "A security key or passkey was added to your Portal account. It can now stand in for your authenticator app, and a passkey can sign in on its own.",
        ),
        Notice::SecurityKeyRemoved => (
            "A security key or passkey was removed",
            "A security key or passkey was removed from your Portal account.",
        ),
        Notice::AppAdded => (
            "An authenticator app was added",
            "Another authenticator app was added to your Portal account: its codes now sign in too.",
        ),
        Notice::AppRemoved => (
            "An authenticator app was removed",
            "An authenticator app was removed from your Portal account: its codes no longer sign in.",
        ),
        Notice::KeyCounterWentBack => (
            "A security key or passkey of yours may have been copied",
            "A security key or passkey of your Portal account answered a sign-in with a lower counter than it had sent before, which is what a copy of the key does. That sign-in was refused. If you are not sure where your key has been, remove it from Security settings.",
        ),
        Notice::SignInAlertsOff => (
            "You will no longer get an email at each sign-in",
            "Emails at every new sign-in to your Portal account were turned off. You can turn them on again in Security settings.",
        ),
        Notice::AccountSecured => (
            "Your Portal account was secured",
            "\"Secure my account\" was used on your Portal account: every session and remembered browser was signed out, every emailed link withdrawn, and apps signed in through Portal must sign you in again. A separate email holds a link to choose a new password. Your second factor stays on.",
        ),
        Notice::EmailChangeUndone => (
            "Your Portal email address was kept",
            "The change of your email address was undone and every session was signed out. If you did not ask for the change, someone knows your password: reset it now.",
        ),
    };
    email(
        to,
        subject,
        &[
            format!("Hello {username},"),
            body.to_owned(),
            "If this was not you, contact support at once.".into(),
        ],
        None,
    )
}

/// What a new-device alert says of the sign-in.
pub struct SignInFacts<'a> {
    pub how: &'a str,
    pub at: &'a str,
    pub browser: &'a str,
    pub address: &'a str,
}

/// At a sign-in from a browser that had never signed in to the account: when, how, from where,
/// and two links: the security page if it was the owner, "Secure my account" if not.
pub fn new_sign_in(
    to: &str,
    username: &str,
    facts: SignInFacts<'_>,
    security_page: &str,
    secure_link: &str,
) -> Email {
    let SignInFacts {
        how,
        at,
        browser,
        address,
    } = facts;
    email_with_links(
        to,
        "New sign-in to your Portal account",
        &[
            format!("Hello {username},"),
            format!("Your Portal account was signed in to from a new device at {at} with {how}: {browser}, from the address {address}."),
            "If this was you, there is nothing to do. Your recent sign-ins are in Security settings.".into(),
            format!("If this was not you, open \"Secure my account\" within {} days: it signs your account out everywhere, withdraws every emailed link, signs you out of apps, and emails you a link to choose a new password. It works once and keeps your second factor.", crate::limits::SECURE_ACCOUNT_LINK_DAYS),
        ],
        &[
            ("It was me: review your security settings", security_page),
            ("It was not me: Secure my account", secure_link),
        ],
    )
}

/// To an owner: the organization now requires two-factor authentication.
pub fn org_requirement_on(to: &str, username: &str, org: &str, grace_days: i64) -> Email {
    email(
        to,
        &format!("{org} now requires two-factor authentication"),
        &[
            format!("Hello {username},"),
            format!(
                "You turned on the two-factor requirement of {org}. Members without it have {grace_days} days to turn it on; after that they reach nothing else until they do."
            ),
        ],
        None,
    )
}

/// To a member without a second factor: the organization requires one, by this deadline.
pub fn org_requirement_applies(
    to: &str,
    username: &str,
    org: &str,
    deadline: &str,
    base_url: &str,
) -> Email {
    let link = format!("{base_url}/settings/security");
    email(
        to,
        &format!("{org} requires two-factor authentication"),
        &[
            format!("Hello {username},"),
            format!(
                "{org} requires its members to use two-factor authentication. Turn it on by {deadline}; after that, signing in takes you to set it up before anything else."
            ),
        ],
        Some(("Turn on two-factor authentication", &link)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Enabled,
    Disabled,
    RecoveryRequested,
    Reset,
    AdminReset,
    RecoveryCodeRegenerated,
    PasswordReset,
    PasswordChanged,
    EmailChanged,
    EmailChangeUndone,
    SecurityKeyAdded,
    SecurityKeyRemoved,
    AppAdded,
    AppRemoved,
    KeyCounterWentBack,
    SignInAlertsOff,
    AccountSecured,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mail_has_a_text_and_an_html_part_with_the_link() {
        let mail = recovery_link(
            "a@example.com",
            "alice",
            "http://127.0.0.1:3000/recover/confirm?token=abc",
            10,
        );
        assert!(
            mail.text
                .contains("http://127.0.0.1:3000/recover/confirm?token=abc")
        );
        assert!(
            mail.html
                .contains("href=\"http://127.0.0.1:3000/recover/confirm?token=abc\"")
        );
        assert!(mail.text.contains("10 minutes"));
    }

    #[test]
    fn markup_in_names_is_escaped() {
        let mail = verify_email("a@example.com", "<b>x</b>", "http://x/?a=1&b=2");
        assert!(mail.html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(mail.html.contains("a=1&amp;b=2"));
    }
}
