//! Verified email, recovery by code and emailed link, notices, and support's reset, against the
//! real server and a real SMTP server on loopback.

use app::recovery::confirm::ConfirmRecovery;
use app::recovery::request::RequestRecovery;
use app::two_factor::apps::RemoveAuthenticatorApp;
use app::two_factor::enroll::{SaveRecoveryCode, StartEnrollment};
use app::two_factor::manage::RegenerateRecoveryCode;
use app::{account::verify_email::ResendVerification, error::AppError, two_factor::TwoFactorState};

use crate::common::{PASSWORD, TestPortal, answer, at_once};
use reqwest::{Client, StatusCode};

const ALICE: &str = "alice@example.com";

/// Signs in with the password and asks for recovery with `code`.
async fn request_recovery(portal: &TestPortal, browser: &Client, code: &str) -> reqwest::Response {
    portal.sign_in(browser, "alice", PASSWORD).await;
    portal
        .post_fn(
            browser,
            RequestRecovery {
                recovery_code: code.to_owned(),
            },
        )
        .await
}

fn recovery_links(portal: &TestPortal) -> Vec<String> {
    portal
        .smtp
        .mail_to(ALICE)
        .iter()
        .filter_map(|mail| mail.link(&portal.url("/recover/confirm?token=")))
        .collect()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

/// How many of Alice's audit events are of `kind`.
async fn events_of_alice(portal: &TestPortal, kind: &str) -> usize {
    let events = portal.events_of("alice").await;
    events.iter().filter(|event| *event == kind).count()
}

async fn count(portal: &TestPortal, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&portal.database().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_up_sends_a_verification_link_that_verifies_the_address() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let mail = portal.smtp.wait_for(ALICE, 1).await;
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.contains("Verify"));
    assert!(
        mail[0].html.contains("/verify-email?token="),
        "an HTML part with the link"
    );
    assert!(!portal.overview(&browser).await.email.verified);

    let refused = portal.post_fn(&browser, StartEnrollment {}).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("VerifyEmailFirst"));

    portal.verify_email(&browser, "alice").await;
    assert!(portal.overview(&browser).await.email.verified);
    assert_eq!(
        portal.call_status(&browser, StartEnrollment {}).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_verification_link_works_once() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let link = portal.smtp.wait_for(ALICE, 1).await[0]
        .link(&portal.url("/verify-email?token="))
        .unwrap();
    assert!(
        crate::common::open_link(&browser, &link)
            .await
            .contains("Verify this address")
    );
    assert_eq!(
        portal.press_verify(&browser, &link).await.status(),
        StatusCode::OK
    );
    assert!(
        portal
            .get_text(&browser, "/verify-email?done=1")
            .await
            .contains("is verified")
    );
    assert_ne!(
        portal.press_verify(&browser, &link).await.status(),
        StatusCode::OK
    );
    let again = browser
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains("already used"), "{again}");
}

#[tokio::test]
async fn a_right_recovery_code_emails_a_link_that_resets_two_factor_authentication() {
    let portal = TestPortal::start().await;
    let (owner, authenticator) = portal.account_with_two_factor("alice").await;
    let before = portal.smtp.mail_to(ALICE).len();

    // Any case, without dashes.
    let typed = authenticator.recovery_code.replace('-', "").to_lowercase();
    let browser = portal.browser();
    let response = request_recovery(&portal, &browser, &typed).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mail = portal.smtp.wait_for(ALICE, before + 1).await;
    let letter = mail.last().unwrap();
    assert!(
        letter.subject.contains("Reset two-factor authentication"),
        "{}",
        letter.subject
    );
    assert!(letter.text.contains("10 minutes"));
    let link = letter
        .link(&portal.url("/recover/confirm?token="))
        .expect("the link");
    assert_eq!(token_of(&link).len(), 64, "256 bits in hex");
    let token = token_of(&link);
    let token_bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&token[at..at + 2], 16).unwrap())
        .collect();
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM email_tokens WHERE purpose = 'recovery'")
            .fetch_all(&portal.database().await)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0] != token_bytes && stored[0] != token.as_bytes(),
        "the token is kept only as its hash"
    );

    // Opening the link (as a mail scanner would) changes nothing.
    let page = portal.browser().get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("alice") && html.contains("Reset two-factor authentication"),
        "{html}"
    );
    assert_eq!(
        portal.overview(&owner).await.two_factor.state,
        TwoFactorState::On
    );

    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token_of(&link),
            },
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    // Signed out everywhere, and a notice was mailed.
    assert_eq!(
        portal.get_status(&owner, "/portal").await,
        StatusCode::SEE_OTHER
    );
    let mail = portal.smtp.wait_for(ALICE, before + 2).await;
    assert!(
        mail.last().unwrap().subject.contains("was reset"),
        "{:?}",
        mail.last().unwrap().subject
    );
    // The password alone signs in now.
    let fresh = portal.browser();
    let progress = portal
        .sign_in(&fresh, "alice", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(progress, "\"Password\"");
    assert_eq!(portal.get_status(&fresh, "/portal").await, StatusCode::OK);
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 0);
    assert_eq!(events_of_alice(&portal, "two_factor_reset").await, 1);
}

#[tokio::test]
async fn a_recovery_link_expires_after_ten_minutes() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
    let link = portal.smtp.wait_for(ALICE, 3).await;
    let link = link
        .last()
        .unwrap()
        .link(&portal.url("/recover/confirm?token="))
        .unwrap();
    portal.clock.advance(10 * 60);
    let page = portal
        .browser()
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("expired"), "{page}");
    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token_of(&link),
            },
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::FORBIDDEN);
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 1);
}

#[tokio::test]
async fn a_recovery_link_works_once_and_an_unknown_one_not_at_all() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
    portal.smtp.wait_for(ALICE, 3).await;
    let token = token_of(&recovery_links(&portal)[0]);
    assert_eq!(
        portal
            .call_status(
                &portal.browser(),
                ConfirmRecovery {
                    token: token.to_owned()
                }
            )
            .await,
        StatusCode::OK
    );
    let again = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token.to_owned(),
            },
        )
        .await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(again.text().await.unwrap().contains("LinkUsed"));
    let page = portal
        .browser()
        .get(portal.url("/recover/confirm?token=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("not valid"));
}

#[tokio::test]
async fn neither_the_password_nor_the_recovery_code_alone_resets_anything() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    // The recovery code without the password: no pending sign-in.
    let stranger = portal.browser();
    let response = portal
        .post_fn(
            &stranger,
            RequestRecovery {
                recovery_code: authenticator.recovery_code.clone(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The password with a wrong code.
    let response = request_recovery(&portal, &portal.browser(), "AAAA-BBBB-CCCC-DDDD").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(recovery_links(&portal).is_empty());
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 1);
}

#[tokio::test]
async fn wrong_recovery_codes_have_their_own_throttle() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    // Authentication codes locked: recovery stays open.
    portal.set_failures("alice", "totp", 100).await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    for _ in 0..5 {
        let wrong = portal
            .post_fn(
                &browser,
                RequestRecovery {
                    recovery_code: "AAAA-BBBB-CCCC-DDDD".to_owned(),
                },
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = portal
        .post_fn(
            &browser,
            RequestRecovery {
                recovery_code: authenticator.recovery_code.clone(),
            },
        )
        .await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    portal.clock.advance(1);
    let right = portal
        .post_fn(
            &browser,
            RequestRecovery {
                recovery_code: authenticator.recovery_code.clone(),
            },
        )
        .await;
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn at_most_three_recovery_emails_an_hour() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    for _ in 0..3 {
        let response =
            request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Past the link's life, so the next request may send a new one.
        portal.clock.advance(11 * 60);
    }
    assert_eq!(recovery_links(&portal).len(), 3);
    let refused = request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().await.unwrap().contains("TooManyEmails"));
    assert_eq!(recovery_links(&portal).len(), 3);
}

#[tokio::test]
async fn fifty_requests_with_one_recovery_code_at_once_send_one_email() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let form = RequestRecovery {
        recovery_code: authenticator.recovery_code.clone(),
    };
    let requests = (0..50).map(|_| portal.post_fn(&browser, form.clone()));
    let responses = futures::future::join_all(requests).await;
    assert!(
        responses
            .iter()
            .all(|response| response.status() == StatusCode::OK)
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(recovery_links(&portal).len(), 1);
    assert_eq!(
        count(
            &portal,
            "SELECT count(*) FROM email_tokens WHERE purpose = 'recovery'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn twenty_confirmations_of_one_link_at_once_reset_once() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
    portal.smtp.wait_for(ALICE, 3).await;
    let token = token_of(&recovery_links(&portal)[0]);
    let browser = portal.browser();
    let form = ConfirmRecovery { token };
    let confirmations = (0..20).map(|_| portal.post_fn(&browser, form.clone()));
    let responses = futures::future::join_all(confirmations).await;
    let succeeded = responses
        .iter()
        .filter(|response| response.status() == StatusCode::OK)
        .count();
    assert_eq!(succeeded, 1);
    assert_eq!(events_of_alice(&portal, "two_factor_reset").await, 1);
}

#[tokio::test]
async fn with_the_mail_server_down_recovery_says_so_and_loses_nothing() {
    let portal = TestPortal::builder().mail_down().start().await;
    let browser = portal.browser();
    // Sign-up still works; the verification email can be sent again later.
    assert_eq!(
        portal.sign_up(&browser, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let resend = portal.call_fn(&browser, ResendVerification {}).await;
    assert_eq!(resend, Err(AppError::MailNotSent));
    assert_eq!(count(&portal, "SELECT count(*) FROM email_tokens").await, 0);
    assert_eq!(count(&portal, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn with_the_mail_server_down_a_recovery_request_spends_nothing() {
    let portal = TestPortal::builder().mail_down().start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    // No mail arrives here, so the address is verified behind the scenes.
    sqlx::query("UPDATE users SET email_verified_at = 0")
        .execute(&portal.database().await)
        .await
        .unwrap();
    let authenticator = portal.enroll(&browser).await;

    let response = request_recovery(&portal, &portal.browser(), &authenticator.recovery_code).await;
    assert_eq!(answer::<()>(response).await, Err(AppError::MailNotSent));
    assert_eq!(
        count(
            &portal,
            "SELECT count(*) FROM email_tokens WHERE purpose = 'recovery'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&portal, "SELECT count(*) FROM failure_counters").await,
        0
    );
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 1);
    assert_eq!(events_of_alice(&portal, "recovery_requested").await, 0);
}

#[tokio::test]
async fn support_resets_two_factor_with_the_admin_command_and_a_reason() {
    let portal = TestPortal::start().await;
    let (owner, _) = portal.account_with_two_factor("alice").await;
    let run = |args: &[&str]| portal.admin(&args[1..]);
    let without_reason = run(&["admin", "reset-2fa", "alice"]);
    assert!(!without_reason.status.success());

    let reset = run(&[
        "admin",
        "reset-2fa",
        "alice",
        "--reason",
        "ticket 42: lost phone and code",
    ]);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 0);
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE kind = 'admin_reset'")
            .fetch_one(&portal.database().await)
            .await
            .unwrap();
    assert_eq!(detail, "by support-sam: ticket 42: lost phone and code");
    assert_eq!(
        portal.get_status(&owner, "/portal").await,
        StatusCode::SEE_OTHER,
        "signed out everywhere"
    );
    let mail = portal.smtp.wait_for(ALICE, 4).await;
    assert!(
        mail.iter()
            .any(|mail| mail.subject.contains("reset by support"))
    );

    let show = run(&["admin", "show", "alice"]);
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("two-factor:     off") && shown.contains("reset by support"),
        "{shown}"
    );
    let unknown = run(&["admin", "show", "nobody"]);
    assert!(!unknown.status.success());
}

/// Asks for a recovery link and returns its token.
async fn recovery_token(portal: &TestPortal, recovery_code: &str) -> String {
    let before = recovery_links(portal).len();
    let response = request_recovery(portal, &portal.browser(), recovery_code).await;
    assert_eq!(response.status(), StatusCode::OK);
    portal.smtp.wait_for(ALICE, 1).await;
    for _ in 0..100 {
        if recovery_links(portal).len() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    token_of(recovery_links(portal).last().expect("a recovery link"))
}

#[tokio::test]
async fn a_recovery_link_dies_when_the_factor_it_would_reset_changes() {
    let portal = TestPortal::start().await;
    let (owner, authenticator) = portal.account_with_two_factor("alice").await;
    let token = recovery_token(&portal, &authenticator.recovery_code).await;
    // Alarmed by the link mail, the owner makes a new recovery code.
    portal.clock.advance(30);
    let regenerated = portal
        .post_fn(
            &owner,
            RegenerateRecoveryCode {
                code: authenticator.code(&portal, 0),
            },
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token.to_owned(),
            },
        )
        .await;
    assert_ne!(
        confirmed.status(),
        StatusCode::OK,
        "the old link reset the new factor"
    );
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 1);

    // Support's reset withdraws a live link too.
    let new_code = portal
        .overview(&owner)
        .await
        .two_factor
        .recovery_code
        .unwrap();
    portal
        .post_fn(
            &owner,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await;
    portal.clock.advance(11 * 60);
    let token = recovery_token(&portal, &new_code).await;
    let reset = portal.admin(&["reset-2fa", "alice", "--reason", "ticket 7"]);
    assert!(reset.status.success());
    assert_eq!(
        count(
            &portal,
            "SELECT count(*) FROM email_tokens WHERE purpose = 'recovery' AND used_at IS NULL"
        )
        .await,
        0
    );
    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token.to_owned(),
            },
        )
        .await;
    assert_ne!(confirmed.status(), StatusCode::OK);
}

#[tokio::test]
async fn twenty_resends_at_once_send_at_most_three_verification_emails_an_hour() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.smtp.wait_for(ALICE, 1).await;
    let statuses = at_once(20, |_| {
        let (portal, browser) = (&portal, &browser);
        async move { portal.call_status(browser, ResendVerification {}).await }
    })
    .await;
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count(),
        2,
        "{statuses:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(portal.smtp.mail_to(ALICE).len(), 3);
    assert_eq!(
        count(
            &portal,
            "SELECT count(*) FROM email_tokens WHERE purpose = 'verify_email'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn adding_or_removing_an_authenticator_app_withdraws_a_live_recovery_link() {
    let portal = TestPortal::start().await;
    let (owner, authenticator) = portal.account_with_two_factor("alice").await;
    let token = recovery_token(&portal, &authenticator.recovery_code).await;
    crate::authenticator_apps::add_app(&portal, &owner, &authenticator, "Work phone").await;
    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token.to_owned(),
            },
        )
        .await;
    assert_ne!(
        confirmed.status(),
        StatusCode::OK,
        "a link asked for before an app was added reset the second factor"
    );

    let token = recovery_token(&portal, &authenticator.recovery_code).await;
    let apps = portal.overview(&owner).await.apps.apps;
    let added = apps.iter().find(|app| app.name == "Work phone").unwrap().id;
    portal
        .call_fn(
            &owner,
            RemoveAuthenticatorApp {
                id: added,
                code: authenticator.recovery_code.clone(),
            },
        )
        .await
        .expect("the app is removed");
    let confirmed = portal
        .post_fn(
            &portal.browser(),
            ConfirmRecovery {
                token: token.to_owned(),
            },
        )
        .await;
    assert_ne!(
        confirmed.status(),
        StatusCode::OK,
        "a link asked for before an app was removed reset the second factor"
    );
    assert_eq!(count(&portal, "SELECT count(*) FROM two_factor").await, 1);
}
