//! The way back to an app behind the proxy: after signing in (`/auth/continue?rd=`), the
//! browser is checked again against the rules and sent on; after signing out
//! (`/auth/leave?rd=`), it goes back to the app, which sends it to sign in. Both only to a host a
//! rule names.

use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::service::{self, Verdict, may_return_to};
use crate::{
    oidc::endpoints::{escaped, page, to_app_page},
    paths,
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::FORWARD_AUTH_CONTINUE, get(continue_to_app))
        .route(paths::FORWARD_AUTH_LEAVE, get(leave_to_app))
}

#[derive(Deserialize)]
struct Back {
    rd: Option<String>,
}

/// The page a request refused by the rules gets: why, and a link to Portal.
pub fn forbidden_page(state: &AppState, host: &str, reason: &str) -> Response {
    let base_url = &state.settings.base_url;
    page(
        state,
        StatusCode::FORBIDDEN,
        "You cannot open this page",
        &format!(
            "<p>{} is not open to you. {}</p><p><a href=\"{}/\">Go to Portal</a></p>",
            escaped(host),
            escaped(reason),
            escaped(base_url)
        ),
        "",
    )
}

async fn continue_to_app(
    State(state): State<AppState>,
    session: Session,
    Query(back): Query<Back>,
) -> Response {
    let rd = back.rd.unwrap_or_default();
    let Some(url) = may_return_to(&state, &rd) else {
        return Redirect::to(paths::PORTAL).into_response();
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let verdict = service::verify(
        &state,
        session.clone(),
        &host,
        &url[url::Position::BeforePath..],
    )
    .await;
    match verdict {
        Ok(Verdict::Allowed(_)) => to_app_page(&state, url.as_str()),
        Ok(Verdict::SignIn) => {
            let rd = crate::validation::encode_component(url.as_str());
            Redirect::to(&format!("{}?rd={rd}", paths::LOGIN)).into_response()
        }
        // Signed in, so `rd` would come straight back here: `next` asks the sign-in page for a
        // new sign-in, with the second factor.
        Ok(Verdict::StepUp) => {
            let next = crate::validation::encode_component(
                &crate::validation::forward_auth_continue(url.as_str()),
            );
            Redirect::to(&format!("{}?next={next}", paths::LOGIN)).into_response()
        }
        Ok(Verdict::Enroll) => match service::enroll_then(
            session,
            &crate::validation::forward_auth_continue(url.as_str()),
        )
        .await
        {
            Ok(wizard) => Redirect::to(&wizard).into_response(),
            Err(error) => internal(error),
        },
        Ok(Verdict::Forbidden(reason)) => forbidden_page(&state, &host, &reason),
        Err(error) => internal(error),
    }
}

async fn leave_to_app(State(state): State<AppState>, Query(back): Query<Back>) -> Response {
    match may_return_to(&state, &back.rd.unwrap_or_default()) {
        Some(url) => to_app_page(&state, url.as_str()),
        None => Redirect::to(paths::LOGIN).into_response(),
    }
}

fn internal(error: crate::error::AppError) -> Response {
    tracing::error!(%error, "forward-auth page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong. Try again.",
    )
        .into_response()
}
