//! Whether a browser's Portal session may reach a request to an app behind the proxy, by the
//! access rules (`security::access_rules`). Every answer reads the sign-in from the database: a
//! sign-out on one instance is refused by the next verify on any other.

use tower_sessions::Session;

use crate::{
    auth::AuthSession,
    error::AppError,
    oidc::service::{amr, is_multi_factor},
    org::service::{Enforcement, enforcement},
    paths,
    security::access_rules::{Policy, Rule},
    state::AppState,
    store::{self, UserId},
};

/// Who the app is told it is serving (the `Remote-*` headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    /// Only a verified address; empty otherwise.
    pub email: String,
    pub name: String,
    /// The slugs of the organizations the person has joined.
    pub groups: Vec<String>,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through; with the person, if signed in.
    Allowed(Option<Identity>),
    /// No sign-in: sign in.
    SignIn,
    /// Signed in without the second factor the account has and the rule asks for: sign in again.
    StepUp,
    /// Signed in, but the rule asks for a second factor the account does not have yet (or an
    /// organization holds it): the enrollment wizard, then on to the app.
    Enroll,
    /// Not for this person, or not for anyone: why, in words.
    Forbidden(String),
}

impl Verdict {
    /// The outcome as the metrics count it.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Allowed(_) => "allowed",
            Self::SignIn | Self::StepUp | Self::Enroll => "login",
            Self::Forbidden(_) => "denied",
        }
    }
}

/// The verdict for a request to `host` at `uri`, for the browser whose session this is.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn verify(
    state: &AppState,
    session: Session,
    host: &str,
    uri: &str,
) -> Result<Verdict, AppError> {
    let Some(rule) = state.settings.access_rules.rule_for(host, uri) else {
        return Ok(Verdict::Forbidden(
            "No access rule names this address.".to_owned(),
        ));
    };
    let auth = AuthSession::new(session);
    let user_id = match rule.policy {
        Policy::Deny => {
            return Ok(Verdict::Forbidden(
                "Access to this address is closed to everyone.".to_owned(),
            ));
        }
        Policy::Bypass => {
            return Ok(Verdict::Allowed(match auth.signed_in_user(state).await? {
                Some(user_id) => Some(identity(state, user_id).await?),
                None => None,
            }));
        }
        Policy::OneFactor | Policy::TwoFactor => match auth.signed_in_user(state).await? {
            Some(user_id) => user_id,
            None => return Ok(Verdict::SignIn),
        },
    };
    tracing::Span::current().record("user_id", user_id.0);
    if matches!(
        enforcement(state, user_id).await?,
        Enforcement::Required { .. }
    ) {
        return Ok(Verdict::Enroll);
    }
    if rule.policy == Policy::TwoFactor {
        let shown = auth
            .authentication()
            .await?
            .is_some_and(|authentication| is_multi_factor(&amr(&authentication).join(" ")));
        if !shown {
            let has_factor = store::two_factor_of(&state.pool, user_id).await?.is_some();
            return Ok(if has_factor {
                Verdict::StepUp
            } else {
                Verdict::Enroll
            });
        }
    }
    let identity = identity(state, user_id).await?;
    if !member_of_one(rule, &identity) {
        return Ok(Verdict::Forbidden(format!(
            "Only members of {} may open this address.",
            rule.organizations.join(", ")
        )));
    }
    if let Some(sign_in) = auth.sign_in_id().await? {
        note_app_use(state, &sign_in, host).await?;
    }
    Ok(Verdict::Allowed(Some(identity)))
}

/// How often a sign-in's use of an app is written: the session list shows which apps, not each
/// request.
const APP_USE_RESOLUTION_SECONDS: i64 = 60;

/// Notes, at most once a minute per sign-in and app (per instance), that the sign-in reached
/// the app.
async fn note_app_use(
    state: &AppState,
    sign_in: &store::SignInId,
    host: &str,
) -> Result<(), AppError> {
    use std::{
        collections::HashMap,
        sync::{Mutex, OnceLock},
    };
    static NOTED: OnceLock<Mutex<HashMap<(String, String), i64>>> = OnceLock::new();
    let host = crate::security::access_rules::host_without_port(host).to_ascii_lowercase();
    let now = state.clock.now();
    let key = (sign_in.as_str().to_owned(), host.clone());
    {
        let mut noted = NOTED
            .get_or_init(Default::default)
            .lock()
            .expect("not poisoned");
        if noted
            .get(&key)
            .is_some_and(|at| now.0 - at < APP_USE_RESOLUTION_SECONDS)
        {
            return Ok(());
        }
        if noted.len() > 10_000 {
            noted.clear();
        }
        noted.insert(key, now.0);
    }
    store::note_app_use(&state.pool, sign_in, &host, now).await?;
    Ok(())
}

fn member_of_one(rule: &Rule, identity: &Identity) -> bool {
    rule.organizations.is_empty()
        || rule
            .organizations
            .iter()
            .any(|slug| identity.groups.contains(slug))
}

async fn identity(state: &AppState, user_id: UserId) -> Result<Identity, AppError> {
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let groups = store::memberships_of(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|membership| membership.slug)
        .collect();
    Ok(Identity {
        name: account.username.clone(),
        email: if account.email_verified_at.is_some() {
            account.email
        } else {
            String::new()
        },
        username: account.username,
        groups,
    })
}

/// Where a browser that must enroll first goes: the wizard, which sends it on to `back` (a path
/// on this site that returns it to the app) when it is done.
pub async fn enroll_then(session: Session, back: &str) -> Result<String, AppError> {
    let auth = AuthSession::new(session);
    auth.after_wizard(back).await?;
    Ok(paths::SECURITY.to_owned())
}

/// Whether Portal may send a browser to `target` after signing in or out: an http(s) URL whose
/// host a rule names. Never anywhere else (no open redirect).
pub fn may_return_to(state: &AppState, target: &str) -> Option<url::Url> {
    let url = url::Url::parse(target).ok()?;
    let host = url.host_str()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && state.settings.access_rules.names_host(host);
    ok.then_some(url)
}
