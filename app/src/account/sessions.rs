//! The account's active sessions, each with a way to sign it out, and the password asked again
//! before a factor changes on an older sign-in.

use leptos::prelude::*;

// Used by the server functions' bodies, which the browser build leaves out.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
use crate::{notice::Notice, paths};
use serde::{Deserialize, Serialize};

use crate::{
    components::{EnterSubmitsNothing, Field, Hidden, Intro, PortalForm, SubmitButton},
    error::AppError,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSession {
    pub id: String,
    pub browser: String,
    pub address: String,
    pub signed_in: String,
    pub last_seen: String,
    pub current: bool,
    /// The apps behind the proxy it reached (forward-auth), by host.
    pub apps: Vec<String>,
}

/// A browser that skips the second step, as the security page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RememberedBrowser {
    pub id: i64,
    pub browser: String,
    pub address: String,
    pub remembered: String,
    pub until: String,
}

/// The sessions card and, with two-factor authentication on, the remembered browsers card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsSection {
    pub sessions: Vec<ActiveSession>,
    pub remembered: Vec<RememberedBrowser>,
}

/// Forgets the remembered browser `id` once `code`, a code from an app or the recovery code,
/// confirms it: the product's rule is that every change that weakens a factor, forgetting browsers
/// included, asks for a second factor, so a session alone cannot make the owner's browsers ask
/// for codes again.
#[server(endpoint = "forget_browser")]
pub async fn forget_browser(id: i64, #[server(default)] code: String) -> Result<(), AppError> {
    super::service::sessions::forget_browser(id, &code).await?;
    crate::validation::redirect(&Notice::BrowserForgotten.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    super::service::sessions::revoke(&id).await?;
    crate::validation::redirect(&Notice::SignedOut.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "sign_out_other_sessions")]
pub async fn sign_out_other_sessions() -> Result<(), AppError> {
    let (state, user_id) = crate::auth::signed_in().await?;
    crate::auth::AuthSession::from_request()
        .await?
        .sign_out_others(&state, user_id)
        .await?;
    crate::validation::redirect(&Notice::SignedOutOthers.at(paths::SECURITY));
    Ok(())
}

#[server(endpoint = "confirm_password")]
pub async fn confirm_password(password: String) -> Result<(), AppError> {
    super::service::sessions::confirm_password(password.into()).await?;
    crate::validation::redirect(paths::SECURITY);
    Ok(())
}

#[component]
pub fn SessionList(sessions: Vec<ActiveSession>) -> impl IntoView {
    let has_others = sessions.iter().any(|session| !session.current);
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Active sessions"</h2>
            <ul class="sessions">
                {sessions
                    .into_iter()
                    .map(|session| {
                        let label = format!("Sign out {} at {}", session.browser, session.address);
                        view! {
                            <li>
                                <span class="what">
                                    {session.browser.clone()}
                                    {session.current.then(|| view! { <strong class="badge">"This session"</strong> })}
                                </span>
                                <span class="where">{session.address.clone()}</span>
                                <span class="when">
                                    "Signed in " {session.signed_in} " · last seen " {session.last_seen}
                                </span>
                                {(!session.apps.is_empty()).then(|| view! {
                                    <span class="apps">"Apps: " {session.apps.join(", ")}</span>
                                })}
                                {(!session.current).then(|| view! {
                                    <PortalForm<RevokeSession> class="inline" message=false>
                                        <Hidden name="id" value=session.id.clone() />
                                        <button type="submit" class="secondary" aria-label=label>"Sign out"</button>
                                    </PortalForm<RevokeSession>>
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {has_others.then(|| view! {
                <PortalForm<SignOutOtherSessions> message=false>
                    <button type="submit" class="secondary">"Sign out of all other sessions"</button>
                </PortalForm<SignOutOtherSessions>>
            })}
        </section>
    }
}

/// The browsers that skip the second step, each with Forget.
#[component]
pub fn RememberedBrowsers(browsers: Vec<RememberedBrowser>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="remembered-heading">
            <h2 id="remembered-heading">"Remembered browsers"</h2>
            {if browsers.is_empty() {
                view! { <p>{format!("None. Tick “{}” at the code step to skip it on that browser.", crate::limits::remember_label())}</p> }.into_any()
            } else {
                // One form for the list, as for keys and apps: the code typed once, and the
                // Forget button pressed names its browser (`id`).
                view! {
                    <PortalForm<ForgetBrowser> novalidate=true>
                        <EnterSubmitsNothing />
                        <ul class="sessions">
                            {browsers
                                .into_iter()
                                .map(|browser| {
                                    let label = format!("Forget {} at {}", browser.browser, browser.address);
                                    view! {
                                        <li>
                                            <span class="what">{browser.browser}</span>
                                            <span class="where">{browser.address}</span>
                                            <span class="when">"Remembered " {browser.remembered} " · until " {browser.until}</span>
                                            <button type="submit" name="id" value=browser.id.to_string() class="secondary" aria-label=label>"Forget"</button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                        <Field
                            label="Code to forget a browser"
                            name="code"
                            id="forget_browser_code"
                            autocomplete="one-time-code"
                            hint="A code from your authenticator app, or your recovery code; then press Forget beside the browser."
                        />
                    </PortalForm<ForgetBrowser>>
                }
                    .into_any()
            }}
        </section>
    }
}

/// Asked before a factor changes when the password was entered more than 15 minutes ago.
#[component]
pub fn ReauthForm() -> impl IntoView {
    view! {
        <PortalForm<ConfirmPassword> novalidate=true>
            <Intro slot>
                <p>"To change two-factor authentication, confirm your password first."</p>
            </Intro>
            <Field label="Password" name="password" input_type="password" autocomplete="current-password" />
            <SubmitButton label="Confirm password" />
        </PortalForm<ConfirmPassword>>
    }
}
