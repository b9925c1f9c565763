//! The real server on 127.0.0.1:0 with its own data folder (`portal`), a browser-like HTTP
//! client that keeps cookies and does not follow redirects (`client`), what a person does with
//! them (`flows`), and a real SMTP server on loopback (`smtp`).

mod client;
mod flows;
pub mod pg_cluster;
mod portal;
mod process;
pub mod smtp;

use app::error::AppError;
use leptos::server_fn::{
    ServerFn,
    serde::{Serialize, de::DeserializeOwned},
};
use reqwest::{Client, Response, StatusCode, header};

pub use flows::{Authenticator, code_for_key, code_form, login, second_browser};
pub use portal::{TestPortal, new_postgres_database};
pub use process::{ServerProcess, free_port};

pub const PASSWORD: &str = "correct horse battery";

/// What a link (a whole URL, as a mail holds it) opens, as text.
pub async fn open_link(browser: &Client, link: &str) -> String {
    browser
        .get(link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub fn location(response: &Response) -> Option<&str> {
    response.headers().get(header::LOCATION)?.to_str().ok()
}

/// The session's id in a response's `Set-Cookie`, if it sets the session cookie.
pub fn session_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("portal_session="))
        .map(|cookie| cookie.split(';').next().unwrap_or_default().to_owned())
}

/// A server function's answer read into its real types: the output, or the `AppError` it failed
/// with, whose HTTP status must be the one `AppError::status` gives.
pub async fn answer<T: DeserializeOwned>(response: Response) -> Result<T, AppError> {
    let status = response.status();
    let body = response.text().await.unwrap();
    if status.is_success() {
        Ok(serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("{status} answer {body:?} does not read: {error}")))
    } else {
        let error: AppError = serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("{status} answer {body:?} is no AppError: {error}"));
        assert_eq!(status.as_u16(), error.status(), "the status of {error:?}");
        Err(error)
    }
}

/// Posts a server function's arguments to the portal at `base` (another instance, say), as the
/// hydrated page does.
pub async fn post_fn_at<F: ServerFn + Serialize>(
    base: &str,
    browser: &Client,
    args: F,
) -> Response {
    browser
        .post(format!("{base}{}", F::PATH))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&args)
        .send()
        .await
        .unwrap()
}

/// Runs `count` requests released together: each waits at a barrier until all are ready, so a
/// race is tested as a race.
pub async fn at_once<F, Fut, T>(count: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let barrier = tokio::sync::Barrier::new(count);
    futures::future::join_all((0..count).map(|index| {
        let barrier = &barrier;
        let request = make(index);
        async move {
            barrier.wait().await;
            request.await
        }
    }))
    .await
}

/// How many of `statuses` are `checked` (the answer to a guess that was checked) and how many
/// are 429 (told to wait, unchecked).
pub fn checked_and_waited(statuses: &[StatusCode], checked: StatusCode) -> (usize, usize) {
    let count = |wanted: StatusCode| statuses.iter().filter(|status| **status == wanted).count();
    (count(checked), count(StatusCode::TOO_MANY_REQUESTS))
}

/// The block README.md prints between `<!-- NAME -->` and `<!-- /NAME -->` (say NAME
/// `proxies.rs: caddy`), without its fence: the tests run the README's configurations as printed.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = format!("<!-- {name} -->");
    let end = format!("<!-- /{name} -->");
    let block = readme
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("README.md marks the {name} config with {start} … {end}"));
    let lines: Vec<&str> = block.trim().lines().collect();
    assert!(
        lines.first().is_some_and(|line| line.starts_with("```")) && lines.last() == Some(&"```"),
        "the {name} block is one fenced code block"
    );
    lines[1..lines.len() - 1].join("\n") + "\n"
}

/// `text` with each placeholder replaced, each of which must be there: a README whose example
/// changed its addresses fails here rather than run something else.
pub fn substituted(mut text: String, replacements: &[(&str, String)]) -> String {
    for (placeholder, value) in replacements {
        assert!(
            text.contains(placeholder),
            "the README's config has {placeholder:?}:\n{text}"
        );
        text = text.replace(placeholder, value);
    }
    text
}
