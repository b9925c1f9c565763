//! How the person signs in on the way: nobody signed in and `prompt=none`, a new sign-in asked
//! for (`prompt=login`, `max_age=0`), a second factor before any code, what `amr` says of it,
//! and an app that requires a second factor of everyone.

use app::security_keys::sign_in::{FinishKeySignIn, FinishPasskeySignIn};
use app::two_factor::{
    TwoFactorState,
    enroll::{ConfirmEnrollment, SaveRecoveryCode, StartEnrollment},
};
use reqwest::StatusCode;

use super::{App, Step, code_then, follow, param, person, sign_in_then, sign_in_to};
use crate::common::{PASSWORD, TestPortal, code_for_key};
use crate::security_keys::{add_key, key_answer, passkey_answer, soft_key};

async fn codes_issued(portal: &TestPortal) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM oidc_codes")
        .fetch_one(&portal.database().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn prompt_none_without_a_sign_in_goes_back_with_login_required() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let started = app.start(&[], &[("prompt", "none")]);
    let back = follow(&portal, &portal.browser(), &started.url).await.app();
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&back, "code"), None);
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.as_str())
    );
    // Signed in, the same request gets a code without a page.
    let alice = person(&portal, "alice").await;
    let back = follow(&portal, &alice, &started.url).await.app();
    assert!(param(&back, "code").is_some(), "{back}");
}

/// `extra` makes the app ask for a sign-in made now: the password is asked again although the
/// browser is signed in, and `auth_time` moves to the new sign-in.
async fn a_new_sign_in_is_asked_for(extra: (&str, &str)) {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, nonce) = sign_in_to(&portal, &app, &alice, "alice", &[], &[]).await;
    let first = app.verify(&tokens, &nonce).auth_time().expect("auth_time");

    portal.clock.advance(120);
    let started = app.start(&[], &[extra]);
    let next = follow(&portal, &alice, &started.url).await.next();
    assert!(next.starts_with("/oauth2/continue?request="), "{next}");
    // Going on without signing in again does not give a code either.
    assert!(matches!(
        follow(&portal, &alice, &portal.url(&next)).await,
        Step::SignIn { .. }
    ));
    let back = sign_in_then(&portal, &alice, "alice", &next).await.app();
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    let second = app.verify(&tokens, &started.nonce).auth_time().unwrap();
    assert!(
        second.timestamp() >= first.timestamp() + 120,
        "{first} then {second}"
    );
}

#[tokio::test]
async fn prompt_login_asks_for_the_password_again_and_moves_auth_time() {
    a_new_sign_in_is_asked_for(("prompt", "login")).await;
}

#[tokio::test]
async fn max_age_zero_asks_for_the_password_again_and_moves_auth_time() {
    a_new_sign_in_is_asked_for(("max_age", "0")).await;
}

#[tokio::test]
async fn prompt_login_right_after_signing_in_still_asks_for_the_password() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    // Signed in, and the app asks within the same second.
    let alice = person(&portal, "alice").await;
    let started = app.start(&[], &[("prompt", "login")]);
    let step = follow(&portal, &alice, &started.url).await;
    assert!(matches!(step, Step::SignIn { .. }), "{step:?}");
}

#[tokio::test]
async fn a_two_factor_account_gets_no_code_with_the_password_alone() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    let started = app.start(&[], &[]);
    let next = follow(&portal, &browser, &started.url).await.next();
    // The password: the code step comes next, and the request waits.
    let login = portal
        .post_fn(
            &browser,
            app::account::login::Login {
                username: "alice".into(),
                password: PASSWORD.into(),
                next: next.clone(),
            },
        )
        .await;
    let stage: app::account::login::LoginStage = crate::common::answer(login).await.unwrap();
    assert_eq!(stage, app::account::login::LoginStage::SecondFactor);
    let step = follow(&portal, &browser, &portal.url(&next)).await;
    assert!(matches!(step, Step::SignIn { .. }), "{step:?}");
    assert_eq!(codes_issued(&portal).await, 0);

    let back = code_then(&portal, &browser, &authenticator, &next)
        .await
        .app();
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    let claims = app.verify(&tokens, &started.nonce);
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|method| method.to_string())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn amr_names_a_security_key_and_a_passkey() {
    let portal = TestPortal::builder().localhost().start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "Key")
        .await
        .unwrap();
    let amr_of = |tokens: &openidconnect::core::CoreTokenResponse| {
        use openidconnect::TokenResponse;
        super::jwt_part(&tokens.id_token().unwrap().to_string(), 1)["amr"].clone()
    };

    // The password, then the key.
    let (browser, credential) = key_answer(&portal, "alice", &mut key).await;
    let started = app.start(&[], &[]);
    let next = follow(&portal, &browser, &started.url).await.next();
    portal
        .call_fn(
            &browser,
            FinishKeySignIn {
                credential,
                remember: None,
                next: next.clone(),
            },
        )
        .await
        .expect("the key signs in");
    let back = follow(&portal, &browser, &portal.url(&next)).await.app();
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    app.verify(&tokens, &started.nonce);
    assert_eq!(amr_of(&tokens), serde_json::json!(["pwd", "hwk", "mfa"]));

    // A passkey alone.
    let (browser, answer) = passkey_answer(&portal, &mut key).await;
    let started = app.start(&[], &[]);
    let next = follow(&portal, &browser, &started.url).await.next();
    portal
        .call_fn(
            &browser,
            FinishPasskeySignIn {
                credential: serde_json::to_string(&answer).unwrap(),
                next: next.clone(),
            },
        )
        .await
        .expect("the passkey signs in");
    let back = follow(&portal, &browser, &portal.url(&next)).await.app();
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    app.verify(&tokens, &started.nonce);
    assert_eq!(amr_of(&tokens), serde_json::json!(["hwk", "user", "mfa"]));
}

#[tokio::test]
async fn an_app_requiring_two_factor_sends_a_person_without_it_through_the_wizard_and_back() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party", "--require-two-factor"]).await;
    let carol = crate::organizations::account(&portal, "carol").await;
    let started = app.start(&[], &[]);
    let step = follow(&portal, &carol, &started.url).await;
    let Step::Page { status, url, .. } = step else {
        panic!("expected the security page, the browser is at {step:?}");
    };
    assert_eq!(status, StatusCode::OK);
    assert!(url.ends_with("/settings/security"), "{url}");
    assert_eq!(codes_issued(&portal).await, 0);

    // The wizard, done: its last step sends the browser back to the app's request.
    app_wizard(&portal, &carol).await;
    let answer = portal
        .post_fn(
            &carol,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await;
    let next = crate::common::location(&answer)
        .expect("a redirect")
        .to_owned();
    assert!(next.starts_with("/oauth2/continue?request="), "{next}");
    let back = follow(&portal, &carol, &portal.url(&next)).await.app();
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    let amr = super::jwt_part(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
        1,
    )["amr"]
        .clone();
    assert_eq!(amr, serde_json::json!(["pwd", "otp", "mfa"]));
}

/// The wizard's first two steps: the key shown, the first code confirmed.
async fn app_wizard(portal: &TestPortal, browser: &reqwest::Client) {
    portal
        .call_fn(browser, StartEnrollment {})
        .await
        .expect("the wizard starts");
    let TwoFactorState::Scanning { key, .. } = portal.overview(browser).await.two_factor.state
    else {
        panic!("the wizard shows the key");
    };
    portal
        .call_fn(
            browser,
            ConfirmEnrollment {
                code: code_for_key(portal, &key),
            },
        )
        .await
        .expect("the first code confirms the wizard");
}
