use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::security::{crypto::SecretBox, totp};
use argon2::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use futures::{StreamExt, stream};
use reqwest::Client;

use crate::{Plan, Site};

const PASSWORD: &str = "benchmark password";

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub cores: usize,
    pub argon2_per_second: f64,
    pub sign_ins_per_second: f64,
    pub codes_per_second: f64,
    pub code_p50_ms: f64,
    pub code_p99_ms: f64,
    pub static_per_second: f64,
    pub static_p50_ms: f64,
    pub static_p99_ms: f64,
    /// The OpenID Connect provider on SQLite, for a first-party app with a secret (RS256 ID
    /// tokens): codes exchanged at the token endpoint, refresh tokens rotated there (each chain of
    /// rotations one after another, the chains side by side), and UserInfo with a Bearer token.
    pub token_codes_per_second: f64,
    pub token_code_p50_ms: f64,
    pub token_code_p99_ms: f64,
    pub refreshes_per_second: f64,
    pub refresh_p50_ms: f64,
    pub refresh_p99_ms: f64,
    pub userinfo_per_second: f64,
    pub userinfo_p50_ms: f64,
    pub userinfo_p99_ms: f64,
    pub verify_per_second: f64,
    pub verify_p50_ms: f64,
    pub verify_p99_ms: f64,
    pub sign_in_unknown_ms: f64,
    pub sign_in_wrong_ms: f64,
    pub sign_in_right_ms: f64,
    pub flood_requests: usize,
    pub flood_answered: usize,
    pub flood_peak_rss_mib: f64,
    /// The release wasm and its JS glue as built, and their brotli copies as served.
    pub wasm_bytes: u64,
    pub wasm_br_bytes: u64,
    pub js_bytes: u64,
    pub js_br_bytes: u64,
    pub cold_start_ms: f64,
    pub first_paint_ms: f64,
    pub hydrated_ms: f64,
    /// `/login` hydrated on an emulated slow phone, median of the cold loads.
    pub slow_hydrated_ms: f64,
    /// Script (wasm and JS) bytes the browser received for `/login`, as sent (compressed), on a
    /// first visit and on a second one with its cache.
    pub first_script_bytes: u64,
    pub second_script_bytes: u64,
    pub first_html_bytes: u64,
    /// Responses of the first visit (page, script, stylesheet) sent without compression.
    pub uncompressed: Vec<String>,
    /// CPU time per password sign-in on SQLite: the server process, and the whole machine (the
    /// load client included).
    pub server_cpu_ms_per_sign_in: f64,
    pub machine_cpu_ms_per_sign_in: f64,
    /// The same loads on PostgreSQL, with one instance and with two, when a server was given.
    pub postgres: Option<PostgresFigures>,
}

#[derive(Debug, Clone, Default)]
pub struct PostgresFigures {
    pub one_sign_ins_per_second: f64,
    pub one_codes_per_second: f64,
    pub two_sign_ins_per_second: f64,
    pub two_codes_per_second: f64,
    pub two_code_p99_ms: f64,
    pub server_cpu_ms_per_sign_in: f64,
    pub machine_cpu_ms_per_sign_in: f64,
    /// Statements PostgreSQL ran per sign-in and per code check (pg_stat_statements), when the
    /// server has that extension loaded.
    pub statements_per_sign_in: Option<f64>,
    pub statements_per_code: Option<f64>,
}

/// A load's figures: requests per second and latencies.
struct CodeRun {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// CPU time used, in milliseconds: one process's, or the whole machine's (every busy state of
/// /proc/stat). Linux counts both in ticks of 10 ms.
fn process_cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the name: state is field 3, utime 14 and stime 15.
    let ticks = |at: usize| {
        fields
            .get(at - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) * 10.0
}

fn machine_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(at, _)| *at != 3 && *at != 4 && *at < 8)
        .map(|(_, v)| v)
        .sum();
    busy * 10.0
}

/// CPU used while `load` runs: by the given server processes, and by the machine.
async fn cpu_during<T>(
    servers: &[&Server],
    load: impl std::future::Future<Output = T>,
) -> (T, f64, f64) {
    let servers_before: f64 = servers.iter().map(|s| process_cpu_ms(s.child.id())).sum();
    let machine_before = machine_cpu_ms();
    let out = load.await;
    let servers_after: f64 = servers.iter().map(|s| process_cpu_ms(s.child.id())).sum();
    (
        out,
        servers_after - servers_before,
        machine_cpu_ms() - machine_before,
    )
}

struct Server {
    child: Child,
    base: String,
    data: tempfile::TempDir,
    database_url: String,
    secret_key_hex: Option<String>,
}

impl Server {
    /// Starts the release server on a free loopback port with an empty data folder; returns it
    /// and the time from start to the first served page (migrations included).
    async fn start(site: &Site) -> anyhow::Result<(Self, Duration)> {
        Self::start_on(site, None, None).await
    }

    /// The same on a given database (else the data folder's SQLite file) and secret key (else
    /// the data folder's key file).
    async fn start_on(
        site: &Site,
        database_url: Option<&str>,
        secret_key_hex: Option<&str>,
    ) -> anyhow::Result<(Self, Duration)> {
        let data = tempfile::tempdir()?;
        // Forward-auth's rules: every app under bench.test open to anyone signed in.
        let rules = data.path().join("access.toml");
        std::fs::write(
            &rules,
            "[[rule]]\nhost = \"*.bench.test\"\npolicy = \"one_factor\"\n",
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let database_url = database_url.map_or_else(
            || format!("sqlite://{}", data.path().join("portal.db").display()),
            str::to_owned,
        );
        let mut command = Command::new(&site.server);
        if let Some(key) = secret_key_hex {
            command.env("PORTAL_SECRET_KEY", key);
        }
        let child = command
            .env("PORTAL_DATA_DIR", data.path())
            .env("PORTAL_DATABASE_URL", &database_url)
            .env("PORTAL_BASE_URL", &base)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", &site.site_root)
            .env("LEPTOS_OUTPUT_NAME", "portal")
            .env("LEPTOS_ENV", "PROD")
            .env("PORTAL_SIGN_IN_LIMIT", "1000000000")
            .env("PORTAL_ACCESS_RULES", &rules)
            .env("PORTAL_TRUSTED_PROXIES", "127.0.0.1")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot start {}: {error} (run cargo leptos build --release)",
                    site.server.display()
                )
            })?;
        let server = Self {
            child,
            base,
            data,
            database_url,
            secret_key_hex: secret_key_hex.map(str::to_owned),
        };
        let client = Client::new();
        for _ in 0..1000 {
            if let Ok(response) = client.get(format!("{}/login", server.base)).send().await {
                if response.status().is_success() {
                    return Ok((server, started.elapsed()));
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        anyhow::bail!("the server did not answer within 2 s")
    }

    /// The key that seals second-factor secrets.
    fn secret_key(&self) -> anyhow::Result<[u8; 32]> {
        let hex = match &self.secret_key_hex {
            Some(hex) => hex.clone(),
            None => std::fs::read_to_string(self.data.path().join("secret.key"))?,
        };
        let bytes = hex::decode(hex.trim())?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("a 32-byte key"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(
    client: &Client,
    url: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<reqwest::StatusCode> {
    Ok(client
        .post(url)
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await?
        .status())
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn sorted_ms(durations: &[Duration]) -> Vec<f64> {
    let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms
}

pub async fn all(site: &Site, plan: &Plan, postgres: Option<&str>) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        ..Figures::default()
    };
    let (server, cold_start) = Server::start(site).await?;
    figures.cold_start_ms = cold_start.as_secs_f64() * 1000.0;
    let concurrency = 2 * figures.cores;

    figures.argon2_per_second = raw_argon2(figures.cores, plan.hashes_per_core);
    let (rate, server_cpu, machine_cpu) = cpu_during(
        &[&server],
        password_sign_ins(&[&server], plan.sign_ins, concurrency),
    )
    .await;
    figures.sign_ins_per_second = rate?;
    figures.server_cpu_ms_per_sign_in = server_cpu / plan.sign_ins as f64;
    figures.machine_cpu_ms_per_sign_in = machine_cpu / plan.sign_ins as f64;
    sign_in_timing(&server, &mut figures).await?;
    let run = codes(&[&server], "code", plan.codes, concurrency, None).await?;
    figures.codes_per_second = run.per_second;
    figures.code_p50_ms = run.p50_ms;
    figures.code_p99_ms = run.p99_ms;
    static_files(&server, plan, concurrency, &mut figures).await?;
    forward_auth(&server, plan, concurrency, &mut figures).await?;
    oidc(site, &server, plan, concurrency, &mut figures).await?;
    paint(site, &server, plan, &mut figures)?;
    drop(server);

    flood(site, plan, &mut figures).await?;
    sizes(site, &mut figures)?;
    if let Some(server) = postgres {
        figures.postgres = Some(on_postgres(site, plan, server, concurrency).await?);
    }
    Ok(figures)
}

/// Sign-ins and code checks on PostgreSQL: one instance, then two on the same database with the
/// load split between them (a password on one, its code on the other).
async fn on_postgres(
    site: &Site,
    plan: &Plan,
    server: &str,
    concurrency: usize,
) -> anyhow::Result<PostgresFigures> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let server = server.trim_end_matches('/');
    let name = format!("portal_bench_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let database_url = format!("{server}/{name}");
    let key: String = hex::encode(app::security::crypto::random_bytes::<32>());
    let mut figures = PostgresFigures::default();

    let (first, _) = Server::start_on(site, Some(&database_url), Some(&key)).await?;
    let statements = Statements::open(&database_url).await;
    statements.reset().await;
    let (rate, server_cpu, machine_cpu) = cpu_during(
        &[&first],
        password_sign_ins(&[&first], plan.sign_ins, concurrency),
    )
    .await;
    figures.one_sign_ins_per_second = rate?;
    figures.statements_per_sign_in = statements.count().await.map(|n| n / plan.sign_ins as f64);
    figures.server_cpu_ms_per_sign_in = server_cpu / plan.sign_ins as f64;
    figures.machine_cpu_ms_per_sign_in = machine_cpu / plan.sign_ins as f64;
    let run = codes(
        &[&first],
        "pgone",
        plan.codes,
        concurrency,
        Some(&statements),
    )
    .await?;
    figures.one_codes_per_second = run.per_second;
    figures.statements_per_code = statements.count().await.map(|n| n / plan.codes as f64);

    let (second, _) = Server::start_on(site, Some(&database_url), Some(&key)).await?;
    let both = [&first, &second];
    figures.two_sign_ins_per_second = password_sign_ins(&both, plan.sign_ins, concurrency).await?;
    let run = codes(&both, "pgtwo", plan.codes, concurrency, None).await?;
    figures.two_codes_per_second = run.per_second;
    figures.two_code_p99_ms = run.p99_ms;
    drop((first, second));
    Ok(figures)
}

/// PostgreSQL's count of statements run in the bench database (pg_stat_statements); None when
/// the server does not have the extension loaded.
struct Statements {
    pool: Option<sqlx::AnyPool>,
}

impl Statements {
    async fn open(database_url: &str) -> Self {
        let pool = async {
            let pool = sqlx::AnyPool::connect(database_url).await.ok()?;
            sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(&pool)
                .await
                .ok()?;
            sqlx::query("SELECT pg_stat_statements_reset()")
                .execute(&pool)
                .await
                .ok()?;
            Some(pool)
        }
        .await;
        Self { pool }
    }

    async fn reset(&self) {
        if let Some(pool) = &self.pool {
            let _ = sqlx::query("SELECT pg_stat_statements_reset()")
                .execute(pool)
                .await;
        }
    }

    /// Statements since the last reset, and a reset for the next count.
    async fn count(&self) -> Option<f64> {
        let pool = self.pool.as_ref()?;
        let calls: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query NOT LIKE '%pg_stat_statements%'",
        )
        .fetch_one(pool)
        .await
        .ok()?;
        self.reset().await;
        Some(calls as f64)
    }
}

/// The floor of a password sign-in: Argon2id verifications on every core at once.
fn raw_argon2(cores: usize, per_core: usize) -> f64 {
    let hash = app::password::argon2()
        .hash_password(PASSWORD.as_bytes())
        .expect("hashing works")
        .to_string();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                for _ in 0..per_core {
                    let parsed = argon2::PasswordHash::new(&hash).expect("a PHC string");
                    assert!(
                        app::password::argon2()
                            .verify_password(PASSWORD.as_bytes(), &parsed)
                            .is_ok()
                    );
                }
            });
        }
    });
    (cores * per_core) as f64 / started.elapsed().as_secs_f64()
}

/// Password sign-ins per second, `count` of them `concurrency` at a time, spread over `servers`.
async fn password_sign_ins(
    servers: &[&Server],
    count: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    // Taken already when the servers share a database that has it: that is fine.
    post(
        &browser(),
        &servers[0].url("/api/signup"),
        &[
            ("username", "bench"),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await?;
    let started = Instant::now();
    let statuses: Vec<_> = stream::iter(0..count)
        .map(|i| {
            let url = servers[i % servers.len()].url("/api/login");
            async move {
                post(
                    &Client::new(),
                    &url,
                    &[("username", "bench"), ("password", PASSWORD), ("next", "")],
                )
                .await
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = statuses
        .iter()
        .filter(|status| matches!(status, Ok(s) if s.is_success()))
        .count();
    anyhow::ensure!(ok == count, "only {ok} of {count} sign-ins succeeded");
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// Unknown user, wrong password and right password, one after another, so timing can be compared.
async fn sign_in_timing(server: &Server, figures: &mut Figures) -> anyhow::Result<()> {
    let url = server.url("/api/login");
    let (mut unknown, mut wrong, mut right) = (Vec::new(), Vec::new(), Vec::new());
    let client = Client::new();
    for round in 0..15 {
        let nobody = format!("nobody{round}");
        for (form, into) in [
            (
                [
                    ("username", nobody.as_str()),
                    ("password", PASSWORD),
                    ("next", ""),
                ],
                &mut unknown,
            ),
            (
                [
                    ("username", "bench"),
                    ("password", "wrong password"),
                    ("next", ""),
                ],
                &mut wrong,
            ),
            // The right password also clears the wrong one's count, so nothing is throttled.
            (
                [("username", "bench"), ("password", PASSWORD), ("next", "")],
                &mut right,
            ),
        ] {
            let started = Instant::now();
            post(&client, &url, &form).await?;
            into.push(started.elapsed());
        }
    }
    figures.sign_in_unknown_ms = percentile(&sorted_ms(&unknown), 0.5);
    figures.sign_in_wrong_ms = percentile(&sorted_ms(&wrong), 0.5);
    figures.sign_in_right_ms = percentile(&sorted_ms(&right), 0.5);
    Ok(())
}

/// Second-step code checks: distinct accounts (named `prefix` and a number), each with its own
/// secret, so every code is new. Each account signs in with its password on one of `servers` and
/// sends its code to the next. `statements`, when given, is reset just before the checks.
async fn codes(
    servers: &[&Server],
    prefix: &str,
    count: usize,
    concurrency: usize,
    statements: Option<&Statements>,
) -> anyhow::Result<CodeRun> {
    let signup = servers[0].url("/api/signup");
    for i in 0..count {
        let username = format!("{prefix}{i}");
        post(
            &Client::new(),
            &signup,
            &[
                ("username", &username),
                ("email", &format!("{username}@example.com")),
                ("password", PASSWORD),
            ],
        )
        .await?;
    }
    // Turn two-factor on in the database, sealed with the servers' key.
    let sealer = SecretBox::new(&servers[0].secret_key()?);
    sqlx::any::install_default_drivers();
    let database = sqlx::AnyPool::connect(&servers[0].database_url).await?;
    let users: Vec<(app::store::UserId, String)> =
        sqlx::query_as("SELECT id, username FROM users WHERE username LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(&database)
            .await?;
    let mut accounts = Vec::new();
    for (n, (id, username)) in users.into_iter().enumerate() {
        let secret = app::security::crypto::random_bytes::<20>();
        let sealed = sealer.seal(&secret, &app::two_factor::service::secret_context(id));
        sqlx::query("INSERT INTO two_factor (user_id, recovery_code_hash, enabled_at) VALUES ($1, 'unused', 0)")
            .bind(id)
            .execute(&database)
            .await?;
        sqlx::query("INSERT INTO authenticator_apps (user_id, name, secret_sealed, last_accepted_step, created_at) VALUES ($1, 'Bench', $2, 0, 0)")
            .bind(id)
            .bind(sealed)
            .execute(&database)
            .await?;
        let client = browser();
        post(
            &client,
            &servers[n % servers.len()].url("/api/login"),
            &[
                ("username", &username),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await?;
        let verify = servers[(n + 1) % servers.len()].url("/api/verify_sign_in_code");
        accounts.push((client, secret, verify));
    }
    database.close().await;
    if let Some(statements) = statements {
        statements.reset().await;
    }
    let started = Instant::now();
    let results: Vec<(anyhow::Result<reqwest::StatusCode>, Duration)> =
        stream::iter(accounts.iter())
            .map(|(client, secret, url)| async move {
                let now = app::state::Clock::default().now();
                let code = totp::code_at(secret, totp::TotpStep::at(now));
                let sent = Instant::now();
                let status = post(client, url, &[("code", &code), ("next", "")]).await;
                (status, sent.elapsed())
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let elapsed = started.elapsed();
    let ok = results
        .iter()
        .filter(|(status, _)| matches!(status, Ok(s) if s.is_success()))
        .count();
    anyhow::ensure!(ok == count, "only {ok} of {count} codes were accepted");
    let latencies = sorted_ms(
        &results
            .iter()
            .map(|(_, latency)| *latency)
            .collect::<Vec<_>>(),
    );
    Ok(CodeRun {
        per_second: count as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    })
}

async fn static_files(
    server: &Server,
    plan: &Plan,
    concurrency: usize,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let client = Client::new();
    let url = server.url("/favicon.svg");
    let started = Instant::now();
    let results: Vec<(bool, Duration)> = stream::iter(0..plan.static_requests)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let sent = Instant::now();
                let ok = client
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|response| response.status().is_success());
                (ok, sent.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    anyhow::ensure!(results.iter().all(|(ok, _)| *ok), "a static request failed");
    let latencies = sorted_ms(
        &results
            .iter()
            .map(|(_, latency)| *latency)
            .collect::<Vec<_>>(),
    );
    figures.static_per_second = plan.static_requests as f64 / elapsed.as_secs_f64();
    figures.static_p50_ms = percentile(&latencies, 0.5);
    figures.static_p99_ms = percentile(&latencies, 0.99);
    Ok(())
}

/// Forward-auth as a proxy asks it, for a signed-in browser: `/auth/verify` with the proxy's
/// `X-Forwarded-*` headers and the browser's session cookie, each answered 200 with the person's
/// headers. Every answer reads the sign-in from the database (no cache across requests).
async fn forward_auth(
    server: &Server,
    plan: &Plan,
    concurrency: usize,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let person = browser();
    let status = post(
        &person,
        &server.url("/api/login"),
        &[("username", "bench"), ("password", PASSWORD), ("next", "")],
    )
    .await?;
    anyhow::ensure!(
        status.is_success(),
        "the sign-in for forward-auth failed: {status}"
    );
    let url = server.url("/auth/verify");
    let started = Instant::now();
    let answered: Vec<(bool, Duration)> = stream::iter(0..plan.verify_requests)
        .map(|i| {
            let (person, url) = (&person, &url);
            async move {
                let sent = Instant::now();
                let ok = person
                    .get(url)
                    .header("x-forwarded-proto", "https")
                    .header("x-forwarded-host", "wiki.bench.test")
                    .header("x-forwarded-uri", format!("/page/{i}"))
                    .send()
                    .await
                    .is_ok_and(|response| {
                        response.status().is_success()
                            && response
                                .headers()
                                .get("remote-user")
                                .is_some_and(|user| user == "bench")
                    });
                (ok, sent.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = answered.iter().filter(|(ok, _)| *ok).count();
    let latencies: Vec<Duration> = answered.iter().map(|(_, latency)| *latency).collect();
    let run = load_run(
        plan.verify_requests,
        ok,
        elapsed,
        &latencies,
        "forward-auth verifies",
    )?;
    figures.verify_per_second = run.per_second;
    figures.verify_p50_ms = run.p50_ms;
    figures.verify_p99_ms = run.p99_ms;
    Ok(())
}

/// The redirect URI the benchmark's app registers: nothing listens there, the code is read from
/// the `Location` Portal answers with.
const APP_REDIRECT_URI: &str = "http://127.0.0.1:9/cb";

/// What a load of `count` requests came to, from the latencies of those that succeeded.
fn load_run(
    count: usize,
    ok: usize,
    elapsed: Duration,
    latencies: &[Duration],
    what: &str,
) -> anyhow::Result<CodeRun> {
    anyhow::ensure!(ok == count, "only {ok} of {count} {what} succeeded");
    let latencies = sorted_ms(latencies);
    Ok(CodeRun {
        per_second: count as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    })
}

/// `server admin …` against the running server's database and key; its standard output.
fn admin(site: &Site, server: &Server, args: &[&str]) -> anyhow::Result<String> {
    let mut command = Command::new(&site.server);
    if let Some(key) = &server.secret_key_hex {
        command.env("PORTAL_SECRET_KEY", key);
    }
    let output = command
        .arg("admin")
        .args(args)
        .env("PORTAL_DATA_DIR", server.data.path())
        .env("PORTAL_DATABASE_URL", &server.database_url)
        .env("PORTAL_BASE_URL", &server.base)
        .env("RUST_LOG", "error")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "server admin {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The tokens one code or refresh token brought.
struct Tokens {
    access: String,
    refresh: String,
}

/// A token endpoint request by the app (HTTP Basic): the tokens, or None when refused.
async fn token_request(
    client: &Client,
    url: &str,
    app: &(String, String),
    form: &[(&str, &str)],
) -> Option<Tokens> {
    let response = client
        .post(url)
        .basic_auth(&app.0, Some(&app.1))
        .form(form)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["id_token"].as_str()?;
    Some(Tokens {
        access: body["access_token"].as_str()?.to_owned(),
        refresh: body["refresh_token"].as_str()?.to_owned(),
    })
}

/// The OpenID Connect provider as apps load it: an app registered with `server admin client
/// add`, the benchmark's account signed in through the real endpoints, codes from the
/// authorization endpoint, then the token endpoint (codes, then chains of refresh tokens) and
/// UserInfo, each `concurrency` requests at a time.
async fn oidc(
    site: &Site,
    server: &Server,
    plan: &Plan,
    concurrency: usize,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let registered = admin(
        site,
        server,
        &[
            "client",
            "add",
            "--name",
            "Bench",
            "--redirect-uri",
            APP_REDIRECT_URI,
            "--first-party",
        ],
    )?;
    let field = |name: &str| {
        registered
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .ok_or_else(|| anyhow::anyhow!("server admin client add printed no {name}"))
    };
    let app = (field("client_id:")?, field("client_secret:")?);

    let person = browser();
    let status = post(
        &person,
        &server.url("/api/login"),
        &[("username", "bench"), ("password", PASSWORD), ("next", "")],
    )
    .await?;
    anyhow::ensure!(
        status.is_success(),
        "the sign-in for the app failed: {status}"
    );
    // The first ID token makes the RS256 key: made here, not in the measured load.
    Client::new()
        .get(server.url("/oauth2/jwks"))
        .send()
        .await?
        .error_for_status()?;

    // Codes, one a verifier: a code is good for 60 s, far more than the load takes.
    let mut codes = Vec::with_capacity(plan.token_requests);
    for _ in 0..plan.token_requests {
        let verifier = app::security::token::new_token();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(app::security::token::hash(&verifier));
        let response = person
            .get(server.url("/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", app.0.as_str()),
                ("redirect_uri", APP_REDIRECT_URI),
                ("scope", "openid profile email groups offline_access"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("state", "x"),
            ])
            .send()
            .await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let code = reqwest::Url::parse(location)
            .ok()
            .filter(|url| url.as_str().starts_with(APP_REDIRECT_URI))
            .and_then(|url| {
                url.query_pairs()
                    .find(|(name, _)| name == "code")
                    .map(|(_, code)| code.into_owned())
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the authorization endpoint answered {} to {location:?}, not with a code",
                    response.status()
                )
            })?;
        codes.push((code, verifier));
    }

    let token_url = server.url("/oauth2/token");
    let machine = Client::new();
    let started = Instant::now();
    let exchanged: Vec<(Option<Tokens>, Duration)> = stream::iter(codes.iter())
        .map(|(code, verifier)| {
            let (machine, url, app) = (&machine, &token_url, &app);
            async move {
                let sent = Instant::now();
                let tokens = token_request(
                    machine,
                    url,
                    app,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", APP_REDIRECT_URI),
                        ("code_verifier", verifier.as_str()),
                    ],
                )
                .await;
                (tokens, sent.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let latencies: Vec<Duration> = exchanged.iter().map(|(_, latency)| *latency).collect();
    let tokens: Vec<Tokens> = exchanged
        .into_iter()
        .filter_map(|(tokens, _)| tokens)
        .collect();
    let run = load_run(
        plan.token_requests,
        tokens.len(),
        elapsed,
        &latencies,
        "code exchanges",
    )?;
    figures.token_codes_per_second = run.per_second;
    figures.token_code_p50_ms = run.p50_ms;
    figures.token_code_p99_ms = run.p99_ms;

    // Refresh tokens: each use spends it and returns the next, so each chain goes one request
    // after another; `concurrency` chains, each from its own code, run side by side.
    let chains = concurrency.min(tokens.len()).max(1);
    let started = Instant::now();
    let rotated: Vec<Vec<(bool, Duration)>> = futures::future::join_all(
        tokens
            .iter()
            .take(chains)
            .enumerate()
            .map(|(chain, first)| {
                let (machine, url, app) = (&machine, &token_url, &app);
                let length = plan.token_requests / chains
                    + usize::from(chain < plan.token_requests % chains);
                async move {
                    let mut refresh = first.refresh.clone();
                    let mut results = Vec::with_capacity(length);
                    for _ in 0..length {
                        let sent = Instant::now();
                        let next = token_request(
                            machine,
                            url,
                            app,
                            &[
                                ("grant_type", "refresh_token"),
                                ("refresh_token", refresh.as_str()),
                            ],
                        )
                        .await;
                        results.push((next.is_some(), sent.elapsed()));
                        match next {
                            Some(next) => refresh = next.refresh,
                            None => break,
                        }
                    }
                    results
                }
            }),
    )
    .await;
    let elapsed = started.elapsed();
    let rotated: Vec<(bool, Duration)> = rotated.into_iter().flatten().collect();
    let ok = rotated.iter().filter(|(ok, _)| *ok).count();
    let latencies: Vec<Duration> = rotated.iter().map(|(_, latency)| *latency).collect();
    let run = load_run(
        plan.token_requests,
        ok,
        elapsed,
        &latencies,
        "refresh token rotations",
    )?;
    figures.refreshes_per_second = run.per_second;
    figures.refresh_p50_ms = run.p50_ms;
    figures.refresh_p99_ms = run.p99_ms;

    // UserInfo with the access tokens the codes brought, in turn.
    let userinfo_url = server.url("/oauth2/userinfo");
    let started = Instant::now();
    let answered: Vec<(bool, Duration)> = stream::iter(0..plan.userinfo_requests)
        .map(|i| {
            let (machine, url) = (&machine, &userinfo_url);
            let access = &tokens[i % tokens.len()].access;
            async move {
                let sent = Instant::now();
                let ok = match machine.get(url).bearer_auth(access).send().await {
                    Ok(response) if response.status().is_success() => response
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|claims| claims["preferred_username"] == "bench"),
                    _ => false,
                };
                (ok, sent.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = answered.iter().filter(|(ok, _)| *ok).count();
    let latencies: Vec<Duration> = answered.iter().map(|(_, latency)| *latency).collect();
    let run = load_run(
        plan.userinfo_requests,
        ok,
        elapsed,
        &latencies,
        "UserInfo requests",
    )?;
    figures.userinfo_per_second = run.per_second;
    figures.userinfo_p50_ms = run.p50_ms;
    figures.userinfo_p99_ms = run.p99_ms;
    Ok(())
}

fn paint(site: &Site, server: &Server, plan: &Plan, figures: &mut Figures) -> anyhow::Result<()> {
    let output = Command::new("node")
        .arg("perf/paint.js")
        .arg(server.url("/login"))
        .arg(plan.paint_loads.to_string())
        .current_dir(&site.end2end)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "paint timing failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let timings: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let number = |name: &str| timings[name].as_f64().unwrap_or_default();
    figures.first_paint_ms = number("first_paint_ms");
    figures.hydrated_ms = number("hydrated_ms");
    figures.slow_hydrated_ms = number("slow_hydrated_ms");
    figures.first_script_bytes = number("first_script_bytes") as u64;
    figures.second_script_bytes = number("second_script_bytes") as u64;
    figures.first_html_bytes = number("first_html_bytes") as u64;
    figures.uncompressed = timings["uncompressed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|url| url.as_str().map(str::to_owned))
        .collect();
    Ok(())
}

/// Peak resident memory of a fresh server while `flood` sign-in attempts arrive at once.
async fn flood(site: &Site, plan: &Plan, figures: &mut Figures) -> anyhow::Result<()> {
    let (server, _) = Server::start(site).await?;
    post(
        &browser(),
        &server.url("/api/signup"),
        &[
            ("username", "flood"),
            ("email", "flood@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await?;
    let client = Client::new();
    let url = server.url("/api/login");
    let attempts = (0..plan.flood).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let username = if i % 2 == 0 {
                "flood".to_owned()
            } else {
                format!("user{i}")
            };
            let password = if i % 10 == 0 {
                PASSWORD.to_owned()
            } else {
                format!("wrong {i}")
            };
            post(
                &client,
                &url,
                &[
                    ("username", &username),
                    ("password", &password),
                    ("next", ""),
                ],
            )
            .await
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    figures.flood_requests = plan.flood;
    figures.flood_answered = statuses.iter().filter(|status| status.is_ok()).count();
    figures.flood_peak_rss_mib = server.peak_rss_mib();
    Ok(())
}

/// The size of a built file and of its brotli copy (`cargo leptos build --precompress`).
fn built_size(path: &Path) -> anyhow::Result<(u64, u64)> {
    let size = |path: &Path| {
        std::fs::metadata(path)
            .map(|metadata| metadata.len())
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
    };
    let mut brotli = path.as_os_str().to_owned();
    brotli.push(".br");
    Ok((size(path)?, size(Path::new(&brotli))?))
}

/// A built file's name: with its content hash when the build wrote `hash.txt` beside the server.
fn built_name(site: &Site, kind: &str, extension: &str) -> String {
    let hash = site
        .server
        .parent()
        .and_then(|folder| std::fs::read_to_string(folder.join("hash.txt")).ok())
        .and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (file, hash) = line.trim().split_once(':')?;
                (file == kind).then(|| hash.trim().to_owned())
            })
        });
    match hash {
        Some(hash) => format!("portal.{hash}.{extension}"),
        None => format!("portal.{extension}"),
    }
}

fn sizes(site: &Site, figures: &mut Figures) -> anyhow::Result<()> {
    let package = site.site_root.join("pkg");
    (figures.wasm_bytes, figures.wasm_br_bytes) =
        built_size(&package.join(built_name(site, "wasm", "wasm")))?;
    (figures.js_bytes, figures.js_br_bytes) =
        built_size(&package.join(built_name(site, "js", "js")))?;
    Ok(())
}
