//! Sessions, re-authentication, response headers, limits, and the server holding up under
//! malformed input and floods.

mod common;

use common::{PASSWORD, TestPortal, at_once};
use reqwest::{StatusCode, header};

async fn sessions(portal: &TestPortal, browser: &reqwest::Client) -> Vec<serde_json::Value> {
    portal.overview(browser).await["sessions"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_security_page_lists_sessions_and_signs_one_out() {
    let portal = TestPortal::start().await;
    let laptop = portal.browser();
    portal.sign_up(&laptop, "alice", PASSWORD).await;
    let phone = portal.browser();
    portal.sign_in(&phone, "alice", PASSWORD).await;

    let listed = sessions(&portal, &laptop).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed
            .iter()
            .filter(|session| session["current"] == true)
            .count(),
        1
    );
    assert!(
        listed
            .iter()
            .all(|session| session["address"] == "127.0.0.1")
    );
    let other = listed
        .iter()
        .find(|session| session["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One account cannot sign out another's sessions.
    let mallory = portal.browser();
    portal.sign_up(&mallory, "mallory", PASSWORD).await;
    portal
        .call(&mallory, "revoke_session", &[("id", &other)])
        .await;
    assert_eq!(portal.get(&phone, "/portal").await.status(), StatusCode::OK);

    assert_eq!(
        portal
            .call(&laptop, "revoke_session", &[("id", &other)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        portal.get(&phone, "/portal").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        portal.get(&laptop, "/portal").await.status(),
        StatusCode::OK
    );
    assert_eq!(sessions(&portal, &laptop).await.len(), 1);
}

#[tokio::test]
async fn signing_out_all_other_sessions_keeps_this_one() {
    let portal = TestPortal::start().await;
    let laptop = portal.browser();
    portal.sign_up(&laptop, "alice", PASSWORD).await;
    let others: Vec<_> = (0..3).map(|_| portal.browser()).collect();
    for browser in &others {
        portal.sign_in(browser, "alice", PASSWORD).await;
    }
    assert_eq!(
        portal
            .call(&laptop, "sign_out_other_sessions", &[])
            .await
            .status(),
        StatusCode::OK
    );
    for browser in &others {
        assert_eq!(
            portal.get(browser, "/portal").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        portal.get(&laptop, "/portal").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_the_second_factor_signs_out_every_other_session() {
    let portal = TestPortal::start().await;
    let (laptop, authenticator) = portal.account_with_two_factor("alice").await;
    let phone = portal.browser();
    portal.sign_in(&phone, "alice", PASSWORD).await;
    portal
        .verify_code(&phone, &authenticator.code(&portal, 1))
        .await;
    assert_eq!(portal.get(&phone, "/portal").await.status(), StatusCode::OK);

    // A new recovery code (the code of the next step: the last one is spent).
    portal.clock.advance(30);
    let regenerated = portal
        .call(
            &laptop,
            "regenerate_recovery_code",
            &[("code", &authenticator.code(&portal, 1))],
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    assert_eq!(
        portal.get(&phone, "/portal").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        portal.get(&laptop, "/portal").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_sign_in_older_than_fifteen_minutes_asks_for_the_password_before_a_change() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    portal.verify_email(&browser, "alice").await;
    portal.clock.advance(16 * 60);
    assert_eq!(portal.overview(&browser).await["password_recent"], false);
    let refused = portal.call(&browser, "start_enrollment", &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("PasswordRequired"));

    let wrong = portal
        .call(
            &browser,
            "confirm_password",
            &[("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let right = portal
        .call(&browser, "confirm_password", &[("password", PASSWORD)])
        .await;
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        portal
            .call(&browser, "start_enrollment", &[])
            .await
            .status(),
        StatusCode::OK
    );
}

fn header_value<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} on {}", response.url()))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn every_route_sends_the_security_headers() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let pages = [
        "/",
        "/login",
        "/signup",
        "/portal",
        "/settings/security",
        "/recover/confirm?token=abc",
        "/verify-email?token=abc",
        "/no/such/page",
    ];
    for path in pages {
        let response = portal.get(&browser, path).await;
        let csp = header_value(&response, "content-security-policy").to_owned();
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header_value(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header_value(&response, "referrer-policy"), "no-referrer");
        assert_eq!(
            header_value(&response, "cache-control"),
            "no-store",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "no HSTS over http"
        );

        // The inline scripts carry the nonce the policy names, and only they.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        let scripts = html.matches("<script").count();
        let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(
            scripts > 0 && with_nonce >= scripts,
            "{path}: {scripts} scripts, {with_nonce} with the nonce"
        );
    }
    let api = portal.call(&browser, "current_user", &[]).await;
    assert_eq!(header_value(&api, "x-content-type-options"), "nosniff");
    assert_eq!(header_value(&api, "cache-control"), "no-store");
}

#[tokio::test]
async fn over_https_the_cookie_is_host_only_and_secure_and_hsts_is_sent() {
    let portal = TestPortal::start_with(&["--base-url", "https://portal.example"]).await;
    let response = portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let cookies: Vec<&str> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    // The session cookie and the device cookie alike.
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("__Host-portal_session="))
    );
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("__Host-portal_device="))
    );
    for cookie in cookies {
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
            "{cookie}"
        );
        assert!(cookie.contains("HttpOnly"), "{cookie}");
    }
    let page = portal.get(&portal.browser(), "/login").await;
    assert!(header_value(&page, "strict-transport-security").starts_with("max-age="));
}

#[tokio::test]
async fn sign_in_requests_past_the_limit_get_429_with_the_wait() {
    let portal = TestPortal::start_with(&["--sign-in-limit", "5"]).await;
    let browser = portal.browser();
    for _ in 0..5 {
        let response = portal.sign_in(&browser, "nobody", "whatever1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = portal.sign_in(&browser, "nobody", "whatever1").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        header_value(&limited, "retry-after")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(limited.text().await.unwrap().contains("TryAgainIn"));
    let page = portal
        .submit(
            &browser,
            "/login",
            "login",
            &[
                ("username", "nobody"),
                ("password", "whatever1"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.text().await.unwrap().contains("Try again in"));
    // Pages stay open.
    assert_eq!(
        portal.get(&browser, "/login").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_username_known_or_not() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    for username in ["alice", "nobody"] {
        let browser = portal.browser();
        for _ in 0..5 {
            assert_eq!(
                portal
                    .sign_in(&browser, username, "wrong password")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        // Two more, each after its wait: the next wait is 4 seconds, long enough that the
        // right password below surely falls inside it.
        let mut wrong = 5;
        while wrong < 7 {
            match portal
                .sign_in(&browser, username, "wrong password")
                .await
                .status()
            {
                StatusCode::UNAUTHORIZED => wrong += 1,
                StatusCode::TOO_MANY_REQUESTS => portal.clock.advance(60),
                other => panic!("unexpected {other}"),
            }
        }
        let throttled = portal.sign_in(&browser, username, PASSWORD).await;
        assert_eq!(
            throttled.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{username}"
        );
    }
    portal.clock.advance(60);
    assert_eq!(
        portal
            .sign_in(&portal.browser(), "alice", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cross_site_post_is_refused_by_every_server_function() {
    let portal = TestPortal::start().await;
    let paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    assert!(paths.len() >= 20, "{paths:?}");
    let browser = portal.browser();
    for path in paths {
        for (name, value) in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example"),
        ] {
            let response = browser
                .post(portal.url(&path))
                .header(name, value)
                .body("")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} with {name}: {value}"
            );
        }
    }
}

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
    let portal = TestPortal::start_with(&["--sign-in-limit", "100000"]).await;
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
    assert_eq!(
        portal.get(&browser, "/login").await.status(),
        StatusCode::OK
    );
    let fresh = portal.browser();
    assert_eq!(
        portal.sign_in(&fresh, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(portal.get(&fresh, "/portal").await.status(), StatusCode::OK);
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
    let portal = TestPortal::start_with(&["--sign-in-limit", "100000"]).await;
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

/// The answers to `count` wrong passwords for `username` sent at once, each from a new browser.
async fn wrong_passwords_at_once(
    portal: &TestPortal,
    username: &str,
    count: usize,
) -> Vec<StatusCode> {
    at_once(count, |index| async move {
        portal
            .sign_in(&portal.browser(), username, &format!("wrong guess {index}"))
            .await
            .status()
    })
    .await
}

#[tokio::test]
async fn thirty_wrong_passwords_at_once_are_not_all_checked() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    for username in ["alice", "nobody"] {
        let statuses = wrong_passwords_at_once(&portal, username, 30).await;
        let checked = statuses
            .iter()
            .filter(|status| **status == StatusCode::UNAUTHORIZED)
            .count();
        let waited = statuses
            .iter()
            .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert!(checked <= 6, "{username}: {checked} of 30 were checked");
        assert_eq!(checked + waited, 30, "{username}: {statuses:?}");
    }
}

#[tokio::test]
async fn confirming_the_password_shares_the_sign_in_throttle_and_is_audited() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    let statuses = at_once(30, |index| {
        let (portal, browser) = (&portal, &browser);
        async move {
            portal
                .call(
                    browser,
                    "confirm_password",
                    &[("password", &format!("guess {index}"))],
                )
                .await
                .status()
        }
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert!(checked <= 6, "{checked} of 30 were checked: {statuses:?}");
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The same counter: this browser's next sign-in waits too, even with the right password.
    let waited = portal.sign_in(&browser, "alice", PASSWORD).await;
    assert_eq!(waited.status(), StatusCode::TOO_MANY_REQUESTS);
    let failed = portal
        .events(&browser)
        .await
        .iter()
        .filter(|event| event.contains("Incorrect password"))
        .count();
    assert_eq!(
        failed, checked,
        "each checked wrong password is on the security page"
    );
}

#[tokio::test]
async fn an_attacker_hammering_a_username_waits_while_the_owners_browser_gets_in() {
    let portal = TestPortal::start().await;
    let owner = portal.browser();
    portal.sign_up(&owner, "alice", PASSWORD).await;
    let attacker = portal.browser();
    // Past the free failures, each wrong password waits longer; the attacker keeps it at 15 minutes.
    let mut wrong = 0;
    while wrong < 20 {
        match portal
            .sign_in(&attacker, "alice", "not her password")
            .await
            .status()
        {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => portal.clock.advance(15 * 60),
            other => panic!("unexpected {other}"),
        }
    }
    // The attacker waits, even with the right password, and so does any new browser.
    let attacker_right = portal.sign_in(&attacker, "alice", PASSWORD).await;
    assert_eq!(attacker_right.status(), StatusCode::TOO_MANY_REQUESTS);
    let stranger = portal.sign_in(&portal.browser(), "alice", PASSWORD).await;
    assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS);
    // The browser that signed in to alice before is not kept out.
    let owner_in = portal.sign_in(&owner, "alice", PASSWORD).await;
    assert_eq!(owner_in.status(), StatusCode::OK);
    assert_eq!(portal.get(&owner, "/portal").await.status(), StatusCode::OK);
    // Its own wrong passwords are still throttled, on its own counter.
    for _ in 0..5 {
        assert_eq!(
            portal.sign_in(&owner, "alice", "typo typo").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        portal.sign_in(&owner, "alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_wrong_password_does_the_same_database_work_for_known_and_unknown_usernames() {
    let portal = TestPortal::start().await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let database = portal.database().await;
    let rows = |sql: &'static str| {
        let database = database.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&database)
                .await
                .unwrap()
        }
    };
    let before = rows("SELECT count(*) FROM audit_events").await;
    portal
        .sign_in(&portal.browser(), "alice", "wrong password")
        .await;
    let after_known = rows("SELECT count(*) FROM audit_events").await;
    portal
        .sign_in(&portal.browser(), "nobody", "wrong password")
        .await;
    let after_unknown = rows("SELECT count(*) FROM audit_events").await;
    assert_eq!(after_known - before, 1);
    assert_eq!(after_unknown - after_known, after_known - before);
    assert_eq!(rows("SELECT count(*) FROM password_failures").await, 2);
}

#[tokio::test]
async fn a_login_username_no_account_could_have_is_refused_and_nothing_is_stored() {
    let portal = TestPortal::start().await;
    let long = "x".repeat(5000);
    for username in [long.as_str(), "bad name!", ""] {
        let refused = portal
            .sign_in(&portal.browser(), username, "whatever1")
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("username"));
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM password_failures")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn stale_password_failure_rows_are_deleted() {
    let portal = TestPortal::start().await;
    for index in 0..5 {
        portal
            .sign_in(&portal.browser(), &format!("made-up-{index}"), "whatever1")
            .await;
    }
    portal.clock.advance(2 * 24 * 60 * 60);
    let portal = portal.restart().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM password_failures")
        .fetch_one(&portal.database().await)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn the_security_page_shows_browser_names_never_text_from_the_user_agent() {
    let portal = TestPortal::start().await;
    let owner = portal.browser();
    portal.sign_up(&owner, "alice", PASSWORD).await;
    let planted = "Your account is locked. Call Portal support on +1 555 0100.";
    let attacker = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(planted)
        .build()
        .unwrap();
    // One wrong password plants an event; a right one a session.
    portal.sign_in(&attacker, "alice", "wrong password").await;
    portal.sign_in(&attacker, "alice", PASSWORD).await;
    let page = portal
        .call(&owner, "security_overview", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Call Portal"), "{page}");
    assert!(page.contains("unknown browser"), "{page}");
}

/// The addresses the audit log recorded for accounts, each once.
async fn audited_addresses(portal: &TestPortal) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT address FROM audit_events WHERE address IS NOT NULL AND user_id IS NOT NULL",
    )
        .fetch_all(&portal.database().await)
        .await
        .unwrap()
}

/// Signs in `tries` times with a wrong password and returns the last status.
async fn wrong_sign_ins(
    portal: &TestPortal,
    browser: &reqwest::Client,
    tries: usize,
) -> StatusCode {
    let mut status = StatusCode::OK;
    for _ in 0..tries {
        status = portal
            .sign_in(browser, "nobody", "whatever1")
            .await
            .status();
    }
    status
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit_and_address() {
    let portal =
        TestPortal::start_with(&["--sign-in-limit", "3", "--trusted-proxies", "127.0.0.1"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        wrong_sign_ins(&portal, &first, 1).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // What the client sent before the proxy's own hop is not believed: the proxy's hop is.
    let second = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1, 198.51.100.2")]);
    assert_eq!(
        wrong_sign_ins(&portal, &second, 1).await,
        StatusCode::UNAUTHORIZED
    );

    let alice = portal.browser_with_headers(&[("x-forwarded-for", "203.0.113.9")]);
    portal.sign_up(&alice, "alice", PASSWORD).await;
    let phone = portal.browser_with_headers(&[("forwarded", "for=\"[2001:db8::7]:4711\"")]);
    assert_eq!(
        portal.sign_in(&phone, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    let mut listed: Vec<String> = sessions(&portal, &alice)
        .await
        .iter()
        .map(|session| session["address"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["2001:db8::7", "203.0.113.9"]);
    // The sign-in is audited with the address the proxy reported.
    assert_eq!(audited_addresses(&portal).await, ["2001:db8::7"]);
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarded_for_is_ignored() {
    let portal = TestPortal::start_with(&["--sign-in-limit", "3"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "198.51.100.1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    let second = portal.browser_with_headers(&[
        ("x-forwarded-for", "198.51.100.2"),
        ("forwarded", "for=198.51.100.3"),
    ]);
    assert_eq!(
        wrong_sign_ins(&portal, &second, 1).await,
        StatusCode::TOO_MANY_REQUESTS,
        "limited as the peer, 127.0.0.1"
    );

    let portal = TestPortal::start().await;
    let alice = portal.browser_with_headers(&[("x-forwarded-for", "203.0.113.9")]);
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.sign_in(&alice, "alice", PASSWORD).await;
    let listed = sessions(&portal, &alice).await;
    assert!(
        listed
            .iter()
            .all(|session| session["address"] == "127.0.0.1")
    );
    assert_eq!(audited_addresses(&portal).await, ["127.0.0.1"]);
}

#[tokio::test]
async fn ipv6_clients_in_one_64_share_a_limit() {
    let portal =
        TestPortal::start_with(&["--sign-in-limit", "3", "--trusted-proxies", "127.0.0.0/8"]).await;
    let first = portal.browser_with_headers(&[("x-forwarded-for", "2001:db8:1:2::1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &first, 3).await,
        StatusCode::UNAUTHORIZED
    );
    for neighbour in [
        ("x-forwarded-for", "2001:db8:1:2:ffff:ffff:ffff:fffe"),
        ("forwarded", "for=\"[2001:db8:1:2::abcd]:4711\""),
    ] {
        let browser = portal.browser_with_headers(&[neighbour]);
        assert_eq!(
            wrong_sign_ins(&portal, &browser, 1).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{neighbour:?}"
        );
    }
    let next_network = portal.browser_with_headers(&[("x-forwarded-for", "2001:db8:1:3::1")]);
    assert_eq!(
        wrong_sign_ins(&portal, &next_network, 1).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A failed no-JavaScript post of `fields` to the sign-in, from the sign-in page.
async fn failed_sign_in_form(
    portal: &TestPortal,
    browser: &reqwest::Client,
    fields: &[(String, String)],
) -> String {
    let response = browser
        .post(portal.url("/api/login"))
        .header(header::ACCEPT, "text/html")
        .header("Sec-Fetch-Site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap();
    let location = common::location(&response).unwrap().to_owned();
    assert!(location.contains("__err="), "{location}");
    location
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
    sqlx::query_scalar("SELECT COALESCE(MAX(LENGTH(data)), 0) FROM tower_sessions")
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
        .get(back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"keep-me\""), "{html}");
}

#[tokio::test]
async fn an_anonymous_session_lives_thirty_idle_minutes_and_its_row_is_then_deleted() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let fields = [
        ("username", "keep-me"),
        ("password", "x"),
        ("next", ""),
        ("__page", "/login"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()));
    failed_sign_in_form(&portal, &browser, &fields).await;
    let database = portal.database().await;
    let seconds_left: f64 = sqlx::query_scalar(
        "SELECT (julianday(expiry_date) - julianday('now')) * 86400 FROM tower_sessions",
    )
    .fetch_one(&database)
    .await
    .unwrap();
    assert!(
        (1700.0..=1810.0).contains(&seconds_left),
        "expires in {seconds_left} s"
    );

    // Expired while the server was down: the next start deletes it, without waiting a period.
    sqlx::query("UPDATE tower_sessions SET expiry_date = datetime('now', '-1 minute')")
        .execute(&database)
        .await
        .unwrap();
    database.close().await;
    let portal = portal.restart().await;
    let database = portal.database().await;
    let mut rows: i64 = 1;
    for _ in 0..50 {
        rows = sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
            .fetch_one(&database)
            .await
            .unwrap();
        if rows == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 0, "the expired session row is deleted");
}

#[cfg(unix)]
#[tokio::test]
async fn in_outbox_mode_mail_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let portal = TestPortal::start_with_outbox(&[]).await;
    portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    let outbox = portal.data_dir().join("outbox");
    let mails: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    assert_eq!(mails.len(), 1, "the verification mail");
    let mode = std::fs::metadata(&mails[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let folder = std::fs::metadata(&outbox).unwrap().permissions().mode();
    assert_eq!(folder & 0o077, 0, "{folder:o}");
}

#[tokio::test]
async fn outside_cargo_leptos_watch_the_policy_allows_no_websocket() {
    let portal = TestPortal::start().await;
    let page = portal.get(&portal.browser(), "/login").await;
    let csp = header_value(&page, "content-security-policy");
    assert!(!csp.contains("ws:"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
}
