//! Security keys and passkeys (WebAuthn): added beside the authenticator app as second factors,
//! used at the second step of sign-in, or alone as a passkey (user verification required, so it
//! counts as both factors). The ceremonies run in the browser's script (`webauthn.js`); their
//! state lives in the server-side session, so a response is only accepted by the session that
//! asked for it, once.

pub mod manage;
#[cfg(feature = "ssr")]
pub mod service;
pub mod sign_in;

/// What a ceremony's start answers: the options for `navigator.credentials`, as webauthn-rs
/// writes them (JSON, binary fields in base64url), for the browser's `parse…OptionsFromJSON`.
pub type CeremonyOptions = String;
