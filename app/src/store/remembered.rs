use sqlx::{AnyPool, FromRow};

use super::{Client, UserId};
use crate::unix_time::UnixTime;

#[derive(Debug, Clone, FromRow)]
pub struct RememberedRow {
    pub id: i64,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn remember_browser(
    pool: &AnyPool,
    user_id: UserId,
    token_hash: &[u8],
    now: UnixTime,
    expires_at: UnixTime,
    client: &Client,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO remembered_browsers (user_id, token_hash, created_at, expires_at, address, user_agent) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .bind(&client.address)
    .bind(&client.user_agent)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether this token remembers this browser for `user_id` now (and notes the use). A token of
/// another account, expired or revoked, remembers nothing.
pub async fn use_remembered_browser(
    pool: &AnyPool,
    user_id: UserId,
    token_hash: &[u8],
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let used = sqlx::query(
        "UPDATE remembered_browsers SET last_used_at = $1 WHERE token_hash = $2 AND user_id = $3 AND expires_at > $4",
    )
    .bind(now)
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(used.rows_affected() == 1)
}

pub async fn remembered_browsers_of(
    pool: &AnyPool,
    user_id: UserId,
    now: UnixTime,
) -> Result<Vec<RememberedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, created_at, expires_at, last_used_at, address, user_agent FROM remembered_browsers
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Forgets one remembered browser of the account; false if it was not the account's.
pub async fn forget_browser(pool: &AnyPool, user_id: UserId, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM remembered_browsers WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Forgets every remembered browser of the account.
pub async fn forget_browsers<'e>(
    executor: impl sqlx::AnyExecutor<'e>,
    user_id: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM remembered_browsers WHERE user_id = $1")
        .bind(user_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// False when an organization the account is a member of forbids remembered browsers.
pub async fn remembering_allowed(pool: &AnyPool, user_id: UserId) -> Result<bool, sqlx::Error> {
    let forbidding: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND o.remembered_browsers_allowed = 0",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    Ok(forbidding == 0)
}

pub async fn delete_expired_remembered_browsers(
    pool: &AnyPool,
    before: UnixTime,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM remembered_browsers WHERE expires_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
