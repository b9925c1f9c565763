//! The security page, which gathers every flow's part of the account: the two-factor switch and
//! whichever step of it is under way, the email address, the sessions and the recent security
//! activity. Flows do not use it; it uses them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form},
    hooks::use_query_map,
};

use serde::{Deserialize, Serialize};

use crate::{
    account::{
        sessions::{
            ConfirmPassword, ForgetBrowser, ReauthForm, RememberedBrowsers, RevokeSession,
            SessionList, SignOutOtherSessions,
        },
        verify_email::ResendVerification,
    },
    components::{ErrorCard, FormMessage, Hidden, Loading, PortalForm, SubmitButton, last_error},
    error::AppError,
    security_keys::manage::{RemoveSecurityKey, SecurityKeys},
    two_factor::{
        TwoFactorState,
        apps::{AppActions, AuthenticatorApps},
        enroll::{
            CancelEnrollment, ConfirmEnrollment, RecoveryCodeStep, SaveRecoveryCode, ScanStep,
            StartEnrollment,
        },
        manage::{DisableForm, DisableTwoFactor, RegenerateForm, RegenerateRecoveryCode},
    },
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub description: String,
    pub warning: bool,
    pub at: String,
    pub address: String,
    pub browser: String,
}

/// The previous address, whose undo link still works, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoEmail {
    pub email: String,
    pub until: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// A new address waiting for its confirmation link to be opened.
    pub pending_email: Option<String>,
    /// A live link to the previous address that can move the account back to it.
    pub undo_email: Option<UndoEmail>,
    pub two_factor: TwoFactorState,
    /// A recovery code waiting to be saved: shown once, during enrollment or after a new one.
    pub recovery_code: Option<String>,
    pub events: Vec<SecurityEvent>,
    /// The authenticator apps, and another being added by this sign-in.
    pub apps: Vec<crate::two_factor::apps::AppInfo>,
    pub adding_app: Option<crate::two_factor::apps::AppAddition>,
    /// Security keys and passkeys.
    pub keys: Vec<crate::security_keys::manage::KeyInfo>,
    /// Browsers that skip the second step.
    pub remembered: Vec<crate::account::sessions::RememberedBrowser>,
    pub sessions: Vec<crate::account::sessions::ActiveSession>,
    /// Whether the password was entered in the last 15 minutes: changes need it.
    pub password_recent: bool,
    /// The organization that requires two-factor authentication of this account, if any.
    pub required_by: Option<String>,
    /// Past the requirement's deadline without a second factor: nothing else is reachable.
    pub enforced: bool,
    /// The organization whose requirement holds the account, linked to its page to leave it.
    pub held_by: Option<crate::org::OrgLink>,
}

#[server(endpoint = "security_overview")]
pub async fn load_security_overview() -> Result<SecurityOverview, AppError> {
    ssr::overview().await
}

/// What `?notice=` says after a change, in fixed words (nothing from the URL is echoed).
fn notice_text(notice: &str) -> Option<&'static str> {
    match notice {
        "enabled" => Some("Two-factor authentication is enabled."),
        "disabled" => Some("Two-factor authentication is disabled."),
        "saved" => Some("Your new recovery code is saved. The old one no longer works."),
        "signed-out" => Some("That session is signed out."),
        "key-added" => Some("Your security key or passkey is added."),
        "browser-forgotten" => {
            Some("That browser is forgotten: it will ask for the second step again.")
        }
        "key-removed" => Some("That security key or passkey is removed."),
        "app-added" => Some("Your new authenticator app is added. Its codes sign in too."),
        "app-removed" => Some("That authenticator app is removed. Its codes no longer sign in."),
        "signed-out-others" => Some("All your other sessions are signed out."),
        "verification-sent" => {
            Some("A verification email is on its way. Open its link to verify your address.")
        }
        "password-changed" => Some("Your password is changed. Your other sessions are signed out."),
        "email-change-sent" => Some(
            "We sent a link to the new address. Your account switches to it when you open the link.",
        ),
        _ => None,
    }
}

/// What the two-factor card shows under the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Panel {
    /// The password again: it was entered too long ago to change a factor.
    Reauth,
    /// Wizard step 1.
    Scan { qr_svg: String, key: String },
    /// A recovery code to save: wizard step 2, or a regenerated one.
    RecoveryCode { code: String, heading: &'static str },
    /// Turning it off (`?change=disable`).
    Disable,
    /// A new recovery code (`?change=regenerate`).
    Regenerate,
    /// On, nothing under way.
    On,
    /// Off: what it is for.
    Off,
}

/// The panel for the account's two-factor state, the recovery code it may be shown, whether
/// its password is recent, and the change asked for (`?change=`).
fn choose_panel(
    state: TwoFactorState,
    recovery_code: Option<String>,
    password_recent: bool,
    change: &str,
) -> Panel {
    match (state, recovery_code) {
        (TwoFactorState::Off | TwoFactorState::On, None) if !password_recent => Panel::Reauth,
        (TwoFactorState::Scanning { qr_svg, key }, _) => Panel::Scan { qr_svg, key },
        (TwoFactorState::SavingRecoveryCode, Some(code)) => Panel::RecoveryCode {
            code,
            heading: "Step 2 of 3: Recovery code",
        },
        (TwoFactorState::On, Some(code)) => Panel::RecoveryCode {
            code,
            heading: "Your new recovery code",
        },
        (TwoFactorState::On, None) if change == "disable" => Panel::Disable,
        (TwoFactorState::On, None) if change == "regenerate" => Panel::Regenerate,
        (TwoFactorState::On, None) => Panel::On,
        _ => Panel::Off,
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let start = ServerAction::<StartEnrollment>::new();
    let confirm = ServerAction::<ConfirmEnrollment>::new();
    let save = ServerAction::<SaveRecoveryCode>::new();
    let cancel = ServerAction::<CancelEnrollment>::new();
    let disable = ServerAction::<DisableTwoFactor>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCode>::new();
    let resend = ServerAction::<ResendVerification>::new();
    let revoke = ServerAction::<RevokeSession>::new();
    let others = ServerAction::<SignOutOtherSessions>::new();
    let reauth = ServerAction::<ConfirmPassword>::new();
    let remove_key = ServerAction::<RemoveSecurityKey>::new();
    let app_actions = AppActions::default();
    let forget = ServerAction::<ForgetBrowser>::new();
    let query = use_query_map();
    let overview = Resource::new(
        move || {
            (
                query.get(),
                start.version().get(),
                confirm.version().get(),
                save.version().get(),
                cancel.version().get(),
                disable.version().get(),
                regenerate.version().get(),
                resend.version().get(),
                (
                    revoke.version().get(),
                    others.version().get(),
                    reauth.version().get(),
                    remove_key.version().get(),
                    forget.version().get(),
                ),
                app_actions.version(),
            )
        },
        |_| load_security_overview(),
    );
    let notice = move || {
        query
            .read()
            .get("notice")
            .and_then(|notice| notice_text(&notice))
    };
    let change = move || query.read().get("change").unwrap_or_default();
    let start_error = last_error(start);

    view! {
        <Title text="Security settings · Portal" />
        <h1>"Security settings"</h1>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let overview = match overview.await {
                    Ok(overview) => overview,
                    Err(error) => return view! { <ErrorCard error bare=true /> }.into_any(),
                };
                let on = overview.two_factor == TwoFactorState::On;
                let panel = match choose_panel(
                    overview.two_factor.clone(),
                    overview.recovery_code.clone(),
                    overview.password_recent,
                    &change(),
                ) {
                    Panel::Reauth => view! { <ReauthForm confirm=reauth /> }.into_any(),
                    Panel::Scan { qr_svg, key } => {
                        view! { <ScanStep qr_svg key confirm cancel /> }.into_any()
                    }
                    Panel::RecoveryCode { code, heading } => {
                        view! { <RecoveryCodeStep code heading save /> }.into_any()
                    }
                    Panel::Disable => view! { <DisableForm action=disable /> }.into_any(),
                    Panel::Regenerate => view! { <RegenerateForm action=regenerate /> }.into_any(),
                    Panel::On => view! { <OnSummary /> }.into_any(),
                    Panel::Off => view! {
                        <p>"Add a code from an authenticator app to your password, so a stolen password alone does not open your account."</p>
                    }
                        .into_any(),
                };
                view! {
                    {notice().map(|text| view! { <p class="notice" role="status">{text}</p> })}
                    <section class="card" aria-labelledby="two-factor-heading">
                        <h2 id="two-factor-heading">"Two-factor authentication"</h2>
                        <FormMessage error=start_error />
                        {overview.held_by.clone().map(|org| view! {
                            <p class="banner" role="alert">
                                {format!("{} requires two-factor authentication. Turn it on to continue.", org.name)}
                                " " <A href=format!("/org/{}", org.slug)>{format!("Or leave {}", org.name)}</A>
                            </p>
                        })}
                        <TwoFactorSwitch on start required_by=overview.required_by.clone() />
                        {panel}
                    </section>
                    {on.then(|| view! {
                        <AuthenticatorApps
                            apps=overview.apps.clone()
                            adding=overview.adding_app.clone()
                            actions=app_actions
                        />
                    })}
                    {on.then(|| view! { <SecurityKeys keys=overview.keys.clone() remove=remove_key /> })}
                    {on.then(|| view! { <RememberedBrowsers browsers=overview.remembered.clone() forget /> })}
                    <EmailStatus
                        email=overview.email.clone()
                        verified=overview.email_verified
                        pending=overview.pending_email.clone()
                        undo=overview.undo_email.clone()
                        resend
                    />
                    <AccountActions />
                    <SessionList sessions=overview.sessions.clone() revoke others />
                    <ActivityList events=overview.events />
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// The switch: off, it starts the wizard; on, it asks for a code to turn off. Each press is a
/// form, so it works without JavaScript.
#[component]
fn TwoFactorSwitch(
    on: bool,
    start: ServerAction<StartEnrollment>,
    required_by: Option<String>,
) -> impl IntoView {
    // An organization that requires it keeps it on: the switch says so and does nothing.
    let locked = on && required_by.is_some();
    let note = required_by.filter(|_| locked).map(|org| {
        format!("{org} requires two-factor authentication: it stays on while you are a member.")
    });
    let switch = move || {
        view! {
            <button
                type="submit"
                role="switch"
                aria-checked=if on { "true" } else { "false" }
                class="switch"
                disabled=locked
                aria-describedby=locked.then_some("switch-note")
            >
                <span class="switch-track" aria-hidden="true">
                    <span class="switch-thumb"></span>
                </span>
                <span class="switch-label">"Enable two-factor authentication"</span>
            </button>
        }
    };
    let note = note.map(|note| view! { <p id="switch-note" class="hint">{note}</p> });
    if on {
        view! {
            {note}
            <Form method="GET" action="/settings/security">
                <Hidden name="change" value="disable" />
                {switch()}
            </Form>
        }
        .into_any()
    } else {
        view! { <PortalForm action=start message=false>{switch()}</PortalForm> }.into_any()
    }
}

/// The address recovery goes through, whether it is verified, and a way to prove it.
#[component]
fn EmailStatus(
    email: String,
    verified: bool,
    pending: Option<String>,
    undo: Option<UndoEmail>,
    resend: ServerAction<ResendVerification>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email address"</h2>
            <p>
                <strong>{email}</strong>
                {if verified { " is verified." } else { " is not verified yet." }}
            </p>
            {(!verified).then(|| view! {
                <p>"Two-factor authentication needs a verified address: recovery links are sent to it."</p>
                <PortalForm action=resend>
                    <SubmitButton label="Resend verification email" class="secondary" />
                </PortalForm>
            })}
            {pending.map(|pending| view! {
                <p>"Waiting for " <strong>{pending}</strong> " to be confirmed: open the link we sent to it."</p>
            })}
            {undo.map(|UndoEmail { email, until }| view! {
                <p>"Until " {until} ", the link sent to " <strong>{email}</strong> " can move your account back to that address; changing your password with two-factor authentication on withdraws it."</p>
            })}
            <p><A href="/settings/email">"Change email"</A></p>
        </section>
    }
}

/// The account's own changes, each on a page of its own.
#[component]
fn AccountActions() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="account-heading">
            <h2 id="account-heading">"Account"</h2>
            <ul class="links">
                <li><A href="/settings/password">"Change password"</A></li>
                <li><A href="/settings/close">"Close account"</A></li>
            </ul>
        </section>
    }
}

#[component]
fn OnSummary() -> impl IntoView {
    view! {
        <p>"Two-factor authentication is on: signing in asks for a code from your authenticator app."</p>
        <Form method="GET" action="/settings/security">
            <Hidden name="change" value="regenerate" />
            <button type="submit" class="secondary">"Regenerate recovery code"</button>
        </Form>
    }
}

#[component]
fn ActivityList(events: Vec<SecurityEvent>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Recent security activity"</h2>
            {if events.is_empty() {
                view! { <p>"Nothing yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="activity">
                        {events
                            .into_iter()
                            .map(|event| {
                                view! {
                                    <li class:warning=event.warning>
                                        <span class="what">{event.description}</span>
                                        <span class="when">{event.at}</span>
                                        <span class="where">{event.address} " · " {event.browser}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{Panel, TwoFactorState, choose_panel};

    fn scanning() -> TwoFactorState {
        TwoFactorState::Scanning {
            qr_svg: "<svg></svg>".into(),
            key: "ABCD EFGH".into(),
        }
    }

    fn code() -> Option<String> {
        Some("ABCD-EFGH-JKMN-PQRS".into())
    }

    #[test]
    fn a_stale_password_is_asked_again_before_a_change() {
        for state in [TwoFactorState::Off, TwoFactorState::On] {
            for change in ["", "disable", "regenerate"] {
                assert_eq!(
                    choose_panel(state.clone(), None, false, change),
                    Panel::Reauth
                );
            }
        }
    }

    #[test]
    fn scanning_shows_the_key_whatever_else() {
        let expected = Panel::Scan {
            qr_svg: "<svg></svg>".into(),
            key: "ABCD EFGH".into(),
        };
        for (recovery_code, recent) in [(None, true), (None, false), (code(), true)] {
            assert_eq!(
                choose_panel(scanning(), recovery_code, recent, ""),
                expected
            );
        }
    }

    #[test]
    fn the_wizards_recovery_code_is_step_two() {
        assert_eq!(
            choose_panel(TwoFactorState::SavingRecoveryCode, code(), true, ""),
            Panel::RecoveryCode {
                code: code().unwrap(),
                heading: "Step 2 of 3: Recovery code",
            }
        );
    }

    #[test]
    fn a_regenerated_recovery_code_is_shown_even_when_a_change_is_asked() {
        for change in ["", "disable", "regenerate"] {
            assert_eq!(
                choose_panel(TwoFactorState::On, code(), true, change),
                Panel::RecoveryCode {
                    code: code().unwrap(),
                    heading: "Your new recovery code",
                }
            );
        }
    }

    #[test]
    fn on_with_a_recent_password_follows_the_change_asked() {
        let on = |change| choose_panel(TwoFactorState::On, None, true, change);
        assert_eq!(on("disable"), Panel::Disable);
        assert_eq!(on("regenerate"), Panel::Regenerate);
        assert_eq!(on(""), Panel::On);
        assert_eq!(on("anything-else"), Panel::On);
    }

    #[test]
    fn off_explains_two_factor_authentication() {
        assert_eq!(
            choose_panel(TwoFactorState::Off, None, true, ""),
            Panel::Off
        );
        // A change asked of an account without two-factor authentication changes nothing.
        assert_eq!(
            choose_panel(TwoFactorState::Off, None, true, "disable"),
            Panel::Off
        );
        // Nor is a code waiting: an account with it off has none to show.
        assert_eq!(
            choose_panel(TwoFactorState::Off, code(), false, ""),
            Panel::Off
        );
    }

    #[test]
    fn a_recovery_code_step_without_its_code_shows_off() {
        for recent in [true, false] {
            assert_eq!(
                choose_panel(TwoFactorState::SavingRecoveryCode, None, recent, ""),
                Panel::Off
            );
        }
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::{SecurityEvent, SecurityOverview, UndoEmail};
    use crate::{
        account::sessions::ActiveSession,
        display::{browser_name, format_time},
        two_factor::{TwoFactorState, enroll::scan_code, service},
    };
    use crate::{
        audit::EventKind,
        auth::signed_in,
        error::AppError,
        state::AppState,
        store::{self, UserId},
    };

    /// The security page shows this many recent events.
    const RECENT_EVENTS: i64 = 20;

    pub async fn overview() -> Result<SecurityOverview, AppError> {
        let (state, user_id) = signed_in().await?;
        let account = store::account(&state.pool, user_id)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let required_by = store::requiring_org(&state.pool, user_id).await?;
        let held_by = match crate::org::service::enforcement(&state, user_id).await? {
            crate::org::service::Enforcement::Required { org_name, org_slug } => {
                Some(crate::org::OrgLink {
                    slug: org_slug,
                    name: org_name,
                })
            }
            _ => None,
        };
        let enforced = held_by.is_some();
        let auth = crate::auth::AuthSession::from_request().await?;
        let password_recent = auth.password_is_recent(state.clock.now()).await?;
        let this_sign_in = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
        // Secrets (the new key, a new recovery code) go only to the sign-in that made them, and
        // only while its password is recent: a stolen or stale session reads neither.
        let reveal_to = password_recent.then_some(this_sign_in.as_str());
        let two_factor = two_factor_state(&state, user_id, &account.username, reveal_to).await?;
        let recovery_code = match (&two_factor, reveal_to) {
            (TwoFactorState::SavingRecoveryCode | TwoFactorState::On, Some(sign_in_id)) => {
                service::revealed_recovery_code(&state, user_id, sign_in_id).await?
            }
            _ => None,
        };
        let two_factor = match (two_factor, &recovery_code) {
            // A confirmed enrollment whose code can no longer be shown is an abandoned one.
            (TwoFactorState::SavingRecoveryCode, None) => TwoFactorState::Off,
            (state, _) => state,
        };
        let events = store::recent_events(&state.pool, user_id, RECENT_EVENTS)
            .await?
            .into_iter()
            .filter_map(|row| {
                let kind = EventKind::parse(&row.kind)?;
                Some(SecurityEvent {
                    description: kind.description().to_owned(),
                    warning: kind.is_warning(),
                    at: format_time(row.at),
                    address: row.address.unwrap_or_else(|| "unknown address".into()),
                    browser: browser_name(row.user_agent.as_deref()),
                })
            })
            .collect();
        let now = state.clock.now();
        let keys = crate::security_keys::manage::keys_of(&state, user_id).await?;
        let apps = crate::two_factor::apps::apps_of(&state, user_id).await?;
        let adding_app = match reveal_to {
            Some(sign_in_id) => {
                crate::two_factor::apps::addition_of(&state, user_id, &account.username, sign_in_id)
                    .await?
            }
            None => None,
        };
        let remembered = store::remembered_browsers_of(&state.pool, user_id, state.clock.now())
            .await?
            .into_iter()
            .map(|row| crate::account::sessions::RememberedBrowser {
                id: row.id,
                browser: browser_name(row.user_agent.as_deref()),
                address: row.address.unwrap_or_else(|| "unknown address".into()),
                remembered: format_time(row.created_at),
                until: format_time(row.expires_at),
            })
            .collect();
        let pending_email =
            store::live_token_email(&state.pool, user_id, store::TokenPurpose::EmailChange, now)
                .await?;
        let undo_email = store::live_link(
            &state.pool,
            user_id,
            store::TokenPurpose::EmailChangeUndo,
            now,
        )
        .await?
        .and_then(|link| {
            Some(UndoEmail {
                email: link.email?,
                until: format_time(link.expires_at),
            })
        });
        let sessions = store::sign_ins_of(
            &state.pool,
            user_id,
            now - crate::auth::IDLE_TIMEOUT_SECONDS,
        )
        .await?
        .into_iter()
        .map(|row| ActiveSession {
            current: this_sign_in == row.id,
            browser: browser_name(row.user_agent.as_deref()),
            address: row.address.unwrap_or_else(|| "unknown address".into()),
            signed_in: format_time(row.created_at),
            last_seen: format_time(row.last_seen_at),
            id: row.id,
        })
        .collect();
        Ok(SecurityOverview {
            required_by,
            enforced,
            held_by,
            sessions,
            password_recent,
            username: account.username,
            email: account.email,
            email_verified: account.email_verified_at.is_some(),
            pending_email,
            undo_email,
            keys,
            apps,
            adding_app,
            remembered,
            two_factor,
            recovery_code,
            events,
        })
    }

    /// The switch's state as `reveal_to` (this sign-in, when its password is recent) may see it:
    /// an enrollment of another sign-in, or one this sign-in may not see now, shows as off.
    async fn two_factor_state(
        state: &AppState,
        user_id: UserId,
        username: &str,
        reveal_to: Option<&str>,
    ) -> Result<TwoFactorState, AppError> {
        if store::two_factor_of(&state.pool, user_id).await?.is_some() {
            return Ok(TwoFactorState::On);
        }
        let recent = state.clock.now() - service::REVEAL_SECONDS;
        let Some(enrollment) =
            store::enrollment_of(&state.pool, user_id)
                .await?
                .filter(|enrollment| {
                    enrollment.started_at >= recent
                        && reveal_to.is_some()
                        && enrollment.sign_in_id.as_deref() == reveal_to
                })
        else {
            return Ok(TwoFactorState::Off);
        };
        if enrollment.confirmed_step.is_some() {
            return Ok(TwoFactorState::SavingRecoveryCode);
        }
        let secret = state
            .secrets
            .open(&enrollment.secret_sealed, &service::secret_context(user_id))?;
        let (qr_svg, key) = scan_code(state, username, &secret)?;
        Ok(TwoFactorState::Scanning { qr_svg, key })
    }
}
