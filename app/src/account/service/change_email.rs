use secrecy::SecretString;

use crate::account::change_email::KeepLink;
use crate::{
    account::{
        service::change_password::confirm_identity, service::verify_email::send_address_in_use_to,
    },
    audit::{EventKind, record},
    auth::{client, signed_in},
    error::{AppError, Link},
    mail::templates::{self, Notice},
    notify::{LinkMail, TokenCap, account_of_link, link_refusal, send_notice, send_token_link},
    security::token,
    state::{AppState, app_state},
    store::{self, Account, EmailSwitch, TokenPurpose},
    validation,
};

/// A confirmation link works for a day.
const CONFIRM_SECONDS: i64 = 24 * 60 * 60;
/// The old address can keep itself for 7 days.
const UNDO_DAYS: i64 = 7;
/// At most this many change requests an hour, so the form cannot flood a mailbox.
const CHANGE_EMAILS_PER_HOUR: i64 = 3;

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn request(typed: &str, password: SecretString, code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let new_email = validation::normalize_email(typed)
        .map_err(|message| AppError::validation("new_email", message))?;
    if new_email.eq_ignore_ascii_case(&account.email) {
        return Err(AppError::validation(
            "new_email",
            "This is already your email address.",
        ));
    }
    let client = client().await;
    confirm_identity(&state, &account, "password", password, Some(code), &client).await?;
    // The password (and code) just entered: a step up, under a new session id.
    crate::auth::AuthSession::from_request()
        .await?
        .password_confirmed(state.clock.now())
        .await?;
    send_confirmation(&state, &account, &new_email).await?;
    // The old address hears of it; that mail failing must not stop a person whose old
    // mailbox is gone from moving to a new one.
    if let Err(error) = tell_old_address(&state, &account, &new_email).await {
        tracing::warn!(%error, user_id = user_id.0, "the old address was not told of the change");
    }
    record(
        &state,
        user_id,
        EventKind::EmailChangeRequested,
        &client,
        None,
    )
    .await
}

fn cap() -> TokenCap {
    TokenCap {
        per_hour: CHANGE_EMAILS_PER_HOUR,
        one_live: false,
        link: Link::EmailChange,
    }
}

/// The link goes to the new address. When another account has verified that address, its
/// owner is told instead (counted the same), and the person asking learns nothing.
async fn send_confirmation(
    state: &AppState,
    account: &Account,
    new_email: &str,
) -> Result<(), AppError> {
    if let Some(owner) = store::verified_owner_of(&state.pool, new_email).await? {
        let slot = LinkMail {
            purpose: TokenPurpose::EmailChange,
            lifetime: CONFIRM_SECONDS,
            cap: cap(),
            path: "/confirm-email",
            email: Some(new_email),
        };
        return send_address_in_use_to(state, account.id, new_email, &owner, slot).await;
    }
    let mail = LinkMail {
        purpose: TokenPurpose::EmailChange,
        lifetime: CONFIRM_SECONDS,
        cap: cap(),
        path: "/confirm-email",
        email: Some(new_email),
    };
    send_token_link(state, account.id, mail, |account, link| {
        templates::email_change_link(new_email, &account.username, link, CONFIRM_SECONDS / 3600)
    })
    .await
    .map(|_| ())
}

/// A verified old address gets a link that keeps it; an unverified one only the notice (no
/// one has proven that mailbox, so it may not undo anything).
async fn tell_old_address(
    state: &AppState,
    account: &Account,
    new_email: &str,
) -> Result<(), AppError> {
    if account.email_verified_at.is_none() {
        let notice =
            templates::email_change_notice(&account.email, &account.username, new_email, None);
        return state.mailer.send(notice).await.map_err(AppError::internal);
    }
    let mail = LinkMail {
        purpose: TokenPurpose::EmailChangeUndo,
        lifetime: UNDO_DAYS * 24 * 60 * 60,
        cap: TokenCap {
            link: Link::EmailChangeUndo,
            ..cap()
        },
        path: "/keep-email",
        email: Some(&account.email),
    };
    send_token_link(state, account.id, mail, |account, link| {
        templates::email_change_notice(
            &account.email,
            &account.username,
            new_email,
            Some((link, UNDO_DAYS)),
        )
    })
    .await
    .map(|_| ())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn change_details(token: &str) -> Result<KeepLink, AppError> {
    link_details(token, TokenPurpose::EmailChange, Link::EmailChange).await
}

/// Whose account a live link of `purpose` is for, and the address it is about.
async fn link_details(
    token: &str,
    purpose: TokenPurpose,
    link: Link,
) -> Result<KeepLink, AppError> {
    let state = app_state()?;
    let account = account_of_link(&state, token, purpose, link).await?;
    let email = store::token_email(&state.pool, &token::hash(token))
        .await?
        .ok_or(AppError::LinkInvalid { link })?;
    Ok(KeepLink {
        username: account.username,
        email,
    })
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn confirm(token: &str) -> Result<String, AppError> {
    let state = app_state()?;
    let now = state.clock.now();
    let hash = token::hash(token);
    match store::confirm_email_change(&state.pool, &hash, now).await? {
        EmailSwitch::Switched { user_id, email } => {
            record(
                &state,
                user_id,
                EventKind::EmailChanged,
                &client().await,
                None,
            )
            .await?;
            send_notice(&state, user_id, Notice::EmailChanged).await;
            Ok(email)
        }
        EmailSwitch::AddressTaken => Err(AppError::AddressVerifiedElsewhere),
        EmailSwitch::NoLink => {
            let found =
                store::token_state(&state.pool, &hash, TokenPurpose::EmailChange, now).await?;
            Err(link_refusal(found, Link::EmailChange))
        }
    }
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn undo_details(token: &str) -> Result<KeepLink, AppError> {
    link_details(token, TokenPurpose::EmailChangeUndo, Link::EmailChangeUndo).await
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn undo(token: &str) -> Result<(), AppError> {
    let state = app_state()?;
    let now = state.clock.now();
    let hash = token::hash(token);
    match store::undo_email_change(&state.pool, &hash, now).await? {
        EmailSwitch::Switched { user_id, .. } => {
            record(
                &state,
                user_id,
                EventKind::EmailChangeUndone,
                &client().await,
                None,
            )
            .await?;
            send_notice(&state, user_id, Notice::EmailChangeUndone).await;
            Ok(())
        }
        EmailSwitch::AddressTaken => Err(AppError::AddressVerifiedElsewhere),
        EmailSwitch::NoLink => {
            let found =
                store::token_state(&state.pool, &hash, TokenPurpose::EmailChangeUndo, now).await?;
            Err(link_refusal(found, Link::EmailChangeUndo))
        }
    }
}
