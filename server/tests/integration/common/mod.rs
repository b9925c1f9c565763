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
