//! "Email me at every new sign-in": off by default, turned on from the security page's email
//! card, sent once a sign-in is whole (not at its password step), and turning it off is told to
//! the owner and kept as a warning.

use app::account::email::SetSignInAlerts;
use reqwest::StatusCode;

use crate::common::{PASSWORD, TestPortal, smtp::ReceivedMail};

const ALERT: &str = "New sign-in to your Portal account";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn alerts_to(portal: &TestPortal, username: &str) -> Vec<ReceivedMail> {
    portal
        .smtp
        .mail_to(&format!("{username}@example.com"))
        .into_iter()
        .filter(|mail| mail.subject == ALERT)
        .collect()
}

fn switch(on: bool) -> SetSignInAlerts {
    SetSignInAlerts {
        on: on.then(|| "yes".to_owned()),
    }
}

#[tokio::test]
async fn a_new_sign_in_is_emailed_only_once_the_owner_asks() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    assert!(!portal.overview(&alice).await.email.sign_in_alerts);

    let before = portal.browser();
    assert!(
        portal
            .sign_in(&before, "alice", PASSWORD)
            .await
            .status()
            .is_success()
    );
    assert!(alerts_to(&portal, "alice").is_empty(), "off by default");

    portal
        .call_fn(&alice, switch(true))
        .await
        .expect("turned on");
    assert!(portal.overview(&alice).await.email.sign_in_alerts);
    let firefox = portal.browser_with_headers(&[("user-agent", FIREFOX)]);
    assert!(
        portal
            .sign_in(&firefox, "alice", PASSWORD)
            .await
            .status()
            .is_success()
    );
    let alerts = alerts_to(&portal, "alice");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].text.contains("Firefox on Linux"),
        "{}",
        alerts[0].text
    );
    assert!(
        alerts[0].text.contains("with password,"),
        "{}",
        alerts[0].text
    );
    assert!(
        alerts[0].text.contains(&portal.url("/settings/security")),
        "{}",
        alerts[0].text
    );
    // A wrong password is no sign-in.
    let wrong = portal.browser();
    portal
        .sign_in(&wrong, "alice", "not the password at all")
        .await;
    assert_eq!(alerts_to(&portal, "alice").len(), 1);
}

#[tokio::test]
async fn a_sign_in_with_a_second_factor_is_emailed_when_it_is_whole() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    portal
        .call_fn(&alice, switch(true))
        .await
        .expect("turned on");

    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    assert!(
        alerts_to(&portal, "alice").is_empty(),
        "the password alone signs nothing in"
    );
    portal.clock.advance(60);
    let answer = portal
        .verify_code(&other, &authenticator.code(&portal, 0))
        .await;
    assert!(answer.status().is_success() || answer.status() == StatusCode::SEE_OTHER);
    let alerts = alerts_to(&portal, "alice");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].text.contains("password and authentication code"),
        "{}",
        alerts[0].text
    );
}

#[tokio::test]
async fn turning_the_alerts_off_is_told_to_the_owner_and_kept_as_a_warning() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal
        .call_fn(&alice, switch(true))
        .await
        .expect("turned on");
    portal
        .call_fn(&alice, switch(false))
        .await
        .expect("turned off");
    // Off twice is one change: one mail, one event.
    portal
        .call_fn(&alice, switch(false))
        .await
        .expect("still off");

    let told: Vec<_> = portal
        .smtp
        .mail_to("alice@example.com")
        .into_iter()
        .filter(|mail| mail.subject == "You will no longer get an email at each sign-in")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    let events = portal.events(&alice).await;
    let off = "Emails at every new sign-in turned off";
    assert_eq!(
        events.iter().filter(|event| *event == off).count(),
        1,
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|event| event == "Emails at every new sign-in turned on")
    );

    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    assert!(alerts_to(&portal, "alice").is_empty());
    assert!(!portal.overview(&alice).await.email.sign_in_alerts);
}

#[tokio::test]
async fn the_switch_is_not_for_a_browser_that_is_not_signed_in() {
    let portal = TestPortal::start().await;
    let stranger = portal.browser();
    let refused = portal.call_fn(&stranger, switch(false)).await;
    assert_eq!(refused, Err(app::error::AppError::Unauthorized));
}
