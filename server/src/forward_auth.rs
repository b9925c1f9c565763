//! `GET /auth/verify` (Caddy, Traefik) and `GET /auth/request` (nginx): the proxy in front of an
//! app asks, for each request, whether the browser's Portal session may reach it. Served outside
//! the layers: no session is saved, no cookie set, nothing but the sign-in read (so a verify is
//! about as cheap as a static file); the proxy's `X-Forwarded-*` headers name the request, and are
//! believed only from `PORTAL_TRUSTED_PROXIES`.

use std::{net::SocketAddr, str::FromStr, sync::Arc};

use app::{
    forward_auth::{
        endpoints::forbidden_page,
        service::{self, Identity, Verdict},
    },
    paths,
    state::AppState,
};
use axum::{
    Router,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use tower_sessions::{Session, session::Id};

use crate::{layers::client_addr::TrustedProxies, session_store::PortalSessionStore};

/// What the verify endpoints need besides the state.
#[derive(Clone)]
pub struct Verifier {
    pub trusted_proxies: Arc<TrustedProxies>,
    pub sessions: PortalSessionStore,
    /// The session cookie's name.
    pub cookie: &'static str,
}

/// Which proxy asks: nginx's `auth_request` knows only 200, 401 and 403, so it never gets a
/// redirect (its `error_page 401` sends the browser to sign in).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asker {
    Redirects,
    Nginx,
}

pub fn routes(verifier: Verifier) -> Router<AppState> {
    let nginx = verifier.clone();
    Router::new()
        .route(
            "/auth/verify",
            any(move |state, peer, headers| {
                verify(state, peer, headers, verifier.clone(), Asker::Redirects)
            }),
        )
        .route(
            "/auth/request",
            any(move |state, peer, headers| {
                verify(state, peer, headers, nginx.clone(), Asker::Nginx)
            }),
        )
}

/// The original request, as the proxy reports it: nginx's `X-Original-URL` on `/auth/request`,
/// the `X-Forwarded-Proto`, `-Host` and `-Uri` that Caddy and Traefik send on `/auth/verify`.
/// Each endpoint reads only its own proxy's headers: the proxy sets those, but passes the
/// client's others on (Caddy's `forward_auth` and Traefik's ForwardAuth copy every request header,
/// nginx's `auth_request` too). Read on `/auth/verify`, a client's own `X-Original-URL` named a
/// public path of the rules while it asked Caddy for a protected one, and got it (found by
/// `proxies::caddy::the_app_gets_portal_s_headers_and_never_forged_ones`).
fn original(headers: &HeaderMap, asker: Asker) -> Option<url::Url> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if asker == Asker::Nginx {
        return url::Url::parse(text("x-original-url")?).ok();
    }
    let proto = text("x-forwarded-proto").unwrap_or("https");
    let host = text("x-forwarded-host")?;
    let uri = text("x-forwarded-uri").unwrap_or("/");
    url::Url::parse(&format!("{proto}://{host}{uri}")).ok()
}

async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    verifier: Verifier,
    asker: Asker,
) -> Response {
    if !verifier.trusted_proxies.contains(peer.ip()) {
        tracing::warn!(%peer, "forward-auth asked by a peer not in PORTAL_TRUSTED_PROXIES");
        return (
            StatusCode::FORBIDDEN,
            "Ask from a proxy named in PORTAL_TRUSTED_PROXIES.",
        )
            .into_response();
    }
    let Some(url) = original(&headers, asker) else {
        return (
            StatusCode::FORBIDDEN,
            "The proxy did not say which request it asks about.",
        )
            .into_response();
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let session = session_of(&headers, &verifier);
    let uri = &url[url::Position::BeforePath..];
    let verdict = match service::verify(&state, session, &host, uri).await {
        Ok(verdict) => verdict,
        // Outside the layers, so the outage layer does not see it: the proxy is told to try again
        // (the outage was logged where it met).
        Err(app::error::AppError::Unavailable) => {
            let retry_after = app::error::outage::RETRY_AFTER_SECONDS.to_string();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, retry_after)],
            )
                .into_response();
        }
        Err(error) => {
            tracing::error!(%error, "forward-auth verify failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let label = state
        .settings
        .access_rules
        .rule_for(&host, uri)
        .map_or_else(|| "none".to_owned(), |rule| rule.host.as_text());
    metrics::counter!("portal_forward_auth_total", "outcome" => verdict.outcome(), "host" => label)
        .increment(1);
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    match verdict {
        Verdict::Allowed(identity) => allowed(identity.unwrap_or_default()),
        Verdict::SignIn | Verdict::StepUp | Verdict::Enroll
            if asker == Asker::Nginx || !browser =>
        {
            StatusCode::UNAUTHORIZED.into_response()
        }
        // Through Portal's sign-in page, whose way back (`/auth/continue`) checks the rules again
        // and sends the browser on, through the wizard or a new sign-in where the rule needs it.
        // 302, as forward-auth services answer (axum's redirect helper answers 303).
        Verdict::SignIn | Verdict::StepUp | Verdict::Enroll => {
            let rd = app::validation::encode_component(url.as_str());
            let login = format!("{}{}?rd={rd}", state.settings.base_url, paths::LOGIN);
            match HeaderValue::from_str(&login) {
                Ok(login) => (StatusCode::FOUND, [(header::LOCATION, login)]).into_response(),
                Err(_) => StatusCode::UNAUTHORIZED.into_response(),
            }
        }
        Verdict::Forbidden(reason) => forbidden_page(&state, &host, &reason),
    }
}

/// The browser's Portal session, read from its cookie (the proxy passes the request's headers
/// on); loaded by the first read, never saved.
fn session_of(headers: &HeaderMap, verifier: &Verifier) -> Session {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == verifier.cookie)
        .and_then(|(_, value)| Id::from_str(value).ok());
    Session::new(id, Arc::new(verifier.sessions.clone()), None)
}

/// 200 with who the person is. All four headers always: empty when there is nothing to say
/// (Debian's Caddy 2.6 passes a missing one on as its placeholder's text).
fn allowed(identity: Identity) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("remote-user", identity.username),
        ("remote-email", identity.email),
        ("remote-name", identity.name),
        ("remote-groups", identity.groups.join(",")),
    ] {
        let value = HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""));
        headers.insert(HeaderName::from_static(name), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn each_endpoint_reads_only_its_own_proxy_s_headers() {
        let both = headers(&[
            ("x-original-url", "https://public.example.com/"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "wiki.example.com"),
            ("x-forwarded-uri", "/admin/?x=1"),
        ]);
        let verify = original(&both, Asker::Redirects).unwrap();
        assert_eq!(verify.as_str(), "https://wiki.example.com/admin/?x=1");
        let nginx = original(&both, Asker::Nginx).unwrap();
        assert_eq!(nginx.as_str(), "https://public.example.com/");
        // nginx without its header: no request to judge, whatever else the client sent.
        let forwarded_only = headers(&[("x-forwarded-host", "public.example.com")]);
        assert!(original(&forwarded_only, Asker::Nginx).is_none());
    }
}
