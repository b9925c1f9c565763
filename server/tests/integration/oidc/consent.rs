//! The consent page: asked once per app and set of scopes, again when the app asks for more or
//! says `prompt=consent`; never for the operator's own apps; Deny goes back as access_denied.

use super::{App, Step, decide, follow, param, person, tokens_of};
use crate::common::TestPortal;

#[tokio::test]
async fn a_first_party_app_signs_the_person_in_without_asking() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &["--first-party"]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&["profile", "email"], &[]);
    let back = follow(&portal, &alice, &started.url).await.app();
    assert!(param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn consent_is_remembered_and_asked_again_when_the_scopes_grow_or_the_app_asks() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;

    let first = app.start(&["profile"], &[]);
    let request = follow(&portal, &alice, &first.url).await.request();
    let page = portal
        .get_text(&alice, &format!("/oauth2/consent?request={request}"))
        .await;
    assert!(page.contains("Notes"), "{page}");
    assert!(page.contains("your username"), "{page}");
    assert!(!page.contains("your email address"), "{page}");
    let back = decide(&portal, &alice, &request, true).await.app();
    assert!(param(&back, "code").is_some());

    // The same scopes, or fewer: no question.
    for scopes in [&["profile"][..], &[][..]] {
        let again = app.start(scopes, &[]);
        let back = follow(&portal, &alice, &again.url).await.app();
        assert!(param(&back, "code").is_some(), "{scopes:?}: {back}");
    }

    // More scopes: asked again, for what it now wants.
    let grown = app.start(&["profile", "email"], &[]);
    let request = follow(&portal, &alice, &grown.url).await.request();
    let page = portal
        .get_text(&alice, &format!("/oauth2/consent?request={request}"))
        .await;
    assert!(page.contains("your email address"), "{page}");
    decide(&portal, &alice, &request, true).await.app();
    let after = app.start(&["email"], &[]);
    follow(&portal, &alice, &after.url).await.app();

    // prompt=consent: asked, though all of it was allowed; without answering, prompt=none
    // reports consent_required for another app.
    let asked = app.start(&["profile"], &[("prompt", "consent")]);
    let request = follow(&portal, &alice, &asked.url).await.request();
    let back = decide(&portal, &alice, &request, true).await.app();
    assert!(param(&back, "code").is_some());
    let other = App::new(&portal, &[]).await;
    let silent = other.start(&[], &[("prompt", "none")]);
    let back = follow(&portal, &alice, &silent.url).await.app();
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&back, "code"), None);
}

#[tokio::test]
async fn deny_sends_the_person_back_with_access_denied_and_nothing_is_remembered() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let started = app.start(&["email"], &[]);
    let request = follow(&portal, &alice, &started.url).await.request();
    let back = decide(&portal, &alice, &request, false).await.app();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "code"), None);
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(portal.base.as_str()));
    // The answer was for that request alone: the next one asks again.
    let again = app.start(&["email"], &[]);
    assert!(matches!(
        follow(&portal, &alice, &again.url).await,
        Step::Consent { .. }
    ));
    // A decided request cannot be resumed a second time.
    let replay = follow(
        &portal,
        &alice,
        &portal.url(&format!("/oauth2/continue?request={request}")),
    )
    .await;
    assert!(
        matches!(&replay, Step::Page { status, body, .. }
            if status.as_u16() == 400 && body.contains("This sign-in has expired")),
        "{replay:?}"
    );
}

/// Offline access without prompt=consent is not given (Core §11), so it is not asked about
/// either: once allowed, the app's sign-ins go straight back (they asked every time before).
#[tokio::test]
async fn offline_access_without_prompt_consent_asks_once_and_gives_no_refresh_token() {
    let portal = TestPortal::start().await;
    let app = App::new(&portal, &[]).await;
    let alice = person(&portal, "alice").await;
    let first = app.start(&["offline_access"], &[]);
    let Step::Consent { request } = follow(&portal, &alice, &first.url).await else {
        panic!("the first sign-in asks");
    };
    let Step::App(back) = decide(&portal, &alice, &request, true).await else {
        panic!("allowed: back to the app");
    };
    let code = param(&back, "code").expect("a code");
    let tokens = app.exchange(&code, &first.verifier).await.unwrap();
    assert_eq!(
        tokens_of(&tokens).1,
        None,
        "no refresh token without prompt=consent"
    );
    let second = app.start(&["offline_access"], &[]);
    assert!(
        matches!(follow(&portal, &alice, &second.url).await, Step::App(_)),
        "the second sign-in goes straight back"
    );
}
