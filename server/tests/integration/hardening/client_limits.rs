//! Per-address limits on the sign-in endpoints and the client address they count by: behind a
//! trusted proxy, without one, and IPv6 clients sharing a /64.

use app::{account::login::LoginStage, error::AppError};

use crate::common::{PASSWORD, TestPortal, answer};
use reqwest::StatusCode;

use super::{header_value, sessions};

#[tokio::test]
async fn sign_in_requests_past_the_limit_get_429_with_the_wait() {
    let portal = TestPortal::start_with(&["--sign-in-limit", "5"]).await;
    let browser = portal.browser();
    for _ in 0..5 {
        let response = portal.sign_in(&browser, "nobody", "whatever1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = portal.sign_in(&browser, "nobody", "whatever1").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        header_value(&limited, "retry-after")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(matches!(
        answer::<LoginStage>(limited).await,
        Err(AppError::TryAgainIn { seconds: 1.. })
    ));
    let page = portal
        .submit(
            &browser,
            "/login",
            "login",
            &[
                ("username", "nobody"),
                ("password", "whatever1"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.text().await.unwrap().contains("Try again in"));
    // Pages stay open.
    assert_eq!(portal.get_status(&browser, "/login").await, StatusCode::OK);
}

/// The addresses the audit log recorded for accounts, each once.
async fn audited_addresses(portal: &TestPortal) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT address FROM audit_events WHERE address IS NOT NULL AND user_id IS NOT NULL",
   )
        .fetch_all(&portal.database().await)
        .await
        .unwrap()
}

/// Signs in `tries` times with a wrong password and returns the last status.
async fn wrong_sign_ins(
    portal: &TestPortal,
    browser: &reqwest::Client,
    tries: usize,
) -> StatusCode {
    let mut status = StatusCode::OK;
    for _ in 0..tries {
        status = portal
            .sign_in(browser, "nobody", "whatever1")
            .await
            .status();
    }
    status
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit_and_address() {
    let portal =
        TestPortal::start_with(&["--sign-in-limit", "3", "--trusted-proxies", "127.0.0.1"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        wrong_sign_ins(&portal, &first, 1).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // What the client sent before the proxy's own hop is not believed: the proxy's hop is.
    let second = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1, 198.51.100.2")]);
    assert_eq!(
        wrong_sign_ins(&portal, &second, 1).await,
        StatusCode::UNAUTHORIZED
    );

    let alice = portal.browser_with_headers(&[("x-forwarded-for", "203.0.113.9")]);
    portal.sign_up(&alice, "alice", PASSWORD).await;
    let phone = portal.browser_with_headers(&[("forwarded", "for=\"[2001:db8::7]:4711\"")]);
    assert_eq!(
        portal.sign_in(&phone, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let mut listed: Vec<String> = sessions(&portal, &alice)
        .await
        .iter()
        .map(|session| session.address.clone())
        .collect();
    listed.sort();
    assert_eq!(listed, ["2001:db8::7", "203.0.113.9"]);
    // The sign-in is audited with the address the proxy reported.
    assert_eq!(audited_addresses(&portal).await, ["2001:db8::7"]);
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarded_for_is_ignored() {
    let portal = TestPortal::start_with(&["--sign-in-limit", "3"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    let second = portal.browser_with_headers(&[
        ("x-forwarded-for", "198.51.100.2"),
        ("forwarded", "for=198.51.100.3"),
    ]);
    assert_eq!(
        wrong_sign_ins(&portal, &second, 1).await,
        StatusCode::TOO_MANY_REQUESTS,
        "limited as the peer, 127.0.0.1"
    );

    let portal = TestPortal::start().await;
    let alice = portal.browser_with_headers(&[("x-forwarded-for", "203.0.113.9")]);
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.sign_in(&alice, "alice", PASSWORD).await;
    let listed = sessions(&portal, &alice).await;
    assert!(listed.iter().all(|session| session.address == "127.0.0.1"));
    assert_eq!(audited_addresses(&portal).await, ["127.0.0.1"]);
}

#[tokio::test]
async fn ipv6_clients_in_one_64_share_a_limit() {
    let portal =
        TestPortal::start_with(&["--sign-in-limit", "3", "--trusted-proxies", "127.0.0.0/8"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "2001:db8:1:2::1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    for neighbour in [
        ("x-forwarded-for", "2001:db8:1:2:ffff:ffff:ffff:fffe"),
        ("forwarded", "for=\"[2001:db8:1:2::abcd]:4711\""),
    ] {
        let browser = portal.browser_with_headers(&[neighbour]);
        assert_eq!(
            wrong_sign_ins(&portal, &browser, 1).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{neighbour:?}"
        );
    }
    let next_network = portal.browser_with_headers(&[("x-forwarded-for", "2001:db8:1:3::1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &next_network, 1).await,
        StatusCode::UNAUTHORIZED
    );
}
