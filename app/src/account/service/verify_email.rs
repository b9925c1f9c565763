use crate::{
    account::change_email::KeepLink,
    audit::EventKind,
    auth::{client, signed_in},
    error::{AppError, Link},
    mail::templates,
    notify::{LinkMail, TokenCap, account_of_link, link_refusal, send_token_link},
    security::token,
    state::{AppState, app_state},
    store::{self, TokenPurpose, UserId},
};

/// A verification link works for a day.
const VERIFY_SECONDS: i64 = 24 * 60 * 60;
/// At most this many verification emails an hour, so the form cannot be used to flood a mailbox.
const VERIFY_EMAILS_PER_HOUR: i64 = 3;

/// Sends the verification email; a failure is logged, and the security page offers to resend.
/// When another account has verified the address, its owner is told instead, and nothing
/// that would verify it again is sent: sign-up never says an address is taken.
#[tracing::instrument(skip_all, fields(user_id = user_id.0))]
pub async fn send_verification(state: &AppState, user_id: UserId) {
    let sent = match store::verified_owner_of_email_of(&state.pool, user_id).await {
        Ok(Some(owner)) => send_address_in_use(state, user_id, &owner).await,
        Ok(None) => try_send(state, user_id).await.map(|_| ()),
        Err(error) => Err(AppError::from(error)),
    };
    if let Err(error) = sent {
        tracing::warn!(%error, user_id = user_id.0, "the verification email could not be sent");
    }
}

/// Counted against the verification cap like a verification mail (a token is made for the
/// slot, and its link never sent), so resending cannot flood the address's owner.
async fn send_address_in_use(
    state: &AppState,
    user_id: UserId,
    owner: &str,
) -> Result<(), AppError> {
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    send_address_in_use_to(state, user_id, &account.email, owner, verification_mail()).await
}

/// Tells `owner`, whose verified address `to` is, that someone tried to use it on another
/// account; counted as a link `mail` of that account would be (a token is made for the slot,
/// and its link never sent), so the person trying learns nothing and cannot flood the owner.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn send_address_in_use_to(
    state: &AppState,
    user_id: UserId,
    to: &str,
    owner: &str,
    mail: LinkMail<'_>,
) -> Result<(), AppError> {
    let sign_in = format!("{}/login", state.settings.base_url);
    send_token_link(state, user_id, mail, |_, _unsent| {
        templates::address_in_use(to, owner, &sign_in)
    })
    .await
    .map(|_| ())
}

async fn try_send(state: &AppState, user_id: UserId) -> Result<bool, AppError> {
    send_verification_link(state, user_id, |account, link| {
        templates::verify_email(&account.email, &account.username, link)
    })
    .await
}

/// A verification-purpose mail: both kinds share the cap of 3 an hour and the link's life.
async fn send_verification_link(
    state: &AppState,
    user_id: UserId,
    compose: impl FnOnce(&store::Account, &str) -> crate::mail::Email,
) -> Result<bool, AppError> {
    send_token_link(state, user_id, verification_mail(), compose).await
}

fn verification_mail() -> LinkMail<'static> {
    LinkMail {
        purpose: TokenPurpose::VerifyEmail,
        lifetime: VERIFY_SECONDS,
        cap: TokenCap {
            per_hour: VERIFY_EMAILS_PER_HOUR,
            one_live: false,
            link: Link::Verification,
        },
        path: "/verify-email",
        email: None,
    }
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn resend() -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    if let Some(owner) = store::verified_owner_of_email_of(&state.pool, user_id).await? {
        return send_address_in_use(&state, user_id, &owner).await;
    }
    try_send(&state, user_id).await.map(|_| ())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn details(token: &str) -> Result<KeepLink, AppError> {
    let state = app_state()?;
    let account =
        account_of_link(&state, token, TokenPurpose::VerifyEmail, Link::Verification).await?;
    Ok(KeepLink {
        username: account.username,
        email: account.email,
    })
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn verify(token: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let now = state.clock.now();
    let hash = token::hash(token);
    let link = Link::Verification;
    let user_id =
        match store::consume_token(&state.pool, &hash, TokenPurpose::VerifyEmail, now).await? {
            Some(user_id) => user_id,
            None => {
                let found =
                    store::token_state(&state.pool, &hash, TokenPurpose::VerifyEmail, now).await?;
                return Err(link_refusal(found, link));
            }
        };
    if !store::mark_email_verified(&state.pool, user_id, now).await? {
        return Err(AppError::AddressVerifiedElsewhere);
    }
    crate::audit::record(
        &state,
        user_id,
        EventKind::EmailVerified,
        &client().await,
        None,
    )
    .await
}
