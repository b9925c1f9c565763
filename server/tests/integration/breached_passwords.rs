//! Breached passwords: refused at sign-up, change and reset, flagged after a sign-in, looked up in
//! a Have I Been Pwned range API (a real HTTP server on loopback, serving a generated hash file)
//! or in that file itself; only the SHA-1's 5-digit prefix ever leaves, and a slow list never
//! holds anyone up for more than a second.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::{
    account::{
        change_password::ChangePassword, forgot_password::RequestPasswordReset, login::LoginStage,
        reset_password::ResetPassword, service::new_password::BREACHED, signup::Signup,
    },
    breached_passwords::BreachedPasswords,
    error::AppError,
    security::breached::PasswordSha1,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
};
use reqwest::Client;

use crate::common::{PASSWORD, TestPortal, location, login, second_browser};

/// On the list (and strong enough for zxcvbn: only the list refuses it).
const BREACHED_PASSWORD: &str = "velvet otter quarry";
/// Not on the list.
const FINE_PASSWORD: &str = "plum tractor seventy";
/// In the range answer only as padding, with a count of 0.
const PADDED_PASSWORD: &str = "amber lantern meadow";
/// Hashes in the generated list besides the breached one.
const LISTED: usize = 3000;

/// A hash file as HIBP's "ordered by hash" download is: `SHA1HEX:COUNT` lines, CRLF, sorted.
struct HashFile {
    _folder: tempfile::TempDir,
    path: PathBuf,
}

impl HashFile {
    /// `LISTED` generated hashes and those of `passwords`.
    fn with(passwords: &[&str]) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let path = folder
            .path()
            .join("pwned-passwords-sha1-ordered-by-hash.txt");
        let file = Self {
            _folder: folder,
            path,
        };
        file.write(passwords);
        file
    }

    /// Writes the list again, with `passwords` listed: a newer download put in place.
    fn write(&self, passwords: &[&str]) {
        let mut hashes: Vec<String> = (0..LISTED)
            .map(|n| format!("leaked password {n}"))
            .chain(passwords.iter().map(|password| password.to_string()))
            .map(|password| PasswordSha1::of(&password).hex().to_owned())
            .collect();
        hashes.sort();
        let text: String = hashes
            .iter()
            .enumerate()
            .map(|(n, hash)| format!("{hash}:{}\r\n", n % 97 + 1))
            .collect();
        let staged = self.path.with_extension("new");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, &self.path).unwrap();
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// One request as the range API received it, whole.
#[derive(Debug, Clone)]
struct Asked {
    method: Method,
    uri: String,
    headers: String,
    body: Bytes,
}

#[derive(Clone)]
struct RangeState {
    file: Arc<PathBuf>,
    asked: Arc<Mutex<Vec<Asked>>>,
    delay_ms: Arc<AtomicU64>,
}

/// Have I Been Pwned's range API on 127.0.0.1:0: `GET /range/{prefix}` answers the hash file's
/// suffixes under that prefix, padded when asked with lines of count 0 (the padded password's
/// among them). It records every request it gets and answers as slowly as it is told.
struct RangeApi {
    url: String,
    state: RangeState,
    task: tokio::task::JoinHandle<()>,
}

impl RangeApi {
    async fn serve(file: &HashFile) -> Self {
        let state = RangeState {
            file: Arc::new(file.path.clone()),
            asked: Arc::default(),
            delay_ms: Arc::default(),
        };
        let router = axum::Router::new()
            .fallback(answer_range)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { url, state, task }
    }

    /// Every answer from now on waits this long first.
    fn slow_down(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    fn asked(&self) -> Vec<Asked> {
        self.state.asked.lock().unwrap().clone()
    }
}

impl Drop for RangeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer_range(
    State(state): State<RangeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let listed_headers = headers
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    state.asked.lock().unwrap().push(Asked {
        method: method.clone(),
        uri: uri.to_string(),
        headers: listed_headers,
        body,
    });
    tokio::time::sleep(Duration::from_millis(
        state.delay_ms.load(Ordering::Relaxed),
    ))
    .await;
    let Some(prefix) = uri.path().strip_prefix("/range/") else {
        return (StatusCode::NOT_FOUND, String::new());
    };
    if method != Method::GET || !is_prefix(prefix) {
        return (StatusCode::BAD_REQUEST, String::new());
    }
    let file = std::fs::read_to_string(state.file.as_ref()).unwrap();
    let mut lines: Vec<String> = file
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| format!("{rest}\r\n"))
        .collect();
    let padded = headers
        .get("Add-Padding")
        .is_some_and(|value| value == "true");
    if padded {
        let padding = PasswordSha1::of(PADDED_PASSWORD);
        if padding.prefix() == prefix {
            lines.push(format!("{}:0\r\n", padding.suffix()));
        }
        for n in 0..100 {
            let filler = PasswordSha1::of(&format!("padding {prefix} {n}"));
            lines.push(format!("{}:0\r\n", filler.suffix()));
        }
    }
    (StatusCode::OK, lines.concat())
}

fn is_prefix(text: &str) -> bool {
    text.len() == 5
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'A'..=b'F'))
}

/// A portal that looks passwords up in `api`.
async fn portal_asking(api: &RangeApi) -> TestPortal {
    TestPortal::builder()
        .arg("--breached-passwords-url", &api.url)
        .start()
        .await
}

fn signup(username: &str, password: &str) -> Signup {
    Signup {
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        password: password.to_owned(),
    }
}

fn is_breach_refusal<T: std::fmt::Debug>(answer: &Result<T, AppError>, on_field: &str) -> bool {
    matches!(answer, Err(AppError::Validation { field, message }) if field == on_field && message == BREACHED)
}

/// A signed-up account with its address verified, signed in in the browser returned.
async fn account(portal: &TestPortal, username: &str, password: &str) -> Client {
    let browser = portal.browser();
    portal
        .call_fn(&browser, signup(username, password))
        .await
        .expect("the sign-up goes through");
    portal.verify_email(&browser, username).await;
    browser
}

/// The token of the newest reset link mailed to `username`, once `count` mails have come.
async fn reset_token(portal: &TestPortal, username: &str, count: usize) -> String {
    let browser = portal.browser();
    let asked = portal
        .post_fn(
            &browser,
            RequestPasswordReset {
                account: username.to_owned(),
            },
        )
        .await;
    assert!(asked.status().is_success(), "{}", asked.status());
    let mail = portal
        .smtp
        .wait_for(&format!("{username}@example.com"), count)
        .await;
    let link = mail
        .iter()
        .rev()
        .find_map(|mail| mail.link(&portal.url("/reset-password?token=")))
        .expect("a reset mail with its link");
    link.split("token=").nth(1).unwrap().to_owned()
}

fn reset(token: &str, password: &str) -> ResetPassword {
    ResetPassword {
        token: token.to_owned(),
        new_password: password.to_owned(),
        code: String::new(),
    }
}

fn change(current: &str, new: &str) -> ChangePassword {
    ChangePassword {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
        code: String::new(),
    }
}

#[tokio::test]
async fn a_breached_password_is_refused_at_sign_up_change_and_reset_beside_its_field() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let api = RangeApi::serve(&file).await;
    let portal = portal_asking(&api).await;

    let refused = portal
        .call_fn(&portal.browser(), signup("alice", BREACHED_PASSWORD))
        .await;
    assert!(is_breach_refusal(&refused, "password"), "{refused:?}");
    // Without JavaScript: back to the form, the words beside the field.
    let browser = portal.browser();
    let sent = portal
        .submit(&browser, "/signup", signup("alice", BREACHED_PASSWORD))
        .await;
    assert_eq!(sent.status(), StatusCode::FOUND);
    let back = location(&sent).unwrap().to_owned();
    assert!(back.starts_with("/signup?"), "{back}");
    let page = portal.get_text(&browser, &back).await;
    assert!(page.contains(BREACHED), "{page}");

    let alice = account(&portal, "alice", FINE_PASSWORD).await;
    let changed = portal
        .call_fn(&alice, change(FINE_PASSWORD, BREACHED_PASSWORD))
        .await;
    assert!(is_breach_refusal(&changed, "new_password"), "{changed:?}");
    // The verification mail, then the reset mail.
    let token = reset_token(&portal, "alice", 2).await;
    let at_reset = portal
        .call_fn(&portal.browser(), reset(&token, BREACHED_PASSWORD))
        .await;
    assert!(is_breach_refusal(&at_reset, "new_password"), "{at_reset:?}");
    // The same link still takes a password that is not on the list.
    portal
        .call_fn(&portal.browser(), reset(&token, "quiet marble harbour"))
        .await
        .expect("a password off the list is taken");
    assert_eq!(
        portal
            .call_fn(&portal.browser(), login("alice", "quiet marble harbour"))
            .await,
        Ok(LoginStage::Password)
    );
    // One lookup a check: the two refused sign-ups, the sign-up, the change, the two resets and
    // the sign-in.
    assert_eq!(api.asked().len(), 7, "{:?}", api.asked());
}

#[tokio::test]
async fn only_the_five_digit_prefix_of_the_sha1_leaves_the_server() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let api = RangeApi::serve(&file).await;
    let portal = portal_asking(&api).await;
    let browser = portal.browser();
    portal
        .call_fn(&browser, signup("alice", FINE_PASSWORD))
        .await
        .expect("a password off the list is taken");
    let refused = portal
        .call_fn(&portal.browser(), signup("bob", BREACHED_PASSWORD))
        .await;
    assert!(is_breach_refusal(&refused, "password"), "{refused:?}");

    let asked = api.asked();
    let prefixes: Vec<String> = [FINE_PASSWORD, BREACHED_PASSWORD]
        .iter()
        .map(|password| format!("/range/{}", PasswordSha1::of(password).prefix()))
        .collect();
    assert_eq!(
        asked
            .iter()
            .map(|asked| asked.uri.clone())
            .collect::<Vec<_>>(),
        prefixes,
        "one GET /range/<5 hex digits> a lookup"
    );
    for request in &asked {
        assert_eq!(request.method, Method::GET);
        assert!(request.body.is_empty(), "{request:?}");
        assert!(
            request.headers.contains("add-padding: true"),
            "the answer is asked padded: {request:?}"
        );
        let sent = format!("{} {}\n{}", request.method, request.uri, request.headers);
        for password in [FINE_PASSWORD, BREACHED_PASSWORD] {
            let hash = PasswordSha1::of(password);
            for secret in [password, hash.hex(), hash.suffix(), &hash.hex()[..6]] {
                assert!(
                    !sent
                        .to_ascii_uppercase()
                        .contains(&secret.to_ascii_uppercase()),
                    "{secret:?} left the server: {sent}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_padding_entry_with_a_count_of_0_is_no_breach() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let api = RangeApi::serve(&file).await;
    let portal = portal_asking(&api).await;
    portal
        .call_fn(&portal.browser(), signup("alice", PADDED_PASSWORD))
        .await
        .expect("a suffix listed only as padding is no breach");
    let asked = api.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].uri,
        format!("/range/{}", PasswordSha1::of(PADDED_PASSWORD).prefix())
    );
}

#[tokio::test]
async fn a_lookup_slower_than_a_second_lets_the_password_through_and_is_logged() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let api = RangeApi::serve(&file).await;
    let mut portal = TestPortal::builder().start().await;
    let server = portal
        .serve_from_process(&[("--breached-passwords-url", &api.url)])
        .await;
    let browser = portal.browser();
    // What a sign-up and a sign-in take while the list answers at once.
    let started = Instant::now();
    portal
        .call_fn(&browser, signup("bob", FINE_PASSWORD))
        .await
        .expect("a password off the list is taken");
    let sign_up = started.elapsed();
    let started = Instant::now();
    let stage = portal.call_fn(&browser, login("bob", FINE_PASSWORD)).await;
    let sign_in = started.elapsed();
    assert_eq!(stage, Ok(LoginStage::Password));

    api.slow_down(Duration::from_secs(5));
    let started = Instant::now();
    portal
        .call_fn(&portal.browser(), signup("alice", BREACHED_PASSWORD))
        .await
        .expect("a lookup that runs out lets the password through");
    let slow_sign_up = started.elapsed();
    let browser = portal.browser();
    let started = Instant::now();
    let stage = portal
        .call_fn(&browser, login("alice", BREACHED_PASSWORD))
        .await;
    let slow_sign_in = started.elapsed();
    assert_eq!(stage, Ok(LoginStage::Password), "never a refused sign-in");
    eprintln!(
        "sign-up {sign_up:?} → {slow_sign_up:?}, sign-in {sign_in:?} → {slow_sign_in:?} \
         with a range API that waits 5 s"
    );
    for (quick, slow) in [(sign_up, slow_sign_up), (sign_in, slow_sign_in)] {
        // The lookup was waited on for its bound, and then given up: the list answers after 5 s.
        // (Alone, the lookup's bound is measured in `a_lookup_answers_within_a_second_…`; here
        // the Argon2id hash beside it varies with the machine's load.)
        assert!(slow >= Duration::from_millis(950), "{slow:?}");
        assert!(
            slow < quick + Duration::from_millis(3000),
            "{quick:?} → {slow:?}"
        );
    }
    assert!(
        !portal
            .get_text(&browser, "/portal")
            .await
            .contains("data breach"),
        "an unanswered lookup flags nothing"
    );

    let breached = PasswordSha1::of(BREACHED_PASSWORD);
    let log = server.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("breached-password lookup timed out"))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    for warning in warnings {
        assert!(warning.contains("WARN"), "{warning}");
        assert!(warning.contains(breached.prefix()), "{warning}");
        assert!(!warning.contains(breached.suffix()), "{warning}");
        assert!(!warning.contains(BREACHED_PASSWORD), "{warning}");
    }
}

#[tokio::test]
async fn a_lookup_answers_within_a_second_whatever_the_list_does() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let api = RangeApi::serve(&file).await;
    let lookup = BreachedPasswords::range(&api.url).unwrap();
    let breached = PasswordSha1::of(BREACHED_PASSWORD);
    let started = Instant::now();
    assert!(lookup.lists(&breached).await, "the list has it");
    assert!(!lookup.lists(&PasswordSha1::of(FINE_PASSWORD)).await);
    let quick = started.elapsed() / 2;
    api.slow_down(Duration::from_secs(5));
    let started = Instant::now();
    assert!(!lookup.lists(&breached).await, "no answer in time is a no");
    let slow = started.elapsed();
    eprintln!("a lookup over loopback: {quick:?}; against a range API that waits 5 s: {slow:?}");
    assert!(slow >= Duration::from_millis(950), "{slow:?}");
    assert!(slow < Duration::from_millis(1500), "{slow:?}");

    // Nothing listening at all: a no at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let started = Instant::now();
    assert!(
        !BreachedPasswords::range(&nowhere)
            .unwrap()
            .lists(&breached)
            .await
    );
    assert!(started.elapsed() < Duration::from_millis(1100));
}

/// A portal that looks passwords up in `file`.
async fn portal_reading(file: &HashFile) -> TestPortal {
    TestPortal::builder()
        .arg("--breached-passwords-file", file.path())
        .start()
        .await
}

#[tokio::test]
async fn the_local_file_finds_a_listed_hash_and_passes_others() {
    let file = HashFile::with(&[BREACHED_PASSWORD]);
    let portal = portal_reading(&file).await;
    let refused = portal
        .call_fn(&portal.browser(), signup("alice", BREACHED_PASSWORD))
        .await;
    assert!(is_breach_refusal(&refused, "password"), "{refused:?}");
    portal
        .call_fn(&portal.browser(), signup("alice", FINE_PASSWORD))
        .await
        .expect("a hash not in the file passes");

    // The lookup alone, for its time against a file of a few thousand lines.
    let lookup = BreachedPasswords::file(file.path.clone());
    let started = Instant::now();
    assert!(lookup.lists(&PasswordSha1::of(BREACHED_PASSWORD)).await);
    assert!(!lookup.lists(&PasswordSha1::of(FINE_PASSWORD)).await);
    eprintln!(
        "two file lookups ({} lines): {:?}",
        LISTED + 1,
        started.elapsed()
    );
}

#[tokio::test]
async fn a_sign_in_with_a_breached_password_goes_through_and_the_portal_asks_to_change_it() {
    // Signed up while the list did not have the password yet.
    let file = HashFile::with(&[]);
    let portal = portal_reading(&file).await;
    account(&portal, "alice", FINE_PASSWORD).await;
    let before = portal.browser();
    assert_eq!(
        portal.call_fn(&before, login("alice", FINE_PASSWORD)).await,
        Ok(LoginStage::Password)
    );
    assert!(
        !portal
            .get_text(&before, "/portal")
            .await
            .contains("data breach")
    );

    // A newer list has it.
    file.write(&[FINE_PASSWORD]);
    let browser = portal.browser();
    assert_eq!(
        portal
            .call_fn(&browser, login("alice", FINE_PASSWORD))
            .await,
        Ok(LoginStage::Password),
        "a breached password still signs in"
    );
    let page = portal.get_text(&browser, "/portal").await;
    assert!(
        page.contains("This password has appeared in a data breach; change it."),
        "{page}"
    );
    assert!(page.contains(r#"href="/settings/password""#), "{page}");
    // The browser signed in before the list had it is not told.
    assert!(
        !portal
            .get_text(&before, "/portal")
            .await
            .contains("data breach")
    );

    // Changed to a password off the list: the warning is gone.
    portal
        .call_fn(&browser, change(FINE_PASSWORD, "quiet marble harbour"))
        .await
        .expect("the change goes through");
    assert!(
        !portal
            .get_text(&browser, "/portal")
            .await
            .contains("data breach")
    );
}

#[tokio::test]
async fn with_two_factor_the_breach_is_told_only_once_the_sign_in_is_whole() {
    let file = HashFile::with(&[]);
    let portal = portal_reading(&file).await;
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    file.write(&[PASSWORD]);

    // The password step says nothing of it.
    let pending = portal.browser();
    let answer = portal.call_text(&pending, login("alice", PASSWORD)).await;
    assert!(!answer.contains("breach"), "{answer}");
    assert!(
        !portal
            .get_text(&pending, "/portal")
            .await
            .contains("data breach")
    );

    let browser = second_browser(&portal, "alice", &authenticator, false).await;
    let page = portal.get_text(&browser, "/portal").await;
    assert!(
        page.contains("This password has appeared in a data breach; change it."),
        "{page}"
    );
}
