use crate::{
    audit::{EventKind, record},
    auth::client,
    error::{AppError, Link},
    mail::templates,
    notify::{LinkMail, TokenCap, send_token_link},
    state::{AppState, app_state},
    store::{self, Client, TokenPurpose, UserId},
    validation,
};

/// A reset link works for 30 minutes.
pub const RESET_LINK_SECONDS: i64 = crate::limits::RESET_LINK_MINUTES * 60;
/// At most this many reset emails an account an hour.
const RESET_EMAILS_PER_HOUR: i64 = 3;

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn request(typed: &str) -> Result<(), AppError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(AppError::validation(
            "account",
            "Enter your username or your email address.",
        ));
    }
    let state = app_state()?;
    // An address has an @ and a username cannot, so the one field is never ambiguous.
    let (username, email) = if typed.contains('@') {
        (None, validation::normalize_email(typed).ok())
    } else {
        (validation::normalize_username(typed).ok(), None)
    };
    let user_id =
        store::account_for_reset(&state.pool, username.as_deref(), email.as_deref()).await?;
    if let Some(user_id) = user_id {
        let client = client().await;
        // Sent after the answer: the time to answer tells nothing, and neither does a cap
        // reached or a mail server down (they are logged).
        tokio::spawn(async move {
            if let Err(error) = send_reset_link(&state, user_id, &client).await {
                tracing::warn!(%error, user_id = user_id.0, "no password reset email sent");
            }
        });
    }
    Ok(())
}

/// Mails the account a reset link (within its cap) and audits the request: also what "Secure my
/// account" ends with.
pub(crate) async fn send_reset_link(
    state: &AppState,
    user_id: UserId,
    client: &Client,
) -> Result<(), AppError> {
    let mail = LinkMail {
        purpose: TokenPurpose::PasswordReset,
        lifetime: RESET_LINK_SECONDS,
        cap: TokenCap {
            per_hour: RESET_EMAILS_PER_HOUR,
            one_live: false,
            link: Link::PasswordReset,
        },
        path: "/reset-password",
        email: None,
    };
    send_token_link(state, user_id, mail, |account, link| {
        templates::password_reset_link(
            &account.email,
            &account.username,
            link,
            RESET_LINK_SECONDS / 60,
        )
    })
    .await?;
    record(
        state,
        user_id,
        EventKind::PasswordResetRequested,
        client,
        None,
    )
    .await
}
