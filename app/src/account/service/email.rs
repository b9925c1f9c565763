//! The email card's data, and the email at every new sign-in turned on or off.

use crate::{
    account::email::{EmailSection, UndoEmail},
    audit::{self, EventKind},
    auth::{Viewer, client, signed_in},
    display::format_time,
    error::AppError,
    mail::templates::Notice,
    notify::send_notice,
    store::{self, TokenPurpose},
};

/// Off is recorded as a warning and told to the address: someone in the account would want the
/// owner not to hear of new sign-ins.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn set_sign_in_alerts(on: bool) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    if !store::set_sign_in_alerts(&state.pool, user_id, on).await? {
        return Ok(());
    }
    let kind = if on {
        EventKind::SignInAlertsOn
    } else {
        EventKind::SignInAlertsOff
    };
    audit::record(&state, user_id, kind, &client().await, None).await?;
    if !on {
        send_notice(&state, user_id, Notice::SignInAlertsOff).await;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &Viewer) -> Result<EmailSection, AppError> {
    let (pool, user_id) = (&viewer.state.pool, viewer.user_id());
    let now = viewer.state.clock.now();
    let pending = store::live_token_email(pool, user_id, TokenPurpose::EmailChange, now).await?;
    let undo = store::live_link(pool, user_id, TokenPurpose::EmailChangeUndo, now)
        .await?
        .and_then(|link| {
            Some(UndoEmail {
                email: link.email?,
                until: format_time(link.expires_at),
            })
        });
    Ok(EmailSection {
        address: viewer.account.email.clone(),
        verified: viewer.account.email_verified_at.is_some(),
        pending,
        undo,
        sign_in_alerts: store::sign_in_alerts(pool, user_id).await?,
    })
}
