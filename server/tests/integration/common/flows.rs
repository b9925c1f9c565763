//! What a person does with the portal, in one call each: sign up, verify the address, walk the
//! enrollment wizard, sign in with the password and then the code, read the security page.

use app::account::login::{Login, LoginStage};
use app::account::portal::Logout;
use app::account::signup::Signup;
use app::account::verify_email::VerifyEmail;
use app::settings::{LoadSecurityOverview, SecurityPageData};
use app::two_factor::enroll::{ConfirmEnrollment, SaveRecoveryCode, StartEnrollment};
use app::two_factor::{TwoFactorState, prompt::VerifySignInCode};
use reqwest::{Client, Response, StatusCode};

use super::{PASSWORD, TestPortal, open_link};

/// An account's second factor as its owner sees it: the key from the page, and the codes an app
/// would show for it.
pub struct Authenticator {
    pub secret: Vec<u8>,
    pub recovery_code: String,
}

impl Authenticator {
    /// The code an app shows `steps_ahead` steps after now.
    pub fn code(&self, portal: &TestPortal, steps_ahead: i64) -> String {
        let step = app::security::totp::TotpStep::at(portal.clock.now());
        app::security::totp::code_at(
            &self.secret,
            app::security::totp::TotpStep(step.0 + steps_ahead),
        )
    }
}

/// The code an app shows now for a key as the wizard shows it (base32, grouped by spaces).
pub fn code_for_key(portal: &TestPortal, key: &str) -> String {
    app::security::totp::code_at(
        &secret_of_key(key),
        app::security::totp::TotpStep::at(portal.clock.now()),
    )
}

fn secret_of_key(key: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(key.replace(' ', ""))
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The sign-in form's fields, with no `next`.
pub fn login(username: &str, password: &str) -> Login {
    Login {
        username: username.to_owned(),
        password: password.to_owned(),
        next: String::new(),
    }
}

/// The second step's form with `code`.
pub fn code_form(code: &str) -> VerifySignInCode {
    VerifySignInCode {
        code: code.to_owned(),
        next: String::new(),
        remember: None,
    }
}

impl TestPortal {
    pub async fn sign_up(&self, browser: &Client, username: &str, password: &str) -> Response {
        self.post_fn(
            browser,
            Signup {
                username: username.to_owned(),
                email: format!("{username}@example.com"),
                password: password.to_owned(),
            },
        )
        .await
    }

    pub async fn sign_in(&self, browser: &Client, username: &str, password: &str) -> Response {
        self.post_fn(browser, login(username, password)).await
    }

    pub async fn verify_code(&self, browser: &Client, code: &str) -> Response {
        self.post_fn(browser, code_form(code)).await
    }

    /// Opens the link of the newest verification email to `username@example.com` and presses
    /// its button.
    pub async fn verify_email(&self, browser: &Client, username: &str) {
        let address = format!("{username}@example.com");
        let mail = self.smtp.wait_for(&address, 1).await;
        let link = mail
            .iter()
            .rev()
            .find_map(|mail| mail.link(&self.url("/verify-email?token=")))
            .expect("a verification email with its link");
        let page = open_link(browser, &link).await;
        assert!(page.contains("Verify this address"), "{page}");
        let verified = self.press_verify(browser, &link).await;
        assert_eq!(verified.status(), StatusCode::OK);
    }

    /// The "Verify this address" button of a verification link's page, pressed.
    pub async fn press_verify(&self, browser: &Client, link: &str) -> Response {
        let token = link.split("token=").nth(1).expect("a link with its token");
        self.post_fn(
            browser,
            VerifyEmail {
                token: token.to_owned(),
            },
        )
        .await
    }

    pub async fn overview(&self, browser: &Client) -> SecurityPageData {
        self.call_fn(browser, LoadSecurityOverview {})
            .await
            .expect("the security page loads")
    }

    /// The security events of the account as its security page lists them, newest first.
    pub async fn events(&self, browser: &Client) -> Vec<String> {
        self.overview(browser)
            .await
            .activity
            .events
            .into_iter()
            .map(|event| event.description)
            .collect()
    }

    /// The key the enrollment wizard shows at its first step, if it shows one.
    pub async fn shown_key(&self, browser: &Client) -> Option<String> {
        match self.overview(browser).await.two_factor.state {
            TwoFactorState::Scanning { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Walks the enrollment wizard as a person with an authenticator app would.
    pub async fn enroll(&self, browser: &Client) -> Authenticator {
        self.call_fn(browser, StartEnrollment {})
            .await
            .expect("the wizard starts");
        let TwoFactorState::Scanning { key, .. } = self.overview(browser).await.two_factor.state
        else {
            panic!("the wizard shows the key");
        };
        let secret = secret_of_key(&key);
        let code = code_for_key(self, &key);
        self.call_fn(browser, ConfirmEnrollment { code })
            .await
            .expect("the first code confirms the wizard");
        let recovery_code = self
            .overview(browser)
            .await
            .two_factor
            .recovery_code
            .expect("step 2 shows the recovery code");
        self.call_fn(
            browser,
            SaveRecoveryCode {
                saved: Some("yes".to_owned()),
            },
        )
        .await
        .expect("the recovery code is saved");
        Authenticator {
            secret,
            recovery_code,
        }
    }

    /// A signed-up, signed-in account with two-factor authentication on.
    pub async fn account_with_two_factor(&self, username: &str) -> (Client, Authenticator) {
        let browser = self.browser();
        self.sign_up(&browser, username, PASSWORD).await;
        self.verify_email(&browser, username).await;
        let authenticator = self.enroll(&browser).await;
        (browser, authenticator)
    }
}

/// A second browser signed in to `username`: with the password and a fresh code, or, with
/// `remembered`, with the password alone on a browser the code step remembered earlier (the
/// second step skipped, as a stolen remember cookie and the password allow).
pub async fn second_browser(
    portal: &TestPortal,
    username: &str,
    authenticator: &Authenticator,
    remembered: bool,
) -> Client {
    let browser = portal.browser();
    portal.sign_in(&browser, username, PASSWORD).await;
    portal.clock.advance(60);
    portal
        .call_fn(
            &browser,
            VerifySignInCode {
                code: authenticator.code(portal, 0),
                next: String::new(),
                remember: remembered.then(|| "yes".to_owned()),
            },
        )
        .await
        .expect("the code is right");
    if remembered {
        portal.post_fn(&browser, Logout {}).await;
        let stage = portal
            .call_fn(&browser, login(username, PASSWORD))
            .await
            .expect("the password is right");
        assert_eq!(stage, LoginStage::Password);
    }
    assert_eq!(portal.get_status(&browser, "/portal").await, StatusCode::OK);
    browser
}
