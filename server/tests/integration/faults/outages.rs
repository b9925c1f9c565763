//! The database goes away: PostgreSQL stopped under load and started again, SQLite on a full
//! disk. Requests in the gap are told to try again (503 with `Retry-After`), never a 500, none
//! hangs, and Portal recovers by itself, with no restart.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use app::{account::login::Login, error::AppError, paths, settings::LoadSecurityOverview};
use leptos::server_fn::ServerFn as _;
use reqwest::{Client, StatusCode, header};

use crate::common::{PASSWORD, TestPortal, login, new_postgres_database, pg_cluster::PgCluster};

/// How long PostgreSQL stays stopped: longer than the pool's 3 s wait for a connection, so that a
/// request sent early in the gap is answered inside it.
const GAP: Duration = Duration::from_secs(6);

/// The longest any request may take, in the gap or out of it.
const LONGEST_ANSWER: Duration = Duration::from_secs(10);

const KINDS: [&str; 5] = [
    "sign-in",
    "signed-in page",
    "signed-out page",
    "forward-auth",
    "server function",
];

/// What one request of the load got.
#[derive(Debug)]
struct Answer {
    what: &'static str,
    started: Instant,
    took: Duration,
    /// None: no answer (the connection failed, or the client's timeout passed).
    status: Option<StatusCode>,
    retry_after: bool,
}

/// The requests a browser makes, in turn: a sign-in, a signed-in page, a signed-out page, a
/// server function, and a proxy's forward-auth question about the browser.
async fn one_request(base: &str, signed_in: &Client, turn: usize) -> Answer {
    let fresh = || {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(LONGEST_ANSWER + Duration::from_secs(5))
            .build()
            .unwrap()
    };
    let started = Instant::now();
    let (what, sent) = match turn % 5 {
        0 => (
            "sign-in",
            fresh()
                .post(format!("{base}{}", Login::PATH))
                .header("Sec-Fetch-Site", "same-origin")
                .form(&login("alice", PASSWORD))
                .send()
                .await,
        ),
        1 => (
            "signed-in page",
            signed_in
                .get(format!("{base}{}", paths::PORTAL))
                .send()
                .await,
        ),
        2 => (
            "signed-out page",
            fresh().get(format!("{base}{}", paths::LOGIN)).send().await,
        ),
        3 => (
            "forward-auth",
            signed_in
                .get(format!("{base}/auth/request"))
                .header("x-original-url", "https://wiki.example.test/page")
                .send()
                .await,
        ),
        _ => (
            "server function",
            signed_in
                .post(format!("{base}{}", LoadSecurityOverview::PATH))
                .header("Sec-Fetch-Site", "same-origin")
                .form(&LoadSecurityOverview {})
                .send()
                .await,
        ),
    };
    let took = started.elapsed();
    let (status, retry_after) = match sent {
        Ok(answer) => (
            Some(answer.status()),
            answer.headers().contains_key(header::RETRY_AFTER),
        ),
        Err(_) => (None, false),
    };
    Answer {
        what,
        started,
        took,
        status,
        retry_after,
    }
}

/// Until `stop`, browsers each sending one request after another.
fn load(
    base: &str,
    browsers: Vec<Client>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Answer>>> {
    browsers
        .into_iter()
        .enumerate()
        .map(|(index, browser)| {
            let base = base.to_owned();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                // Bounded: a few hundred requests each at most, whatever happens.
                for turn in index..index + 500 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    answers.push(one_request(&base, &browser, turn).await);
                }
                answers
            })
        })
        .collect()
}

async fn healthz(base: &str) -> Option<(StatusCode, bool)> {
    let answer = Client::new()
        .get(format!("{base}/healthz"))
        .timeout(LONGEST_ANSWER)
        .send()
        .await
        .ok()?;
    Some((
        answer.status(),
        answer.headers().contains_key(header::RETRY_AFTER),
    ))
}

/// Runs `pg_ctl` on a blocking thread, so the load goes on meanwhile.
async fn off_the_runtime(mut cluster: PgCluster, command: fn(&mut PgCluster)) -> PgCluster {
    tokio::task::spawn_blocking(move || {
        command(&mut cluster);
        cluster
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn postgres_stopped_under_load_gets_503_with_retry_after_and_portal_recovers_unrestarted() {
    let mut cluster = PgCluster::start();
    let database = new_postgres_database(&cluster.url()).await;
    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        rules.path(),
        "[[rule]]\nhost = \"*.example.test\"\npolicy = \"one_factor\"\n",
    )
    .unwrap();
    let mut portal = TestPortal::builder()
        .database(&database)
        .sign_in_limit(100_000)
        .arg("--access-rules", rules.path().to_str().unwrap())
        .arg("--trusted-proxies", "127.0.0.1")
        .start()
        .await;
    let mut server = portal.serve_from_process(&[]).await;
    let mut browsers = Vec::new();
    for index in 0..6 {
        let browser = portal.browser();
        let signed_up = portal
            .sign_up(&browser, &format!("user{index}"), PASSWORD)
            .await;
        assert_eq!(signed_up.status(), StatusCode::OK);
        browsers.push(browser);
    }
    let alice = portal.browser();
    assert_eq!(
        portal.sign_up(&alice, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );

    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&portal.base, browsers, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stopped = Instant::now();
    cluster = off_the_runtime(cluster, PgCluster::stop).await;
    // Requests at once well inside the gap: each is answered (503 at the latest when the pool's
    // wait for a connection ends) before PostgreSQL is back.
    let burst = tokio::spawn({
        let base = portal.base.clone();
        let alice = alice.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            futures::future::join_all(
                (0..2 * KINDS.len()).map(|turn| one_request(&base, &alice, turn)),
            )
            .await
        }
    });
    let health_in_gap = healthz(&portal.base).await;
    let burst = burst.await.unwrap();
    tokio::time::sleep_until((stopped + GAP).into()).await;
    // Kept to the end of the test: dropping it stops the cluster.
    let _cluster = off_the_runtime(cluster, PgCluster::start_again).await;
    let back = Instant::now();

    let mut first_sign_in = None;
    while back.elapsed() < Duration::from_secs(20) {
        let answer = portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
        if answer.status() == StatusCode::OK {
            first_sign_in = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health_after = healthz(&portal.base).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap());
    }

    let log = server.log();
    let in_gap: Vec<&Answer> = answers
        .iter()
        .filter(|answer| answer.started >= stopped && answer.started < back)
        .collect();
    let unavailable = answers
        .iter()
        .filter(|answer| answer.status == Some(StatusCode::SERVICE_UNAVAILABLE))
        .count();
    let slowest = answers.iter().max_by_key(|answer| answer.took).unwrap();
    println!(
        "{} requests, {} in the {:.1} s gap, {unavailable} answered 503; {} more at once in the \
         gap; slowest {:.2} s ({}, {:?}); first sign-in {:.2} s after PostgreSQL was back",
        answers.len(),
        in_gap.len(),
        (back - stopped).as_secs_f64(),
        burst.len(),
        slowest.took.as_secs_f64(),
        slowest.what,
        slowest.status,
        first_sign_in.map_or(f64::NAN, |took| took.as_secs_f64()),
    );

    for what in KINDS {
        let of_kind = || answers.iter().filter(|answer| answer.what == what);
        let refused = of_kind()
            .filter(|answer| answer.status == Some(StatusCode::SERVICE_UNAVAILABLE))
            .count();
        println!(
            "  {what}: {} requests, {refused} answered 503",
            of_kind().count()
        );
    }
    for answer in &answers {
        let status = answer
            .status
            .unwrap_or_else(|| panic!("every request is answered: {answer:?}"));
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "no 5xx but 503: {answer:?}\n{log}"
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(answer.retry_after, "a 503 says when to retry: {answer:?}");
        }
        assert!(
            answer.took <= LONGEST_ANSWER,
            "no request hangs: {answer:?}"
        );
    }
    for answer in &burst {
        let wanted = if answer.what == "signed-out page" {
            // Its page needs no database.
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(answer.status, Some(wanted), "in the gap: {answer:?}\n{log}");
        assert!(
            answer.status != Some(StatusCode::SERVICE_UNAVAILABLE) || answer.retry_after,
            "{answer:?}"
        );
        assert!(
            answer.took <= LONGEST_ANSWER,
            "no request hangs: {answer:?}"
        );
    }
    assert!(!in_gap.is_empty(), "the load ran through the gap");
    assert!(
        answers
            .iter()
            .any(|answer| answer.what == "forward-auth" && answer.status == Some(StatusCode::OK)),
        "the proxy's question is answered while the database is up"
    );
    assert!(
        unavailable > 0,
        "requests in the gap were told to try again"
    );
    assert_eq!(
        health_in_gap,
        Some((StatusCode::SERVICE_UNAVAILABLE, true)),
        "/healthz answers 503 with Retry-After in the gap"
    );
    assert!(
        first_sign_in.is_some(),
        "signing in works again without a restart\n{log}"
    );
    assert_eq!(health_after.map(|(status, _)| status), Some(StatusCode::OK));
    assert!(
        answers
            .iter()
            .any(|answer| answer.started > back && answer.status == Some(StatusCode::OK)),
        "the load is served again"
    );
    assert!(!log.contains("panicked"), "no panic:\n{log}");
    assert!(
        log.contains("the database cannot be reached"),
        "the outage is logged:\n{log}"
    );
    // The portal still runs: the same process answered before and after.
    assert!(
        server
            .exit_within(Duration::from_millis(10))
            .await
            .is_none()
    );
}

/// A tmpfs mounted for one test, unmounted when dropped (after a failure too).
struct Tmpfs {
    path: PathBuf,
    _folder: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(
            root,
            "this test mounts a small tmpfs to fill its disk, which needs root (the tests and CI \
             run as root); run it as root"
        );
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().to_owned();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        assert!(
            mounted.success(),
            "a tmpfs of {size} is mounted on {path:?}"
        );
        Self {
            path,
            _folder: folder,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a file the server still holds open does not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes `path` until the disk has no space left.
fn fill(path: &Path) {
    use std::io::Write as _;
    let mut filler = std::fs::File::create(path).unwrap();
    let chunk = vec![0_u8; 64 * 1024];
    // Bounded: the tmpfs is a few MiB.
    for _ in 0..10_000 {
        if filler.write_all(&chunk).is_err() {
            break;
        }
    }
    // A last partial page, whatever a whole chunk could not fill.
    for _ in 0..64 {
        if filler.write_all(&chunk[..1024]).is_err() {
            break;
        }
    }
    let _ = filler.sync_all();
}

#[tokio::test]
async fn sqlite_on_a_full_disk_refuses_writes_with_503_keeps_reading_and_writes_again_once_freed() {
    let disk = Tmpfs::mount("16m");
    let database = format!("sqlite://{}/portal.db", disk.path.display());
    let mut portal = TestPortal::builder().database(&database).start().await;
    let alice = portal.browser();
    assert_eq!(
        portal.sign_up(&alice, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let server = portal.serve_from_process(&[]).await;
    assert_eq!(
        portal.get_status(&alice, paths::PORTAL).await,
        StatusCode::OK
    );

    let filler = disk.path.join("filler");
    fill(&filler);

    let bob = portal.browser();
    let refused = portal.sign_up(&bob, "bob", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let error: AppError = refused.json().await.unwrap();
    assert_eq!(error, AppError::Unavailable);
    let again = portal.sign_up(&bob, "bob", PASSWORD).await;
    assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);

    assert_eq!(portal.get_status(&bob, paths::LOGIN).await, StatusCode::OK);
    let page = portal.get(&alice, paths::PORTAL).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "a signed-in page still reads"
    );
    assert!(page.text().await.unwrap().contains("alice"));
    assert_eq!(
        portal.get_status(&alice, paths::PORTAL).await,
        StatusCode::OK
    );

    let log = server.log();
    let lines = |words: &str| log.lines().filter(|line| line.contains(words)).count();
    assert_eq!(
        lines("the database's disk is full"),
        1,
        "one clear line says the disk is full\n{log}"
    );
    assert!(
        lines("disk is full") <= 2,
        "not a flood: at most a line for each refused write\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");

    std::fs::remove_file(&filler).unwrap();
    let signed_up = portal.sign_up(&bob, "bob", PASSWORD).await;
    let status = signed_up.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "writes work again: {}\n{}",
        signed_up.text().await.unwrap(),
        server.log()
    );
    assert_eq!(portal.get_status(&bob, paths::PORTAL).await, StatusCode::OK);
    drop(server);
}
