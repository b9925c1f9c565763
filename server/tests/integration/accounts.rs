//! Sign-up, sign-in and sign-out against the real server.

use app::account::login::Login;
use app::account::portal::Logout;
use app::account::signup::Signup;
use app::account::verify_email::{ResendVerification, VerifyEmail};
use app::error::AppError;
use leptos::server_fn::ServerFn;

use crate::common::{PASSWORD, TestPortal, location, session_id};
use reqwest::{StatusCode, header};

#[tokio::test]
async fn signing_up_signs_in_and_opens_the_portal() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let response = portal.sign_up(&browser, "alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("serverfnredirect"));

    let page = portal.get(&browser, "/portal").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Signed in as") && html.contains("alice"),
        "{html}"
    );
    assert!(html.contains("Security settings"));
}

#[tokio::test]
async fn a_taken_username_is_refused_on_its_field() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;

    let response = portal.sign_up(&portal.browser(), "ALICE", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("\"field\":\"username\"") && body.contains("taken"),
        "{body}"
    );
}

async fn sign_up_with_email(portal: &TestPortal, username: &str, email: &str) -> reqwest::Response {
    portal
        .post_fn(
            &portal.browser(),
            Signup {
                username: username.to_owned(),
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
            },
        )
        .await
}

#[tokio::test]
async fn sign_up_never_says_an_email_address_is_taken_but_mails_its_owner() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    let before = portal.smtp.mail_to("alice@example.com").len();

    let response = sign_up_with_email(&portal, "alice2", "Alice@Example.com").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the same answer as for a new address"
    );
    let mail = portal.smtp.wait_for("alice@example.com", before + 1).await;
    let letter = mail.last().unwrap();
    assert!(letter.text.contains("already"), "{}", letter.text);
    assert!(
        letter.link(&portal.url("/verify-email?token=")).is_none(),
        "no link that would verify the taken address for the new account"
    );
}

#[tokio::test]
async fn an_unverified_address_does_not_keep_its_owner_from_signing_up() {
    let portal = TestPortal::start().await;
    // Someone signs up first with an address that is not theirs.
    let squatter = sign_up_with_email(&portal, "mallory", "carol@example.com").await;
    assert_eq!(squatter.status(), StatusCode::OK);
    // Its owner can still sign up with it and verify it.
    let owner = portal.browser();
    let response = portal
        .post_fn(
            &owner,
            Signup {
                username: "carol".to_owned(),
                email: "carol@example.com".to_owned(),
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mail = portal.smtp.wait_for("carol@example.com", 2).await;
    let carols_link = mail
        .iter()
        .filter_map(|mail| mail.link(&portal.url("/verify-email?token=")))
        .last()
        .unwrap();
    assert_eq!(
        portal.press_verify(&owner, &carols_link).await.status(),
        StatusCode::OK
    );
    assert!(portal.overview(&owner).await.email.verified);
    // The squatter's link now fails: an address is verified on one account only.
    let mallorys_link = mail
        .iter()
        .filter_map(|mail| mail.link(&portal.url("/verify-email?token=")))
        .next()
        .unwrap();
    let refused = portal.press_verify(&portal.browser(), &mallorys_link).await;
    assert_ne!(refused.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_sign_up_input_is_explained_on_the_field() {
    let portal = TestPortal::start().await;
    for (username, email, password, field) in [
        ("a", "a@example.com", PASSWORD, "username"),
        ("bob", "not-an-email", PASSWORD, "email"),
        ("bob", "bob@example.com", "short", "password"),
    ] {
        let response = portal
            .post_fn(
                &portal.browser(),
                Signup {
                    username: username.to_owned(),
                    email: email.to_owned(),
                    password: password.to_owned(),
                },
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = response.text().await.unwrap();
        assert!(body.contains(&format!("\"field\":\"{field}\"")), "{body}");
    }
}

#[tokio::test]
async fn signing_in_with_the_right_password_reaches_the_portal() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let browser = portal.browser();
    let response = portal.sign_in(&browser, "Alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;

    let wrong_password = portal
        .sign_in(&portal.browser(), "alice", "not the password")
        .await;
    let unknown_user = portal
        .sign_in(&portal.browser(), "mallory", "not the password")
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_user.status(), wrong_password.status());
    let (wrong_password, unknown_user) = (
        wrong_password.text().await.unwrap(),
        unknown_user.text().await.unwrap(),
    );
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(
        serde_json::from_str::<AppError>(&wrong_password).unwrap(),
        AppError::InvalidCredentials
    );
}

#[tokio::test]
async fn without_javascript_a_failed_sign_in_returns_to_the_form_with_its_message() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let response = portal
        .submit(
            &browser,
            "/login",
            crate::common::login("nobody", "whatever1"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response).unwrap().to_owned();
    assert!(back.starts_with("/login?"), "{back}");
    let html = browser
        .get(portal.url(&back))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Incorrect username or password."), "{html}");
}

#[tokio::test]
async fn without_javascript_a_sign_in_goes_to_the_page_asked_for() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let browser = portal.browser();
    let response = portal
        .submit(
            &browser,
            "/login?next=%2Fportal%3Fx%3D1",
            Login {
                username: "alice".to_owned(),
                password: PASSWORD.to_owned(),
                next: "/portal?x=1".to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), Some("/portal?x=1"));

    let hostile = portal
        .submit(
            &portal.browser(),
            "/login",
            Login {
                username: "alice".to_owned(),
                password: PASSWORD.to_owned(),
                next: "//evil.example/".to_owned(),
            },
        )
        .await;
    assert_eq!(location(&hostile), Some("/portal"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let portal = TestPortal::start().await;
    let response = portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("portal_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // Served over http here, so the cookie cannot be Secure.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let id = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("portal_session=");
    assert!(id.len() >= 22, "a 128-bit id: {id}");
}

#[tokio::test]
async fn thirty_minutes_without_a_request_end_the_session_and_each_request_extends_it() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let response = portal.sign_up(&browser, "alice", PASSWORD).await;
    let cookie = set_cookie(&response);
    assert!(cookie.contains("Max-Age=1800"), "{cookie}");

    let database = portal.database().await;
    let expiry = || async {
        let expires_at: i64 = sqlx::query_scalar("SELECT expires_at FROM sessions")
            .fetch_one(&database)
            .await
            .unwrap();
        time::OffsetDateTime::from_unix_timestamp(expires_at).unwrap()
    };
    let first = expiry().await;
    let from_now = first - time::OffsetDateTime::now_utc();
    assert!(
        (time::Duration::minutes(29)..=time::Duration::minutes(30)).contains(&from_now),
        "{from_now}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);
    assert!(expiry().await > first, "a request moves the expiry on");

    // Thirty minutes and a second pass with no request.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind((time::OffsetDateTime::now_utc() - time::Duration::seconds(1)).unix_timestamp())
        .execute(&database)
        .await
        .unwrap();
    let response = portal.get(&browser, "/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), Some("/login?next=%2Fportal"));
}

#[tokio::test]
async fn signing_in_renews_the_session_id() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let browser = portal.browser();
    // A session that exists before sign-in (say, planted by an attacker).
    let failed = portal.sign_in(&browser, "alice", "wrong password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let first = portal.sign_in(&browser, "alice", PASSWORD).await;
    let first_id = session_id(&first).unwrap();
    let second = portal.sign_in(&browser, "alice", PASSWORD).await;
    assert_ne!(first_id, session_id(&second).unwrap());
}

/// The session cookie the response sets, with its attributes.
/// The session cookie the response sets (a sign-in also sets the device cookie).
fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("portal_session="))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn a_cross_site_post_is_refused() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let by_fetch_metadata = browser
        .post(portal.url("/api/signup"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[
            ("username", "alice"),
            ("email", "a@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_fetch_metadata.status(), StatusCode::FORBIDDEN);
    let by_origin = browser
        .post(portal.url("/api/login"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("username", "alice"), ("password", PASSWORD), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(by_origin.status(), StatusCode::FORBIDDEN);
    // Nothing was created by the refused sign-up.
    assert_eq!(
        portal.sign_up(&browser, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let same_origin = browser
        .post(portal.url("/api/current_user"))
        .header(header::ORIGIN, portal.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_protected_page_sends_a_visitor_to_sign_in_and_back() {
    let portal = TestPortal::start().await;
    let response = portal.get(&portal.browser(), "/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), Some("/login?next=%2Fportal"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let stolen_cookie = session_id(&portal.sign_in(&browser, "alice", PASSWORD).await).unwrap();
    assert_eq!(
        portal.call_status(&browser, Logout {}).await,
        StatusCode::OK
    );
    assert_eq!(
        portal.get_status(&browser, "/portal").await,
        StatusCode::SEE_OTHER
    );

    // The old cookie no longer works anywhere: the session is gone from the store.
    let replay = portal
        .browser()
        .get(portal.url("/portal"))
        .header(header::COOKIE, stolen_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_sign_in_older_than_twelve_hours_is_over() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.clock.advance(12 * 60 * 60);
    assert_eq!(
        portal.get_status(&browser, "/portal").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn accounts_survive_a_restart() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let portal = portal.restart().await;
    assert_eq!(
        portal
            .sign_in(&portal.browser(), "alice", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_javascript_what_was_typed_comes_back_with_the_error_but_no_password() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let browser = portal.browser();
    // The form's hidden `__page` field, as the page sends it: no generated struct carries it.
    let response = portal
        .submit_form(
            &browser,
            "/signup",
            <Signup as ServerFn>::PATH,
            &[
                ("username", "alice"),
                ("email", "second@example.com"),
                ("password", "my secret password"),
                ("__page", "/signup"),
            ],
        )
        .await;
    let back = location(&response).unwrap().to_owned();
    let html = browser
        .get(portal.url(&back))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("That username is taken"), "{html}");
    assert!(
        html.contains("value=\"second@example.com\""),
        "the email is kept: {html}"
    );
    assert!(html.contains("value=\"alice\""), "the username is kept");
    assert!(
        !html.contains("my secret password"),
        "the password is never kept"
    );
    // Once only.
    let again = browser
        .get(portal.url("/signup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains("second@example.com"));
}

#[tokio::test]
async fn an_error_carried_in_a_link_shows_only_to_the_browser_whose_post_failed() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let failed = portal
        .submit(
            &browser,
            "/login",
            crate::common::login("alice", "wrong password"),
        )
        .await;
    let back = location(&failed).expect("back to the form").to_owned();
    let back = back.strip_prefix(&portal.base).unwrap_or(&back).to_owned();
    assert!(back.contains("__err="), "{back}");
    let page = portal.get(&browser, &back).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Incorrect username or password.")
    );

    // The same link, or one with words of someone else's choosing, opened by another browser:
    // the page, without the message.
    let (path, query) = back.split_once('?').unwrap();
    let error = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("__err="))
        .unwrap();
    let words = r#"{"Validation":{"field":"username","message":"Your account is locked. Call Portal support on +1 555 0100."}}"#;
    let forged_error = urlencode(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        words,
    ));
    assert_ne!(forged_error, error, "the forged link carries other words");
    for link in [
        back.clone(),
        format!("{path}?__path=/api/login&__err={forged_error}"),
    ] {
        let victim = portal.browser();
        let answer = portal.get(&victim, &link).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{link}");
        let to = location(&answer).unwrap();
        assert_eq!(to.strip_prefix(&portal.base).unwrap_or(to), path);
        let page = portal.get_text(&victim, path).await;
        assert!(!page.contains("Incorrect username") && !page.contains("Call Portal"));
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_address_in_use_mail_is_capped_like_verification_mail() {
    let portal = TestPortal::start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.verify_email(&alice, "alice").await;
    let mallory = portal.browser();
    let response = portal
        .post_fn(
            &mallory,
            Signup {
                username: "mallory".to_owned(),
                email: "alice@example.com".to_owned(),
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Resending from mallory's account would otherwise flood alice's inbox.
    let statuses = crate::common::at_once(10, |_| {
        let (portal, mallory) = (&portal, &mallory);
        async move { portal.call_status(mallory, ResendVerification {}).await }
    })
    .await;
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let warnings = portal
        .smtp
        .mail_to("alice@example.com")
        .iter()
        .filter(|mail| mail.subject.contains("Someone tried"))
        .count();
    assert_eq!(warnings, 3, "sign-up's and two resends, no more in an hour");
}

#[tokio::test]
async fn opening_a_verification_link_verifies_nothing_until_its_button_is_pressed() {
    let portal = TestPortal::start().await;
    let mallory = portal.browser();
    let signed_up = portal
        .post_fn(
            &mallory,
            Signup {
                username: "mallory".to_owned(),
                email: "alice@example.com".to_owned(),
                password: PASSWORD.to_owned(),
            },
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    let link = portal.smtp.wait_for("alice@example.com", 1).await[0]
        .link(&portal.url("/verify-email?token="))
        .unwrap();
    // Alice's mail gateway opens the link, as scanners do: a GET without cookies.
    let page = crate::common::open_link(&portal.browser(), &link).await;
    assert!(
        !portal.overview(&mallory).await.email.verified,
        "opening the link verified the address: {page}"
    );
    assert!(page.contains("Verify this address"), "{page}");
    let token = link.split("token=").nth(1).unwrap();
    let verified = portal
        .post_fn(
            &portal.browser(),
            VerifyEmail {
                token: token.to_owned(),
            },
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert!(portal.overview(&mallory).await.email.verified);
}
