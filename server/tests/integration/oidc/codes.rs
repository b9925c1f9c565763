//! Codes: PKCE S256 or nothing, one use, once even when sent ten times at once; and a request
//! that does not name a registered app and redirect URI never leaves Portal.

use reqwest::{StatusCode, header};
use url::Url;

use super::{App, REDIRECT, alive, code_for, follow, param, person, tokens_of};
use crate::common::{TestPortal, at_once};

async fn error_of(answer: reqwest::Response) -> (StatusCode, String) {
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_code_needs_the_verifier_of_its_challenge() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;

    let started = app.start(&[], &[]);
    let code = code_for(&portal, &alice, "alice", &started).await;
    assert_eq!(
        error_of(app.post_code(&portal, &code, None).await).await,
        (StatusCode::BAD_REQUEST, "invalid_request".to_owned())
    );
    let wrong = "w".repeat(43);
    assert_eq!(
        error_of(app.post_code(&portal, &code, Some(&wrong)).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
    // A wrong guess spends the code: the right verifier comes too late.
    assert!(app.exchange(&code, &started.verifier).await.is_err());
    // `plain` at the token endpoint: the challenge itself as the verifier.
    let other = app.start(&[], &[]);
    let code = code_for(&portal, &alice, "alice", &other).await;
    let challenge = param(&Url::parse(&other.url).unwrap(), "code_challenge").unwrap();
    assert_eq!(
        error_of(app.post_code(&portal, &code, Some(&challenge)).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
    // The right verifier, on a code of its own: tokens.
    let right = app.start(&[], &[]);
    let code = code_for(&portal, &alice, "alice", &right).await;
    assert!(app.exchange(&code, &right.verifier).await.is_ok());
}

#[tokio::test]
async fn requests_without_pkce_s256_are_sent_back_refused() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&[], &[]);
    let with = |change: &dyn Fn(&mut Vec<(String, String)>)| {
        let mut url = Url::parse(&started.url).unwrap();
        let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        change(&mut pairs);
        url.query_pairs_mut().clear().extend_pairs(&pairs);
        url.to_string()
    };
    let plain = with(&|pairs| {
        for (name, value) in pairs.iter_mut() {
            if name == "code_challenge_method" {
                *value = "plain".into();
            }
            if name == "code_challenge" {
                *value = "p".repeat(43);
            }
        }
    });
    let missing = with(&|pairs| pairs.retain(|(name, _)| !name.starts_with("code_challenge")));
    let no_method = with(&|pairs| pairs.retain(|(name, _)| name != "code_challenge_method"));
    let short = with(&|pairs| {
        for (name, value) in pairs.iter_mut() {
            if name == "code_challenge" {
                *value = "short".into();
            }
        }
    });
    for url in [plain, missing, no_method, short] {
        let back = follow(&portal, &alice, &url).await.app();
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{url}"
        );
        assert_eq!(param(&back, "code"), None);
        assert_eq!(
            param(&back, "state").as_deref(),
            Some(started.state.as_str())
        );
    }
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM oidc_codes")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(none, 0);
}

#[tokio::test]
async fn a_code_used_twice_is_refused_and_what_its_first_use_gave_dies() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&["offline_access"], &[]);
    let code = code_for(&portal, &alice, "alice", &started).await;
    let tokens = app.exchange(&code, &started.verifier).await.unwrap();
    let (access, refresh) = tokens_of(&tokens);
    assert!(alive(&app, &access).await);
    let again = app.exchange(&code, &started.verifier).await;
    assert!(again.unwrap_err().contains("invalid_grant"));
    assert!(
        !alive(&app, &access).await,
        "the first use's access token died"
    );
    assert!(
        app.refresh(&refresh.unwrap()).await.is_err(),
        "and its refresh token"
    );
}

#[tokio::test]
async fn ten_exchanges_of_one_code_at_once_give_tokens_once_and_then_none_are_left() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&[], &[]);
    let code = code_for(&portal, &alice, "alice", &started).await;
    let answers = at_once(10, |_| {
        app.post_code(&portal, &code, Some(&started.verifier))
    })
    .await;
    let mut given = Vec::new();
    let mut statuses = Vec::new();
    for answer in answers {
        statuses.push(answer.status());
        if answer.status() == StatusCode::OK {
            let body: serde_json::Value = answer.json().await.unwrap();
            given.push(body["access_token"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(given.len(), 1, "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::BAD_REQUEST)
            .count(),
        9,
        "the others are refused as invalid_grant, none told to wait: {statuses:?}"
    );
    assert!(
        !alive(&app, &given[0]).await,
        "the reuse revoked the winner's tokens"
    );
}

#[tokio::test]
async fn a_request_for_an_unknown_app_or_an_unregistered_redirect_uri_stays_on_portal() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&[], &[]);
    let replaced = |name: &str, value: Option<&str>| {
        let mut url = Url::parse(&started.url).unwrap();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(key, _)| key != name)
            .collect();
        url.query_pairs_mut().clear().extend_pairs(&pairs);
        if let Some(value) = value {
            url.query_pairs_mut().append_pair(name, value);
        }
        url
    };
    let cases = [
        replaced("redirect_uri", Some("http://127.0.0.1:4999/cb2")),
        replaced("redirect_uri", Some("http://127.0.0.1:4999/cb/")),
        replaced("redirect_uri", Some("http://127.0.0.1:4999/cb?next=x")),
        replaced("redirect_uri", Some("http://127.0.0.1:5000/cb")),
        replaced("redirect_uri", Some("https://evil.example/cb")),
        replaced("redirect_uri", Some(&REDIRECT.to_uppercase())),
        replaced("redirect_uri", None),
        replaced("client_id", Some("0123456789abcdef0123456789abcdef")),
        replaced("client_id", None),
    ];
    let signed_out = portal.browser();
    for url in cases {
        for browser in [&alice, &signed_out] {
            let answer = browser.get(url.as_str()).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{url}");
            assert!(answer.headers().get(header::LOCATION).is_none(), "{url}");
            let page = answer.text().await.unwrap();
            assert!(page.contains("This sign-in link does not work"), "{page}");
            assert!(!page.contains("4999") && !page.contains("evil"), "{page}");
        }
        // Posted, as a form: the same.
        let form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let answer = alice
            .post(portal.url("/oauth2/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(answer.headers().get(header::LOCATION).is_none());
    }
}
