//! The real server on 127.0.0.1:0 with its own data folder, and a browser-like HTTP client that
//! keeps cookies and does not follow redirects.

#![allow(dead_code)]

use app::state::Clock;
use reqwest::{Client, Response, header};
use server::{Config, Portal};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

pub struct TestPortal {
    pub base: String,
    pub clock: Clock,
    data: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestPortal {
    pub async fn start() -> Self {
        Self::start_in(
            tempfile::tempdir().expect("a temporary folder"),
            Clock::default(),
        )
        .await
    }

    async fn start_in(data: TempDir, clock: Clock) -> Self {
        let config = Config::from_args([
            "server",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--site-addr",
            "127.0.0.1:0",
        ])
        .expect("test configuration");
        let portal = Portal::build(&config, clock.clone())
            .await
            .expect("portal builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            portal
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        Self {
            base,
            clock,
            data,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and starts a new one on the same data folder (and clock).
    pub async fn restart(mut self) -> Self {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        Self::start_in(data, self.clock.clone()).await
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new browser: its own cookie jar.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Posts a form to a server function as the hydrated page does (the answer is data).
    pub async fn call(&self, browser: &Client, function: &str, form: &[(&str, &str)]) -> Response {
        browser
            .post(self.url(&format!("/api/{function}")))
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form as a browser without JavaScript does (the answer is a redirect).
    pub async fn submit(
        &self,
        browser: &Client,
        from_page: &str,
        function: &str,
        form: &[(&str, &str)],
    ) -> Response {
        browser
            .post(self.url(&format!("/api/{function}")))
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, self.url(from_page))
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_up(&self, browser: &Client, username: &str, password: &str) -> Response {
        let email = format!("{username}@example.com");
        self.call(
            browser,
            "signup",
            &[
                ("username", username),
                ("email", &email),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn sign_in(&self, browser: &Client, username: &str, password: &str) -> Response {
        self.call(
            browser,
            "login",
            &[("username", username), ("password", password), ("next", "")],
        )
        .await
    }

    pub async fn get(&self, browser: &Client, path: &str) -> Response {
        browser.get(self.url(path)).send().await.unwrap()
    }
}

impl Drop for TestPortal {
    fn drop(&mut self) {
        self.stop.take().map(|stop| stop.send(()));
    }
}

pub fn location(response: &Response) -> Option<&str> {
    response.headers().get(header::LOCATION)?.to_str().ok()
}

pub const PASSWORD: &str = "correct horse battery";
