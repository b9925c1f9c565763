//! The signing keys: a rotated-in key is published a day before it signs, the key it replaces
//! stays published while tokens it signed live, and an app registered for ES256 gets ES256.

use openidconnect::TokenResponse;

use super::{App, app_http, jwt_part, person, sign_in_to};
use crate::common::TestPortal;

/// The kids the portal publishes now.
async fn published(portal: &TestPortal) -> Vec<String> {
    let set: serde_json::Value = app_http()
        .get(portal.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// An ID token for Alice, checked by the app with the key set as discovered now: its header.
async fn signed(
    portal: &TestPortal,
    app: &mut App,
    browser: &reqwest::Client,
) -> serde_json::Value {
    app.rediscover(portal).await;
    let (tokens, nonce) = sign_in_to(portal, app, browser, "alice", &[], &[]).await;
    app.verify(&tokens, &nonce);
    jwt_part(&tokens.id_token().unwrap().to_string(), 0)
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_signs_a_day_later_and_the_old_one_stays_an_hour() {
    let portal = TestPortal::start().await;
    let mut app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let header = signed(&portal, &mut app, &alice).await;
    assert_eq!(header["alg"], "RS256");
    let old = header["kid"].as_str().unwrap().to_owned();
    let before = published(&portal).await;
    assert_eq!(before.len(), 2, "an RS256 and an ES256 key: {before:?}");
    assert!(before.contains(&old), "{before:?}");

    let output = portal.admin(&["keys", "rotate"]);
    assert!(output.status.success(), "{output:?}");
    let keys = published(&portal).await;
    assert!(keys.contains(&old), "{keys:?}");
    let new: Vec<String> = keys
        .iter()
        .filter(|kid| !before.contains(kid))
        .cloned()
        .collect();
    assert_eq!(new.len(), 2, "a new RS256 and a new ES256 key: {keys:?}");
    assert!(before.iter().all(|kid| keys.contains(kid)), "{keys:?}");
    // Published, not yet signing.
    assert_eq!(signed(&portal, &mut app, &alice).await["kid"], old.as_str());

    portal.clock.advance(24 * 60 * 60 + 60);
    let header = signed(&portal, &mut app, &alice).await;
    let kid = header["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid, old, "the new key signs after a day");
    assert!(new.contains(&kid), "{kid} is one of {new:?}");
    assert!(
        published(&portal).await.contains(&old),
        "tokens the old key signed are still checked"
    );

    // Once the last token the old key signed has expired, it is no longer published.
    portal.clock.advance(60 * 60 + 60);
    let keys = published(&portal).await;
    assert!(!keys.contains(&old), "{keys:?}");
    assert!(keys.contains(&kid), "{keys:?}");
}

#[tokio::test]
async fn an_app_registered_for_es256_gets_es256_id_tokens() {
    let portal = TestPortal::start().await;
    let mut es = App::new(&portal, &["--first-party", "--id-token-alg", "ES256"]).await;
    let mut rs = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let header = signed(&portal, &mut es, &alice).await;
    assert_eq!(header["alg"], "ES256");
    assert!(
        published(&portal)
            .await
            .contains(&header["kid"].as_str().unwrap().to_owned())
    );
    assert_eq!(signed(&portal, &mut rs, &alice).await["alg"], "RS256");
    // The kid names an EC key on P-256 in the key set.
    let set: serde_json::Value = app_http()
        .get(portal.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
        .unwrap();
    assert_eq!(
        (&key["kty"], &key["crv"]),
        (&serde_json::json!("EC"), &serde_json::json!("P-256"))
    );
}

#[tokio::test]
async fn an_unknown_id_token_algorithm_is_refused_at_registration() {
    let portal = TestPortal::start().await;
    let output = portal.admin(&[
        "client",
        "add",
        "--name",
        "Notes",
        "--redirect-uri",
        super::REDIRECT,
        "--id-token-alg",
        "HS256",
    ]);
    assert!(!output.status.success());
    let output = portal.admin(&[
        "client",
        "add",
        "--name",
        "Notes",
        "--redirect-uri",
        "http://app.example/cb",
    ]);
    assert!(!output.status.success(), "plain http off the loopback");
}

/// A rotation before the portal ever signed (a fresh install) still leaves a key that signs now,
/// for both algorithms: the tokens of an ES256 app were a 500 for a day before.
#[tokio::test]
async fn a_rotation_on_a_portal_that_never_signed_leaves_a_key_that_signs_now() {
    let portal = TestPortal::start().await;
    let output = portal.admin(&["keys", "rotate"]);
    assert!(output.status.success(), "{output:?}");
    let mut app = App::new(&portal, &["--first-party", "--id-token-alg", "ES256"]).await;
    let alice = person(&portal, "alice").await;
    let header = signed(&portal, &mut app, &alice).await;
    assert_eq!(header["alg"], "ES256");
    let listed = String::from_utf8_lossy(&portal.admin(&["keys", "list"]).stdout).into_owned();
    assert_eq!(listed.matches("signing until").count(), 2, "{listed}");
    assert_eq!(
        listed.matches("published, signs from").count(),
        2,
        "{listed}"
    );
}
