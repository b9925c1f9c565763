//! Every query Portal makes, named for what it does; each state change in one statement or one
//! transaction. SQL stays portable (no SQLite-only syntax where a standard form exists), and its
//! placeholders are `$1`, `$2`, …: SQLite reads `$N` as the N-th argument, as PostgreSQL does.

mod account_changes;
mod accounts;
mod audit;
mod authenticator_apps;
mod ceremonies;
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
pub use orgs::*;
pub use remembered::*;
pub use security_keys::*;
pub use sign_ins::*;
pub use throttle::*;
pub use tokens::*;
pub use two_factor::*;

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

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A transaction that takes SQLite's write lock at its start (`BEGIN IMMEDIATE`). A plain `BEGIN`
/// that reads first and writes later fails at once when another connection wrote in between,
/// where this one waits its turn like any other writer.
pub(crate) async fn begin_write(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
