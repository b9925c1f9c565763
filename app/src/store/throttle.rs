use sqlx::SqlitePool;

use super::UserId;

/// A factor whose failures are counted on its own: a locked authenticator leaves recovery open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Password,
    Totp,
    RecoveryCode,
}

impl Factor {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
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
