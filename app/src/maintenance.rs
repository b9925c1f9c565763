//! Rows that outlive their purpose are deleted: at start and then every few minutes, by every
//! instance (each deletion is idempotent, so instances running it at once do no harm).

use crate::{state::AppState, store, two_factor::service::REVEAL_SECONDS};

/// How often the server runs `delete_expired`.
pub const EVERY_SECONDS: u64 = 5 * 60;
/// A password counter with no failure for a day starts again (the longest wait is 15 minutes).
const STALE_PASSWORD_FAILURES_SECONDS: i64 = 24 * 60 * 60;
/// Spent or expired links are kept a day past their expiry, then deleted.
const EXPIRED_TOKENS_SECONDS: i64 = 24 * 60 * 60;

pub async fn delete_expired(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    // The plaintext recovery code must not outlive the window in which it is shown.
    store::delete_expired_reveals(&state.pool, now - REVEAL_SECONDS).await?;
    store::delete_expired_app_additions(&state.pool, now - REVEAL_SECONDS).await?;
    store::delete_stale_password_failures(&state.pool, now - STALE_PASSWORD_FAILURES_SECONDS)
        .await?;
    store::delete_expired_tokens(&state.pool, now - EXPIRED_TOKENS_SECONDS).await?;
    store::delete_expired_remembered_browsers(&state.pool, now).await?;
    store::delete_expired_ceremonies(&state.pool, now - crate::auth::CEREMONY_SECONDS).await?;
    store::delete_expired_retired_usernames(&state.pool, now - store::RETIRED_USERNAME_SECONDS)
        .await?;
    store::delete_expired_app_tokens(&state.pool, now).await?;
    Ok(())
}
