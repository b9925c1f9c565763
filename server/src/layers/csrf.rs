//! Cross-site request forgery: a state-changing request a browser says came from another site is
//! refused before anything else reads it.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

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
    let from_apps = app::oidc::endpoints::CROSS_SITE_POSTS.contains(&request.uri().path());
    if safe || from_apps || is_same_site(request.headers(), &base_origin) {
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
