use crate::unix_time::UnixTime;
use sqlx::AnyPool;

use super::UserId;

/// What an emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    Recovery,
    PasswordReset,
    /// Proves a new address; switches the account to it.
    EmailChange,
    /// Sent to the old address: switches back to it.
    EmailChangeUndo,
    /// In a new-device alert: ends every session, withdraws every open link, starts a reset.
    SecureAccount,
}

impl TokenPurpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::Recovery => "recovery",
            Self::PasswordReset => "password_reset",
            Self::EmailChange => "email_change",
            Self::EmailChangeUndo => "email_change_undo",
            Self::SecureAccount => "secure_account",
        }
    }
}

/// What a token in a link turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid(UserId),
    Expired,
    Used,
    Unknown,
}

pub struct NewToken<'a> {
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    pub hash: &'a [u8],
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// The address an email-change link is about.
    pub email: Option<&'a str>,
}

/// What `create_token_capped` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CappedToken {
    Created(i64),
    /// An unused, unexpired token of this purpose exists, and one at a time was asked.
    LiveExists,
    /// `per_hour` tokens were made in the last hour.
    CapReached,
}

/// Makes a token unless the account already had `cap` of this purpose since `since` (or, with
/// `one_live`, has a live one): counted and inserted in one write transaction, so requests racing
/// each other cannot pass the cap together.
pub async fn create_token_capped(
    pool: &AnyPool,
    token: NewToken<'_>,
    since: UnixTime,
    cap: i64,
    one_live: bool,
) -> Result<CappedToken, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let (recent, live): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(CASE WHEN used_at IS NULL AND expires_at > $1 THEN 1 ELSE 0 END), 0)
         FROM email_tokens WHERE user_id = $2 AND purpose = $3 AND created_at > $4",
    )
    .bind(token.created_at)
    .bind(token.user_id)
    .bind(token.purpose.as_str())
    .bind(since)
    .fetch_one(&mut *tx)
    .await?;
    if one_live && live > 0 {
        return Ok(CappedToken::LiveExists);
    }
    if recent >= cap {
        return Ok(CappedToken::CapReached);
    }
    let id = sqlx::query_scalar(
        "INSERT INTO email_tokens (user_id, purpose, token_hash, created_at, expires_at, email) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(token.user_id)
    .bind(token.purpose.as_str())
    .bind(token.hash)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.email)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CappedToken::Created(id))
}

/// Spends every live recovery link of the account: a change to its second factor (a new code,
/// disable, enrollment, a reset, a key or app added or removed) must not be undone by a link
/// asked for before it.
pub(super) async fn withdraw_recovery_links(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: UserId,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    withdraw_links(tx, user_id, TokenPurpose::Recovery, now).await
}

/// `withdraw_recovery_links` on its own, for a change of factor made outside a transaction here
/// (a security key or an authenticator app added or removed).
pub async fn withdraw_recovery_links_of(
    pool: &AnyPool,
    user_id: UserId,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    withdraw_recovery_links(&mut tx, user_id, now).await?;
    tx.commit().await
}

/// Spends every live link of `purpose` of the account.
pub(super) async fn withdraw_links(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: UserId,
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Expired tokens are deleted after a day (the hourly caps count the last hour only).
pub async fn delete_expired_tokens(pool: &AnyPool, before: UnixTime) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM email_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// A token whose email could not be sent is withdrawn, so it counts for nothing.
pub async fn delete_token(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM email_tokens WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: UserId,
    expires_at: UnixTime,
    used_at: Option<UnixTime>,
}

pub async fn token_state(
    pool: &AnyPool,
    hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<TokenState, sqlx::Error> {
    let row: Option<TokenRow> = sqlx::query_as("SELECT user_id, expires_at, used_at FROM email_tokens WHERE token_hash = $1 AND purpose = $2")
        .bind(hash)
        .bind(purpose.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        None => TokenState::Unknown,
        Some(row) if row.used_at.is_some() => TokenState::Used,
        Some(row) if row.expires_at <= now => TokenState::Expired,
        Some(row) => TokenState::Valid(row.user_id),
    })
}

/// A spent token's account and the address it was about.
#[derive(Debug, sqlx::FromRow)]
pub struct SpentToken {
    pub user_id: UserId,
    pub email: Option<String>,
}

/// `consume_token` inside a transaction, with the token's address.
pub(super) async fn spend_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<Option<SpentToken>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4 RETURNING user_id, email",
    )
    .bind(now)
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// The address a link is about (an email change's).
pub async fn token_email(pool: &AnyPool, hash: &[u8]) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT email FROM email_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

/// The address of the account's newest live link of `purpose` (a pending email change).
pub async fn live_token_email(
    pool: &AnyPool,
    user_id: UserId,
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<Option<String>, sqlx::Error> {
    Ok(live_link(pool, user_id, purpose, now)
        .await?
        .and_then(|link| link.email))
}

/// Takes one of the `tries` a link has at a second factor (a reset link's code): false when the
/// link is spent, expired, unknown, or has had them all. Taken before the check, so codes sent
/// at once cannot pass the limit together.
pub async fn take_link_try(
    pool: &AnyPool,
    hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
    tries: i64,
) -> Result<bool, sqlx::Error> {
    let taken: Option<i64> = sqlx::query_scalar(
        "UPDATE email_tokens SET attempts = attempts + 1
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 AND attempts < $4
         RETURNING attempts",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now)
    .bind(tries)
    .fetch_optional(pool)
    .await?;
    Ok(taken.is_some())
}

/// A link that has had its `tries` and failed the last dies: it says "used" from now on.
pub async fn retire_tried_link(
    pool: &AnyPool,
    hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
    tries: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND attempts >= $4",
    )
    .bind(now)
    .bind(hash)
    .bind(purpose.as_str())
    .bind(tries)
    .execute(pool)
    .await?;
    Ok(())
}

/// A live link's address and when it stops working.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveLink {
    pub email: Option<String>,
    pub expires_at: UnixTime,
}

/// The account's newest live link of `purpose` (an undo link to the old address, say).
pub async fn live_link(
    pool: &AnyPool,
    user_id: UserId,
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<Option<LiveLink>, sqlx::Error> {
    sqlx::query_as(
        "SELECT email, expires_at FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Spends a token: of many requests racing with one token, exactly one gets its account.
pub async fn consume_token(
    pool: &AnyPool,
    hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4 RETURNING user_id",
    )
    .bind(now)
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
}
