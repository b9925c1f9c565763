//! Wires Portal together: configuration, database, sessions, layers and the Leptos routes. The
//! rules live in `app`.

/// `server admin …`: support's tools, on the state alone.
pub mod admin;
/// The state server functions see, built from the configuration.
pub mod app_state;
/// `server admin backup`: a checked copy of the SQLite database while the portal serves.
pub mod backup;
/// The configuration: command line and environment, parsed once.
pub mod config;
/// `server admin copy-to`: a SQLite database copied to PostgreSQL.
pub mod copy;
/// Opening the database and applying its migrations.
mod database;

mod forward_auth;
/// The HTTP layers around pages and server functions, one file per concern.
mod layers;
/// `/healthz`, the metrics listener and what it counts.
pub mod monitoring;
/// The router: pages, server functions, static files, inside the layers.
mod router;
/// The key that seals second-factor secrets.
mod secret_key;
/// Accepting connections and stopping: timeouts, caps, a bounded graceful stop.
pub mod serving;
/// Sessions kept in the database.
mod session_store;
/// `/pkg`: the built site's files, hashed names and precompressed copies.
mod static_files;

pub use database::connect;
pub use layers::rate_limit::is_limited;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use app::state::{AppState, Clock};
use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use secret_key::KEY_FILE;

/// The session cookie's name over http; over https `SESSION_COOKIE_HTTPS` (`__Host-`: the
/// browser keeps it to this exact host, over https, path `/`).
pub const SESSION_COOKIE: &str = "portal_session";
pub const SESSION_COOKIE_HTTPS: &str = "__Host-portal_session";
/// Over https with `PORTAL_COOKIE_DOMAIN`: `__Host-` forbids a domain, `__Secure-` still asks for
/// https.
pub const SESSION_COOKIE_DOMAIN: &str = "__Secure-portal_session";

/// The session cookie's name for these settings.
pub fn session_cookie(https: bool, domain: Option<&str>) -> &'static str {
    match (https, domain) {
        (false, _) => SESSION_COOKIE,
        (true, None) => SESSION_COOKIE_HTTPS,
        (true, Some(_)) => SESSION_COOKIE_DOMAIN,
    }
}

/// A portal ready to serve: its router and the state its server functions see.
pub struct Portal {
    pub router: Router,
    pub state: AppState,
    /// What `serve` keeps tidy while it runs.
    limiter: Arc<layers::rate_limit::SignInLimiter>,
    session_store: session_store::PortalSessionStore,
    /// The metrics listener, when `PORTAL_METRICS_ADDR` is set.
    metrics: Option<monitoring::MetricsListener>,
    /// How connections are accepted and a stop waits.
    serving: serving::ServingPolicy,
}

/// How often expired session rows are deleted.
const DELETE_EXPIRED_SESSIONS_EVERY: Duration = Duration::from_secs(15 * 60);

impl Portal {
    /// The state (`app_state::build`), the router around it, and the metrics listener. Each
    /// failure names the variable to fix.
    pub async fn build(config: &Config, clock: Clock) -> anyhow::Result<Self> {
        let state = app_state::build(config, clock).await?;
        let session_store = session_store::PortalSessionStore::open(state.pool.clone()).await?;
        let limiter = Arc::new(layers::rate_limit::SignInLimiter::per_minute(
            config.sign_in_limit,
        ));
        let router = router::router(&state, config, session_store.clone(), limiter.clone());
        let metrics = monitoring::MetricsListener::bind(config).await?;
        let serving = serving::ServingPolicy {
            per_address: config.connections_per_address as usize,
            trusted_proxies: Arc::new(config.trusted_proxies.clone().unwrap_or_default()),
            shutdown_grace: Duration::from_secs(config.shutdown_seconds),
        };
        Ok(Self {
            router,
            state,
            limiter,
            session_store,
            metrics,
            serving,
        })
    }

    /// Where the metrics are served, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(monitoring::MetricsListener::local_addr)
    }

    /// Serves until `shutdown` completes, with the housekeeping that serving needs: forgetting
    /// idle addresses, deleting expired sessions and expired rows. Then the requests in flight
    /// are answered (for at most `PORTAL_SHUTDOWN_SECONDS`), the housekeeping stops, and the
    /// database's connections are closed (SQLite then folds its write-ahead log into the file).
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
            tokio::spawn(delete_expired_continuously(self.state.clone())),
        ];
        if let Some(metrics) = self.metrics {
            housekeeping.push(tokio::spawn(metrics.serve()));
        }
        let grace = self.serving.shutdown_grace;
        let stop_began = Arc::new(std::sync::OnceLock::new());
        let began = stop_began.clone();
        serving::serve(listener, self.router, self.serving, async move {
            shutdown.await;
            let _ = began.set(tokio::time::Instant::now());
            tracing::info!("stopping: no new connections; answering the requests in flight");
        })
        .await;
        // Mail that requests left sending after their answers gets what is left of the same bound.
        let background = &self.state.background;
        background.close();
        let deadline = stop_began
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now)
            + grace;
        if tokio::time::timeout_at(deadline, background.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = background.len(),
                "stopping: mail still being sent after PORTAL_SHUTDOWN_SECONDS ({}s) is cut off",
                grace.as_secs()
            );
        }
        // Each task is awaited until it has stopped: one stopped mid-query (the sessions' first
        // sweep runs at start) could otherwise open a connection after the pool has closed, and
        // SQLite's write-ahead log would stay beside the file.
        for task in &housekeeping {
            task.abort();
        }
        for task in housekeeping {
            let _ = task.await;
        }
        self.state.pool.close().await;
        Ok(())
    }
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
