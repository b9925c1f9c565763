//! The server holding up under floods, races and malformed input, in bounded memory.

use crate::common::{PASSWORD, TestPortal};
use reqwest::{StatusCode, header};

use super::failed_sign_in_form;

/// A small deterministic generator, so a failing body can be found again.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test]
async fn thousands_of_malformed_requests_get_no_5xx_and_the_server_keeps_serving() {
    let portal = TestPortal::builder().sign_in_limit(100_000).start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let mut targets: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    targets.extend(
        [
            "/",
            "/login",
            "/portal",
            "/settings/security",
            "/recover/confirm",
            "/settings/security/recovery-code.txt",
        ]
        .map(String::from),
    );
    let mut noise = Noise(0x5eed_cafe_f00d_d00d);
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/cbor",
        "",
    ];
    let mut sent = 0;
    for target in &targets {
        for round in 0..80 {
            let body: Vec<u8> = match round % 6 {
                0 => {
                    let length = (noise.next() % 300) as usize;
                    noise.bytes(length)
                }
                1 => format!(
                    "code={}&recovery_code=%ZZ&token=%00&id=\u{feff}",
                    "9".repeat((noise.next() % 50) as usize)
                )
                .into_bytes(),
                2 => b"username=%F0%28%8C%28&password=%C3%28&email=\xff\xfe&next=%".to_vec(),
                3 => format!("{{\"code\": {}, \"saved\": [1,2,{{}}]}}", noise.next()).into_bytes(),
                4 => format!("password={}&username=a&next=/", "x".repeat(60_000)).into_bytes(),
                _ => format!(
                    "saved=yes&saved=no&code=1&code=2&__page=//evil.example&id={}",
                    noise.next()
                )
                .into_bytes(),
            };
            let content_type = content_types[(noise.next() % content_types.len() as u64) as usize];
            let mut request = browser
                .post(portal.url(target))
                .header("sec-fetch-site", "same-origin")
                .body(body);
            if !content_type.is_empty() {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            if round % 2 == 0 {
                request = request.header(header::ACCEPT, "text/html");
            }
            let response = request.send().await.unwrap();
            assert!(
                !response.status().is_server_error(),
                "{target} round {round} ({content_type}): {}",
                response.status()
            );
            sent += 1;
        }
    }
    println!(
        "sent {sent} malformed requests to {} targets",
        targets.len()
    );
    assert!(sent >= 2000);
    // Still serving: a fresh sign-in works (the noise may have signed this browser out).
    assert_eq!(portal.get_status(&browser, "/login").await, StatusCode::OK);
    let fresh = portal.browser();
    assert_eq!(
        portal.sign_in(&fresh, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(portal.get_status(&fresh, "/portal").await, StatusCode::OK);
}

/// The peak resident memory of a process, from /proc.
fn peak_resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn five_hundred_sign_ins_at_once_are_all_answered_in_bounded_memory() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("PORTAL_DATA_DIR", data.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTAL_SIGN_IN_LIMIT", "100000")
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{base}/login")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the server started");
    client
        .post(format!("{base}/api/signup"))
        .form(&[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    let attempts = (0..500).map(|i| {
        let client = client.clone();
        let url = format!("{base}/api/login");
        async move {
            let password = if i % 10 == 0 {
                PASSWORD.to_owned()
            } else {
                format!("wrong {i}")
            };
            let username = if i % 2 == 0 {
                "alice".to_owned()
            } else {
                format!("user{i}")
            };
            client
                .post(url)
                .form(&[
                    ("username", username.as_str()),
                    ("password", password.as_str()),
                    ("next", ""),
                ])
                .send()
                .await
                .map(|response| response.status())
        }
    });
    let started = std::time::Instant::now();
    let statuses = futures::future::join_all(attempts).await;
    let elapsed = started.elapsed();
    let peak_kib = peak_resident_kib(server.id());
    let answered = statuses.iter().filter(|status| status.is_ok()).count();
    let mut by_status = std::collections::BTreeMap::new();
    for status in statuses.iter().flatten() {
        *by_status.entry(status.as_u16()).or_insert(0) += 1;
    }
    println!(
        "500 concurrent sign-ins: {answered} answered in {elapsed:.1?}, statuses {by_status:?}, peak RSS {} MiB",
        peak_kib / 1024
    );
    let still_serving = client
        .get(format!("{base}/login"))
        .send()
        .await
        .map(|r| r.status());
    server.kill().unwrap();
    server.wait().unwrap();

    assert_eq!(answered, 500);
    assert!(
        by_status
            .keys()
            .all(|status| [200, 401, 429].contains(status)),
        "{by_status:?}"
    );
    assert_eq!(still_serving.unwrap(), StatusCode::OK);
    // Argon2 runs at most one hash per core, each 19 MiB, so memory stays bounded while the rest queue.
    assert!(peak_kib < 200 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

#[tokio::test]
async fn sign_ups_at_once_all_succeed_and_a_username_is_taken_once() {
    let portal = TestPortal::builder().sign_in_limit(100_000).start().await;
    let distinct = (0..30).map(|i| format!("user{i}"));
    let same = (0..10).map(|_| "dup".to_owned());
    let answers = futures::future::join_all(distinct.chain(same).map(|username| {
        let portal = &portal;
        async move {
            let status = portal
                .sign_up(&portal.browser(), &username, PASSWORD)
                .await
                .status();
            (username, status)
        }
    }))
    .await;
    for (username, status) in &answers {
        if username != "dup" {
            assert_eq!(*status, StatusCode::OK, "{username}");
        }
    }
    let dup: Vec<StatusCode> = answers
        .iter()
        .filter(|(username, _)| username == "dup")
        .map(|(_, status)| *status)
        .collect();
    assert_eq!(
        dup.iter()
            .filter(|status| **status == StatusCode::OK)
            .count(),
        1,
        "{dup:?}"
    );
    assert!(
        dup.iter()
            .all(|status| *status == StatusCode::OK || *status == StatusCode::UNPROCESSABLE_ENTITY),
        "{dup:?}"
    );
}

fn sign_in_form_with_junk() -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("username", "keep-me"),
        ("password", "not the password"),
        ("next", ""),
        ("__page", "/login"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .to_vec();
    fields.extend((0..200).map(|i| (format!("f{i}"), "x".repeat(250))));
    fields.extend((0..40).map(|_| ("email".to_owned(), "y".repeat(250))));
    fields
}

async fn largest_session_bytes(portal: &TestPortal) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(MAX(LENGTH(data)), 0) FROM sessions")
        .fetch_one(&portal.database().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failed_form_keeps_only_the_pages_fields_in_a_small_session() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let back = failed_sign_in_form(&portal, &browser, &sign_in_form_with_junk()).await;
    let bytes = largest_session_bytes(&portal).await;
    assert!(bytes > 0 && bytes < 1024, "a session of {bytes} bytes");
    let html = browser
        .get(portal.url(&back))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"keep-me\""), "{html}");
}
