//! Access and refresh tokens: who gets a refresh token, rotation and the family a spent one
//! kills, revocation (RFC 7009), the account's changes that end them, and an app's secret
//! guessed.

use app::account::{change_password::ChangePassword, close::CloseAccount, secure::SecureAccount};
use app::oidc::section::RevokeAppAccess;
use app::two_factor::manage::DisableTwoFactor;
use openidconnect::OAuth2TokenResponse;
use reqwest::{Client, StatusCode, header};

use super::{App, Step, alive, follow, person, sign_in_to, tokens_of};
use crate::common::{Authenticator, PASSWORD, TestPortal, at_once, checked_and_waited};

#[tokio::test]
async fn a_refresh_token_needs_offline_access_asked_with_consent_or_a_first_party_app() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, _) = sign_in_to(&portal, &app, &alice, "alice", &["offline_access"], &[]).await;
    assert!(
        tokens.refresh_token().is_none(),
        "asked without prompt=consent"
    );
    let scopes: Vec<String> = tokens
        .scopes()
        .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
        .unwrap_or_default();
    assert!(!scopes.contains(&"offline_access".to_owned()), "{scopes:?}");

    let (tokens, _) = sign_in_to(
        &portal,
        &app,
        &alice,
        "alice",
        &["offline_access"],
        &[("prompt", "consent")],
    )
    .await;
    assert!(tokens.refresh_token().is_some(), "asked and allowed");

    let (tokens, _) = sign_in_to(
        &portal,
        &app,
        &alice,
        "alice",
        &[],
        &[("prompt", "consent")],
    )
    .await;
    assert!(tokens.refresh_token().is_none(), "not asked for");

    let own = App::new(&portal, &["--first-party"]).await;
    let (tokens, _) = sign_in_to(&portal, &own, &alice, "alice", &["offline_access"], &[]).await;
    assert!(tokens.refresh_token().is_some(), "the operator's own app");
}

#[tokio::test]
async fn a_refresh_token_works_once_and_a_spent_one_used_again_ends_its_family() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, nonce) = sign_in_to(
        &portal,
        &app,
        &alice,
        "alice",
        &["offline_access", "email"],
        &[],
    )
    .await;
    let subject = app.verify(&tokens, &nonce).subject().clone();
    let (access1, refresh1) = tokens_of(&tokens);
    let refresh1 = refresh1.unwrap();

    let second = app.refresh(&refresh1).await.expect("the first refresh");
    let (access2, refresh2) = tokens_of(&second);
    let refresh2 = refresh2.expect("a new refresh token each time");
    assert_ne!(refresh2, refresh1);
    assert_ne!(access2, access1);
    let info = app.userinfo(&access2).await.unwrap();
    assert_eq!(info.subject(), &subject);
    assert_eq!(
        info.email().map(|email| email.as_str()),
        Some("alice@example.com")
    );
    // The ID token of a refresh names the same person, to the same app.
    let id_token = openidconnect::TokenResponse::id_token(&second).expect("an ID token");
    let claims = super::jwt_part(&id_token.to_string(), 1);
    assert_eq!(claims["sub"], subject.as_str());
    assert_eq!(claims["aud"], app.id.as_str());

    let third = app.refresh(&refresh2).await.expect("the second refresh");
    let (access3, refresh3) = tokens_of(&third);
    assert!(alive(&app, &access3).await);

    // The first one again: refused, and everything of its family dies.
    assert!(
        app.refresh(&refresh1)
            .await
            .unwrap_err()
            .contains("invalid_grant")
    );
    assert!(app.refresh(&refresh3.unwrap()).await.is_err());
    for access in [access1, access2, access3] {
        assert!(!alive(&app, &access).await);
    }
}

#[tokio::test]
async fn a_revoked_token_stops_working_and_only_its_app_can_revoke_it() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let other = App::new(&portal, &["--first-party"]).await;
    let public = App::new(&portal, &["--first-party", "--public"]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, _) = sign_in_to(&portal, &app, &alice, "alice", &["offline_access"], &[]).await;
    let (access, refresh) = tokens_of(&tokens);
    let refresh = refresh.unwrap();

    // Another app's revocation answers the same and changes nothing.
    for token in [&access, &refresh] {
        let answer = other
            .post(&portal, "/oauth2/revoke", &[("token", token)])
            .await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
    assert!(alive(&app, &access).await);
    // An unknown token: 200 all the same. No token: 400. A wrong secret: 401.
    let unknown = app
        .post(&portal, "/oauth2/revoke", &[("token", "nothing")])
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let missing = app.post(&portal, "/oauth2/revoke", &[]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let forged = app
        .http
        .post(portal.url("/oauth2/revoke"))
        .basic_auth(&app.id, Some("not the secret"))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(alive(&app, &access).await);

    // The access token: it dies, the refresh token goes on.
    let answer = app
        .post(&portal, "/oauth2/revoke", &[("token", &access)])
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(!alive(&app, &access).await);
    let refreshed = app.refresh(&refresh).await.unwrap();
    let (access, refresh) = tokens_of(&refreshed);
    assert!(alive(&app, &access).await);

    // The refresh token: it dies with every token of its family.
    let answer = app
        .post(
            &portal,
            "/oauth2/revoke",
            &[
                ("token", refresh.as_deref().unwrap()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(app.refresh(&refresh.unwrap()).await.is_err());
    assert!(!alive(&app, &access).await);

    // A public app revokes with its id alone.
    let (tokens, _) = sign_in_to(&portal, &public, &alice, "alice", &[], &[]).await;
    let (access, _) = tokens_of(&tokens);
    let answer = public
        .post(&portal, "/oauth2/revoke", &[("token", &access)])
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(!alive(&public, &access).await);
}

/// Live tokens for `username`'s browser from a first-party app: an access and a refresh token.
async fn live_tokens(
    portal: &TestPortal,
    app: &App,
    browser: &Client,
    username: &str,
) -> (String, String) {
    let (tokens, _) = sign_in_to(portal, app, browser, username, &["offline_access"], &[]).await;
    let (access, refresh) = tokens_of(&tokens);
    assert!(alive(app, &access).await);
    (access, refresh.unwrap())
}

async fn dead(app: &App, (access, refresh): (String, String)) {
    assert!(!alive(app, &access).await, "the access token still works");
    assert!(
        app.refresh(&refresh).await.is_err(),
        "the refresh token still works"
    );
}

#[tokio::test]
async fn tokens_die_when_the_password_changes() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let tokens = live_tokens(&portal, &app, &alice, "alice").await;
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "a different horse entirely".into(),
                code: String::new(),
            },
        )
        .await
        .expect("the password changes");
    dead(&app, tokens).await;
}

async fn with_two_factor(portal: &TestPortal) -> (App, Client, Authenticator, (String, String)) {
    let app = App::new(portal, &["--first-party"]).await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let tokens = live_tokens(portal, &app, &alice, "alice").await;
    (app, alice, authenticator, tokens)
}

#[tokio::test]
async fn tokens_die_when_the_account_is_secured_and_its_second_factor_stays() {
    let portal = TestPortal::start().await;
    let (app, alice, _, tokens) = with_two_factor(&portal).await;
    // "This wasn't me" on the security page: the signed-in session stands for the link.
    portal
        .call_fn(
            &alice,
            SecureAccount {
                token: String::new(),
            },
        )
        .await
        .expect("secured");
    dead(&app, tokens).await;
    let stage = portal
        .call_fn(&portal.browser(), crate::common::login("alice", PASSWORD))
        .await
        .expect("the password is right");
    assert_eq!(stage, app::account::login::LoginStage::SecondFactor);
}

#[tokio::test]
async fn tokens_die_when_support_resets_two_factor() {
    let portal = TestPortal::start().await;
    let (app, _, _, tokens) = with_two_factor(&portal).await;
    let output = portal.admin(&["reset-2fa", "alice", "--reason", "lost the phone"]);
    assert!(output.status.success(), "{output:?}");
    dead(&app, tokens).await;
}

#[tokio::test]
async fn tokens_die_when_two_factor_is_turned_off() {
    let portal = TestPortal::start().await;
    let (app, alice, authenticator, tokens) = with_two_factor(&portal).await;
    portal.clock.advance(60);
    portal
        .call_fn(
            &alice,
            DisableTwoFactor {
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("two-factor turns off");
    dead(&app, tokens).await;
}

#[tokio::test]
async fn tokens_die_when_the_person_revokes_the_app_which_then_asks_again() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let (tokens, _) = sign_in_to(
        &portal,
        &app,
        &alice,
        "alice",
        &["offline_access"],
        &[("prompt", "consent")],
    )
    .await;
    let (access, refresh) = tokens_of(&tokens);
    let listed = portal.overview(&alice).await.apps_with_access.apps;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client_id, app.id);
    portal
        .call_fn(
            &alice,
            RevokeAppAccess {
                client_id: app.id.clone(),
            },
        )
        .await
        .expect("revoked");
    dead(&app, (access, refresh.unwrap())).await;
    assert!(
        portal
            .overview(&alice)
            .await
            .apps_with_access
            .apps
            .is_empty()
    );
    let again = app.start(&[], &[]);
    assert!(matches!(
        follow(&portal, &alice, &again.url).await,
        Step::Consent { .. }
    ));
}

#[tokio::test]
async fn tokens_die_when_the_account_closes() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let tokens = live_tokens(&portal, &app, &alice, "alice").await;
    portal
        .call_fn(
            &alice,
            CloseAccount {
                password: PASSWORD.into(),
                code: String::new(),
            },
        )
        .await
        .expect("closed");
    dead(&app, tokens).await;
}

async fn wrong_secret(app: &App, portal: &TestPortal) -> reqwest::Response {
    app.http
        .post(portal.url("/oauth2/token"))
        .basic_auth(&app.id, Some("not the secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_client_secrets_are_throttled_one_after_another_and_all_at_once() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = wrong_secret(&app, &portal).await;
        let status = answer.status();
        let challenge = answer.headers().get(header::WWW_AUTHENTICATE).is_some();
        let wait = answer.headers().get(header::RETRY_AFTER).is_some();
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(
            status != StatusCode::UNAUTHORIZED || challenge,
            "401 with its challenge"
        );
        assert!(
            status != StatusCode::TOO_MANY_REQUESTS || wait,
            "429 with Retry-After"
        );
        statuses.push(status);
    }
    let mut expected = vec![StatusCode::UNAUTHORIZED; 5];
    expected.push(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses, expected);
    // The right secret waits too, while the wait lasts.
    let right = app
        .post(
            &portal,
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);

    let parallel = App::new(&portal, &[]).await;
    let answers = at_once(20, |_| wrong_secret(&parallel, &portal)).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|answer| answer.status()).collect();
    let (checked, waited) = checked_and_waited(&statuses, StatusCode::UNAUTHORIZED);
    // Five free failures, then 1 s of wait, then 2 s: a slow run (PostgreSQL on two busy cores)
    // may see the first wait end while the twenty are still arriving, and one more is checked.
    // Never all of them: the counter is judged under the write lock.
    assert_eq!(checked + waited, 20, "{statuses:?}");
    assert!((5..=7).contains(&checked), "{statuses:?}");
}
