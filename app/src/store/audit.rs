use crate::unix_time::UnixTime;
use sqlx::AnyPool;

use super::UserId;

/// Who asked: the client's address and browser, as the request gave them.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub kind: String,
    pub at: UnixTime,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    /// A sign-in from a browser that had never signed in to the account (1), or not (0).
    pub new_device: i64,
}

/// `user_id` is None for an attempt on an unknown username, recorded like one on a known one.
/// `kind` is an `audit::EventKind`'s name (the audit module is above the store).
pub async fn record_event(
    pool: &AnyPool,
    user_id: Option<UserId>,
    kind: &str,
    at: UnixTime,
    client: &Client,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    record_sign_in_event(pool, user_id, kind, at, client, detail, false).await
}

/// `record_event`, saying whether the event is a sign-in from a new device.
pub(super) async fn record_sign_in_event(
    pool: &AnyPool,
    user_id: Option<UserId>,
    kind: &str,
    at: UnixTime,
    client: &Client,
    detail: Option<&str>,
    new_device: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_events (user_id, kind, at, address, user_agent, detail, new_device) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(user_id)
        .bind(kind)
        .bind(at)
        .bind(&client.address)
        .bind(&client.user_agent)
        .bind(detail)
        .bind(i64::from(new_device))
        .execute(pool)
        .await?;
    Ok(())
}

/// The account's events since `since`, newest first, at most `limit` of them.
pub async fn recent_events(
    pool: &AnyPool,
    user_id: UserId,
    since: UnixTime,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, at, address, user_agent, detail, new_device FROM audit_events WHERE user_id = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await
}
