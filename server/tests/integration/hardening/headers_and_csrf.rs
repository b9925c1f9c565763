//! What every answer carries and refuses: security headers, the cookie over HTTPS, the content
//! policy, cross-site posts, and mail files kept private on disk.

use crate::common::{PASSWORD, TestPortal};
use app::account::CurrentUser;
use reqwest::{StatusCode, header};

use super::header_value;

#[tokio::test]
async fn every_route_sends_the_security_headers() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let pages = [
        "/",
        "/login",
        "/signup",
        "/portal",
        "/settings/security",
        "/recover/confirm?token=abc",
        "/verify-email?token=abc",
        "/no/such/page",
    ];
    for path in pages {
        let response = portal.get(&browser, path).await;
        let csp = header_value(&response, "content-security-policy").to_owned();
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header_value(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header_value(&response, "referrer-policy"), "no-referrer");
        assert_eq!(
            header_value(&response, "cache-control"),
            "no-store",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "no HSTS over http"
        );

        // The inline scripts carry the nonce the policy names, and only they.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        let scripts = html.matches("<script").count();
        let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(
            scripts > 0 && with_nonce >= scripts,
            "{path}: {scripts} scripts, {with_nonce} with the nonce"
        );
    }
    let api = portal.post_fn(&browser, CurrentUser {}).await;
    assert_eq!(header_value(&api, "x-content-type-options"), "nosniff");
    assert_eq!(header_value(&api, "cache-control"), "no-store");
}

#[tokio::test]
async fn over_https_the_cookie_is_host_only_and_secure_and_hsts_is_sent() {
    let portal = TestPortal::builder()
        .arg("--base-url", "https://portal.example")
        .start()
        .await;
    let response = portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let cookies: Vec<&str> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    // The session cookie and the device cookie alike.
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("__Host-portal_session="))
    );
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("__Host-portal_device="))
    );
    for cookie in cookies {
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
            "{cookie}"
        );
        assert!(cookie.contains("HttpOnly"), "{cookie}");
    }
    let page = portal.get(&portal.browser(), "/login").await;
    assert!(header_value(&page, "strict-transport-security").starts_with("max-age="));
}

#[tokio::test]
async fn a_cross_site_post_is_refused_by_every_server_function() {
    let portal = TestPortal::start().await;
    let paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    assert!(paths.len() >= 20, "{paths:?}");
    let browser = portal.browser();
    for path in paths {
        for (name, value) in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example"),
        ] {
            let response = browser
                .post(portal.url(&path))
                .header(name, value)
                .body("")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} with {name}: {value}"
            );
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn in_outbox_mode_mail_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let portal = TestPortal::builder().outbox().start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let outbox = portal.data_dir().join("outbox");
    let mails: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    assert_eq!(mails.len(), 1, "the verification mail");
    let mode = std::fs::metadata(&mails[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let folder = std::fs::metadata(&outbox).unwrap().permissions().mode();
    assert_eq!(folder & 0o077, 0, "{folder:o}");
}

#[tokio::test]
async fn outside_cargo_leptos_watch_the_policy_allows_no_websocket() {
    let portal = TestPortal::start().await;
    let page = portal.get(&portal.browser(), "/login").await;
    let csp = header_value(&page, "content-security-policy");
    assert!(!csp.contains("ws:"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
}

#[tokio::test]
async fn pages_and_answers_are_compressed_for_a_browser_that_accepts_it() {
    let portal = TestPortal::start().await;
    let compressing = portal.browser_with_headers(&[("accept-encoding", "br, gzip")]);
    let page = portal.get(&compressing, "/login").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header_value(&page, "content-encoding"), "br");
    let gzip_only = portal.browser_with_headers(&[("accept-encoding", "gzip")]);
    let page = portal.get(&gzip_only, "/signup").await;
    assert_eq!(header_value(&page, "content-encoding"), "gzip");
    // A client that asks for nothing gets plain text.
    let plain = portal.get(&portal.browser(), "/login").await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
}
