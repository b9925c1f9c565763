//! The rules of security_keys, applied to the store: what its pages' server functions do.

pub mod manage;
pub mod sign_in;

use webauthn_rs::{Webauthn, WebauthnBuilder, prelude::Url};

use crate::error::AppError;

/// The relying party of `base_url`: its host is the id, the URL's origin the only origin.
/// None for an IP address, which browsers refuse as a relying party id (development and
/// tests use `http://localhost:PORT`): keys are then off and everything else works.
pub fn relying_party(base_url: &Url, name: &str) -> Result<Option<Webauthn>, String> {
    let host = match base_url.host() {
        Some(url::Host::Domain(host)) => host,
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => return Ok(None),
        None => return Err("the base URL has no host".to_owned()),
    };
    WebauthnBuilder::new(host, base_url)
        .and_then(|builder| builder.rp_name(name).build())
        .map(Some)
        .map_err(|error| error.to_string())
}

/// The relying party, or why keys cannot be used here.
pub fn webauthn(state: &crate::state::AppState) -> Result<&Webauthn, AppError> {
    state.webauthn.as_deref().ok_or(AppError::KeysUnavailable)
}

/// A WebAuthn failure: the browser's answer did not verify. Logged, and said plainly.
pub fn refused(error: impl std::fmt::Display) -> AppError {
    tracing::info!(%error, "a WebAuthn response was refused");
    AppError::KeyNotAccepted
}

pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(AppError::internal)
}

pub fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, AppError> {
    serde_json::from_str(json).map_err(refused)
}
