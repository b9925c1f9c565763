//! Per-address limits on the sign-in endpoints and the client address they count by: behind a
//! trusted proxy, without one, and IPv6 clients sharing a /64.

use app::account::new_password::AssessPassword;
use app::org::CreateOrganization;
use app::{account::login::LoginStage, error::AppError};
use leptos::server_fn::ServerFn;

use crate::common::{PASSWORD, TestPortal, answer};
use reqwest::StatusCode;

use super::{header_value, sessions};

#[tokio::test]
async fn sign_in_requests_past_the_limit_get_429_with_the_wait() {
    let portal = TestPortal::builder().sign_in_limit(5).start().await;
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
            crate::common::login("nobody", "whatever1"),
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
    let portal = TestPortal::builder()
        .sign_in_limit(3)
        .arg("--trusted-proxies", "127.0.0.1")
        .start()
        .await;
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
    let portal = TestPortal::builder().sign_in_limit(3).start().await;
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
    let portal = TestPortal::builder()
        .sign_in_limit(3)
        .arg("--trusted-proxies", "127.0.0.0/8")
        .start()
        .await;
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

/// Anonymous endpoints that write (a link's token spent, a ceremony kept) are limited like the
/// sign-in: one address cannot queue thousands of write transactions (review M4).
#[tokio::test]
async fn anonymous_writes_past_the_limit_get_429() {
    let limit = 5;
    for function in [
        <app::account::change_email::KeepEmail as ServerFn>::PATH,
        <app::account::change_email::ConfirmEmailChange as ServerFn>::PATH,
        <app::security_keys::sign_in::StartPasskeySignIn as ServerFn>::PATH,
    ] {
        // On localhost, so WebAuthn is configured and the passkey start keeps a ceremony.
        let portal = TestPortal::builder()
            .localhost()
            .sign_in_limit(limit)
            .start()
            .await;
        let browser = portal.browser();
        for attempt in 0..limit {
            let token = format!("made-up-token-{attempt}");
            let status = portal
                .post_form(&browser, function, &[("token", &token)])
                .await
                .status();
            assert_ne!(
                status,
                StatusCode::TOO_MANY_REQUESTS,
                "{function} {attempt}"
            );
        }
        let status = portal
            .post_form(&browser, function, &[("token", "made-up-token")])
            .await
            .status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{function}");
    }
}

/// Every field any server function takes, each `1`, which every argument type reads (a
/// string, a number, a present option): the probe below reaches each function's own checks
/// instead of failing on a missing argument. A new argument name belongs here.
const PROBE_FIELDS: [&str; 27] = [
    "slug",
    "username",
    "required",
    "grace_days",
    "allowed",
    "new_email",
    "password",
    "code",
    "token",
    "id",
    "account",
    "name",
    "credential",
    "current_password",
    "new_password",
    "email",
    "known",
    "next",
    "remember",
    "app_name",
    "app_code",
    "new_app_code",
    "saved",
    "recovery_code",
    "request",
    "decision",
    "client_id",
];

/// The server functions that answer someone with no account, write nothing and run nothing
/// costly, so they need no per-address limit. Each is here on purpose; a new function that
/// answers without an account fails the test below until it is put here or in `LIMITED`.
const ANONYMOUS_READ_ONLY: [&str; 12] = [
    // Who is signed in: reads the session.
    "/api/current_user",
    // Which step of the sign-in the browser is at: reads the session.
    "/api/login_stage",
    // What a link is about, before its page asks to confirm: one indexed read each.
    "/api/email_change_link",
    "/api/email_undo_link",
    "/api/password_reset_link",
    "/api/secure_account_link",
    "/api/recovery_request",
    "/api/verification_link",
    // An organization's hold on the signed-in account: none without one.
    "/api/requirement_notice",
    // Signing out and starting over forget this browser's own session: nothing shared, and
    // nothing at all without a session.
    "/api/logout",
    "/api/start_over",
    // Forward-auth's sign-out page: signs out this browser's own session, as logout does.
    "/api/sign_out_to_app",
];

/// Posts the probe to `path` from a new browser with no session: whether the function answers
/// "sign in first" or runs.
async fn needs_an_account(portal: &TestPortal, path: &str) -> bool {
    let browser = portal.browser();
    let fields: Vec<(&str, &str)> = PROBE_FIELDS.iter().map(|name| (*name, "1")).collect();
    let response = browser
        .post(portal.url(path))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&fields)
        .send()
        .await
        .unwrap();
    matches!(
        answer::<serde_json::Value>(response).await,
        Err(AppError::Unauthorized)
    )
}

/// The rule, read from the server function registry rather than from a list kept by hand:
/// every function that runs for someone without an account is limited per address, unless it
/// is classified above as read-only (review M4).
#[tokio::test]
async fn every_anonymous_endpoint_that_writes_is_rate_limited() {
    let portal = TestPortal::builder().localhost().start().await;
    let mut registered: Vec<(&str, axum::http::Method)> =
        leptos::server_fn::axum::server_fn_paths().collect();
    registered.sort_by_key(|(path, _)| *path);
    assert!(
        registered.len() >= 50,
        "the registry holds the app's server functions: {registered:?}"
    );
    for exempt in ANONYMOUS_READ_ONLY {
        assert!(
            registered.iter().any(|(path, _)| *path == exempt),
            "{exempt} is no longer a server function"
        );
        assert!(!server::is_limited(exempt), "{exempt}");
    }
    let mut unclassified = Vec::new();
    for (path, method) in registered {
        assert_eq!(method, axum::http::Method::POST, "{path}");
        if server::is_limited(path) || ANONYMOUS_READ_ONLY.contains(&path) {
            continue;
        }
        if !needs_an_account(&portal, path).await {
            unclassified.push(path);
        }
    }
    assert!(
        unclassified.is_empty(),
        "these run without an account but are neither limited nor listed as read-only: {unclassified:?}"
    );
}

/// A failed post without JavaScript keeps its error in the session. From a client with no
/// session, to an endpoint outside the limit, that would be a new session row per request.
#[tokio::test]
async fn a_failed_form_to_an_unlimited_endpoint_makes_no_session() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let response = portal
        .submit(
            &browser,
            "/portal",
            CreateOrganization {
                name: "Acme".to_owned(),
            },
        )
        .await;
    assert!(
        crate::common::location(&response).is_some_and(|to| to.contains("__err=")),
        "the form failed"
    );
    assert_eq!(crate::common::session_id(&response), None);
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&portal.state.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    // A limited endpoint's failed form still comes back with its message.
    let response = portal
        .submit(
            &browser,
            "/login",
            crate::common::login("nobody", "whatever1"),
        )
        .await;
    assert!(crate::common::session_id(&response).is_some());
}

/// A made-up email-change link is refused before the write lock is asked for: it answers while
/// another transaction holds that lock (review M4).
#[tokio::test]
async fn a_made_up_email_link_is_refused_without_waiting_for_the_write_lock() {
    let portal = TestPortal::start().await;
    let pool = portal.database().await;
    let holder = app::store::begin_write(&pool).await.unwrap();
    for function in [
        <app::account::change_email::KeepEmail as ServerFn>::PATH,
        <app::account::change_email::ConfirmEmailChange as ServerFn>::PATH,
    ] {
        let answered = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            portal.post_form(&portal.browser(), function, &[("token", "made-up-token")]),
        )
        .await;
        let response = answered.unwrap_or_else(|_| panic!("{function} waited for the lock"));
        assert!(
            matches!(
                answer::<()>(response).await,
                Err(AppError::LinkInvalid { .. })
            ),
            "{function}"
        );
    }
    holder.rollback().await.unwrap();
}

/// The strength meter runs zxcvbn on the threads Argon2id uses: limited per address, in an
/// allowance of its own (ten sign-ins' worth), so a person typing does not use up their
/// sign-ins (review M4).
#[tokio::test]
async fn the_strength_meter_is_limited_apart_from_the_sign_in() {
    let portal = TestPortal::builder().sign_in_limit(1).start().await;
    let browser = portal.browser();
    let assess = || {
        portal.call_status(
            &browser,
            AssessPassword {
                password: "correct horse".to_owned(),
                known: String::new(),
            },
        )
    };
    for attempt in 0..10 {
        assert_eq!(assess().await, StatusCode::OK, "{attempt}");
    }
    assert_eq!(assess().await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        portal
            .sign_in(&browser, "nobody", "whatever1")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}
