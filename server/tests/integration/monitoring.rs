//! What an operator watches: the health endpoint a load balancer probes, and the Prometheus
//! metrics on their own address.

use reqwest::{StatusCode, header::SET_COOKIE};

use crate::common::{PASSWORD, TestPortal};

#[tokio::test]
async fn healthz_answers_while_the_database_does_and_leaves_no_session() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let response = portal.get(&browser, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "no session for a probe"
    );
    assert_eq!(response.text().await.unwrap(), "ok");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&portal.state.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    // The database gone: the balancer is told to send people elsewhere.
    portal.state.pool.close().await;
    let response = portal.get(&browser, "/healthz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "database unreachable");
}

/// The value of the sample `name{labels}` in Prometheus' text format, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(portal: &TestPortal) -> String {
    let address = portal.metrics_addr.expect("metrics are on");
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_sign_ins_failures_mail_requests_and_throttling() {
    let portal = TestPortal::builder()
        .metrics()
        .sign_in_limit(8)
        .start()
        .await;
    // Other tests share the process and its recorder: every figure is read as a difference.
    let before = scrape(&portal).await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.smtp.wait_for("alice@example.com", 1).await;
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    for _ in 0..12 {
        portal
            .sign_in(&portal.browser(), "alice", "not the password")
            .await;
    }
    let after = scrape(&portal).await;
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(
        grew("portal_sign_ins_total{method=\"password\"}") >= 1.0,
        "{after}"
    );
    assert!(
        grew("portal_security_events_total{kind=\"password_failed\"}") >= 1.0,
        "{after}"
    );
    assert!(
        grew("portal_mails_total{result=\"sent\"}") >= 1.0,
        "{after}"
    );
    assert!(
        grew("portal_throttled_total{kind=\"server_function\"}") >= 1.0,
        "{after}"
    );
    assert!(
        grew("portal_request_duration_seconds_count{kind=\"server_function\",status=\"2xx\"}")
            >= 2.0,
        "{after}"
    );
    // Never a secret or a name in a label.
    assert!(!after.contains("alice"));
    assert!(!after.contains("not the password"));
}

/// Support runs `server admin …` on the server, with the service's environment, while the
/// service runs and listens on its metrics address: the command must not listen there too.
#[tokio::test]
async fn the_admin_command_runs_beside_a_portal_that_serves_metrics() {
    let portal = TestPortal::builder().metrics().start().await;
    let address = portal.metrics_addr.expect("metrics are on").to_string();
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let output = portal.admin_with_env(&["show", "alice"], &[("PORTAL_METRICS_ADDR", &address)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("alice"));
}

#[test]
fn a_metrics_address_that_cannot_be_listened_on_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PORTAL_DATA_DIR", data.path())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("PORTAL_METRICS_ADDR", &address)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORTAL_METRICS_ADDR"), "{stderr}");
}

/// A service manager or a container stop sends SIGTERM: the server stops as on Ctrl-C, through
/// its graceful shutdown, and exits with success instead of being killed by the signal.
#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_gracefully() {
    use std::io::BufRead as _;
    let data = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PORTAL_DATA_DIR", data.path())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("Portal is listening") {
        line.clear();
        let read = log.read_line(&mut line).unwrap();
        assert_ne!(read, 0, "the server stopped before it listened");
    }
    let pid = libc::pid_t::try_from(server.id()).unwrap();
    // SAFETY: kill only sends a signal, to the child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = server.wait().unwrap();
    assert!(exit.success(), "{exit}");
    drop(log);
}
