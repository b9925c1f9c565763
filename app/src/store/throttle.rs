use crate::unix_time::UnixTime;
use sqlx::AnyPool;

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
    pub last_failure_at: Option<UnixTime>,
}

pub async fn failures_of(
    pool: &AnyPool,
    user_id: UserId,
    factor: Factor,
) -> Result<Failures, sqlx::Error> {
    read_failures(pool, user_id, factor).await
}

/// A factor's counter, read by itself or inside a transaction.
async fn read_failures<'e>(
    executor: impl sqlx::AnyExecutor<'e>,
    user_id: UserId,
    factor: Factor,
) -> Result<Failures, sqlx::Error> {
    let row: Option<Failures> = sqlx::query_as(
        "SELECT failures, last_failure_at FROM failure_counters WHERE user_id = $1 AND factor = $2",
    )
    .bind(user_id)
    .bind(factor.as_str())
    .fetch_optional(executor)
    .await?;
    Ok(row.unwrap_or_default())
}

/// One more failure on a factor's counter, by itself or inside a transaction: the new count.
async fn count_failure<'e>(
    executor: impl sqlx::AnyExecutor<'e>,
    user_id: UserId,
    factor: Factor,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO failure_counters (user_id, factor, failures, last_failure_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (user_id, factor) DO UPDATE SET failures = failure_counters.failures + 1, last_failure_at = excluded.last_failure_at
         RETURNING failures",
    )
    .bind(user_id)
    .bind(factor.as_str())
    .bind(now)
    .fetch_one(executor)
    .await
}

async fn delete_failures<'e>(
    executor: impl sqlx::AnyExecutor<'e>,
    user_id: UserId,
    factor: Factor,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM failure_counters WHERE user_id = $1 AND factor = $2")
        .bind(user_id)
        .bind(factor.as_str())
        .execute(executor)
        .await?;
    Ok(())
}

/// Whose wrong passwords a counter counts: a username (known or not, so throttling tells nothing
/// about which accounts exist), and the device that signed in to it before, or `""` for every
/// other client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordThrottleKey {
    pub username: String,
    pub device: String,
}

/// Reserves one password attempt before the password is checked: in one write transaction the
/// counter is read, `allowed` judges it, and an allowed attempt is counted as a failure at once.
/// Parallel attempts therefore see each other's reservations (NIST 800-63B §5.2.2 holds under
/// load). A right password clears the counter afterwards. Returns the earlier failures, or the
/// judgement that refused the attempt.
pub async fn reserve_password_attempt<E>(
    pool: &AnyPool,
    key: &PasswordThrottleKey,
    now: UnixTime,
    allowed: impl FnOnce(Failures) -> Result<(), E>,
) -> Result<Result<Failures, E>, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let row: Option<Failures> = sqlx::query_as(
        "SELECT failures, last_failure_at FROM password_failures WHERE username = $1 AND device = $2",
    )
    .bind(&key.username)
    .bind(&key.device)
    .fetch_optional(&mut *tx)
    .await?;
    let earlier = row.unwrap_or_default();
    if let Err(refused) = allowed(earlier) {
        return Ok(Err(refused));
    }
    sqlx::query(
        "INSERT INTO password_failures (username, device, failures, last_failure_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (username, device) DO UPDATE SET failures = password_failures.failures + 1, last_failure_at = excluded.last_failure_at",
    )
    .bind(&key.username)
    .bind(&key.device)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(earlier))
}

/// A right password: the reserved attempt and the failures before it are forgotten.
pub async fn clear_password_failures(
    pool: &AnyPool,
    key: &PasswordThrottleKey,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_failures WHERE username = $1 AND device = $2")
        .bind(&key.username)
        .bind(&key.device)
        .execute(pool)
        .await?;
    Ok(())
}

/// Settles an attempt whose factor was already checked (without any lock held: a recovery
/// code's Argon2id is slow): in one write transaction `allowed` judges the counter again, and
/// only an allowed attempt counts, clearing the counter when `right` and adding a failure when
/// not. A refused attempt's outcome is thrown away unseen, so parallel guesses learn no more
/// than the throttle allows. Returns the failures now counted, or the judgement that refused.
pub async fn settle_factor_attempt<E>(
    pool: &AnyPool,
    user_id: UserId,
    factor: Factor,
    now: UnixTime,
    right: bool,
    allowed: impl FnOnce(Failures) -> Result<(), E>,
) -> Result<Result<i64, E>, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let earlier = read_failures(&mut *tx, user_id, factor).await?;
    if let Err(refused) = allowed(earlier) {
        return Ok(Err(refused));
    }
    let failures = count_outcome(&mut tx, user_id, factor, earlier, right, now).await?;
    tx.commit().await?;
    Ok(Ok(failures))
}

/// An allowed attempt's outcome on its factor's counter, inside the transaction that judged
/// `earlier`: a right one clears the counter (no write when there was nothing to clear: most right
/// attempts follow no failure), a wrong one adds a failure. The failures now counted in a row.
pub(super) async fn count_outcome(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: UserId,
    factor: Factor,
    earlier: Failures,
    right: bool,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    if !right {
        return count_failure(&mut **tx, user_id, factor, now).await;
    }
    if earlier.failures > 0 {
        delete_failures(&mut **tx, user_id, factor).await?;
    }
    Ok(0)
}

/// Counters whose last failure is older than `before` start again from zero: the longest wait is
/// 15 minutes, and rows for made-up usernames must not pile up.
pub async fn delete_stale_password_failures(
    pool: &AnyPool,
    before: UnixTime,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM password_failures WHERE last_failure_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
