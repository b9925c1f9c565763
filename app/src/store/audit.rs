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
    sqlx::query("INSERT INTO audit_events (user_id, kind, at, address, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id)
        .bind(kind)
        .bind(at)
        .bind(&client.address)
        .bind(&client.user_agent)
        .bind(detail)
        .execute(pool)
        .await?;
    Ok(())
}

/// The newest events of an account, newest first.
pub async fn recent_events(
    pool: &AnyPool,
    user_id: UserId,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, at, address, user_agent, detail FROM audit_events WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
