use sqlx::{AnyPool, FromRow};

use super::UserId;
use crate::unix_time::UnixTime;

/// A security key or passkey of an account. `passkey` is webauthn-rs's credential as JSON.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    pub passkey: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

const KEY_COLUMNS: &str = "id, user_id, name, passkey, created_at, last_used_at";

pub async fn security_keys_of(pool: &AnyPool, user_id: UserId) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM security_keys WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

pub async fn security_key_by_credential(
    pool: &AnyPool,
    credential_id: &[u8],
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM security_keys WHERE credential_id = $1"
    ))
    .bind(credential_id)
    .fetch_optional(pool)
    .await
}

pub struct NewKey<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub credential_id: &'a [u8],
    pub passkey: &'a str,
    pub created_at: UnixTime,
}

/// What became of a key to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAdded {
    Added,
    /// The credential is registered already (to any account): one credential, one account.
    Duplicate,
    /// Two-factor authentication was turned off since the registration began (review I2).
    TwoFactorOff,
}

/// Adds a key while two-factor authentication is on: keys are second factors beside the app, and
/// turning it off removes them (`remove_two_factor`, under the same write lock). A registration
/// finished after that adds nothing, or it would leave a passkey that signs in alone on a page
/// that no longer lists keys.
pub async fn add_security_key(pool: &AnyPool, key: NewKey<'_>) -> Result<KeyAdded, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let on: i64 = sqlx::query_scalar("SELECT count(*) FROM two_factor WHERE user_id = $1")
        .bind(key.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if on == 0 {
        return Ok(KeyAdded::TwoFactorOff);
    }
    let inserted = sqlx::query(
        "INSERT INTO security_keys (user_id, name, credential_id, passkey, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.user_id)
    .bind(key.name)
    .bind(key.credential_id)
    .bind(key.passkey)
    .bind(key.created_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(KeyAdded::Added)
        }
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(KeyAdded::Duplicate),
        Err(error) => Err(error),
    }
}

/// Records a use: the credential as updated (sign counter, backup state) and when. A counter
/// above zero must rise past the stored one, checked in the same statement; false if it did not
/// (an answer with that counter or a later one was recorded first). Keys that keep no counter
/// send zero.
pub async fn record_key_use(
    pool: &AnyPool,
    id: i64,
    passkey: &str,
    counter: i64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE security_keys SET passkey = $1, sign_count = $2, last_used_at = $3 \
         WHERE id = $4 AND (sign_count < $5 OR $6 = 0)",
    )
    .bind(passkey)
    .bind(counter)
    .bind(now)
    .bind(id)
    .bind(counter)
    .bind(counter)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Removes one key of the account; false if it was not the account's.
pub async fn remove_security_key(
    pool: &AnyPool,
    user_id: UserId,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM security_keys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// The account's WebAuthn user handle, made (from `fresh`) the first time it is asked for.
pub async fn webauthn_id_of(
    pool: &AnyPool,
    user_id: UserId,
    fresh: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users SET webauthn_id = COALESCE(webauthn_id, $1) WHERE id = $2 RETURNING webauthn_id",
    )
    .bind(fresh)
    .bind(user_id)
    .fetch_one(pool)
    .await
}

pub async fn user_by_webauthn_id(
    pool: &AnyPool,
    webauthn_id: &str,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE webauthn_id = $1")
        .bind(webauthn_id)
        .fetch_optional(pool)
        .await
}
