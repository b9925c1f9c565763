//! What every server function reaches as context: the database, the password hasher, the clock
//! and the settings the server was started with.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use axum::extract::FromRef;
use leptos::prelude::*;
use sqlx::SqlitePool;

use crate::{
    error::AppError, mail::Mailer, password::Passwords, security::crypto::SecretBox, store::UserId,
};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: SqlitePool,
    pub passwords: Arc<Passwords>,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// Seals second-factor secrets and recovery codes at rest.
    pub secrets: SecretBox,
    pub factor_locks: Arc<FactorLocks>,
    pub mailer: Mailer,
    /// The WebAuthn relying party: its id and origin follow the base URL. None when the base URL
    /// names its host by an IP address, which WebAuthn refuses as a relying party id.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

/// One check of a second factor at a time per account, so parallel guesses cannot slip past the
/// failure counter between its read and its write. Striped: accounts share 64 locks.
pub struct FactorLocks([tokio::sync::Mutex<()>; 64]);

impl Default for FactorLocks {
    fn default() -> Self {
        Self(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl FactorLocks {
    pub async fn lock(&self, user_id: UserId) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[user_id.0.rem_euclid(64) as usize].lock().await
    }
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
