//! Signing out: an app sends the browser to Portal's end-session endpoint with an ID token, and
//! Portal tells the apps that registered a back-channel URI when a sign-in ends.

use app::account::portal::Logout;
use app::oidc::section::RevokeAppAccess;
use axum::{Form, Router, extract::State, routing::post};
use openidconnect::{
    JsonWebKey, TokenResponse,
    core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm},
};
use reqwest::{Client, StatusCode};
use std::collections::HashMap;
use tokio::sync::mpsc;

use super::{App, app_http, jwt_part, person, sign_in_to};
use crate::common::{TestPortal, location};

const BYE: &str = "http://127.0.0.1:4999/bye";

async fn signed_in(portal: &TestPortal, browser: &Client) -> bool {
    portal.get_status(browser, "/portal").await == StatusCode::OK
}

/// An ID token for `username` from `app`, signed in in `browser`.
async fn id_token(portal: &TestPortal, app: &App, browser: &Client, username: &str) -> String {
    let (tokens, _) = sign_in_to(portal, app, browser, username, &[], &[]).await;
    tokens.id_token().unwrap().to_string()
}

async fn end_session(browser: &Client, portal: &TestPortal, params: &[(&str, &str)]) -> String {
    let answer = browser
        .get(portal.url("/oauth2/logout"))
        .query(params)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    location(&answer).unwrap().to_owned()
}

#[tokio::test]
async fn an_app_signs_the_person_out_and_gets_them_back_only_at_its_registered_address() {
    let portal = TestPortal::start().await;
    let app = App::new(
        &portal,
        &["--first-party", "--post-logout-redirect-uri", BYE],
    )
    .await;
    let alice = person(&portal, "alice").await;
    let hint = id_token(&portal, &app, &alice, "alice").await;

    // No hint: no one is signed out by a link.
    let to = end_session(&alice, &portal, &[("post_logout_redirect_uri", BYE)]).await;
    assert!(to.starts_with('/'), "{to}");
    assert!(signed_in(&portal, &alice).await);
    // A forged hint: the same.
    let forged = format!("{}x", &hint[..hint.len() - 1]);
    let to = end_session(
        &alice,
        &portal,
        &[
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert!(to.starts_with('/'), "{to}");
    assert!(signed_in(&portal, &alice).await);
    // Bob's ID token in Alice's browser: not his sign-in to end.
    let bob = person(&portal, "bob").await;
    let bobs = id_token(&portal, &app, &bob, "bob").await;
    end_session(&alice, &portal, &[("id_token_hint", &bobs)]).await;
    assert!(signed_in(&portal, &alice).await);

    // Her own hint and the registered address: signed out, and back at the app with the state.
    let to = end_session(
        &alice,
        &portal,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", BYE),
            ("state", "a b&c"),
        ],
    )
    .await;
    let to = url::Url::parse(&to).unwrap();
    assert_eq!(&to[..url::Position::AfterPath], BYE);
    assert_eq!(super::param(&to, "state").as_deref(), Some("a b&c"));
    assert!(!signed_in(&portal, &alice).await);

    // An address the app did not register: signed out, but left on Portal.
    let hint = id_token(&portal, &app, &alice, "alice").await;
    for elsewhere in [
        "http://127.0.0.1:4999/bye2",
        "https://evil.example/",
        "http://127.0.0.1:4999/cb",
    ] {
        let to = end_session(
            &alice,
            &portal,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", elsewhere),
            ],
        )
        .await;
        assert!(to.starts_with('/'), "{elsewhere} followed: {to}");
    }
    assert!(!signed_in(&portal, &alice).await);
}

/// A tiny app server: every logout token posted to it, on a channel.
async fn backchannel() -> (String, mpsc::UnboundedReceiver<String>) {
    let (sent, received) = mpsc::unbounded_channel();
    let router = Router::new()
        .route(
            "/backchannel",
            post(
                |State(sent): State<mpsc::UnboundedSender<String>>,
                 Form(form): Form<HashMap<String, String>>| async move {
                    let _ = sent.send(form.get("logout_token").cloned().unwrap_or_default());
                },
            ),
        )
        .with_state(sent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (uri, received)
}

async fn next_token(received: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(20), received.recv())
        .await
        .expect("a logout token within 20 s")
        .unwrap()
}

/// Checks a logout token as an app must (Back-Channel Logout 1.0 §2.6): signed by a published
/// key, for this app, from this issuer, the event named, no nonce. Its subject.
async fn checked(portal: &TestPortal, app: &App, token: &str) -> String {
    let header = jwt_part(token, 0);
    assert_eq!(header["typ"], "logout+jwt");
    let set: CoreJsonWebKeySet = app_http()
        .get(portal.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = set
        .keys()
        .iter()
        .find(|key| key.key_id().map(|kid| kid.as_str()) == header["kid"].as_str())
        .expect("signed by a published key");
    let (message, signature) = token.rsplit_once('.').unwrap();
    use base64::Engine;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        message.as_bytes(),
        &signature,
    )
    .expect("the signature verifies");
    let claims = jwt_part(token, 1);
    assert_eq!(claims["iss"], portal.base.as_str());
    assert_eq!(claims["aud"], app.id.as_str());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string() && claims["iat"].is_i64());
    claims["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn apps_are_told_on_their_back_channel_when_the_person_signs_out_or_revokes_them() {
    let portal = TestPortal::start().await;
    let (uri, mut received) = backchannel().await;
    let app = App::new(&portal, &["--backchannel-logout-uri", &uri]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, nonce) = sign_in_to(&portal, &app, &alice, "alice", &[], &[]).await;
    let subject = app.verify(&tokens, &nonce).subject().as_str().to_owned();

    let signed_out = portal.post_fn(&alice, Logout {}).await;
    assert!(signed_out.status().is_success() || signed_out.status().is_redirection());
    let token = next_token(&mut received).await;
    assert_eq!(checked(&portal, &app, &token).await, subject);

    // Signed in again, then Revoke on the security page: told again.
    let again = portal.browser();
    sign_in_to(&portal, &app, &again, "alice", &[], &[]).await;
    portal
        .call_fn(
            &again,
            RevokeAppAccess {
                client_id: app.id.clone(),
            },
        )
        .await
        .expect("revoked");
    let token = next_token(&mut received).await;
    assert_eq!(checked(&portal, &app, &token).await, subject);
    assert!(received.try_recv().is_err(), "one token each time");
}

/// Only an ID token for the app that names itself is a hint: a logout token Portal signed (it
/// names the same person) signs no one out, nor does an ID token of another app named as this one.
#[tokio::test]
async fn a_logout_token_or_another_app_s_id_token_is_no_hint() {
    let portal = TestPortal::start().await;
    let (uri, mut received) = backchannel().await;
    let app = App::new(&portal, &["--backchannel-logout-uri", &uri]).await;
    let other = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    sign_in_to(&portal, &app, &alice, "alice", &[], &[]).await;
    // A logout token for Alice: sent when her first browser signs out.
    let first = portal.browser();
    sign_in_to(&portal, &app, &first, "alice", &[], &[]).await;
    portal.post_fn(&first, Logout {}).await;
    let logout_token = next_token(&mut received).await;
    end_session(&alice, &portal, &[("id_token_hint", &logout_token)]).await;
    assert!(
        signed_in(&portal, &alice).await,
        "a logout token is no hint"
    );
    let hint = id_token(&portal, &other, &alice, "alice").await;
    end_session(
        &alice,
        &portal,
        &[("id_token_hint", &hint), ("client_id", app.id.as_str())],
    )
    .await;
    assert!(
        signed_in(&portal, &alice).await,
        "another app's token named as this one"
    );
    end_session(
        &alice,
        &portal,
        &[("id_token_hint", &hint), ("client_id", other.id.as_str())],
    )
    .await;
    assert!(!signed_in(&portal, &alice).await, "its own token signs out");
}
