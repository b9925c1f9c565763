//! The HTTP layers around Portal's pages and server functions.

use app::{auth::AuthSession, error::AppError, state::AppState};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

/// The largest body Portal reads: its forms are a few short fields.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Refuses a state-changing request that a browser says came from another site (CSRF). Browsers
/// send Sec-Fetch-Site; older ones only Origin. A request with neither is not from a browser
/// page, so no one's cookies are being borrowed.
pub async fn refuse_cross_site(
    State(base_origin): State<String>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || is_same_site(request.headers(), &base_origin) {
        return next.run(request).await;
    }
    tracing::warn!(path = request.uri().path(), "cross-site request refused");
    (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response()
}

fn is_same_site(headers: &HeaderMap, base_origin: &str) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &header::HeaderValue| value.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text(header::ORIGIN) else {
        return true;
    };
    if origin == base_origin {
        return true;
    }
    // The origin the browser itself used to reach this server.
    text(header::HOST).is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host == host)
    })
}

/// Pages that need a signed-in account send everyone else to sign in, and back afterwards.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let protected = path == "/portal" || path == "/settings" || path.starts_with("/settings/");
    if request.method() != Method::GET || !protected {
        return next.run(request).await;
    }
    match AuthSession::new(session).signed_in_user(&state).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => {
            let wanted = request.uri().path_and_query().map_or(path, |p| p.as_str());
            let next_path: String =
                url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next_path}")).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Server functions answer every failure with 500; this gives each `AppError` its own status
/// (a malformed form is a 400, a wrong password a 401), so only real faults are 5xx.
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}
