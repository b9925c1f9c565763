//! The HTTP layers around Portal's pages and server functions.

use app::{
    auth::{AuthSession, SignedInUser},
    components::{KeptFields, UNKEPT_FIELDS},
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
    let failed = response
        .headers()
        .get(header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .is_some_and(|location| location.contains("__err="));
    if failed {
        let kept: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(name, value)| {
                !name.starts_with("__")
                    && !UNKEPT_FIELDS.contains(&name.as_str())
                    && value.len() <= 256
            })
            .collect();
        if !kept.is_empty() {
            let _ = session.insert(KEPT_FIELDS, kept).await;
        }
    }
    response
}

const KEPT_FIELDS: &str = "form.kept";

/// Requests per address to the sign-in endpoints: a person behind an office's one address is
/// never slowed, a script guessing from one address is.
pub struct SignInLimiter {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

/// The endpoints that check a credential, send mail, or answer about a username (an invitation).
const LIMITED: [&str; 8] = [
    "/api/login",
    "/api/signup",
    "/api/verify_sign_in_code",
    "/api/request_recovery",
    "/api/confirm_recovery",
    "/api/confirm_password",
    "/api/resend_verification",
    "/api/invite_member",
];

impl SignInLimiter {
    pub fn per_minute(requests: std::num::NonZeroU32) -> Self {
        Self {
            limiter: governor::RateLimiter::keyed(governor::Quota::per_minute(requests)),
        }
    }
}

pub async fn limit_sign_in(
    State(limiter): State<std::sync::Arc<SignInLimiter>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !LIMITED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Err(not_until) = limiter.limiter.check_key(&peer.ip()) else {
        return next.run(request).await;
    };
    let seconds = not_until
        .wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ))
        .as_secs()
        .max(1);
    tracing::warn!(address = %peer.ip(), path = request.uri().path(), "sign-in rate limit");
    too_many_requests(&request, seconds)
}

/// 429 with the wait: for a page without JavaScript an HTML page, for the hydrated page the
/// server function error its form shows.
fn too_many_requests(request: &Request, seconds: u64) -> Response {
    let error = AppError::TryAgainIn { seconds };
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let retry_after = [(header::RETRY_AFTER, seconds.to_string())];
    if wants_html {
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many attempts · Portal</title>\
             <link rel=\"stylesheet\" href=\"/pkg/portal.css\"></head><body><main><h1>Too many attempts</h1>\
             <p class=\"form-message\" role=\"alert\">{error}</p><p><a href=\"/login\">Back to sign-in</a></p></main></body></html>"
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            axum::response::Html(page),
        )
            .into_response();
    }
    let body = serde_json::to_string(&error).unwrap_or_default();
    (
        StatusCode::TOO_MANY_REQUESTS,
        retry_after,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static("serverfnerror"),
                request.uri().path().to_owned(),
            ),
        ],
        body,
    )
        .into_response()
}
