//! "Secure my account": the new-device alert's single-use link (7 days, stored hashed), or "This
//! wasn't me" on the security page, opens a page whose one button ends every session and
//! remembered browser, withdraws every open link, signs the account out of apps, and mails a
//! password reset, whose page still asks for the second factor. No factor is turned off.

use std::time::{Duration, Instant};

use app::{
    account::{
        forgot_password::RequestPasswordReset,
        login::LoginStage,
        reset_password::{PasswordResetLink, ResetPassword},
        secure::{SecureAccount, SecureAccountLink},
    },
    error::{AppError, Link},
};
use reqwest::{Client, StatusCode};

use crate::common::{
    Authenticator, PASSWORD, TestPortal, login, second_browser, smtp::ReceivedMail,
};
use crate::sign_in_alerts::alerts_to;

const RESET: &str = "Reset your Portal password";
const SECURED: &str = "Your Portal account was secured";

/// Waits (a few seconds at most) for the `count`-th mail to `username` with `subject`.
async fn mail_with(
    portal: &TestPortal,
    username: &str,
    subject: &str,
    count: usize,
) -> Vec<ReceivedMail> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mail: Vec<_> = portal
            .smtp
            .mail_to(&format!("{username}@example.com"))
            .into_iter()
            .filter(|mail| mail.subject == subject)
            .collect();
        if mail.len() >= count || Instant::now() > deadline {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many times `username`'s account was secured, by its events.
async fn times_secured(portal: &TestPortal, username: &str) -> usize {
    portal
        .events_of(username)
        .await
        .into_iter()
        .filter(|event| event == "account_secured")
        .count()
}

fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("a link with its token")
        .to_owned()
}

/// The token of the newest alert's "Secure my account" link.
fn alert_token(portal: &TestPortal, username: &str) -> String {
    let link = alerts_to(portal, username)
        .iter()
        .rev()
        .find_map(|mail| mail.link(&portal.url("/secure-account?token=")))
        .expect("an alert with its link");
    token_of(&link)
}

fn secure(token: &str) -> SecureAccount {
    SecureAccount {
        token: token.to_owned(),
    }
}

/// Where the password alone takes `browser`: the portal or the code step.
async fn stage_after_password(portal: &TestPortal, browser: &Client, password: &str) -> LoginStage {
    portal
        .call_fn(browser, login("alice", password))
        .await
        .expect("the password is right")
}

/// alice with two-factor authentication on, a second browser signed in from a new device and
/// remembered (its alert holds the link), and a password-reset link asked for before.
async fn alice_with_intruder(portal: &TestPortal) -> (Client, Client, Authenticator, String) {
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let intruder = second_browser(portal, "alice", &authenticator, true).await;
    portal
        .call_fn(
            &portal.browser(),
            RequestPasswordReset {
                account: "alice".into(),
            },
        )
        .await
        .expect("a reset is asked for");
    let reset = mail_with(portal, "alice", RESET, 1).await;
    let earlier_reset = reset[0]
        .link(&portal.url("/reset-password?token="))
        .expect("the reset link");
    (alice, intruder, authenticator, token_of(&earlier_reset))
}

#[tokio::test]
async fn the_alert_link_ends_every_session_and_link_and_mails_a_reset_that_asks_for_the_code() {
    let portal = TestPortal::start().await;
    let (alice, intruder, authenticator, earlier_reset) = alice_with_intruder(&portal).await;
    let token = alert_token(&portal, "alice");

    // Opening the link changes nothing and says what the button does.
    let stranger = portal.browser();
    let page = portal
        .get_text(&stranger, &format!("/secure-account?token={token}"))
        .await;
    for expected in [
        "alice",
        "signs the account out everywhere",
        "Secure my account",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert_eq!(
        portal.get_status(&intruder, "/portal").await,
        StatusCode::OK
    );

    // Pressed without JavaScript: the form's POST answers with the page's "done" state.
    let pressed = portal
        .submit(
            &stranger,
            &format!("/secure-account?token={token}"),
            secure(&token),
        )
        .await;
    assert!(pressed.status().is_redirection(), "{}", pressed.status());
    let done = crate::common::location(&pressed).expect("a redirect");
    assert!(done.ends_with("/secure-account?done=1"), "{done}");
    let page = portal.get_text(&stranger, "/secure-account?done=1").await;
    assert!(page.contains("Your account is secured"), "{page}");

    // Every session ends, the owner's too, and the remembered browser asks for the code again.
    for browser in [&alice, &intruder] {
        assert_ne!(portal.get_status(browser, "/portal").await, StatusCode::OK);
    }
    assert_eq!(
        stage_after_password(&portal, &intruder, PASSWORD).await,
        LoginStage::SecondFactor
    );
    // The reset link mailed before is withdrawn.
    let refused = portal
        .call_fn(
            &portal.browser(),
            PasswordResetLink {
                token: earlier_reset,
            },
        )
        .await;
    assert_eq!(
        refused,
        Err(AppError::LinkUsed {
            link: Link::PasswordReset
        })
    );
    // The owner is told, and the event is kept as a warning.
    assert_eq!(mail_with(&portal, "alice", SECURED, 1).await.len(), 1);
    let events = portal.events_of("alice").await;
    assert!(
        events.iter().any(|event| event == "account_secured"),
        "{events:?}"
    );

    // A fresh reset mail arrives; its page asks for the code, and the code sets the password.
    let resets = mail_with(&portal, "alice", RESET, 2).await;
    assert_eq!(resets.len(), 2, "{resets:?}");
    let reset = token_of(
        &resets[1]
            .link(&portal.url("/reset-password?token="))
            .expect("the new reset link"),
    );
    let link = portal
        .call_fn(
            &portal.browser(),
            PasswordResetLink {
                token: reset.clone(),
            },
        )
        .await
        .expect("the new link works");
    assert!(link.two_factor, "the second factor stays on");
    portal.clock.advance(60);
    portal
        .call_fn(
            &portal.browser(),
            ResetPassword {
                token: reset,
                new_password: "a brand new stable horse".into(),
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("the reset with a code");
    assert_eq!(
        stage_after_password(&portal, &portal.browser(), "a brand new stable horse").await,
        LoginStage::SecondFactor,
        "the second factor is still asked for"
    );
}

#[tokio::test]
async fn the_link_works_once() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    let token = alert_token(&portal, "alice");
    portal
        .call_fn(&portal.browser(), secure(&token))
        .await
        .expect("the first press works");

    let used = Some(AppError::LinkUsed {
        link: Link::SecureAccount,
    });
    assert_eq!(
        portal
            .call_fn(&portal.browser(), secure(&token))
            .await
            .err(),
        used
    );
    let opened = portal
        .call_fn(
            &portal.browser(),
            SecureAccountLink {
                token: token.clone(),
            },
        )
        .await;
    assert_eq!(opened.err(), used);
    let page = portal
        .get_text(&portal.browser(), &format!("/secure-account?token={token}"))
        .await;
    assert!(
        page.contains("This &quot;Secure my account&quot; link was already used.")
            || page.contains("This \"Secure my account\" link was already used."),
        "{page}"
    );
    // Its one press is one event.
    assert_eq!(times_secured(&portal, "alice").await, 1);
}

#[tokio::test]
async fn the_link_expires_after_seven_days() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    let token = alert_token(&portal, "alice");
    portal.clock.advance(7 * 24 * 60 * 60 - 60);
    portal
        .call_fn(
            &portal.browser(),
            SecureAccountLink {
                token: token.clone(),
            },
        )
        .await
        .expect("still open a minute before");

    portal.clock.advance(61);
    let expired = Some(AppError::LinkExpired {
        link: Link::SecureAccount,
    });
    assert_eq!(
        portal
            .call_fn(
                &portal.browser(),
                SecureAccountLink {
                    token: token.clone()
                }
            )
            .await
            .err(),
        expired
    );
    assert_eq!(
        portal
            .call_fn(&portal.browser(), secure(&token))
            .await
            .err(),
        expired
    );
    let page = portal
        .get_text(&portal.browser(), &format!("/secure-account?token={token}"))
        .await;
    assert!(page.contains("has expired: it worked for 7 days"), "{page}");
    assert!(
        !portal
            .events_of("alice")
            .await
            .iter()
            .any(|event| event == "account_secured")
    );
}

#[tokio::test]
async fn a_made_up_link_and_no_link_without_a_sign_in_are_refused() {
    let portal = TestPortal::start().await;
    let invalid = Some(AppError::LinkInvalid {
        link: Link::SecureAccount,
    });
    let stranger = portal.browser();
    assert_eq!(
        portal
            .call_fn(&stranger, secure("made-up-token"))
            .await
            .err(),
        invalid
    );
    assert_eq!(portal.call_fn(&stranger, secure("")).await.err(), invalid);
    assert_eq!(
        portal
            .call_fn(&stranger, SecureAccountLink { token: "".into() })
            .await
            .err(),
        invalid
    );
}

#[tokio::test]
async fn this_wasnt_me_on_the_security_page_secures_the_signed_in_account() {
    let portal = TestPortal::start().await;
    let (alice, intruder, _, _) = alice_with_intruder(&portal).await;

    // The intruder's sign-in is listed as a new device's, with "This wasn't me" to this page.
    let events = portal.overview(&alice).await.activity.events;
    assert!(events.iter().any(|event| event.new_device), "{events:?}");
    let page = portal.get_text(&alice, "/settings/security").await;
    assert!(page.contains("This wasn&#39;t me") || page.contains("This wasn't me"));
    assert!(page.contains("href=\"/secure-account\""), "{page}");

    // The signed-in session stands for the link: no token is made or needed.
    let page = portal.get_text(&alice, "/secure-account").await;
    assert!(page.contains("alice"), "{page}");
    portal
        .call_fn(&alice, secure(""))
        .await
        .expect("secured from the security page");
    for browser in [&alice, &intruder] {
        assert_ne!(portal.get_status(browser, "/portal").await, StatusCode::OK);
    }
    assert_eq!(mail_with(&portal, "alice", RESET, 2).await.len(), 2);
    assert_eq!(mail_with(&portal, "alice", SECURED, 1).await.len(), 1);
}

#[tokio::test]
async fn the_activity_shows_the_last_28_days() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    let events = portal.overview(&alice).await.activity.events;
    assert!(events.iter().any(|event| event.new_device), "{events:?}");

    portal.clock.advance(29 * 24 * 60 * 60);
    let again = portal.browser();
    portal.sign_in(&again, "alice", PASSWORD).await;
    let events = portal.overview(&again).await.activity.events;
    assert_eq!(events.len(), 1, "only today's sign-in: {events:?}");
    assert_eq!(events[0].address, "127.0.0.1");
}

/// Twenty presses of one link at once secure the account once: one press succeeds, the others
/// are told the link was used, and one event and one reset mail come of it.
#[tokio::test]
async fn twenty_presses_of_one_link_at_once_secure_once() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    second_browser(&portal, "alice", &authenticator, false).await;
    let token = alert_token(&portal, "alice");
    let browsers: Vec<_> = (0..20).map(|_| portal.browser()).collect();
    let answers = crate::common::at_once(browsers.len(), |index| {
        portal.call_fn(&browsers[index], secure(&token))
    })
    .await;
    let pressed = answers.iter().filter(|answer| answer.is_ok()).count();
    assert_eq!(pressed, 1, "{answers:?}");
    for answer in answers.iter().filter(|answer| answer.is_err()) {
        assert_eq!(
            answer.as_ref().err(),
            Some(&AppError::LinkUsed {
                link: Link::SecureAccount
            })
        );
    }
    assert_eq!(times_secured(&portal, "alice").await, 1);
    mail_with(&portal, "alice", RESET, 1).await;
    mail_with(&portal, "alice", SECURED, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mail = portal.smtp.mail_to("alice@example.com");
    for subject in [RESET, SECURED] {
        let sent = mail.iter().filter(|mail| mail.subject == subject).count();
        assert_eq!(sent, 1, "{subject}");
    }
}
