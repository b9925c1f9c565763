//! Where sessions are kept: Portal's `sessions` table, on the database pool every query uses,
//! with the same SQL on SQLite and PostgreSQL.
//!
//! tower-sessions-sqlx-store has a store for each backend, but each takes its driver's own pool;
//! Portal's pool is sqlx's `Any`, and a second pool to one SQLite file would make its writers
//! wait on each other's locks instead of in the pool. A session is created at every step up (the
//! id is renewed) and saved on every request, so this sits on the busiest path: `create` is one
//! `INSERT` (ids are 128 random bits; a taken one is drawn again, as the crate does), `save` one
//! upsert. The record is MessagePack, as in the crate; expiry is in unix seconds.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyPool;
use time::OffsetDateTime;
use tower_sessions::{
    ExpiredDeletion, SessionStore,
    session::{Id, Record},
    session_store,
};

#[derive(Debug, Clone)]
pub struct PortalSessionStore {
    pool: AnyPool,
}

impl PortalSessionStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }
}

fn backend(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))
}

#[async_trait]
impl SessionStore for PortalSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let inserted =
                sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)")
                    .bind(record.id.to_string())
                    .bind(encode(record)?)
                    .bind(record.expiry_date.unix_timestamp())
                    .execute(&self.pool)
                    .await;
            match inserted {
                Ok(_) => return Ok(()),
                // Taken, however unlikely: draw another id.
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                    record.id = Id::default();
                }
                Err(error) => return Err(backend(error)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(record.id.to_string())
        .bind(encode(record)?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(session_id.to_string())
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        data.map(|data| {
            rmp_serde::from_slice(&data)
                .map_err(|error| session_store::Error::Decode(error.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for PortalSessionStore {
    /// Idempotent: instances sharing a database may run it at the same time.
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Deletes expired session rows at once and then every `period`. Sessions that never sign in (a
/// failed form's kept fields, a sign-in that never got its code) are never signed out, so only
/// this removes their rows. It runs at start, so rows that expired while the server was down go
/// at once, and logs a failure and tries again next period.
pub async fn delete_expired_periodically(store: PortalSessionStore, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = store.delete_expired().await {
            tracing::warn!(%error, "expired sessions could not be deleted");
        }
    }
}
