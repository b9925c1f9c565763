//! The outermost layer: each request gets an id, carried by its span into every line it logs;
//! a 5xx answer logs one line with that id, and shows it to the person, so what they quote to
//! support finds the log line. Around every route, the forward-auth and health endpoints too.

use app::{
    error::{AppError, request_id},
    oidc::endpoints::{escaped, page},
    state::AppState,
};
use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument as _;

use super::MAX_BODY_BYTES;

/// Gives the request its id and span; on a 5xx, logs it and puts the id where the person sees it.
pub async fn answer_failures(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let id = hex::encode(app::security::crypto::random_bytes::<6>());
    // A balancer's probe reads its own short answer.
    let is_probe = request.uri().path() == "/healthz";
    // The path, never the query: it can hold tokens.
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = request.uri().path(),
    );
    let response = request_id::scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status();
    if !status.is_server_error() {
        return response;
    }
    span.in_scope(|| {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(status = status.as_u16(), "answered with a server error");
        } else {
            tracing::warn!(status = status.as_u16(), "answered with a server error");
        }
    });
    if is_probe {
        return response;
    }
    shown_with_reference(&state, response, &id).await
}

/// A server function's fault keeps its JSON, with the reference filled in; anything else becomes
/// Portal's error page with the reference. A 503 says when to try again (`Retry-After`, unless its
/// cause said).
async fn shown_with_reference(state: &AppState, response: Response, id: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let mut answer = if is_json {
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        let body = match serde_json::from_slice::<AppError>(&bytes) {
            Ok(AppError::Internal { reference }) if reference.is_empty() => {
                serde_json::to_vec(&AppError::Internal {
                    reference: id.to_owned(),
                })
                .unwrap_or_default()
            }
            _ => bytes.to_vec(),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(body))
    } else {
        let mut page = error_page(state, parts.status, id);
        // The page's own headers, and those the layers set that still hold (security headers,
        // cookies); not the old body's length or encoding.
        for (name, value) in &parts.headers {
            if !is_about_the_body(name) && !page.headers().contains_key(name) {
                page.headers_mut().append(name.clone(), value.clone());
            }
        }
        page
    };
    let headers = answer.headers_mut();
    headers.insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if answer.status() == StatusCode::SERVICE_UNAVAILABLE
        && !answer.headers().contains_key(header::RETRY_AFTER)
    {
        answer.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(app::error::outage::RETRY_AFTER_SECONDS),
        );
    }
    answer
}

fn is_about_the_body(name: &HeaderName) -> bool {
    [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
        header::ETAG,
        header::LAST_MODIFIED,
    ]
    .contains(name)
}

/// Portal's page for a fault: what happened in words, what to do, and the reference.
fn error_page(state: &AppState, status: StatusCode, id: &str) -> Response {
    let (title, words) = if status == StatusCode::SERVICE_UNAVAILABLE {
        (
            "Portal is unavailable for a moment",
            "Portal cannot answer just now. Nothing you did was lost: try again in a few seconds.",
        )
    } else {
        (
            "Something went wrong",
            "Something went wrong on our side. Please try again.",
        )
    };
    page(
        state,
        status,
        title,
        &format!(
            "<p>{}</p><p>If it keeps happening, quote this reference to support: <code>{}</code>.</p>\
             <p><a href=\"\">Try again</a></p>",
            escaped(words),
            escaped(id),
        ),
        "",
    )
    .into_response()
}
