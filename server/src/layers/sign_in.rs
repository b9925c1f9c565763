//! Who may reach what: pages that need an account, and the wizard-only hold of an organization's
//! two-factor requirement.

use app::{
    auth::{AuthSession, SignedInUser},
    error::AppError,
    org::service::{self as enforcement, Enforcement},
    paths,
    state::AppState,
};
use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::server_fn::ServerFn;
use tower_sessions::Session;

/// Pages that need a signed-in account send everyone else to sign in, and back afterwards. An
/// account that an organization's requirement holds reaches the enrollment wizard and nothing
/// else, pages and server functions alike.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/api/");
    let is_page = super::is_page(&request);
    // The OpenID Connect endpoints judge the sign-in themselves (an app's request waits through
    // the sign-in, the wizard of a held account, the consent page).
    let oidc =
        (path.starts_with("/oauth2/") && path != paths::OIDC_CONSENT) || path.starts_with("/auth/");
    if !is_api && !is_page || oidc {
        return next.run(request).await;
    }
    let protected = app::page_needs_sign_in(&path);
    let user_id = match AuthSession::new(session).signed_in_user(&state).await {
        Ok(user_id) => user_id,
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    if let Some(user_id) = user_id {
        request.extensions_mut().insert(SignedInUser(user_id));
    }
    // An app behind the proxy sent a signed-in browser to sign in (nginx's 401 always does):
    // the way back decides whether it needs to.
    if user_id.is_some() && is_page && path == paths::LOGIN {
        let rd = request.uri().query().and_then(app::validation::rd_of);
        if let Some(rd) = rd {
            return super::redirects::to(&app::validation::forward_auth_continue(&rd));
        }
    }
    let Some(user_id) = user_id else {
        if is_page && protected {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or(path.as_str(), |p| p.as_str());
            let next_path: String =
                url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
            return super::redirects::to(&format!("{}?next={next_path}", paths::LOGIN));
        }
        return next.run(request).await;
    };
    let allowed = if is_api {
        ALLOWED_WHILE_REQUIRED.contains(&path.as_str())
    } else {
        app::page_allowed_while_held(&path)
    };
    if allowed {
        return next.run(request).await;
    }
    match enforcement::enforcement(&state, user_id).await {
        Ok(Enforcement::Required { org_name, .. }) if is_api => {
            super::server_fn_error(&path, &AppError::TwoFactorRequired { org: org_name })
        }
        Ok(Enforcement::Required { .. }) => super::redirects::to(paths::SECURITY),
        Ok(_) => next.run(request).await,
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Server functions an account may call while its organization's requirement holds it: the
/// wizard and what it needs (email verification, password confirmation), signing out, and
/// leaving: a member who no longer wants the requirement can always go, and is then free; and
/// "Secure my account", which only takes access away.
pub const ALLOWED_WHILE_REQUIRED: [&str; 21] = [
    <app::settings::LoadSecurityOverview as ServerFn>::PATH,
    <app::two_factor::enroll::StartEnrollment as ServerFn>::PATH,
    <app::two_factor::enroll::ConfirmEnrollment as ServerFn>::PATH,
    <app::two_factor::enroll::SaveRecoveryCode as ServerFn>::PATH,
    <app::two_factor::enroll::CancelEnrollment as ServerFn>::PATH,
    <app::account::verify_email::ResendVerification as ServerFn>::PATH,
    <app::account::verify_email::VerifyEmail as ServerFn>::PATH,
    <app::account::sessions::ConfirmPassword as ServerFn>::PATH,
    <app::account::portal::Logout as ServerFn>::PATH,
    <app::account::login::Login as ServerFn>::PATH,
    <app::account::login::SignInState as ServerFn>::PATH,
    <app::account::signup::Signup as ServerFn>::PATH,
    <app::two_factor::prompt::VerifySignInCode as ServerFn>::PATH,
    <app::two_factor::prompt::StartOver as ServerFn>::PATH,
    <app::recovery::request::RequestRecovery as ServerFn>::PATH,
    <app::recovery::confirm::RecoveryRequest as ServerFn>::PATH,
    <app::recovery::confirm::ConfirmRecovery as ServerFn>::PATH,
    <app::org::Organization as ServerFn>::PATH,
    <app::org::LeaveOrganization as ServerFn>::PATH,
    <app::account::secure::SecureAccountLink as ServerFn>::PATH,
    <app::account::secure::SecureAccount as ServerFn>::PATH,
];
