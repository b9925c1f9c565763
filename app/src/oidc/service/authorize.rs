//! The authorization endpoint: an app sends a browser here; Portal checks the request, signs the
//! person in with its own pages (password, second factor, passkey, remembered browser, an
//! organization's hold), asks for consent, and sends the browser back with a code. A request
//! that cannot be trusted to name its app (unknown client, unregistered redirect URI) ends on an
//! error page here: it never redirects anywhere.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{CODE_SECONDS, amr, is_multi_factor, issuer};
use crate::{
    auth::AuthSession,
    error::AppError,
    oidc::{Scope, scopes_from, scopes_to_string},
    org::service::{Enforcement, enforcement},
    paths,
    security::token,
    state::AppState,
    store::{self, ClientRow, SignInId},
    unix_time::UnixTime,
};

/// What an app sent, as query or form parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// A checked request, kept in the session while the person signs in or decides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<Scope>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub created_at: UnixTime,
    /// The person allowed it on the consent page (this time).
    pub consented: bool,
    /// The person said no.
    pub denied: bool,
    /// The sign-in this browser had when the request asked for a new one (`prompt=login`,
    /// `max_age`): any other sign-in is the new one. Times alone cannot tell, as a sign-in in the
    /// same second as the request would pass for new.
    #[serde(default)]
    pub sign_in_to_replace: Option<Option<SignInId>>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Back to the app at this URL (a registered redirect URI with a code or an error).
    App(String),
    /// A page of Portal's first (sign in, the wizard, consent).
    Portal(String),
    /// The request names no app it could go back to: an error page, never a redirect.
    ErrorPage(&'static str),
}

/// Requests waiting in a browser's session; a few at most (several tabs).
const REQUESTS: &str = "oidc.requests";
const KEPT_REQUESTS: usize = 5;

async fn kept_requests(session: &Session) -> Result<Vec<AuthRequest>, AppError> {
    Ok(session.get(REQUESTS).await?.unwrap_or_default())
}

async fn keep(session: &Session, request: &AuthRequest) -> Result<(), AppError> {
    let mut requests = kept_requests(session).await?;
    requests.retain(|kept| kept.id != request.id);
    requests.push(request.clone());
    if requests.len() > KEPT_REQUESTS {
        requests.remove(0);
    }
    Ok(session.insert(REQUESTS, requests).await?)
}

async fn forget(session: &Session, id: &str) -> Result<(), AppError> {
    let mut requests = kept_requests(session).await?;
    requests.retain(|kept| kept.id != id);
    Ok(session.insert(REQUESTS, requests).await?)
}

/// The request `id` this browser started, if it is still waiting.
pub async fn kept(session: &Session, id: &str) -> Result<Option<AuthRequest>, AppError> {
    Ok(kept_requests(session)
        .await?
        .into_iter()
        .find(|request| request.id == id))
}

/// Notes the person's answer on the consent page.
pub async fn answer(session: &Session, id: &str, allowed: bool) -> Result<bool, AppError> {
    let Some(mut request) = kept(session, id).await? else {
        return Ok(false);
    };
    request.consented = allowed;
    request.denied = !allowed;
    keep(session, &request).await?;
    Ok(true)
}

/// The URL of an app's redirect URI with these parameters added, `iss` among them (RFC 9207).
fn back_to_app(state: &AppState, redirect_uri: &str, params: &[(&str, &str)]) -> Next {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return Next::ErrorPage("The app's address is not valid."),
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", &issuer(state));
    }
    Next::App(url.into())
}

fn error_to_app(state: &AppState, request: &AuthRequest, error: &str, description: &str) -> Next {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(app_state) = &request.state {
        params.push(("state", app_state));
    }
    back_to_app(state, &request.redirect_uri, &params)
}

fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

/// Checks the request: the app and its redirect URI first (an error page when either is
/// wrong), then the rest (an error sent back to the app).
async fn check(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Result<(AuthRequest, ClientRow), Next>, AppError> {
    let unknown = Next::ErrorPage("This sign-in link names no app registered with Portal.");
    let client = match &params.client_id {
        Some(id) => store::client(&state.pool, id).await?,
        None => None,
    };
    let Some(client) = client else {
        return Ok(Err(unknown));
    };
    let Some(redirect_uri) = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uris().any(|registered| registered == *uri))
    else {
        return Ok(Err(Next::ErrorPage(
            "This sign-in link asks to return to an address the app did not register.",
        )));
    };
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect();
    let mut request = AuthRequest {
        id: token::new_token(),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes: scopes_from(params.scope.as_deref().unwrap_or_default()),
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge: params.code_challenge.clone().unwrap_or_default(),
        prompt_none: prompts.contains(&"none"),
        prompt_login: prompts.contains(&"login"),
        prompt_consent: prompts.contains(&"consent"),
        max_age: None,
        created_at: state.clock.now(),
        consented: false,
        denied: false,
        sign_in_to_replace: None,
    };
    let refuse = |request: &AuthRequest, error: &str, description: &str| {
        Ok(Err(error_to_app(state, request, error, description)))
    };
    if params.request.is_some() {
        return refuse(
            &request,
            "request_not_supported",
            "Request objects are not supported.",
        );
    }
    if params.request_uri.is_some() {
        return refuse(
            &request,
            "request_uri_not_supported",
            "request_uri is not supported.",
        );
    }
    if params.response_type.as_deref() != Some("code") {
        return refuse(
            &request,
            "unsupported_response_type",
            "Only response_type=code is supported.",
        );
    }
    if !request.scopes.contains(&Scope::OpenId) {
        return refuse(&request, "invalid_scope", "The openid scope is required.");
    }
    if request.prompt_none && prompts.len() > 1 {
        return refuse(&request, "invalid_request", "prompt=none goes alone.");
    }
    if params.code_challenge_method.as_deref() != Some("S256") {
        return refuse(
            &request,
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required.",
        );
    }
    if !is_pkce_value(&request.code_challenge) {
        return refuse(
            &request,
            "invalid_request",
            "code_challenge is missing or malformed.",
        );
    }
    if let Some(max_age) = &params.max_age {
        match max_age.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => request.max_age = Some(seconds),
            _ => {
                return refuse(
                    &request,
                    "invalid_request",
                    "max_age is a number of seconds.",
                );
            }
        }
    }
    Ok(Ok((request, client)))
}

/// An app's request, as it arrives: checked, then decided.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn authorize(
    state: &AppState,
    session: Session,
    params: &AuthorizeParams,
) -> Result<Next, AppError> {
    match check(state, params).await? {
        Ok((request, client)) => decide(state, session, request, &client).await,
        Err(next) => Ok(next),
    }
}

/// A kept request, after Portal's sign-in or consent page.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn resume(state: &AppState, session: Session, id: &str) -> Result<Next, AppError> {
    let Some(request) = kept(&session, id).await? else {
        return Ok(Next::ErrorPage(
            "This sign-in has expired. Go back to the app and start again.",
        ));
    };
    let Some(client) = store::client(&state.pool, &request.client_id).await? else {
        return Ok(Next::ErrorPage(
            "This app is no longer registered with Portal.",
        ));
    };
    decide(state, session, request, &client).await
}

fn continue_path(request: &AuthRequest) -> String {
    format!("{}?request={}", paths::OIDC_CONTINUE, request.id)
}

/// Sign-in first, with `next` back to this request.
fn to_sign_in(request: &AuthRequest) -> Next {
    let next: String =
        url::form_urlencoded::byte_serialize(continue_path(request).as_bytes()).collect();
    Next::Portal(format!("{}?next={next}", paths::LOGIN))
}

async fn decide(
    state: &AppState,
    session: Session,
    mut request: AuthRequest,
    client: &ClientRow,
) -> Result<Next, AppError> {
    let auth = AuthSession::new(session.clone());
    let now = state.clock.now();
    let user_id = auth.signed_in_user(state).await?;
    let authentication = auth.authentication().await?;
    let (Some(user_id), Some(authentication)) = (user_id, authentication) else {
        if request.prompt_none {
            return Ok(error_to_app(
                state,
                &request,
                "login_required",
                "The person is not signed in.",
            ));
        }
        keep(&session, &request).await?;
        return Ok(to_sign_in(&request));
    };
    tracing::Span::current().record("user_id", user_id.0);
    let too_old = request
        .max_age
        .is_some_and(|max_age| now - authentication.at > max_age);
    let sign_in_id = auth.sign_in_id().await?;
    let signed_in_again = request
        .sign_in_to_replace
        .as_ref()
        .is_some_and(|replaced| *replaced != sign_in_id);
    if (request.prompt_login || too_old) && !signed_in_again {
        if request.prompt_none {
            return Ok(error_to_app(
                state,
                &request,
                "login_required",
                "A new sign-in is needed.",
            ));
        }
        request.sign_in_to_replace.get_or_insert(sign_in_id);
        keep(&session, &request).await?;
        return Ok(to_sign_in(&request));
    }
    let held = matches!(
        enforcement(state, user_id).await?,
        Enforcement::Required { .. }
    );
    let methods = amr(&authentication).join(" ");
    if held || client.require_two_factor && !is_multi_factor(&methods) {
        if request.prompt_none {
            return Ok(error_to_app(
                state,
                &request,
                "interaction_required",
                "A second factor is needed.",
            ));
        }
        keep(&session, &request).await?;
        if !held && store::two_factor_of(&state.pool, user_id).await?.is_some() {
            // Signed in with the password alone (no second factor then): sign in again with it.
            return Ok(to_sign_in(&request));
        }
        auth.after_wizard(&continue_path(&request)).await?;
        return Ok(Next::Portal(paths::SECURITY.to_owned()));
    }
    if request.denied {
        forget(&session, &request.id).await?;
        return Ok(error_to_app(
            state,
            &request,
            "access_denied",
            "The person did not allow it.",
        ));
    }
    // Core §11: without prompt=consent (or for an app of the operator's own) offline access is
    // not given, so it is not asked about either.
    if !(client.first_party || request.prompt_consent) {
        request
            .scopes
            .retain(|scope| *scope != Scope::OfflineAccess);
    }
    let grant = store::grant(&state.pool, user_id, &client.id).await?;
    let granted = grant
        .as_ref()
        .map(|grant| scopes_from(&grant.scopes))
        .unwrap_or_default();
    let covered = grant.is_some() && request.scopes.iter().all(|scope| granted.contains(scope));
    let consent_needed = !client.first_party && (!covered || request.prompt_consent);
    if consent_needed && !request.consented {
        if request.prompt_none {
            return Ok(error_to_app(
                state,
                &request,
                "consent_required",
                "The person has not allowed this app.",
            ));
        }
        keep(&session, &request).await?;
        return Ok(Next::Portal(format!(
            "{}?request={}",
            paths::OIDC_CONSENT,
            request.id
        )));
    }
    // Core §11: offline access is given only when the person was asked for it this time, or to
    // an app of the operator's own.
    if !(client.first_party || request.prompt_consent && request.consented) {
        request
            .scopes
            .retain(|scope| *scope != Scope::OfflineAccess);
    }
    if request.consented || client.first_party {
        let all: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|scope| granted.contains(scope) || request.scopes.contains(scope))
            .collect();
        store::save_grant(
            &state.pool,
            user_id,
            &client.id,
            &scopes_to_string(&all),
            now,
        )
        .await?;
    }
    forget(&session, &request.id).await?;
    let code = token::new_token();
    let row = store::CodeRow {
        family: token::new_token(),
        user_id,
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        scopes: scopes_to_string(&request.scopes),
        nonce: request.nonce.clone(),
        auth_time: authentication.at,
        amr: methods,
        sign_in_id,
        expires_at: now + CODE_SECONDS,
        used_at: None,
    };
    store::insert_code(&state.pool, &token::hash(&code), &row, now).await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(app_state) = &request.state {
        params.push(("state", app_state));
    }
    Ok(back_to_app(state, &request.redirect_uri, &params))
}
