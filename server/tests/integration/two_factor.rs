//! Two-factor authentication against the real server: enrollment, the code step of sign-in,
//! replay, throttling, disabling and a new recovery code.

use app::account::CurrentUser;
use app::account::login::{LoginStage, SignInState};
use app::account::sessions::ConfirmPassword;
use app::error::AppError;
use app::settings::LoadSecurityOverview;
use app::two_factor::enroll::{SaveRecoveryCode, StartEnrollment};
use app::two_factor::manage::RegenerateRecoveryCode;
use app::two_factor::{TwoFactorState, enroll::ConfirmEnrollment, manage::DisableTwoFactor};

use crate::common::{PASSWORD, TestPortal, answer, at_once};
use reqwest::StatusCode;

async fn stage(portal: &TestPortal, browser: &reqwest::Client) -> LoginStage {
    portal
        .call_fn(browser, SignInState {})
        .await
        .expect("the sign-in stage")
        .stage
}

#[tokio::test]
async fn two_factor_is_on_only_once_the_wizard_is_finished() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.post_fn(&browser, StartEnrollment {}).await;
    let TwoFactorState::Scanning { qr_svg, .. } = portal.overview(&browser).await.two_factor.state
    else {
        panic!("the wizard shows the QR code");
    };
    assert!(qr_svg.starts_with("<svg"), "{qr_svg}");

    // Abandoned at step 1: a new sign-in asks for no code.
    let other = portal.browser();
    let response = portal.sign_in(&other, "alice", PASSWORD).await;
    assert_eq!(answer(response).await, Ok(LoginStage::Password));

    let authenticator = portal.enroll(&browser).await;
    assert_eq!(authenticator.recovery_code.len(), 19);
    assert_eq!(
        portal.overview(&browser).await.two_factor.state,
        TwoFactorState::On
    );
    let response = portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    assert_eq!(answer(response).await, Ok(LoginStage::SecondFactor));
}

#[tokio::test]
async fn starting_again_issues_a_new_secret() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.post_fn(&browser, StartEnrollment {}).await;
    let first = portal.shown_key(&browser).await.unwrap();
    portal.post_fn(&browser, StartEnrollment {}).await;
    let second = portal.shown_key(&browser).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(first.replace(' ', "").len(), 32, "160 bits in base32");
}

#[tokio::test]
async fn a_wrong_enrollment_code_stays_on_the_scan_step() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.post_fn(&browser, StartEnrollment {}).await;
    let response = portal
        .call_fn(
            &browser,
            ConfirmEnrollment {
                code: "000000".to_owned(),
            },
        )
        .await;
    assert_eq!(response, Err(AppError::InvalidCode));
    assert!(portal.shown_key(&browser).await.is_some());
}

#[tokio::test]
async fn continue_is_refused_until_the_box_is_ticked() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.post_fn(&browser, StartEnrollment {}).await;
    let key = portal.shown_key(&browser).await.unwrap().replace(' ', "");
    let code = crate::common::code_for_key(&portal, &key);
    portal
        .post_fn(
            &browser,
            ConfirmEnrollment {
                code: code.to_owned(),
            },
        )
        .await;
    let refused = portal
        .post_fn(&browser, SaveRecoveryCode { saved: None })
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        portal.overview(&browser).await.two_factor.state,
        TwoFactorState::SavingRecoveryCode
    );
}

#[tokio::test]
async fn enrolling_then_signing_in_asks_for_a_code_and_accepts_the_right_one() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    let password_step = portal.sign_in(&browser, "alice", PASSWORD).await;
    let pending_cookie = password_step
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(stage(&portal, &browser).await, LoginStage::SecondFactor);

    let response = portal
        .verify_code(&browser, &authenticator.code(&portal, 1))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed_in_cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        pending_cookie.split(';').next(),
        signed_in_cookie.split(';').next(),
        "the session id is renewed when the second factor is accepted"
    );
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);
}

#[tokio::test]
async fn codes_are_accepted_with_spaces_or_a_dash() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let code = authenticator.code(&portal, 1);
    let typed = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(
        portal.verify_code(&browser, &typed).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_alone_reaches_nothing_but_the_code_step() {
    let portal = TestPortal::start().await;
    portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let page = portal.get(&browser, "/portal").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal.get_status(&browser, "/settings/security").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(portal.call_text(&browser, CurrentUser {}).await, "null");
    assert_eq!(
        portal.call_status(&browser, LoadSecurityOverview {}).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        portal.call_status(&browser, StartEnrollment {}).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_pending_sign_in_expires_after_five_minutes() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    portal.clock.advance(5 * 60);
    let response = portal
        .verify_code(&browser, &authenticator.code(&portal, 0))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(stage(&portal, &browser).await, LoginStage::Password);
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_shown_to_the_account() {
    let portal = TestPortal::start().await;
    let (owner, authenticator) = portal.account_with_two_factor("alice").await;
    let code = authenticator.code(&portal, 1);
    let first = portal.browser();
    portal.sign_in(&first, "alice", PASSWORD).await;
    assert_eq!(
        portal.verify_code(&first, &code).await.status(),
        StatusCode::OK
    );

    let second = portal.browser();
    portal.sign_in(&second, "alice", PASSWORD).await;
    let replay = portal.verify_code(&second, &code).await;
    assert_eq!(answer::<()>(replay).await, Err(AppError::CodeReplayed));

    let events = portal.events(&owner).await;
    assert!(
        events
            .iter()
            .any(|event| event.contains("used a second time")),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_code_that_confirmed_enrollment_is_spent() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let response = portal
        .verify_code(&browser, &authenticator.code(&portal, 0))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_code_is_refused() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let right = authenticator.code(&portal, 1);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let response = portal.verify_code(&browser, &wrong).await;
    assert_eq!(answer::<()>(response).await, Err(AppError::InvalidCode));
    assert_eq!(
        portal.get_status(&browser, "/portal").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn one_code_sent_by_many_requests_at_once_signs_in_once() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let code = authenticator.code(&portal, 1);
    let mut browsers = Vec::new();
    for _ in 0..8 {
        let browser = portal.browser();
        portal.sign_in(&browser, "alice", PASSWORD).await;
        browsers.push(browser);
    }
    let attempts = browsers
        .iter()
        .map(|browser| portal.verify_code(browser, &code));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn guessing_is_throttled_after_five_failures_and_the_throttle_survives_a_restart() {
    let portal = TestPortal::start().await;
    portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(
            portal.verify_code(&browser, "000000").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Each further failure doubles the wait: 1, 2, 4, 8 seconds.
    for wait in [1, 2, 4, 8] {
        assert_eq!(
            portal.verify_code(&browser, "000000").await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        portal.clock.advance(wait);
        assert_eq!(
            portal.verify_code(&browser, "000000").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = portal.verify_code(&browser, "000000").await;
    let error = answer::<()>(throttled).await.unwrap_err();
    assert!(
        matches!(error, AppError::TryAgainIn { seconds: 1.. }),
        "{error:?}"
    );

    let portal = portal.restart().await;
    let again = portal.verify_code(&browser, "000000").await;
    assert_eq!(
        again.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_hundred_failures_lock_authentication_codes() {
    let portal = TestPortal::start().await;
    let (owner, authenticator) = portal.account_with_two_factor("alice").await;
    portal.set_failures("alice", "totp", 99).await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    assert_eq!(
        portal.verify_code(&browser, "000000").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let locked = portal
        .verify_code(&browser, &authenticator.code(&portal, 1))
        .await;
    assert_eq!(answer::<()>(locked).await, Err(AppError::FactorLocked));
    let events = portal.events(&owner).await;
    assert!(
        events.iter().any(|event| event.contains("locked")),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_stored_secret_is_sealed_and_the_recovery_code_hashed() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let database = portal.database().await;
    let (sealed, hash): (Vec<u8>, String) =
        sqlx::query_as("SELECT a.secret_sealed, t.recovery_code_hash FROM two_factor t JOIN authenticator_apps a USING (user_id)")
            .fetch_one(&database)
            .await
            .unwrap();
    let base32 = totp_rs::Secret::from(authenticator.secret.clone()).to_base32();
    assert!(
        !sealed
            .windows(authenticator.secret.len())
            .any(|w| w == authenticator.secret.as_slice())
    );
    assert!(!sealed.windows(16).any(|w| w == &base32.as_bytes()[..16]));
    assert!(sealed.len() >= 20 + 12 + 16, "nonce, ciphertext and tag");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&authenticator.recovery_code.replace('-', "")));
    let reveals: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_code_reveals")
        .fetch_one(&database)
        .await
        .unwrap();
    assert_eq!(reveals, 0, "the shown recovery code is not kept once saved");
}

#[cfg(unix)]
#[tokio::test]
async fn the_key_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let portal = TestPortal::start().await;
    let mode = std::fs::metadata(portal.data_dir().join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn disabling_needs_a_right_code_then_removes_the_factor() {
    let portal = TestPortal::start().await;
    let (browser, authenticator) = portal.account_with_two_factor("alice").await;
    let refused = portal
        .call_fn(
            &browser,
            DisableTwoFactor {
                code: "000000".to_owned(),
            },
        )
        .await;
    assert_eq!(refused, Err(AppError::InvalidCode));
    assert_eq!(
        portal.overview(&browser).await.two_factor.state,
        TwoFactorState::On
    );

    let response = portal
        .post_fn(
            &browser,
            DisableTwoFactor {
                code: authenticator.code(&portal, 1),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        portal.overview(&browser).await.two_factor.state,
        TwoFactorState::Off
    );
    let database = portal.database().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM two_factor")
        .fetch_one(&database)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let response = portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    assert_eq!(answer(response).await, Ok(LoginStage::Password));
}

#[tokio::test]
async fn a_new_recovery_code_replaces_the_old_one() {
    let portal = TestPortal::start().await;
    let (browser, authenticator) = portal.account_with_two_factor("alice").await;
    let database = portal.database().await;
    let old_hash: String = sqlx::query_scalar("SELECT recovery_code_hash FROM two_factor")
        .fetch_one(&database)
        .await
        .unwrap();

    let response = portal
        .post_fn(
            &browser,
            RegenerateRecoveryCode {
                code: authenticator.code(&portal, 1),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let overview = portal.overview(&browser).await;
    let new_code = overview.two_factor.recovery_code.as_deref().unwrap();
    assert_ne!(new_code, authenticator.recovery_code);
    let new_hash: String = sqlx::query_scalar("SELECT recovery_code_hash FROM two_factor")
        .fetch_one(&database)
        .await
        .unwrap();
    assert_ne!(old_hash, new_hash);

    let download = portal
        .get(&browser, "/settings/security/recovery-code.txt")
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert!(download.text().await.unwrap().contains(new_code));

    portal
        .post_fn(
            &browser,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await;
    assert_eq!(
        portal.overview(&browser).await.two_factor.recovery_code,
        None
    );
    assert_eq!(
        portal
            .get_status(&browser, "/settings/security/recovery-code.txt")
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn each_sign_in_is_recorded_with_how_it_was_made_and_a_new_account_is_not() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let plain = portal.browser();
    portal.sign_up(&plain, "bob", PASSWORD).await;
    portal.sign_in(&portal.browser(), "bob", PASSWORD).await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    assert_eq!(
        portal
            .verify_code(&browser, &authenticator.code(&portal, 1))
            .await
            .status(),
        StatusCode::OK
    );

    let signed_in: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT u.username, e.detail, e.address FROM audit_events e \
         JOIN users u ON u.id = e.user_id WHERE e.kind = 'signed_in' ORDER BY e.id",
    )
    .fetch_all(&portal.database().await)
    .await
    .unwrap();
    assert_eq!(
        signed_in,
        vec![
            (
                "bob".to_owned(),
                Some("password".to_owned()),
                Some("127.0.0.1".to_owned())
            ),
            (
                "alice".to_owned(),
                Some("password and authentication code".to_owned()),
                Some("127.0.0.1".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn an_enrollment_shows_its_secret_and_recovery_code_only_to_the_sign_in_that_started_it() {
    let portal = TestPortal::start().await;
    let laptop = portal.browser();
    portal.sign_up(&laptop, "alice", PASSWORD).await;
    portal.verify_email(&laptop, "alice").await;
    // Another session of the account: a stolen cookie, or a stale tab.
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;

    assert_eq!(
        portal.call_status(&laptop, StartEnrollment {}).await,
        StatusCode::OK
    );
    let key = portal
        .shown_key(&laptop)
        .await
        .expect("the wizard shows the key to its own sign-in");
    let seen = portal.call_text(&other, LoadSecurityOverview {}).await;
    assert!(
        !seen.contains(&key),
        "another session reads the new key: {seen}"
    );
    let confirm = portal
        .post_fn(
            &other,
            ConfirmEnrollment {
                code: "000000".to_owned(),
            },
        )
        .await;
    assert_ne!(confirm.status(), StatusCode::OK);

    let code = crate::common::code_for_key(&portal, &key);
    assert_eq!(
        portal
            .call_status(
                &laptop,
                ConfirmEnrollment {
                    code: code.to_owned()
                }
            )
            .await,
        StatusCode::OK
    );
    let recovery_code = portal
        .overview(&laptop)
        .await
        .two_factor
        .recovery_code
        .unwrap();
    let seen = portal.call_text(&other, LoadSecurityOverview {}).await;
    assert!(
        !seen.contains(&recovery_code),
        "another session reads the recovery code"
    );
    let download = portal
        .get(&other, "/settings/security/recovery-code.txt")
        .await;
    assert_ne!(download.status(), StatusCode::OK);
    assert!(!download.text().await.unwrap().contains(&recovery_code));
    let save = portal
        .post_fn(
            &other,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await;
    assert_ne!(
        save.status(),
        StatusCode::OK,
        "another session cannot finish the wizard"
    );

    // Turning two-factor authentication on signs out every other session.
    portal
        .post_fn(
            &laptop,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await;
    assert_eq!(
        portal.overview(&laptop).await.two_factor.state,
        TwoFactorState::On
    );
    assert_eq!(
        portal.get_status(&other, "/portal").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(portal.get_status(&laptop, "/portal").await, StatusCode::OK);
}

#[tokio::test]
async fn an_enrollment_secret_is_shown_only_while_the_password_is_recent() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.clock.advance(14 * 60);
    portal.post_fn(&browser, StartEnrollment {}).await;
    assert!(portal.shown_key(&browser).await.is_some());
    portal.clock.advance(2 * 60);
    let overview = portal.overview(&browser).await;
    assert!(
        !matches!(overview.two_factor.state, TwoFactorState::Scanning { .. }),
        "the key is served on a sign-in whose password is 16 minutes old: {overview:?}"
    );
    assert!(!overview.two_factor.password_recent);
    portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert!(portal.shown_key(&browser).await.is_some());
}

#[tokio::test]
async fn an_unsaved_recovery_code_is_not_kept_past_its_reveal_window() {
    let portal = TestPortal::start().await;
    let (browser, authenticator) = portal.account_with_two_factor("alice").await;
    portal.clock.advance(30);
    let regenerated = portal
        .post_fn(
            &browser,
            RegenerateRecoveryCode {
                code: authenticator.code(&portal, 0),
            },
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    async fn reveals(portal: &TestPortal) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM recovery_code_reveals")
            .fetch_one(&portal.database().await)
            .await
            .unwrap()
    }
    assert_eq!(reveals(&portal).await, 1);
    // The owner closes the tab without ticking "saved".
    portal.clock.advance(16 * 60);
    let portal = portal.restart().await;
    assert_eq!(
        reveals(&portal).await,
        0,
        "the sealed recovery code outlives its window"
    );
}

#[tokio::test]
async fn thirty_wrong_codes_at_once_are_not_all_checked() {
    let portal = TestPortal::start().await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let right = authenticator.code(&portal, 0);
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let statuses = at_once(30, |_| {
        let (portal, browser, wrong) = (&portal, &browser, &wrong);
        async move { portal.verify_code(browser, wrong).await.status() }
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 6, "{checked} of 30 were checked: {statuses:?}");
}
