//! SIGTERM and SIGINT: the server stops accepting, answers what it has, and exits 0.

use std::time::Duration;

use app::account::login::Login;
use leptos::server_fn::ServerFn as _;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{PASSWORD, TestPortal, login};

/// A sign-in request whose body is held back: in flight for as long as the test wants.
async fn half_sent_sign_in(address: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = serde_urlencoded(&[("username", "nobody"), ("password", PASSWORD), ("next", "")]);
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {address}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..4]).await.unwrap();
    stream
}

fn serde_urlencoded(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

async fn stop_finishes_what_it_has(signal: i32) {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let mut server = portal.serve_from_process(&[]).await;
    let address = format!("127.0.0.1:{}", server.port);
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;

    let mut held = half_sent_sign_in(&address).await;
    let sign_ins: Vec<_> = (0..3)
        .map(|_| {
            let browser = portal.browser();
            let url = portal.url(Login::PATH);
            tokio::spawn(async move {
                browser
                    .post(url)
                    .header("Sec-Fetch-Site", "same-origin")
                    .form(&login("alice", PASSWORD))
                    .send()
                    .await
                    .map(|answer| answer.status())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.signal(signal);
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "a new connection after the signal is refused"
    );
    let body = serde_urlencoded(&[("username", "nobody"), ("password", PASSWORD), ("next", "")]);
    held.write_all(&body.as_bytes()[4..]).await.unwrap();
    let mut answer = String::new();
    held.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the request in flight is answered: {answer:?}"
    );
    for sign_in in sign_ins {
        assert_eq!(sign_in.await.unwrap().unwrap(), StatusCode::OK);
    }
    let status = server
        .exit_within(Duration::from_secs(10))
        .await
        .expect("the server exits once its requests are answered");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn sigterm_refuses_new_connections_answers_those_in_flight_and_exits_0() {
    stop_finishes_what_it_has(libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_does_the_same() {
    stop_finishes_what_it_has(libc::SIGINT).await;
}

/// A request that never ends (its body never comes) holds the stop for `PORTAL_SHUTDOWN_SECONDS`
/// at most; then the server closes it, stops its housekeeping, closes the database (SQLite folds
/// its write-ahead log into the file) and exits 0.
#[tokio::test]
async fn a_stop_waits_for_a_request_that_never_ends_no_longer_than_its_bound() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let mut server = portal
        .serve_from_process(&[("--shutdown-seconds", "1")])
        .await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let _held = half_sent_sign_in(&format!("127.0.0.1:{}", server.port)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    let status = server
        .exit_within(Duration::from_secs(8))
        .await
        .expect("the server exits once its bound has passed");
    assert!(status.success(), "{status}");
    let took = stopping.elapsed();
    assert!(took >= Duration::from_millis(900), "it waited {took:?}");
    assert!(
        server.log().contains("cut off"),
        "the log says requests were cut off:\n{}",
        server.log()
    );
    assert!(
        !portal.data_dir().join("portal.db-wal").exists(),
        "the database was closed: its write-ahead log is folded into the file"
    );
}
