//! Organizations that require two-factor authentication, against the real server.

mod common;

use common::{PASSWORD, TestPortal};
use reqwest::{Client, StatusCode};

const DAY: i64 = 86_400;

/// Alice owns "Acme" with Bob as a member; both have verified email addresses.
async fn acme(portal: &TestPortal) -> (Client, Client) {
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    portal.verify_email(&alice, "alice").await;
    let bob = portal.browser();
    portal.sign_up(&bob, "bob", PASSWORD).await;
    portal.verify_email(&bob, "bob").await;
    assert_eq!(
        portal
            .call(&alice, "create_organization", &[("name", "Acme")])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        portal
            .call(
                &alice,
                "add_member",
                &[("slug", "acme"), ("username", "bob")]
            )
            .await
            .status(),
        StatusCode::OK
    );
    (alice, bob)
}

async fn require(portal: &TestPortal, owner: &Client, grace_days: &str) -> reqwest::Response {
    portal
        .call(
            owner,
            "set_two_factor_requirement",
            &[
                ("slug", "acme"),
                ("required", "yes"),
                ("grace_days", grace_days),
            ],
        )
        .await
}

#[tokio::test]
async fn only_owners_see_members_or_change_the_requirement() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let as_owner: serde_json::Value = portal
        .call(&alice, "organization", &[("slug", "acme")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_owner["members"].as_array().unwrap().len(), 2);
    let as_member: serde_json::Value = portal
        .call(&bob, "organization", &[("slug", "acme")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_member["is_owner"], false);
    assert!(as_member["members"].as_array().unwrap().is_empty());
    assert_eq!(
        require(&portal, &bob, "0").await.status(),
        StatusCode::FORBIDDEN
    );
    let remove = portal
        .call(
            &bob,
            "remove_member",
            &[("slug", "acme"), ("username", "alice")],
        )
        .await;
    assert_eq!(remove.status(), StatusCode::FORBIDDEN);

    let carol = portal.browser();
    portal.sign_up(&carol, "carol", PASSWORD).await;
    assert_eq!(
        portal
            .call(&carol, "organization", &[("slug", "acme")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        portal.get(&carol, "/org/acme").await.status(),
        StatusCode::OK,
        "a page that says no, not a crash"
    );
}

#[tokio::test]
async fn with_no_grace_a_member_without_two_factor_reaches_only_the_wizard_until_enrolled() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    assert_eq!(require(&portal, &alice, "0").await.status(), StatusCode::OK);

    let held = portal.get(&bob, "/portal").await;
    assert_eq!(held.status(), StatusCode::SEE_OTHER);
    assert_eq!(common::location(&held), Some("/settings/security"));
    for function in [
        "current_user",
        "my_organizations",
        "sign_out_other_sessions",
        "leave_organization",
    ] {
        let refused = portal.call(&bob, function, &[("slug", "acme")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{function}");
        let body = refused.text().await.unwrap();
        assert!(
            body.contains("TwoFactorRequired") && body.contains("Acme"),
            "{function}: {body}"
        );
    }
    // The security page opens straight on the wizard.
    let overview = portal.overview(&bob).await;
    assert_eq!(overview["enforced"], true);
    assert!(overview["two_factor"]["Scanning"].is_object(), "{overview}");
    // The owner, who has it, is not held.
    assert_eq!(portal.get(&alice, "/portal").await.status(), StatusCode::OK);

    portal.enroll(&bob).await;
    assert_eq!(portal.get(&bob, "/portal").await.status(), StatusCode::OK);
    assert_eq!(
        portal.call(&bob, "current_user", &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_grace_period_is_honoured_with_a_banner_then_enforced() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "7").await;

    assert_eq!(portal.get(&bob, "/portal").await.status(), StatusCode::OK);
    let notice: serde_json::Value = portal
        .call(&bob, "requirement_notice", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(notice["org_name"], "Acme");
    let members: serde_json::Value = portal
        .call(&alice, "organization", &[("slug", "acme")])
        .await
        .json()
        .await
        .unwrap();
    let bob_row = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "bob")
        .unwrap()
        .clone();
    assert!(
        bob_row["two_factor"]
            .as_str()
            .unwrap()
            .starts_with("in grace period until"),
        "{bob_row}"
    );

    // A sign-in lasts 12 hours at most, so Bob signs in again each time.
    portal.clock.advance(7 * DAY - 60);
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    assert_eq!(portal.get(&bob, "/portal").await.status(), StatusCode::OK);
    portal.clock.advance(120);
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    assert_eq!(
        portal.get(&bob, "/portal").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_member_cannot_turn_two_factor_off_while_it_is_required() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let authenticator = portal.enroll(&bob).await;
    require(&portal, &alice, "0").await;
    assert_eq!(portal.overview(&bob).await["required_by"], "Acme");
    let refused = portal
        .call(
            &bob,
            "disable_two_factor",
            &[("code", &authenticator.code(&portal, 1))],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("cannot be turned off")
    );
    assert_eq!(portal.overview(&bob).await["two_factor"], "On");
}

#[tokio::test]
async fn leaving_the_organization_lifts_its_requirement() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "7").await;
    // The last owner cannot leave; a member can, during the grace period.
    let last_owner = portal
        .call(&alice, "leave_organization", &[("slug", "acme")])
        .await;
    assert_eq!(last_owner.status(), StatusCode::FORBIDDEN);
    assert!(last_owner.text().await.unwrap().contains("needs an owner"));
    assert_eq!(
        portal
            .call(&bob, "leave_organization", &[("slug", "acme")])
            .await
            .status(),
        StatusCode::OK
    );
    portal.clock.advance(8 * DAY);
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    assert_eq!(portal.get(&bob, "/portal").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn owners_and_members_are_told_by_email() {
    let portal = TestPortal::start().await;
    let (alice, _bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "3").await;
    let owner_mail = portal.smtp.wait_for("alice@example.com", 3).await;
    assert!(
        owner_mail
            .iter()
            .any(|mail| mail.subject == "Acme now requires two-factor authentication")
    );
    let member_mail = portal.smtp.wait_for("bob@example.com", 2).await;
    let notice = member_mail
        .iter()
        .find(|mail| mail.subject == "Acme requires two-factor authentication")
        .expect("a notice");
    assert!(
        notice.text.contains(" UTC"),
        "the deadline: {}",
        notice.text
    );
    assert!(notice.text.contains("/settings/security"));
}

#[tokio::test]
async fn support_manages_organizations_with_the_admin_command() {
    let portal = TestPortal::start().await;
    let (_alice, _bob) = acme(&portal).await;
    let carol = portal.browser();
    portal.sign_up(&carol, "carol", PASSWORD).await;
    let run = |args: &[&str]| portal.admin(&args[1..]);
    let list = run(&["admin", "org", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("acme  Acme  (no requirement)"));
    assert!(
        run(&["admin", "org", "add-member", "acme", "carol"])
            .status
            .success()
    );
    assert!(
        !run(&["admin", "org", "add-member", "acme", "carol"])
            .status
            .success(),
        "already a member"
    );
    assert!(
        run(&["admin", "org", "set-owner", "acme", "bob"])
            .status
            .success()
    );
    let shown =
        String::from_utf8_lossy(&run(&["admin", "org", "show", "acme"]).stdout).into_owned();
    assert!(
        shown.contains("bob  owner") && shown.contains("carol  member"),
        "{shown}"
    );
    assert!(!run(&["admin", "org", "show", "nope"]).status.success());
}
