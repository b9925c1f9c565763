//! `server admin backup --to FILE`: a copy of the SQLite database, taken while the portal serves.
//!
//! `VACUUM INTO` writes the copy from one read transaction. In WAL mode the portal's writers go on
//! meanwhile, and the copy holds exactly the transactions committed when that read began: no
//! sign-up half there. It is plain SQL on sqlx's own SQLite connection (SQLite's online backup API
//! is not reachable through sqlx without raw FFI), and its output is one self-contained file in
//! rollback-journal mode, free pages dropped.
//!
//! The copy is written beside FILE under a temporary name (mode 0600: it holds password hashes and
//! live session ids), checked with `PRAGMA integrity_check`, synced, and only then given FILE's
//! name, so FILE is either whole or absent.

use std::{
    fs, io,
    path::{Path, PathBuf},
    str::FromStr as _,
};

use anyhow::{Context as _, bail};
use app::store::Backend;
use sqlx::{
    Connection as _,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

use crate::Config;

/// Copies the database PORTAL_DATABASE_URL names to `to`; an existing `to` only with `force`.
pub async fn backup(config: &Config, to: &Path, force: bool) -> anyhow::Result<()> {
    let url = config.database_url();
    match Backend::of_url(&url) {
        Some(Backend::Sqlite) => {}
        Some(Backend::Postgres) => bail!(
            "PORTAL_DATABASE_URL is PostgreSQL: back it up with pg_dump (README, \"Backups and restore\")"
        ),
        None => {
            bail!("PORTAL_DATABASE_URL: not a database Portal can use (sqlite://… or postgres://…)")
        }
    }
    let target = target_path(to)?;
    if !force && target.symlink_metadata().is_ok() {
        bail!(
            "{} exists; not overwritten (give a new name, or --force to replace it)",
            to.display()
        );
    }
    let partial = Partial::create(&target)?;

    let mut source = open(
        SqliteConnectOptions::from_str(&url)
            .context("PORTAL_DATABASE_URL: not a SQLite URL")?
            .create_if_missing(false),
    )
    .await
    .map_err(plainly)
    .context("PORTAL_DATABASE_URL: cannot open the database")?;
    sqlx::query("VACUUM INTO ?")
        .bind(partial.path_text()?)
        .execute(&mut source)
        .await
        .map_err(plainly)
        .with_context(|| format!("cannot write the copy to {}", partial.path.display()))?;
    source.close().await?;

    let accounts = check(&partial.path).await?;
    let size = partial.persist(&target, force)?;
    println!(
        "Wrote {}: {}, {accounts} account{}, integrity checked.",
        target.display(),
        readable_size(size),
        if accounts == 1 { "" } else { "s" }
    );
    let key = match &config.secret_key {
        Some(_) => "PORTAL_SECRET_KEY".to_owned(),
        None => format!(
            "the key file {}",
            config.data_dir.join(crate::KEY_FILE).display()
        ),
    };
    eprintln!(
        "Its second-factor secrets and signing keys are sealed with the server key ({key}): \
         the backup is useless without it. Keep a copy of the key, but not beside the backups."
    );
    Ok(())
}

/// SQLite's own words ("database or disk is full"), without sqlx's wrapping that says them twice.
fn plainly(error: sqlx::Error) -> anyhow::Error {
    match error {
        sqlx::Error::Database(error) => anyhow::anyhow!("{}", error.message()),
        error => error.into(),
    }
}

/// `to` with its folder made absolute: the folder must exist, and an absolute name is never read
/// as a `file:` URI by SQLite.
fn target_path(to: &Path) -> anyhow::Result<PathBuf> {
    let name = to
        .file_name()
        .with_context(|| format!("--to {}: not a file name", to.display()))?;
    let folder = match to.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let folder = folder
        .canonicalize()
        .with_context(|| format!("--to {}: no folder {}", to.display(), folder.display()))?;
    Ok(folder.join(name))
}

async fn open(options: SqliteConnectOptions) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnection::connect_with(&options).await
}

/// The number of accounts in the copy, once SQLite finds every page and index of it sound.
async fn check(copy: &Path) -> anyhow::Result<i64> {
    let mut copy_db = open(
        SqliteConnectOptions::new()
            .filename(copy)
            .read_only(true)
            .create_if_missing(false),
    )
    .await
    .map_err(plainly)
    .context("cannot open the copy to check it")?;
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy_db)
        .await
        .map_err(plainly)
        .context("cannot check the copy")?;
    if problems != ["ok"] {
        bail!(
            "the copy fails SQLite's integrity check, so it was not kept: {}",
            problems.join("; ")
        );
    }
    let accounts = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut copy_db)
        .await
        .map_err(plainly)
        .context("cannot count the accounts in the copy")?;
    copy_db.close().await?;
    Ok(accounts)
}

/// The copy while it is written, beside its final name; removed unless it was given that name.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    /// An empty file, readable by its owner only: `VACUUM INTO` writes into an empty file and
    /// keeps its mode.
    fn create(target: &Path) -> anyhow::Result<Self> {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".partial-{}", std::process::id()));
        let path = target.with_file_name(name);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { path, kept: false })
    }

    fn path_text(&self) -> anyhow::Result<&str> {
        self.path
            .to_str()
            .with_context(|| format!("{}: not a UTF-8 path", self.path.display()))
    }

    /// Syncs the copy and gives it `target`'s name, replacing a file there only with `force`;
    /// its size.
    fn persist(mut self, target: &Path, force: bool) -> anyhow::Result<u64> {
        let cannot = || format!("cannot write {}", target.display());
        fs::File::open(&self.path)
            .and_then(|file| file.sync_all())
            .with_context(cannot)?;
        if force {
            fs::rename(&self.path, target).with_context(cannot)?;
        } else {
            // A link fails on an existing name, where a rename would replace it: a file made
            // there since the check above is kept.
            match fs::hard_link(&self.path, target) {
                Ok(()) => fs::remove_file(&self.path).with_context(cannot)?,
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => bail!(
                    "{} exists; not overwritten (give a new name, or --force to replace it)",
                    target.display()
                ),
                // A file system without hard links.
                Err(_) if target.symlink_metadata().is_err() => {
                    fs::rename(&self.path, target).with_context(cannot)?
                }
                Err(error) => return Err(error).with_context(cannot),
            }
        }
        self.kept = true;
        if let Some(folder) = target.parent() {
            // The new name itself survives a power cut only once its folder is synced.
            fs::File::open(folder)
                .and_then(|folder| folder.sync_all())
                .with_context(cannot)?;
        }
        Ok(fs::metadata(target).with_context(cannot)?.len())
    }
}

impl Drop for Partial {
    /// A copy that failed goes, with the journal SQLite left beside it (say, on a full disk).
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
            let mut journal = self.path.clone().into_os_string();
            journal.push("-journal");
            let _ = fs::remove_file(journal);
        }
    }
}

/// 1536 → "1.5 KiB".
fn readable_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_the_unit_that_fits() {
        assert_eq!(readable_size(512), "512 bytes");
        assert_eq!(readable_size(1536), "1.5 KiB");
        assert_eq!(readable_size(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn a_file_in_a_missing_folder_is_named_in_the_error() {
        let error = target_path(Path::new("/no/such/folder/portal.db")).unwrap_err();
        assert!(
            format!("{error:#}").contains("no folder /no/such/folder"),
            "{error:#}"
        );
    }
}
