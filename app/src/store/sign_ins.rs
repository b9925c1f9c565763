use super::SignInId;
use crate::unix_time::UnixTime;
use sqlx::AnyPool;

use super::{Backend, Client, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignInRow {
    pub id: SignInId,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// Which of an account's passwords a sign-in passed: every new password moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordGeneration(pub i64);

/// A sign-in to make: its id, account, time and client, and the password it passed, if any.
pub struct NewSignIn<'a> {
    pub id: &'a SignInId,
    pub user_id: UserId,
    pub now: UnixTime,
    pub client: &'a Client,
    pub password: Option<PasswordGeneration>,
    /// The browser had never signed in to this account: its audit event says so.
    pub new_device: bool,
}

/// A new sign-in and, when `recorded` says how it was made, its audit event (of kind
/// `event_kind`), which also answers the account's username (for the device cookie). On
/// PostgreSQL both in one round trip, as sign-in is the busiest write: the event is written by
/// the same statement, with the sign-in as a common table expression. SQLite runs in-process:
/// the event follows.
///
/// A sign-in that passed a password (`password` is `Some`) is made only while the account still
/// has that password: one that passed the old password, still hashing or waiting for its second
/// factor when the password changed, would otherwise outlive the change that signed everyone
/// out. None then, and nothing is written. On PostgreSQL the account's row is read `FOR SHARE`:
/// a change under way is waited for and then seen, and a change that comes after waits for this
/// sign-in and then deletes it. (SQLite has one writer at a time.)
pub async fn create_sign_in(
    pool: &AnyPool,
    sign_in: NewSignIn<'_>,
    event_kind: &str,
    recorded: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    // $6 < 0: no password was involved (a passkey, a new account).
    macro_rules! sign_in {
        () => {
            "INSERT INTO sign_ins (id, user_id, created_at, last_seen_at, address, user_agent) \
             SELECT $1, $2, $3, $3, $4, $5 FROM users \
             WHERE id = $2 AND ($6 < 0 OR password_generation = $6)"
        };
    }
    macro_rules! username {
        () => {
            " RETURNING (SELECT username FROM users WHERE id = $2)"
        };
    }
    let backend = Backend::of(pool);
    let with_event = recorded.is_some() && backend == Backend::Postgres;
    let query = sqlx::query_scalar(match (with_event, backend) {
        (false, Backend::Sqlite) => concat!(sign_in!(), username!()),
        (false, Backend::Postgres) => concat!(sign_in!(), " FOR SHARE", username!()),
        (true, _) => concat!(
            "WITH sign_in AS (",
            sign_in!(),
            " FOR SHARE RETURNING user_id) \
             INSERT INTO audit_events (user_id, kind, at, address, user_agent, detail, new_device) \
             SELECT user_id, $7, $3, $4, $5, $8, $9 FROM sign_in",
            username!()
        ),
    })
    .bind(sign_in.id)
    .bind(sign_in.user_id)
    .bind(sign_in.now)
    .bind(&sign_in.client.address)
    .bind(&sign_in.client.user_agent)
    .bind(sign_in.password.map_or(-1, |generation| generation.0));
    // PostgreSQL refuses arguments that a query does not use.
    let query = match (with_event, recorded) {
        (true, Some(detail)) => query
            .bind(event_kind)
            .bind(detail)
            .bind(i64::from(sign_in.new_device)),
        _ => query,
    };
    let username: Option<String> = query.fetch_optional(pool).await?.flatten();
    if let (Some(_), false, Some(detail)) = (&username, with_event, recorded) {
        super::audit::record_sign_in_event(
            pool,
            Some(sign_in.user_id),
            event_kind,
            sign_in.now,
            sign_in.client,
            Some(detail),
            sign_in.new_device,
        )
        .await?;
    }
    Ok(username)
}

/// When the sign-in was last seen, if it still stands.
pub async fn sign_in_last_seen(
    pool: &AnyPool,
    id: &SignInId,
    user_id: UserId,
) -> Result<Option<UnixTime>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_seen_at FROM sign_ins WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

pub async fn touch_sign_in(
    pool: &AnyPool,
    id: &SignInId,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
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
    id: &SignInId,
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
    keep: Option<&SignInId>,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM sign_ins WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.map_or("", SignInId::as_str))
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

/// Notes that the sign-in reached the app at `host` through the proxy (forward-auth).
pub async fn note_app_use(
    pool: &AnyPool,
    sign_in_id: &SignInId,
    host: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sign_in_apps (sign_in_id, host, last_used_at) SELECT $1, $2, $3
         WHERE EXISTS (SELECT 1 FROM sign_ins WHERE id = $4)
         ON CONFLICT (sign_in_id, host) DO UPDATE SET last_used_at = excluded.last_used_at",
    )
    .bind(sign_in_id)
    .bind(host)
    .bind(now)
    .bind(sign_in_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The apps each sign-in of the account reached, by sign-in, newest use first.
pub async fn apps_of_sign_ins(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Vec<(SignInId, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.sign_in_id, a.host FROM sign_in_apps a JOIN sign_ins s ON s.id = a.sign_in_id
         WHERE s.user_id = $1 ORDER BY a.last_used_at DESC, a.host",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}
