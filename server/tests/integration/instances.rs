//! Two Portal instances on one PostgreSQL database, as behind a load balancer: this test process
//! serves one, the server binary in a child process the other. They share the database, the
//! secret key, the mail server and the public address, and nothing else; requests alternate
//! between them.

use std::process::{Child, Command, Stdio};

use app::account::portal::Logout;
use app::error::AppError;
use app::org::CreateOrganization;
use app::recovery::request::RequestRecovery;
use reqwest::{Client, StatusCode};

use crate::common::{
    PASSWORD, TestPortal, answer, at_once, checked_and_waited, code_form, login, post_fn_at,
};

const SECRET_KEY: &str = "5f3c0c7b1e2d4a6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

/// The second instance: the real server binary, killed when dropped.
struct Instance {
    base: String,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server binary on the first portal's database, key and mail server, under its
/// public address, and waits until it answers `/healthz`.
async fn second_instance(first: &TestPortal, data: &std::path::Path) -> Instance {
    second_instance_with(first, data, &[]).await
}

/// `second_instance`, with more settings.
async fn second_instance_with(
    first: &TestPortal,
    data: &std::path::Path,
    settings: &[(&str, &str)],
) -> Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["--database-url", first.database_url()])
        .args(["--secret-key", SECRET_KEY])
        .args(["--base-url", &first.base])
        .args(["--site-addr", &format!("127.0.0.1:{port}")])
        .args(["--support-email", "help@portal.test"])
        .args(["--smtp-url", first.smtp_url().unwrap()])
        .args(settings.iter().flat_map(|(flag, value)| [*flag, *value]))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let instance = Instance {
        base: format!("http://127.0.0.1:{port}"),
        child,
    };
    let probe = Client::new();
    for _ in 0..300 {
        if let Ok(answer) = probe.get(format!("{}/healthz", instance.base)).send().await {
            if answer.status() == StatusCode::OK {
                return instance;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the second instance did not answer /healthz within 30 s");
}

#[tokio::test]
async fn two_instances_share_sign_ins_codes_failures_and_sign_outs() {
    let first = TestPortal::builder()
        .postgres()
        .arg("--secret-key", SECRET_KEY)
        .start()
        .await;
    let data = tempfile::tempdir().unwrap();
    let second = second_instance(&first, data.path()).await;
    let (a, b) = (first.base.clone(), second.base.clone());
    let (_, alice) = first.account_with_two_factor("alice").await;

    // The password on one, the code on the other: signed in, on both.
    let browser = first.browser();
    assert_eq!(
        post_fn_at(&a, &browser, login("alice", PASSWORD))
            .await
            .status(),
        StatusCode::OK
    );
    // The wizard spent this step's code: the next step's, which the window allows.
    let code = alice.code(&first, 1);
    assert_eq!(
        answer::<()>(post_fn_at(&b, &browser, code_form(&code)).await).await,
        Ok(())
    );
    for base in [&a, &b] {
        let page = browser.get(format!("{base}/portal")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{base}");
    }

    // The same code on the first, in another browser that has the password: a replay.
    let other = first.browser();
    post_fn_at(&a, &other, login("alice", PASSWORD)).await;
    assert_eq!(
        answer::<()>(post_fn_at(&a, &other, code_form(&code)).await).await,
        Err(AppError::CodeReplayed)
    );

    // Wrong codes alternate between the instances: one counter sees them all.
    for round in 0..4 {
        let base = if round % 2 == 0 { &b } else { &a };
        let wrong = if code == "000000" { "111111" } else { "000000" };
        if round == 3 {
            // The fifth failure asks for a wait of one second, counted in whole seconds: made
            // just after a second begins, the two attempts below fall within that second even
            // on a busy machine.
            start_of_a_second().await;
        }
        let answer = post_fn_at(base, &other, code_form(wrong)).await;
        assert_ne!(answer.status(), StatusCode::OK);
    }
    let failures: i64 =
        sqlx::query_scalar("SELECT failures FROM failure_counters WHERE factor = 'totp'")
            .fetch_one(&first.database().await)
            .await
            .unwrap();
    assert_eq!(
        failures, 5,
        "the replay and four wrong codes, counted on both"
    );
    // The fifth failure, wherever it was made, makes the next attempt on either wait.
    for base in [&a, &b] {
        let waits = post_fn_at(base, &other, code_form(&alice.code(&first, 0))).await;
        assert_eq!(waits.status(), StatusCode::TOO_MANY_REQUESTS, "{base}");
    }

    // Signed out on the second: the first refuses the session's cookie from then on.
    let cookie = browser
        .get(format!("{a}/portal"))
        .send()
        .await
        .unwrap()
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("portal_session="))
        .map(|value| value.split(';').next().unwrap().to_owned())
        .expect("the session cookie");
    let signed_out = post_fn_at(&b, &browser, Logout {}).await;
    assert!(signed_out.status().is_success() || signed_out.status().is_redirection());
    let replayed_cookie = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{a}/portal"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed_cookie.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn races_split_across_two_instances_hold_as_on_one() {
    let first = TestPortal::builder()
        .postgres()
        .arg("--secret-key", SECRET_KEY)
        .start()
        .await;
    let data = tempfile::tempdir().unwrap();
    let second = second_instance(&first, data.path()).await;
    let bases = [first.base.clone(), second.base.clone()];

    // 30 wrong passwords at once, split across both: at most 6 are checked.
    first.sign_up(&first.browser(), "bob", PASSWORD).await;
    let statuses = at_once(30, |index| {
        let base = &bases[index % 2];
        let first = &first;
        async move {
            post_fn_at(
                base,
                &first.browser(),
                login("bob", &format!("wrong guess {index}")),
            )
            .await
            .status()
        }
    })
    .await;
    let (checked, waited) = checked_and_waited(&statuses, StatusCode::UNAUTHORIZED);
    assert!(checked <= 6, "{checked} of 30 were checked: {statuses:?}");
    assert_eq!(checked + waited, 30, "{statuses:?}");

    // 30 wrong codes at once from one signed-in-with-password browser, split across both: the
    // five free failures are checked, and every other attempt waits (but one, when the clock's
    // second turns and the first one-second wait is over).
    let (_, alice) = first.account_with_two_factor("alice").await;
    let guessing = first.browser();
    first.sign_in(&guessing, "alice", PASSWORD).await;
    let right = alice.code(&first, 0);
    let statuses = at_once(30, |index| {
        let (base, guessing, right) = (&bases[index % 2], &guessing, &right);
        async move {
            let wrong = format!("{:06}", (index + 1) * 7919 % 1_000_000);
            let wrong = if &wrong == right {
                "999999".to_owned()
            } else {
                wrong
            };
            post_fn_at(base, guessing, code_form(&wrong)).await.status()
        }
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|status| **status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        (5..=6).contains(&checked),
        "{checked} checked: {statuses:?}"
    );

    // 50 presses of one recovery link, split across both: one reset.
    let asking = first.browser();
    first.sign_in(&asking, "alice", PASSWORD).await;
    let asked = first
        .post_fn(
            &asking,
            RequestRecovery {
                recovery_code: alice.recovery_code.clone(),
            },
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let mails = first.smtp.wait_for("alice@example.com", 3).await;
    let link = mails
        .iter()
        .find_map(|mail| mail.link(&first.url("/recover/confirm?token=")))
        .expect("the recovery link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let statuses = at_once(50, |index| {
        let (base, token, first) = (&bases[index % 2], &token, &first);
        async move {
            first
                .browser()
                .post(format!("{base}/api/confirm_recovery"))
                .header("Sec-Fetch-Site", "same-origin")
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    })
    .await;
    let reset = statuses.iter().filter(|status| status.is_success()).count();
    assert_eq!(reset, 1, "{statuses:?}");
    let resets: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE kind = 'two_factor_reset'")
            .fetch_one(&first.database().await)
            .await
            .unwrap();
    assert_eq!(resets, 1);
}

#[tokio::test]
async fn copy_to_moves_a_sqlite_portal_to_postgres_where_it_goes_on_working() {
    let old = TestPortal::builder()
        .sqlite()
        .arg("--secret-key", SECRET_KEY)
        .start()
        .await;
    let (alice_browser, alice) = old.account_with_two_factor("alice").await;
    old.call_fn(
        &alice_browser,
        CreateOrganization {
            name: "Acme".to_owned(),
        },
    )
    .await
    .expect("an organization");
    old.sign_up(&old.browser(), "bob", PASSWORD).await;
    let server = std::env::var("PORTAL_TEST_POSTGRES_SERVER")
        .expect("PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server; ./dev test starts one");
    let target = crate::common::new_postgres_database(&server).await;

    // The target's password stays out of the command line (`ps`, shell history).
    let output = old.admin_with_env(&["copy-to"], &[("PORTAL_COPY_TO_DATABASE_URL", &target)]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("Row counts match"), "{printed}");
    assert!(printed.contains("PORTAL_SECRET_KEY"), "{printed}");
    assert!(
        !printed.contains(SECRET_KEY),
        "the key itself is never printed"
    );
    let users_line = printed
        .lines()
        .find(|line| line.trim_start().starts_with("users "))
        .expect("the users line");
    assert!(users_line.trim_end().ends_with("2 rows"), "{users_line}");

    // The same key on the new database: the password, the code and the organization carry over,
    // and new rows get new ids.
    let new = TestPortal::builder()
        .database(&target)
        .arg("--secret-key", SECRET_KEY)
        .start()
        .await;
    let browser = new.browser();
    assert_eq!(
        new.sign_in(&browser, "alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        answer::<()>(new.verify_code(&browser, &alice.code(&new, 1)).await).await,
        Ok(())
    );
    assert_eq!(new.get_status(&browser, "/org/acme").await, StatusCode::OK);
    assert_eq!(
        new.sign_up(&new.browser(), "carol", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    // A second copy into a database that has rows is refused.
    let file = old.data_dir().join("target-url");
    std::fs::write(&file, format!("{target}\n")).unwrap();
    let again = old.admin(&["copy-to", "--database-file", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// A PostgreSQL server may make every transaction repeatable read by default. The write lock
/// would then be taken after the transaction's snapshot, and what it reads would be stale: every
/// check-then-write race would open again (review I6).
#[tokio::test]
async fn races_hold_on_a_database_that_defaults_to_repeatable_read() {
    use sqlx::Connection as _;
    let server = std::env::var("PORTAL_TEST_POSTGRES_SERVER")
        .expect("PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server; ./dev test starts one");
    let target = crate::common::new_postgres_database(&server).await;
    let name = target.rsplit('/').next().unwrap();
    let mut admin = sqlx::PgConnection::connect(&target).await.unwrap();
    sqlx::Executor::execute(
        &mut admin,
        format!("ALTER DATABASE {name} SET default_transaction_isolation = 'repeatable read'")
            .as_str(),
    )
    .await
    .unwrap();
    admin.close().await.unwrap();
    let portal = TestPortal::builder().database(&target).start().await;

    portal.sign_up(&portal.browser(), "bob", PASSWORD).await;
    let statuses = at_once(30, |index| {
        let portal = &portal;
        async move {
            portal
                .post_fn(
                    &portal.browser(),
                    login("bob", &format!("wrong guess {index}")),
                )
                .await
                .status()
        }
    })
    .await;
    let (checked, waited) = checked_and_waited(&statuses, StatusCode::UNAUTHORIZED);
    assert!(checked <= 6, "{checked} of 30 were checked: {statuses:?}");
    assert_eq!(checked + waited, 30, "{statuses:?}");

    let (_, alice) = portal.account_with_two_factor("alice").await;
    let guessing = portal.browser();
    portal.sign_in(&guessing, "alice", PASSWORD).await;
    let right = alice.code(&portal, 0);
    let statuses = at_once(30, |index| {
        let (portal, guessing, right) = (&portal, &guessing, &right);
        async move {
            let wrong = format!("{:06}", (index + 1) * 7919 % 1_000_000);
            let wrong = if &wrong == right {
                "999999".to_owned()
            } else {
                wrong
            };
            portal.post_fn(guessing, code_form(&wrong)).await.status()
        }
    })
    .await;
    let checked = statuses
        .iter()
        .filter(|status| **status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        (5..=6).contains(&checked),
        "{checked} checked: {statuses:?}"
    );
}

/// The README's URL asks for verified TLS (`sslmode=verify-full`): the server must be able to
/// speak it. This test server has no TLS, so the connection is refused for that reason, and not
/// because the build cannot do TLS at all (review L6).
#[tokio::test]
async fn a_database_url_can_require_verified_tls() {
    let server = std::env::var("PORTAL_TEST_POSTGRES_SERVER")
        .expect("PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server; ./dev test starts one");
    let target = crate::common::new_postgres_database(&server).await;
    let refused = server::connect(&format!("{target}?sslmode=verify-full"))
        .await
        .expect_err("the test server has no TLS");
    let said = format!("{refused:#}");
    assert!(!said.contains("without TLS support"), "{said}");
    assert!(said.contains("TLS"), "{said}");
}

/// An app's code sent to both instances, ten times at once: the one write lock every instance
/// takes lets exactly one exchange through, and the reuse then revokes what it gave.
#[tokio::test]
async fn an_oidc_code_sent_to_both_instances_at_once_gives_tokens_once() {
    let first = TestPortal::builder()
        .postgres()
        .arg("--secret-key", SECRET_KEY)
        .start()
        .await;
    let data = tempfile::tempdir().unwrap();
    let second = second_instance(&first, data.path()).await;
    let app = crate::oidc::App::new(&first, &[]).await;
    let alice = crate::oidc::person(&first, "alice").await;
    let started = app.start(&[], &[]);
    let code = crate::oidc::code_for(&first, &alice, "alice", &started).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", crate::oidc::REDIRECT),
        ("code_verifier", started.verifier.as_str()),
    ];
    let answers = at_once(10, |index| {
        let base = if index % 2 == 0 {
            &first.base
        } else {
            &second.base
        };
        app.http
            .post(format!("{base}/oauth2/token"))
            .basic_auth(&app.id, app.secret.as_deref())
            .form(&form)
            .send()
    })
    .await;
    let mut statuses = Vec::new();
    let mut given = Vec::new();
    for answer in answers {
        let answer = answer.unwrap();
        statuses.push(answer.status());
        if answer.status() == StatusCode::OK {
            let body: serde_json::Value = answer.json().await.unwrap();
            given.push(body["access_token"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(given.len(), 1, "{statuses:?}");
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!(refused, 9, "{statuses:?}");
    for base in [&first.base, &second.base] {
        let info = app
            .http
            .get(format!("{base}/oauth2/userinfo"))
            .bearer_auth(&given[0])
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::UNAUTHORIZED, "{base}");
    }
}

/// Forward-auth keeps no answer between requests: a browser signed out on one instance is
/// refused by the very next verify on the other.
#[tokio::test]
async fn a_sign_out_on_one_instance_is_refused_by_the_next_verify_on_the_other() {
    let folder = tempfile::tempdir().unwrap();
    let rules = folder.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nhost = \"wiki.example.test\"\npolicy = \"one_factor\"\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let first = TestPortal::builder()
        .postgres()
        .arg("--secret-key", SECRET_KEY)
        .arg("--access-rules", rules)
        .arg("--trusted-proxies", "127.0.0.1")
        .start()
        .await;
    let second = second_instance_with(
        &first,
        folder.path(),
        &[
            ("--access-rules", rules),
            ("--trusted-proxies", "127.0.0.1"),
        ],
    )
    .await;
    let browser = first.browser();
    first.sign_up(&browser, "fa_multi", PASSWORD).await;
    let verify = |base: String| {
        let browser = browser.clone();
        async move {
            browser
                .get(format!("{base}/auth/verify"))
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "wiki.example.test")
                .header("x-forwarded-uri", "/")
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..3 {
        assert_eq!(verify(first.base.clone()).await, StatusCode::OK);
        assert_eq!(verify(second.base.clone()).await, StatusCode::OK);
    }
    post_fn_at(&first.base, &browser, Logout {}).await;
    assert_eq!(verify(second.base.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(verify(first.base.clone()).await, StatusCode::UNAUTHORIZED);
}

/// Waits until a new wall-clock second has just begun.
async fn start_of_a_second() {
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(1_010 - into))).await;
}
