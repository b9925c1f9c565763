//! The security page's "Apps with access": each app the person let in, what it can see, when it
//! was last used, and Revoke.

use crate::{
    auth::{Viewer, signed_in},
    display::format_time,
    error::AppError,
    oidc::{
        scopes_from,
        section::{AppAccess, AppsWithAccess},
    },
    store,
};

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &Viewer) -> Result<AppsWithAccess, AppError> {
    let grants = store::grants_of(&viewer.state.pool, viewer.user_id()).await?;
    Ok(AppsWithAccess {
        apps: grants
            .into_iter()
            .map(|grant| AppAccess {
                client_id: grant.client_id,
                name: grant.client_name,
                sees: scopes_from(&grant.scopes)
                    .into_iter()
                    .map(|scope| scope.words().to_owned())
                    .collect(),
                last_used: grant.last_used_at.map(format_time),
            })
            .collect(),
    })
}

/// Withdraws what the person allowed the app and kills its tokens; the app is told (back-channel
/// logout) if it asked to be.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn revoke(client_id: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let client = store::client(&state.pool, client_id).await?;
    if store::revoke_grant(&state.pool, user_id, client_id).await? {
        crate::audit::record(
            &state,
            user_id,
            crate::audit::EventKind::AppAccessRevoked,
            &crate::auth::client().await,
            client.as_ref().map(|client| client.name.as_str()),
        )
        .await?;
        if let Some(client) = client {
            super::logout::tell_app(&state, &client, user_id).await;
        }
    }
    Ok(())
}
