//! `server admin backup --to FILE` beside a serving portal, and the restore the README describes:
//! stop, put the copy in place of the database file, delete its `-wal` and `-shm`, start.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use app::{
    account::{change_password::ChangePassword, login::LoginStage},
    error::AppError,
};
use reqwest::StatusCode;
use sqlx::{
    Connection as _,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

use crate::common::{PASSWORD, TestPortal, login};

const NEW_PASSWORD: &str = "plum tractor seventy";

/// Runs `server admin backup --to FILE` and the extra words, without holding up the test's
/// other tasks while it runs.
fn backup(portal: &TestPortal, to: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["backup", "--to", to.to_str().unwrap()];
    args.extend_from_slice(extra);
    tokio::task::block_in_place(|| portal.admin(&args))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The backup opened on its own, read-only, as a restore would find it.
async fn open_copy(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path).read_only(true))
        .await
        .expect("the backup opens as a SQLite database")
}

/// `count` sign-ups one after another, each from a new browser; each username whose sign-up
/// succeeds is pushed to `answered` as its answer arrives. Their statuses, in order.
async fn sign_ups(
    portal: Arc<TestPortal>,
    task: usize,
    count: usize,
    answered: Arc<Mutex<Vec<String>>>,
) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for index in 0..count {
        let username = format!("load{task}x{index}");
        let status = portal
            .sign_up(&portal.browser(), &username, PASSWORD)
            .await
            .status();
        if status == StatusCode::OK {
            answered.lock().unwrap().push(username);
        }
        statuses.push(status);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_sign_ups_is_sound_and_holds_whole_accounts_that_were_answered() {
    // Every sign-up comes from 127.0.0.1: the per-address limit would turn most away.
    let mut portal = TestPortal::builder()
        .sqlite()
        .sign_in_limit(10_000)
        .start()
        .await;
    let _server = portal.serve_from_process(&[]).await;
    let portal = Arc::new(portal);
    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("portal-backup.db");

    let answered = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..4)
        .map(|task| tokio::spawn(sign_ups(portal.clone(), task, 12, answered.clone())))
        .collect();
    let started = Instant::now();
    while answered.lock().unwrap().len() < 8 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "eight sign-ups are answered within a minute"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answered_before: BTreeSet<String> = answered.lock().unwrap().iter().cloned().collect();
    let output = backup(&portal, &copy, &[]);
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.extend(task.await.unwrap());
    }
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "every sign-up is answered while the backup runs: {statuses:?}"
    );
    let answered: BTreeSet<String> = answered.lock().unwrap().iter().cloned().collect();
    assert_eq!(answered.len(), 48);

    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut copy_db = open_copy(&copy).await;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy_db)
        .await
        .unwrap();
    assert_eq!(integrity, ["ok"]);
    let orphans = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut copy_db)
        .await
        .unwrap();
    assert!(orphans.is_empty(), "no row refers to a missing account");
    let accounts: Vec<(String, String, String)> =
        sqlx::query_as("SELECT username, email, password_hash FROM users")
            .fetch_all(&mut copy_db)
            .await
            .unwrap();
    for (username, email, password_hash) in &accounts {
        assert_eq!(email, &format!("{username}@example.com"));
        let parts: Vec<&str> = password_hash.split('$').collect();
        assert!(
            parts.len() == 6 && parts[1] == "argon2id" && parts[5].len() >= 43,
            "{username} has a whole Argon2id hash: {password_hash:?}"
        );
    }
    let in_copy: BTreeSet<String> = accounts.into_iter().map(|(name, ..)| name).collect();
    assert!(
        answered_before.is_subset(&in_copy),
        "every sign-up answered before the backup began is in it"
    );
    assert!(
        in_copy.is_subset(&answered),
        "the backup holds only sign-ups that were answered: {:?}",
        in_copy.difference(&answered).collect::<Vec<_>>()
    );
    assert!(
        in_copy.len() < answered.len(),
        "the sign-ups went on after the copy: {} of {}",
        in_copy.len(),
        answered.len()
    );

    let said = text(&output.stdout);
    assert!(
        said.contains(&format!(" {} accounts", in_copy.len())) && said.lines().count() == 1,
        "one line with the count of accounts copied: {said:?}"
    );
    let warned = text(&output.stderr);
    assert_eq!(
        warned.matches("server key").count(),
        1,
        "the key is named once: {warned:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the backup");
    }
}

/// The README's restore: with the server stopped, the copy replaces the database file, and the
/// write-ahead log and its index, which belong to the file replaced, are deleted.
fn restore(data_dir: &Path, copy: &Path) {
    let database = data_dir.join("portal.db");
    std::fs::copy(copy, &database).expect("the copy replaces the database file");
    for leftover in ["portal.db-wal", "portal.db-shm"] {
        match std::fs::remove_file(data_dir.join(leftover)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("{leftover}: {error}"),
        }
    }
}

/// How the server went down before the restore.
enum Stop {
    /// SIGTERM, as a service manager stops it.
    Term,
    /// `kill -9` (a crash): the write-ahead log of the file being replaced is left behind, full
    /// of what came after the backup.
    Kill,
}

/// Backs up, changes things (alice's password, her second factor, bob's account), stops the
/// server, restores, starts it, and finds the state of the backup.
async fn restore_brings_back_the_backup(stop: Stop) {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let mut server = portal.serve_from_process(&[]).await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.verify_email(&alice, "alice").await;
    let (_carol, carol_app) = portal.account_with_two_factor("carol").await;

    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("portal-backup.db");
    let output = backup(&portal, &copy, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: String::new(),
            },
        )
        .await
        .expect("alice changes her password after the backup");
    portal.enroll(&alice).await;
    let bob = portal.browser();
    assert_eq!(
        portal.sign_up(&bob, "bob", PASSWORD).await.status(),
        StatusCode::OK
    );

    match stop {
        Stop::Term => {
            server.signal(libc::SIGTERM);
            let stopped = server.exit_within(Duration::from_secs(10)).await;
            assert!(stopped.is_some_and(|status| status.success()));
        }
        Stop::Kill => {
            server.kill();
            let log = std::fs::metadata(portal.data_dir().join("portal.db-wal"));
            assert!(
                log.is_ok_and(|log| log.len() > 0),
                "the killed server left its write-ahead log"
            );
        }
    }
    restore(portal.data_dir(), &copy);
    server.start().await;

    let browser = portal.browser();
    let new_password = portal.call_fn(&browser, login("alice", NEW_PASSWORD)).await;
    assert!(
        matches!(new_password, Err(AppError::InvalidCredentials)),
        "the password set after the backup is gone: {new_password:?}"
    );
    let old_password = portal.call_fn(&browser, login("alice", PASSWORD)).await;
    assert_eq!(
        old_password.unwrap(),
        LoginStage::Password,
        "alice's password from the backup signs her in, with no second factor (enrolled after)"
    );
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);

    let bob_again = portal
        .call_fn(&portal.browser(), login("bob", PASSWORD))
        .await;
    assert!(matches!(bob_again, Err(AppError::InvalidCredentials)));
    let bobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'bob'")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(bobs, 0, "bob signed up after the backup: he is not in it");

    let carol = portal.browser();
    let stage = portal.call_fn(&carol, login("carol", PASSWORD)).await;
    assert_eq!(stage.unwrap(), LoginStage::SecondFactor);
    assert_ne!(
        portal.get_status(&carol, "/portal").await,
        StatusCode::OK,
        "the password alone does not sign carol in"
    );
    // One step ahead: the step her enrollment used may still be the current one, and a code is
    // accepted once.
    let code = portal
        .verify_code(&carol, &carol_app.code(&portal, 1))
        .await;
    assert_eq!(
        code.status(),
        StatusCode::OK,
        "the key unseals carol's secret from the backup"
    );
    assert_eq!(portal.get_status(&carol, "/portal").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_signs_in_with_the_passwords_and_second_factors_it_held() {
    restore_brings_back_the_backup(Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_after_a_crash_drops_the_write_ahead_log_of_the_replaced_file() {
    restore_brings_back_the_backup(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_keeps_an_existing_file_unless_forced_and_names_a_missing_folder() {
    let portal = TestPortal::builder().sqlite().start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let backups = tempfile::tempdir().unwrap();
    let existing = backups.path().join("portal-backup.db");
    std::fs::write(&existing, "yesterday's backup").unwrap();

    let refused = backup(&portal, &existing, &[]);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("exists") && said.contains("--force") && said.lines().count() == 1,
        "{said:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "yesterday's backup"
    );

    let missing = backup(&portal, &PathBuf::from("/no/such/folder/portal.db"), &[]);
    assert!(!missing.status.success());
    let said = text(&missing.stderr);
    assert!(
        said.contains("no folder /no/such/folder") && said.lines().count() == 1,
        "{said:?}"
    );

    let forced = backup(&portal, &existing, &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(text(&forced.stdout).contains(" 1 account,"));
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut open_copy(&existing).await)
        .await
        .unwrap();
    assert_eq!(users, 1, "--force replaced the file with the backup");
    let left: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["portal-backup.db"], "no partial copy is left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_the_backup_points_to_pg_dump() {
    let portal = TestPortal::builder().postgres().start().await;
    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("portal-backup.db");
    let refused = backup(&portal, &copy, &[]);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("pg_dump") && said.lines().count() == 1,
        "{said:?}"
    );
    assert!(!copy.exists());
}
