//! What every server function reaches as context: the database, the password hasher, the clock
//! and the settings the server was started with.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use axum::extract::FromRef;
use leptos::prelude::*;
use sqlx::AnyPool;

use crate::{error::AppError, mail::Mailer, password::Passwords, security::crypto::SecretBox};

/// Cloned for every request, and copied into every layer and handler that holds it (axum clones
/// a route's whole chain of layers for each request): so it is one pointer to its parts. At 1.3 KB
/// a copy it was most of the 28 KB each request in flight held in cloned layers.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

pub struct AppStateParts {
    pub leptos_options: LeptosOptions,
    pub pool: AnyPool,
    pub passwords: Arc<Passwords>,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// Seals second-factor secrets and recovery codes at rest.
    pub secrets: SecretBox,
    pub mailer: Mailer,
    /// The WebAuthn relying party: its id and origin follow the base URL. None when the base URL
    /// names its host by an IP address, which WebAuthn refuses as a relying party id.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// What a request left running after its answer (a notice or an alert still with a slow mail
    /// server: `notify`); a stop waits for it within PORTAL_SHUTDOWN_SECONDS.
    pub background: tokio_util::task::TaskTracker,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The parts of the configuration that Portal's rules read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach Portal; links in emails start with it.
    pub base_url: String,
    pub support_email: String,
    pub issuer: String,
    /// Forward-auth's access rules (`PORTAL_ACCESS_RULES`); none: every request is denied.
    pub access_rules: Arc<crate::security::access_rules::Rules>,
    /// The stylesheet's path (hashed in a release build), for the pages rendered outside Leptos.
    pub stylesheet: String,
    /// Where new passwords are looked up in breach lists (`PORTAL_BREACHED_PASSWORDS_URL` or
    /// `_FILE`); off when neither is set.
    pub breached_passwords: crate::breached_passwords::BreachedPasswords,
}

impl Settings {
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// Unix time in seconds. Tests move it forward to reach expiries without waiting.
#[derive(Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> crate::unix_time::UnixTime {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
        crate::unix_time::UnixTime(system + self.offset_seconds.load(Ordering::Relaxed))
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// The state, inside a server function or a server-side render.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("AppState is not in context"))
}
