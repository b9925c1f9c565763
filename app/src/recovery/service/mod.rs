//! The rules of recovery, applied to the store: what its pages' server functions do.

pub mod confirm;
pub mod request;

use crate::{
    audit::EventKind,
    audit::record,
    error::AppError,
    mail::templates::Notice,
    notify::send_notice,
    state::AppState,
    store::{self, Client, UserId},
};

/// A recovery link works for 10 minutes.
pub const RECOVERY_LINK_SECONDS: i64 = crate::limits::RECOVERY_LINK_MINUTES * 60;
/// At most this many recovery emails an account an hour.
pub const RECOVERY_EMAILS_PER_HOUR: i64 = 3;

/// Removes the second factor and its recovery code, signs the account out everywhere, records
/// why and emails the owner.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn reset_two_factor(
    state: &AppState,
    user_id: UserId,
    kind: EventKind,
    client: &Client,
    detail: Option<&str>,
) -> Result<(), AppError> {
    store::remove_two_factor(&state.pool, user_id, state.clock.now()).await?;
    store::delete_sign_ins(&state.pool, user_id, None).await?;
    store::revoke_all_app_tokens(&state.pool, user_id).await?;
    record(state, user_id, kind, client, detail).await?;
    let notice = if kind == EventKind::AdminReset {
        Notice::AdminReset
    } else {
        Notice::Reset
    };
    send_notice(state, user_id, notice).await;
    Ok(())
}
