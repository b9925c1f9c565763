//! The round trip of a form without JavaScript: back to its page, with its error and what was
//! typed (never a secret), and only the error this browser's own post produced.

use app::kept_fields::{KeptFields, fields_to_keep};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::MAX_BODY_BYTES;

/// For a browser without JavaScript. Portal sends no Referer (`Referrer-Policy: no-referrer`), so
/// each form names its page in a hidden `__page` field, and this puts it back where the server
/// functions look for it: to return there, with any error. When the post fails, what was typed
/// (never a secret) is kept in the session for that page, which shows it again once.
pub async fn restore_form_page(
    State(base_origin): State<String>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET {
        if !super::is_page(&request) {
            return next.run(request).await;
        }
        if let Some(carried) = query_value(request.uri(), "__err") {
            // Leptos shows an error carried in the URL as the form's message. Only the error
            // this browser's own failed post produced may show: a link with a made-up one
            // (content spoofing, review L4) lands on the page without it.
            let issued: Option<String> = session.get(FORM_ERROR).await.ok().flatten();
            if issued.as_deref() != Some(carried.as_str()) {
                return super::redirects::to(&without_form_error(request.uri()));
            }
        }
        if let Ok(Some(kept)) = session.remove::<Vec<(String, String)>>(KEPT_FIELDS).await {
            request.extensions_mut().insert(KeptFields(kept));
        }
        return next.run(request).await;
    }
    let from_form = request.method() == Method::POST
        && request.uri().path().starts_with("/api/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if !from_form {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let limited = super::rate_limit::is_limited(parts.uri.path());
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let page = fields
        .iter()
        .find(|(name, _)| name == "__page")
        .map(|(_, page)| page.clone());
    if let Some(page) = page.filter(|page| app::validation::is_local_path(page)) {
        if !parts.headers.contains_key(header::REFERER) {
            if let Ok(referer) = header::HeaderValue::from_str(&format!("{base_origin}{page}")) {
                parts.headers.insert(header::REFERER, referer);
            }
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let carried_error = response
        .headers()
        .get(header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .and_then(|location| location.parse::<axum::http::Uri>().ok())
        .and_then(|location| query_value(&location, "__err"));
    // A client without a session gets one for its error only from an endpoint under the
    // per-address limit: else each failed post would be a session row, at whatever rate one
    // address sends them (review M4). Anonymous forms are all limited; the others are posted
    // from a session.
    let keep = limited || !session.is_empty().await;
    if let Some(error) = carried_error.filter(|_| keep) {
        let _ = session.insert(FORM_ERROR, error).await;
        let kept = fields_to_keep(fields);
        if !kept.is_empty() {
            let _ = session.insert(KEPT_FIELDS, kept).await;
        }
    }
    response
}

const KEPT_FIELDS: &str = "form.kept";
/// The error the last failed no-JS post of this browser carried back in its URL.
const FORM_ERROR: &str = "form.error";

fn query_value(uri: &axum::http::Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The same page without Leptos' form-error parameters (its path as it came: the redirect then
/// checks that it is one on this site).
fn without_form_error(uri: &axum::http::Uri) -> String {
    let kept: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .filter(|(key, _)| key != "__err" && key != "__path")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
    if kept.is_empty() {
        return uri.path().to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{}?{query}", uri.path())
}
