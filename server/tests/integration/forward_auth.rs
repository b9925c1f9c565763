//! Forward-auth, asked directly as a proxy asks (`/auth/verify`, `/auth/request` with the
//! proxy's `X-Forwarded-*` headers and the browser's cookie): each policy, each answer, the way
//! back to the app, and the rules file. `proxies.rs` runs the same behind real Caddy and nginx.

use reqwest::{Client, Response, StatusCode, header};

use crate::common::{PASSWORD, TestPortal, location};

const RULES: &str = r#"
[[rule]]
host = "wiki.example.test"
paths = ["/admin/*"]
policy = "two_factor"

[[rule]]
host = "wiki.example.test"
paths = ["/public/*"]
policy = "bypass"

[[rule]]
host = "wiki.example.test"
paths = ["/closed/*"]
policy = "deny"

[[rule]]
host = "staff.example.test"
policy = "one_factor"
organizations = ["staff"]

[[rule]]
host = "*.example.test"
policy = "one_factor"
"#;

/// A portal with the rules above, trusting loopback as its proxy; the rules file's folder is
/// kept with it.
async fn portal_with_rules(rules: &str) -> (TestPortal, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("rules.toml");
    std::fs::write(&file, rules).unwrap();
    let portal = TestPortal::builder()
        .localhost()
        .arg("--access-rules", file.to_str().unwrap())
        .arg("--trusted-proxies", "127.0.0.1, ::1")
        .start()
        .await;
    (portal, folder)
}

/// Asks `endpoint` about `url` as a proxy would, with the browser's cookies; `html`: the browser
/// asked for a page.
async fn ask(
    portal: &TestPortal,
    browser: &Client,
    endpoint: &str,
    url: &str,
    html: bool,
) -> Response {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let uri = &url[url::Position::BeforePath..];
    let request = browser.get(portal.url(endpoint)).header(
        header::ACCEPT,
        if html {
            "text/html"
        } else {
            "application/json"
        },
    );
    // Each endpoint reads its own proxy's headers: nginx's X-Original-URL, or Caddy's and
    // Traefik's X-Forwarded-*.
    let request = if endpoint == "/auth/request" {
        request.header("x-original-url", url.as_str())
    } else {
        request
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", url.scheme())
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
    };
    request.send().await.unwrap()
}

fn remote(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is always sent"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn signed_in(portal: &TestPortal, username: &str) -> Client {
    let browser = portal.browser();
    portal.sign_up(&browser, username, PASSWORD).await;
    browser
}

#[tokio::test]
async fn a_signed_in_person_reaches_the_app_with_who_they_are_and_a_signed_out_one_is_sent_to_sign_in()
 {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let browser = portal.browser();
    let url = "https://wiki.example.test/page?x=1";
    let page = ask(&portal, &browser, "/auth/verify", url, true).await;
    assert_eq!(page.status(), StatusCode::FOUND);
    let login = location(&page).unwrap().to_owned();
    let expected = format!("{}/login?rd=", portal.url("").trim_end_matches('/'));
    assert!(login.starts_with(&expected), "{login}");
    assert!(
        login.contains("wiki.example.test%2Fpage%3Fx%3D1"),
        "{login}"
    );
    let api = ask(&portal, &browser, "/auth/verify", url, false).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let nginx = ask(&portal, &browser, "/auth/request", url, true).await;
    assert_eq!(
        nginx.status(),
        StatusCode::UNAUTHORIZED,
        "nginx never gets a redirect"
    );

    let browser = signed_in(&portal, "fa_alice").await;
    for endpoint in ["/auth/verify", "/auth/request"] {
        let allowed = ask(&portal, &browser, endpoint, url, true).await;
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(remote(&allowed, "remote-user"), "fa_alice");
        assert_eq!(remote(&allowed, "remote-name"), "fa_alice");
        assert_eq!(
            remote(&allowed, "remote-email"),
            "",
            "the address is not verified"
        );
        assert_eq!(remote(&allowed, "remote-groups"), "");
    }
    portal.verify_email(&browser, "fa_alice").await;
    let allowed = ask(&portal, &browser, "/auth/verify", url, true).await;
    assert_eq!(remote(&allowed, "remote-email"), "fa_alice@example.com");
    // The security page's session list names the app this session reached.
    let overview = portal.overview(&browser).await;
    let this = overview
        .sessions
        .sessions
        .iter()
        .find(|session| session.current)
        .unwrap();
    assert_eq!(this.apps, vec!["wiki.example.test".to_owned()]);
}

#[tokio::test]
async fn bypass_lets_anyone_through_and_deny_or_no_rule_lets_no_one() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let anonymous = portal.browser();
    let open = ask(
        &portal,
        &anonymous,
        "/auth/verify",
        "https://wiki.example.test/public/a",
        true,
    )
    .await;
    assert_eq!(open.status(), StatusCode::OK);
    assert_eq!(remote(&open, "remote-user"), "");
    let browser = signed_in(&portal, "fa_bob").await;
    let open = ask(
        &portal,
        &browser,
        "/auth/verify",
        "https://wiki.example.test/public/a",
        true,
    )
    .await;
    assert_eq!(remote(&open, "remote-user"), "fa_bob");
    for url in [
        "https://wiki.example.test/closed/x",
        "https://wiki.example.test/%63losed/x",
        "https://wiki.example.test//closed/x",
        "https://other.test/",
        "https://example.test/",
    ] {
        let refused = ask(&portal, &browser, "/auth/verify", url, true).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{url}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("You cannot open this page"), "{page}");
        assert!(refused_has_no_identity(&page));
    }
}

fn refused_has_no_identity(page: &str) -> bool {
    !page.contains("fa_bob")
}

#[tokio::test]
async fn two_factor_admits_only_a_sign_in_that_showed_a_second_factor() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let url = "https://wiki.example.test/admin/users";
    // No second factor on the account: the wizard, then on to the app.
    let browser = signed_in(&portal, "fa_carol").await;
    let asked = ask(&portal, &browser, "/auth/verify", url, true).await;
    assert_eq!(asked.status(), StatusCode::FOUND);
    let login = location(&asked).unwrap().to_owned();
    let path = &login[login.find("/login").unwrap()..];
    let bounced = portal.get(&browser, path).await;
    let continue_at = location(&bounced).unwrap().to_owned();
    assert!(
        continue_at.starts_with("/auth/continue?rd="),
        "{continue_at}"
    );
    let wizard = portal.get(&browser, &continue_at).await;
    assert_eq!(location(&wizard), Some("/settings/security"));
    assert_eq!(
        ask(&portal, &browser, "/auth/request", url, true)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // With a second factor: in.
    let (browser, _app) = portal.account_with_two_factor("fa_dave").await;
    let allowed = ask(&portal, &browser, "/auth/verify", url, true).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(remote(&allowed, "remote-user"), "fa_dave");
}

#[tokio::test]
async fn an_organization_rule_admits_its_members_only() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let owner = signed_in(&portal, "fa_erin").await;
    portal
        .call_fn(
            &owner,
            app::org::CreateOrganization {
                name: "Staff".into(),
            },
        )
        .await
        .unwrap();
    let url = "https://staff.example.test/";
    let member = ask(&portal, &owner, "/auth/verify", url, true).await;
    assert_eq!(member.status(), StatusCode::OK);
    assert_eq!(remote(&member, "remote-groups"), "staff");
    let outsider = signed_in(&portal, "fa_frank").await;
    let refused = ask(&portal, &outsider, "/auth/verify", url, true).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Only members of staff")
    );
}

#[tokio::test]
async fn a_session_signed_out_is_refused_on_the_next_request() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let browser = signed_in(&portal, "fa_gina").await;
    let url = "https://wiki.example.test/";
    assert_eq!(
        ask(&portal, &browser, "/auth/verify", url, false)
            .await
            .status(),
        StatusCode::OK
    );
    portal
        .post_fn(&browser, app::account::portal::Logout {})
        .await;
    assert_eq!(
        ask(&portal, &browser, "/auth/verify", url, false)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn forwarded_headers_from_a_peer_that_is_not_a_trusted_proxy_are_not_believed() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("rules.toml");
    std::fs::write(&file, RULES).unwrap();
    let portal = TestPortal::builder()
        .localhost()
        .arg("--access-rules", file.to_str().unwrap())
        .start()
        .await;
    let browser = signed_in(&portal, "fa_hank").await;
    let refused = ask(
        &portal,
        &browser,
        "/auth/verify",
        "https://wiki.example.test/",
        true,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get("remote-user").is_none());
}

#[tokio::test]
async fn after_sign_in_the_browser_goes_back_only_to_a_host_the_rules_name() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let browser = signed_in(&portal, "fa_ivy").await;
    let back = portal
        .get(
            &browser,
            "/auth/continue?rd=https%3A%2F%2Fwiki.example.test%2Fpage%3Fx%3D1",
        )
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    let page = back.text().await.unwrap();
    assert!(
        page.contains("url=https://wiki.example.test/page?x=1"),
        "{page}"
    );
    for hostile in [
        "https%3A%2F%2Fevil.test%2F",
        "https%3A%2F%2Fwiki.example.test.evil.test%2F",
        "javascript%3Aalert(1)",
        "%2F%2Fevil.test%2F",
        "https%3A%2F%2Fuser%40wiki.example.test%2F",
    ] {
        let refused = portal
            .get(&browser, &format!("/auth/continue?rd={hostile}"))
            .await;
        assert_eq!(location(&refused), Some("/portal"), "{hostile}");
        let left = portal
            .get(&browser, &format!("/auth/leave?rd={hostile}"))
            .await;
        assert_eq!(location(&left), Some("/login"), "{hostile}");
    }
    // nginx writes `rd` unencoded: a signed-in browser sent to sign in goes back with all of it.
    let nginx = portal
        .get(&browser, "/login?rd=https://wiki.example.test/x?a=1&b=2")
        .await;
    assert_eq!(
        location(&nginx),
        Some("/auth/continue?rd=https%3A%2F%2Fwiki.example.test%2Fx%3Fa%3D1%26b%3D2")
    );
    // Signed out: the way back goes through the sign-in page first.
    let anonymous = portal.browser();
    let sign_in = portal
        .get(
            &anonymous,
            "/auth/continue?rd=https%3A%2F%2Fwiki.example.test%2F",
        )
        .await;
    assert_eq!(
        location(&sign_in),
        Some("/login?rd=https%3A%2F%2Fwiki.example.test%2F")
    );
}

#[tokio::test]
async fn the_sign_out_link_asks_before_signing_out_and_then_returns_to_the_app() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let browser = signed_in(&portal, "fa_jack").await;
    let page = portal
        .get_text(&browser, "/logout?rd=https%3A%2F%2Fwiki.example.test%2F")
        .await;
    assert!(page.contains("Sign out of Portal?"), "{page}");
    // Opening the page signed no one out.
    let url = "https://wiki.example.test/";
    assert_eq!(
        ask(&portal, &browser, "/auth/verify", url, false)
            .await
            .status(),
        StatusCode::OK
    );
    let out = portal
        .post_fn(
            &browser,
            app::forward_auth::SignOutToApp { rd: url.to_owned() },
        )
        .await;
    let leave = location(&out).unwrap().to_owned();
    assert!(leave.starts_with("/auth/leave?rd="), "{leave}");
    let back = portal.get_text(&browser, &leave).await;
    assert!(back.contains("url=https://wiki.example.test/"), "{back}");
    assert_eq!(
        ask(&portal, &browser, "/auth/verify", url, false)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_bad_rules_file_stops_the_server_at_start_with_its_line_and_reason() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("rules.toml");
    std::fs::write(
        &file,
        "[[rule]]\nhost = \"wiki.example.test\"\npaths = [\"admin\"]\npolicy = \"deny\"\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("PORTAL_DATA_DIR", folder.path().join("data"))
        .env("PORTAL_ACCESS_RULES", &file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("line 3: path \"admin\": starts with /"),
        "{said}"
    );
}

#[test]
fn the_admin_command_lists_which_address_gets_which_policy() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("rules.toml");
    std::fs::write(&file, RULES).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("PORTAL_DATA_DIR", folder.path().join("data"))
        .env("PORTAL_ACCESS_RULES", &file)
        .args([
            "admin",
            "rules",
            "check",
            "https://wiki.example.test/admin/x",
            "https://nowhere.test/",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("line   2: wiki.example.test /admin/* → two_factor"),
        "{said}"
    );
    assert!(
        said.contains("https://wiki.example.test/admin/x → two_factor (line 2)"),
        "{said}"
    );
    assert!(
        said.contains("https://nowhere.test/ → deny (no rule)"),
        "{said}"
    );
}

#[tokio::test]
async fn each_answer_is_counted_by_outcome_and_the_rule_host() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("rules.toml");
    // Hosts of this test alone: the metrics recorder is one per process, shared by every test.
    let rules = "[[rule]]\nhost = \"closed.counted.test\"\npolicy = \"deny\"\n\n[[rule]]\nhost = \"*.counted.test\"\npolicy = \"one_factor\"\n";
    std::fs::write(&file, rules).unwrap();
    let portal = TestPortal::builder()
        .localhost()
        .metrics()
        .arg("--access-rules", file.to_str().unwrap())
        .arg("--trusted-proxies", "127.0.0.1, ::1")
        .start()
        .await;
    let anonymous = portal.browser();
    ask(
        &portal,
        &anonymous,
        "/auth/verify",
        "https://a.counted.test/",
        false,
    )
    .await;
    ask(
        &portal,
        &anonymous,
        "/auth/verify",
        "https://closed.counted.test/",
        false,
    )
    .await;
    let browser = signed_in(&portal, "fa_kim").await;
    ask(
        &portal,
        &browser,
        "/auth/verify",
        "https://b.counted.test/",
        false,
    )
    .await;
    let address = portal.metrics_addr.expect("metrics are on");
    let metrics = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"portal_forward_auth_total{outcome="login",host="*.counted.test"} 1"#,
        r#"portal_forward_auth_total{outcome="denied",host="closed.counted.test"} 1"#,
        r#"portal_forward_auth_total{outcome="allowed",host="*.counted.test"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(!metrics.contains("fa_kim"));
}

#[tokio::test]
async fn a_person_held_by_an_organization_goes_through_the_wizard_then_on_to_the_app() {
    let (portal, _rules) = portal_with_rules(RULES).await;
    let owner = signed_in(&portal, "fa_owner").await;
    portal
        .call_fn(
            &owner,
            app::org::CreateOrganization {
                name: "Acme".into(),
            },
        )
        .await
        .unwrap();
    portal.verify_email(&owner, "fa_owner").await;
    portal.enroll(&owner).await;
    let added = portal.admin(&["org", "add-member", "acme", "fa_held"]);
    assert!(!added.status.success(), "no such account yet");
    let held = signed_in(&portal, "fa_held").await;
    portal.verify_email(&held, "fa_held").await;
    assert!(
        portal
            .admin(&["org", "add-member", "acme", "fa_held"])
            .status
            .success()
    );
    let required = portal
        .post_fn(
            &owner,
            app::org::SetTwoFactorRequirement {
                slug: "acme".to_owned(),
                required: Some("yes".to_owned()),
                grace_days: Some("0".to_owned()),
            },
        )
        .await;
    assert!(required.status().is_success(), "{:?}", required.status());
    let url = "https://wiki.example.test/page";
    // The proxy sends the browser to sign in; signed in, the way back sends it to the wizard.
    let asked = ask(&portal, &held, "/auth/verify", url, true).await;
    assert_eq!(asked.status(), StatusCode::FOUND);
    let back = "/auth/continue?rd=https%3A%2F%2Fwiki.example.test%2Fpage";
    let wizard = portal.get(&held, back).await;
    assert_eq!(location(&wizard), Some("/settings/security"));
    // A fresh sign-in with the way back keeps it past the hold.
    let again = portal.browser();
    let signed = portal
        .post_fn(
            &again,
            app::account::login::Login {
                username: "fa_held".into(),
                password: PASSWORD.into(),
                next: back.into(),
            },
        )
        .await;
    assert_eq!(location(&signed), Some(back));
    portal.enroll(&held).await;
    let page = portal.get_text(&held, back).await;
    assert!(
        page.contains("url=https://wiki.example.test/page"),
        "{page}"
    );
    assert_eq!(
        ask(&portal, &held, "/auth/verify", url, true)
            .await
            .status(),
        StatusCode::OK
    );
}
