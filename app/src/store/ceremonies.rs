use sqlx::AnyPool;

use crate::unix_time::UnixTime;

/// Keeps a ceremony's state under `id`, replacing the ceremony `replaces` (the same session's
/// earlier start of the same kind) if there was one. A plain transaction: it reads nothing
/// before it writes, so it needs no turn under the write lock (`begin_write`), which anyone may
/// start a passkey sign-in to ask for (review M4).
pub async fn keep_ceremony(
    pool: &AnyPool,
    id: &str,
    replaces: Option<&str>,
    kind: &str,
    state: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(old) = replaces {
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE id = $1")
            .bind(old)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, kind, state, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(kind)
    .bind(state)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The ceremony's state, taken in one statement: of several requests taking it at once, one gets
/// it. None if it was taken, is of another kind, or started before `not_before`.
pub async fn take_ceremony(
    pool: &AnyPool,
    id: &str,
    kind: &str,
    not_before: UnixTime,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND created_at >= $3 RETURNING state",
    )
    .bind(id)
    .bind(kind)
    .bind(not_before)
    .fetch_optional(pool)
    .await
}

pub async fn delete_expired_ceremonies(
    pool: &AnyPool,
    before: UnixTime,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE created_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
