//! The security headers of every response, and the CSP nonce Leptos puts on its scripts.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::Response,
};

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
    let nonce: String = hex::encode(app::security::crypto::random_bytes::<16>());
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
