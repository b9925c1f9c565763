//! Sessions, re-authentication, response headers, limits, and the server holding up under
//! malformed input and floods, one module per concern.

mod client_limits;
mod floods;
mod headers_and_csrf;
mod password_throttle;
mod redirects;
mod sessions;

use app::account::sessions::ActiveSession;

use crate::common::TestPortal;
use reqwest::header;

/// A failed no-JavaScript post of `fields` to the sign-in, from the sign-in page.
async fn failed_sign_in_form(
    portal: &TestPortal,
    browser: &reqwest::Client,
    fields: &[(String, String)],
) -> String {
    let response = browser
        .post(portal.url("/api/login"))
        .header(header::ACCEPT, "text/html")
        .header("Sec-Fetch-Site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap();
    let location = crate::common::location(&response).unwrap().to_owned();
    assert!(location.contains("__err="), "{location}");
    location
}

/// The sessions of the account as its security page lists them.
async fn sessions(portal: &TestPortal, browser: &reqwest::Client) -> Vec<ActiveSession> {
    portal.overview(browser).await.sessions.sessions
}

fn header_value<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} on {}", response.url()))
        .to_str()
        .unwrap()
}
