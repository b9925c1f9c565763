//! Portal's own cookies besides the session's: read from the request, set on the response, each
//! HttpOnly, SameSite=Lax, path /, and over https Secure (with a `__Host-` name).

use tower_sessions::cookie::{self, Cookie, SameSite};

use crate::state::AppState;

/// `name` as the browser keeps it: `__Host-` over https, kept to this exact host.
pub fn name(state: &AppState, name: &'static str) -> String {
    if state.settings.is_https() {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub async fn read(name: &str) -> Option<String> {
    let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.ok()?;
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// Sets cookie `name` to `value` for `days`.
pub fn set(state: &AppState, name: String, value: String, days: i64) {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(state.settings.is_https())
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(days))
        .build();
    if let (Some(response), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(&cookie.to_string()),
    ) {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
}
