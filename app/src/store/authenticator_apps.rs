use super::SignInId;
use sqlx::{AnyPool, FromRow};

use super::UserId;
use crate::unix_time::UnixTime;

/// An authenticator app of an account, as the security page lists it.
#[derive(Debug, Clone, FromRow)]
pub struct AppRow {
    pub id: i64,
    pub name: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

pub async fn authenticator_apps_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM authenticator_apps WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Another app being added, started by the sign-in `sign_in_id`.
#[derive(Debug, Clone, FromRow)]
pub struct AdditionRow {
    pub sign_in_id: SignInId,
    pub name: String,
    pub secret_sealed: Vec<u8>,
    pub started_at: UnixTime,
}

pub async fn app_addition_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Option<AdditionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sign_in_id, name, secret_sealed, started_at FROM authenticator_app_additions WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// Starts adding an app, replacing any addition not finished.
pub async fn start_app_addition(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    name: &str,
    secret_sealed: &[u8],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO authenticator_app_additions (user_id, sign_in_id, name, secret_sealed, started_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET sign_in_id = excluded.sign_in_id, name = excluded.name,
             secret_sealed = excluded.secret_sealed, started_at = excluded.started_at",
    )
    .bind(user_id)
    .bind(sign_in_id)
    .bind(name)
    .bind(secret_sealed)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Adds the app whose secret a code of `step` confirmed: the addition becomes an app in one
/// transaction (the step counts as spent). False if the addition was finished, cancelled or replaced meanwhile.
pub async fn finish_app_addition(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    secret_sealed: &[u8],
    step: i64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let name: Option<String> = sqlx::query_scalar(
        "DELETE FROM authenticator_app_additions WHERE user_id = $1 AND sign_in_id = $2 AND secret_sealed = $3 RETURNING name",
    )
    .bind(user_id)
    .bind(sign_in_id)
    .bind(secret_sealed)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(name) = name else {
        return Ok(false);
    };
    sqlx::query(
        "INSERT INTO authenticator_apps (user_id, name, secret_sealed, last_accepted_step, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(name)
    .bind(secret_sealed)
    .bind(step)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn cancel_app_addition(pool: &AnyPool, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM authenticator_app_additions WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes one app of the account while another remains (the last goes only with two-factor
/// authentication turned off). The name of the app removed; None if it was not the account's or
/// was its last. Counted and deleted under the write lock: a count inside the DELETE alone is
/// judged on each statement's own snapshot on PostgreSQL, so removals of two different apps at
/// once could each see the other and both go (review L1).
pub async fn remove_authenticator_app(
    pool: &AnyPool,
    user_id: UserId,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let apps: i64 =
        sqlx::query_scalar("SELECT count(*) FROM authenticator_apps WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    if apps <= 1 {
        return Ok(None);
    }
    let name = sqlx::query_scalar(
        "DELETE FROM authenticator_apps WHERE id = $1 AND user_id = $2 RETURNING name",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(name)
}

pub async fn delete_expired_app_additions(
    pool: &AnyPool,
    before: UnixTime,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM authenticator_app_additions WHERE started_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
