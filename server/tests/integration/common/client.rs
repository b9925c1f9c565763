//! A browser-like HTTP client that keeps cookies and does not follow redirects, and the requests
//! tests send with it: pages, and server functions called with the structs `#[server]`
//! generates, so a renamed function or argument fails to compile.

use app::error::AppError;
use leptos::server_fn::{
    ServerFn,
    serde::{Serialize, de::DeserializeOwned},
};
use reqwest::{Client, Response, StatusCode, header};

use super::{TestPortal, answer, post_fn_at};

impl TestPortal {
    /// A new browser: its own cookie jar.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A request that never gets its answer fails its test instead of hanging the run.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// A new browser whose every request carries these headers, as if a proxy had added them.
    pub fn browser_with_headers(&self, headers: &[(&str, &str)]) -> Client {
        let mut map = header::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                header::HeaderValue::from_str(value).unwrap(),
            );
        }
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .default_headers(map)
            .build()
            .unwrap()
    }

    pub async fn get(&self, browser: &Client, path: &str) -> Response {
        browser.get(self.url(path)).send().await.unwrap()
    }

    /// The page as text.
    pub async fn get_text(&self, browser: &Client, path: &str) -> String {
        self.get(browser, path).await.text().await.unwrap()
    }

    /// The status a page answers with.
    pub async fn get_status(&self, browser: &Client, path: &str) -> StatusCode {
        self.get(browser, path).await.status()
    }

    /// Posts the arguments struct `#[server]` generated for a server function, to that
    /// function's own path, as the hydrated page does; the raw answer, for tests that read its
    /// headers or cookies.
    pub async fn post_fn<F: ServerFn + Serialize>(&self, browser: &Client, args: F) -> Response {
        post_fn_at(&self.base, browser, args).await
    }

    /// Calls a server function as the hydrated page does and reads its answer into the real
    /// types: its output, or the `AppError` it failed with.
    pub async fn call_fn<F>(&self, browser: &Client, args: F) -> Result<F::Output, AppError>
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        answer(self.post_fn(browser, args).await).await
    }

    /// The status a server function answers with: for tests of who may call it at all.
    pub async fn call_status<F: ServerFn + Serialize>(
        &self,
        browser: &Client,
        args: F,
    ) -> StatusCode {
        self.post_fn(browser, args).await.status()
    }

    /// The body a server function answers with, as text: for tests of what it must not say.
    pub async fn call_text<F: ServerFn + Serialize>(&self, browser: &Client, args: F) -> String {
        self.post_fn(browser, args).await.text().await.unwrap()
    }

    /// Posts a server function's arguments as a browser without JavaScript does, from the form
    /// on `from_page` (the answer is a redirect).
    pub async fn submit<F: ServerFn + Serialize>(
        &self,
        browser: &Client,
        from_page: &str,
        args: F,
    ) -> Response {
        self.no_js_post(browser, from_page, F::PATH)
            .form(&args)
            .send()
            .await
            .unwrap()
    }

    /// Posts raw fields to a server function's path, as the hydrated page does: for input no
    /// generated struct can carry (malformed, missing or extra fields), or one request sent to
    /// several functions. Name the function by its struct (`<Login as ServerFn>::PATH`); a
    /// written path is for one that does not exist. Prefer `post_fn`.
    pub async fn post_form(&self, browser: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        browser
            .post(self.url(path))
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Raw fields posted as a browser without JavaScript does: `submit` with the form's extra
    /// fields (the hidden `__page`). Prefer `submit`.
    pub async fn submit_form(
        &self,
        browser: &Client,
        from_page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        self.no_js_post(browser, from_page, path)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    fn no_js_post(&self, browser: &Client, from_page: &str, path: &str) -> reqwest::RequestBuilder {
        browser
            .post(self.url(path))
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, self.url(from_page))
            .header("Sec-Fetch-Site", "same-origin")
    }
}
