//! Slow, greedy and odd clients: a request head must arrive within the header timeout, one
//! address holds a bounded number of connections, a slowloris does not keep others from signing
//! in, and a malformed request is a 4xx that writes no error line.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use server::serving::HEADER_TIMEOUT;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpSocket, TcpStream},
};

use crate::common::{PASSWORD, ServerProcess, TestPortal};

/// A connection to the server from `source`, one of loopback's many addresses (127.0.0.0/8), so a
/// test can be several clients.
async fn connect_from(source: &str, server: &ServerProcess) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket
        .connect(format!("127.0.0.1:{}", server.port).parse().unwrap())
        .await
}

/// Whether the server has closed the connection: a read that ends (after any answer it sent,
/// such as a 408) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let started = Instant::now();
    while started.elapsed() < within {
        match tokio::time::timeout(within - started.elapsed(), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// A connection whose request head never ends, and one kept alive after its answer and then
/// silent, are both closed once the header timeout has passed.
#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let server = portal.serve_from_process(&[]).await;
    let mut unfinished = connect_from("127.0.0.1", &server).await.unwrap();
    unfinished
        .write_all(b"GET /login HTTP/1.1\r\nHost: portal\r\n")
        .await
        .unwrap();
    let mut idle = connect_from("127.0.0.1", &server).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: portal\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (unfinished_closed, idle_closed) = tokio::join!(
        closed_within(&mut unfinished, HEADER_TIMEOUT + Duration::from_secs(5)),
        closed_within(&mut idle, HEADER_TIMEOUT + Duration::from_secs(5)),
    );
    assert!(unfinished_closed, "a head that never ends is cut off");
    assert!(
        idle_closed,
        "a kept-alive connection that stays silent is closed"
    );
    assert!(started.elapsed() >= HEADER_TIMEOUT - Duration::from_secs(1));
}

#[tokio::test]
async fn one_address_holds_at_most_its_cap_of_connections_and_others_are_not_affected() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let server = portal
        .serve_from_process(&[("--connections-per-address", "20")])
        .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(connect_from("127.0.0.2", &server).await.unwrap());
    }
    // Past the cap the connection is taken and closed at once.
    let mut over = connect_from("127.0.0.2", &server).await.unwrap();
    assert!(closed_within(&mut over, Duration::from_secs(3)).await);
    // Another address is served as usual.
    let browser = portal.browser();
    assert_eq!(portal.get_status(&browser, "/login").await, StatusCode::OK);
    // A connection given back frees its place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", &server).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    again.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

/// Sign-ins one after another for `length`; how many a second.
async fn sign_ins_per_second(portal: &TestPortal, length: Duration) -> f64 {
    let started = Instant::now();
    let mut done = 0u32;
    while started.elapsed() < length {
        let browser = portal.browser();
        let answer = portal.sign_in(&browser, "alice", PASSWORD).await;
        assert_eq!(answer.status(), StatusCode::OK, "a sign-in during the test");
        done += 1;
    }
    f64::from(done) / started.elapsed().as_secs_f64()
}

/// 500 connections from one address that send their request head a byte a second (a slowloris),
/// against a person signing in from another address: the attacker holds at most its cap of
/// connections, each for at most the header timeout, and the sign-ins go on.
#[tokio::test]
async fn a_slowloris_of_500_connections_does_not_stop_others_from_signing_in() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    // No per-address sign-in limit in the way of the measure.
    let server = portal
        .serve_from_process(&[("--sign-in-limit", "100000")])
        .await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let before = sign_ins_per_second(&portal, Duration::from_secs(2)).await;

    let mut attackers = Vec::new();
    for _ in 0..500 {
        if let Ok(stream) = connect_from("127.0.0.3", &server).await {
            attackers.push(stream);
        }
    }
    let attack = tokio::spawn(async move {
        let head = b"GET /login HTTP/1.1\r\nHost: portal\r\nX-Slow: ";
        let started = Instant::now();
        let mut open = attackers.len();
        for step in 0.. {
            if started.elapsed() > HEADER_TIMEOUT + Duration::from_secs(3) {
                break;
            }
            open = 0;
            for stream in &mut attackers {
                let byte = head.get(step).copied().unwrap_or(b'a');
                if stream.write_all(&[byte]).await.is_ok() {
                    open += 1;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        open
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = sign_ins_per_second(&portal, Duration::from_secs(3)).await;
    let still_open = attack.await.unwrap();
    println!(
        "slowloris: sign-ins/s without it {before:.1}, during it {during:.1} (ratio {:.2}); \
         attacker connections still writable after the header timeout: {still_open}",
        during / before
    );
    assert!(during > 0.0);
    assert_eq!(
        still_open, 0,
        "every slow connection is closed once the header timeout has passed"
    );
}

/// Requests no browser sends: each is a 4xx, and none writes an error line (anyone could fill the
/// log with them).
#[tokio::test]
async fn every_malformed_request_gets_a_4xx_and_no_error_line() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let server = portal.serve_from_process(&[]).await;
    let long_name = "a".repeat(300);
    let long_header = "b".repeat(100 * 1024);
    let requests = [
        format!("GET /pkg/{long_name} HTTP/1.1\r\nHost: portal\r\n\r\n"),
        format!("GET /pkg/{long_name}/{long_name} HTTP/1.1\r\nHost: portal\r\n\r\n"),
        "GET /pkg/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        "GET /pkg/%00 HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        format!("GET /{long_name} HTTP/1.1\r\nHost: portal\r\n\r\n"),
        "GET /%zz HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        "GET /api/login HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        format!("GET /login HTTP/1.1\r\nHost: portal\r\nX-Long: {long_header}\r\n\r\n"),
        "BREW /login HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        "GET /login HTTP/1.1\r\nHost: portal\r\nContent-Length: x\r\n\r\n".to_owned(),
        "POST /api/login HTTP/1.1\r\nHost: portal\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\n%%%%%"
            .to_owned(),
        "GET /oauth2/authorize?client_id=%00 HTTP/1.1\r\nHost: portal\r\n\r\n".to_owned(),
        "GET /auth/verify HTTP/1.1\r\nHost: portal\r\nX-Forwarded-Host: \u{1}\r\n\r\n".to_owned(),
        "GET / HTTP/9.9\r\nHost: portal\r\n\r\n".to_owned(),
        "nonsense\r\n\r\n".to_owned(),
    ];
    for request in &requests {
        let mut stream = connect_from("127.0.0.1", &server).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..read]);
                if answer.windows(4).any(|end| end == b"\r\n\r\n") {
                    break;
                }
            }
        })
        .await;
        let head = String::from_utf8_lossy(&answer);
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let shown: String = request.chars().take(60).collect();
        assert!(
            (400..500).contains(&status),
            "{shown:?} was answered {:?}",
            head.lines().next()
        );
    }
    // A bad parameter on a page is left out, and the page shown.
    let browser = portal.browser();
    assert_eq!(
        portal.get_status(&browser, "/login?next=%ff%fe").await,
        StatusCode::OK
    );
    // The static files are there: only the names no build writes were refused.
    assert_eq!(
        portal.get_status(&browser, "/pkg/portal.css").await,
        StatusCode::OK
    );
    let log = server.log();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
    assert!(errors.is_empty(), "error lines: {errors:#?}");
}
