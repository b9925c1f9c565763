//! The whole way: an app sends the person to Portal, gets a code back and trades it for tokens
//! its library checks; what the claims say, and what every answer of the token endpoint carries.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::{StatusCode, header};

use super::{App, param, person, sign_in_to, through, tokens_of};
use crate::common::TestPortal;
use crate::organizations::acme;

#[tokio::test]
async fn an_app_signs_a_person_in_and_reads_who_they_are_with_the_same_subject_each_time() {
    let portal = TestPortal::start().await;
    // Bob accepted Alice's invitation to Acme.
    let (_alice, _bob) = acme(&portal).await;
    let app = App::new(&portal, &[]).await;
    let scopes = ["profile", "email", "groups"];

    let browser = portal.browser();
    let (tokens, nonce) = sign_in_to(&portal, &app, &browser, "bob", &scopes, &[]).await;
    let claims = app.verify(&tokens, &nonce);
    assert_eq!(claims.issuer().as_str(), portal.base);
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), app.id);
    assert_eq!(
        claims.preferred_username().map(|name| name.as_str()),
        Some("bob")
    );
    assert_eq!(
        claims.email().map(|email| email.as_str()),
        Some("bob@example.com")
    );
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        super::jwt_part(&tokens.id_token().unwrap().to_string(), 1)["groups"],
        serde_json::json!(["acme"])
    );
    let subject = claims.subject().as_str().to_owned();
    assert!(!subject.is_empty() && !subject.contains("bob"), "{subject}");

    let (access, _) = tokens_of(&tokens);
    let info = app.userinfo(&access).await.expect("UserInfo answers");
    assert_eq!(info.subject().as_str(), subject);
    assert_eq!(
        info.preferred_username().map(|name| name.as_str()),
        Some("bob")
    );
    assert_eq!(
        info.email().map(|email| email.as_str()),
        Some("bob@example.com")
    );
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(
        info.additional_claims().groups,
        Some(vec!["acme".to_owned()])
    );

    // Another browser, another sign-in: the same subject, and no consent page the second time.
    let again = portal.browser();
    let started = app.start(&scopes, &[]);
    let back = through(&portal, &again, "bob", &started.url).await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.as_str())
    );
    let tokens = app
        .exchange(&param(&back, "code").unwrap(), &started.verifier)
        .await
        .unwrap();
    assert_eq!(
        app.verify(&tokens, &started.nonce).subject().as_str(),
        subject
    );

    // Alice, the owner, is someone else to the app; without the scopes, only the subject.
    let alice = portal.browser();
    let (tokens, nonce) = sign_in_to(&portal, &app, &alice, "alice", &[], &[]).await;
    let claims = app.verify(&tokens, &nonce);
    assert_ne!(claims.subject().as_str(), subject);
    assert_eq!(claims.email(), None);
    assert_eq!(claims.preferred_username(), None);
    let info = app.userinfo(tokens.access_token().secret()).await.unwrap();
    assert_eq!(info.additional_claims().groups, None);
}

#[tokio::test]
async fn an_invited_person_who_has_not_accepted_is_in_no_group_and_an_unverified_address_says_so() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let carol = person(&portal, "carol").await;
    let (tokens, nonce) =
        sign_in_to(&portal, &app, &carol, "carol", &["email", "groups"], &[]).await;
    let claims = app.verify(&tokens, &nonce);
    assert_eq!(claims.email_verified(), Some(false));
    let info = app.userinfo(tokens.access_token().secret()).await.unwrap();
    assert_eq!(info.additional_claims().groups, Some(vec![]));
}

#[tokio::test]
async fn token_answers_are_never_cached_whether_they_give_tokens_or_refuse() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let browser = person(&portal, "alice").await;
    let started = app.start(&[], &[]);
    let code = super::code_for(&portal, &browser, "alice", &started).await;
    let given = app.post_code(&portal, &code, Some(&started.verifier)).await;
    let refused = app.post_code(&portal, &code, Some(&started.verifier)).await;
    assert_eq!(given.status(), StatusCode::OK);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    for answer in [&given, &refused] {
        assert_eq!(
            answer
                .headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store")
        );
        assert_eq!(
            answer
                .headers()
                .get(header::PRAGMA)
                .map(|v| v.to_str().unwrap()),
            Some("no-cache")
        );
    }
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn userinfo_refuses_a_bad_token_with_a_bearer_challenge() {
    let portal = TestPortal::start().await;
    let http = super::app_http();
    let bad = http
        .get(portal.url("/oauth2/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap()),
        Some("Bearer error=\"invalid_token\"")
    );
    let none = http
        .get(portal.url("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
}

/// RFC 7235: the scheme is case-insensitive; a token sent as `bearer` works as `Bearer` does.
#[tokio::test]
async fn userinfo_reads_the_bearer_scheme_in_any_case() {
    let portal = TestPortal::start().await;
    let app = super::App::new(&portal, &["--first-party"]).await;
    let alice = super::person(&portal, "alice").await;
    let (tokens, _) = super::sign_in_to(&portal, &app, &alice, "alice", &[], &[]).await;
    let (access, _) = super::tokens_of(&tokens);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer = super::app_http()
            .get(portal.url("/oauth2/userinfo"))
            .header(header::AUTHORIZATION, format!("{scheme} {access}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{scheme}");
    }
}
