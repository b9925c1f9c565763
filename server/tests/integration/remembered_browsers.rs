//! "Remember this browser for 30 days": the second step skipped on that browser only, never the
//! password, revoked one by one and all at once when a factor or the password changes.

use app::account::login::Login;
use app::account::portal::Logout;
use app::account::sessions::SignOutOtherSessions;
use app::org::SetRememberedBrowsers;
use app::two_factor::manage::RegenerateRecoveryCode;
use app::{
    account::{change_password::ChangePassword, sessions::ForgetBrowser},
    error::AppError,
    two_factor::prompt::VerifySignInCode,
};
use reqwest::{Client, StatusCode};

use crate::common::{Authenticator, PASSWORD, TestPortal};
use crate::organizations::acme;

/// A minute later (a code not used before), the app's code now.
fn fresh_code(portal: &TestPortal, authenticator: &Authenticator) -> String {
    portal.clock.advance(60);
    authenticator.code(portal, 0)
}

/// Signs `browser` in with password and code, ticking "Remember this browser".
async fn sign_in_remembering(
    portal: &TestPortal,
    browser: &Client,
    username: &str,
    password: &str,
    authenticator: &Authenticator,
) {
    portal.sign_in(browser, username, password).await;
    portal
        .call_fn(
            browser,
            VerifySignInCode {
                code: fresh_code(portal, authenticator),
                next: String::new(),
                remember: Some("yes".into()),
            },
        )
        .await
        .expect("the code is right");
}

/// What signing in with the password alone reaches on `browser`: the portal, or the code step.
async fn password_reaches_portal(portal: &TestPortal, browser: &Client, username: &str) -> bool {
    let stage = portal
        .call_fn(
            browser,
            Login {
                username: username.into(),
                password: PASSWORD.into(),
                next: String::new(),
            },
        )
        .await
        .expect("the password is right");
    stage == app::account::login::LoginStage::Password
        && portal.get_status(browser, "/portal").await == StatusCode::OK
}

/// A browser that keeps its cookies across sign-outs (the remember cookie outlives the session).
async fn sign_out(portal: &TestPortal, browser: &Client) {
    portal.post_fn(browser, Logout {}).await;
}

#[tokio::test]
async fn a_remembered_browser_skips_the_second_step_there_only_and_never_the_password() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    sign_out(&portal, &alice).await;
    let remembered = portal.browser();
    sign_in_remembering(&portal, &remembered, "alice", PASSWORD, &authenticator).await;
    sign_out(&portal, &remembered).await;

    assert!(password_reaches_portal(&portal, &remembered, "alice").await);
    let other = portal.browser();
    assert!(
        !password_reaches_portal(&portal, &other, "alice").await,
        "another browser is asked"
    );
    let wrong = portal
        .sign_in(&remembered, "alice", "not the password")
        .await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "the password is still needed"
    );
    let events = portal.events(&remembered).await;
    assert!(
        events.iter().any(|event| event == "Signed in"),
        "{events:?}"
    );
    assert_eq!(
        portal.overview(&remembered).await.sessions.remembered.len(),
        1
    );

    // 30 days later it asks again.
    portal.clock.advance(30 * 24 * 60 * 60 + 1);
    sign_out(&portal, &remembered).await;
    assert!(!password_reaches_portal(&portal, &remembered, "alice").await);
}

#[tokio::test]
async fn remembered_browsers_are_forgotten_one_by_one_and_all_when_a_factor_or_the_password_changes()
 {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let first = portal.browser();
    sign_in_remembering(&portal, &first, "alice", PASSWORD, &authenticator).await;
    let second = portal.browser();
    sign_in_remembering(&portal, &second, "alice", PASSWORD, &authenticator).await;
    let listed = portal.overview(&alice).await.sessions.remembered;
    assert_eq!(listed.len(), 2);

    // One by one, from the security page, each confirmed with a code.
    let code = fresh_code(&portal, &authenticator);
    portal
        .call_fn(
            &alice,
            ForgetBrowser {
                id: listed[0].id,
                code,
            },
        )
        .await
        .expect("forgotten");
    assert_eq!(portal.overview(&alice).await.sessions.remembered.len(), 1);
    // Another account cannot forget it.
    let (bob, bobs_app) = portal.account_with_two_factor("bob").await;
    let code = bobs_app.recovery_code.clone();
    assert!(matches!(
        portal
            .call_fn(
                &bob,
                ForgetBrowser {
                    id: listed[1].id,
                    code
                }
            )
            .await,
        Err(AppError::NotFound { .. })
    ));

    // A new password forgets the rest.
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "plum tractor seventy".into(),
                code: fresh_code(&portal, &authenticator),
            },
        )
        .await
        .expect("changed");
    assert!(portal.overview(&alice).await.sessions.remembered.is_empty());

    // So does "Sign out of all other sessions", and a new recovery code.
    let new_password = "plum tractor seventy";
    for forget_all in ["sign_out_other_sessions", "regenerate_recovery_code"] {
        let browser = portal.browser();
        sign_in_remembering(&portal, &browser, "alice", new_password, &authenticator).await;
        assert_eq!(portal.overview(&alice).await.sessions.remembered.len(), 1);
        let code = fresh_code(&portal, &authenticator);
        let answer = if forget_all == "regenerate_recovery_code" {
            portal
                .post_fn(&alice, RegenerateRecoveryCode { code })
                .await
        } else {
            portal.post_fn(&alice, SignOutOtherSessions {}).await
        };
        assert_eq!(answer.status(), StatusCode::OK, "{forget_all}");
        assert!(
            portal.overview(&alice).await.sessions.remembered.is_empty(),
            "{forget_all} forgets remembered browsers"
        );
    }
}

#[tokio::test]
async fn an_organization_can_forbid_remembered_browsers_to_its_members() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let authenticator = portal.enroll(&bob).await;
    let remembered = portal.browser();
    sign_in_remembering(&portal, &remembered, "bob", PASSWORD, &authenticator).await;
    sign_out(&portal, &remembered).await;
    assert!(password_reaches_portal(&portal, &remembered, "bob").await);

    let forbid = portal
        .post_fn(
            &alice,
            SetRememberedBrowsers {
                slug: "acme".to_owned(),
                allowed: None,
            },
        )
        .await;
    assert_eq!(forbid.status(), StatusCode::OK);
    sign_out(&portal, &remembered).await;
    assert!(
        !password_reaches_portal(&portal, &remembered, "bob").await,
        "forbidden: asked again"
    );
    // Members cannot change it.
    let by_member = portal
        .post_fn(
            &bob,
            SetRememberedBrowsers {
                slug: "acme".to_owned(),
                allowed: Some("yes".to_owned()),
            },
        )
        .await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);
}
