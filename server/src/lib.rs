//! Wires Portal together: configuration, database, sessions, layers and the Leptos routes. The
//! rules live in `app`.

pub mod admin;
pub mod config;
pub mod copy;
mod layers;
pub mod monitoring;
mod secret_key;
mod session_store;
mod static_files;

pub use layers::rate_limit::is_limited;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use app::{
    App,
    auth::IDLE_TIMEOUT_SECONDS,
    mail::Mailer,
    password::Passwords,
    security::crypto::SecretBox,
    shell,
    state::{AppState, Clock, Settings},
    store::Backend,
    two_factor::recovery_code_file::download_recovery_code,
};
use axum::{Router, routing::get};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::{AnyPool, Executor as _, any::AnyPoolOptions};
use tokio::net::TcpListener;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

pub use config::Config;
pub use secret_key::KEY_FILE;

/// The session cookie's name over http; over https `SESSION_COOKIE_HTTPS` (`__Host-`: the
/// browser keeps it to this exact host, over https, path `/`).
pub const SESSION_COOKIE: &str = "portal_session";
pub const SESSION_COOKIE_HTTPS: &str = "__Host-portal_session";

/// A portal ready to serve: its router and the state its server functions see.
pub struct Portal {
    pub router: Router,
    pub state: AppState,
    /// What `serve` keeps tidy while it runs.
    limiter: Arc<layers::rate_limit::SignInLimiter>,
    session_store: session_store::PortalSessionStore,
    /// The metrics listener and what it serves, when `PORTAL_METRICS_ADDR` is set.
    metrics: Option<(TcpListener, PrometheusHandle)>,
}

/// How often expired session rows are deleted.
const DELETE_EXPIRED_SESSIONS_EVERY: Duration = Duration::from_secs(15 * 60);

impl Portal {
    /// Makes the data folder and database on first start, applies migrations and builds the
    /// router. Each failure names the variable to fix.
    pub async fn build(config: &Config, clock: Clock) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "PORTAL_DATA_DIR: cannot create {}",
                config.data_dir.display()
            )
        })?;
        let pool = connect(&config.database_url()).await?;
        let key = secret_key::load_or_create(config)?;
        let mailer = mailer(config)?;

        let session_store = session_store::PortalSessionStore::new(pool.clone());

        let settings = Settings {
            base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
            support_email: config.support_email.clone(),
            issuer: config.issuer.clone(),
        };
        let hash_concurrency = std::thread::available_parallelism().map_or(1, usize::from);
        let state = AppState {
            leptos_options: leptos_options(config),
            pool,
            passwords: Arc::new(Passwords::new(hash_concurrency)),
            settings: Arc::new(settings),
            clock,
            secrets: SecretBox::new(&key),
            mailer,
            webauthn: app::security_keys::service::relying_party(&config.base_url, &config.issuer)
                .map_err(|why| anyhow::anyhow!("PORTAL_BASE_URL: unusable for WebAuthn: {why}"))?
                .map(Arc::new),
        };

        app::maintenance::delete_expired(&state)
            .await
            .context("PORTAL_DATABASE_URL: cannot delete expired rows")?;

        let https = state.settings.is_https();
        let sessions = SessionManagerLayer::new(session_store.clone())
            // __Host-: the browser keeps the cookie to this exact host, over https, path /.
            .with_name(if https {
                SESSION_COOKIE_HTTPS
            } else {
                SESSION_COOKIE
            })
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(https)
            .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
                IDLE_TIMEOUT_SECONDS,
            )))
            // Saving on every request keeps the idle timer moving while someone is active.
            .with_always_save(true);
        let base_origin = config.base_url.origin().ascii_serialization();

        let header_policy = layers::HeaderPolicy {
            https,
            dev_reload: dev_reload_source(&state.leptos_options),
        };
        let limiter = Arc::new(layers::rate_limit::SignInLimiter::per_minute(
            config.sign_in_limit,
        ));
        let trusted_proxies = Arc::new(config.trusted_proxies.clone().unwrap_or_default());

        let routes = route_list();
        let settings = layers::Settings {
            base_origin,
            header_policy,
            limit: layers::rate_limit::LimitPolicy {
                limiter: limiter.clone(),
                stylesheet: static_files::stylesheet_href(&state.leptos_options).into(),
                hashing: Arc::new(tokio::sync::Semaphore::new(
                    hash_concurrency * layers::rate_limit::HASHING_IN_FLIGHT_PER_THREAD,
                )),
            },
            trusted_proxies,
            sessions,
        };
        let router = Router::new()
            .route(app::paths::RECOVERY_CODE_FILE, get(download_recovery_code))
            .nest("/pkg", static_files::pkg_router(&state.leptos_options))
            .leptos_routes_with_context(&state, routes, provide_csp_nonce, {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            })
            .fallback(leptos_axum::file_and_error_handler_with_context::<
                AppState,
                _,
            >(provide_csp_nonce, shell));
        let router = layers::around(router, &state, settings)
            // After the layers: a balancer's probe needs no session, cookie or page headers.
            .route("/healthz", {
                let check = Arc::new(monitoring::HealthCheck::default());
                get(
                    move |axum::extract::State(state): axum::extract::State<AppState>| {
                        monitoring::healthz(state, check.clone())
                    },
                )
            })
            .with_state(state.clone());
        let metrics = match config.metrics_addr {
            Some(address) => {
                let handle = monitoring::recorder().context("PORTAL_METRICS_ADDR")?;
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("PORTAL_METRICS_ADDR: cannot listen on {address}"))?;
                Some((listener, handle))
            }
            None => None,
        };
        Ok(Self {
            router,
            state,
            limiter,
            session_store,
            metrics,
        })
    }

    /// Where the metrics are served, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves until `shutdown` completes, with the housekeeping that serving needs: forgetting
    /// idle addresses, deleting expired sessions and expired rows. All stop when serving does.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut housekeeping = vec![
            tokio::spawn(layers::rate_limit::forget_idle_periodically(self.limiter)),
            tokio::spawn(session_store::delete_expired_periodically(
                self.session_store,
                DELETE_EXPIRED_SESSIONS_EVERY,
            )),
            tokio::spawn(delete_expired_continuously(self.state)),
        ];
        if let Some((listener, handle)) = self.metrics {
            housekeeping.push(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, monitoring::router(handle)).await {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            }));
        }
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        for task in housekeeping {
            task.abort();
        }
        served
    }
}

/// The routes of the app, found once per process by rendering it in a mock request. A second
/// portal in the same process (the tests start many) must not render that mock while another
/// serves pages: Leptos' reactive arena is shared, and a page render could then stall forever.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Hands Leptos what the layers found for this request: the CSP nonce, which it puts on its inline
/// hydration scripts, and what a form without JavaScript typed before an error.
fn provide_csp_nonce() {
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return;
    };
    if let Some(layers::CspNonce(nonce)) = parts.extensions.get::<layers::CspNonce>().cloned() {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
    if let Some(kept) = parts
        .extensions
        .get::<app::kept_fields::KeptFields>()
        .cloned()
    {
        provide_context(kept);
    }
}

/// `cargo leptos watch` reloads the page over a websocket, which the CSP must then allow. Leptos
/// adds its reload script only when LEPTOS_WATCH is set (cargo-leptos sets it in watch mode), so
/// the same test decides here: `cargo leptos serve --release`, a bare binary and the tests allow
/// no websocket. (LeptosOptions' `env` says DEV unless LEPTOS_ENV is set, even in release.)
fn dev_reload_source(options: &LeptosOptions) -> Option<String> {
    std::env::var_os("LEPTOS_WATCH")
        .is_some()
        .then(|| format!("ws://{}:{}", options.site_addr.ip(), options.reload_port))
}

/// SMTP when PORTAL_SMTP_URL is set, else the outbox folder.
fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    let from = config.mail_from.clone();
    match &config.smtp_url {
        Some(url) => Mailer::smtp(from, url.as_str())
            .map_err(|error| anyhow::anyhow!("PORTAL_SMTP_URL: {error}")),
        None => {
            let outbox = config.data_dir.join("outbox");
            // Outbox mode is for a developer's machine. On an https address it is most likely a
            // deployment that forgot PORTAL_SMTP_URL: live links then sit in files and the log.
            if config.base_url.scheme() == "https" {
                tracing::warn!(
                    outbox = %outbox.display(),
                    "PORTAL_SMTP_URL is not set: mail, with its live verification and recovery \
                     links, is written to the outbox and its links are logged. Set \
                     PORTAL_SMTP_URL to send mail."
                );
            }
            Mailer::outbox(from, outbox.clone()).with_context(|| {
                format!(
                    "PORTAL_DATA_DIR: cannot create the outbox {}",
                    outbox.display()
                )
            })
        }
    }
}

/// Opens the database PORTAL_DATABASE_URL names and applies its backend's migrations.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).context(
        "PORTAL_DATABASE_URL: not a database Portal can use (sqlite://… or postgres://…)",
    )?;
    let pool = match backend {
        Backend::Sqlite => connect_sqlite(url).await,
        Backend::Postgres => connect_postgres(url).await,
    }
    .context("PORTAL_DATABASE_URL: cannot open the database")?;
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
        Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
    }
    .context("PORTAL_DATABASE_URL: cannot apply migrations")?;
    Ok(pool)
}

/// SQLite with a write-ahead log (readers do not wait for the writer) and foreign keys enforced;
/// the file is made on first start.
async fn connect_sqlite(url: &str) -> Result<AnyPool, sqlx::Error> {
    let url = if url.contains("mode=") {
        url.to_owned()
    } else {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    };
    // Two connections: SQLite takes one writer at a time anyway, and waiting in the pool is cheaper
    // than connections sleeping on a locked database (its busy handler sleeps whole milliseconds);
    // the second lets one statement run while the pool checks the other connection back in. A
    // local file connection cannot break, so it is not pinged before each use as well (each ping is
    // a round trip to SQLite's thread). Measured in BENCHMARKS.md: 8 connections 1276 code
    // checks/s, 1 connection 1634, 2 connections 1983.
    AnyPoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
}

/// A PostgreSQL server that several instances may share. Each instance keeps up to 16
/// connections (PORTAL_DATABASE_URL may not say how many: the server's `max_connections` must
/// allow 16 per instance).
///
/// Every connection runs READ COMMITTED, whatever the server's or the database's default
/// (review I6): the write lock's rule (`store::begin_write`) and the single statements that
/// decide races (`DELETE … RETURNING`, an upsert of one session) are correct under it, where a
/// default of REPEATABLE READ would answer concurrent updates of one row with serialization
/// errors.
async fn connect_postgres(url: &str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(16)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET default_transaction_isolation = 'read committed'")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// cargo-leptos passes the site's layout in LEPTOS_* variables; without it (tests, a bare binary)
/// the layout of `cargo leptos build` is assumed.
fn leptos_options(config: &Config) -> LeptosOptions {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME")
        .is_some()
        .then(|| get_configuration(None).ok())
        .flatten();
    let mut options = from_cargo_leptos
        .map(|configuration| configuration.leptos_options)
        .unwrap_or_else(|| {
            LeptosOptions::builder()
                .output_name("portal")
                .site_root(
                    std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()),
                )
                .build()
        });
    options.site_addr = config.site_addr;
    static_files::detect_hashes(&mut options);
    options
}

/// Deletes expired rows every few minutes for as long as the process runs.
async fn delete_expired_continuously(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(app::maintenance::EVERY_SECONDS));
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(error) = app::maintenance::delete_expired(&state).await {
            tracing::warn!(%error, "expired rows could not be deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_page_of_the_route_table_is_public_or_needs_a_sign_in() {
        let routes = super::route_list();
        assert!(routes.len() >= app::PUBLIC_PAGES.len() + app::PROTECTED_PAGES.len());
        for route in routes {
            let path = route.path();
            let public = app::PUBLIC_PAGES.contains(&path);
            // A parameter stands for any value: `/org/:slug` is checked as `/org/x`.
            let sample = path.replace(":slug", "x");
            assert!(
                public != app::page_needs_sign_in(&sample),
                "{path} must be in exactly one of app::PUBLIC_PAGES and app::PROTECTED_PAGES"
            );
        }
    }
}
