//! A database outage answers 503 with `Retry-After`, never 500: a server function's
//! `AppError::Unavailable` has its 503 already (`status`); this turns the 500s that carry no
//! `AppError` into 503 when the request met an outage (a session tower-sessions could not load
//! or save, a layer's or an endpoint's own read). `failures`, around every route, gives every 503
//! its `Retry-After`.

use app::error::{AppError, outage};
use axum::{
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Around the session layer, so that the session's own load and save are inside.
pub async fn answer_outages(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let (response, met_outage) = outage::noting(next.run(request)).await;
    if met_outage && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        unavailable(&path)
    } else {
        response
    }
}

/// The 503 a server function or a page answers for an outage; the cause was logged where it met.
fn unavailable(path: &str) -> Response {
    let error = AppError::Unavailable;
    if path.starts_with("/api/") {
        return super::server_fn_error(path, &error);
    }
    (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
}
