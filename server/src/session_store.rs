//! Where sessions are kept: tower-sessions' SQLite store, with `create` in one statement.
//!
//! A session is created at every step up (the id is renewed), so it is on the path of every
//! sign-in. The crate's `create` opens a transaction to retry an id that is already taken: three
//! round trips to SQLite's thread for what one `INSERT` does when ids are 128 random bits. Loading,
//! saving, deleting and expiring stay the crate's.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use tower_sessions::{
    ExpiredDeletion, SessionStore,
    session::{Id, Record},
    session_store,
};
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Debug, Clone)]
pub struct PortalSessionStore {
    store: SqliteStore,
    pool: SqlitePool,
}

impl PortalSessionStore {
    /// Uses the crate's default table, `tower_sessions`.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            store: SqliteStore::new(pool.clone()),
            pool,
        }
    }

    pub fn sqlite_store(&self) -> &SqliteStore {
        &self.store
    }
}

#[async_trait]
impl SessionStore for PortalSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = rmp_serde::to_vec(record)
                .map_err(|error| session_store::Error::Encode(error.to_string()))?;
            let inserted =
                sqlx::query("INSERT INTO tower_sessions (id, data, expiry_date) VALUES (?, ?, ?)")
                    .bind(record.id.to_string())
                    .bind(data)
                    .bind(record.expiry_date)
                    .execute(&self.pool)
                    .await;
            match inserted {
                Ok(_) => return Ok(()),
                // Taken, however unlikely: draw another id, as the crate does.
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                    record.id = Id::default();
                }
                Err(error) => return Err(session_store::Error::Backend(error.to_string())),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(session_id).await
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.store.delete(session_id).await
    }
}

/// Deletes expired session rows at once and then every `period`. Sessions that never sign in (a
/// failed form's kept fields, a sign-in that never got its code) are never signed out, so only
/// this removes their rows. The crate's `continuously_delete_expired` skips its first run and
/// stops for good at its first error (a busy database); this runs at start, so rows that expired
/// while the server was down go at once, and logs a failure and tries again next period.
pub async fn delete_expired_periodically(store: PortalSessionStore, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = store.store.delete_expired().await {
            tracing::warn!(%error, "expired sessions could not be deleted");
        }
    }
}
