//! Logs an operator can use: in JSON with `PORTAL_LOG_FORMAT=json`, and every 5xx logged once
//! with the request's id, which the person is shown as a reference.

use reqwest::{StatusCode, header};

use crate::common::{PASSWORD, TestPortal, answer, login};
use app::error::AppError;

/// The log's lines as JSON objects; a line that is not one fails the test.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line:?}"))
        })
        .collect()
}

/// The lines written inside the request `id`'s span.
fn lines_of<'a>(lines: &'a [serde_json::Value], id: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|span| span["id"] == id))
        })
        .collect()
}

#[tokio::test]
async fn a_fault_logs_one_line_with_the_reference_that_the_person_is_shown() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let server = portal.serve_from_process(&[("--log-format", "json")]).await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    // A fault no one can fix from the browser: a table the sign-in writes to is gone.
    sqlx::query("DROP TABLE audit_events")
        .execute(&portal.database().await)
        .await
        .unwrap();

    // A server function, as the hydrated page calls it.
    let response = portal
        .post_fn(&portal.browser(), login("alice", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let Err(AppError::Internal { reference }) = answer::<serde_json::Value>(response).await else {
        panic!("the answer is an internal error");
    };
    assert_eq!(reference, id);
    assert!(
        AppError::Internal {
            reference: reference.clone()
        }
        .to_string()
        .contains(&reference),
        "the message the form shows quotes the reference"
    );

    let lines = json_lines(&server.log());
    let of_request = lines_of(&lines, &id);
    let answered: Vec<_> = of_request
        .iter()
        .filter(|line| line["fields"]["message"] == "answered with a server error")
        .collect();
    assert_eq!(answered.len(), 1, "{of_request:#?}");
    assert_eq!(answered[0]["level"], "ERROR");
    assert_eq!(answered[0]["fields"]["status"], 500);
    assert_eq!(answered[0]["span"]["path"], "/api/login");
    assert!(
        of_request
            .iter()
            .any(|line| line["fields"]["message"] == "internal error"),
        "the cause is logged under the same id: {}",
        server.log()
    );
    assert!(!server.log().contains(PASSWORD), "no secret is in the log");
}

#[tokio::test]
async fn a_page_that_fails_shows_portal_s_error_page_with_its_reference() {
    let mut portal = TestPortal::builder().sqlite().start().await;
    let server = portal.serve_from_process(&[]).await;
    let browser = portal.browser();
    portal.sign_up(&browser, "alice", PASSWORD).await;
    sqlx::query("DROP TABLE sessions")
        .execute(&portal.database().await)
        .await
        .unwrap();
    let response = portal.get(&browser, "/portal").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("Something went wrong"), "{page}");
    assert!(page.contains(&id), "the page shows the reference: {page}");
    let log = server.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&id) && line.contains("answered with a server error"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
}
