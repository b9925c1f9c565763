//! Security keys and passkeys against the real server, with webauthn-rs' software authenticator
//! playing the browser and the key.

use app::{
    error::{AppError, Missing},
    security_keys::{
        manage::{FinishKeyRegistration, RemoveSecurityKey, StartKeyRegistration},
        sign_in::{FinishKeySignIn, StartKeySignIn},
    },
};
use reqwest::{Client, StatusCode};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::common::{Authenticator, PASSWORD, TestPortal, at_once};

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
    let portal = TestPortal::start_on_localhost().await;
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
    assert_eq!(overview.keys.len(), 1);
    assert_eq!(overview.keys[0].name, "YubiKey");
    assert_eq!(overview.keys[0].last_used, None);
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
    assert!(portal.overview(&browser).await.keys[0].last_used.is_some());

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
    let portal = TestPortal::start_on_localhost().await;
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
    let alices = portal.overview(&alice).await.keys[0].id;
    assert_eq!(
        portal.call_fn(&bob, RemoveSecurityKey { id: alices }).await,
        Err(AppError::NotFound {
            what: Missing::SecurityKey
        })
    );
}

#[tokio::test]
async fn keys_need_the_app_first_and_go_when_two_factor_is_reset() {
    let portal = TestPortal::start_on_localhost().await;
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
    let portal = TestPortal::start_on_localhost().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &authenticator, &mut key, "YubiKey")
        .await
        .unwrap();
    let id = portal.overview(&alice).await.keys[0].id;
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    portal.clock.advance(60);
    portal
        .verify_code(&other, &authenticator.code(&portal, 0))
        .await;
    assert!(signed_in(&portal, &other).await);
    portal
        .call_fn(&alice, RemoveSecurityKey { id })
        .await
        .expect("removed");
    assert!(portal.overview(&alice).await.keys.is_empty());
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
    let portal = TestPortal::start_on_localhost().await;
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
    let portal = TestPortal::start_on_localhost().await;
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
