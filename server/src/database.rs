//! The database PORTAL_DATABASE_URL names: SQLite or PostgreSQL, each with the connection
//! settings Portal's queries rely on, and its backend's migrations applied.

use anyhow::Context as _;
use app::store::Backend;
use sqlx::{
    AnyConnection, AnyPool, Connection as _, Executor as _, any::AnyPoolOptions,
    pool::PoolConnectionMetadata,
};

/// Opens the database PORTAL_DATABASE_URL names and applies its backend's migrations.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).context(
        "PORTAL_DATABASE_URL: not a database Portal can use (sqlite://… or postgres://…)",
    )?;
    let pool = match backend {
        Backend::Sqlite => connect_sqlite(url).await,
        Backend::Postgres => connect_postgres(url).await,
    }
    .context("PORTAL_DATABASE_URL: cannot open the database")?;
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
        Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
    }
    .context("PORTAL_DATABASE_URL: cannot apply migrations")?;
    Ok(pool)
}
/// SQLite with a write-ahead log (readers do not wait for the writer) and foreign keys enforced;
/// the file is made on first start.
async fn connect_sqlite(url: &str) -> Result<AnyPool, sqlx::Error> {
    let url = if url.contains("mode=") {
        url.to_owned()
    } else {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    };
    // Two connections: SQLite takes one writer at a time anyway, and waiting in the pool is cheaper
    // than connections sleeping on a locked database (its busy handler sleeps whole milliseconds);
    // the second lets one statement run while the pool checks the other connection back in. A
    // local file connection cannot break, so it is not pinged before each use as well (each ping is
    // a round trip to SQLite's thread). Measured in BENCHMARKS.md: 8 connections 1276 code
    // checks/s, 1 connection 1634, 2 connections 1983.
    AnyPoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .before_acquire(no_transaction_left)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
}

/// How long a request waits for a PostgreSQL connection. While the server is down the pool keeps
/// trying to connect until then, and the request is answered 503 (`AppError::Unavailable`):
/// sqlx's 30 s would hold every request in the gap, and the load balancer's patience, for that
/// long. Under load a free connection comes in milliseconds, so 3 s is only reached in an outage;
/// a page that reads twice after the database went away still answers within 10 s.
const POSTGRES_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A PostgreSQL server that several instances may share. Each instance keeps up to 16
/// connections (PORTAL_DATABASE_URL may not say how many: the server's `max_connections` must
/// allow 16 per instance).
///
/// Every connection runs READ COMMITTED, whatever the server's or the database's default
/// (review I6): the write lock's rule (`store::begin_write`) and the single statements that
/// decide races (`DELETE … RETURNING`, an upsert of one session) are correct under it, where a
/// default of REPEATABLE READ would answer concurrent updates of one row with serialization
/// errors.
async fn connect_postgres(url: &str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
        .before_acquire(no_transaction_left)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET default_transaction_isolation = 'read committed'")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// Closes, rather than hands out, a connection that still counts itself inside a transaction.
/// SQLite rolls a transaction back by itself when its disk is full (SQLITE_FULL at COMMIT); the
/// ROLLBACK that sqlx then sends fails ("no transaction is active") and its count of open
/// transactions stays at one, so every later `BEGIN` on that connection would fail with
/// "attempted to call begin_with at non-zero transaction depth", long after space was freed. The
/// release's ping has run behind the rollback by the time a connection is taken again, so the
/// count read here is settled; it is one atomic read.
fn no_transaction_left(
    connection: &mut AnyConnection,
    _: PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("a database connection left inside a transaction is closed");
    }
    Box::pin(std::future::ready(Ok(clean)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite rolls back a transaction itself when a write finds no space (SQLITE_FULL; a capped
    /// `max_page_count` stands in for a full disk); the connection must not be handed out again
    /// still counting itself in that transaction, or every later write on it fails.
    #[tokio::test]
    async fn a_connection_whose_transaction_a_full_disk_rolled_back_is_not_handed_out_again() {
        let folder = tempfile::tempdir().unwrap();
        let pool = connect(&format!("sqlite://{}/portal.db", folder.path().display()))
            .await
            .unwrap();
        let mut connection = pool.acquire().await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut *connection)
            .await
            .unwrap();
        let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let full = sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ('full', randomblob(100000), 0)",
        )
        .execute(&mut *transaction)
        .await
        .unwrap_err();
        assert_eq!(
            app::error::outage::of(&full),
            Some(app::error::outage::Outage::DiskFull),
            "{full}"
        );
        drop(transaction);
        drop(connection);

        // Back in the pool once its release has run; then every idle connection takes a write.
        for _ in 0..100 {
            if pool.num_idle() == pool.size() as usize {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        for write in 0..=pool.size() {
            let mut transaction = app::store::begin_write(&pool).await.unwrap();
            sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, x'00', 0)")
                .bind(write.to_string())
                .execute(&mut *transaction)
                .await
                .unwrap();
            transaction.commit().await.unwrap();
        }
    }
}
