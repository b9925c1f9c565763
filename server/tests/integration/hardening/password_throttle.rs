//! The per-username password throttle and the device cookie that lets the owner's browser in while
//! an attacker waits.

use crate::common::{PASSWORD, TestPortal, at_once, checked_and_waited};
use app::account::sessions::ConfirmPassword;
use reqwest::StatusCode;

#[tokio::test]
async fn wrong_passwords_are_throttled_per_username_known_or_not() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    for username in ["alice", "nobody"] {
        let browser = portal.browser();
        for _ in 0..5 {
            assert_eq!(
                portal
                    .sign_in(&browser, username, "wrong password")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        // Two more, each after its wait: the next wait is 4 seconds, long enough that the
        // right password below surely falls inside it.
        let mut wrong = 5;
        while wrong < 7 {
            match portal
                .sign_in(&browser, username, "wrong password")
                .await
                .status()
            {
                StatusCode::UNAUTHORIZED => wrong += 1,
                StatusCode::TOO_MANY_REQUESTS => portal.clock.advance(60),
                other => panic!("unexpected {other}"),
            }
        }
        let throttled = portal.sign_in(&browser, username, PASSWORD).await;
        assert_eq!(
            throttled.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{username}"
        );
    }
    portal.clock.advance(60);
    assert_eq!(
        portal
            .sign_in(&portal.browser(), "alice", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

/// The answers to `count` wrong passwords for `username` sent at once, each from a new browser.
async fn wrong_passwords_at_once(
    portal: &TestPortal,
    username: &str,
    count: usize,
) -> Vec<StatusCode> {
    at_once(count, |index| async move {
        portal
            .sign_in(&portal.browser(), username, &format!("wrong guess {index}"))
            .await
            .status()
    })
    .await
}

#[tokio::test]
async fn thirty_wrong_passwords_at_once_are_not_all_checked() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    for username in ["alice", "nobody"] {
        let statuses = wrong_passwords_at_once(&portal, username, 30).await;
        let (checked, waited) = checked_and_waited(&statuses, StatusCode::UNAUTHORIZED);
        assert!(checked <= 6, "{username}: {checked} of 30 were checked");
        assert_eq!(checked + waited, 30, "{username}: {statuses:?}");
    }
}

#[tokio::test]
async fn confirming_the_password_shares_the_sign_in_throttle_and_is_audited() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let statuses = at_once(30, |index| {
        let (portal, browser) = (&portal, &browser);
        async move {
            portal
                .call_status(
                    browser,
                    ConfirmPassword {
                        password: format!("guess {index}"),
                    },
                )
                .await
        }
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert!(checked <= 6, "{checked} of 30 were checked: {statuses:?}");
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The same counter: past its wait, this browser's wrong sign-ins add to the count the
    // confirmations made, until the wait is long enough to surely cover the next attempt.
    let mut wrong = checked;
    while wrong < 7 {
        portal.clock.advance(15 * 60);
        let status = portal
            .sign_in(&browser, "alice", "wrong password")
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        wrong += 1;
    }
    let counted: i64 = sqlx::query_scalar("SELECT failures FROM password_failures")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(counted, 7, "one counter for sign-in and re-authentication");
    let waited = portal
        .post_fn(
            &browser,
            ConfirmPassword {
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(waited.status(), StatusCode::TOO_MANY_REQUESTS);
    let failed = portal
        .events(&browser)
        .await
        .iter()
        .filter(|event| event.contains("Incorrect password"))
        .count();
    assert_eq!(
        failed, 7,
        "each checked wrong password is on the security page"
    );
}

#[tokio::test]
async fn an_attacker_hammering_a_username_waits_while_the_owners_browser_gets_in() {
    let portal = TestPortal::start().await;
    let owner = portal.browser();
    portal.sign_up(&owner, "alice", PASSWORD).await;
    let attacker = portal.browser();
    // Past the free failures, each wrong password waits longer; the attacker keeps it at 15 minutes.
    let mut wrong = 0;
    while wrong < 20 {
        match portal
            .sign_in(&attacker, "alice", "not her password")
            .await
            .status()
        {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => portal.clock.advance(15 * 60),
            other => panic!("unexpected {other}"),
        }
    }
    // The attacker waits, even with the right password, and so does any new browser.
    let attacker_right = portal.sign_in(&attacker, "alice", PASSWORD).await;
    assert_eq!(attacker_right.status(), StatusCode::TOO_MANY_REQUESTS);
    let stranger = portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS);
    // The browser that signed in to alice before is not kept out.
    let owner_in = portal.sign_in(&owner, "alice", PASSWORD).await;
    assert_eq!(owner_in.status(), StatusCode::OK);
    assert_eq!(portal.get_status(&owner, "/portal").await, StatusCode::OK);
    // Its own wrong passwords are still throttled, on its own counter: 5 free, then each waits
    // (7 in all, so the next wait, 4 seconds, surely covers the attempt below).
    for _ in 0..5 {
        assert_eq!(
            portal.sign_in(&owner, "alice", "typo typo").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let mut wrong = 5;
    while wrong < 7 {
        match portal.sign_in(&owner, "alice", "typo typo").await.status() {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => portal.clock.advance(60),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        portal.sign_in(&owner, "alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_wrong_password_does_the_same_database_work_for_known_and_unknown_usernames() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let database = portal.database().await;
    let rows = |sql: &'static str| {
        let database = database.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&database)
                .await
                .unwrap()
        }
    };
    let before = rows("SELECT count(*) FROM audit_events").await;
    portal
        .sign_in(&portal.browser(), "alice", "wrong password")
        .await;
    let after_known = rows("SELECT count(*) FROM audit_events").await;
    portal
        .sign_in(&portal.browser(), "nobody", "wrong password")
        .await;
    let after_unknown = rows("SELECT count(*) FROM audit_events").await;
    assert_eq!(after_known - before, 1);
    assert_eq!(after_unknown - after_known, after_known - before);
    assert_eq!(rows("SELECT count(*) FROM password_failures").await, 2);
}

#[tokio::test]
async fn a_login_username_no_account_could_have_is_refused_and_nothing_is_stored() {
    let portal = TestPortal::start().await;
    let long = "x".repeat(5000);
    for username in [long.as_str(), "bad name!", ""] {
        let refused = portal
            .sign_in(&portal.browser(), username, "whatever1")
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("username"));
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM password_failures")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn stale_password_failure_rows_are_deleted() {
    let portal = TestPortal::start().await;
    for index in 0..5 {
        portal
            .sign_in(&portal.browser(), &format!("made-up-{index}"), "whatever1")
            .await;
    }
    portal.clock.advance(2 * 24 * 60 * 60);
    let portal = portal.restart().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM password_failures")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
