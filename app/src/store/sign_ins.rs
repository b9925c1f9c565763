use crate::unix_time::UnixTime;
use sqlx::AnyPool;

use super::{Backend, Client, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignInRow {
    pub id: String,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A new sign-in and, when `recorded` says how it was made, its audit event (of kind
/// `event_kind`): both in one round trip, as sign-in is the busiest write, which also answers
/// the account's username (for the device cookie). SQLite takes the two statements as one query;
/// PostgreSQL takes no such query with arguments, but takes the first as a common table
/// expression of the second.
pub async fn create_sign_in(
    pool: &AnyPool,
    id: &str,
    user_id: UserId,
    now: UnixTime,
    client: &Client,
    event_kind: &str,
    recorded: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    macro_rules! sign_in {
        () => {
            "INSERT INTO sign_ins (id, user_id, created_at, last_seen_at, address, user_agent) \
             VALUES ($1, $2, $3, $3, $4, $5)"
        };
    }
    macro_rules! event {
        () => {
            "INSERT INTO audit_events (user_id, kind, at, address, user_agent, detail) \
             VALUES ($2, $6, $3, $4, $5, $7)"
        };
    }
    macro_rules! username {
        () => {
            " RETURNING (SELECT username FROM users WHERE id = $2)"
        };
    }
    let query = sqlx::query_scalar(match (recorded, Backend::of(pool)) {
        (None, _) => concat!(sign_in!(), username!()),
        (Some(_), Backend::Sqlite) => concat!(sign_in!(), "; ", event!(), username!()),
        (Some(_), Backend::Postgres) => {
            concat!("WITH sign_in AS (", sign_in!(), ") ", event!(), username!())
        }
    })
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(&client.address)
    .bind(&client.user_agent);
    // PostgreSQL refuses arguments that a query does not use.
    let query = match recorded {
        Some(detail) => query.bind(event_kind).bind(detail),
        None => query,
    };
    query.fetch_optional(pool).await.map(Option::flatten)
}

/// When the sign-in was last seen, if it still stands.
pub async fn sign_in_last_seen(
    pool: &AnyPool,
    id: &str,
    user_id: UserId,
) -> Result<Option<UnixTime>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_seen_at FROM sign_ins WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

pub async fn touch_sign_in(pool: &AnyPool, id: &str, now: UnixTime) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sign_ins SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Signs one browser of the account out; false if it was not the account's.
pub async fn delete_sign_in(
    pool: &AnyPool,
    user_id: UserId,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM sign_ins WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Signs every browser of the account out, but `keep` when given.
pub async fn delete_sign_ins(
    pool: &AnyPool,
    user_id: UserId,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM sign_ins WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected())
}

/// The account's sign-ins seen since `active_since`, newest first.
pub async fn sign_ins_of(
    pool: &AnyPool,
    user_id: UserId,
    active_since: UnixTime,
) -> Result<Vec<SignInRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, created_at, last_seen_at, address, user_agent FROM sign_ins
         WHERE user_id = $1 AND last_seen_at >= $2 ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .bind(active_since)
    .fetch_all(pool)
    .await
}
