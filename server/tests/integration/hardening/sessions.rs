//! Sessions and re-authentication: the security page's list of sessions, signing them out, the
//! password asked again for changes, and anonymous sessions' lifetime.

use crate::common::{PASSWORD, TestPortal, session_id};
use app::account::portal::Logout;
use app::account::sessions::{ConfirmPassword, RevokeSession, SignOutOtherSessions};
use app::settings::LoadSecurityOverview;
use app::two_factor::manage::RegenerateRecoveryCode;
use app::{error::AppError, two_factor::enroll::StartEnrollment};
use reqwest::StatusCode;

use super::sessions;

use super::failed_sign_in_form;

#[tokio::test]
async fn the_security_page_lists_sessions_and_signs_one_out() {
    let portal = TestPortal::start().await;
    let laptop = portal.browser();
    portal.sign_up(&laptop, "alice", PASSWORD).await;
    let phone = portal.browser();
    portal.sign_in(&phone, "alice", PASSWORD).await;

    let listed = sessions(&portal, &laptop).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|session| session.current).count(), 1);
    assert!(listed.iter().all(|session| session.address == "127.0.0.1"));
    let other = listed
        .iter()
        .find(|session| !session.current)
        .unwrap()
        .id
        .clone();

    // One account cannot sign out another's sessions.
    let mallory = portal.browser();
    portal.sign_up(&mallory, "mallory", PASSWORD).await;
    portal
        .post_fn(
            &mallory,
            RevokeSession {
                id: other.to_owned(),
            },
        )
        .await;
    assert_eq!(portal.get_status(&phone, "/portal").await, StatusCode::OK);

    assert_eq!(
        portal
            .call_status(
                &laptop,
                RevokeSession {
                    id: other.to_owned()
                }
            )
            .await,
        StatusCode::OK
    );
    assert_eq!(
        portal.get_status(&phone, "/portal").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(portal.get_status(&laptop, "/portal").await, StatusCode::OK);
    assert_eq!(sessions(&portal, &laptop).await.len(), 1);
}

#[tokio::test]
async fn signing_out_all_other_sessions_keeps_this_one() {
    let portal = TestPortal::start().await;
    let laptop = portal.browser();
    portal.sign_up(&laptop, "alice", PASSWORD).await;
    let others: Vec<_> = (0..3).map(|_| portal.browser()).collect();
    for browser in &others {
        portal.sign_in(browser, "alice", PASSWORD).await;
    }
    assert_eq!(
        portal.call_status(&laptop, SignOutOtherSessions {}).await,
        StatusCode::OK
    );
    for browser in &others {
        assert_eq!(
            portal.get_status(browser, "/portal").await,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(portal.get_status(&laptop, "/portal").await, StatusCode::OK);
}

#[tokio::test]
async fn changing_the_second_factor_signs_out_every_other_session() {
    let portal = TestPortal::start().await;
    let (laptop, authenticator) = portal.account_with_two_factor("alice").await;
    let phone = portal.browser();
    portal.sign_in(&phone, "alice", PASSWORD).await;
    portal
        .verify_code(&phone, &authenticator.code(&portal, 1))
        .await;
    assert_eq!(portal.get_status(&phone, "/portal").await, StatusCode::OK);

    // A new recovery code (the code of the next step: the last one is spent).
    portal.clock.advance(30);
    let regenerated = portal
        .post_fn(
            &laptop,
            RegenerateRecoveryCode {
                code: authenticator.code(&portal, 1),
            },
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    assert_eq!(
        portal.get_status(&phone, "/portal").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(portal.get_status(&laptop, "/portal").await, StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_older_than_fifteen_minutes_asks_for_the_password_before_a_change() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.clock.advance(16 * 60);
    assert!(!portal.overview(&browser).await.two_factor.password_recent);
    assert_eq!(
        portal.call_fn(&browser, StartEnrollment {}).await,
        Err(AppError::PasswordRequired)
    );

    let wrong = portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: "not the password".to_owned(),
            },
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let right = portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        portal.call_status(&browser, StartEnrollment {}).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn confirming_the_password_again_renews_the_session_id() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let browser = portal.browser();
    let before = session_id(&portal.sign_in(&browser, "alice", PASSWORD).await)
        .expect("a sign-in sets the session cookie");
    portal.clock.advance(16 * 60);
    let confirmed = portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let after = session_id(&confirmed).expect("a step up sets the session cookie");
    assert_ne!(before, after, "the session id is renewed at the step up");
    assert!(portal.overview(&browser).await.two_factor.password_recent);
}

/// A request sent with the old id, still in flight when a step up renews it (the strength
/// meter's, while the password is changed), must not remove the browser's session cookie: its
/// answer can arrive after the step up's and would sign the person out. A page load with a dead
/// cookie still clears it, and a sign-out still removes its own.
#[tokio::test]
async fn a_request_in_flight_with_the_old_id_does_not_sign_the_browser_out() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let browser = portal.browser();
    let old = session_id(&portal.sign_in(&browser, "alice", PASSWORD).await)
        .expect("a sign-in sets the session cookie");
    portal.clock.advance(16 * 60);
    let confirmed = portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_ne!(
        session_id(&confirmed),
        Some(old.clone()),
        "the step up renews the id"
    );

    // What the late request's answer says about the session cookie.
    let late = |path: &'static str, post: bool| {
        let portal = &portal;
        let old = old.clone();
        async move {
            let client = portal.browser();
            let request = if post {
                client
                    .post(portal.url(path))
                    .header("Sec-Fetch-Site", "same-origin")
                    .form(&[("password", "plum tractor seventy"), ("known", "")])
            } else {
                client.get(portal.url(path))
            };
            let response = request.header("Cookie", &old).send().await.unwrap();
            response
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|cookie| cookie.to_str().ok())
                .any(|cookie| cookie.starts_with("portal_session=") && cookie.contains("Max-Age=0"))
        }
    };
    assert!(
        !late("/api/assess_password", true).await,
        "a server function's answer removed the renewed session's cookie"
    );
    assert!(
        late("/settings/security", false).await,
        "a page load with a dead cookie clears it"
    );
    assert!(portal.overview(&browser).await.two_factor.password_recent);
    let signed_out = portal.post_fn(&browser, Logout {}).await;
    assert!(
        signed_out
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|cookie| cookie.to_str().ok())
            .any(|cookie| cookie.starts_with("portal_session=") && cookie.contains("Max-Age=0")),
        "signing out removes the cookie"
    );
}

#[tokio::test]
async fn the_security_page_shows_browser_names_never_text_from_the_user_agent() {
    let portal = TestPortal::start().await;
    let owner = portal.browser();
    portal.sign_up(&owner, "alice", PASSWORD).await;
    let planted = "Your account is locked. Call Portal support on +1 555 0100.";
    let attacker = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(planted)
        .build()
        .unwrap();
    // One wrong password plants an event; a right one a session.
    portal.sign_in(&attacker, "alice", "wrong password").await;
    portal.sign_in(&attacker, "alice", PASSWORD).await;
    let page = portal.call_text(&owner, LoadSecurityOverview {}).await;
    assert!(!page.contains("Call Portal"), "{page}");
    assert!(page.contains("unknown browser"), "{page}");
}

#[tokio::test]
async fn an_anonymous_session_lives_thirty_idle_minutes_and_its_row_is_then_deleted() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let fields = [
        ("username", "keep-me"),
        ("password", "x"),
        ("next", ""),
        ("__page", "/login"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()));
    failed_sign_in_form(&portal, &browser, &fields).await;
    let database = portal.database().await;
    let expires_at: i64 = sqlx::query_scalar("SELECT expires_at FROM sessions")
        .fetch_one(&database)
        .await
        .unwrap();
    let seconds_left = expires_at - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (1700..=1810).contains(&seconds_left),
        "expires in {seconds_left} s"
    );

    // Expired while the server was down: the next start deletes it, without waiting a period.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() - 60)
        .execute(&database)
        .await
        .unwrap();
    database.close().await;
    let portal = portal.restart().await;
    let database = portal.database().await;
    let mut rows: i64 = 1;
    for _ in 0..50 {
        rows = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&database)
            .await
            .unwrap();
        if rows == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 0, "the expired session row is deleted");
}

/// A session id is a bearer credential: the database keeps only its hash, so a copy of it (a
/// backup) holds no cookie that resumes a session, and a key read from it is no cookie either.
#[tokio::test]
async fn a_copy_of_the_database_holds_no_session_cookie() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let browser = portal.browser();
    let cookie = session_id(&portal.sign_in(&browser, "alice", PASSWORD).await)
        .expect("a sign-in sets the session cookie");
    let id = cookie.trim_start_matches("portal_session=");
    portal.overview(&browser).await;

    let database = portal.database().await;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_all(&database)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for (key, data) in &rows {
        assert_ne!(key, id, "a row is kept under the cookie's id");
        assert!(
            !String::from_utf8_lossy(data).contains(id),
            "a row's data holds the cookie's id"
        );
        let replayed = portal.browser_with_headers(&[("Cookie", &format!("portal_session={key}"))]);
        assert!(
            portal
                .call_fn(&replayed, LoadSecurityOverview {})
                .await
                .is_err(),
            "a key read from the database resumes no session"
        );
    }
}
