use crate::unix_time::UnixTime;
use sqlx::{AnyPool, FromRow};

use super::UserId;

#[derive(FromRow)]
pub struct Credentials {
    pub id: UserId,
    pub password_hash: String,
    /// Read with the hash: a sign-in is made only while the password is still this one.
    pub password_generation: i64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("password_hash", &"[redacted]")
            .field("password_generation", &self.password_generation)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NewUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub created_at: UnixTime,
}

/// Usernames are stored in lower case. An address is held only once verified (unique whatever its
/// case among verified ones), so sign-up never refuses an address and nobody can squat one.
pub async fn create_user(pool: &AnyPool, user: NewUser<'_>) -> Result<UserId, NewUserError> {
    let mut tx = super::begin_write(pool).await?;
    let username_taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(user.username)
            .fetch_optional(&mut *tx)
            .await?;
    // A closed account's name stays retired for 30 days.
    let retired: Option<String> = sqlx::query_scalar(
        "SELECT username FROM retired_usernames WHERE username = $1 AND retired_at > $2",
    )
    .bind(user.username)
    .bind(user.created_at - super::RETIRED_USERNAME_SECONDS)
    .fetch_optional(&mut *tx)
    .await?;
    if username_taken.is_some() || retired.is_some() {
        return Err(NewUserError::UsernameTaken);
    }
    let inserted = sqlx::query_scalar(
        // Alerts of sign-ins from new devices are on for a new account (set here: SQLite keeps the
        // column's first default).
        "INSERT INTO users (username, email, password_hash, created_at, sign_in_alerts) VALUES ($1, $2, $3, $4, 1) RETURNING id",
    )
    .bind(user.username)
    .bind(user.email)
    .bind(user.password_hash)
    .bind(user.created_at)
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        // Two sign-ups racing for one name: the unique index decides. (A new account's address
        // is unverified, so only the username can collide.)
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(NewUserError::UsernameTaken);
        }
        Err(error) => return Err(error.into()),
    };
    tx.commit().await?;
    Ok(id)
}

pub async fn credentials_for(
    pool: &AnyPool,
    username: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as("SELECT id, password_hash, password_generation FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub async fn username_of(pool: &AnyPool, user_id: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct Account {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub email_verified_at: Option<UnixTime>,
}

pub async fn account(pool: &AnyPool, user_id: UserId) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, email, email_verified_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// False when another account has verified the same address first: an address is verified on
/// one account only (the unique index on verified addresses decides a race).
pub async fn mark_email_verified(
    pool: &AnyPool,
    user_id: UserId,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
    )
    .bind(now)
    .bind(user_id)
    .execute(pool)
    .await;
    match updated {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
        Err(error) => Err(error),
    }
}

/// The username of another account that has verified this account's address, if any.
pub async fn verified_owner_of_email_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT other.username FROM users me JOIN users other ON lower(other.email) = lower(me.email)
         WHERE me.id = $1 AND other.id <> me.id AND other.email_verified_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

pub async fn user_id_by_username(
    pool: &AnyPool,
    username: &str,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// The username of the account that has verified `email`, if one has.
pub async fn verified_owner_of(pool: &AnyPool, email: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT username FROM users WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL",
    )
    .bind(email)
    .fetch_optional(pool)
    .await
}

/// Whether the account's owner is emailed at a sign-in from a new device (on unless turned off).
pub async fn sign_in_alerts(pool: &AnyPool, user_id: UserId) -> Result<bool, sqlx::Error> {
    let on: Option<i64> = sqlx::query_scalar("SELECT sign_in_alerts FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(on == Some(1))
}

/// Whether a new-device alert is due: the account wants them, and fewer than `cap` alert links
/// were made for it since `since`. One read, so a sign-in past the cap (every sign-in of a
/// script that keeps no cookies) costs a statement, not a write transaction. The capped insert
/// (`create_token_capped`) still decides under races.
pub async fn new_device_alert_due(
    pool: &AnyPool,
    user_id: UserId,
    since: UnixTime,
    cap: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<(i64, i64)> = sqlx::query_as(
        "SELECT u.sign_in_alerts, (SELECT count(*) FROM email_tokens t \
         WHERE t.user_id = u.id AND t.purpose = $2 AND t.created_at > $3) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(super::TokenPurpose::SecureAccount.as_str())
    .bind(since)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some_and(|(on, sent)| on == 1 && sent < cap))
}

/// Returns whether the setting changed (false: it was already so).
pub async fn set_sign_in_alerts(
    pool: &AnyPool,
    user_id: UserId,
    on: bool,
) -> Result<bool, sqlx::Error> {
    let changed =
        sqlx::query("UPDATE users SET sign_in_alerts = $1 WHERE id = $2 AND sign_in_alerts <> $1")
            .bind(i64::from(on))
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(changed == 1)
}
