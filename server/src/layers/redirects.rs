//! Every `Location` Portal sends is a path on this site (review M1): the layers' own redirects go
//! through `to`, and `keep_on_site`, outermost, checks every answer's `Location` whoever set it
//! (a server function, Leptos' return of a form without JavaScript to its Referer, a router
//! `<Redirect>`), with the one check of `app::validation`.

use app::validation::{FALLBACK_PATH, is_local_path, safe_next_path};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

/// A redirect (303) to `target` if it is a path on this site, else to the portal.
pub fn to(target: &str) -> Response {
    Redirect::to(safe_next_path(target)).into_response()
}

/// On the way out: a `Location` that is a path on this site stays; an address of this site's own
/// origin (Leptos returns a form without JavaScript to the Referer, which it writes whole) becomes
/// its path; anything else becomes the portal, and is logged: after the checks inside, only a
/// Referer of someone's choosing or a slip in the code gets here.
pub async fn keep_on_site(
    State(base_origin): State<String>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    // An app's registered redirect URI, matched exactly by the OpenID Connect endpoints.
    if response
        .extensions()
        .get::<app::oidc::endpoints::ToRegisteredApp>()
        .is_some()
    {
        return response;
    }
    let Some(location) = response.headers().get(header::LOCATION) else {
        return response;
    };
    let kept = on_site(&base_origin, location);
    if kept.as_deref().map(str::as_bytes) == Some(location.as_bytes()) {
        return response;
    }
    let path = kept.unwrap_or_else(|| {
        tracing::info!(
            status = response.status().as_u16(),
            "a Location off this site was replaced with {FALLBACK_PATH}"
        );
        FALLBACK_PATH.to_owned()
    });
    let value = HeaderValue::from_str(&path).expect("a local path is visible ASCII");
    response.headers_mut().insert(header::LOCATION, value);
    response
}

/// `location` as a path on this site, if it names one.
fn on_site(base_origin: &str, location: &HeaderValue) -> Option<String> {
    let location = location.to_str().ok()?;
    if is_local_path(location) {
        return Some(location.to_owned());
    }
    let url = url::Url::parse(location).ok()?;
    if url.origin().ascii_serialization() != base_origin {
        return None;
    }
    let path = &url[url::Position::BeforePath..];
    is_local_path(path).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://portal.example";

    fn kept(location: &str) -> Option<String> {
        on_site(ORIGIN, &HeaderValue::from_str(location).unwrap())
    }

    #[test]
    fn a_path_on_this_site_stays_as_it_is() {
        for path in ["/portal", "/login?next=%2Fportal", "/org/acme#members"] {
            assert_eq!(kept(path).as_deref(), Some(path));
        }
    }

    #[test]
    fn an_address_of_this_origin_becomes_its_path() {
        assert_eq!(
            kept("https://portal.example/login?__path=%2Fapi%2Flogin&__err=e30").as_deref(),
            Some("/login?__path=%2Fapi%2Flogin&__err=e30")
        );
        assert_eq!(kept("https://portal.example//evil.example/x"), None);
    }

    #[test]
    fn the_layers_redirect_only_through_the_checked_helper() {
        fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let unchecked: Vec<&str> = files
            .iter()
            .filter(|(path, text)| !path.ends_with("redirects.rs") && text.contains("Redirect::"))
            .map(|(path, _)| path.as_str())
            .collect();
        assert!(
            unchecked.is_empty(),
            "redirect with redirects::to: {unchecked:?}"
        );
    }

    #[test]
    fn another_site_however_spelled_is_refused() {
        for hostile in app::validation::OFF_SITE_TARGETS
            .iter()
            .filter_map(|target| HeaderValue::from_str(target).ok())
        {
            assert_eq!(on_site(ORIGIN, &hostile), None, "{hostile:?}");
        }
        for other in [
            "https://evil.example/portal",
            "http://portal.example/portal",
            "https://portal.example:8443/portal",
            "https://portal.example.evil.example/portal",
        ] {
            assert_eq!(kept(other), None, "{other}");
        }
    }
}
