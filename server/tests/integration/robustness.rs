//! Bad input gets a 4xx with a message, never a 500 or a panic, and the server keeps serving.

use crate::common::TestPortal;
use app::account::signup::Signup;
use reqwest::{StatusCode, header};

#[tokio::test]
async fn malformed_form_bodies_are_bad_requests() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "username=alice"),
        ("application/x-www-form-urlencoded", "%%%=%%%"),
        (
            "application/x-www-form-urlencoded",
            "username=%FF%FE&password=x&next=",
        ),
        ("application/json", "{\"username\": 1"),
        ("text/plain", "\u{0}\u{1}binary"),
    ] {
        let response = browser
            .post(portal.url("/api/login"))
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_client_error(),
            "{content_type} {body:?} → {status}"
        );
    }
    assert_eq!(portal.get_status(&browser, "/login").await, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let portal = TestPortal::start().await;
    let huge = "a".repeat(1024 * 1024);
    let response = portal
        .post_fn(
            &portal.browser(),
            Signup {
                username: "alice".to_owned(),
                email: "a@example.com".to_owned(),
                password: huge.to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_long_password_is_a_validation_message() {
    let portal = TestPortal::start().await;
    let long = "a".repeat(129);
    let response = portal
        .post_fn(
            &portal.browser(),
            Signup {
                username: "alice".to_owned(),
                email: "a@example.com".to_owned(),
                password: long.to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_unknown_page_is_a_real_404_page() {
    let portal = TestPortal::start().await;
    let response = portal.get(&portal.browser(), "/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn an_unknown_server_function_is_a_client_error() {
    let portal = TestPortal::start().await;
    let response = portal
        .post_form(&portal.browser(), "/api/no_such_function", &[])
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
}
