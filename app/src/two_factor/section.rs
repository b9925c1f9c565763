//! The two-factor card of the security page: the switch, and under it whichever step of the
//! wizard or change is under way. Its data, loaded for the viewer, and the choice of panel.

use leptos::prelude::*;

use crate::paths;
use leptos_router::components::Form;
use serde::{Deserialize, Serialize};

use super::{
    TwoFactorState,
    enroll::{RecoveryCodeStep, ScanStep, StartEnrollment},
    manage::{DisableForm, RegenerateForm},
};
use crate::components::{FormMessage, Hidden, PortalForm, Switch, error_of};

/// What the two-factor card shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorSection {
    pub state: TwoFactorState,
    /// A recovery code waiting to be saved: shown once, during enrollment or after a new one.
    pub recovery_code: Option<String>,
    /// Whether the password was entered in the last 15 minutes: changes need it.
    pub password_recent: bool,
    /// The organization that requires two-factor authentication of this account, if any.
    pub required_by: Option<String>,
}

impl TwoFactorSection {
    pub fn is_on(&self) -> bool {
        self.state == TwoFactorState::On
    }
}

/// What the two-factor card shows under the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Panel {
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
pub(crate) fn choose_panel(
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

/// The card: the switch, and under it the panel for `change` (`?change=`). `reauth` is the
/// password form of the account flow; `children` go above the switch (a hold's banner).
#[component]
pub fn TwoFactorCard(
    section: TwoFactorSection,
    change: String,
    reauth: AnyView,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let on = section.is_on();
    let panel = match choose_panel(
        section.state,
        section.recovery_code,
        section.password_recent,
        &change,
    ) {
        Panel::Reauth => reauth,
        Panel::Scan { qr_svg, key } => view! { <ScanStep qr_svg key /> }.into_any(),
        Panel::RecoveryCode { code, heading } => {
            view! { <RecoveryCodeStep code heading /> }.into_any()
        }
        Panel::Disable => view! { <DisableForm /> }.into_any(),
        Panel::Regenerate => view! { <RegenerateForm /> }.into_any(),
        Panel::On => view! { <OnSummary /> }.into_any(),
        Panel::Off => view! {
            <p>"Add a code from an authenticator app to your password, so a stolen password alone does not open your account."</p>
        }
        .into_any(),
    };
    view! {
        <section class="card" aria-labelledby="two-factor-heading">
            <h2 id="two-factor-heading">"Two-factor authentication"</h2>
            <FormMessage error={error_of::<StartEnrollment>()} />
            {children.map(|children| children())}
            <TwoFactorSwitch on required_by=section.required_by />
            {panel}
        </section>
    }
}

/// The switch: off, it starts the wizard; on, it asks for a code to turn off. Each press is a
/// form, so it works without JavaScript.
#[component]
fn TwoFactorSwitch(on: bool, required_by: Option<String>) -> impl IntoView {
    // An organization that requires it keeps it on: the switch says so and does nothing.
    let locked = on && required_by.is_some();
    let note = required_by.filter(|_| locked).map(|org| {
        format!("{org} requires two-factor authentication: it stays on while you are a member.")
    });
    let switch = move || {
        view! {
            <Switch
                on
                label="Enable two-factor authentication"
                disabled=locked
                described_by=locked.then_some("switch-note")
            />
        }
    };
    let note = note.map(|note| view! { <p id="switch-note" class="hint">{note}</p> });
    if on {
        view! {
            {note}
            <Form method="GET" action=paths::SECURITY>
                <Hidden name="change" value="disable" />
                {switch()}
            </Form>
        }
        .into_any()
    } else {
        view! { <PortalForm<StartEnrollment> message=false>{switch()}</PortalForm<StartEnrollment>> }.into_any()
    }
}

#[component]
fn OnSummary() -> impl IntoView {
    view! {
        <p>"Two-factor authentication is on: signing in asks for a code from your authenticator app."</p>
        <Form method="GET" action=paths::SECURITY>
            <Hidden name="change" value="regenerate" />
            <button type="submit" class="secondary">"Regenerate recovery code"</button>
        </Form>
    }
}

#[cfg(test)]
mod tests {
    use super::{Panel, choose_panel};
    use crate::two_factor::TwoFactorState;

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
