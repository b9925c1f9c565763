use sqlx::SqlitePool;

use super::UserId;

/// A factor whose failures are counted on its own: a locked authenticator leaves recovery open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    RecoveryCode,
}

impl Factor {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Failures {
    pub failures: i64,
    pub last_failure_at: Option<i64>,
}

pub async fn failures_of(
    pool: &SqlitePool,
    user_id: UserId,
    factor: Factor,
) -> Result<Failures, sqlx::Error> {
    let row: Option<Failures> = sqlx::query_as(
        "SELECT failures, last_failure_at FROM failure_counters WHERE user_id = ? AND factor = ?",
    )
    .bind(user_id)
    .bind(factor.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Counts one more consecutive failure and returns the new count.
pub async fn record_failure(
    pool: &SqlitePool,
    user_id: UserId,
    factor: Factor,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO failure_counters (user_id, factor, failures, last_failure_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (user_id, factor) DO UPDATE SET failures = failure_counters.failures + 1, last_failure_at = excluded.last_failure_at
         RETURNING failures",
    )
    .bind(user_id)
    .bind(factor.as_str())
    .bind(now)
    .fetch_one(pool)
    .await
}

pub async fn clear_failures(
    pool: &SqlitePool,
    user_id: UserId,
    factor: Factor,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM failure_counters WHERE user_id = ? AND factor = ?")
        .bind(user_id)
        .bind(factor.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

/// Consecutive wrong passwords for a username, whether or not an account has it.
pub async fn password_failures(pool: &SqlitePool, username: &str) -> Result<Failures, sqlx::Error> {
    let row: Option<Failures> = sqlx::query_as(
        "SELECT failures, last_failure_at FROM password_failures WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

pub async fn record_password_failure(
    pool: &SqlitePool,
    username: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO password_failures (username, failures, last_failure_at) VALUES (?, 1, ?)
         ON CONFLICT (username) DO UPDATE SET failures = password_failures.failures + 1, last_failure_at = excluded.last_failure_at
         RETURNING failures",
    )
    .bind(username)
    .bind(now)
    .fetch_one(pool)
    .await
}

pub async fn clear_password_failures(pool: &SqlitePool, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_failures WHERE username = ?")
        .bind(username)
        .execute(pool)
        .await?;
    Ok(())
}
