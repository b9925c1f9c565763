//! On the security page with two-factor authentication on: the account's authenticator apps (name,
//! when added, when last used), another one added (a code or the recovery code first, then the new
//! app's QR code and a code from it), and any but the last removed.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
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
    super::service::apps::start(&app_name, &app_code).await
}

/// Adds the app once `new_app_code`, a code it shows, proves it holds the secret.
#[server(endpoint = "finish_app_addition")]
pub async fn finish_app_addition(new_app_code: String) -> Result<(), AppError> {
    super::service::apps::finish(&new_app_code).await?;
    crate::validation::redirect(&Notice::AppAdded.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "cancel_app_addition")]
pub async fn cancel_app_addition() -> Result<(), AppError> {
    super::service::apps::cancel().await?;
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
    super::service::apps::remove(id, &code).await?;
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
