//! On the security page with two-factor authentication on: the account's authenticator apps (name,
//! when added, when last used), another one added (a code or the recovery code first, then the new
//! app's QR code and a code from it), and any but the last removed.

use leptos::prelude::*;

use crate::{notice::Notice, paths};
use serde::{Deserialize, Serialize};

use crate::{
    components::{EnterSubmitsNothing, Field, Intro, PortalForm, SubmitButton},
    error::AppError,
};

/// An app as the security page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

/// Another app being added, shown to the sign-in that started it: its name and its secret as a
/// QR code and as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAddition {
    pub name: String,
    pub qr_svg: String,
    pub key: String,
}

/// The apps card: the apps, and another being added by this sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsSection {
    pub apps: Vec<AppInfo>,
    pub adding: Option<AppAddition>,
}

/// Starts adding an app named `app_name`. `app_code`, a code from an app the account has or its
/// recovery code, comes first: a session alone must not add a second factor.
#[server(endpoint = "start_app_addition")]
pub async fn start_app_addition(app_name: String, app_code: String) -> Result<(), AppError> {
    ssr::start(&app_name, &app_code).await
}

/// Adds the app once `new_app_code`, a code it shows, proves it holds the secret.
#[server(endpoint = "finish_app_addition")]
pub async fn finish_app_addition(new_app_code: String) -> Result<(), AppError> {
    ssr::finish(&new_app_code).await?;
    crate::validation::redirect(&Notice::AppAdded.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "cancel_app_addition")]
pub async fn cancel_app_addition() -> Result<(), AppError> {
    let (state, user_id) = crate::auth::signed_in().await?;
    crate::store::cancel_app_addition(&state.pool, user_id).await?;
    crate::validation::redirect(paths::SECURITY);
    Ok(())
}

/// Removes the app `id` once `code`, a code from an app or the recovery code, confirms it: as
/// adding one, removing one is not for a session alone (review M3).
#[server(endpoint = "remove_authenticator_app")]
pub async fn remove_authenticator_app(
    id: i64,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    ssr::remove(id, &code).await?;
    crate::validation::redirect(&Notice::AppRemoved.at(paths::SECURITY));
    Ok(())
}

#[component]
pub fn AuthenticatorApps(section: AppsSection) -> impl IntoView {
    let AppsSection { apps, adding } = section;
    // The last app goes only with two-factor authentication (the switch above).
    let removable = apps.len() > 1;
    view! {
        <section class="card" aria-labelledby="apps-heading">
            <h2 id="apps-heading">"Authenticator apps"</h2>
            {if removable {
                // One form for the list: the code typed once, and the Remove button pressed
                // names its app (`id`), with and without JavaScript.
                view! {
                    <PortalForm<RemoveAuthenticatorApp> novalidate=true>
                        <EnterSubmitsNothing />
                        <AppList apps removable />
                        <Field
                            label="Code to remove an app"
                            name="code"
                            id="remove_app_code"
                            autocomplete="one-time-code"
                            hint="A code from an app you keep, or your recovery code; then press Remove beside the app."
                        />
                    </PortalForm<RemoveAuthenticatorApp>>
                }
                    .into_any()
            } else {
                view! { <AppList apps removable /> }.into_any()
            }}
            {match adding {
                Some(adding) => view! { <AddingApp adding /> }.into_any(),
                None => view! { <AddAppForm /> }.into_any(),
            }}
        </section>
    }
}

/// The apps, each with Remove (a button of the enclosing form) while another remains.
#[component]
fn AppList(apps: Vec<AppInfo>, removable: bool) -> impl IntoView {
    view! {
        <ul class="sessions">
            {apps
                .into_iter()
                .map(|app| {
                    let label = format!("Remove {}", app.name);
                    let used = app
                        .last_used
                        .map_or_else(|| "never used".to_owned(), |at| format!("last used {at}"));
                    view! {
                        <li>
                            <span class="what">{app.name}</span>
                            <span class="when">"Added " {app.added} " · " {used}</span>
                            {removable.then(|| view! {
                                <button type="submit" name="id" value=app.id.to_string() class="secondary" aria-label=label>"Remove"</button>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
fn AddAppForm() -> impl IntoView {
    view! {
        <PortalForm<StartAppAddition> novalidate=true>
            <Intro slot>
                <p>"A second app, on another phone for instance, keeps you in when one is lost."</p>
            </Intro>
            <Field label="Name of the app" name="app_name" hint="So you can tell your apps apart, e.g. “Work phone”." />
            <Field
                label="Code from an app you have"
                name="app_code"
                autocomplete="one-time-code"
                hint="Or your recovery code: it confirms that it is you."
            />
            <SubmitButton label="Add another authenticator app" class="secondary" />
        </PortalForm<StartAppAddition>>
    }
}

/// The new app's QR code and key, and the code that proves it has them.
#[component]
fn AddingApp(adding: AppAddition) -> impl IntoView {
    view! {
        <h3>{format!("Add “{}”", adding.name)}</h3>
        <p>"Scan this QR code with the new app, then enter the 6-digit code it shows."</p>
        <div class="qr-code" role="img" aria-label="QR code for the new app" inner_html=adding.qr_svg></div>
        <p>"Can’t scan it? Enter this key in the app instead:"</p>
        <p class="key" aria-label="Key of the new app">
            <code>{adding.key}</code>
        </p>
        <PortalForm<FinishAppAddition> novalidate=true>
            <Field label="Code from the new app" name="new_app_code" autocomplete="one-time-code" inputmode="numeric" />
            <div class="actions">
                <SubmitButton label="Add the app" />
            </div>
        </PortalForm<FinishAppAddition>>
        <PortalForm<CancelAppAddition> class="inline" message=false>
            <button type="submit" class="secondary">"Cancel adding the app"</button>
        </PortalForm<CancelAppAddition>>
    }
}

#[cfg(feature = "ssr")]
pub use ssr::section;

#[cfg(feature = "ssr")]
mod ssr {
    use super::{AppAddition, AppInfo, AppsSection};
    use crate::{
        audit::EventKind,
        auth::{client, signed_in, signed_in_recently, this_sign_in_id},
        display::format_time,
        error::{AppError, Missing},
        mail::templates::Notice,
        security::totp::{self, CodeCheck},
        state::AppState,
        store::{self, UserId},
        two_factor::{
            enroll::{new_secret, scan_code},
            service::{REVEAL_SECONDS, factor_changed, secret_context, verify_any_factor},
        },
        validation,
    };

    /// Each code check tries every app of the account: a handful is what people carry.
    const MAX_APPS: usize = 10;

    pub async fn section(viewer: &crate::auth::Viewer) -> Result<AppsSection, AppError> {
        let (state, user_id) = (&viewer.state, viewer.user_id());
        let adding = match viewer.reveal_to() {
            Some(sign_in_id) => {
                addition_of(state, user_id, &viewer.account.username, sign_in_id).await?
            }
            None => None,
        };
        Ok(AppsSection {
            apps: apps_of(state, user_id).await?,
            adding,
        })
    }

    async fn apps_of(state: &AppState, user_id: UserId) -> Result<Vec<AppInfo>, AppError> {
        Ok(store::authenticator_apps_of(&state.pool, user_id)
            .await?
            .into_iter()
            .map(|app| AppInfo {
                id: app.id,
                name: app.name,
                added: format_time(app.created_at),
                last_used: app.last_used_at.map(format_time),
            })
            .collect())
    }

    /// The addition under way that `sign_in_id` started, recently.
    async fn addition_of(
        state: &AppState,
        user_id: UserId,
        username: &str,
        sign_in_id: &str,
    ) -> Result<Option<AppAddition>, AppError> {
        let Some(addition) = current_addition(state, user_id, sign_in_id).await? else {
            return Ok(None);
        };
        let secret = state
            .secrets
            .open(&addition.secret_sealed, &secret_context(user_id))?;
        let (qr_svg, key) = scan_code(state, username, &secret)?;
        Ok(Some(AppAddition {
            name: addition.name,
            qr_svg,
            key,
        }))
    }

    async fn current_addition(
        state: &AppState,
        user_id: UserId,
        sign_in_id: &str,
    ) -> Result<Option<store::AdditionRow>, AppError> {
        let recent = state.clock.now() - REVEAL_SECONDS;
        Ok(store::app_addition_of(&state.pool, user_id)
            .await?
            .filter(|addition| addition.sign_in_id == sign_in_id && addition.started_at >= recent))
    }

    pub async fn start(name: &str, code: &str) -> Result<(), AppError> {
        let (state, user_id) = signed_in_recently().await?;
        let name = validation::factor_name(name, "Name the app, e.g. “Work phone”.")
            .map_err(|message| AppError::validation("app_name", message))?;
        if store::two_factor_of(&state.pool, user_id).await?.is_none() {
            return Err(AppError::TwoFactorOff);
        }
        if store::authenticator_apps_of(&state.pool, user_id)
            .await?
            .len()
            >= MAX_APPS
        {
            return Err(AppError::validation(
                "app_name",
                format!("An account has at most {MAX_APPS} authenticator apps: remove one first."),
            ));
        }
        verify_any_factor(&state, user_id, code, &client().await)
            .await
            .map_err(|error| match error {
                AppError::Validation { message, .. } => AppError::validation("app_code", message),
                other => other,
            })?;
        let sealed = state.secrets.seal(&new_secret(), &secret_context(user_id));
        store::start_app_addition(
            &state.pool,
            user_id,
            &this_sign_in_id().await?,
            &name,
            &sealed,
            state.clock.now(),
        )
        .await?;
        Ok(())
    }

    pub async fn finish(code: &str) -> Result<(), AppError> {
        let (state, user_id) = signed_in().await?;
        let sign_in_id = this_sign_in_id().await?;
        let code = totp::parse_code(code).ok_or_else(|| {
            AppError::validation("new_app_code", "Enter the 6-digit code the new app shows.")
        })?;
        let addition = current_addition(&state, user_id, &sign_in_id)
            .await?
            .ok_or(AppError::AppAdditionGone)?;
        let secret = state
            .secrets
            .open(&addition.secret_sealed, &secret_context(user_id))?;
        let now = state.clock.now();
        let CodeCheck::Accepted(step) = totp::check_code(&secret, &code, now, None) else {
            return Err(AppError::validation(
                "new_app_code",
                "That code is not the new app’s. Check that it shows Portal’s new entry, and enter its current code.",
            ));
        };
        if !store::finish_app_addition(
            &state.pool,
            user_id,
            &sign_in_id,
            &addition.secret_sealed,
            step.0,
            now,
        )
        .await?
        {
            return Err(AppError::AppAdditionGone);
        }
        factor_changed(
            &state,
            user_id,
            EventKind::AppAdded,
            Some(&addition.name),
            Notice::AppAdded,
        )
        .await
    }

    pub async fn remove(id: i64, code: &str) -> Result<(), AppError> {
        let (state, user_id) = signed_in_recently().await?;
        verify_any_factor(&state, user_id, code, &client().await).await?;
        let apps = store::authenticator_apps_of(&state.pool, user_id).await?;
        if !apps.iter().any(|app| app.id == id) {
            return Err(AppError::NotFound {
                what: Missing::AuthenticatorApp,
            });
        }
        // The count is checked again under the write lock: of two removals at once, one stays.
        let Some(name) = store::remove_authenticator_app(&state.pool, user_id, id).await? else {
            return Err(AppError::LastAuthenticatorApp);
        };
        factor_changed(
            &state,
            user_id,
            EventKind::AppRemoved,
            Some(&name),
            Notice::AppRemoved,
        )
        .await
    }
}
