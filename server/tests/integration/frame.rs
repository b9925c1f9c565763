//! The frame of every page: its header says who is signed in, from what the sign-in layer found.

use reqwest::{Client, StatusCode};

use crate::common::{PASSWORD, TestPortal};

/// The site header of a page's HTML.
fn header_of(html: &str) -> &str {
    let start = html
        .find("<header class=\"site-header\"")
        .unwrap_or_else(|| panic!("the page has the site header: {html}"));
    let end = start + html[start..].find("</header>").expect("the header ends");
    &html[start..end]
}

/// The site header of the page at `path`, which must answer 200.
async fn page_header(portal: &TestPortal, browser: &Client, path: &str) -> String {
    let page = portal.get(browser, path).await;
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    header_of(&page.text().await.unwrap()).to_owned()
}

fn is_signed_out(header: &str) -> bool {
    header.contains("href=\"/login\"")
        && header.contains("Create an account")
        && !header.contains("Sign out")
}

#[tokio::test]
async fn a_visitor_sees_sign_in_and_create_an_account_on_every_page() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    for path in ["/", "/login", "/signup", "/forgot-password"] {
        let header = page_header(&portal, &browser, path).await;
        assert!(is_signed_out(&header), "{path}: {header}");
    }
    let missing = portal.get(&browser, "/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    assert!(is_signed_out(header_of(&missing)), "{missing}");
    let skip_link = portal.get_text(&browser, "/login").await;
    assert!(skip_link.contains("href=\"#main\""), "{skip_link}");
    assert!(skip_link.contains("<main id=\"main\""), "{skip_link}");
}

#[tokio::test]
async fn a_signed_in_account_is_named_in_the_header_with_its_pages_and_sign_out() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    for (path, current) in [
        ("/portal", "/portal"),
        ("/settings/security", "/settings/security"),
        ("/settings/password", ""),
    ] {
        let header = page_header(&portal, &browser, path).await;
        assert!(header.contains("alice"), "{path}: {header}");
        assert!(header.contains("href=\"/portal\""), "{header}");
        assert!(header.contains("href=\"/settings/security\""), "{header}");
        assert!(header.contains("action=\"/api/logout\""), "{header}");
        assert!(!header.contains("Create an account"), "{header}");
        let marked = header.matches("aria-current=\"page\"").count();
        if current.is_empty() {
            assert_eq!(marked, 0, "{path}: {header}");
        } else {
            assert_eq!(marked, 1, "{path}: {header}");
            assert!(
                header.contains(&format!("href=\"{current}\" aria-current=\"page\"")),
                "{path}: {header}"
            );
        }
    }

    // The header's Sign out is the portal's: posted without JavaScript from the security page, it
    // lands on the sign-in page, signed out.
    let signed_out = portal
        .submit(
            &browser,
            "/settings/security",
            app::account::portal::Logout {},
        )
        .await;
    assert_eq!(crate::common::location(&signed_out), Some("/login"));
    assert!(is_signed_out(
        &page_header(&portal, &browser, "/login").await
    ));
}

#[tokio::test]
async fn a_sign_in_waiting_for_its_second_factor_shows_the_signed_out_header() {
    let portal = TestPortal::start().await;
    portal.account_with_two_factor("alice").await;
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let header = page_header(&portal, &browser, "/login").await;
    assert!(is_signed_out(&header), "{header}");
    assert!(!header.contains("alice"), "{header}");
}

#[tokio::test]
async fn a_member_held_by_the_requirement_gets_the_header_and_can_sign_out() {
    let portal = TestPortal::start().await;
    let (alice, bob) = crate::organizations::acme(&portal).await;
    portal.enroll(&alice).await;
    let required = portal
        .post_fn(
            &alice,
            app::org::SetTwoFactorRequirement {
                slug: "acme".to_owned(),
                required: Some("yes".to_owned()),
                grace_days: Some("0".to_owned()),
            },
        )
        .await;
    assert_eq!(required.status(), StatusCode::OK);

    let header = page_header(&portal, &bob, "/settings/security").await;
    assert!(header.contains("bob"), "{header}");
    assert!(header.contains("action=\"/api/logout\""), "{header}");
    let signed_out = portal
        .submit(&bob, "/settings/security", app::account::portal::Logout {})
        .await;
    assert_eq!(crate::common::location(&signed_out), Some("/login"));
    assert!(is_signed_out(&page_header(&portal, &bob, "/login").await));
}
