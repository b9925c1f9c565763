//! A test portal: the real server on 127.0.0.1:0 with its own data folder, database and SMTP
//! server, started by `TestPortal::builder()…start()`, and what a test reads beside it (its
//! database, its data folder, the admin command).

use app::state::{AppState, Clock};
use server::{Config, Portal};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

use super::smtp::SmtpSink;

pub struct TestPortal {
    pub base: String,
    /// The running portal's state, for tests that must hold one of its locks.
    pub state: AppState,
    pub clock: Clock,
    /// The SMTP server the portal sends its mail to.
    pub smtp: SmtpSink,
    /// Where its metrics are served, when it was started with `metrics()`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How it was started, so that `restart` starts it again alike.
    launch: Launch,
    data: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// How a test portal is started. Each choice has its own method, so a test says what it needs
/// (`TestPortal::builder().localhost().sign_in_limit(3).start()`) rather than patching the
/// command line; `arg` is for a setting no method names, and replaces that flag's default.
#[derive(Default)]
pub struct Builder {
    database: Database,
    mail: Mail,
    localhost: bool,
    args: Vec<(&'static str, String)>,
}

/// Which database a test portal runs on.
#[derive(Default)]
enum Database {
    /// The run's backend: a new database on the PostgreSQL server PORTAL_TEST_POSTGRES names,
    /// else a SQLite file in the portal's data folder.
    #[default]
    OfTheRun,
    /// A SQLite file in the portal's data folder, whichever backend the run uses.
    Sqlite,
    /// A new database on the server PORTAL_TEST_POSTGRES_SERVER names, whichever backend the
    /// run uses.
    NewPostgres,
    /// This database, as it is.
    Existing(String),
}

/// Where a test portal's mail goes.
#[derive(Default)]
enum Mail {
    /// To the test's SMTP server, `TestPortal::smtp`.
    #[default]
    Sink,
    /// No SMTP server configured: to the outbox folder in the data folder.
    Outbox,
    /// To an SMTP address where nothing answers.
    Down,
}

/// What a started portal needs to be started again on the same data folder.
#[derive(Clone)]
struct Launch {
    database_url: String,
    /// None: no `--smtp-url`, so mail goes to the outbox folder.
    smtp_url: Option<String>,
    localhost: bool,
    args: Vec<(&'static str, String)>,
}

impl Builder {
    /// On a fresh database of its own on the PostgreSQL server that
    /// PORTAL_TEST_POSTGRES_SERVER names (`./dev test` starts one), whichever backend the other
    /// tests use: for what only a shared database can show.
    pub fn postgres(mut self) -> Self {
        self.database = Database::NewPostgres;
        self
    }

    /// On its own SQLite file, whichever backend the other tests use.
    pub fn sqlite(mut self) -> Self {
        self.database = Database::Sqlite;
        self
    }

    /// On a database that exists already (a copy, say).
    pub fn database(mut self, url: &str) -> Self {
        self.database = Database::Existing(url.to_owned());
        self
    }

    /// Without an SMTP server: mail is written to its outbox folder.
    pub fn outbox(mut self) -> Self {
        self.mail = Mail::Outbox;
        self
    }

    /// With an SMTP server that does not answer.
    pub fn mail_down(mut self) -> Self {
        self.mail = Mail::Down;
        self
    }

    /// Reached at `http://localhost:PORT`: WebAuthn refuses an IP address as its relying party.
    pub fn localhost(mut self) -> Self {
        self.localhost = true;
        self
    }

    /// Sign-in requests a minute from one address (`--sign-in-limit`).
    pub fn sign_in_limit(self, requests: u32) -> Self {
        self.arg("--sign-in-limit", &requests.to_string())
    }

    /// The metrics served on a port of their own, found in `TestPortal::metrics_addr`.
    pub fn metrics(self) -> Self {
        self.arg("--metrics-addr", "127.0.0.1:0")
    }

    /// A command-line setting; given again, or given for a default, the last value wins.
    pub fn arg(mut self, flag: &'static str, value: &str) -> Self {
        self.args.retain(|(given, _)| *given != flag);
        self.args.push((flag, value.to_owned()));
        self
    }

    pub async fn start(self) -> TestPortal {
        let data = tempfile::tempdir().expect("a temporary folder");
        let smtp = SmtpSink::start();
        let smtp_url = match self.mail {
            Mail::Sink => Some(smtp.url()),
            Mail::Outbox => None,
            Mail::Down => Some(unanswered_smtp_url()),
        };
        let database_url = match self.database {
            Database::OfTheRun => match std::env::var("PORTAL_TEST_POSTGRES") {
                Ok(server) if !server.is_empty() => new_postgres_database(&server).await,
                _ => sqlite_url(&data),
            },
            Database::Sqlite => sqlite_url(&data),
            Database::NewPostgres => {
                let server = std::env::var("PORTAL_TEST_POSTGRES_SERVER").expect(
                    "PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server \
                     (postgres://user@host:port); ./dev test starts one",
                );
                new_postgres_database(&server).await
            }
            Database::Existing(url) => url,
        };
        let launch = Launch {
            database_url,
            smtp_url,
            localhost: self.localhost,
            args: self.args,
        };
        TestPortal::launch(data, Clock::default(), smtp, launch).await
    }
}

impl Launch {
    /// The portal's command line: its data folder, its addresses, its database and mail, then
    /// the builder's settings, each replacing the default of its flag.
    fn args(&self, data: &TempDir, base: &str, site_addr: &str) -> Vec<String> {
        let mut settings: Vec<(&str, String)> = vec![
            ("--data-dir", data.path().to_str().unwrap().to_owned()),
            ("--site-addr", site_addr.to_owned()),
            ("--base-url", base.to_owned()),
            ("--support-email", "help@portal.test".to_owned()),
            ("--database-url", self.database_url.clone()),
        ];
        if let Some(url) = &self.smtp_url {
            settings.push(("--smtp-url", url.clone()));
        }
        for (flag, value) in &self.args {
            settings.retain(|(given, _)| given != flag);
            settings.push((flag, value.clone()));
        }
        settings
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_owned(), value])
            .collect()
    }

    /// The in-process portal's configuration.
    fn config(&self, data: &TempDir, base: &str) -> Config {
        let args = self.args(data, base, "127.0.0.1:0");
        Config::from_args(std::iter::once("server".to_owned()).chain(args))
            .expect("test configuration")
    }
}

impl TestPortal {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A portal as most tests want it: the run's database, mail to `smtp`, at 127.0.0.1.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    async fn launch(data: TempDir, clock: Clock, smtp: SmtpSink, launch: Launch) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let host = if launch.localhost {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let base = format!("http://{host}:{port}");
        let config = launch.config(&data, &base);
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
            launch,
            data,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and starts a new one on the same data folder, database, clock, SMTP
    /// server and settings.
    pub async fn restart(mut self) -> Self {
        self.stop_in_process().await;
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        Self::launch(
            data,
            self.clock.clone(),
            self.smtp.clone(),
            self.launch.clone(),
        )
        .await
    }

    /// Stops the in-process server and waits until it has stopped.
    pub(super) async fn stop_in_process(&mut self) {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// The command line of a server binary serving this portal's data at `site_addr`.
    pub(super) fn launch_args(&self, base: &str, site_addr: &str) -> Vec<String> {
        self.launch.args(&self.data, base, site_addr)
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The database as the server keeps it, opened beside it.
    pub async fn database(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.launch.database_url)
            .await
            .unwrap()
    }

    pub fn database_url(&self) -> &str {
        &self.launch.database_url
    }

    /// The SMTP server's URL, when mail goes to one.
    pub fn smtp_url(&self) -> Option<&str> {
        self.launch.smtp_url.as_deref()
    }

    /// The id of the account `username`: no test counts on the order of sign-ups.
    pub async fn user_id(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.database().await)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no account is named {username:?}"))
    }

    /// The kinds of the audit events of the account `username`, oldest first.
    pub async fn events_of(&self, username: &str) -> Vec<String> {
        let user_id = self.user_id(username).await;
        sqlx::query_scalar("SELECT kind FROM audit_events WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.database().await)
            .await
            .unwrap()
    }

    /// Sets the failure counter of one of the account's factors (`totp`, `recovery`) as that
    /// many wrong guesses long ago would have left it.
    pub async fn set_failures(&self, username: &str, factor: &str, failures: i64) {
        let user_id = self.user_id(username).await;
        sqlx::query(
            "INSERT INTO failure_counters (user_id, factor, failures, last_failure_at) \
             VALUES ($1, $2, $3, 0)",
        )
        .bind(user_id)
        .bind(factor)
        .bind(failures)
        .execute(&self.database().await)
        .await
        .unwrap();
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
            .env("PORTAL_DATABASE_URL", self.database_url())
            .env("PORTAL_SMTP_URL", self.smtp.url())
            .env("USER", "support-sam")
            .output()
            .expect("the server binary runs")
    }
}

impl Drop for TestPortal {
    fn drop(&mut self) {
        self.stop.take().map(|stop| stop.send(()));
    }
}

/// An SMTP address where nothing listens: a port taken and given back.
fn unanswered_smtp_url() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    url
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
