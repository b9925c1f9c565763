//! Changes to an account's password and address, and its closing: each one transaction, so a
//! link spent and the change it makes happen together or not at all.

use sqlx::AnyPool;

use super::{
    TokenPurpose, UserId, begin_write,
    tokens::{spend_token, withdraw_links},
};
use crate::unix_time::UnixTime;

/// The account a password-reset mail may go to: the one with this username, or with this
/// verified address, and only when its address is verified (an unproven mailbox gets no link).
pub async fn account_for_reset(
    pool: &AnyPool,
    username: Option<&str>,
    email: Option<&str>,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE (username = $1 OR lower(email) = lower($2)) AND email_verified_at IS NOT NULL LIMIT 1",
    )
    .bind(username)
    .bind(email)
    .fetch_optional(pool)
    .await
}

/// Spends the reset link and sets the password it was for: every sign-in of the account ends,
/// every other reset link dies, and the wrong-password counters of its username start again.
/// None when the link was spent or expired meanwhile (of racing requests, one wins).
pub async fn reset_password(
    pool: &AnyPool,
    token_hash: &[u8],
    password_hash: &str,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let Some(spent) = spend_token(&mut tx, token_hash, TokenPurpose::PasswordReset, now).await?
    else {
        return Ok(None);
    };
    let user_id = spent.user_id;
    update_password(&mut tx, user_id, password_hash, None, now).await?;
    // The old address's undo links stay: this mailbox may be the one that took the account.
    sqlx::query(
        "DELETE FROM password_failures WHERE username = (SELECT username FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(user_id))
}

/// Sets a new password from the security page: every sign-in but `keep` ends, and live reset
/// links die (they were asked for the old password). With `withdraw_undo` (the change was made
/// with the second factor too), the old address's undo links die as well: whoever holds that
/// mailbox can no longer move the account back to it.
pub async fn change_password(
    pool: &AnyPool,
    user_id: UserId,
    password_hash: &str,
    keep: &super::SignInId,
    withdraw_undo: bool,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    update_password(&mut tx, user_id, password_hash, Some(keep), now).await?;
    if withdraw_undo {
        withdraw_links(&mut tx, user_id, TokenPurpose::EmailChangeUndo, now).await?;
    }
    tx.commit().await
}

async fn update_password(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: UserId,
    password_hash: &str,
    keep: Option<&super::SignInId>,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    // A sign-in that passed the old password and is not made yet will not be (see create_sign_in).
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_generation = password_generation + 1 WHERE id = $2",
    )
        .bind(password_hash)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM sign_ins WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.map_or("", super::SignInId::as_str))
        .execute(&mut **tx)
        .await?;
    // A browser remembered under the old password skips no step under the new one.
    super::forget_browsers(&mut **tx, user_id).await?;
    // Apps signed in under the old password sign the person in again.
    super::revoke_app_tokens(&mut **tx, user_id).await?;
    withdraw_links(tx, user_id, TokenPurpose::PasswordReset, now).await?;
    // A change of address asked for with the old password (perhaps by whoever knew it) dies too.
    withdraw_links(tx, user_id, TokenPurpose::EmailChange, now).await
}

/// Who asks to secure an account: the holder of a live "Secure my account" link (its hash), or
/// the account signed in to this browser.
#[derive(Debug, Clone, Copy)]
pub enum SecureBy<'a> {
    Link(&'a [u8]),
    SignedIn(UserId),
}

/// "Secure my account", in one transaction: the link is spent, every sign-in and remembered
/// browser ends, apps signed in through Portal lose their tokens, and every open emailed link
/// dies, but the old address's undo links (that mailbox may be the owner's way back, as at a
/// reset). Sign-ins waiting for their second factor can no longer finish. Second factors are
/// untouched. None when the link was made up, spent or expired (of racing requests, one wins).
pub async fn secure_account(
    pool: &AnyPool,
    by: SecureBy<'_>,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    if let SecureBy::Link(hash) = by {
        // A made-up or spent link is refused by one read, before the write lock (review M4).
        let live: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(hash)
        .bind(TokenPurpose::SecureAccount.as_str())
        .bind(now)
        .fetch_optional(pool)
        .await?;
        if live.is_none() {
            return Ok(None);
        }
    }
    let mut tx = begin_write(pool).await?;
    let user_id = match by {
        SecureBy::Link(hash) => {
            match spend_token(&mut tx, hash, TokenPurpose::SecureAccount, now).await? {
                Some(spent) => spent.user_id,
                None => return Ok(None),
            }
        }
        SecureBy::SignedIn(user_id) => user_id,
    };
    // A pending sign-in passed the password as it stands now: moving its generation on means
    // none finishes (see `create_sign_in`), without changing the password itself.
    sqlx::query("UPDATE users SET password_generation = password_generation + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sign_ins WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::forget_browsers(&mut *tx, user_id).await?;
    super::revoke_app_tokens(&mut *tx, user_id).await?;
    for link in [
        TokenPurpose::VerifyEmail,
        TokenPurpose::Recovery,
        TokenPurpose::PasswordReset,
        TokenPurpose::EmailChange,
        TokenPurpose::SecureAccount,
    ] {
        withdraw_links(&mut tx, user_id, link, now).await?;
    }
    tx.commit().await?;
    Ok(Some(user_id))
}

/// What following an email-change link (or its undo link) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailSwitch {
    /// The account's address is now `email`, verified.
    Switched { user_id: UserId, email: String },
    /// The link was spent, expired or unknown: nothing changed.
    NoLink,
    /// Another account verified that address first: nothing changed, the link still works.
    AddressTaken,
}

/// Spends an email-change link and switches the account to the address it proves. Other change
/// links of the account die with it.
pub async fn confirm_email_change(
    pool: &AnyPool,
    token_hash: &[u8],
    now: UnixTime,
) -> Result<EmailSwitch, sqlx::Error> {
    switch_email(pool, token_hash, TokenPurpose::EmailChange, now).await
}

/// Spends an undo link (sent to the old address) and switches back to it: pending changes die,
/// and every sign-in ends, since someone else may have asked for the change.
pub async fn undo_email_change(
    pool: &AnyPool,
    token_hash: &[u8],
    now: UnixTime,
) -> Result<EmailSwitch, sqlx::Error> {
    switch_email(pool, token_hash, TokenPurpose::EmailChangeUndo, now).await
}

async fn switch_email(
    pool: &AnyPool,
    token_hash: &[u8],
    purpose: TokenPurpose,
    now: UnixTime,
) -> Result<EmailSwitch, sqlx::Error> {
    // A made-up or spent link is refused by one read, before the write lock: anyone may send
    // one, and each would otherwise wait its turn among the sign-ins (review M4). The lock then
    // decides between requests that hold a live link.
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if live.is_none() {
        return Ok(EmailSwitch::NoLink);
    }
    let mut tx = begin_write(pool).await?;
    let Some(spent) = spend_token(&mut tx, token_hash, purpose, now).await? else {
        return Ok(EmailSwitch::NoLink);
    };
    let Some(email) = spent.email else {
        return Ok(EmailSwitch::NoLink);
    };
    let updated = sqlx::query("UPDATE users SET email = $1, email_verified_at = $2 WHERE id = $3")
        .bind(&email)
        .bind(now)
        .bind(spent.user_id)
        .execute(&mut *tx)
        .await;
    match updated {
        Ok(_) => {}
        // Dropping the transaction rolls the spent link back too.
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Ok(EmailSwitch::AddressTaken);
        }
        Err(error) => return Err(error),
    }
    // Links mailed to the address the account had are for a mailbox it no longer trusts:
    // verification, password reset and second-factor recovery links die with the switch.
    for link in [
        TokenPurpose::EmailChange,
        TokenPurpose::VerifyEmail,
        TokenPurpose::PasswordReset,
        TokenPurpose::Recovery,
    ] {
        withdraw_links(&mut tx, spent.user_id, link, now).await?;
    }
    if purpose == TokenPurpose::EmailChangeUndo {
        withdraw_links(&mut tx, spent.user_id, TokenPurpose::EmailChangeUndo, now).await?;
        // Someone else may have asked for the change: every session and remembered browser ends.
        sqlx::query("DELETE FROM sign_ins WHERE user_id = $1")
            .bind(spent.user_id)
            .execute(&mut *tx)
            .await?;
        super::forget_browsers(&mut *tx, spent.user_id).await?;
        super::revoke_app_tokens(&mut *tx, spent.user_id).await?;
    }
    tx.commit().await?;
    Ok(EmailSwitch::Switched {
        user_id: spent.user_id,
        email,
    })
}

/// Usernames of closed accounts stay taken this long.
pub const RETIRED_USERNAME_SECONDS: i64 = crate::limits::RETIRED_USERNAME_DAYS * 24 * 60 * 60;

/// What closing an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    Closed,
    /// The account is the last owner of this organization, which has other members.
    LastOwnerOf(String),
}

/// Closes the account: refused while it is the last owner of an organization with other
/// members; otherwise its organizations with no other member go, the account's rows go with it
/// (sign-ins, factors, links, memberships, invitations, its own audit rows), its username is
/// retired, and one audit row without any name or address says an account was closed. One write
/// transaction: an owner leaving at the same moment cannot leave an organization ownerless.
pub async fn close_account(
    pool: &AnyPool,
    user_id: UserId,
    closed_kind: &str,
    now: UnixTime,
) -> Result<Closing, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let held: Option<String> = sqlx::query_scalar(
        "SELECT o.name FROM organizations o
         JOIN memberships me ON me.org_id = o.id AND me.user_id = $1 AND me.role = 'owner'
         WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id AND m.user_id <> $2 AND m.role = 'owner')
           AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id AND m.user_id <> $3)
         ORDER BY o.name LIMIT 1",
    )
    .bind(user_id)
    .bind(user_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(org) = held {
        return Ok(Closing::LastOwnerOf(org));
    }
    sqlx::query(
        "DELETE FROM organizations WHERE id IN (SELECT org_id FROM memberships WHERE user_id = $1)
           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = organizations.id AND m.user_id <> $2)",
    )
    .bind(user_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    // Invitations name a username: those to this one must not wait for whoever takes it next.
    sqlx::query(
        "DELETE FROM invitations WHERE username = (SELECT username FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO retired_usernames (username, retired_at) SELECT username, $1 FROM users WHERE id = $2
         ON CONFLICT (username) DO UPDATE SET retired_at = excluded.retired_at",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO audit_events (user_id, kind, at) VALUES (NULL, $1, $2)")
        .bind(closed_kind)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Closing::Closed)
}

/// Retired usernames whose 30 days are over are free again.
pub async fn delete_expired_retired_usernames(
    pool: &AnyPool,
    before: UnixTime,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM retired_usernames WHERE retired_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
