//! Where sessions are kept: Portal's `sessions` table, on the database pool every query uses,
//! with the same SQL on SQLite and PostgreSQL.
//!
//! tower-sessions-sqlx-store has a store for each backend, but each takes its driver's own pool;
//! Portal's pool is sqlx's `Any`, and a second pool to one SQLite file would make its writers
//! wait on each other's locks instead of in the pool. A session is created at every step up (the
//! id is renewed) and saved on every request, so this sits on the busiest path: `create` is one
//! `INSERT` (ids are 128 random bits; a taken one is drawn again, as the crate does). The record is
//! MessagePack, as in the crate; expiry is in unix seconds.
//!
//! Every answer saves its session (the idle timer moves with each request), and a request saves
//! the record it loaded at its start. Two requests of one browser at once (the strength meter's
//! while the form is posted; two tabs) would then undo each other: the one that changed nothing
//! would write back what it loaded, dropping the other's change, or bring back a session the other
//! signed out. So `load` marks the record with a digest of what it read, and `save` writes the data
//! only when it differs from that digest; an unchanged record only moves the expiry of a row that
//! still exists.
//!
//! A session id is a bearer credential, so the table keeps only its SHA-256 (`key`), as links'
//! tokens are kept: a copy of the database (a backup) resumes no session. The record's own copy
//! of the id is blanked in the stored data, and `load` gives the record back the id it was asked
//! for.

use std::time::Duration;

use app::error::outage;
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
    /// The store on `pool`, once rows an earlier version kept under the id itself are moved
    /// under its hash (the people they belong to stay signed in).
    pub async fn open(pool: AnyPool) -> anyhow::Result<Self> {
        let store = Self { pool };
        store.hash_plain_ids().await?;
        Ok(store)
    }

    /// Rows whose key is not a hash (64 hex digits) were written before ids were hashed: each is
    /// moved under its id's hash, its data without the id. Instances starting at once may both
    /// move a row; the second finds it gone.
    async fn hash_plain_ids(&self) -> anyhow::Result<()> {
        let plain: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT id, data FROM sessions WHERE length(id) <> 64")
                .fetch_all(&self.pool)
                .await?;
        for (id, data) in plain {
            let Ok(mut record) = rmp_serde::from_slice::<Record>(&data) else {
                continue;
            };
            let Ok(parsed) = id.parse::<Id>() else {
                continue;
            };
            record.id = parsed;
            sqlx::query("UPDATE sessions SET id = $1, data = $2 WHERE id = $3")
                .bind(key(&parsed))
                .bind(encode(&stored(&record))?)
                .bind(&id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// The row's key for a session id: its SHA-256, in hex.
fn key(id: &Id) -> String {
    hex::encode(app::security::token::hash(&id.to_string()))
}

/// A database that cannot answer just now is reported as an outage (logged, and noted for the
/// request, so that a session that could not be saved answers 503, not tower-sessions' 500) and
/// said in words `AppError` recognises; any other error is the store's fault.
fn backend(error: sqlx::Error) -> session_store::Error {
    match outage::of(&error) {
        Some(kind) => {
            outage::report(kind, &error);
            session_store::Error::Backend(outage::SESSION_STORE.to_owned())
        }
        None => session_store::Error::Backend(error.to_string()),
    }
}

/// The error of a request that found the database unreachable already: it does not wait again.
fn unreachable() -> session_store::Error {
    session_store::Error::Backend(outage::SESSION_STORE.to_owned())
}

/// The key under which `load` leaves its digest in the record; never stored.
const LOADED: &str = "__portal_loaded";

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))
}

/// A digest of a record's data, the same for the same data whatever the map's order.
fn digest(data: &std::collections::HashMap<String, serde_json::Value>) -> String {
    use std::hash::{Hash, Hasher};
    let sorted: std::collections::BTreeMap<_, _> =
        data.iter().filter(|(key, _)| *key != LOADED).collect();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&sorted)
        .unwrap_or_default()
        .hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The record as it is stored: without the load marker, and without its id (the row's key is
/// the id's hash).
fn stored(record: &Record) -> Record {
    let mut record = record.clone();
    record.data.remove(LOADED);
    record.id = Id(0);
    record
}

#[async_trait]
impl SessionStore for PortalSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            record.data.remove(LOADED);
            let inserted =
                sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)")
                    .bind(key(&record.id))
                    .bind(encode(&stored(record))?)
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
        let unchanged = record
            .data
            .get(LOADED)
            .and_then(|loaded| loaded.as_str())
            .is_some_and(|loaded| loaded == digest(&record.data));
        // A request that found the database unreachable (its page then showed the error) keeps
        // its idle timer where it was, and a change is refused at once: no second wait.
        if outage::unreachable_already() {
            return if unchanged {
                Ok(())
            } else {
                Err(unreachable())
            };
        }
        if unchanged {
            // Only the idle timer moves; a row deleted meanwhile (signed out) stays deleted.
            let touched = sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2")
                .bind(record.expiry_date.unix_timestamp())
                .bind(key(&record.id))
                .execute(&self.pool)
                .await;
            return match touched {
                Ok(_) => Ok(()),
                // A page that only read is still served when the database takes no writes (a full
                // disk): its idle timer then counts from the last request that could be saved.
                Err(error) => match outage::of(&error) {
                    Some(kind) => {
                        outage::report(kind, &error);
                        Ok(())
                    }
                    None => Err(backend(error)),
                },
            };
        }
        sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(key(&record.id))
        .bind(encode(&stored(record))?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        // A request loads its session in a layer, and again in the next if the first failed:
        // one wait for an unreachable database is enough.
        if outage::unreachable_already() {
            return Err(unreachable());
        }
        let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(key(session_id))
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let mut record: Record = rmp_serde::from_slice(&data)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        record.id = *session_id;
        // The row's expiry is the one that moves without the data.
        if let Ok(expiry) = OffsetDateTime::from_unix_timestamp(expires_at) {
            record.expiry_date = expiry;
        }
        let loaded = digest(&record.data);
        record
            .data
            .insert(LOADED.to_owned(), serde_json::Value::String(loaded));
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(key(session_id))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::session::Record;

    async fn store() -> PortalSessionStore {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE sessions (id TEXT PRIMARY KEY, data BLOB NOT NULL, expires_at BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        PortalSessionStore::open(pool).await.unwrap()
    }

    fn alice_s_record() -> Record {
        let mut record = record();
        record
            .data
            .insert("user".to_owned(), serde_json::json!("alice"));
        record
    }

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::minutes(30),
        }
    }

    #[tokio::test]
    async fn a_request_that_changed_nothing_keeps_what_another_request_wrote_meanwhile() {
        let store = store().await;
        let mut created = record();
        store.create(&mut created).await.unwrap();
        // Two requests load the session; the first changes it and saves, then the second, which
        // changed nothing, saves what it loaded.
        let mut changing = store.load(&created.id).await.unwrap().unwrap();
        let unchanged = store.load(&created.id).await.unwrap().unwrap();
        changing
            .data
            .insert("kept".to_owned(), serde_json::json!("the form's error"));
        store.save(&changing).await.unwrap();
        let mut later = unchanged.clone();
        later.expiry_date += time::Duration::seconds(5);
        store.save(&later).await.unwrap();

        let now = store.load(&created.id).await.unwrap().unwrap();
        assert_eq!(
            now.data.get("kept"),
            Some(&serde_json::json!("the form's error"))
        );
        assert_eq!(
            now.expiry_date.unix_timestamp(),
            later.expiry_date.unix_timestamp(),
            "the idle timer still moves"
        );
        assert!(!stored(&now).data.contains_key(LOADED));
    }

    #[tokio::test]
    async fn a_request_that_changed_nothing_does_not_bring_back_a_signed_out_session() {
        let store = store().await;
        let mut created = record();
        created.data.insert("user".to_owned(), serde_json::json!(1));
        store.create(&mut created).await.unwrap();
        let in_flight = store.load(&created.id).await.unwrap().unwrap();
        store.delete(&created.id).await.unwrap();
        store.save(&in_flight).await.unwrap();
        assert!(store.load(&created.id).await.unwrap().is_none());
    }

    /// A closed pool stands in for a database out of reach: the same kind of outage.
    #[tokio::test]
    async fn an_unreachable_database_is_an_outage_and_a_session_that_only_read_is_still_served() {
        let store = store().await;
        let mut created = record();
        store.create(&mut created).await.unwrap();
        let loaded = store.load(&created.id).await.unwrap().unwrap();
        let mut changed = loaded.clone();
        changed.data.insert("step".to_owned(), serde_json::json!(2));
        store.pool.close().await;

        let ((touched, saved, reloaded), met) = outage::noting(async {
            (
                store.save(&loaded).await,
                store.save(&changed).await,
                store.load(&created.id).await,
            )
        })
        .await;
        assert!(met, "the request knows it met an outage");
        assert!(touched.is_ok(), "only the idle timer would move: served");
        for error in [saved.unwrap_err(), reloaded.unwrap_err()] {
            assert_eq!(
                app::error::AppError::from(tower_sessions::session::Error::Store(error)),
                app::error::AppError::Unavailable
            );
        }
        let error = store.delete(&created.id).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            outage::SESSION_STORE,
            "a delete too, and the cause is not in its words"
        );
    }

    #[tokio::test]
    async fn a_changed_record_is_written_and_the_marker_is_never_stored() {
        let store = store().await;
        let mut created = record();
        store.create(&mut created).await.unwrap();
        let mut loaded = store.load(&created.id).await.unwrap().unwrap();
        loaded.data.insert("step".to_owned(), serde_json::json!(2));
        store.save(&loaded).await.unwrap();
        let raw: Vec<u8> = sqlx::query_scalar("SELECT data FROM sessions")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let kept: Record = rmp_serde::from_slice(&raw).unwrap();
        assert_eq!(kept.data.get("step"), Some(&serde_json::json!(2)));
        assert!(!kept.data.contains_key(LOADED));
    }

    /// What a copy of the table holds: no row's key is an id a browser sends, and no row's data
    /// holds one; the store still finds the session by the id.
    #[tokio::test]
    async fn the_table_keeps_the_id_s_hash_and_never_the_id() {
        let store = store().await;
        let mut created = alice_s_record();
        store.create(&mut created).await.unwrap();
        store.save(&created).await.unwrap();
        let id = created.id.to_string();
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM sessions")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let (stored_key, data) = &rows[0];
        assert_ne!(stored_key, &id);
        assert_eq!(stored_key.len(), 64);
        assert!(
            !data
                .windows(16)
                .any(|window| created.id.0.to_be_bytes() == window
                    || created.id.0.to_le_bytes() == window),
            "the data holds the id's bits"
        );
        assert!(!String::from_utf8_lossy(data).contains(&id));
        let loaded = store.load(&created.id).await.unwrap().unwrap();
        assert_eq!(loaded.id, created.id);
        assert_eq!(loaded.data["user"], "alice");
        store.delete(&created.id).await.unwrap();
        assert!(store.load(&created.id).await.unwrap().is_none());
    }

    /// A row an earlier version kept under the id itself is moved under its hash at start, and
    /// the session goes on.
    #[tokio::test]
    async fn a_row_kept_under_its_plain_id_is_moved_under_its_hash_at_start() {
        let store = store().await;
        let earlier = alice_s_record();
        sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)")
            .bind(earlier.id.to_string())
            .bind(rmp_serde::to_vec(&earlier).unwrap())
            .bind(earlier.expiry_date.unix_timestamp())
            .execute(&store.pool)
            .await
            .unwrap();
        let store = PortalSessionStore::open(store.pool.clone()).await.unwrap();
        let keys: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert_eq!(keys, vec![key(&earlier.id)]);
        let loaded = store.load(&earlier.id).await.unwrap().unwrap();
        assert_eq!(loaded.data["user"], "alice");
    }
}
