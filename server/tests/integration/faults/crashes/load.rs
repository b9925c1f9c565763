//! The crash test's load: jobs taken by many workers at once, each a write through the product
//! (a sign-up, the enrollment wizard, a sign-in with its code), and what each answered as done.

use std::{collections::VecDeque, sync::Mutex};

use app::account::login::LoginStage;
use app::account::signup::Signup;
use app::error::AppError;
use app::security::totp::{TotpStep, code_at};
use app::settings::LoadSecurityOverview;
use app::two_factor::TwoFactorState;
use app::two_factor::enroll::{ConfirmEnrollment, SaveRecoveryCode, StartEnrollment};
use futures::StreamExt as _;
use leptos::server_fn::{
    ServerFn,
    serde::{Serialize, de::DeserializeOwned},
};
use reqwest::{Client, StatusCode};
use tokio::sync::Notify;

use crate::common::{Authenticator, PASSWORD, TestPortal, code_for_key, code_form, login};

/// Jobs under way at once.
const WORKERS: usize = 24;

/// A write of the load, waiting for a worker.
pub enum Job {
    SignUp { username: String },
    Enroll { username: String, browser: Client },
    CheckCode { username: String, secret: Vec<u8> },
}

/// A write the server answered as done, with what it must leave behind.
#[derive(Debug)]
pub enum Write {
    /// The account exists: it signs in with its password.
    SignUp { username: String },
    /// Two-factor is on: sign-in asks for a code, and the recovery code is accepted.
    Enrollment {
        username: String,
        recovery_code: String,
    },
    /// The code's step is spent: the same code again is refused as replayed.
    CodeCheck {
        username: String,
        step: i64,
        code: String,
    },
}

/// Why a job stopped before it was answered as done.
pub enum Stop {
    /// The connection failed or closed: the server is gone.
    CutOff,
    /// The server answered, but not with success.
    Refused(String),
}
/// Accounts for enrollments (signed in, address verified) and for code checks (two-factor on),
/// made through the product before the load, a few at once.
pub async fn prepared_jobs(
    portal: &TestPortal,
    enrollments: usize,
    code_checks: usize,
) -> (Vec<Job>, Vec<Job>) {
    let enrollments = futures::stream::iter(0..enrollments)
        .map(|index| async move {
            let username = format!("enrolls-{index}");
            let browser = portal.browser();
            let signed_up = portal.sign_up(&browser, &username, PASSWORD).await;
            assert_eq!(signed_up.status(), StatusCode::OK);
            portal.verify_email(&browser, &username).await;
            Job::Enroll { username, browser }
        })
        .buffer_unordered(6)
        .collect::<Vec<_>>();
    let code_checks = futures::stream::iter(0..code_checks)
        .map(|index| async move {
            let username = format!("checks-{index}");
            let (_, Authenticator { secret, .. }) = portal.account_with_two_factor(&username).await;
            Job::CheckCode { username, secret }
        })
        .buffer_unordered(6)
        .collect::<Vec<_>>();
    tokio::join!(enrollments, code_checks)
}

/// What a round's load came to.
#[derive(Default)]
pub struct Outcome {
    /// Writes answered as done.
    pub acknowledged: Vec<Write>,
    /// Answers that were not success.
    pub refusals: Vec<String>,
    /// Jobs whose connection failed: in flight at the kill, or sent after it.
    pub cut_off: usize,
}

/// Workers take jobs from `queue` until it is empty or the server is gone; `answered` hears of
/// each write answered as done.
pub async fn load(portal: &TestPortal, queue: &Mutex<VecDeque<Job>>, answered: &Notify) -> Outcome {
    let outcome = Mutex::new(Outcome::default());
    futures::future::join_all((0..WORKERS).map(|_| async {
        loop {
            let Some(job) = queue.lock().unwrap().pop_front() else {
                return;
            };
            let result = run(portal, job).await;
            let mut outcome = outcome.lock().unwrap();
            match result {
                Ok(write) => {
                    outcome.acknowledged.push(write);
                    answered.notify_one();
                }
                Err(Stop::Refused(why)) => outcome.refusals.push(why),
                Err(Stop::CutOff) => {
                    outcome.cut_off += 1;
                    return;
                }
            }
        }
    }))
    .await;
    outcome.into_inner().unwrap()
}

async fn run(portal: &TestPortal, job: Job) -> Result<Write, Stop> {
    match job {
        Job::SignUp { username } => {
            let browser = portal.browser();
            let form = Signup {
                username: username.clone(),
                email: format!("{username}@example.com"),
                password: PASSWORD.to_owned(),
            };
            call(portal, &browser, form).await?;
            Ok(Write::SignUp { username })
        }
        Job::Enroll { username, browser } => {
            call(portal, &browser, StartEnrollment {}).await?;
            let overview = call(portal, &browser, LoadSecurityOverview {}).await?;
            let TwoFactorState::Scanning { key, .. } = overview.two_factor.state else {
                return Err(Stop::Refused(format!(
                    "{username}: the wizard shows no key"
                )));
            };
            let code = code_for_key(portal, &key);
            call(portal, &browser, ConfirmEnrollment { code }).await?;
            let overview = call(portal, &browser, LoadSecurityOverview {}).await?;
            let Some(recovery_code) = overview.two_factor.recovery_code else {
                return Err(Stop::Refused(format!("{username}: no recovery code shown")));
            };
            let saved = Some("yes".to_owned());
            call(portal, &browser, SaveRecoveryCode { saved }).await?;
            Ok(Write::Enrollment {
                username,
                recovery_code,
            })
        }
        Job::CheckCode { username, secret } => {
            let browser = portal.browser();
            let stage = call(portal, &browser, login(&username, PASSWORD)).await?;
            if stage != LoginStage::SecondFactor {
                return Err(Stop::Refused(format!("{username}: no code asked")));
            }
            // The next step: the enrollment spent the step it was made in.
            let step = TotpStep::at(portal.clock.now()).0 + 1;
            let code = code_at(&secret, TotpStep(step));
            call(portal, &browser, code_form(&code)).await?;
            Ok(Write::CodeCheck {
                username,
                step,
                code,
            })
        }
    }
}

/// A server function called as the hydrated page does; a failed or closed connection is
/// `CutOff`, never a panic, as the kill may come at any byte.
async fn call<F>(portal: &TestPortal, browser: &Client, args: F) -> Result<F::Output, Stop>
where
    F: ServerFn<Error = AppError> + Serialize,
    F::Output: DeserializeOwned,
{
    let sent = browser
        .post(portal.url(F::PATH))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&args)
        .send()
        .await;
    let Ok(response) = sent else {
        return Err(Stop::CutOff);
    };
    let status = response.status();
    let Ok(body) = response.text().await else {
        return Err(Stop::CutOff);
    };
    if !status.is_success() {
        return Err(Stop::Refused(format!("{}: {status} {body}", F::PATH)));
    }
    serde_json::from_str(&body)
        .map_err(|error| Stop::Refused(format!("{}: {status} {body:?}: {error}", F::PATH)))
}
pub fn kinds(writes: &[Write]) -> String {
    let count = |kind: fn(&Write) -> bool| writes.iter().filter(|write| kind(write)).count();
    format!(
        "{} sign-ups, {} enrollments, {} code checks",
        count(|write| matches!(write, Write::SignUp { .. })),
        count(|write| matches!(write, Write::Enrollment { .. })),
        count(|write| matches!(write, Write::CodeCheck { .. })),
    )
}

/// splitmix64: the kill moments and the order of the jobs follow from the seed alone.
pub struct Dice(pub u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

pub fn shuffle<T>(items: &mut [T], dice: &mut Dice) {
    for last in (1..items.len()).rev() {
        let other = dice.below(last as u64 + 1) as usize;
        items.swap(last, other);
    }
}
