//! The real server on 127.0.0.1:0 with its own data folder, and a browser-like HTTP client that
//! keeps cookies and does not follow redirects.

#![allow(dead_code)]

pub mod smtp;

use app::error::AppError;
use app::state::Clock;
use app::{settings::SecurityPageData, two_factor::TwoFactorState};
use leptos::server_fn::{
    ServerFn,
    serde::{Serialize, de::DeserializeOwned},
};
use reqwest::{Client, Response, StatusCode, header};
use server::{Config, Portal};
use smtp::SmtpSink;
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

pub struct TestPortal {
    pub base: String,
    /// The running portal's state, for tests that must hold one of its locks.
    pub state: app::state::AppState,
    pub clock: Clock,
    /// The SMTP server the portal sends its mail to.
    pub smtp: SmtpSink,
    /// Where its metrics are served, when it was started with `--metrics-addr`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// None: no --smtp-url, so mail goes to the outbox folder.
    smtp_url: Option<String>,
    extra: Vec<String>,
    /// Where its database is: a file in `data`, or a database of its own on the PostgreSQL
    /// server that PORTAL_TEST_POSTGRES names.
    database_url: String,
    data: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestPortal {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A portal started with these command-line settings added.
    pub async fn start_with(extra: &[&str]) -> Self {
        let smtp = SmtpSink::start();
        let url = smtp.url();
        let extra = extra.iter().map(|arg| arg.to_string()).collect();
        let data = tempfile::tempdir().expect("a temporary folder");
        Self::start_in(data, Clock::default(), smtp, Some(url), extra).await
    }

    /// A portal on a fresh database of its own on the PostgreSQL server that
    /// PORTAL_TEST_POSTGRES_SERVER names (`./dev test` starts one), whichever backend the other
    /// tests use: for what only a shared database can show.
    pub async fn start_on_postgres(extra: &[&str]) -> Self {
        let server = std::env::var("PORTAL_TEST_POSTGRES_SERVER").expect(
            "PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server (postgres://user@host:port); \
             ./dev test starts one",
        );
        Self::start_with_database(extra, Database::NewOn(server)).await
    }

    /// A portal on its own SQLite file, whichever backend the other tests use.
    pub async fn start_on_sqlite(extra: &[&str]) -> Self {
        Self::start_with_database(extra, Database::Sqlite).await
    }

    /// A portal on a database that exists already (a copy, say).
    pub async fn start_on_database(database_url: &str, extra: &[&str]) -> Self {
        Self::start_with_database(extra, Database::Existing(database_url.to_owned())).await
    }

    async fn start_with_database(extra: &[&str], database: Database) -> Self {
        let smtp = SmtpSink::start();
        let url = smtp.url();
        let extra = extra.iter().map(|arg| arg.to_string()).collect();
        let data = tempfile::tempdir().expect("a temporary folder");
        let database_url = match database {
            Database::Sqlite => sqlite_url(&data),
            Database::NewOn(server) => new_postgres_database(&server).await,
            Database::Existing(url) => url,
        };
        Self::start_on(data, Clock::default(), smtp, Some(url), extra, database_url).await
    }

    /// A portal reached at `http://localhost:PORT`, as WebAuthn needs.
    pub async fn start_on_localhost() -> Self {
        Self::start_with(&["--base-url", "localhost"]).await
    }

    /// A portal without an SMTP server: mail is written to its outbox folder.
    pub async fn start_with_outbox(extra: &[&str]) -> Self {
        let smtp = SmtpSink::start();
        let extra = extra.iter().map(|arg| arg.to_string()).collect();
        let data = tempfile::tempdir().expect("a temporary folder");
        Self::start_in(data, Clock::default(), smtp, None, extra).await
    }

    /// A portal whose SMTP server does not answer.
    pub async fn start_with_mail_down() -> Self {
        let smtp = SmtpSink::start();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
        drop(closed);
        let data = tempfile::tempdir().expect("a temporary folder");
        Self::start_in(data, Clock::default(), smtp, Some(url), Vec::new()).await
    }

    async fn start_in(
        data: TempDir,
        clock: Clock,
        smtp: SmtpSink,
        smtp_url: Option<String>,
        extra: Vec<String>,
    ) -> Self {
        let database_url = match std::env::var("PORTAL_TEST_POSTGRES") {
            Ok(server) if !server.is_empty() => new_postgres_database(&server).await,
            _ => sqlite_url(&data),
        };
        Self::start_on(data, clock, smtp, smtp_url, extra, database_url).await
    }

    async fn start_on(
        data: TempDir,
        clock: Clock,
        smtp: SmtpSink,
        smtp_url: Option<String>,
        extra: Vec<String>,
        database_url: String,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // WebAuthn refuses an IP address as its relying party: `--base-url localhost` asks for
        // the portal under a name.
        let by_name = extra
            .chunks(2)
            .any(|pair| pair == ["--base-url", "localhost"]);
        let base = if by_name {
            format!("http://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        let mut args: Vec<String> = [
            "server",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--site-addr",
            "127.0.0.1:0",
            "--base-url",
            &base,
            "--support-email",
            "help@portal.test",
            "--database-url",
            &database_url,
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        if let Some(url) = &smtp_url {
            args.extend(["--smtp-url".to_owned(), url.clone()]);
        }
        // A setting given again replaces the default above.
        for pair in extra
            .chunks(2)
            .filter(|pair| *pair != ["--base-url", "localhost"])
        {
            match args.iter().position(|arg| *arg == pair[0]) {
                Some(at) if pair.len() == 2 => args[at + 1] = pair[1].clone(),
                _ => args.extend(pair.iter().cloned()),
            }
        }
        let config = Config::from_args(args.clone()).expect("test configuration");
        let portal = Portal::build(&config, clock.clone())
            .await
            .expect("portal builds");
        let state = portal.state.clone();
        let metrics_addr = portal.metrics_addr();
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
            state,
            clock,
            smtp,
            metrics_addr,
            smtp_url,
            extra,
            database_url,
            data,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and starts a new one on the same data folder, clock and SMTP server.
    pub async fn restart(mut self) -> Self {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        Self::start_on(
            data,
            self.clock.clone(),
            self.smtp.clone(),
            self.smtp_url.clone(),
            self.extra.clone(),
            self.database_url.clone(),
        )
        .await
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

    /// Posts a form to a server function as the hydrated page does (the answer is data), by its
    /// name and raw fields: for input no generated struct could carry (malformed, missing,
    /// extra fields). Prefer `call_fn`.
    pub async fn call(&self, browser: &Client, function: &str, form: &[(&str, &str)]) -> Response {
        browser
            .post(self.url(&format!("/api/{function}")))
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts the arguments struct `#[server]` generated for a server function, to that
    /// function's own path, as the hydrated page does; the raw answer, for tests that read its
    /// headers or cookies. A renamed function or argument fails to compile here.
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

    /// The status a server function answers with: for tests of who may call it at all.
    pub async fn call_status(
        &self,
        browser: &Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> StatusCode {
        self.call(browser, function, form).await.status()
    }

    /// The body a server function answers with, as text: for tests of what it must not say.
    pub async fn call_text(
        &self,
        browser: &Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> String {
        self.call(browser, function, form)
            .await
            .text()
            .await
            .unwrap()
    }

    /// The page as text.
    pub async fn get_text(&self, browser: &Client, path: &str) -> String {
        self.get(browser, path).await.text().await.unwrap()
    }

    /// The status a page answers with.
    pub async fn get_status(&self, browser: &Client, path: &str) -> StatusCode {
        self.get(browser, path).await.status()
    }

    pub async fn sign_up(&self, browser: &Client, username: &str, password: &str) -> Response {
        self.post_fn(
            browser,
            app::account::signup::Signup {
                username: username.to_owned(),
                email: format!("{username}@example.com"),
                password: password.to_owned(),
            },
        )
        .await
    }

    pub async fn sign_in(&self, browser: &Client, username: &str, password: &str) -> Response {
        self.post_fn(browser, login(username, password)).await
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

/// The sign-in form's fields, with no `next`.
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

/// The second step's form with `code`.
pub fn code_form(code: &str) -> app::two_factor::prompt::VerifySignInCode {
    app::two_factor::prompt::VerifySignInCode {
        code: code.to_owned(),
        next: String::new(),
        remember: None,
    }
}

pub fn login(username: &str, password: &str) -> app::account::login::Login {
    app::account::login::Login {
        username: username.to_owned(),
        password: password.to_owned(),
        next: String::new(),
    }
}

pub fn location(response: &Response) -> Option<&str> {
    response.headers().get(header::LOCATION)?.to_str().ok()
}

pub const PASSWORD: &str = "correct horse battery";

/// An account's second factor as its owner sees it: the key from the page, and the codes an app
/// would show for it.
pub struct Authenticator {
    pub secret: Vec<u8>,
    pub recovery_code: String,
}

impl Authenticator {
    /// The code an app shows `steps_ahead` steps after now.
    pub fn code(&self, portal: &TestPortal, steps_ahead: i64) -> String {
        let step = app::security::totp::TotpStep::at(portal.clock.now());
        app::security::totp::code_at(
            &self.secret,
            app::security::totp::TotpStep(step.0 + steps_ahead),
        )
    }
}

/// The code an app shows now for a key as the wizard shows it (base32, grouped by spaces).
pub fn code_for_key(portal: &TestPortal, key: &str) -> String {
    app::security::totp::code_at(
        &secret_of_key(key),
        app::security::totp::TotpStep::at(portal.clock.now()),
    )
}

fn secret_of_key(key: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(key.replace(' ', ""))
        .unwrap()
        .as_ref()
        .to_vec()
}

impl TestPortal {
    pub async fn overview(&self, browser: &Client) -> SecurityPageData {
        self.call_fn(browser, app::settings::LoadSecurityOverview {})
            .await
            .expect("the security page loads")
    }

    /// The key the enrollment wizard shows at its first step, if it shows one.
    pub async fn shown_key(&self, browser: &Client) -> Option<String> {
        match self.overview(browser).await.two_factor.state {
            TwoFactorState::Scanning { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Walks the enrollment wizard as a person with an authenticator app would.
    pub async fn enroll(&self, browser: &Client) -> Authenticator {
        self.call_fn(browser, app::two_factor::enroll::StartEnrollment {})
            .await
            .expect("the wizard starts");
        let TwoFactorState::Scanning { key, .. } = self.overview(browser).await.two_factor.state
        else {
            panic!("the wizard shows the key");
        };
        let secret = secret_of_key(&key);
        let code = code_for_key(self, &key);
        self.call_fn(browser, app::two_factor::enroll::ConfirmEnrollment { code })
            .await
            .expect("the first code confirms the wizard");
        let recovery_code = self
            .overview(browser)
            .await
            .two_factor
            .recovery_code
            .expect("step 2 shows the recovery code");
        self.call_fn(
            browser,
            app::two_factor::enroll::SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await
        .expect("the recovery code is saved");
        Authenticator {
            secret,
            recovery_code,
        }
    }

    /// Opens the link of the newest verification email to `username@example.com` and presses
    /// its button.
    pub async fn verify_email(&self, browser: &Client, username: &str) {
        let address = format!("{username}@example.com");
        let mail = self.smtp.wait_for(&address, 1).await;
        let link = mail
            .iter()
            .rev()
            .find_map(|mail| mail.link(&self.url("/verify-email?token=")))
            .expect("a verification email with its link");
        let page = open_link(browser, &link).await;
        assert!(page.contains("Verify this address"), "{page}");
        let verified = self.press_verify(browser, &link).await;
        assert_eq!(verified.status(), StatusCode::OK);
    }

    /// The "Verify this address" button of a verification link's page, pressed.
    pub async fn press_verify(&self, browser: &Client, link: &str) -> Response {
        let token = link.split("token=").nth(1).expect("a link with its token");
        self.call(browser, "verify_email", &[("token", token)])
            .await
    }

    /// A signed-up, signed-in account with two-factor authentication on.
    pub async fn account_with_two_factor(&self, username: &str) -> (Client, Authenticator) {
        let browser = self.browser();
        self.sign_up(&browser, username, PASSWORD).await;
        self.verify_email(&browser, username).await;
        let authenticator = self.enroll(&browser).await;
        (browser, authenticator)
    }

    pub async fn verify_code(&self, browser: &Client, code: &str) -> Response {
        self.post_fn(browser, code_form(code)).await
    }

    /// Runs `server admin …` (the real binary) against this portal's data folder and mail server,
    /// as the operator `USER`.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        self.admin_with_env(args, &[])
    }

    /// `admin`, with these environment variables set too.
    pub fn admin_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("admin")
            .envs(env.iter().copied())
            .args(args)
            .env("PORTAL_DATA_DIR", self.data_dir())
            .env("PORTAL_DATABASE_URL", &self.database_url)
            .env("PORTAL_SMTP_URL", self.smtp.url())
            .env("USER", "support-sam")
            .output()
            .expect("the server binary runs")
    }

    /// The database as the server keeps it, opened beside it.
    pub async fn database(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.database_url).await.unwrap()
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The SMTP server's URL, when mail goes to one.
    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url.as_deref()
    }

    pub fn backend(&self) -> app::store::Backend {
        app::store::Backend::of_url(&self.database_url).unwrap()
    }
}

/// Which database a test portal runs on, when not the one the run's backend gives.
enum Database {
    /// A SQLite file in the portal's data folder.
    Sqlite,
    /// A new database on this PostgreSQL server.
    NewOn(String),
    /// This database, as it is.
    Existing(String),
}

fn sqlite_url(data: &TempDir) -> String {
    format!("sqlite://{}", data.path().join("portal.db").display())
}

/// A new, empty database on the PostgreSQL server at `server` (a URL without a database name),
/// for one test portal: every test starts from nothing, as it does with its own SQLite file.
pub async fn new_postgres_database(server: &str) -> String {
    use sqlx::Connection as _;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "portal_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let server = server.trim_end_matches('/');
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("the test PostgreSQL server (PORTAL_TEST_POSTGRES) answers");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("a test database");
    format!("{server}/{name}")
}

/// Runs `count` requests released together: each waits at a barrier until all are ready, so a
/// race is tested as a race.
/// How many of `statuses` are `checked` (the answer to a guess that was checked) and how many
/// are 429 (told to wait, unchecked).
pub fn checked_and_waited(statuses: &[StatusCode], checked: StatusCode) -> (usize, usize) {
    let count = |wanted: StatusCode| statuses.iter().filter(|status| **status == wanted).count();
    (count(checked), count(StatusCode::TOO_MANY_REQUESTS))
}

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

impl TestPortal {
    /// The security events of the account as its security page lists them, newest first.
    pub async fn events(&self, browser: &Client) -> Vec<String> {
        self.overview(browser)
            .await
            .activity
            .events
            .into_iter()
            .map(|event| event.description)
            .collect()
    }
}

/// A second browser signed in to `username`: with the password and a fresh code, or, with
/// `remembered`, with the password alone on a browser the code step remembered earlier (the
/// second step skipped, as a stolen remember cookie and the password allow).
pub async fn second_browser(
    portal: &TestPortal,
    username: &str,
    authenticator: &Authenticator,
    remembered: bool,
) -> Client {
    let browser = portal.browser();
    portal.sign_in(&browser, username, PASSWORD).await;
    portal.clock.advance(60);
    portal
        .call_fn(
            &browser,
            app::two_factor::prompt::VerifySignInCode {
                code: authenticator.code(portal, 0),
                next: String::new(),
                remember: remembered.then(|| "yes".to_owned()),
            },
        )
        .await
        .expect("the code is right");
    if remembered {
        portal.call(&browser, "logout", &[]).await;
        let stage = portal
            .call_fn(&browser, login(username, PASSWORD))
            .await
            .expect("the password is right");
        assert_eq!(stage, app::account::login::LoginStage::Password);
    }
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);
    browser
}
