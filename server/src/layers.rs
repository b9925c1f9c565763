//! The HTTP layers around Portal's pages and server functions.

use app::{
    auth::{AuthSession, SignedInUser},
    components::KeptFields,
    error::AppError,
    org::service::{self as enforcement, Enforcement},
    state::AppState,
};
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

/// Pages that need a signed-in account send everyone else to sign in, and back afterwards. An
/// account that an organization's requirement holds reaches the enrollment wizard and nothing
/// else, pages and server functions alike.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/api/");
    let is_page =
        request.method() == Method::GET && !path.starts_with("/pkg/") && !path.contains('.');
    if !is_api && !is_page {
        return next.run(request).await;
    }
    let protected = path == "/portal" || path.starts_with("/settings") || path.starts_with("/org/");
    let user_id = match AuthSession::new(session).signed_in_user(&state).await {
        Ok(user_id) => user_id,
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    if let Some(user_id) = user_id {
        request.extensions_mut().insert(SignedInUser(user_id));
    }
    let Some(user_id) = user_id else {
        if is_page && protected {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or(path.as_str(), |p| p.as_str());
            let next_path: String =
                url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
            return Redirect::to(&format!("/login?next={next_path}")).into_response();
        }
        return next.run(request).await;
    };
    let allowed = if is_api {
        enforcement::ALLOWED_WHILE_REQUIRED.contains(&path.as_str())
    } else {
        enforcement::page_allowed_while_required(&path)
    };
    if allowed {
        return next.run(request).await;
    }
    match enforcement::enforcement(&state, user_id).await {
        Ok(Enforcement::Required { org_name, .. }) if is_api => {
            let error = AppError::TwoFactorRequired { org: org_name };
            (
                StatusCode::FORBIDDEN,
                [(header::HeaderName::from_static("serverfnerror"), path)],
                axum::Json(error),
            )
                .into_response()
        }
        Ok(Enforcement::Required { .. }) => Redirect::to("/settings/security").into_response(),
        Ok(_) => next.run(request).await,
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

/// A fresh nonce a response, for Leptos' inline hydration scripts and nothing else.
#[derive(Clone)]
pub struct CspNonce(pub String);

/// What the response headers need to know of the configuration.
#[derive(Clone)]
pub struct HeaderPolicy {
    pub https: bool,
    /// `cargo leptos watch` reloads the page over this websocket.
    pub dev_reload: Option<String>,
}

/// The security headers of every response: a Content-Security-Policy that runs only Portal's own
/// scripts, no framing, no sniffing, no Referer (recovery URLs hold a token), HSTS over https,
/// and no caching of pages or server function answers.
pub async fn security_headers(
    State(policy): State<HeaderPolicy>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce: String = app::security::crypto::random_bytes::<16>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let dynamic = !request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let connect = policy
        .dev_reload
        .as_deref()
        .map_or(String::from("'self'"), |reload| format!("'self' {reload}"));
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(value) = header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(headers, header::CONTENT_SECURITY_POLICY, &csp);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if policy.https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    if dynamic && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

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
    let path = request.uri().path();
    if request.method() == Method::GET {
        let page = !path.starts_with("/pkg/") && !path.contains('.');
        if !page {
            return next.run(request).await;
        }
        if let Some(carried) = query_value(request.uri(), "__err") {
            // Leptos shows an error carried in the URL as the form's message. Only the error
            // this browser's own failed post produced may show: a link with a made-up one
            // (content spoofing, review L4) lands on the page without it.
            let issued: Option<String> = session.get(FORM_ERROR).await.ok().flatten();
            if issued.as_deref() != Some(carried.as_str()) {
                return Redirect::to(&without_form_error(request.uri())).into_response();
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
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let page = fields
        .iter()
        .find(|(name, _)| name == "__page")
        .map(|(_, page)| page.clone());
    if let Some(page) = page.filter(|page| app::validation::safe_next_path(page) == page.as_str()) {
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
    if let Some(error) = carried_error {
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

/// The same page without Leptos' form-error parameters.
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

/// The fields a failed form may keep: the names of the text inputs that show a kept value
/// (`app::components::Field`), none of them a secret. Anything else a post carries stays out of
/// the session, so no one can park data in the database through a failing form (review L1).
const KEPT_FIELD_NAMES: [&str; 3] = ["username", "email", "name"];
/// A longer value is no valid username, email address or organization name.
const MAX_KEPT_VALUE_BYTES: usize = 256;
/// What one failed form may add to a session, at most.
const MAX_KEPT_BYTES: usize = 4 * 1024;
// Each name is kept once, so the list and the value limit bound the total.
const _: () = assert!(KEPT_FIELD_NAMES.len() * (16 + MAX_KEPT_VALUE_BYTES) <= MAX_KEPT_BYTES);

/// The first value of each keepable field, when it is short enough.
fn fields_to_keep(fields: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in fields {
        let keepable = KEPT_FIELD_NAMES.contains(&name.as_str())
            && value.len() <= MAX_KEPT_VALUE_BYTES
            && !kept.iter().any(|(seen, _)| *seen == name);
        if keepable {
            kept.push((name, value));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn no_secret_is_a_keepable_field() {
        for secret in app::components::UNKEPT_FIELDS {
            assert!(!KEPT_FIELD_NAMES.contains(&secret), "{secret}");
        }
    }

    #[test]
    fn a_failed_form_keeps_the_first_short_value_of_each_known_field() {
        let long = "x".repeat(MAX_KEPT_VALUE_BYTES + 1);
        let posted = fields(&[
            ("password", "secret"),
            ("username", "alice"),
            ("junk", "y"),
            ("__page", "/login"),
            ("email", &long),
            ("email", "a@example.com"),
            ("username", "mallory"),
            ("code", "123456"),
            ("name", "Acme"),
        ]);
        assert_eq!(
            fields_to_keep(posted),
            fields(&[
                ("username", "alice"),
                ("email", "a@example.com"),
                ("name", "Acme")
            ])
        );
    }

    #[test]
    fn a_flood_of_fields_keeps_at_most_one_of_each() {
        let posted: Vec<(String, String)> = (0..1000)
            .map(|i| {
                (
                    KEPT_FIELD_NAMES[i % 3].to_owned(),
                    "z".repeat(MAX_KEPT_VALUE_BYTES),
                )
            })
            .collect();
        let kept = fields_to_keep(posted);
        let bytes: usize = kept
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        assert_eq!(kept.len(), KEPT_FIELD_NAMES.len());
        assert!(bytes <= MAX_KEPT_BYTES, "{bytes}");
    }
}
