//! SIGTERM and SIGINT: the server stops accepting, answers what it has, and exits 0.

use std::time::Duration;

use app::account::login::Login;
use leptos::server_fn::ServerFn as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{PASSWORD, TestPortal};

/// A sign-in request whose body is held back: in flight for as long as the test wants.
struct HeldSignIn {
    stream: tokio::net::TcpStream,
    body: String,
}

/// Sends the head of a sign-in and four bytes of its body. It returns once the server is reading
/// the body (its `100 Continue` has come), so a signal sent next finds the request in the
/// server's hands however busy the machine is.
async fn held_sign_in(address: &str, username: &str) -> HeldSignIn {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("username", username), ("password", PASSWORD), ("next", "")])
        .finish();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        Login::PATH,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        stream.read_exact(&mut byte).await.unwrap();
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue"),
        "the server reads the body: {:?}",
        String::from_utf8_lossy(&interim)
    );
    stream.write_all(&body.as_bytes()[..4]).await.unwrap();
    HeldSignIn { stream, body }
}

impl HeldSignIn {
    /// Sends the rest of the body and reads the answer to the end (a stopping server closes the
    /// connection after it).
    async fn finish(mut self) -> String {
        self.stream
            .write_all(&self.body.as_bytes()[4..])
            .await
            .unwrap();
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).await.unwrap();
        answer
    }
}

/// Requests in flight when the signal comes (three sign-ins that then hash their passwords, and
/// one for an unknown name) are all answered; a connection made after it is refused.
async fn stop_finishes_what_it_has(signal: i32) {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let mut server = portal.serve_from_process(&[]).await;
    let address = format!("127.0.0.1:{}", server.port);
    // One account each: parallel sign-ins to one account may be throttled, which is not what
    // this test is about.
    let people = ["alice", "bob", "carol"];
    for person in people {
        portal.sign_up(&portal.browser(), person, PASSWORD).await;
    }
    let mut held = Vec::new();
    for person in people {
        held.push(held_sign_in(&address, person).await);
    }
    let unknown = held_sign_in(&address, "nobody").await;

    server.signal(signal);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "a new connection after the signal is refused"
    );
    let (answers, unknown) = tokio::join!(
        futures::future::join_all(held.into_iter().map(HeldSignIn::finish)),
        unknown.finish()
    );
    for answer in answers {
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "a sign-in in flight is answered: {answer:?}"
        );
    }
    assert!(
        unknown.starts_with("HTTP/1.1 401"),
        "the request in flight is answered: {unknown:?}"
    );
    let status = server
        .exit_within(Duration::from_secs(10))
        .await
        .expect("the server exits once its requests are answered");
    assert!(status.success(), "{status}; its log:\n{}", server.log());
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
    let _held = held_sign_in(&format!("127.0.0.1:{}", server.port), "nobody").await;
    let stopping = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    let status = server
        .exit_within(Duration::from_secs(8))
        .await
        .unwrap_or_else(|| {
            panic!(
                "the server exits once its bound has passed; its log:\n{}",
                server.log()
            )
        });
    assert!(status.success(), "{status}; its log:\n{}", server.log());
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "it waited {took:?}; its log:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("cut off"),
        "the log says requests were cut off:\n{}",
        server.log()
    );
    assert!(
        !portal.data_dir().join("portal.db-wal").exists(),
        "the database was closed: its write-ahead log is folded into the file; its log:\n{}",
        server.log()
    );
}
