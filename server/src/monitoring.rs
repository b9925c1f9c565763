//! What an operator watches: `GET /healthz` on the public address for the load balancer, and
//! Prometheus metrics on their own address (`PORTAL_METRICS_ADDR`). The counters are written
//! where things happen (sign-ins and security events in `app::audit` and `app::auth`, mail in
//! `app::mail`, requests and throttling in the `observe` layer) through the `metrics` facade.

use std::{sync::OnceLock, time::Instant};

use app::state::AppState;
use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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

/// `GET /healthz`: 200 while the database answers, 503 when it does not. Outside the session
/// layer, so a balancer's probes leave no session rows.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let answered = sqlx::query("SELECT 1").execute(&state.pool).await;
    let (status, body) = match answered {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
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
