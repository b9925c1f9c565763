//! The site's static files (`/pkg`: the script, the wasm, the stylesheet). `./dev`'s release
//! build (`LEPTOS_HASH_FILES=true cargo leptos build --release --precompress`) writes a brotli and
//! a gzip copy of each beside it, and puts a hash of its content in each name (listed in
//! `hash.txt` beside the server binary). So a browser gets the smallest encoding it accepts without any work per request, and may keep a
//! file for a year: a new build has new names.

use std::path::PathBuf;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::prelude::LeptosOptions;
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// A hashed name never changes its content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Without hashes (a debug build), a file must be checked again before each use.
const REVALIDATE: &str = "no-cache";

/// The hash file cargo-leptos writes beside the server binary, when it hashes file names.
fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let path = std::env::current_exe()
        .ok()?
        .parent()?
        .join(options.hash_file.as_ref());
    path.exists().then_some(path)
}

/// Hashed names are on when the build made them (its `hash.txt` is beside the server), however
/// the server was started (cargo-leptos, the bare binary, the tests, the benchmark), unless
/// `LEPTOS_HASH_FILES=false` (`cargo leptos watch` keeps plain names). Never on without the file:
/// Leptos cannot render a page then.
pub fn detect_hashes(options: &mut LeptosOptions) {
    let turned_off = std::env::var("LEPTOS_HASH_FILES").is_ok_and(|value| value == "false");
    options.hash_files = !turned_off
        && hashed("wasm", options).is_some_and(|name| {
            // A hash.txt left by an earlier build names files that are gone.
            PathBuf::from(options.site_root.as_ref())
                .join(options.site_pkg_dir.as_ref())
                .join(name)
                .exists()
        });
}

/// The built name of a site file of this kind (`wasm`, `js`, `css`), from `hash.txt`.
fn hashed(kind: &str, options: &LeptosOptions) -> Option<String> {
    let hashes = std::fs::read_to_string(hash_file(options)?).ok()?;
    hashes.lines().find_map(|line| {
        let (file, hash) = line.trim().split_once(':')?;
        (file == kind).then(|| format!("{}.{}.{kind}", options.output_name, hash.trim()))
    })
}

/// The stylesheet's path, hashed when the build hashed it: for the pages rendered outside Leptos.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let name = options
        .hash_files
        .then(|| hashed("css", options))
        .flatten()
        .unwrap_or_else(|| format!("{}.css", options.output_name));
    format!("/{}/{name}", options.site_pkg_dir)
}

/// `/pkg`, served from the precompressed copies when the browser accepts them.
pub fn pkg_router<S: Clone + Send + Sync + 'static>(options: &LeptosOptions) -> Router<S> {
    let directory = PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let cache = if options.hash_files {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    Router::new()
        .fallback_service(
            ServeDir::new(directory)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        .layer(axum::middleware::from_fn(only_site_file_names))
}

/// The longest name of a folder or file the build writes: a crate's name, a hash, a kind and a
/// compression suffix.
const MAX_FILE_NAME: usize = 128;

/// A name no build writes is not looked up: the file system would answer some (a name past its
/// 255 bytes, say) with an error, which would be a 500 and an error line per request.
async fn only_site_file_names(request: Request, next: Next) -> Response {
    if may_name_a_site_file(request.uri().path()) {
        next.run(request).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Whether `path` is made of names a build could have written; only such a path is looked up on
/// the file system (by `/pkg`, and by the fallback before it renders the 404 page).
pub fn may_name_a_site_file(path: &str) -> bool {
    path.trim_start_matches('/')
        .split('/')
        .all(is_site_file_name)
}

/// One short name of letters, digits, `.`, `_` and `-`, not starting with a dot (`/pkg`'s
/// paths are made of such names: `snippets/…` from wasm-bindgen has folders).
fn is_site_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILE_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::is_site_file_name;

    #[test]
    fn only_names_a_build_writes_are_looked_up() {
        for name in [
            "portal.css",
            "portal.3f9a0c.wasm",
            "portal_bg.wasm.br",
            "portal.js.gz",
        ] {
            assert!(is_site_file_name(name), "{name}");
        }
        let long = "a".repeat(300);
        for name in ["", ".env", "..", "%2e%2e", &long, "name with space", "a\\b"] {
            assert!(!is_site_file_name(name), "{name}");
        }
    }
}
