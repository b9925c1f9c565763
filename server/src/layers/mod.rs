//! The HTTP layers around Portal's pages and server functions, one file per concern.
//!
//! A request meets them in this order (outermost first), and its response passes back through
//! them in reverse:
//! 0. around every route, these and the forward-auth and health endpoints too (`router`):
//!    `failures`: the request's id and span (method and path, never the query: it can hold
//!    tokens); a 5xx logs one line with the id and shows it to the person; then a panic becomes a
//!    500, and a request unanswered after `REQUEST_TIMEOUT` a 503;
//! 1. `redirects`: on the way out, a `Location` that is not a path on this site becomes one,
//!    whatever inside set it (review M1);
//!    then `monitoring::observe`: each request timed, and every 429 counted, for the metrics;
//! 2. compression: the answer in brotli or gzip when the browser accepts it (pages, server
//!    function answers; `/pkg` files come precompressed and pass through);
//! 3. `client_addr`: the client's address, found once (behind a trusted proxy, its forwarded
//!    hop); everything after reads it from the request's extensions;
//! 4. body limit: 64 KiB, Portal's forms are a few short fields, which must arrive within
//!    `BODY_TIMEOUT`;
//! 5. `headers`: a CSP nonce for this response, and the security headers on every answer,
//!    403 and 429 included;
//! 6. `csrf`: a cross-site POST ends here with 403;
//! 7. `rate_limit`: the sign-in endpoints, per client address (429 with the wait);
//! 8. sessions: the session cookie is loaded (tower-sessions), saved on the way out; around it,
//!    `gone_session`: a server function's answer never removes the cookie of a session that was
//!    gone before it began (it was renewed meanwhile: the browser holds the new one); and around
//!    both, `outage`: a request that met a database outage answers 503 with `Retry-After`, never
//!    500, whichever layer inside failed (the session's own load and save included);
//! 9. `forms`: a no-JS form's page and error are put back; what was typed is kept on failure;
//! 10. `sign_in`: protected pages need an account; an organization's hold allows the wizard only;
//! 11. `status`: on the way out, a server function's `AppError` gets its own status;
//!
//! then the router: a server function, a page render or a static file.

pub mod client_addr;
mod csrf;
pub mod failures;
mod forms;
mod gone_session;
mod headers;
mod outage;
pub mod rate_limit;
mod redirects;
mod sign_in;
mod status;

use std::{sync::Arc, time::Duration};

use app::{error::AppError, state::AppState};
use axum::{
    Router,
    extract::Request,
    http::{Method, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    timeout::{RequestBodyTimeoutLayer, TimeoutLayer},
};
use tower_sessions::SessionManagerLayer;

pub use headers::{CspNonce, HeaderPolicy};

use crate::session_store::PortalSessionStore;

/// The largest body Portal reads: its forms are a few short fields.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The time a client has to send a request's body, once its head has arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a request may take, from its head to its answer: past it the client gets a 503.
/// A sign-in waiting for a hashing thread under load takes a few seconds at most.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What goes around every route (`router`), inside `failures`: a panic answered as a 500, and a
/// request that outlasts `REQUEST_TIMEOUT` as a 503.
pub fn around_every_route(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            failures::answer_failures,
        ))
}

/// Whether a request asks for a page: a GET that is neither a `/pkg` file nor a file name.
pub fn is_page(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET && !path.starts_with("/pkg/") && !path.contains('.')
}

/// A server function's failure answered by a layer, before the function runs: the `AppError` as
/// JSON under its own status, with the `serverfnerror` header naming the function, as Leptos
/// answers it, so the hydrated page's form reads and shows it as it would the function's own.
pub fn server_fn_error(path: &str, error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(error).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static("serverfnerror"),
                path.to_owned(),
            ),
        ],
        body,
    )
        .into_response()
}

/// What the layers need from the configuration.
pub struct Settings {
    pub base_origin: String,
    pub header_policy: HeaderPolicy,
    pub limit: rate_limit::LimitPolicy,
    pub trusted_proxies: Arc<client_addr::TrustedProxies>,
    pub sessions: SessionManagerLayer<PortalSessionStore>,
}

/// Wraps the router in the layers, in the order above. axum runs the layer added last first, so
/// they are added from the innermost out.
pub fn around(router: Router<AppState>, state: &AppState, settings: Settings) -> Router<AppState> {
    let Settings {
        base_origin,
        header_policy,
        limit,
        trusted_proxies,
        sessions,
    } = settings;
    router
        .layer(middleware::from_fn(status::server_fn_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            sign_in::require_sign_in,
        ))
        .layer(middleware::from_fn_with_state(
            base_origin.clone(),
            forms::restore_form_page,
        ))
        .layer(middleware::from_fn(gone_session::note_gone_session))
        .layer(sessions)
        .layer(middleware::from_fn(
            gone_session::keep_cookie_of_gone_session,
        ))
        .layer(middleware::from_fn(outage::answer_outages))
        .layer(middleware::from_fn_with_state(
            limit,
            rate_limit::limit_sign_in,
        ))
        .layer(middleware::from_fn_with_state(
            base_origin.clone(),
            csrf::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(
            header_policy,
            headers::security_headers,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(middleware::from_fn_with_state(
            trusted_proxies,
            client_addr::resolve_client,
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(crate::monitoring::observe))
        .layer(middleware::from_fn_with_state(
            base_origin,
            redirects::keep_on_site,
        ))
}
