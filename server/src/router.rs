//! The router a portal serves: the Leptos pages and server functions, the static files, the
//! recovery-code download and `/healthz`, inside the layers of `layers`.

use std::sync::Arc;

use app::{
    App, auth::IDLE_TIMEOUT_SECONDS, shell, state::AppState,
    two_factor::recovery_code_file::download_recovery_code,
};
use axum::{
    Router,
    extract::{Request, State},
    http::Uri,
    routing::get,
};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use crate::{
    Config, app_state, forward_auth, layers, monitoring, session_store::PortalSessionStore,
    static_files,
};

/// The whole site: the routes inside the layers, then forward-auth and `/healthz` outside them,
/// and around all of it what every route needs (`layers::around_every_route`).
pub fn router(
    state: &AppState,
    config: &Config,
    session_store: PortalSessionStore,
    limiter: Arc<layers::rate_limit::SignInLimiter>,
) -> Router {
    let https = state.settings.is_https();
    let verifier = forward_auth::Verifier {
        trusted_proxies: Arc::new(config.trusted_proxies.clone().unwrap_or_default()),
        sessions: session_store.clone(),
        cookie: crate::session_cookie(https, config.cookie_domain.as_deref()),
    };
    let settings = layer_settings(state, config, session_store, limiter);
    let site = layers::around(routes(state), state, settings)
        // Outside the layers: the proxy's question needs no session saved, cookie or page headers.
        .merge(forward_auth::routes(verifier))
        // After the layers: a balancer's probe needs no session, cookie or page headers.
        .route("/healthz", {
            let check = Arc::new(monitoring::HealthCheck::default());
            get(
                move |axum::extract::State(state): axum::extract::State<AppState>| {
                    monitoring::healthz(state, check.clone())
                },
            )
        });
    layers::around_every_route(site, state).with_state(state.clone())
}

/// The pages and server functions of the app, the static files and the recovery-code download.
fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(app::paths::RECOVERY_CODE_FILE, get(download_recovery_code))
        .nest("/pkg", static_files::pkg_router(&state.leptos_options))
        .merge(app::oidc::endpoints::routes())
        .merge(app::forward_auth::endpoints::routes())
        .leptos_routes_with_context(state, route_list(), provide_request_context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback({
            let files = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
                provide_request_context,
                shell,
            );
            // A name no build writes is not looked up (the file system answers a name past 255
            // bytes with an error, a 500 and an error line): the 404 page is rendered at once.
            move |uri: Uri, state: State<AppState>, request: Request| {
                let looked_up = if static_files::may_name_a_site_file(uri.path()) {
                    uri
                } else {
                    Uri::from_static("/.no-such-file")
                };
                files(looked_up, state, request)
            }
        })
}

/// What the layers need, taken from the configuration.
fn layer_settings(
    state: &AppState,
    config: &Config,
    session_store: PortalSessionStore,
    limiter: Arc<layers::rate_limit::SignInLimiter>,
) -> layers::Settings {
    let https = state.settings.is_https();
    layers::Settings {
        base_origin: config.base_url.origin().ascii_serialization(),
        header_policy: layers::HeaderPolicy {
            https,
            dev_reload: dev_reload_source(&state.leptos_options),
        },
        limit: layers::rate_limit::LimitPolicy {
            limiter,
            stylesheet: static_files::stylesheet_href(&state.leptos_options).into(),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                app_state::hashing_threads() * layers::rate_limit::HASHING_IN_FLIGHT_PER_THREAD,
            )),
        },
        trusted_proxies: Arc::new(config.trusted_proxies.clone().unwrap_or_default()),
        sessions: sessions(session_store, https, config.cookie_domain.clone()),
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, and over https Secure under its `__Host-` name.
/// With a cookie domain (`PORTAL_COOKIE_DOMAIN`) the cookie covers that domain's subdomains,
/// where apps behind forward-auth run.
fn sessions(
    store: PortalSessionStore,
    https: bool,
    domain: Option<String>,
) -> SessionManagerLayer<PortalSessionStore> {
    // __Host-: the browser keeps the cookie to this exact host, over https, path /.
    let layer =
        SessionManagerLayer::new(store).with_name(crate::session_cookie(https, domain.as_deref()));
    let layer = match domain {
        Some(domain) => layer.with_domain(domain),
        None => layer,
    };
    layer
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            IDLE_TIMEOUT_SECONDS,
        )))
        // Saving on every request keeps the idle timer moving while someone is active.
        .with_always_save(true)
}

/// The routes of the app, found once per process by rendering it in a mock request. A second
/// portal in the same process (the tests start many) must not render that mock while another
/// serves pages: Leptos' reactive arena is shared, and a page render could then stall forever.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Hands Leptos what the layers found for this request: the CSP nonce, which it puts on its inline
/// hydration scripts, and what a form without JavaScript typed before an error (`KeptFields`).
fn provide_request_context() {
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return;
    };
    if let Some(layers::CspNonce(nonce)) = parts.extensions.get::<layers::CspNonce>().cloned() {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
    if let Some(kept) = parts
        .extensions
        .get::<app::kept_fields::KeptFields>()
        .cloned()
    {
        provide_context(kept);
    }
}

/// `cargo leptos watch` reloads the page over a websocket, which the CSP must then allow. Leptos
/// adds its reload script only when LEPTOS_WATCH is set (cargo-leptos sets it in watch mode), so
/// the same test decides here: `cargo leptos serve --release`, a bare binary and the tests allow
/// no websocket. (LeptosOptions' `env` says DEV unless LEPTOS_ENV is set, even in release.)
fn dev_reload_source(options: &LeptosOptions) -> Option<String> {
    std::env::var_os("LEPTOS_WATCH")
        .is_some()
        .then(|| format!("ws://{}:{}", options.site_addr.ip(), options.reload_port))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_page_of_the_route_table_is_public_or_needs_a_sign_in() {
        let routes = super::route_list();
        assert!(routes.len() >= app::PUBLIC_PAGES.len() + app::PROTECTED_PAGES.len());
        for route in routes {
            let path = route.path();
            let public = app::PUBLIC_PAGES.contains(&path);
            // A parameter stands for any value: `/org/{slug}` is checked as `/org/x`.
            let sample = path.replace("{slug}", "x");
            assert!(
                public != app::page_needs_sign_in(&sample),
                "{path} must be in exactly one of app::PUBLIC_PAGES and app::PROTECTED_PAGES"
            );
        }
    }

    #[tokio::test]
    async fn every_page_a_held_account_may_open_is_a_page_of_the_route_table() {
        let routes: Vec<String> = super::route_list()
            .iter()
            .map(|route| route.path().replace("{slug}", "x"))
            .collect();
        for page in app::PAGES_WHILE_HELD {
            let sample = if page.ends_with('/') {
                format!("{page}x")
            } else {
                page.to_owned()
            };
            assert!(
                routes.contains(&sample),
                "{page} names no page of {routes:?}"
            );
            assert!(app::page_allowed_while_held(&sample));
        }
        assert!(app::page_allowed_while_held(
            "/settings/security/recovery-code.txt"
        ));
        for held_out in [
            "/portal",
            "/settings/password",
            "/settings/securityx",
            "/loginx",
        ] {
            assert!(!app::page_allowed_while_held(held_out), "{held_out}");
        }
    }
}
