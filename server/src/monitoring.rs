//! What an operator watches: `GET /healthz` on the public address for the load balancer, and
//! Prometheus metrics on their own address (`PORTAL_METRICS_ADDR`). The counters are written
//! where things happen (sign-ins and security events in `app::audit` and `app::auth`, mail in
//! `app::mail`, requests and throttling in the `observe` layer) through the `metrics` facade.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Instant,
};

use anyhow::Context as _;

use app::state::AppState;
use axum::{
    Router,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::Config;

/// Latency buckets in seconds: from a static file's fraction of a millisecond to a slow
/// Argon2id sign-in under load.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process's Prometheus recorder, installed by the first portal that serves metrics (the
/// facade has one recorder per process).
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(handle);
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("another metrics recorder is installed"))
}

/// The metrics listener, bound at start so a taken address fails the start, not the first scrape.
pub struct MetricsListener {
    listener: TcpListener,
    handle: PrometheusHandle,
}

impl MetricsListener {
    /// Listens on PORTAL_METRICS_ADDR, when it is set. Only `server` serving does this: an admin
    /// command, run beside the serving portal, must not take its address.
    pub async fn bind(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(address) = config.metrics_addr else {
            return Ok(None);
        };
        let handle = recorder().context("PORTAL_METRICS_ADDR")?;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("PORTAL_METRICS_ADDR: cannot listen on {address}"))?;
        Ok(Some(Self { listener, handle }))
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves `GET /metrics` until the task running it is aborted.
    pub async fn serve(self) {
        if let Err(error) = axum::serve(self.listener, router(self.handle)).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    }
}

/// `GET /metrics` in Prometheus' text format.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// `GET /healthz`: 200 while the database answers, 503 (with `Retry-After`) when it does not,
/// within the pool's acquire timeout. Outside the session layer, so a balancer's probes leave no
/// session rows.
pub async fn healthz(state: AppState, check: Arc<HealthCheck>) -> Response {
    let healthy = check
        .answer(async {
            match sqlx::query("SELECT 1").execute(&state.pool).await {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(%error, "health check: the database does not answer");
                    false
                }
            }
        })
        .await;
    if healthy {
        return (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ok").into_response();
    }
    let retry_after = app::error::outage::RETRY_AFTER_SECONDS.to_string();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::RETRY_AFTER, retry_after),
        ],
        "database unreachable",
    )
        .into_response()
}

/// One portal's health checks, one at a time: a probe that arrives while a check runs takes the
/// answer of the next check to start, so a flood of probes queries the database one at a time,
/// not once each (review M4), and no probe gets an answer from before it arrived.
#[derive(Debug, Default)]
pub struct HealthCheck {
    /// When the last check started, and what it found.
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl HealthCheck {
    /// Whether the database answers, as `probe` finds (or a check started since this call).
    pub async fn answer(&self, probe: impl Future<Output = bool>) -> bool {
        let asked = Instant::now();
        let mut last = self.last.lock().await;
        if let Some((started, healthy)) = *last {
            if started >= asked {
                return healthy;
            }
        }
        let started = Instant::now();
        let healthy = probe.await;
        *last = Some((started, healthy));
        healthy
    }
}

/// Times each request by what it is (a server function, a page, a static file) and counts the
/// ones refused for throttling (429), whichever layer or rule refused them.
pub async fn observe(request: Request, next: Next) -> Response {
    let kind = kind_of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    metrics::histogram!(
        "portal_request_duration_seconds",
        "kind" => kind,
        "status" => status_class(status),
    )
    .record(started.elapsed().as_secs_f64());
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("portal_throttled_total", "kind" => kind).increment(1);
    }
    response
}

/// A few fixed labels, never the path itself: a path is chosen by whoever sends the request.
fn kind_of(path: &str) -> &'static str {
    if path.starts_with("/api/") {
        "server_function"
    } else if path.starts_with("/pkg/") {
        "static"
    } else {
        "page"
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A flood of probes at once queries the database a few times, not once per request
    /// (review M4): those that arrive while a check runs take the next check's answer.
    #[tokio::test]
    async fn probes_at_once_share_their_checks() {
        let check = HealthCheck::default();
        let queries = AtomicUsize::new(0);
        let probe = || async {
            queries.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            true
        };
        let answers = futures::future::join_all((0..100).map(|_| check.answer(probe()))).await;
        assert!(answers.iter().all(|healthy| *healthy));
        let queries = queries.load(Ordering::SeqCst);
        assert!(queries <= 2, "{queries} queries for 100 probes");
    }

    /// A check that starts after a probe arrived answers it: a database gone a moment ago is
    /// never reported as answering.
    #[tokio::test]
    async fn a_probe_never_takes_an_answer_older_than_itself() {
        let check = HealthCheck::default();
        assert!(check.answer(async { true }).await);
        assert!(!check.answer(async { false }).await);
        assert!(check.answer(async { true }).await);
    }
}
