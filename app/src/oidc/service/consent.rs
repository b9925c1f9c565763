//! The consent page's data, and the person's answer.

use crate::{auth::signed_in, error::AppError, oidc::consent::ConsentAsk, store};

use super::authorize;

async fn session() -> Result<tower_sessions::Session, AppError> {
    leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(AppError::internal)
}

/// What the app waiting in this browser asks for, or None when no such request waits.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn request(id: &str) -> Result<Option<ConsentAsk>, AppError> {
    let (state, _user_id) = signed_in().await?;
    let Some(request) = authorize::kept(&session().await?, id).await? else {
        return Ok(None);
    };
    let Some(client) = store::client(&state.pool, &request.client_id).await? else {
        return Ok(None);
    };
    let host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Some(ConsentAsk {
        id: request.id,
        app: client.name,
        host,
        receives: request
            .scopes
            .iter()
            .map(|scope| scope.words().to_owned())
            .collect(),
    }))
}

/// Allow or Deny: noted on the request, which then goes on (`authorize::resume`).
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn decide(id: &str, allowed: bool) -> Result<bool, AppError> {
    let (state, user_id) = signed_in().await?;
    let session = session().await?;
    let Some(request) = authorize::kept(&session, id).await? else {
        return Ok(false);
    };
    if allowed {
        let app = store::client(&state.pool, &request.client_id)
            .await?
            .map(|client| client.name);
        let client = crate::auth::client().await;
        let kind = crate::audit::EventKind::AppAccessGranted;
        crate::audit::record(&state, user_id, kind, &client, app.as_deref()).await?;
    }
    authorize::answer(&session, id, allowed).await
}
