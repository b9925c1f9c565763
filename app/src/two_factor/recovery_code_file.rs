//! `GET /settings/security/recovery-code.txt`: the recovery code waiting to be saved, as a file
//! (the wizard's Download button, which works without JavaScript).

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::service;
use crate::state::AppState;

/// The file, to the sign-in that made the code only, while its password is recent.
pub async fn download_recovery_code(
    axum::extract::State(state): axum::extract::State<AppState>,
    session: tower_sessions::Session,
) -> Response {
    let auth = crate::auth::AuthSession::new(session);
    let Ok(Some(user_id)) = auth.signed_in_user(&state).await else {
        return (
            StatusCode::UNAUTHORIZED,
            "Sign in to download your recovery code.",
        )
            .into_response();
    };
    // As on the page: only the sign-in that made the code, while its password is recent.
    let reveal_to = match (
        auth.sign_in_id().await,
        auth.password_is_recent(state.clock.now()).await,
    ) {
        (Ok(Some(sign_in_id)), Ok(true)) => sign_in_id,
        _ => {
            return (
                StatusCode::NOT_FOUND,
                "There is no recovery code to download.",
            )
                .into_response();
        }
    };
    let code = match service::revealed_recovery_code(&state, user_id, &reveal_to).await {
        Ok(Some(code)) => code,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                "There is no recovery code to download.",
            )
                .into_response();
        }
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    let body = format!(
        "Portal recovery code\r\n\r\n{code}\r\n\r\nWith your password and your email, this code lets you back into Portal if you lose your authenticator app. It works once.\r\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"portal-recovery-code.txt\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
