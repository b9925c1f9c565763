//! New-device alerts: a sign-in from a browser that has never signed in to the account (no device
//! cookie naming it) is mailed to the owner, with "Secure my account"; a known or remembered
//! browser never is; at most 3 an hour; on by default, and the security page's switch turns them
//! off (told to the owner and kept as a warning).

use app::account::email::SetSignInAlerts;
use app::account::portal::Logout;
use reqwest::StatusCode;

use crate::common::{PASSWORD, TestPortal, at_once, second_browser, smtp::ReceivedMail};

pub const ALERT: &str = "New sign-in to your Portal account";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

pub fn alerts_to(portal: &TestPortal, username: &str) -> Vec<ReceivedMail> {
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

async fn signs_in(portal: &TestPortal, browser: &reqwest::Client, username: &str) {
    let answer = portal.sign_in(browser, username, PASSWORD).await;
    assert!(answer.status().is_success(), "{}", answer.status());
}

#[tokio::test]
async fn a_new_browser_is_emailed_once_and_a_known_one_never() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    assert!(
        portal.overview(&alice).await.email.sign_in_alerts,
        "on by default"
    );
    // The browser that signed up is known to the account.
    portal.post_fn(&alice, Logout {}).await;
    signs_in(&portal, &alice, "alice").await;
    assert!(alerts_to(&portal, "alice").is_empty());

    let firefox = portal.browser_with_headers(&[("user-agent", FIREFOX)]);
    signs_in(&portal, &firefox, "alice").await;
    let alerts = alerts_to(&portal, "alice");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = &alerts[0].text;
    for expected in [
        "Firefox on Linux",
        "127.0.0.1",
        "with password:",
        "there is nothing to do",
        &portal.url("/settings/security"),
        &portal.url("/secure-account?token="),
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(
        alerts[0]
            .html
            .contains(&format!("href=\"{}", portal.url("/secure-account?token="))),
        "{}",
        alerts[0].html
    );

    // Firefox is now known too: signing in there again is not news.
    portal.post_fn(&firefox, Logout {}).await;
    signs_in(&portal, &firefox, "alice").await;
    // A wrong password is no sign-in.
    portal
        .sign_in(&portal.browser(), "alice", "not the password at all")
        .await;
    assert_eq!(alerts_to(&portal, "alice").len(), 1);

    // The security page marks the new device's sign-in, and only it.
    let events = portal.overview(&alice).await.activity.events;
    let new_devices: Vec<_> = events.iter().filter(|event| event.new_device).collect();
    assert_eq!(new_devices.len(), 1, "{events:?}");
    assert_eq!(new_devices[0].browser, "Firefox on Linux");
    assert_eq!(new_devices[0].description, "Signed in");
}

#[tokio::test]
async fn a_remembered_browser_is_never_emailed_even_without_its_device_cookie() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    // The remembered browser's own first sign-in was from a new device.
    let remembered = second_browser(&portal, "alice", &authenticator, true).await;
    assert_eq!(alerts_to(&portal, "alice").len(), 1);

    // Signing in to bob there leaves its device cookie naming bob; alice's remembered browser
    // still skips the code, and is still no news to alice.
    let bob = portal.browser();
    portal.sign_up(&bob, "bob", PASSWORD).await;
    portal.post_fn(&remembered, Logout {}).await;
    signs_in(&portal, &remembered, "bob").await;
    assert_eq!(alerts_to(&portal, "bob").len(), 1, "new to bob");
    portal.post_fn(&remembered, Logout {}).await;
    signs_in(&portal, &remembered, "alice").await;
    assert_eq!(
        portal.get_status(&remembered, "/portal").await,
        StatusCode::OK
    );
    assert_eq!(alerts_to(&portal, "alice").len(), 1);
}

#[tokio::test]
async fn a_sign_in_with_a_second_factor_is_emailed_when_it_is_whole() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;

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
async fn at_most_three_alerts_are_sent_an_hour() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    for _ in 0..5 {
        signs_in(&portal, &portal.browser(), "alice").await;
    }
    assert_eq!(alerts_to(&portal, "alice").len(), 3);
    assert_eq!(app::limits::NEW_DEVICE_ALERTS_PER_HOUR, 3);

    portal.clock.advance(60 * 60 + 1);
    signs_in(&portal, &portal.browser(), "alice").await;
    assert_eq!(alerts_to(&portal, "alice").len(), 4, "a new hour");
}

#[tokio::test]
async fn the_switch_turns_the_alerts_off_and_on_again() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal
        .call_fn(&alice, switch(false))
        .await
        .expect("turned off");
    signs_in(&portal, &portal.browser(), "alice").await;
    assert!(alerts_to(&portal, "alice").is_empty());
    assert!(!portal.overview(&alice).await.email.sign_in_alerts);

    portal
        .call_fn(&alice, switch(true))
        .await
        .expect("turned on");
    signs_in(&portal, &portal.browser(), "alice").await;
    assert_eq!(alerts_to(&portal, "alice").len(), 1);
    let page = portal.get_text(&alice, "/settings/security").await;
    assert!(
        page.contains("At most 3 such emails an hour."),
        "the switch says its cap"
    );
}

#[tokio::test]
async fn turning_the_alerts_off_is_told_to_the_owner_and_kept_as_a_warning() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
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
    portal
        .call_fn(&alice, switch(true))
        .await
        .expect("turned on");
    assert!(
        portal
            .events(&alice)
            .await
            .iter()
            .any(|event| event == "Emails at every new sign-in turned on")
    );
}

#[tokio::test]
async fn the_switch_is_not_for_a_browser_that_is_not_signed_in() {
    let portal = TestPortal::start().await;
    let stranger = portal.browser();
    let refused = portal.call_fn(&stranger, switch(false)).await;
    assert_eq!(refused, Err(app::error::AppError::Unauthorized));
}

/// New browsers signing in at once get no more alerts than the cap between them: the count and
/// the mail are decided one sign-in at a time.
#[tokio::test]
async fn new_browsers_signing_in_at_once_get_no_more_than_three_alerts() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let browsers: Vec<_> = (0..8).map(|_| portal.browser()).collect();
    let statuses = at_once(browsers.len(), |index| {
        let browser = &browsers[index];
        let portal = &portal;
        async move { portal.sign_in(browser, "alice", PASSWORD).await.status() }
    })
    .await;
    let signed_in = statuses
        .iter()
        .filter(|status| **status == StatusCode::OK)
        .count();
    // Parallel sign-ins to one account share its password counter: the first five get through.
    assert!(signed_in > 3, "{statuses:?}");
    portal.smtp.wait_for("alice@example.com", 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(alerts_to(&portal, "alice").len(), 3, "{statuses:?}");
}
