//! Every query Portal makes, named for what it does; each state change in one statement or one
//! transaction. SQL stays portable (no SQLite-only syntax where a standard form exists), and its
//! placeholders are `$1`, `$2`, …: SQLite reads `$N` as the N-th argument, as PostgreSQL does.

mod account_changes;
mod accounts;
mod audit;
mod authenticator_apps;
mod ceremonies;
mod oidc;
mod orgs;
mod remembered;
mod security_keys;
mod sign_ins;
mod throttle;
mod tokens;
mod two_factor;

pub use account_changes::*;
pub use accounts::*;
pub use audit::*;
pub use authenticator_apps::*;
pub use ceremonies::*;
pub use oidc::*;
pub use orgs::*;
pub use remembered::*;
pub use security_keys::*;
pub use sign_ins::*;
pub use throttle::*;
pub use tokens::*;
pub use two_factor::*;

use sqlx::AnyPool;

/// An account's id: a type of its own, so that an organization's id or a count cannot stand in
/// for it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct UserId(pub i64);

/// A sign-in's id: random, kept in its browser's session and in the `sign_ins` row that keeps it
/// signed in; what an enrollment, an app addition or a recovery-code reveal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct SignInId(pub String);

impl SignInId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's row id: not to be mixed up with an account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct OrgId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The database Portal runs on: SQLite in a data folder (the default), or a PostgreSQL server
/// that several instances share. The store's SQL is the same for both but where noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if Portal supports it.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn of(pool: &AnyPool) -> Self {
        // Only these two drivers are installed, and only these URLs are accepted at start.
        Self::of_url(pool.connect_options().database_url.as_str()).unwrap_or(Self::Sqlite)
    }
}

/// The key of PostgreSQL's transaction-level advisory lock that every write transaction takes
/// (`pg_advisory_xact_lock`): write transactions run one at a time across all instances, as
/// SQLite's `BEGIN IMMEDIATE` makes them within one file. A 64-bit key: advisory locks taken
/// with two 32-bit keys never collide with it.
const WRITE_LOCK_KEY: i64 = 0x706f_7274_616c; // "portal"

/// A transaction that holds the database's write lock from its start, so that what it reads stays
/// true until it commits: a counter judged, then counted; a username checked, then taken. On
/// SQLite, `BEGIN IMMEDIATE` (a plain `BEGIN` that reads first and writes later fails at once when
/// another connection wrote in between, where this one waits its turn like any other writer); on
/// PostgreSQL, an advisory lock that all instances share, in a READ COMMITTED transaction
/// whatever the server's default (review I6): under REPEATABLE READ the snapshot would be taken
/// by the lock's own statement, before the lock is granted, and what the transaction then reads
/// could be stale. Public for the tests that must hold the lock.
pub async fn begin_write(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match Backend::of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = pool
                .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
                .await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// A yes or no read from the database: SQLite answers a comparison or `EXISTS` with 0 or 1,
/// PostgreSQL with a boolean. Read a column as it with `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <bool as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <bool as sqlx::Type<sqlx::Any>>::compatible(ty)
            || <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <i64 as sqlx::Decode<sqlx::Any>>::decode(value.clone()) {
            Ok(number) => Ok(Self(number != 0)),
            Err(_) => <bool as sqlx::Decode<sqlx::Any>>::decode(value).map(Self),
        }
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}
