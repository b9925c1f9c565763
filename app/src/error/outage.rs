//! A database that cannot answer just now: PostgreSQL restarting or out of reach, a pool that
//! found no connection in time, a full disk. These pass by themselves, so the person is asked to
//! try again (`AppError::Unavailable`, 503 with `Retry-After`); every other database error is a
//! fault and stays `Internal` (500), so no bug is hidden as an outage.
//!
//! The cause is logged on the server, at most once a `LOG_EVERY` for each kind of outage: a
//! busy portal meets it on every request, and one line says all there is to say.

use std::{
    cell::Cell,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::AppError;

/// Why the database cannot answer just now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Refused, lost, shutting down, starting up, or no connection free in time.
    Unreachable,
    /// Its disk is full: reads still work, writes wait until space is freed.
    DiskFull,
}

/// What the session store puts in its error when the database could not answer, so that
/// `From<session::Error>` tells it from a fault (the store's errors carry only words).
pub const SESSION_STORE: &str = "the session store's database cannot answer just now";

/// Retry-After on a 503 for an outage: a PostgreSQL restart or a failover takes seconds.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// The outage behind a database error, if that is what it is.
pub fn of(error: &sqlx::Error) -> Option<Outage> {
    match error {
        // A connection refused, reset or cut while in use.
        sqlx::Error::Io(_) => Some(Outage::Unreachable),
        // No connection could be had within the pool's acquire timeout; closed while stopping.
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Some(Outage::Unreachable),
        sqlx::Error::Database(error) => of_code(error.code().as_deref()?),
        _ => None,
    }
}

/// PostgreSQL's SQLSTATE (five characters) or SQLite's extended result code (a number).
fn of_code(code: &str) -> Option<Outage> {
    match code {
        // PostgreSQL class 08: connection exceptions.
        _ if code.len() == 5 && code.starts_with("08") => Some(Outage::Unreachable),
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down),
        // too_many_connections.
        "57P01" | "57P02" | "57P03" | "53300" => Some(Outage::Unreachable),
        // PostgreSQL's disk_full; SQLite's SQLITE_FULL.
        "53100" | "13" => Some(Outage::DiskFull),
        _ => None,
    }
}

/// `AppError::Unavailable`, having logged the outage (at most once a `LOG_EVERY` for its kind)
/// and noted it for the request (`noting`).
#[track_caller]
pub fn unavailable(outage: Outage, cause: &sqlx::Error) -> AppError {
    report(outage, cause);
    AppError::Unavailable
}

/// Logs the outage, at most once a `LOG_EVERY` for its kind, and notes it for the request.
#[track_caller]
pub fn report(outage: Outage, cause: &(dyn std::error::Error + 'static)) {
    note(outage);
    if !first_in_a_while(outage) {
        return;
    }
    // sqlx's errors name no password: a connection error says what failed, not the URL.
    let cause = super::error_chain(cause);
    let at = std::panic::Location::caller();
    match outage {
        Outage::Unreachable => tracing::error!(
            %cause,
            %at,
            "the database cannot be reached: requests that need it answer 503 until it is back"
        ),
        Outage::DiskFull => tracing::error!(
            %cause,
            %at,
            "the database's disk is full: writes answer 503 until space is freed; reads still work"
        ),
    }
}

/// One log line per kind of outage in this time, however many requests meet it.
const LOG_EVERY: Duration = Duration::from_secs(60);

fn first_in_a_while(outage: Outage) -> bool {
    static LAST: Mutex<[Option<Instant>; 2]> = Mutex::new([None, None]);
    let index = match outage {
        Outage::Unreachable => 0,
        Outage::DiskFull => 1,
    };
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = Instant::now();
    let due = last[index].is_none_or(|logged| now.duration_since(logged) >= LOG_EVERY);
    if due {
        last[index] = Some(now);
    }
    due
}

tokio::task_local! {
    static MET: Cell<Option<Outage>>;
}

/// Runs a request's handling, and says whether it met an outage on the way: a layer then answers
/// 503 for a failure that was answered 500 with no `AppError` (a session that could not be saved,
/// a layer's own read).
pub async fn noting<F: Future>(handling: F) -> (F::Output, bool) {
    MET.scope(Cell::new(None), async move {
        let output = handling.await;
        (output, MET.with(Cell::get).is_some())
    })
    .await
}

/// Whether this request has found the database out of reach already: what reads it next (the
/// session, loaded again by a later layer) fails at once rather than waiting for the pool again.
pub fn unreachable_already() -> bool {
    MET.try_with(Cell::get).ok().flatten() == Some(Outage::Unreachable)
}

fn note(outage: Outage) {
    let _ = MET.try_with(|met| {
        if met.get() != Some(Outage::Unreachable) {
            met.set(Some(outage));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_losses_and_a_full_disk_are_outages_and_other_errors_are_not() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(of(&refused), Some(Outage::Unreachable));
        assert_eq!(of(&sqlx::Error::PoolTimedOut), Some(Outage::Unreachable));
        for code in ["08006", "08001", "57P01", "57P03"] {
            assert_eq!(of_code(code), Some(Outage::Unreachable), "{code}");
        }
        assert_eq!(of_code("53100"), Some(Outage::DiskFull));
        assert_eq!(of_code("13"), Some(Outage::DiskFull));
        // A unique violation, a syntax error, SQLite's "database is corrupt": faults, not outages.
        for code in ["23505", "42601", "11", "2067", "08"] {
            assert_eq!(of_code(code), None, "{code}");
        }
        assert_eq!(of(&sqlx::Error::RowNotFound), None);
        assert_eq!(of(&sqlx::Error::ColumnNotFound("x".into())), None);
    }

    #[test]
    fn an_outage_is_unavailable_with_503() {
        let error: AppError = sqlx::Error::PoolTimedOut.into();
        assert_eq!(error, AppError::Unavailable);
        assert_eq!(error.status(), 503);
        assert!(error.to_string().contains("try again"));
    }

    #[tokio::test]
    async fn a_request_that_met_an_outage_says_so_and_others_do_not() {
        let ((), met) = noting(async {}).await;
        assert!(!met);
        let ((error, unreachable), met) = noting(async {
            let error = AppError::from(sqlx::Error::PoolTimedOut);
            (error, unreachable_already())
        })
        .await;
        assert!(met && unreachable);
        assert_eq!(error, AppError::Unavailable);
        assert!(
            !unreachable_already(),
            "outside the request, nothing was met"
        );
    }
}
