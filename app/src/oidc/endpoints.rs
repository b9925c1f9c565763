//! The HTTP endpoints apps call (OpenID Connect Core, Discovery, RFC 7009, RP-initiated
//! logout): thin axum handlers over `service`. Answers for machines are JSON with
//! `Cache-Control: no-store`; a browser is sent back to an app only at a redirect URI the app
//! registered, exactly, and such a response carries `ToRegisteredApp` so the server's redirect
//! check lets it leave the site.

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::service::{
    authorize::{self, AuthorizeParams, Next},
    issuer, keys,
    logout::{self, AfterLogout, LogoutParams},
    token::{self, OAuthError, TokenParams},
};
use crate::{error::AppError, paths, state::AppState};

/// Marks a response whose `Location` is a redirect URI the app registered (checked exactly):
/// the only answers allowed to send a browser off Portal's site.
#[derive(Debug, Clone, Copy)]
pub struct ToRegisteredApp;

/// The endpoints, for the server's router.
pub fn routes() -> Router<AppState> {
    // What an app's own page may call from the browser (a public client: a single-page app).
    let for_apps_pages = Router::new()
        .route(paths::OIDC_DISCOVERY, get(discovery))
        .route(paths::OIDC_JWKS, get(jwks))
        .route(paths::OIDC_TOKEN, axum::routing::post(token_endpoint))
        .route(paths::OIDC_USERINFO, get(userinfo).post(userinfo))
        .route(paths::OIDC_REVOKE, axum::routing::post(revoke))
        .layer(axum::middleware::from_fn(open_to_apps_pages));
    Router::new()
        .route(
            paths::OIDC_AUTHORIZE,
            get(authorize_get).post(authorize_post),
        )
        .route(paths::OIDC_CONTINUE, get(resume))
        .route(
            paths::OIDC_END_SESSION,
            get(end_session_get).post(end_session_post),
        )
        .merge(for_apps_pages)
}

/// CORS for the endpoints a single-page app calls: any origin may read the answers, because none
/// depends on a cookie (a code with its PKCE verifier, a Bearer token, or public keys); a
/// preflight gets its answer here.
async fn open_to_apps_pages(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let preflight = request.method() == axum::http::Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// The paths apps post to from their own servers or pages: the cross-site check does not apply
/// (they carry no cookie that could be borrowed, or nothing a forged post could change).
pub const CROSS_SITE_POSTS: [&str; 5] = [
    paths::OIDC_AUTHORIZE,
    paths::OIDC_TOKEN,
    paths::OIDC_USERINFO,
    paths::OIDC_REVOKE,
    paths::OIDC_END_SESSION,
];

fn internal(error: AppError) -> Response {
    tracing::error!(%error, "OpenID Connect endpoint failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong. Try again.",
    )
        .into_response()
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn discovery(State(state): State<AppState>) -> Response {
    let base = issuer(&state);
    let at = |path: &str| format!("{base}{path}");
    Json(json!({
        "issuer": base,
        "authorization_endpoint": at(paths::OIDC_AUTHORIZE),
        "token_endpoint": at(paths::OIDC_TOKEN),
        "userinfo_endpoint": at(paths::OIDC_USERINFO),
        "jwks_uri": at(paths::OIDC_JWKS),
        "revocation_endpoint": at(paths::OIDC_REVOKE),
        "end_session_endpoint": at(paths::OIDC_END_SESSION),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys::RS256, keys::ES256],
        "scopes_supported": super::Scope::ALL.map(super::Scope::as_str),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp",
            "preferred_username", "email", "email_verified", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": false,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

async fn jwks(State(state): State<AppState>) -> Response {
    match keys::key_set(&state).await {
        Ok(set) => Json(set).into_response(),
        Err(error) => internal(error),
    }
}

/// Text as HTML.
pub fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain page of Portal's, in its stylesheet, for the few answers of these endpoints a person
/// reads: a heading and a card.
pub fn page(state: &AppState, status: StatusCode, title: &str, body: &str, head: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <link rel=\"stylesheet\" href=\"{stylesheet}\"><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <title>{title} · Portal</title></head><body><header class=\"site-header\"><a class=\"brand\" href=\"{home}\">Portal</a></header>\
         <main id=\"main\"><h1>{title}</h1><section class=\"card\">{body}</section></main></body></html>",
        title = escaped(title),
        stylesheet = escaped(&state.settings.stylesheet),
        home = paths::HOME,
    );
    (status, Html(html)).into_response()
}

fn error_page(state: &AppState, message: &str) -> Response {
    page(
        state,
        StatusCode::BAD_REQUEST,
        "This sign-in link does not work",
        &format!(
            "<p>{}</p><p><a href=\"{}\">Go to Portal</a></p>",
            escaped(message),
            paths::PORTAL
        ),
        "",
    )
}

fn to_app_redirect(url: &str) -> Response {
    let mut response = Redirect::to(url).into_response();
    response.extensions_mut().insert(ToRegisteredApp);
    response
}

/// Back to the app from a page reached by a form post (the sign-in, the consent page): a page
/// that moves on at once (a meta refresh; `navigate.js` follows it too). A redirect would do the
/// same, but a browser holds a form's redirects to the form page's `form-action 'self'`.
pub fn to_app_page(state: &AppState, url: &str) -> Response {
    let url = escaped(url);
    page(
        state,
        StatusCode::OK,
        "Back to the app",
        &format!("<p><a href=\"{url}\" rel=\"external\">Continue to the app</a></p>"),
        &format!("<meta http-equiv=\"refresh\" content=\"0;url={url}\">"),
    )
}

async fn authorize_with(state: AppState, session: Session, params: AuthorizeParams) -> Response {
    match authorize::authorize(&state, session, &params).await {
        Ok(Next::App(url)) => to_app_redirect(&url),
        Ok(Next::Portal(path)) => Redirect::to(&path).into_response(),
        Ok(Next::ErrorPage(message)) => error_page(&state, message),
        Err(error) => internal(error),
    }
}

async fn authorize_get(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    authorize_with(state, session, params).await
}

async fn authorize_post(
    State(state): State<AppState>,
    session: Session,
    Form(params): Form<AuthorizeParams>,
) -> Response {
    authorize_with(state, session, params).await
}

#[derive(Deserialize)]
struct ResumeParams {
    request: Option<String>,
}

async fn resume(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ResumeParams>,
) -> Response {
    let id = params.request.unwrap_or_default();
    match authorize::resume(&state, session, &id).await {
        Ok(Next::App(url)) => to_app_page(&state, &url),
        Ok(Next::Portal(path)) => Redirect::to(&path).into_response(),
        Ok(Next::ErrorPage(message)) => error_page(&state, message),
        Err(error) => internal(error),
    }
}

fn oauth_error(error: OAuthError, basic: bool) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        Json(json!({ "error": error.error, "error_description": error.description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED && basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portal\""),
        );
    }
    if let Some(wait) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&wait.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    no_store(response)
}

/// `client_secret_basic`: the id and secret, each form-urlencoded, in HTTP Basic.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let plain = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((plain(id)?, plain(secret)?))
}

async fn token_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<TokenParams>,
) -> Response {
    let basic = basic_credentials(&headers);
    let used_basic = basic.is_some();
    let client = match token::client_of(&state, basic, &params).await {
        Ok(Ok(client)) => client,
        Ok(Err(refused)) => return oauth_error(refused, used_basic),
        Err(error) => return internal(error),
    };
    match token::exchange(&state, &client, &params).await {
        Ok(Ok(body)) => no_store(Json(body).into_response()),
        Ok(Err(refused)) => oauth_error(refused, used_basic),
        Err(error) => internal(error),
    }
}

fn bearer_error(error: Option<&str>) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer error=\"{error}\""),
        None => "Bearer".to_owned(),
    };
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

/// UserInfo (RFC 6750: the token in the Authorization header, or in a posted form).
async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let from_form = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value.into_owned());
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            // The scheme is case-insensitive (RFC 7235 §2.1).
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    let Some(access_token) = from_header.or(from_form) else {
        return bearer_error(None);
    };
    match token::userinfo(&state, &access_token).await {
        Ok(Some(claims)) => no_store(Json(claims).into_response()),
        Ok(None) => bearer_error(Some("invalid_token")),
        Err(error) => internal(error),
    }
}

/// RFC 7009: 200 whether or not the token was known.
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<TokenParams>,
) -> Response {
    let basic = basic_credentials(&headers);
    let used_basic = basic.is_some();
    let client = match token::client_of(&state, basic, &params).await {
        Ok(Ok(client)) => client,
        Ok(Err(refused)) => return oauth_error(refused, used_basic),
        Err(error) => return internal(error),
    };
    let Some(revoked) = params.token.as_deref() else {
        return oauth_error(
            OAuthError {
                error: "invalid_request",
                description: "token is required.".into(),
                status: 400,
                retry_after: None,
            },
            used_basic,
        );
    };
    match token::revoke(&state, &client, revoked).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => internal(error),
    }
}

async fn end_session_with(state: AppState, session: Session, params: LogoutParams) -> Response {
    match logout::end_session(&state, session, &params).await {
        Ok(AfterLogout::App(url)) => to_app_redirect(&url),
        Ok(AfterLogout::Portal(path)) => Redirect::to(&path).into_response(),
        Err(error) => internal(error),
    }
}

async fn end_session_get(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<LogoutParams>,
) -> Response {
    end_session_with(state, session, params).await
}

async fn end_session_post(
    State(state): State<AppState>,
    session: Session,
    Form(params): Form<LogoutParams>,
) -> Response {
    end_session_with(state, session, params).await
}
