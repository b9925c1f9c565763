//! No answer of Portal sends a browser to another site (review M1, M2), whatever set its
//! `Location`: every page of the route table opened with a hostile path, `next` or `__err`; the
//! sign-in forms with a hostile `next`; a form without JavaScript with a hostile `__page` or
//! Referer; and the place the key and passkey sign-ins hand back to the page's script. The
//! hostile values are one list, `app::validation::OFF_SITE_TARGETS`.

use app::account::login::Login;
use app::security_keys::sign_in::{FinishKeySignIn, FinishPasskeySignIn, StartPasskeySignIn};
use app::two_factor::prompt::VerifySignInCode;
use app::validation::{OFF_SITE_TARGETS, encode_component};
use futures::{StreamExt, stream};
use reqwest::{Client, Response, header};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs_proto::RequestChallengeResponse;

use crate::common::{PASSWORD, TestPortal};
use crate::security_keys::{add_key, key_answer, origin, soft_key};

/// Why a browser sent to `to` (a `Location`, or a place handed to the page's script) could end
/// up off the site at `base`, if it could: as it is, or once a proxy or a later redirect has
/// percent-decoded its path, as often as it decodes.
fn leaves_the_site(base: &str, to: &str) -> Option<String> {
    let base = url::Url::parse(base).unwrap();
    if !to.starts_with('/') || to.starts_with("//") {
        return Some("not a path with one leading /".into());
    }
    if to.contains('\\') || !to.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Some("a backslash, a control character, a space or a non-ASCII byte".into());
    }
    let (path, rest) = to.split_at(to.find(['?', '#']).unwrap_or(to.len()));
    let mut path = path.as_bytes().to_vec();
    loop {
        let spelled = format!("{}{rest}", String::from_utf8_lossy(&path));
        match base.join(&spelled) {
            // A path that starts with `//` is another host on the next redirect that echoes it.
            Ok(url) if url.origin() == base.origin() && !url.path().starts_with("//") => {}
            Ok(url) => return Some(format!("{spelled:?} resolves to {url}")),
            Err(error) => return Some(format!("{spelled:?} does not resolve: {error}")),
        }
        path = percent_decoded(&path)?;
    }
}

/// `bytes` with each `%XX` decoded; None when there is none.
fn percent_decoded(bytes: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| bytes.get(at).and_then(|&byte| (byte as char).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if let (b'%', Some(high), Some(low)) = (bytes[at], hex(at + 1), hex(at + 2)) {
            decoded.push((high * 16 + low) as u8);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    (decoded.len() < bytes.len()).then_some(decoded)
}

/// The `Location` of an answer, byte for byte (whatever it holds).
fn location_of(response: &Response) -> Option<String> {
    let value = response.headers().get(header::LOCATION)?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Each page of the route table: a folder of `PROTECTED_PAGES` (`/settings/`) as itself without
/// the slash and with a page under it.
fn pages() -> Vec<String> {
    let mut pages: Vec<String> = app::PUBLIC_PAGES
        .iter()
        .map(|page| page.to_string())
        .collect();
    for page in app::PROTECTED_PAGES {
        if let Some(folder) = page.strip_suffix('/') {
            pages.push(folder.to_owned());
            pages.push(format!("{page}x"));
        } else {
            pages.push(page.to_owned());
        }
    }
    pages
}

/// Opens `address` and follows where it leads (a few hops); what went off the site.
async fn visit(portal: &TestPortal, browser: &Client, address: String) -> Vec<String> {
    let mut url = portal.url(&address);
    for _ in 0..4 {
        let response = match browser.get(&url).send().await {
            Ok(response) => response,
            Err(error) => return vec![format!("GET {address:?}: no answer: {error}")],
        };
        let Some(to) = location_of(&response) else {
            return Vec::new();
        };
        if let Some(why) = leaves_the_site(&portal.base, &to) {
            return vec![format!(
                "GET {address:?} (at {url}) answers {} Location {to:?}: {why}",
                response.status()
            )];
        }
        url = portal.url(&to);
    }
    Vec::new()
}

/// Every page, with each hostile value as its `next` and as its `__err`, and after it as the
/// start of the path (with an `__err`, the no-JavaScript error gate), signed out and signed in.
async fn every_page_with_hostile_addresses(portal: &TestPortal, browser: &Client) -> Vec<String> {
    let mut addresses = Vec::new();
    for page in pages() {
        for hostile in OFF_SITE_TARGETS {
            let encoded = encode_component(hostile);
            addresses.push(format!("{page}?next={encoded}&__err={encoded}"));
            if hostile.starts_with('/') {
                addresses.push(format!("{hostile}{page}?__err=x"));
            }
        }
    }
    stream::iter(addresses)
        .map(|address| visit(portal, browser, address))
        .buffer_unordered(8)
        .concat()
        .await
}

#[tokio::test]
async fn an_error_link_whose_path_names_another_host_stays_on_this_site() {
    let portal = TestPortal::start().await;
    let answer = portal
        .get(&portal.browser(), "//3627734734/x?__err=x")
        .await;
    let to = location_of(&answer).expect("the error gate redirects");
    assert_eq!(leaves_the_site(&portal.base, &to), None, "{to}");
}

#[tokio::test]
async fn no_page_sends_a_browser_off_the_site_whatever_its_address() {
    let portal = TestPortal::start().await;
    let signed_in = portal.browser();
    portal.sign_up(&signed_in, "alice", PASSWORD).await;
    let mut failures = every_page_with_hostile_addresses(&portal, &portal.browser()).await;
    failures.extend(every_page_with_hostile_addresses(&portal, &signed_in).await);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Records in `failures` when an answer that must go somewhere goes nowhere, or off the site.
fn check_goes_on_site(
    failures: &mut Vec<String>,
    portal: &TestPortal,
    what: &str,
    response: &Response,
) {
    match location_of(response) {
        None => failures.push(format!("{what}: {} without a Location", response.status())),
        Some(to) if to.contains("__err=") => failures.push(format!("{what}: failed, to {to}")),
        Some(to) => {
            if let Some(why) = leaves_the_site(&portal.base, &to) {
                failures.push(format!("{what}: Location {to:?}: {why}"));
            }
        }
    }
}

#[tokio::test]
async fn the_sign_in_forms_go_only_to_a_path_on_this_site() {
    let portal = TestPortal::builder().sign_in_limit(100_000).start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let (_, bobs_app) = portal.account_with_two_factor("bob").await;
    let mut failures = Vec::new();
    for hostile in OFF_SITE_TARGETS {
        // The password of an account without two-factor: signed in at once.
        let form = Login {
            username: "alice".to_owned(),
            password: PASSWORD.to_owned(),
            next: hostile.to_owned(),
        };
        let hydrated = portal.post_fn(&portal.browser(), form.clone()).await;
        check_goes_on_site(
            &mut failures,
            &portal,
            &format!("login, next {hostile:?}"),
            &hydrated,
        );
        let plain = portal.submit(&portal.browser(), "/login", form).await;
        let what = format!("login without JavaScript, next {hostile:?}");
        check_goes_on_site(&mut failures, &portal, &what, &plain);

        // The code at the second step.
        for with_javascript in [true, false] {
            let browser = portal.browser();
            portal.sign_in(&browser, "bob", PASSWORD).await;
            portal.clock.advance(30);
            let code = bobs_app.code(&portal, 0);
            let form = VerifySignInCode {
                code,
                next: hostile.to_owned(),
                remember: None,
            };
            let response = if with_javascript {
                portal.post_fn(&browser, form).await
            } else {
                portal.submit(&browser, "/login", form).await
            };
            let what = format!("code (JavaScript: {with_javascript}), next {hostile:?}");
            check_goes_on_site(&mut failures, &portal, &what, &response);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_form_without_javascript_returns_only_to_a_page_on_this_site() {
    let portal = TestPortal::builder().sign_in_limit(100_000).start().await;
    let mut failures = Vec::new();
    let failed_sign_in = [
        ("username", "nobody"),
        ("password", "wrong password"),
        ("next", ""),
    ];
    for hostile in OFF_SITE_TARGETS {
        // The page a failed post returns to, as the form names it.
        let response = portal
            .browser()
            .post(portal.url("/api/login"))
            .header(header::ACCEPT, "text/html")
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[&failed_sign_in[..], &[("__page", hostile)][..]].concat())
            .send()
            .await
            .unwrap();
        check_on_site_if_any(
            &mut failures,
            &portal,
            &format!("__page {hostile:?}"),
            &response,
        );

        // Or as a Referer says it (Leptos returns there).
        for referer in [hostile.to_owned(), portal.url(hostile)] {
            let Ok(referer) = header::HeaderValue::from_str(&referer) else {
                continue;
            };
            let response = portal
                .browser()
                .post(portal.url("/api/login"))
                .header(header::ACCEPT, "text/html")
                .header(header::REFERER, referer.clone())
                .header("Sec-Fetch-Site", "same-origin")
                .form(&failed_sign_in)
                .send()
                .await
                .unwrap();
            let what = format!("Referer {referer:?}");
            check_on_site_if_any(&mut failures, &portal, &what, &response);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_on_site_if_any(
    failures: &mut Vec<String>,
    portal: &TestPortal,
    what: &str,
    response: &Response,
) {
    if let Some(to) = location_of(response) {
        if let Some(why) = leaves_the_site(&portal.base, &to) {
            failures.push(format!("{what}: Location {to:?}: {why}"));
        }
    }
}

/// The ids a passkey answer carries: its credential's, and the account's user handle, both
/// base64url as the browser sends them.
async fn passkey_ids(portal: &TestPortal, username: &str) -> (String, String) {
    let database = portal.database().await;
    let credential: Vec<u8> = sqlx::query_scalar("SELECT credential_id FROM security_keys")
        .fetch_one(&database)
        .await
        .unwrap();
    let handle: String = sqlx::query_scalar("SELECT webauthn_id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&database)
        .await
        .unwrap();
    let hex = handle.replace('-', "");
    let handle: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect();
    let base64url = |bytes: &[u8]| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    };
    (base64url(&credential), base64url(&handle))
}

/// The key's answer to a passkey sign-in started in `browser`. The soft key is not discoverable,
/// so it is told which credential to use, and its answer gets the user handle a passkey carries
/// (neither is signed).
async fn passkey_answer(
    portal: &TestPortal,
    browser: &Client,
    key: &mut SoftPasskey,
    (credential, handle): &(String, String),
) -> String {
    let options = portal
        .call_fn(browser, StartPasskeySignIn {})
        .await
        .expect("a challenge");
    let mut options: serde_json::Value = serde_json::from_str(&options).unwrap();
    options["publicKey"]["allowCredentials"] =
        serde_json::json!([{ "type": "public-key", "id": credential }]);
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let answer = key
        .do_authentication(origin(portal), options)
        .expect("the key answers");
    let mut answer = serde_json::to_value(&answer).unwrap();
    answer["response"]["userHandle"] = serde_json::json!(handle);
    answer.to_string()
}

/// Records in `failures` when a finished sign-in hands back no place to go, one off the site, or
/// another than `next` asked for.
async fn check_handed_back(
    failures: &mut Vec<String>,
    portal: &TestPortal,
    what: &str,
    next: &str,
    response: Response,
) {
    let status = response.status();
    let body = response.text().await.unwrap();
    let Ok(target) = serde_json::from_str::<String>(&body) else {
        failures.push(format!(
            "{what}, next {next:?}: {status} {body}, no place to go"
        ));
        return;
    };
    if let Some(why) = leaves_the_site(&portal.base, &target) {
        failures.push(format!("{what}, next {next:?}: {target:?}: {why}"));
    }
    let expected = if OFF_SITE_TARGETS.contains(&next) {
        "/portal"
    } else {
        next
    };
    if target != expected {
        failures.push(format!(
            "{what}, next {next:?}: {target:?}, not {expected:?}"
        ));
    }
}

#[tokio::test]
async fn a_key_or_passkey_sign_in_hands_back_only_a_path_on_this_site() {
    let portal = TestPortal::builder()
        .localhost()
        .sign_in_limit(100_000)
        .start()
        .await;
    let (alice, app) = portal.account_with_two_factor("alice").await;
    let mut key = soft_key();
    add_key(&portal, &alice, &app, &mut key, "YubiKey")
        .await
        .expect("the key is added");
    let ids = passkey_ids(&portal, "alice").await;
    let mut failures = Vec::new();
    for next in OFF_SITE_TARGETS
        .into_iter()
        .chain(["/settings/security?tab=1"])
    {
        // The key at the second step, after the password.
        let (browser, answer) = key_answer(&portal, "alice", &mut key).await;
        let form = FinishKeySignIn {
            credential: answer,
            remember: None,
            next: next.to_owned(),
        };
        let response = portal.post_fn(&browser, form).await;
        check_handed_back(&mut failures, &portal, "key", next, response).await;

        // The passkey alone.
        let browser = portal.browser();
        let answer = passkey_answer(&portal, &browser, &mut key, &ids).await;
        let form = FinishPasskeySignIn {
            credential: answer,
            next: next.to_owned(),
        };
        let response = portal.post_fn(&browser, form).await;
        check_handed_back(&mut failures, &portal, "passkey", next, response).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
