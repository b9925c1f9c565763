//! The rest of an account's life: a forgotten password, a new password, a new address, closing
//! it; none of them a way around the second factor.

use app::account::login::Login;
use app::account::signup::Signup;
use app::org::LeaveOrganization;
use app::recovery::confirm::ConfirmRecovery;
use app::recovery::request::RequestRecovery;
use app::{
    account::{
        change_email::{ChangeEmail, ConfirmEmailChange, KeepEmail},
        change_password::ChangePassword,
        close::CloseAccount,
        forgot_password::RequestPasswordReset,
        new_password::AssessPassword,
        reset_password::ResetPassword,
    },
    error::{AppError, Link},
};
use reqwest::{Client, StatusCode};

use crate::common::{
    Authenticator, PASSWORD, TestPortal, at_once, code_form, login, open_link, session_id,
};
use crate::organizations::{account, acme};

const NEW_PASSWORD: &str = "plum tractor seventy";
const ALICE: &str = "alice@example.com";

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn ask_reset(portal: &TestPortal, typed: &str) -> reqwest::Response {
    let browser = portal.browser();
    portal
        .post_fn(
            &browser,
            RequestPasswordReset {
                account: typed.to_owned(),
            },
        )
        .await
}

/// The token of the newest reset link mailed to `address`, waiting for the `count`-th mail.
async fn reset_token(portal: &TestPortal, address: &str, count: usize) -> String {
    let mail = portal.smtp.wait_for(address, count).await;
    let link = mail
        .iter()
        .rev()
        .find_map(|mail| mail.link(&portal.url("/reset-password?token=")))
        .expect("a password reset email with its link");
    token_of(&link)
}

fn reset(token: &str, password: &str, code: &str) -> ResetPassword {
    ResetPassword {
        token: token.to_owned(),
        new_password: password.to_owned(),
        code: code.to_owned(),
    }
}

async fn count(portal: &TestPortal, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&portal.database().await)
        .await
        .unwrap()
}

async fn signed_in(portal: &TestPortal, browser: &Client) -> bool {
    portal.get_status(browser, "/portal").await == StatusCode::OK
}

#[tokio::test]
async fn forgot_password_answers_alike_for_known_and_unknown_and_mails_only_a_verified_address() {
    let portal = TestPortal::start().await;
    account(&portal, "alice").await;
    let unverified = portal.browser();
    portal.sign_up(&unverified, "carol", PASSWORD).await;

    let mut answers = Vec::new();
    for typed in [
        "alice",
        "ALICE@example.com",
        "nobody",
        "nobody@example.com",
        "carol",
    ] {
        let response = ask_reset(&portal, typed).await;
        answers.push((response.status(), response.text().await.unwrap()));
    }
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    assert_eq!(answers[0].0, StatusCode::OK);

    let mail = portal.smtp.wait_for(ALICE, 3).await;
    let resets: Vec<_> = mail
        .iter()
        .filter(|mail| mail.subject.contains("Reset your Portal password"))
        .collect();
    assert_eq!(resets.len(), 2, "by username and by address");
    assert!(resets[0].text.contains("30 minutes"));
    // Carol's address is not proven: no link goes to it (only the verification mail).
    let carol = portal.smtp.wait_for("carol@example.com", 2).await;
    assert!(
        carol.iter().all(|mail| !mail.subject.contains("Reset")),
        "{carol:?}"
    );
    assert!(portal.smtp.mail_to("nobody@example.com").is_empty());
}

#[tokio::test]
async fn at_most_three_reset_mails_an_hour_even_when_asked_at_once() {
    let portal = TestPortal::start().await;
    account(&portal, "alice").await;
    let answers = at_once(10, |_| ask_reset(&portal, "alice")).await;
    assert!(
        answers
            .iter()
            .all(|answer| answer.status() == StatusCode::OK)
    );
    let mail = portal.smtp.wait_for(ALICE, 5).await;
    let resets = mail
        .iter()
        .filter(|mail| mail.subject.contains("Reset your Portal password"))
        .count();
    assert_eq!(resets, 3);
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_signs_out_every_session() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    assert!(signed_in(&portal, &alice).await);
    ask_reset(&portal, "alice").await;
    let token = reset_token(&portal, ALICE, 2).await;

    // Opening the page changes nothing.
    let page = portal
        .get_text(&portal.browser(), &format!("/reset-password?token={token}"))
        .await;
    assert!(
        page.contains("New password") && page.contains("alice"),
        "{page}"
    );
    assert!(!page.contains("Authentication code"));

    let browser = portal.browser();
    portal
        .call_fn(&browser, reset(&token, NEW_PASSWORD, ""))
        .await
        .expect("the link sets the password");
    assert!(
        !signed_in(&portal, &alice).await,
        "every session is signed out"
    );
    assert_eq!(
        portal
            .call_fn(
                &browser,
                Login {
                    username: "alice".into(),
                    password: PASSWORD.into(),
                    next: String::new(),
                }
            )
            .await,
        Err(AppError::InvalidCredentials)
    );
    let again = portal.browser();
    portal.sign_in(&again, "alice", NEW_PASSWORD).await;
    assert!(signed_in(&portal, &again).await);
    assert!(
        portal
            .events(&again)
            .await
            .contains(&"Password reset by email link".to_owned())
    );
    let notice = portal.smtp.wait_for(ALICE, 3).await;
    assert!(
        notice
            .iter()
            .any(|mail| mail.subject.contains("password was reset"))
    );

    assert_eq!(
        portal
            .call_fn(&browser, reset(&token, "another fine passphrase", ""))
            .await,
        Err(AppError::LinkUsed {
            link: Link::PasswordReset
        })
    );
}

#[tokio::test]
async fn one_reset_link_used_at_once_many_times_sets_one_password() {
    let portal = TestPortal::start().await;
    account(&portal, "alice").await;
    ask_reset(&portal, "alice").await;
    let token = reset_token(&portal, ALICE, 2).await;
    let passwords: Vec<String> = (0..8)
        .map(|n| format!("racing passphrase number {n}"))
        .collect();
    let portal = &portal;
    let answers = at_once(8, |n| {
        let browser = portal.browser();
        let args = reset(&token, &passwords[n], "");
        async move { portal.call_fn(&browser, args).await }
    })
    .await;
    let winners: Vec<usize> = (0..8).filter(|n| answers[*n].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (n, answer) in answers.iter().enumerate() {
        if n != winners[0] {
            assert_eq!(
                *answer,
                Err(AppError::LinkUsed {
                    link: Link::PasswordReset
                })
            );
        }
    }
    let browser = portal.browser();
    portal
        .sign_in(&browser, "alice", &passwords[winners[0]])
        .await;
    assert!(signed_in(&portal, &browser).await);
}

#[tokio::test]
async fn a_reset_link_expires_after_30_minutes() {
    let portal = TestPortal::start().await;
    account(&portal, "alice").await;
    ask_reset(&portal, "alice").await;
    let token = reset_token(&portal, ALICE, 2).await;
    portal.clock.advance(30 * 60 + 1);
    assert_eq!(
        portal
            .call_fn(&portal.browser(), reset(&token, NEW_PASSWORD, ""))
            .await,
        Err(AppError::LinkExpired {
            link: Link::PasswordReset
        })
    );
}

/// Alice with two-factor authentication on, and the token of a reset link she asked for.
async fn two_factor_reset(portal: &TestPortal) -> (Authenticator, String) {
    let (_, authenticator) = portal.account_with_two_factor("alice").await;
    let before = portal.smtp.mail_to(ALICE).len();
    ask_reset(portal, "alice").await;
    let token = reset_token(portal, ALICE, before + 1).await;
    (authenticator, token)
}

#[tokio::test]
async fn a_mailbox_alone_cannot_reset_the_password_of_a_two_factor_account() {
    let portal = TestPortal::start().await;
    let (authenticator, token) = two_factor_reset(&portal).await;
    let page = portal
        .get_text(&portal.browser(), &format!("/reset-password?token={token}"))
        .await;
    assert!(page.contains("Authentication code"), "{page}");

    let browser = portal.browser();
    let without = portal
        .call_fn(&browser, reset(&token, NEW_PASSWORD, ""))
        .await;
    assert!(
        matches!(&without, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without:?}"
    );
    let wrong = portal
        .call_fn(&browser, reset(&token, NEW_PASSWORD, "000000"))
        .await;
    assert!(
        matches!(
            wrong,
            Err(AppError::InvalidCode) | Err(AppError::CodeReplayed)
        ),
        "{wrong:?}"
    );
    // Nothing was changed and the link still works.
    let old = portal.browser();
    portal.sign_in(&old, "alice", PASSWORD).await;
    let code = authenticator.code(&portal, 1);
    portal
        .call_fn(&browser, reset(&token, NEW_PASSWORD, &code))
        .await
        .expect("link and code together set the password");
    // The code was spent: it cannot finish a sign-in now.
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", NEW_PASSWORD).await;
    assert_eq!(
        portal.verify_code(&browser, &code).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_recovery_code_does_not_stand_in_for_the_app_at_a_reset() {
    let portal = TestPortal::start().await;
    let (authenticator, token) = two_factor_reset(&portal).await;
    let page = portal
        .get_text(&portal.browser(), &format!("/reset-password?token={token}"))
        .await;
    assert!(
        page.contains("The 6-digit code from your authenticator app.")
            && !page.contains("or your recovery code"),
        "{page}"
    );
    let mail = portal.smtp.mail_to(ALICE);
    let asked = mail
        .iter()
        .rev()
        .find(|mail| mail.subject.contains("Reset your Portal password"))
        .unwrap();
    assert!(!asked.text.contains("recovery code"), "{}", asked.text);
    let browser = portal.browser();
    let refused = portal
        .call_fn(
            &browser,
            reset(&token, NEW_PASSWORD, &authenticator.recovery_code),
        )
        .await;
    assert!(
        matches!(&refused, Err(AppError::Validation { field, message }) if field == "code" && message.contains("A recovery code does not reset a password")),
        "{refused:?}"
    );
    portal
        .call_fn(
            &browser,
            reset(&token, NEW_PASSWORD, &authenticator.code(&portal, 1)),
        )
        .await
        .expect("the app's code with the link sets the password");
    // Two-factor authentication stays on.
    assert_eq!(
        portal
            .call_fn(&portal.browser(), login("alice", NEW_PASSWORD))
            .await,
        Ok(app::account::login::LoginStage::SecondFactor)
    );
}

#[tokio::test]
async fn common_and_guessable_passwords_are_refused_with_the_reason_everywhere() {
    let portal = TestPortal::start().await;
    let browser = portal.browser();
    let refused = portal
        .call_fn(
            &browser,
            Signup {
                username: "alice".into(),
                email: ALICE.into(),
                password: "password1".into(),
            },
        )
        .await;
    assert!(
        matches!(&refused, Err(AppError::Validation { field, message }) if field == "password" && message.contains("common password")),
        "{refused:?}"
    );
    let own_name = portal
        .call_fn(
            &browser,
            Signup {
                username: "wonderland".into(),
                email: "wonderland@example.com".into(),
                password: "wonderland2024".into(),
            },
        )
        .await;
    assert!(
        matches!(own_name, Err(AppError::Validation { .. })),
        "{own_name:?}"
    );

    // The meter's verdict is the server's.
    let weak = portal
        .call_fn(
            &browser,
            AssessPassword {
                password: "password1".into(),
                known: String::new(),
            },
        )
        .await
        .unwrap();
    assert!(weak.score < 3 && weak.problem.is_some(), "{weak:?}");
    let strong = portal
        .call_fn(
            &browser,
            AssessPassword {
                password: NEW_PASSWORD.into(),
                known: String::new(),
            },
        )
        .await
        .unwrap();
    assert!(strong.score >= 3 && strong.problem.is_none(), "{strong:?}");

    let alice = account(&portal, "alice").await;
    let change = portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "qwertyuiop".into(),
                code: String::new(),
            },
        )
        .await;
    assert!(
        matches!(&change, Err(AppError::Validation { field, .. }) if field == "new_password"),
        "{change:?}"
    );
    ask_reset(&portal, "alice").await;
    let token = reset_token(&portal, ALICE, 2).await;
    let at_reset = portal
        .call_fn(&browser, reset(&token, "12345678", ""))
        .await;
    assert!(
        matches!(&at_reset, Err(AppError::Validation { field, .. }) if field == "new_password"),
        "{at_reset:?}"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_signs_out_the_other_sessions() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;

    let wrong = portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: "not the password".into(),
                new_password: NEW_PASSWORD.into(),
                code: String::new(),
            },
        )
        .await;
    assert!(
        matches!(&wrong, Err(AppError::Validation { field, .. }) if field == "current_password"),
        "{wrong:?}"
    );
    assert!(signed_in(&portal, &other).await);

    let before = portal.sign_in(&alice, "alice", PASSWORD).await;
    let before = session_id(&before).unwrap();
    let changed = portal
        .post_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: String::new(),
            },
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(
        session_id(&changed).expect("a step up renews the session id"),
        before
    );
    assert!(signed_in(&portal, &alice).await, "this session stays");
    assert!(
        !signed_in(&portal, &other).await,
        "the other one is signed out"
    );
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Password changed".to_owned())
    );
    let mail = portal.smtp.wait_for(ALICE, 2).await;
    assert!(
        mail.iter()
            .any(|mail| mail.subject.contains("password was changed"))
    );
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", NEW_PASSWORD).await;
    assert!(signed_in(&portal, &browser).await);
}

#[tokio::test]
async fn changing_the_password_with_two_factor_on_needs_a_code() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let change = |code: String| ChangePassword {
        current_password: PASSWORD.into(),
        new_password: NEW_PASSWORD.into(),
        code,
    };
    let without = portal.call_fn(&alice, change(String::new())).await;
    assert!(
        matches!(&without, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without:?}"
    );
    portal
        .call_fn(&alice, change(authenticator.code(&portal, 1)))
        .await
        .expect("password and code change it");
}

/// Asks, as Alice, to move her account to `new_email`.
async fn change_email(
    portal: &TestPortal,
    alice: &Client,
    new_email: &str,
    password: &str,
) -> Result<(), AppError> {
    portal
        .call_fn(
            alice,
            ChangeEmail {
                new_email: new_email.into(),
                password: password.into(),
                code: String::new(),
            },
        )
        .await
}

#[tokio::test]
async fn a_new_address_is_the_accounts_only_once_verified_and_the_old_one_can_take_it_back() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    let other = portal.browser();
    portal.sign_in(&other, "alice", PASSWORD).await;
    assert_eq!(
        change_email(&portal, &alice, "new@example.com", "not the password").await,
        Err(AppError::validation(
            "password",
            "That password is incorrect."
        ))
    );
    change_email(&portal, &alice, "new@example.com", PASSWORD)
        .await
        .expect("the change is asked for");
    let overview = portal.overview(&alice).await;
    assert_eq!(
        overview.email.address, ALICE,
        "nothing switches before the link is opened"
    );
    assert_eq!(overview.email.pending.as_deref(), Some("new@example.com"));

    // Until then, recovery and reset mail go to the verified old address.
    ask_reset(&portal, "alice").await;
    // The verification, the notice of the change, the new-device alert of `other`, the reset.
    let old_mail = portal.smtp.wait_for(ALICE, 4).await;
    assert!(
        old_mail
            .iter()
            .any(|mail| mail.subject.contains("Reset your Portal password"))
    );
    assert!(
        portal
            .smtp
            .mail_to("new@example.com")
            .iter()
            .all(|mail| !mail.subject.contains("Reset"))
    );
    let notice = old_mail
        .iter()
        .find(|mail| mail.subject.contains("is changing"))
        .expect("the old address is told");
    assert!(notice.text.contains("new@example.com") && notice.text.contains("7 days"));
    let keep = notice
        .link(&portal.url("/keep-email?token="))
        .expect("with a link to keep it");

    let confirm = portal.smtp.wait_for("new@example.com", 1).await[0]
        .link(&portal.url("/confirm-email?token="))
        .expect("the new address gets the link");
    // Opening the link changes nothing (mail scanners open links); its button confirms.
    let page = open_link(&alice, &confirm).await;
    assert!(
        page.contains("Confirm this email address") && page.contains("new@example.com"),
        "{page}"
    );
    assert_eq!(portal.overview(&alice).await.email.address, ALICE);
    portal
        .call_fn(
            &alice,
            ConfirmEmailChange {
                token: token_of(&confirm),
            },
        )
        .await
        .expect("confirmed");
    let overview = portal.overview(&alice).await;
    assert_eq!(overview.email.address, "new@example.com");
    assert!(overview.email.verified);
    assert_eq!(overview.email.pending, None);
    // The security page says the old address can still take the account back, and until when.
    let undo = overview.email.undo.expect("the live undo link is shown");
    assert_eq!(undo.email, ALICE);
    assert!(
        portal
            .get_text(&alice, "/settings/security")
            .await
            .contains("can move your account back to that address"),
    );
    // The reset link mailed to the old address died with the switch.
    let old_reset = reset_token(&portal, ALICE, 1).await;
    assert_eq!(
        portal
            .call_fn(&portal.browser(), reset(&old_reset, NEW_PASSWORD, ""))
            .await,
        Err(AppError::LinkUsed {
            link: Link::PasswordReset
        })
    );
    assert!(
        portal
            .events(&alice)
            .await
            .contains(&"Email address changed".to_owned())
    );

    // Days later the old address undoes it: back, and every session signed out.
    portal.clock.advance(3 * 24 * 60 * 60);
    let page = open_link(&portal.browser(), &keep).await;
    assert!(page.contains("Keep this email address"), "{page}");
    portal
        .call_fn(
            &portal.browser(),
            KeepEmail {
                token: token_of(&keep),
            },
        )
        .await
        .expect("the old address is kept");
    assert!(!signed_in(&portal, &alice).await);
    assert!(!signed_in(&portal, &other).await);
    let browser = portal.browser();
    portal.sign_in(&browser, "alice", PASSWORD).await;
    let overview = portal.overview(&browser).await;
    assert_eq!(overview.email.address, ALICE);
    assert!(overview.email.verified);
    assert_eq!(
        portal
            .call_fn(
                &browser,
                KeepEmail {
                    token: token_of(&keep)
                }
            )
            .await,
        Err(AppError::LinkUsed {
            link: Link::EmailChangeUndo
        })
    );
}

#[tokio::test]
async fn an_address_verified_by_another_account_is_never_switched_to_and_its_owner_is_told() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    account(&portal, "bob").await;
    let taken = change_email(&portal, &alice, "BOB@example.com", PASSWORD).await;
    let free = change_email(&portal, &alice, "free@example.com", PASSWORD).await;
    assert_eq!(taken, free, "the answer tells nothing");
    let bob = portal.smtp.wait_for("bob@example.com", 2).await;
    assert!(
        bob.iter()
            .any(|mail| mail.subject.contains("Someone tried")),
        "{bob:?}"
    );
    assert!(
        bob.iter()
            .all(|mail| mail.link(&portal.url("/confirm-email")).is_none())
    );
    assert_eq!(portal.overview(&alice).await.email.address, ALICE);
}

#[tokio::test]
async fn closing_the_account_needs_its_factors_and_leaves_only_an_anonymous_audit_row() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let close = |password: &str, code: String| CloseAccount {
        password: password.into(),
        code,
    };
    let without_code = portal.call_fn(&alice, close(PASSWORD, String::new())).await;
    assert!(
        matches!(&without_code, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without_code:?}"
    );
    let wrong_password = portal
        .call_fn(
            &alice,
            close("not the password", authenticator.code(&portal, 0)),
        )
        .await;
    assert!(
        matches!(&wrong_password, Err(AppError::Validation { field, .. }) if field == "password"),
        "{wrong_password:?}"
    );
    portal
        .call_fn(&alice, close(PASSWORD, authenticator.code(&portal, 1)))
        .await
        .expect("password and code close it");

    assert!(!signed_in(&portal, &alice).await);
    let browser = portal.browser();
    assert_eq!(
        portal.sign_in(&browser, "alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for table in [
        "users",
        "sign_ins",
        "email_tokens",
        "two_factor",
        "memberships",
    ] {
        let rows = count(&portal, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(rows, 0, "{table}");
    }
    assert_eq!(
        count(
            &portal,
            "SELECT count(*) FROM audit_events WHERE user_id IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(&portal, "SELECT count(*) FROM audit_events WHERE kind = 'account_closed' AND user_id IS NULL AND address IS NULL AND detail IS NULL").await,
        1
    );
    let mail = portal.smtp.mail_to(ALICE);
    assert!(
        mail.iter()
            .any(|mail| mail.subject.contains("account is closed"))
    );

    // The name stays retired for 30 days.
    let newcomer = portal.browser();
    let again = portal.call_fn(
        &newcomer,
        Signup {
            username: "alice".into(),
            email: "someone@example.com".into(),
            password: NEW_PASSWORD.into(),
        },
    );
    assert!(matches!(again.await, Err(AppError::Validation { field, .. }) if field == "username"));
    portal.clock.advance(31 * 24 * 60 * 60);
    portal
        .call_fn(
            &newcomer,
            Signup {
                username: "alice".into(),
                email: "someone@example.com".into(),
                password: NEW_PASSWORD.into(),
            },
        )
        .await
        .expect("after 30 days the name is free");
}

#[tokio::test]
async fn the_last_owner_of_an_organization_with_members_cannot_close_the_account() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let close = CloseAccount {
        password: PASSWORD.into(),
        code: String::new(),
    };
    let refused = portal.call_fn(&alice, close.clone()).await;
    assert_eq!(
        refused,
        Err(AppError::LastOwnerOfOrg { org: "Acme".into() })
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("Make another member owner")
    );
    assert!(signed_in(&portal, &alice).await, "nothing was closed");

    // Once Bob has left, Acme has no other member and goes with Alice's account.
    let left = portal
        .post_fn(
            &bob,
            LeaveOrganization {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(left.status(), StatusCode::OK);
    portal.call_fn(&alice, close).await.expect("closed");
    assert_eq!(
        count(&portal, "SELECT count(*) FROM organizations").await,
        0
    );
    assert!(signed_in(&portal, &bob).await, "Bob's account is untouched");
}

#[tokio::test]
async fn a_pending_change_of_address_dies_when_the_password_changes() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    change_email(&portal, &alice, "thief@example.com", PASSWORD)
        .await
        .unwrap();
    let confirm = portal.smtp.wait_for("thief@example.com", 1).await[0]
        .link(&portal.url("/confirm-email?token="))
        .unwrap();
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(portal.overview(&alice).await.email.pending, None);
    assert_eq!(
        portal
            .call_fn(
                &alice,
                ConfirmEmailChange {
                    token: token_of(&confirm)
                }
            )
            .await,
        Err(AppError::LinkUsed {
            link: Link::EmailChange
        })
    );
}

#[tokio::test]
async fn with_two_factor_on_a_change_of_address_needs_a_code() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let without = change_email(&portal, &alice, "new@example.com", PASSWORD).await;
    assert!(
        matches!(&without, Err(AppError::Validation { field, .. }) if field == "code"),
        "{without:?}"
    );
    portal
        .call_fn(
            &alice,
            ChangeEmail {
                new_email: "new@example.com".into(),
                password: PASSWORD.into(),
                code: authenticator.code(&portal, 1),
            },
        )
        .await
        .expect("password and code ask for the change");
}

/// Alice's second browser, past the password and waiting for its code.
async fn pending_sign_in(portal: &TestPortal) -> Client {
    let browser = portal.browser();
    let stage = portal.call_fn(&browser, login("alice", PASSWORD)).await;
    assert_eq!(stage, Ok(app::account::login::LoginStage::SecondFactor));
    browser
}

#[tokio::test]
async fn a_sign_in_that_passed_the_old_password_cannot_finish_after_a_password_change() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    let pending = pending_sign_in(&portal).await;
    portal.clock.advance(30);
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("the password is changed");
    portal.clock.advance(30);
    let finished = portal
        .call_fn(&pending, code_form(&authenticator.code(&portal, 0)))
        .await;
    assert_eq!(finished, Err(AppError::SignInExpired));
    assert!(!signed_in(&portal, &pending).await);
}

#[tokio::test]
async fn a_sign_in_that_passed_the_old_password_cannot_finish_after_a_reset() {
    let portal = TestPortal::start().await;
    let (authenticator, token) = two_factor_reset(&portal).await;
    let pending = pending_sign_in(&portal).await;
    portal
        .call_fn(
            &portal.browser(),
            reset(&token, NEW_PASSWORD, &authenticator.code(&portal, 1)),
        )
        .await
        .expect("the password is reset");
    portal.clock.advance(60);
    let finished = portal
        .call_fn(&pending, code_form(&authenticator.code(&portal, 0)))
        .await;
    assert_eq!(finished, Err(AppError::SignInExpired));
    assert!(!signed_in(&portal, &pending).await);
}

#[tokio::test]
async fn sign_ins_with_the_old_password_racing_a_reset_do_not_outlive_it() {
    let portal = TestPortal::start().await;
    account(&portal, "alice").await;
    ask_reset(&portal, "alice").await;
    let token = reset_token(&portal, ALICE, 2).await;
    let browsers: Vec<Client> = (0..6).map(|_| portal.browser()).collect();
    at_once(7, |n| {
        let (portal, browsers, token) = (&portal, &browsers, &token);
        async move {
            match browsers.get(n) {
                Some(browser) => {
                    portal.post_fn(browser, login("alice", PASSWORD)).await;
                }
                None => {
                    let reset = portal.browser();
                    portal.post_fn(&reset, reset_form(token)).await;
                }
            }
        }
    })
    .await;
    for browser in &browsers {
        assert!(
            !signed_in(&portal, browser).await,
            "a sign-in with the old password outlived the reset"
        );
    }
}

fn reset_form(token: &str) -> ResetPassword {
    reset(token, NEW_PASSWORD, "")
}

#[tokio::test]
async fn a_password_change_with_the_second_factor_withdraws_the_old_addresss_undo_link() {
    let portal = TestPortal::start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    portal
        .call_fn(
            &alice,
            ChangeEmail {
                new_email: "new@example.com".into(),
                password: PASSWORD.into(),
                code: authenticator.code(&portal, 1),
            },
        )
        .await
        .expect("the change is asked for");
    let keep = portal
        .smtp
        .wait_for(ALICE, 2)
        .await
        .iter()
        .find_map(|mail| mail.link(&portal.url("/keep-email?token=")))
        .expect("the old address gets an undo link");
    let confirm = portal.smtp.wait_for("new@example.com", 1).await[0]
        .link(&portal.url("/confirm-email?token="))
        .unwrap();
    portal
        .call_fn(
            &alice,
            ConfirmEmailChange {
                token: token_of(&confirm),
            },
        )
        .await
        .expect("confirmed");
    portal.clock.advance(60);
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: authenticator.code(&portal, 0),
            },
        )
        .await
        .expect("the password is changed");
    let kept = portal
        .call_fn(
            &portal.browser(),
            KeepEmail {
                token: token_of(&keep),
            },
        )
        .await;
    assert_eq!(
        kept,
        Err(AppError::LinkUsed {
            link: Link::EmailChangeUndo
        })
    );
    let overview = portal.overview(&alice).await;
    assert_eq!(overview.email.address, "new@example.com");
    assert_eq!(overview.email.undo, None);
}

#[tokio::test]
async fn a_password_change_without_a_second_factor_keeps_the_old_addresss_undo_link() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    change_email(&portal, &alice, "new@example.com", PASSWORD)
        .await
        .unwrap();
    let keep = portal
        .smtp
        .wait_for(ALICE, 2)
        .await
        .iter()
        .find_map(|mail| mail.link(&portal.url("/keep-email?token=")))
        .unwrap();
    let confirm = portal.smtp.wait_for("new@example.com", 1).await[0]
        .link(&portal.url("/confirm-email?token="))
        .unwrap();
    portal
        .call_fn(
            &alice,
            ConfirmEmailChange {
                token: token_of(&confirm),
            },
        )
        .await
        .unwrap();
    // A thief who knew the password could have made both changes: the password alone does not
    // take the owner's way back.
    portal
        .call_fn(
            &alice,
            ChangePassword {
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
                code: String::new(),
            },
        )
        .await
        .unwrap();
    assert!(portal.overview(&alice).await.email.undo.is_some());
    portal
        .call_fn(
            &portal.browser(),
            KeepEmail {
                token: token_of(&keep),
            },
        )
        .await
        .expect("the old address is kept");
}

#[tokio::test]
async fn wrong_codes_sent_at_once_with_one_reset_link_are_checked_at_most_three_times() {
    let portal = TestPortal::start().await;
    let (_, token) = two_factor_reset(&portal).await;
    let answers = at_once(10, |_| {
        let (portal, token) = (&portal, &token);
        async move {
            portal
                .call_fn(&portal.browser(), reset(token, NEW_PASSWORD, "000000"))
                .await
        }
    })
    .await;
    assert!(answers.iter().all(Result::is_err), "{answers:?}");
    assert!(
        count(
            &portal,
            "SELECT coalesce(max(failures), 0) FROM failure_counters WHERE factor = 'totp'"
        )
        .await
            <= 3,
        "{answers:?}"
    );
}

/// Whether `browser` ends up signed in to Alice with two-factor authentication off.
async fn signed_in_without_two_factor(portal: &TestPortal, browser: &Client) -> bool {
    signed_in(portal, browser).await && count(portal, "SELECT count(*) FROM two_factor").await == 0
}

#[tokio::test]
async fn the_mailbox_and_the_recovery_code_together_do_not_take_over_a_two_factor_account() {
    let portal = TestPortal::start().await;
    let (authenticator, token) = two_factor_reset(&portal).await;
    // All the attacker has: the mailbox (the outbox) and the recovery code.
    let recovery_code = authenticator.recovery_code.clone();
    drop(authenticator);
    let attacker = portal.browser();
    let reset = portal
        .call_fn(&attacker, reset(&token, NEW_PASSWORD, &recovery_code))
        .await;
    portal.sign_in(&attacker, "alice", NEW_PASSWORD).await;
    let before = portal.smtp.mail_to(ALICE).len();
    let requested = portal
        .post_fn(
            &attacker,
            RequestRecovery {
                recovery_code: recovery_code.to_owned(),
            },
        )
        .await;
    let recovery_link = if requested.status().is_success() {
        portal.smtp.wait_for(ALICE, before + 1).await[before..]
            .iter()
            .find_map(|mail| mail.link(&portal.url("/recover/confirm?token=")))
    } else {
        None
    };
    if let Some(link) = recovery_link {
        portal
            .post_fn(
                &attacker,
                ConfirmRecovery {
                    token: token_of(&link),
                },
            )
            .await;
    }
    portal.sign_in(&attacker, "alice", NEW_PASSWORD).await;
    assert!(
        !signed_in_without_two_factor(&portal, &attacker).await,
        "taken over (the reset answered {reset:?})"
    );
    assert!(
        matches!(&reset, Err(AppError::Validation { field, .. }) if field == "code"),
        "{reset:?}"
    );
    assert_eq!(
        portal
            .call_fn(&portal.browser(), login("alice", PASSWORD))
            .await,
        Ok(app::account::login::LoginStage::SecondFactor),
        "the password stays the owner's"
    );
}

#[tokio::test]
async fn a_reset_link_dies_after_three_wrong_codes_and_spends_none_of_the_owners_recovery_tries() {
    let portal = TestPortal::start().await;
    let (authenticator, token) = two_factor_reset(&portal).await;
    let mailbox = portal.browser();
    for _ in 0..5 {
        portal
            .call_fn(&mailbox, reset(&token, NEW_PASSWORD, "AAAA-BBBB-CCCC-DDDD"))
            .await
            .expect_err("a wrong recovery code sets nothing");
    }
    assert_eq!(
        count(
            &portal,
            "SELECT coalesce(max(failures), 0) FROM failure_counters WHERE factor = 'recovery'"
        )
        .await,
        0,
        "the mailbox alone pushed the owner's recovery code toward its lock"
    );
    for _ in 0..3 {
        let wrong = portal
            .call_fn(&mailbox, reset(&token, NEW_PASSWORD, "000000"))
            .await;
        assert!(wrong.is_err(), "{wrong:?}");
    }
    let right = portal
        .call_fn(
            &mailbox,
            reset(&token, NEW_PASSWORD, &authenticator.code(&portal, 1)),
        )
        .await;
    assert_eq!(
        right,
        Err(AppError::LinkUsed {
            link: Link::PasswordReset
        }),
        "the link outlived three wrong codes"
    );
}
