//! Portal's benchmark: the release server on loopback with a temporary data folder, loaded by its
//! own HTTP client, each figure beside the floor it is measured against. Every loop is bounded in
//! count, and the run stops by itself.

mod measure;
mod report;

use std::{path::PathBuf, time::Duration};

pub use measure::{Figures, PostgresFigures};

/// How much work each measurement does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub hashes_per_core: usize,
    pub sign_ins: usize,
    pub codes: usize,
    pub static_requests: usize,
    /// Requests of each kind at the OpenID Connect token endpoint (codes exchanged, refresh
    /// tokens rotated), and UserInfo requests.
    pub token_requests: usize,
    pub userinfo_requests: usize,
    /// Forward-auth questions (`/auth/verify`) for a signed-in browser.
    pub verify_requests: usize,
    pub flood: usize,
    pub paint_loads: usize,
}

impl Plan {
    pub fn full() -> Self {
        Self {
            hashes_per_core: 200,
            sign_ins: 800,
            codes: 1000,
            static_requests: 3000,
            token_requests: 1000,
            userinfo_requests: 3000,
            verify_requests: 3000,
            flood: 500,
            paint_loads: 10,
        }
    }

    /// A few of each: for the smoke test that keeps the benchmark from rotting.
    pub fn quick() -> Self {
        Self {
            hashes_per_core: 2,
            sign_ins: 4,
            codes: 4,
            static_requests: 20,
            token_requests: 8,
            userinfo_requests: 20,
            verify_requests: 20,
            flood: 10,
            paint_loads: 1,
        }
    }
}

/// Where the build to measure is.
#[derive(Debug, Clone)]
pub struct Site {
    pub server: PathBuf,
    pub site_root: PathBuf,
    pub end2end: PathBuf,
}

impl Site {
    /// The release build, or the server that `PORTAL_SERVER_BIN` names (`./dev test` names the
    /// debug server it built for the tests, with the site's `hash.txt` beside it).
    pub fn from_workspace(root: &std::path::Path) -> Self {
        let server = std::env::var_os("PORTAL_SERVER_BIN")
            .map_or_else(|| root.join("target/release/server"), PathBuf::from);
        Self {
            server,
            site_root: root.join("target/site"),
            end2end: root.join("end2end"),
        }
    }
}

/// The whole benchmark must finish within this, or it stops with an error.
pub const TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Measures the release build on SQLite, and also on PostgreSQL when `postgres` names a server
/// (`postgres://user@host:port`, where the benchmark may create a database).
pub async fn run(site: &Site, plan: &Plan, postgres: Option<&str>) -> anyhow::Result<Figures> {
    tokio::time::timeout(TIME_LIMIT, measure::all(site, plan, postgres))
        .await
        .map_err(|_| anyhow::anyhow!("the benchmark did not finish within {TIME_LIMIT:?}"))?
}

pub use report::{markdown, table};
