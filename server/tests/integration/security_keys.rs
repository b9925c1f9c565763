//! Security keys and passkeys against the real server, with webauthn-rs' software authenticator
//! playing the browser and the key.

use app::{
    error::{AppError, Missing},
    security_keys::{
        manage::{FinishKeyRegistration, RemoveSecurityKey, StartKeyRegistration},
        sign_in::{FinishKeySignIn, FinishPasskeySignIn, StartKeySignIn, StartPasskeySignIn},
    },
    two_factor::manage::DisableTwoFactor,
};
use reqwest::{Client, StatusCode};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

use crate::common::{Authenticator, PASSWORD, TestPortal, answer, at_once, second_browser};

pub(crate) fn origin(portal: &TestPortal) -> url::Url {
    url::Url::parse(&portal.base).unwrap()
}

/// Adds a key named `name` to the signed-in account of `browser`, made by `key`, confirmed with
/// a fresh code of `authenticator`.
pub(crate) async fn add_key(
    portal: &TestPortal,
    browser: &Client,
    authenticator: &Authenticator,
    key: &mut SoftPasskey,
    name: &str,
) -> Result<(), AppError> {
    portal.clock.advance(60);
    let code = authenticator.code(portal, 0);
    let options = portal
        .call_fn(
            browser,
            StartKeyRegistration {
                name: name.into(),
                code,
            },
        )
        .await?;
    let options: CreationChallengeResponse = serde_json::from_str(&options).unwrap();
    let answer = key
        .do_registration(origin(portal), options)
        .expect("the key registers");
    portal
        .call_fn(
            browser,
            FinishKeyRegistration {
                credential: serde_json::to_string(&answer).unwrap(),
            },
        )
        .await
}

/// A fresh browser that has passed the password of `username`, and the key's answer to the
/// second step's challenge.
pub(crate) async fn key_answer(
    portal: &TestPortal,
    username: &str,
    key: &mut SoftPasskey,
) -> (Client, String) {
    let browser = portal.browser();
    portal.sign_in(&browser, username, PASSWORD).await;
    let options = portal
        .call_fn(&browser, StartKeySignIn {})
        .await
        .expect("a challenge");
    let options: RequestChallengeResponse = serde_json::from_str(&options).unwrap();
    let answer = key
        .do_authentication(origin(portal), options)
        .expect("the key answers");
    (browser, serde_json::to_string(&answer).unwrap())
}

/// Sends the key's answer to the second step waiting in `browser`.
async fn finish_key_sign_in(
    portal: &TestPortal,
    browser: &Client,
    credential: String,
) -> Result<(), AppError> {
    portal
        .call_fn(
            browser,
            FinishKeySignIn {
                credential,
                remember: None,
                next: String::new(),
            },
        )
        .await
        .map(drop)
}

pub(crate) fn soft_key() -> SoftPasskey {
    // `true`: the soft key claims user verification, as a key with a PIN would.
    SoftPasskey::new(true)
}

async fn signed_in(portal: &TestPortal, browser: &Client) -> bool {
    portal.get_status(browser, "/portal").await == StatusCode::OK
}

#[tokio::test]
async fn a_key_added_beside_the_app_finishes_sign_in_and_its_answer_works_once() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    // A session alone does not add a key: the second factor is asked first.
    let without_code = portal
        .call_fn(
            &alice,
            StartKeyRegistration {
                name: "YubiKey".into(),
                code: String::new(),
            },
        )
        .await;
    assert!(
        matches!(&without_code, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without_code:?}"
    );
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .expect("the key is added");
    let overview = portal.overview(&alice).await;
    assert_eq!(overview.keys.keys.len(), 1);
    assert_eq!(overview.keys.keys[0].name, "YubiKey");
    assert_eq!(overview.keys.keys[0].last_used, None);
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Security key or passkey added".to_owned())
    );
    let mail = portal.smtp.wait_for("alice@example.com", 4).await;
    assert!(
        mail.iter()
            .any(|mail| mail.subject.contains("security key or passkey was added"))
    );

    let (browser, answer) = key_answer(&portal, "alice", &mut key).await;
    assert!(
        !signed_in(&portal, &browser).await,
        "the password alone is not enough"
    );
    finish_key_sign_in(&portal, &browser, answer.clone())
        .await
        .expect("password and key sign in");
    assert!(signed_in(&portal, &browser).await);
    assert!(
        portal.overview(&browser).await.keys.keys[0]
            .last_used
            .is_some()
    );

    // The same answer again, in another sign-in waiting for its second step: refused.
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    portal.call_fn(&other, StartKeySignIn {}).await.unwrap();
    assert_eq!(
        finish_key_sign_in(&portal, &other, answer).await,
        Err(AppError::KeyNotAccepted)
    );
    assert!(!signed_in(&portal, &other).await);
}

#[tokio::test]
async fn another_accounts_key_does_not_finish_a_sign_in() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, alices_app) = portal.account_with_two_factor("alice").await;
    let (bob, bobs_app) = portal.account_with_two_factor("bob").await;
    let mut alices_key = soft_key();
    let mut bobs_key = soft_key();
    add_key(&portal, &alice, &alices_app, &mut alices_key, "Alice's key")
        .await
        .unwrap();
    add_key(&portal, &bob, &bobs_app, &mut bobs_key, "Bob's key")
        .await
        .unwrap();
    // Bob's key answers Alice's challenge: it holds none of her credentials.
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let options = portal.call_fn(&browser, StartKeySignIn {}).await.unwrap();
    let options: RequestChallengeResponse = serde_json::from_str(&options).unwrap();
    assert!(
        bobs_key
            .do_authentication(origin(&portal), options)
            .is_err()
    );
    // Bob cannot remove Alice's key either.
    let alices = portal.overview(&alice).await.keys.keys[0].id;
    let code = bobs_app.recovery_code.clone();
    assert_eq!(
        portal
            .call_fn(&bob, RemoveSecurityKey { id: alices, code })
            .await,
        Err(AppError::NotFound {
            what: Missing::SecurityKey
        })
    );
}

#[tokio::test]
async fn keys_need_the_app_first_and_go_when_two_factor_is_reset() {
    let portal = TestPortal::builder().localhost().start().await;
    let carol = portal.browser();
    portal.sign_up(&carol, "carol", PASSWORD).await;
    assert_eq!(
        portal
            .call_fn(
                &carol,
                StartKeyRegistration {
                    name: "Key".into(),
                    code: "123456".into()
                }
            )
            .await,
        Err(AppError::KeysNeedTwoFactor)
    );

    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    let unnamed = portal
        .call_fn(
            &alice,
            StartKeyRegistration {
                name: "  ".into(),
                code: String::new(),
            },
        )
        .await;
    assert!(matches!(unnamed, Err(AppError::Validation { field, .. }) if field == "name"));
    add_key(&portal, &alice, &authenticator, &mut key, "Phone")
        .await
        .unwrap();
    let output = portal.admin(&["reset-2fa", "alice", "--reason", "lost everything"]);
    assert!(output.status.success(), "{output:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM security_keys")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(rows, 0, "a reset removes every key");
}

#[tokio::test]
async fn removing_a_key_is_audited_and_it_no_longer_signs_in() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    let id = portal.overview(&alice).await.keys.keys[0].id;
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    portal.clock.advance(60);
    portal
        .verify_code(&other, &authenticator.code(&portal, 0))
        .await;
    assert!(signed_in(&portal, &other).await);
    portal.clock.advance(60);
    let code = authenticator.code(&portal, 0);
    portal
        .call_fn(&alice, RemoveSecurityKey { id, code })
        .await
        .expect("removed");
    assert!(portal.overview(&alice).await.keys.keys.is_empty());
    assert!(
        !signed_in(&portal, &other).await,
        "a factor removed ends the other sessions"
    );
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Security key or passkey removed".to_owned())
    );
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    assert_eq!(
        portal.call_fn(&browser, StartKeySignIn {}).await,
        Err(AppError::KeyNotAccepted)
    );
}

#[tokio::test]
async fn one_answer_sent_many_times_at_once_in_one_session_signs_in_once() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    let (browser, answer) = key_answer(&portal, "alice", &mut key).await;
    let answers = at_once(8, |_| finish_key_sign_in(&portal, &browser, answer.clone())).await;
    let accepted = answers.iter().filter(|answer| answer.is_ok()).count();
    assert_eq!(accepted, 1, "{answers:?}");
    assert!(
        answers.iter().all(|answer| matches!(
            answer,
            Ok(()) | Err(AppError::KeyNotAccepted | AppError::SignInExpired)
        )),
        "{answers:?}"
    );
}

#[tokio::test]
async fn a_keys_stored_counter_only_rises_when_its_answers_arrive_at_once() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    // Seven sign-ins waiting for the key; it answers each in turn, so their counters are 1 to 7.
    let mut waiting = Vec::new();
    for _ in 0..7 {
        waiting.push(key_answer(&portal, "alice", &mut key).await);
    }
    // The first answer is held back; the six others arrive at once.
    let (late, late_answer) = waiting.remove(0);
    let answers = at_once(waiting.len(), |index| {
        let (browser, answer) = &waiting[index];
        finish_key_sign_in(&portal, browser, answer.clone())
    })
    .await;
    assert!(answers[5].is_ok(), "the highest counter always counts");
    let (passkey, column): (String, i64) =
        sqlx::query_as("SELECT passkey, sign_count FROM security_keys")
            .fetch_one(&portal.database().await)
            .await
            .unwrap();
    let passkey: serde_json::Value = serde_json::from_str(&passkey).unwrap();
    let kept = passkey["cred"]["counter"].as_i64().unwrap();
    assert_eq!(
        (kept, column),
        (7, 7),
        "the last write was the highest counter: {answers:?}"
    );
    // An answer whose counter is below the stored one (as a clone of the key sends) is refused.
    let replay = finish_key_sign_in(&portal, &late, late_answer).await;
    assert_eq!(replay, Err(AppError::KeyNotAccepted));
}

/// Review M3: a session without a second factor (a browser signed in with password and code
/// minutes ago, or one signed in with the password alone where a browser was remembered) tries
/// to remove Alice's key. No code, or a wrong one, removes nothing and signs nobody out; the
/// code then does.
async fn removing_a_key_asks_for_a_code(remembered: bool) {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    let id = portal.overview(&alice).await.keys.keys[0].id.to_string();
    let other = second_browser(&portal, "alice", &authenticator, remembered).await;

    let without_code = answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveSecurityKey {
                    id: id.parse().unwrap(),
                    code: String::new(),
                },
            )
            .await,
    )
    .await;
    assert!(
        matches!(&without_code, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without_code:?}"
    );
    let wrong_code = authenticator.code(&portal, 10);
    let wrong = answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveSecurityKey {
                    id: id.parse().unwrap(),
                    code: wrong_code.clone(),
                },
            )
            .await,
    )
    .await;
    assert_eq!(wrong.as_ref().err().and_then(AppError::field), Some("code"));
    assert_eq!(
        portal.overview(&alice).await.keys.keys.len(),
        1,
        "nothing removed"
    );
    assert!(
        signed_in(&portal, &alice).await,
        "the owner stays signed in"
    );
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Incorrect authentication code entered".to_owned()),
        "the wrong code counts as any wrong code does"
    );

    portal.clock.advance(60);
    let code = authenticator.code(&portal, 0);
    answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveSecurityKey {
                    id: id.parse().unwrap(),
                    code: code.clone(),
                },
            )
            .await,
    )
    .await
    .expect("the code removes it");
    assert!(portal.overview(&other).await.keys.keys.is_empty());
}

#[tokio::test]
async fn a_browser_signed_in_with_password_and_code_removes_a_key_only_with_another_code() {
    removing_a_key_asks_for_a_code(false).await;
}

#[tokio::test]
async fn a_remembered_browser_signed_in_with_the_password_removes_a_key_only_with_a_code() {
    removing_a_key_asks_for_a_code(true).await;
}

/// Review I2: a registration started with two-factor authentication on and finished after it
/// was turned off would leave a passkey that signs in alone, on a page that no longer lists keys.
#[tokio::test]
async fn a_key_registration_finished_after_two_factor_was_turned_off_adds_no_key() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    portal.clock.advance(60);
    let options = portal
        .call_fn(
            &alice,
            StartKeyRegistration {
                name: "Phone".into(),
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("the registration starts");
    let options: CreationChallengeResponse = serde_json::from_str(&options).unwrap();
    let registered = key
        .do_registration(origin(&portal), options)
        .expect("the key registers");
    portal.clock.advance(60);
    portal
        .call_fn(
            &alice,
            DisableTwoFactor {
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("two-factor authentication is turned off");
    let finished = portal
        .call_fn(
            &alice,
            FinishKeyRegistration {
                credential: serde_json::to_string(&registered).unwrap(),
            },
        )
        .await;
    assert_eq!(finished, Err(AppError::KeysNeedTwoFactor));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM security_keys")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no key is left behind");
}

/// A passkey sign-in's answer from `key` (found by the browser, no username typed), in a fresh
/// browser. SoftPasskey finds no credential by itself and sends no user handle, so the test
/// names the credential and adds the handle, as a browser's passkey would.
pub(crate) async fn passkey_answer(
    portal: &TestPortal,
    key: &mut SoftPasskey,
) -> (Client, PublicKeyCredential) {
    let database = portal.database().await;
    let credential_id: Vec<u8> = sqlx::query_scalar("SELECT credential_id FROM security_keys")
        .fetch_one(&database)
        .await
        .unwrap();
    let handle: String =
        sqlx::query_scalar("SELECT webauthn_id FROM users WHERE username = 'alice'")
            .fetch_one(&database)
            .await
            .unwrap();
    let browser = portal.browser();
    let options = portal
        .call_fn(&browser, StartPasskeySignIn {})
        .await
        .expect("a challenge");
    let mut options: RequestChallengeResponse = serde_json::from_str(&options).unwrap();
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: credential_id,
        transports: None,
    }];
    let mut answer = key
        .do_authentication(origin(portal), options)
        .expect("the key answers");
    let hex = handle.replace('-', "");
    answer.response.user_handle = Some(
        (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
            .collect(),
    );
    (browser, answer)
}

async fn finish_passkey(
    portal: &TestPortal,
    browser: &Client,
    answer: &PublicKeyCredential,
) -> Result<String, AppError> {
    portal
        .call_fn(
            browser,
            FinishPasskeySignIn {
                credential: serde_json::to_string(answer).unwrap(),
                next: String::new(),
            },
        )
        .await
}

/// Review I3: a passkey answer refused is a warning on the owner's page; a counter that went
/// back (what a copy of the key sends) is one too, and the owner is mailed about it.
#[tokio::test]
async fn refused_passkey_answers_are_audited_and_a_counter_gone_back_is_mailed() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    let (first, first_answer) = passkey_answer(&portal, &mut key).await;
    let (second, second_answer) = passkey_answer(&portal, &mut key).await;
    let (forged, mut forged_answer) = passkey_answer(&portal, &mut key).await;

    // A signature that does not verify.
    let last = forged_answer.response.signature.len() - 1;
    forged_answer.response.signature[last] ^= 1;
    assert_eq!(
        finish_passkey(&portal, &forged, &forged_answer).await,
        Err(AppError::KeyNotAccepted)
    );
    let overview = portal.overview(&alice).await;
    let refused = overview
        .activity
        .events
        .iter()
        .find(|event| event.description.contains("was refused"));
    assert!(
        refused.is_some_and(|event| event.warning),
        "{:?}",
        overview.activity.events
    );

    // The second answer (counter 2) signs in; the first (counter 1) then comes back.
    assert_eq!(
        finish_passkey(&portal, &second, &second_answer).await,
        Ok("/portal".to_owned())
    );
    assert_eq!(
        finish_passkey(&portal, &first, &first_answer).await,
        Err(AppError::KeyNotAccepted)
    );
    assert!(!signed_in(&portal, &first).await);
    let overview = portal.overview(&alice).await;
    let copied = overview
        .activity
        .events
        .iter()
        .find(|event| event.description.contains("copied"));
    assert!(
        copied.is_some_and(|event| event.warning),
        "{:?}",
        overview.activity.events
    );
    let mail = portal.smtp.wait_for("alice@example.com", 5).await;
    assert!(
        mail.iter().any(|mail| mail.subject.contains("copied")),
        "{:?}",
        mail.iter().map(|mail| &mail.subject).collect::<Vec<_>>()
    );
}
