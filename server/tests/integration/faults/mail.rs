//! The mail server hangs: it takes the connection and never answers. Mail the person does not wait
//! for (a new-device alert, a notice of a change) no longer holds the sign-in or the change it
//! reports: each request waits a moment for its mail, then answers, and the send goes on after it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::account::change_password::ChangePassword;
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
    sync::watch,
};

use crate::common::{PASSWORD, TestPortal, smtp::SmtpSink};
use crate::sign_in_alerts::ALERT;

/// The longest a request may take while the mail server hangs: a sign-in's own work and the
/// moment it waits for its mail. The mailer gives up on a silent server only after 10 s.
const LONGEST_ANSWER: Duration = Duration::from_secs(6);

/// Between Portal and the mail sink: passes what Portal says through, or, while held, keeps it
/// back until let go (the mailer keeps its connections open, so a new one is not enough).
struct Relay {
    url: String,
    held: watch::Sender<bool>,
}

impl Relay {
    async fn start(sink: &SmtpSink) -> Self {
        let target = Arc::new(sink.url().trim_start_matches("smtp://").to_owned());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let (held, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, mut watching) = (target.clone(), watching.clone());
                tokio::spawn(async move {
                    let Ok(sink) = tokio::net::TcpStream::connect(target.as_str()).await else {
                        return;
                    };
                    let (mut from_portal, mut to_portal) = client.into_split();
                    let (mut from_sink, mut to_sink) = sink.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_sink, &mut to_portal).await;
                    });
                    let mut chunk = vec![0; 16 * 1024];
                    while let Ok(read) = from_portal.read(&mut chunk).await {
                        if read == 0 || watching.wait_for(|held| !held).await.is_err() {
                            break;
                        }
                        if to_sink.write_all(&chunk[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { url, held }
    }

    fn hold(&self, held: bool) {
        self.held.send_replace(held);
    }
}

fn mail_with(sink: &SmtpSink, subject: &str) -> usize {
    sink.mail_to("alice@example.com")
        .iter()
        .filter(|mail| mail.subject == subject)
        .count()
}

#[tokio::test]
async fn a_mail_server_that_hangs_holds_no_sign_in_and_no_change() {
    let sink = SmtpSink::start();
    let relay = Relay::start(&sink).await;
    let portal = TestPortal::builder()
        .arg("--smtp-url", &relay.url)
        .start()
        .await;
    let signed_up = portal.sign_up(&portal.browser(), "alice", PASSWORD).await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    sink.wait_for("alice@example.com", 1).await;

    relay.hold(true);
    // A sign-in from a new browser: its alert goes to the silent server.
    let browser = portal.browser();
    let started = Instant::now();
    let signed_in = portal.sign_in(&browser, "alice", PASSWORD).await;
    let took = started.elapsed();
    assert_eq!(signed_in.status(), StatusCode::OK);
    println!("a sign-in while the mail server hangs: {took:?}");
    assert!(took < LONGEST_ANSWER, "the sign-in waited {took:?}");

    // A change whose notice goes to the silent server.
    let started = Instant::now();
    let changed = portal
        .post_fn(
            &browser,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "a brand new stable horse".into(),
                code: String::new(),
            },
        )
        .await;
    let took = started.elapsed();
    assert_eq!(changed.status(), StatusCode::OK);
    println!("a password change while the mail server hangs: {took:?}");
    assert!(took < LONGEST_ANSWER, "the change waited {took:?}");
    assert_eq!(mail_with(&sink, ALERT), 0, "nothing has got through yet");

    // The server answers again: the sends that went on after the answers get through.
    relay.hold(false);
    sink.wait_for("alice@example.com", 3).await;
    assert_eq!(mail_with(&sink, ALERT), 1);
    assert_eq!(mail_with(&sink, "Your Portal password was changed"), 1);
}
