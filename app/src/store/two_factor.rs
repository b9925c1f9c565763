use super::SignInId;
use crate::unix_time::UnixTime;
use sqlx::AnyPool;

use super::{Factor, Failures, UserId};

#[derive(sqlx::FromRow)]
pub struct TwoFactorRow {
    pub recovery_code_hash: String,
    pub enabled_at: UnixTime,
}

#[derive(sqlx::FromRow)]
pub struct EnrollmentRow {
    pub secret_sealed: Vec<u8>,
    pub confirmed_step: Option<i64>,
    pub started_at: UnixTime,
    /// The sign-in that started it: only it is shown the secret and may finish it.
    pub sign_in_id: Option<SignInId>,
}

pub async fn two_factor_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Option<TwoFactorRow>, sqlx::Error> {
    sqlx::query_as("SELECT recovery_code_hash, enabled_at FROM two_factor WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// One authenticator app of an account, as a code check needs it.
pub struct AppSecret {
    pub id: i64,
    pub secret_sealed: Vec<u8>,
    pub last_accepted_step: i64,
}

/// What a code check reads, in one query: each app's sealed secret and last step spent, and the
/// account's failure counter for codes.
pub struct CodeCheckRow {
    pub apps: Vec<AppSecret>,
    pub failures: Failures,
}

#[derive(sqlx::FromRow)]
struct CodeCheckApp {
    id: i64,
    secret_sealed: Vec<u8>,
    last_accepted_step: i64,
    failures: Option<i64>,
    last_failure_at: Option<UnixTime>,
}

/// What a code check found, judged against the apps read in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    /// Right for this app at this step, newer than any the app had accepted.
    Accepted {
        app_id: i64,
        step: i64,
    },
    /// A code some app had accepted already.
    Replayed,
    Wrong,
}

/// A code check settled in one write transaction, so that parallel checks of one account, on
/// any number of instances, see each other: the account's apps and code failures are read,
/// `judge` decides (the throttle, then the code against each app), and the verdict is written
/// (the app's step spent, or one more failure counted). Returns None when the account has no
/// authenticator app; else the judgement that refused, or the verdict with the failures counted
/// now in a row (0 when accepted).
pub async fn settle_code_check<E>(
    pool: &AnyPool,
    user_id: UserId,
    now: UnixTime,
    judge: impl FnOnce(&CodeCheckRow) -> Result<CodeVerdict, E>,
) -> Result<Option<Result<(CodeVerdict, i64), E>>, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let Some(row) = code_check_of(&mut *tx, user_id).await? else {
        return Ok(None);
    };
    let verdict = match judge(&row) {
        Ok(verdict) => verdict,
        Err(refused) => return Ok(Some(Err(refused))),
    };
    let verdict = match verdict {
        CodeVerdict::Accepted { app_id, step } => {
            let spent = sqlx::query(
                "UPDATE authenticator_apps SET last_accepted_step = $1, last_used_at = $2 \
                 WHERE id = $3 AND last_accepted_step < $4",
            )
            .bind(step)
            .bind(now)
            .bind(app_id)
            .bind(step)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() == 1 {
                verdict
            } else {
                CodeVerdict::Replayed
            }
        }
        other => other,
    };
    let right = matches!(verdict, CodeVerdict::Accepted { .. });
    let failures =
        super::throttle::count_outcome(&mut tx, user_id, Factor::Totp, row.failures, right, now)
            .await?;
    tx.commit().await?;
    Ok(Some(Ok((verdict, failures))))
}

/// None when the account has no authenticator app.
async fn code_check_of<'e>(
    executor: impl sqlx::AnyExecutor<'e>,
    user_id: UserId,
) -> Result<Option<CodeCheckRow>, sqlx::Error> {
    let rows: Vec<CodeCheckApp> = sqlx::query_as(
        "SELECT a.id, a.secret_sealed, a.last_accepted_step, f.failures, f.last_failure_at \
         FROM authenticator_apps a \
         LEFT JOIN failure_counters f ON f.user_id = a.user_id AND f.factor = $1 \
         WHERE a.user_id = $2 ORDER BY a.id",
    )
    .bind(Factor::Totp.as_str())
    .bind(user_id)
    .fetch_all(executor)
    .await?;
    // The counter is the account's: every row carries the same.
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let failures = Failures {
        failures: first.failures.unwrap_or_default(),
        last_failure_at: first.last_failure_at,
    };
    Ok(Some(CodeCheckRow {
        failures,
        apps: rows
            .into_iter()
            .map(|row| AppSecret {
                id: row.id,
                secret_sealed: row.secret_sealed,
                last_accepted_step: row.last_accepted_step,
            })
            .collect(),
    }))
}

pub async fn enrollment_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as("SELECT secret_sealed, confirmed_step, started_at, sign_in_id FROM two_factor_enrollments WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// A new enrollment with a new secret, replacing any earlier unfinished one.
pub async fn start_enrollment(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    secret_sealed: &[u8],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query("DELETE FROM recovery_code_reveals WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO two_factor_enrollments (user_id, secret_sealed, confirmed_step, recovery_code_hash, started_at, sign_in_id)
         VALUES ($1, $2, NULL, NULL, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, confirmed_step = NULL,
             recovery_code_hash = NULL, started_at = excluded.started_at, sign_in_id = excluded.sign_in_id",
    )
    .bind(user_id)
    .bind(secret_sealed)
    .bind(now)
    .bind(sign_in_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Marks the enrollment's secret confirmed by a code of `step` and keeps the recovery code: its
/// hash for good, the sealed code until it has been shown. False if it was confirmed already, or
/// replaced meanwhile (the secret checked is the one confirmed), or started by another sign-in.
pub async fn confirm_enrollment(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    secret_sealed: &[u8],
    step: i64,
    recovery_code_hash: &str,
    recovery_code_sealed: &[u8],
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let updated = sqlx::query(
        "UPDATE two_factor_enrollments SET confirmed_step = $1, recovery_code_hash = $2
         WHERE user_id = $3 AND sign_in_id = $4 AND secret_sealed = $5 AND confirmed_step IS NULL",
    )
    .bind(step)
    .bind(recovery_code_hash)
    .bind(user_id)
    .bind(sign_in_id)
    .bind(secret_sealed)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    put_reveal(&mut tx, user_id, sign_in_id, recovery_code_sealed, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Turns the second factor on from a confirmed enrollment; the confirming code's step counts as
/// accepted. False if there was no confirmed enrollment.
pub async fn complete_enrollment(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let inserted = sqlx::query(
        "INSERT INTO two_factor (user_id, recovery_code_hash, enabled_at)
         SELECT user_id, recovery_code_hash, $1
         FROM two_factor_enrollments
         WHERE user_id = $2 AND sign_in_id = $3 AND confirmed_step IS NOT NULL AND recovery_code_hash IS NOT NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(sign_in_id)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    // The first app; more can be added once two-factor authentication is on.
    sqlx::query(
        "INSERT INTO authenticator_apps (user_id, name, secret_sealed, last_accepted_step, created_at)
         SELECT user_id, $1, secret_sealed, confirmed_step, $2 FROM two_factor_enrollments WHERE user_id = $3",
    )
    .bind(FIRST_APP_NAME)
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    super::tokens::withdraw_recovery_links(&mut tx, user_id, now).await?;
    for table in ["two_factor_enrollments", "recovery_code_reveals"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The name of the app set up with the wizard (which asks for none); the apps added after it are
/// named by their owner.
pub const FIRST_APP_NAME: &str = "Authenticator app";

pub async fn cancel_enrollment(pool: &AnyPool, user_id: UserId) -> Result<(), sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    for table in ["two_factor_enrollments", "recovery_code_reveals"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Removes the second factor, its recovery code and its failure counters.
pub async fn remove_two_factor(
    pool: &AnyPool,
    user_id: UserId,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    super::tokens::withdraw_recovery_links(&mut tx, user_id, now).await?;
    let removed = sqlx::query("DELETE FROM two_factor WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Keys are second factors beside the app: turning two-factor off, or any reset, removes all.
    for table in [
        "authenticator_apps",
        "authenticator_app_additions",
        "two_factor_enrollments",
        "recovery_code_reveals",
        "failure_counters",
        "security_keys",
        "remembered_browsers",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(removed.rows_affected() == 1)
}

/// A new recovery code replaces the old, which stops working at once.
pub async fn replace_recovery_code(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    recovery_code_hash: &str,
    recovery_code_sealed: &[u8],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query("UPDATE two_factor SET recovery_code_hash = $1 WHERE user_id = $2")
        .bind(recovery_code_hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::tokens::withdraw_recovery_links(&mut tx, user_id, now).await?;
    put_reveal(&mut tx, user_id, sign_in_id, recovery_code_sealed, now).await?;
    tx.commit().await
}

async fn put_reveal(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: UserId,
    sign_in_id: &SignInId,
    code_sealed: &[u8],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recovery_code_reveals (user_id, code_sealed, created_at, sign_in_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET code_sealed = excluded.code_sealed, created_at = excluded.created_at,
             sign_in_id = excluded.sign_in_id",
    )
    .bind(user_id)
    .bind(code_sealed)
    .bind(now)
    .bind(sign_in_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sealed recovery code waiting to be shown to the sign-in that made it, if it was made after
/// `not_before`.
pub async fn recovery_code_reveal(
    pool: &AnyPool,
    user_id: UserId,
    sign_in_id: &SignInId,
    not_before: UnixTime,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT code_sealed FROM recovery_code_reveals WHERE user_id = $1 AND sign_in_id = $2 AND created_at >= $3",
    )
    .bind(user_id)
    .bind(sign_in_id)
    .bind(not_before)
    .fetch_optional(pool)
    .await
}

pub async fn forget_recovery_code_reveal(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_code_reveals WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sealed recovery codes past their reveal window are deleted, shown or not: the code is kept
/// only as a hash after that (SPEC §2).
pub async fn delete_expired_reveals(pool: &AnyPool, before: UnixTime) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM recovery_code_reveals WHERE created_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
