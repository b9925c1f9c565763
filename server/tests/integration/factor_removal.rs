//! Every way to remove or weaken a second factor, tried by a session that has no second factor
//! of its own: the password alone on a browser that skips the code step (a stolen remember
//! cookie), or the mailbox alone for a reset link. Each is refused until a factor is given, and
//! the account is left as it was.

use app::account::forgot_password::RequestPasswordReset;
use app::{error::AppError, two_factor::TwoFactorState};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

use crate::{
    authenticator_apps::add_app,
    common::{PASSWORD, TestPortal, answer, second_browser},
    security_keys::{add_key, soft_key},
};

const NEW_PASSWORD: &str = "plum tractor seventy";

#[tokio::test]
async fn every_way_to_remove_or_weaken_a_factor_asks_for_one() {
    let portal = TestPortal::builder().localhost().start().await;
    let (alice, authenticator) = portal.account_with_two_factor("alice").await;
    add_app(&portal, &alice, &authenticator, "Old phone").await;
    add_key(&portal, &alice, &authenticator, &mut soft_key(), "YubiKey")
        .await
        .unwrap();
    let overview = portal.overview(&alice).await;
    let app_id = overview.apps.apps[1].id.to_string();
    let key_id = overview.keys.keys[0].id.to_string();
    let other = second_browser(&portal, "alice", &authenticator, true).await;
    let browser_id = portal.overview(&alice).await.sessions.remembered[0]
        .id
        .to_string();
    // The mailbox alone: a reset link, opened in a browser of its own.
    portal
        .call_fn(
            &portal.browser(),
            RequestPasswordReset {
                account: "alice".into(),
            },
        )
        .await
        .unwrap();
    let mut link = None;
    for _ in 0..250 {
        link = portal
            .smtp
            .mail_to("alice@example.com")
            .iter()
            .rev()
            .find_map(|mail| mail.link(&portal.url("/reset-password?token=")));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let link = link.expect("a reset link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mailbox = portal.browser();

    // action, who tries it, its server function, its other fields, the field it asks for
    let attempts: [(&str, &reqwest::Client, &str, Vec<(&str, &str)>, &str); 8] = [
        (
            "disable two-factor",
            &other,
            <app::two_factor::manage::DisableTwoFactor as ServerFn>::PATH,
            vec![],
            "code",
        ),
        (
            "remove an authenticator app",
            &other,
            <app::two_factor::apps::RemoveAuthenticatorApp as ServerFn>::PATH,
            vec![("id", &app_id)],
            "code",
        ),
        (
            "remove a security key or passkey",
            &other,
            <app::security_keys::manage::RemoveSecurityKey as ServerFn>::PATH,
            vec![("id", &key_id)],
            "code",
        ),
        (
            "forget a remembered browser",
            &other,
            <app::account::sessions::ForgetBrowser as ServerFn>::PATH,
            vec![("id", &browser_id)],
            "code",
        ),
        (
            "new recovery code",
            &other,
            <app::two_factor::manage::RegenerateRecoveryCode as ServerFn>::PATH,
            vec![],
            "code",
        ),
        (
            "change the password",
            &other,
            <app::account::change_password::ChangePassword as ServerFn>::PATH,
            vec![
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
            "code",
        ),
        (
            "reset the password by email link",
            &mailbox,
            <app::account::reset_password::ResetPassword as ServerFn>::PATH,
            vec![("token", &token), ("new_password", NEW_PASSWORD)],
            "code",
        ),
        (
            "close the account",
            &other,
            <app::account::close::CloseAccount as ServerFn>::PATH,
            vec![("password", PASSWORD)],
            "code",
        ),
    ];
    for (action, browser, function, mut fields, asks) in attempts {
        // The field left empty, as a form sent without typing a code.
        fields.push(("code", ""));
        let refused = answer::<()>(portal.post_form(browser, function, &fields).await).await;
        assert_eq!(
            refused.as_ref().err().and_then(AppError::field),
            Some(asks),
            "{action}: {refused:?}"
        );
    }

    // Nothing changed, and the owner is still signed in.
    assert_eq!(portal.get_status(&alice, "/portal").await, StatusCode::OK);
    let overview = portal.overview(&alice).await;
    assert_eq!(overview.two_factor.state, TwoFactorState::On);
    assert_eq!(overview.apps.apps.len(), 2);
    assert_eq!(overview.keys.keys.len(), 1);
    let fresh = portal.browser();
    let stage = portal
        .call_fn(&fresh, crate::common::login("alice", PASSWORD))
        .await
        .expect("the password is unchanged");
    assert_eq!(stage, app::account::login::LoginStage::SecondFactor);
    assert_eq!(portal.overview(&alice).await.sessions.remembered.len(), 1);
}
