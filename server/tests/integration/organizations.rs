//! Organizations that require two-factor authentication, against the real server.

use app::account::CurrentUser;
use app::org::invitations::{
    AcceptInvitation, DeclineInvitation, InviteMember, MyInvitations, WithdrawInvitation,
};
use app::org::{
    CreateOrganization, LeaveOrganization, LoadRequirementNotice, Organization, RemoveMember,
    SetTwoFactorRequirement,
};
use app::two_factor::manage::DisableTwoFactor;
use app::{error::AppError, two_factor::TwoFactorState};
use leptos::server_fn::ServerFn;

use crate::common::{PASSWORD, TestPortal, location};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const DAY: i64 = 86_400;

/// The one answer to an invitation, whoever the username names.
const INVITED: &str = "If that account exists, it has been invited.";

/// A signed-up account with a verified email address.
pub(crate) async fn account(portal: &TestPortal, username: &str) -> Client {
    let browser = portal.browser();
    portal.sign_up(&browser, username, PASSWORD).await;
    portal.verify_email(&browser, username).await;
    browser
}

async fn create(portal: &TestPortal, owner: &Client, name: &str) -> reqwest::Response {
    portal
        .post_fn(
            owner,
            CreateOrganization {
                name: name.to_owned(),
            },
        )
        .await
}

async fn invite(portal: &TestPortal, owner: &Client, username: &str) -> reqwest::Response {
    portal
        .post_fn(
            owner,
            InviteMember {
                slug: "acme".to_owned(),
                username: username.to_owned(),
            },
        )
        .await
}

/// The invitee accepts the invitation to Acme.
async fn accept(portal: &TestPortal, invitee: &Client) -> reqwest::Response {
    let slug = "acme".to_owned();
    portal.post_fn(invitee, AcceptInvitation { slug }).await
}

/// The invitee declines the invitation to Acme.
async fn decline(portal: &TestPortal, invitee: &Client) -> reqwest::Response {
    let slug = "acme".to_owned();
    portal.post_fn(invitee, DeclineInvitation { slug }).await
}

/// Alice owns "Acme" and has invited Bob, who has not answered yet.
async fn acme_with_invitation(portal: &TestPortal) -> (Client, Client) {
    let alice = account(portal, "alice").await;
    let bob = account(portal, "bob").await;
    assert_eq!(
        create(portal, &alice, "Acme").await.status(),
        StatusCode::OK
    );
    assert_eq!(invite(portal, &alice, "bob").await.status(), StatusCode::OK);
    (alice, bob)
}

/// Alice owns "Acme" with Bob as a member who accepted her invitation.
pub(crate) async fn acme(portal: &TestPortal) -> (Client, Client) {
    let (alice, bob) = acme_with_invitation(portal).await;
    let accepted = accept(portal, &bob).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    (alice, bob)
}

async fn details(portal: &TestPortal, browser: &Client) -> Value {
    let response = portal
        .post_fn(
            browser,
            Organization {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The owner's view of the members: username and role, in order.
fn members(org: &Value) -> Vec<(String, String)> {
    org["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            (
                member["username"].as_str().unwrap().to_owned(),
                member["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(username: &str, role: &str) -> (String, String) {
    (username.to_owned(), role.to_owned())
}

async fn require(portal: &TestPortal, owner: &Client, grace_days: &str) -> reqwest::Response {
    portal
        .post_fn(
            owner,
            SetTwoFactorRequirement {
                slug: "acme".to_owned(),
                required: Some("yes".to_owned()),
                grace_days: Some(grace_days.to_owned()),
            },
        )
        .await
}

#[tokio::test]
async fn only_owners_see_members_or_change_the_requirement() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let as_owner: serde_json::Value = portal
        .post_fn(
            &alice,
            Organization {
                slug: "acme".to_owned(),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_owner["members"].as_array().unwrap().len(), 2);
    let as_member: serde_json::Value = portal
        .post_fn(
            &bob,
            Organization {
                slug: "acme".to_owned(),
            },
        )
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
        .post_fn(
            &bob,
            RemoveMember {
                slug: "acme".to_owned(),
                username: "alice".to_owned(),
            },
        )
        .await;
    assert_eq!(remove.status(), StatusCode::FORBIDDEN);

    let carol = portal.browser();
    portal.sign_up(&carol, "carol", PASSWORD).await;
    assert_eq!(
        portal
            .call_status(
                &carol,
                Organization {
                    slug: "acme".to_owned()
                }
            )
            .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        portal.get_status(&carol, "/org/acme").await,
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
    assert_eq!(crate::common::location(&held), Some("/settings/security"));
    for function in [
        <CurrentUser as ServerFn>::PATH,
        <app::org::MyOrganizations as ServerFn>::PATH,
        <app::account::sessions::SignOutOtherSessions as ServerFn>::PATH,
    ] {
        let refused = portal.post_form(&bob, function, &[("slug", "acme")]).await;
        assert_eq!(
            crate::common::answer::<Value>(refused).await,
            Err(AppError::TwoFactorRequired {
                org: "Acme".to_owned()
            }),
            "{function}"
        );
    }
    // Held while signed in: the security page says why and shows the switch; loading it
    // starts nothing (a load never writes).
    let overview = portal.overview(&bob).await;
    assert!(overview.held_by.is_some());
    assert_eq!(
        overview.two_factor.state,
        TwoFactorState::Off,
        "{overview:?}"
    );
    // The next sign-in opens straight on the wizard.
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    let overview = portal.overview(&bob).await;
    assert!(overview.held_by.is_some());
    assert!(
        matches!(overview.two_factor.state, TwoFactorState::Scanning { .. }),
        "{overview:?}"
    );
    // The owner, who has it, is not held.
    assert_eq!(portal.get_status(&alice, "/portal").await, StatusCode::OK);

    portal.enroll(&bob).await;
    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
    assert_eq!(
        portal.call_status(&bob, CurrentUser {}).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_grace_period_is_honoured_with_a_banner_then_enforced() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "7").await;

    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
    let notice: serde_json::Value = portal
        .post_fn(&bob, LoadRequirementNotice {})
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(notice["org_name"], "Acme");
    let members: serde_json::Value = portal
        .post_fn(
            &alice,
            Organization {
                slug: "acme".to_owned(),
            },
        )
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
    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
    portal.clock.advance(120);
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    assert_eq!(
        portal.get_status(&bob, "/portal").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_member_cannot_turn_two_factor_off_while_it_is_required() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    let authenticator = portal.enroll(&bob).await;
    require(&portal, &alice, "0").await;
    assert_eq!(
        portal
            .overview(&bob)
            .await
            .two_factor
            .required_by
            .as_deref(),
        Some("Acme")
    );
    let refused = portal
        .post_fn(
            &bob,
            DisableTwoFactor {
                code: authenticator.code(&portal, 1),
            },
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("CannotDisableWhileRequired")
    );
    assert_eq!(
        portal.overview(&bob).await.two_factor.state,
        TwoFactorState::On
    );
}

#[tokio::test]
async fn leaving_the_organization_lifts_its_requirement() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "7").await;
    // The last owner cannot leave; a member can, during the grace period.
    let last_owner = portal
        .post_fn(
            &alice,
            LeaveOrganization {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(last_owner.status(), StatusCode::CONFLICT);
    assert!(last_owner.text().await.unwrap().contains("LastOwner"));
    assert_eq!(
        portal
            .call_status(
                &bob,
                LeaveOrganization {
                    slug: "acme".to_owned()
                }
            )
            .await,
        StatusCode::OK
    );
    portal.clock.advance(8 * DAY);
    let bob = portal.browser();
    portal.sign_in(&bob, "bob", PASSWORD).await;
    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
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

#[tokio::test]
async fn an_invited_account_is_not_a_member_until_it_accepts() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme_with_invitation(&portal).await;
    let org = details(&portal, &alice).await;
    assert_eq!(members(&org), [pair("alice", "owner")], "{org}");
    assert!(
        !org["members"].to_string().contains("bob"),
        "no status of Bob: {org}"
    );
    // Owners see who has not answered yet, by username only.
    assert_eq!(org["invitations"], serde_json::json!(["bob"]));

    let invitations: Value = portal
        .post_fn(&bob, MyInvitations {})
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invitations[0]["slug"], "acme");
    assert_eq!(invitations[0]["org_name"], "Acme");
    assert_eq!(invitations[0]["requires_two_factor"], false);

    assert_eq!(accept(&portal, &bob).await.status(), StatusCode::OK);
    let org = details(&portal, &alice).await;
    assert_eq!(
        members(&org),
        [pair("alice", "owner"), pair("bob", "member")]
    );
    assert_eq!(org["members"][1]["two_factor"], "off");
    assert_eq!(org["invitations"], serde_json::json!([]));
    assert_eq!(
        details(&portal, &bob).await["name"],
        "Acme",
        "a member sees the organization"
    );
}

#[tokio::test]
async fn an_invited_account_cannot_see_the_organization_before_accepting() {
    let portal = TestPortal::start().await;
    let (_alice, bob) = acme_with_invitation(&portal).await;
    let refused = portal
        .post_fn(
            &bob,
            Organization {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let page = portal.get_text(&bob, "/org/acme").await;
    assert!(page.contains("no such organization"), "{page}");
    assert!(!page.contains("Leave organization"), "{page}");
}

#[tokio::test]
async fn an_invited_account_is_not_held_and_gets_no_mail_until_it_accepts() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    let bob = account(&portal, "bob").await;
    portal.enroll(&alice).await;
    create(&portal, &alice, "Acme").await;
    assert_eq!(require(&portal, &alice, "0").await.status(), StatusCode::OK);
    assert_eq!(
        invite(&portal, &alice, "bob").await.status(),
        StatusCode::OK
    );

    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
    assert_eq!(portal.overview(&bob).await.two_factor.required_by, None);
    // The owner's notice has arrived, so a notice to Bob would have too.
    portal.smtp.wait_for("alice@example.com", 3).await;
    let bob_mail = portal.smtp.mail_to("bob@example.com");
    assert!(
        bob_mail.iter().all(|mail| !mail.subject.contains("Acme")),
        "{:?}",
        bob_mail
            .iter()
            .map(|mail| &mail.subject)
            .collect::<Vec<_>>()
    );
    let invitations: Value = portal
        .post_fn(&bob, MyInvitations {})
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        invitations[0]["requires_two_factor"], true,
        "Bob is told before he accepts"
    );

    assert_eq!(accept(&portal, &bob).await.status(), StatusCode::OK);
    let held = portal.get(&bob, "/portal").await;
    assert_eq!(location(&held), Some("/settings/security"));
    let bob_mail = portal.smtp.wait_for("bob@example.com", 2).await;
    assert!(
        bob_mail
            .iter()
            .any(|mail| mail.subject == "Acme requires two-factor authentication")
    );
}

#[tokio::test]
async fn declining_an_invitation_leaves_nothing() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme_with_invitation(&portal).await;
    assert_eq!(decline(&portal, &bob).await.status(), StatusCode::OK);
    let invitations: Value = portal
        .post_fn(&bob, MyInvitations {})
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invitations, serde_json::json!([]));
    let org = details(&portal, &alice).await;
    assert_eq!(members(&org), [pair("alice", "owner")]);
    assert_eq!(org["invitations"], serde_json::json!([]));
    assert_eq!(
        accept(&portal, &bob).await.status(),
        StatusCode::NOT_FOUND,
        "a declined invitation cannot be accepted later"
    );
}

#[tokio::test]
async fn a_withdrawn_invitation_cannot_be_accepted() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme_with_invitation(&portal).await;
    let withdrawn = portal
        .post_fn(
            &alice,
            WithdrawInvitation {
                slug: "acme".to_owned(),
                username: "bob".to_owned(),
            },
        )
        .await;
    assert_eq!(withdrawn.status(), StatusCode::OK);
    assert_eq!(accept(&portal, &bob).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        members(&details(&portal, &alice).await),
        [pair("alice", "owner")]
    );
}

#[tokio::test]
async fn an_unknown_username_gets_the_same_answer_as_a_known_one() {
    let portal = TestPortal::start().await;
    let (alice, _bob) = acme(&portal).await;
    let carol = account(&portal, "carol").await;
    drop(carol);
    let mut answers = Vec::new();
    // A new account, no account, a member, and the owner herself.
    for username in ["carol", "nobody", "bob", "alice"] {
        let response = invite(&portal, &alice, username).await;
        let status = response.status();
        let to = location(&response).map(str::to_owned);
        let body = response.text().await.unwrap();
        answers.push((status, to, body));
    }
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(answers[0].1.as_deref(), Some("/org/acme?notice=invited"));
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    let page = portal.get_text(&alice, "/org/acme?notice=invited").await;
    assert!(page.contains(INVITED), "{page}");
}

#[tokio::test]
async fn inviting_an_owner_or_a_co_owner_leaves_every_role_unchanged() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    let bob = account(&portal, "bob").await;
    create(&portal, &alice, "Acme").await;
    assert!(
        portal
            .admin(&["org", "set-owner", "acme", "bob"])
            .status
            .success()
    );
    for username in ["alice", "bob"] {
        assert_eq!(
            invite(&portal, &alice, username).await.status(),
            StatusCode::OK
        );
    }
    let org = details(&portal, &alice).await;
    assert_eq!(org["is_owner"], true);
    assert_eq!(
        members(&org),
        [pair("alice", "owner"), pair("bob", "owner")]
    );
    assert_eq!(org["invitations"], serde_json::json!([]));
    assert_eq!(details(&portal, &bob).await["is_owner"], true);
}

#[tokio::test]
async fn support_adding_an_existing_owner_keeps_the_owner() {
    let portal = TestPortal::start().await;
    let (alice, _bob) = acme(&portal).await;
    let again = portal.admin(&["org", "add-member", "acme", "alice"]);
    assert!(!again.status.success(), "already a member");
    let org = details(&portal, &alice).await;
    assert_eq!(org["is_owner"], true);
    assert_eq!(
        members(&org),
        [pair("alice", "owner"), pair("bob", "member")]
    );
}

#[tokio::test]
async fn a_held_member_can_leave_and_is_then_free() {
    let portal = TestPortal::start().await;
    let (alice, bob) = acme(&portal).await;
    portal.enroll(&alice).await;
    require(&portal, &alice, "0").await;
    assert_eq!(
        location(&portal.get(&bob, "/portal").await),
        Some("/settings/security")
    );
    // The wizard names the organization and where to leave it.
    assert_eq!(
        portal
            .overview(&bob)
            .await
            .held_by
            .map(|org| org.slug)
            .as_deref(),
        Some("acme")
    );
    let page = portal.get(&bob, "/org/acme").await;
    assert_eq!(page.status(), StatusCode::OK, "the Leave form is reachable");
    assert!(page.text().await.unwrap().contains("Leave organization"));

    let left = portal
        .submit(
            &bob,
            "/org/acme",
            LeaveOrganization {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(left.status(), StatusCode::FOUND);
    assert_eq!(location(&left), Some("/portal"));
    assert_eq!(portal.get_status(&bob, "/portal").await, StatusCode::OK);
    assert_eq!(
        members(&details(&portal, &alice).await),
        [pair("alice", "owner")]
    );
}

#[tokio::test]
async fn invitations_work_without_javascript() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    let bob = account(&portal, "bob").await;
    let carol = account(&portal, "carol").await;
    create(&portal, &alice, "Acme").await;
    for username in ["bob", "carol"] {
        let sent = portal
            .submit(
                &alice,
                "/org/acme",
                InviteMember {
                    slug: "acme".to_owned(),
                    username: username.to_owned(),
                },
            )
            .await;
        assert_eq!(sent.status(), StatusCode::FOUND);
        assert_eq!(location(&sent), Some("/org/acme?notice=invited"));
    }
    let owner_page = portal.get_text(&alice, "/org/acme?notice=invited").await;
    assert!(
        owner_page.contains(INVITED) && owner_page.contains("Withdraw"),
        "{owner_page}"
    );

    let bob_portal = portal.get_text(&bob, "/portal").await;
    assert!(
        bob_portal.contains("Acme")
            && bob_portal.contains("Accept")
            && bob_portal.contains("Decline"),
        "{bob_portal}"
    );
    let accepted = portal
        .submit(
            &bob,
            "/portal",
            AcceptInvitation {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::FOUND);
    assert_eq!(location(&accepted), Some("/org/acme"));
    let declined = portal
        .submit(
            &carol,
            "/portal",
            DeclineInvitation {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(declined.status(), StatusCode::FOUND);
    assert_eq!(location(&declined), Some("/portal"));
    assert_eq!(
        members(&details(&portal, &alice).await),
        [pair("alice", "owner"), pair("bob", "member")]
    );
}

/// Accounts made straight in the database: signing up twenty through the server would spend
/// twenty password hashes on a test about invitations.
async fn quick_accounts(portal: &TestPortal, count: usize) -> Vec<String> {
    let database = portal.database().await;
    let mut names = Vec::new();
    for n in 0..count {
        let name = format!("invitee{n}");
        sqlx::query(
            "INSERT INTO users (username, email, password_hash, created_at) VALUES ($1, $2, 'x', 0)",
        )
        .bind(&name)
        .bind(format!("{name}@example.com"))
        .execute(&database)
        .await
        .unwrap();
        names.push(name);
    }
    names
}

#[tokio::test]
async fn an_organization_has_at_most_twenty_invitations_waiting() {
    let portal = TestPortal::builder().sign_in_limit(100_000).start().await;
    let alice = account(&portal, "alice").await;
    create(&portal, &alice, "Acme").await;
    let names = quick_accounts(&portal, 21).await;
    for name in &names[..20] {
        assert_eq!(invite(&portal, &alice, name).await.status(), StatusCode::OK);
    }
    for name in [names[20].as_str(), "nobody"] {
        let refused = invite(&portal, &alice, name).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        let error: app::error::AppError = refused.json().await.unwrap();
        assert!(error.to_string().contains("20 invitations"), "{error}");
    }
    portal
        .post_fn(
            &alice,
            WithdrawInvitation {
                slug: "acme".to_owned(),
                username: names[0].to_owned(),
            },
        )
        .await;
    assert_eq!(
        invite(&portal, &alice, &names[20]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn inviting_is_limited_per_address() {
    let portal = TestPortal::builder().sign_in_limit(5).start().await;
    let alice = portal.browser();
    portal.sign_up(&alice, "alice", PASSWORD).await;
    create(&portal, &alice, "Acme").await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        statuses.push(
            invite(&portal, &alice, &format!("someone{n}"))
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_organization_name_with_control_or_bidi_characters_is_refused_on_its_field() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    for name in [
        "Acme\u{1b}[2J",
        "Acme\u{7}",
        "Acme\u{202e}lanigiro",
        "Ac\u{200b}me",
        "Acme\u{2066}Corp",
        "\u{feff}Acme",
    ] {
        let refused = create(&portal, &alice, name).await;
        let Err(AppError::Validation { field, message }) =
            crate::common::answer::<()>(refused).await
        else {
            panic!("{name:?} is not refused as a wrong name");
        };
        assert_eq!(field, "name", "{name:?}");
        assert!(message.contains("invisible"), "{message}");
    }
    assert_eq!(
        create(&portal, &alice, "Café Ünïcode").await.status(),
        StatusCode::OK,
        "printable Unicode is welcome"
    );
}

#[tokio::test]
async fn the_admin_command_prints_control_characters_escaped() {
    let portal = TestPortal::start().await;
    let (_alice, _bob) = acme(&portal).await;
    let database = portal.database().await;
    sqlx::query("UPDATE organizations SET name = $1 WHERE slug = 'acme'")
        .bind("Acme\u{1b}]0;owned\u{7}\u{1b}[2J Café")
        .execute(&database)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET username = $1 WHERE username = 'bob'")
        .bind("bob\u{1b}[31m")
        .execute(&database)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_events (user_id, kind, at, address, user_agent, detail)
         SELECT id, 'org_changed', 0, $1, $2, $3 FROM users WHERE username = 'alice'",
    )
    .bind("10.0.0.1\u{1b}[2J")
    .bind("Agent\u{1b}[31m")
    .bind("left \u{1b}]0;owned\u{7}")
    .execute(&database)
    .await
    .unwrap();
    for args in [
        &["org", "list"][..],
        &["org", "show", "acme"],
        &["show", "alice"],
    ] {
        let output = portal.admin(args);
        assert!(output.status.success(), "{args:?}");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(!output.stdout.contains(&0x1b), "{args:?}: {printed:?}");
        assert!(printed.contains("\\u{1b}"), "{args:?}: {printed}");
    }
    let list = String::from_utf8_lossy(&portal.admin(&["org", "list"]).stdout).into_owned();
    assert!(
        list.contains("Café"),
        "printable Unicode prints as it is: {list}"
    );
}

#[tokio::test]
async fn switching_the_requirement_off_and_on_mails_members_once_a_day() {
    let portal = TestPortal::start().await;
    let (alice, _bob) = acme(&portal).await;
    let authenticator = portal.enroll(&alice).await;
    let requirement_mail = |portal: &TestPortal| {
        portal
            .smtp
            .mail_to("bob@example.com")
            .iter()
            .filter(|mail| mail.subject == "Acme requires two-factor authentication")
            .count()
    };
    for _ in 0..4 {
        assert_eq!(require(&portal, &alice, "3").await.status(), StatusCode::OK);
        let off = portal
            .post_fn(
                &alice,
                SetTwoFactorRequirement {
                    slug: "acme".to_owned(),
                    required: None,
                    grace_days: Some("3".to_owned()),
                },
            )
            .await;
        assert_eq!(off.status(), StatusCode::OK);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        requirement_mail(&portal),
        1,
        "an owner cannot flood members"
    );
    portal.clock.advance(25 * 60 * 60);
    // A day later (and signed in again: a sign-in lasts 12 hours).
    portal.sign_in(&alice, "alice", PASSWORD).await;
    portal
        .verify_code(&alice, &authenticator.code(&portal, 0))
        .await;
    assert_eq!(require(&portal, &alice, "3").await.status(), StatusCode::OK);
    portal.smtp.wait_for("bob@example.com", 3).await;
    assert_eq!(requirement_mail(&portal), 2);
}

#[tokio::test]
async fn requirement_mail_goes_only_to_verified_addresses() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    portal.enroll(&alice).await;
    let carol = portal.browser();
    portal.sign_up(&carol, "carol", PASSWORD).await;
    create(&portal, &alice, "Acme").await;
    invite(&portal, &alice, "carol").await;
    assert_eq!(accept(&portal, &carol).await.status(), StatusCode::OK);
    require(&portal, &alice, "3").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let to_carol: Vec<String> = portal
        .smtp
        .mail_to("carol@example.com")
        .iter()
        .map(|mail| mail.subject.clone())
        .collect();
    assert!(
        to_carol.iter().all(|subject| !subject.contains("requires")),
        "mail about an organization went to an unverified address: {to_carol:?}"
    );
}

/// Each organization is rows kept for good: an account owns at most `MAX_OWNED_ORGS`, and the
/// one past the cap is refused with a message next to the name, even when several are asked
/// for at once (review M4).
#[tokio::test]
async fn an_account_owns_at_most_twenty_organizations() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    assert_eq!(app::org::MAX_OWNED_ORGS, 20);
    for number in 1..app::org::MAX_OWNED_ORGS {
        let created = create(&portal, &alice, &format!("Team {number}")).await;
        assert_eq!(created.status(), StatusCode::OK, "{number}");
    }
    let answers = crate::common::at_once(5, |index| {
        let portal = &portal;
        let alice = &alice;
        async move {
            crate::common::answer::<()>(create(portal, alice, &format!("Last {index}")).await).await
        }
    })
    .await;
    assert_eq!(
        answers.iter().filter(|answer| answer.is_ok()).count(),
        1,
        "{answers:?}"
    );
    for refused in answers.iter().filter_map(|answer| answer.as_ref().err()) {
        match refused {
            AppError::Validation { field, message } => {
                assert_eq!(field, "name");
                assert!(message.contains("20 organizations"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Someone else still can.
    let bob = account(&portal, "bob").await;
    assert_eq!(
        create(&portal, &bob, "Bob's").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_invitation_waits_alike_whether_or_not_the_account_exists() {
    let portal = TestPortal::start().await;
    let alice = account(&portal, "alice").await;
    create(&portal, &alice, "Acme").await;
    account(&portal, "bob").await;
    for name in ["bob", "nobody"] {
        let invited = invite(&portal, &alice, name).await;
        assert_eq!(invited.status(), StatusCode::OK, "{name}");
    }
    let org = details(&portal, &alice).await;
    assert_eq!(org["invitations"], serde_json::json!(["bob", "nobody"]));
    // An invitation names a username: the account made later under it may accept.
    let nobody = account(&portal, "nobody").await;
    assert_eq!(accept(&portal, &nobody).await.status(), StatusCode::OK);
    let org = details(&portal, &alice).await;
    assert_eq!(org["invitations"], serde_json::json!(["bob"]));
    assert!(org["members"].to_string().contains("nobody"), "{org}");
}
