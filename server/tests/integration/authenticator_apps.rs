//! Several authenticator apps per account: added with a code first, each with its own replay
//! guard, listed, and removed while another remains.

use app::{
    error::{AppError, Missing},
    two_factor::apps::{FinishAppAddition, RemoveAuthenticatorApp, StartAppAddition},
};
use reqwest::{Client, StatusCode};

use crate::common::{
    Authenticator, PASSWORD, TestPortal, answer, at_once, code_for_key, location, open_link,
    second_browser,
};

/// Adds an app named `name` to the account signed in on `browser`, confirmed first with a fresh
/// code of `authenticator`; the new app's key as the page shows it.
pub(crate) async fn add_app(
    portal: &TestPortal,
    browser: &Client,
    authenticator: &Authenticator,
    name: &str,
) -> String {
    portal.clock.advance(30);
    portal
        .call_fn(
            browser,
            StartAppAddition {
                app_name: name.into(),
                app_code: authenticator.code(portal, 0),
            },
        )
        .await
        .expect("the addition starts");
    let key = portal
        .overview(browser)
        .await
        .apps
        .adding
        .expect("the new app's key is shown")
        .key;
    portal
        .call_fn(
            browser,
            FinishAppAddition {
                new_app_code: code_for_key(portal, &key),
            },
        )
        .await
        .expect("the app is added");
    key
}

/// Signs `username` in on a new browser with the password and `code`.
async fn sign_in_with(portal: &TestPortal, username: &str, code: &str) -> (Client, StatusCode) {
    let browser = portal.browser();
    portal.sign_in(&browser, username, PASSWORD).await;
    portal.verify_code(&browser, code).await;
    let status = portal.get_status(&browser, "/portal").await;
    (browser, status)
}

#[tokio::test]
async fn a_second_app_is_added_after_a_code_and_its_codes_sign_in_once() {
    let portal = TestPortal::start().await;
    let (alice, first) = portal.account_with_two_factor("alice").await;
    // A session alone does not add an app.
    let without_code = portal
        .call_fn(
            &alice,
            StartAppAddition {
                app_name: "Work phone".into(),
                app_code: String::new(),
            },
        )
        .await;
    assert!(
        matches!(&without_code, Err(AppError::Validation { field, .. }) if field == "app_code"),
        "{without_code:?}"
    );
    let unnamed = portal
        .call_fn(
            &alice,
            StartAppAddition {
                app_name: " ".into(),
                app_code: first.code(&portal, 0),
            },
        )
        .await;
    assert!(
        matches!(&unnamed, Err(AppError::Validation { field, .. }) if field == "app_name"),
        "{unnamed:?}"
    );
    portal.clock.advance(30);
    portal
        .call_fn(
            &alice,
            StartAppAddition {
                app_name: "Work phone".into(),
                app_code: first.code(&portal, 0),
            },
        )
        .await
        .unwrap();
    let adding = portal.overview(&alice).await.apps.adding.unwrap();
    assert_eq!(adding.name, "Work phone");
    assert!(adding.qr_svg.starts_with("<svg"));
    // A code of the first app does not confirm the new one.
    portal.clock.advance(30);
    let wrong = portal
        .call_fn(
            &alice,
            FinishAppAddition {
                new_app_code: first.code(&portal, 0),
            },
        )
        .await;
    assert!(
        matches!(&wrong, Err(AppError::Validation { field, .. }) if field == "new_app_code"),
        "{wrong:?}"
    );
    portal
        .call_fn(
            &alice,
            FinishAppAddition {
                new_app_code: code_for_key(&portal, &adding.key),
            },
        )
        .await
        .expect("the new app's code adds it");
    let overview = portal.overview(&alice).await;
    let names: Vec<&str> = overview
        .apps
        .apps
        .iter()
        .map(|app| app.name.as_str())
        .collect();
    assert_eq!(names, ["Authenticator app", "Work phone"]);
    assert_eq!(overview.apps.adding, None);
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Authenticator app added".to_owned())
    );
    let mail = portal.smtp.wait_for("alice@example.com", 2).await;
    assert!(
        mail.iter()
            .any(|mail| mail.subject.contains("authenticator app was added")),
        "{:?}",
        mail.iter().map(|mail| &mail.subject).collect::<Vec<_>>()
    );

    // The new app's code signs in, once; the first app's code of the same step still does.
    portal.clock.advance(30);
    let new_code = code_for_key(&portal, &adding.key);
    let (browser, status) = sign_in_with(&portal, "alice", &new_code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        portal.overview(&browser).await.apps.apps[1]
            .last_used
            .is_some()
    );
    let (_, replayed) = sign_in_with(&portal, "alice", &new_code).await;
    assert_ne!(replayed, StatusCode::OK, "a code is accepted once");
    let (_, first_app) = sign_in_with(&portal, "alice", &first.code(&portal, 0)).await;
    assert_eq!(first_app, StatusCode::OK, "each app has its own codes");
}

#[tokio::test]
async fn only_the_sign_in_that_started_an_addition_sees_its_key_and_finishes_it() {
    let portal = TestPortal::start().await;
    let (alice, first) = portal.account_with_two_factor("alice").await;
    portal.clock.advance(30);
    portal
        .call_fn(
            &alice,
            StartAppAddition {
                app_name: "Tablet".into(),
                app_code: first.code(&portal, 0),
            },
        )
        .await
        .unwrap();
    let key = portal.overview(&alice).await.apps.adding.unwrap().key;
    portal.clock.advance(30);
    let (other, status) = sign_in_with(&portal, "alice", &first.code(&portal, 0)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(portal.overview(&other).await.apps.adding, None);
    assert_eq!(
        portal
            .call_fn(
                &other,
                FinishAppAddition {
                    new_app_code: code_for_key(&portal, &key),
                },
            )
            .await,
        Err(AppError::AppAdditionGone)
    );
    assert_eq!(portal.overview(&alice).await.apps.apps.len(), 1);
}

#[tokio::test]
async fn an_app_is_removed_while_another_remains_and_by_its_account_only() {
    let portal = TestPortal::start().await;
    let (alice, first) = portal.account_with_two_factor("alice").await;
    let (bob, bobs_app) = portal.account_with_two_factor("bob").await;
    let key = add_app(&portal, &alice, &first, "Old phone").await;
    let apps = portal.overview(&alice).await.apps.apps;
    let (first_id, second_id) = (apps[0].id, apps[1].id);
    assert_eq!(
        portal
            .call_fn(
                &bob,
                RemoveAuthenticatorApp {
                    id: second_id,
                    code: bobs_app.recovery_code.clone(),
                },
            )
            .await,
        Err(AppError::NotFound {
            what: Missing::AuthenticatorApp
        })
    );
    portal.clock.advance(30);
    let (other, _) = sign_in_with(&portal, "alice", &first.code(&portal, 0)).await;
    // Both removed at once (the recovery code confirms each): one goes, the last stays.
    let answers = at_once(2, |index| {
        let id = [first_id, second_id][index];
        let code = first.recovery_code.clone();
        portal.call_fn(&alice, RemoveAuthenticatorApp { id, code })
    })
    .await;
    assert_eq!(
        answers.iter().filter(|answer| answer.is_ok()).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.contains(&Err(AppError::LastAuthenticatorApp)),
        "{answers:?}"
    );
    let left = portal.overview(&alice).await.apps.apps;
    assert_eq!(left.len(), 1);
    assert_eq!(
        portal
            .call_fn(
                &alice,
                RemoveAuthenticatorApp {
                    id: left[0].id,
                    code: first.recovery_code.clone(),
                },
            )
            .await,
        Err(AppError::LastAuthenticatorApp)
    );
    assert_ne!(
        portal.get_status(&other, "/portal").await,
        StatusCode::OK,
        "removing an app ends the other sessions"
    );
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Authenticator app removed".to_owned())
    );
    // The removed app's codes no longer sign in.
    portal.clock.advance(30);
    let removed_code = if left[0].id == first_id {
        code_for_key(&portal, &key)
    } else {
        first.code(&portal, 0)
    };
    let (_, status) = sign_in_with(&portal, "alice", &removed_code).await;
    assert_ne!(status, StatusCode::OK);

    // A reset of two-factor authentication removes every app.
    let output = portal.admin(&["reset-2fa", "alice", "--reason", "lost both phones"]);
    assert!(output.status.success(), "{output:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM authenticator_apps a JOIN users u ON u.id = a.user_id WHERE u.username = 'alice'")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// Review M3: a session without a second factor (password and code minutes ago, or the password
/// alone on a remembered browser) tries to remove one of Alice's two apps. No code, or a wrong
/// one, removes nothing and signs nobody out; a code then does.
async fn removing_an_app_asks_for_a_code(remembered: bool) {
    let portal = TestPortal::start().await;
    let (alice, first) = portal.account_with_two_factor("alice").await;
    add_app(&portal, &alice, &first, "Old phone").await;
    let id = portal.overview(&alice).await.apps.apps[1].id.to_string();
    let other = second_browser(&portal, "alice", &first, remembered).await;

    let without_code = answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveAuthenticatorApp {
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
    let wrong_code = first.code(&portal, 10);
    let wrong = answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveAuthenticatorApp {
                    id: id.parse().unwrap(),
                    code: wrong_code.clone(),
                },
            )
            .await,
    )
    .await;
    assert_eq!(wrong.as_ref().err().and_then(AppError::field), Some("code"));
    assert_eq!(
        portal.overview(&alice).await.apps.apps.len(),
        2,
        "nothing removed"
    );
    assert_eq!(
        portal.get_status(&alice, "/portal").await,
        StatusCode::OK,
        "the owner stays signed in"
    );

    portal.clock.advance(30);
    let code = first.code(&portal, 0);
    answer::<()>(
        portal
            .post_fn(
                &other,
                RemoveAuthenticatorApp {
                    id: id.parse().unwrap(),
                    code: code.clone(),
                },
            )
            .await,
    )
    .await
    .expect("the code removes it");
    assert_eq!(portal.overview(&other).await.apps.apps.len(), 1);
}

#[tokio::test]
async fn a_browser_signed_in_with_password_and_code_removes_an_app_only_with_another_code() {
    removing_an_app_asks_for_a_code(false).await;
}

#[tokio::test]
async fn a_remembered_browser_signed_in_with_the_password_removes_an_app_only_with_a_code() {
    removing_an_app_asks_for_a_code(true).await;
}

/// Review L1: removals of different apps at once, each counting the apps it leaves. On
/// PostgreSQL each DELETE counted with its own snapshot, so all could see "more than one" and
/// all go through. The store's removal is raced directly, over the portal's own pool: the code
/// asked before it (above) would only spread the removals out.
#[tokio::test]
async fn ten_removals_of_ten_apps_at_once_always_leave_one() {
    let portal = TestPortal::start().await;
    portal.account_with_two_factor("alice").await;
    let pool = &portal.state.pool;
    let user_id = app::store::UserId(portal.user_id("alice").await);
    for round in 0..20 {
        let have = app::store::authenticator_apps_of(pool, user_id)
            .await
            .unwrap()
            .len();
        for _ in have..10 {
            sqlx::query(
                "INSERT INTO authenticator_apps (user_id, name, secret_sealed, last_accepted_step, created_at)
                 SELECT user_id, name, secret_sealed, last_accepted_step, created_at
                 FROM authenticator_apps WHERE user_id = $1 LIMIT 1",
            )
            .bind(user_id.0)
            .execute(pool)
            .await
            .unwrap();
        }
        let ids: Vec<i64> = app::store::authenticator_apps_of(pool, user_id)
            .await
            .unwrap()
            .iter()
            .map(|app| app.id)
            .collect();
        assert_eq!(ids.len(), 10);
        let removed = at_once(ids.len(), |index| {
            app::store::remove_authenticator_app(pool, user_id, ids[index])
        })
        .await;
        let removed = removed
            .into_iter()
            .filter(|removed| removed.as_ref().unwrap().is_some())
            .count();
        let left = app::store::authenticator_apps_of(pool, user_id)
            .await
            .unwrap()
            .len();
        assert_eq!((removed, left), (9, 1), "round {round}");
    }
}

#[tokio::test]
async fn without_javascript_an_app_is_removed_with_the_code_typed_beside_the_list() {
    let portal = TestPortal::start().await;
    let (alice, first) = portal.account_with_two_factor("alice").await;
    add_app(&portal, &alice, &first, "Old phone").await;
    let id = portal.overview(&alice).await.apps.apps[1].id.to_string();
    let page = portal.get_text(&alice, "/settings/security").await;
    assert!(
        page.contains(&format!(r#"name="id" value="{id}""#)),
        "{page}"
    );
    assert!(page.contains(r#"id="field-remove_app_code""#), "{page}");

    let form = RemoveAuthenticatorApp {
        id: id.parse().unwrap(),
        code: String::new(),
    };
    let response = portal.submit(&alice, "/settings/security", form).await;
    let back = portal.url(location(&response).unwrap());
    let page = open_link(&alice, &back).await;
    let beside_the_field = page
        .split(r#"id="remove_app_code-message""#)
        .nth(1)
        .unwrap_or_default();
    assert!(
        beside_the_field
            .split("</p>")
            .next()
            .unwrap_or_default()
            .contains("Enter the 6-digit code from your authenticator app, or your recovery code."),
        "{page}"
    );
    assert_eq!(portal.overview(&alice).await.apps.apps.len(), 2);

    let code = first.recovery_code.clone();
    let form = RemoveAuthenticatorApp {
        id: id.parse().unwrap(),
        code,
    };
    let response = portal.submit(&alice, "/settings/security", form).await;
    assert_eq!(
        location(&response),
        Some("/settings/security?notice=app-removed")
    );
    assert_eq!(portal.overview(&alice).await.apps.apps.len(), 1);
}
