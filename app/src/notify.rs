//! What Portal tells an account by email: notices of security changes, and single-use links
//! (issued here, stored hashed, within their caps). The mailer only sends.

use std::time::Duration;

use tracing::Instrument as _;

use crate::limits::{NEW_DEVICE_ALERTS_PER_HOUR, SECURE_ACCOUNT_LINK_DAYS};
use crate::mail::{Email, templates};

/// How long a request waits for its notice or alert to go out. A mail server that answers takes
/// the message well within it, so the mail is sent by the time the answer comes; one that hangs
/// (the mailer gives up after 20 s) no longer holds the sign-in or the change it reports: the send
/// goes on after the answer.
const MAIL_WAIT: Duration = Duration::from_secs(2);

/// Runs `sending` (mail the person does not wait for: a notice, an alert) with at most
/// `MAIL_WAIT` of the request's time; whatever is left runs after the answer, in the request's
/// span, and a stop waits for it (`AppState::background`).
async fn without_holding_the_request(
    state: &crate::state::AppState,
    sending: impl Future<Output = ()> + Send + 'static,
) {
    let sending = state
        .background
        .spawn(sending.instrument(tracing::Span::current()));
    let _ = tokio::time::timeout(MAIL_WAIT, sending).await;
}

/// Emails the account a notice of a security change. A notice that cannot be sent is logged and
/// does not undo the change it reports; one the mail server is slow to take goes on after the
/// answer.
pub async fn send_notice(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    notice: templates::Notice,
) {
    without_holding_the_request(state, mail_notice(state.clone(), user_id, notice)).await;
}

async fn mail_notice(
    state: crate::state::AppState,
    user_id: crate::store::UserId,
    notice: templates::Notice,
) {
    let state = &state;
    let account = match crate::store::account(&state.pool, user_id).await {
        Ok(Some(account)) => account,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, "cannot load the account for a notice");
            return;
        }
    };
    let email = templates::notice(&account.email, &account.username, notice);
    if let Err(error) = state.mailer.send(email).await {
        tracing::warn!(%error, user_id = user_id.0, ?notice, "a notice email could not be sent");
    }
}

/// Emails the owner of an account (unless they turned its alerts off) about a sign-in just made
/// from a browser that had never signed in to it: when, how, from which browser and address, and
/// a single-use "Secure my account" link. At most `NEW_DEVICE_ALERTS_PER_HOUR` an hour: the
/// link's tokens are the count. A failure or the cap is logged and the sign-in goes on, without
/// waiting on a slow mail server.
pub async fn send_new_device_alert(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    how: crate::audit::SignInMethod,
    client: &crate::store::Client,
) {
    let alert = mail_new_device_alert(state.clone(), user_id, how, client.clone());
    without_holding_the_request(state, alert).await;
}

async fn mail_new_device_alert(
    state: crate::state::AppState,
    user_id: crate::store::UserId,
    how: crate::audit::SignInMethod,
    client: crate::store::Client,
) {
    let (state, client) = (&state, &client);
    let since = state.clock.now() - 60 * 60;
    match crate::store::new_device_alert_due(
        &state.pool,
        user_id,
        since,
        NEW_DEVICE_ALERTS_PER_HOUR,
    )
    .await
    {
        Ok(true) => {}
        // Turned off, or this hour's alerts are sent: nothing to write.
        Ok(false) => return,
        Err(error) => {
            tracing::error!(%error, "cannot read whether a new-device alert is due");
            return;
        }
    }
    let at = crate::display::format_time(state.clock.now());
    let browser = crate::display::browser_name(client.user_agent.as_deref());
    let address = crate::display::address_or_unknown(client.address.clone());
    let security = format!("{}{}", state.settings.base_url, crate::paths::SECURITY);
    let mail = LinkMail {
        purpose: crate::store::TokenPurpose::SecureAccount,
        lifetime: SECURE_ACCOUNT_LINK_DAYS * 24 * 60 * 60,
        cap: TokenCap {
            per_hour: NEW_DEVICE_ALERTS_PER_HOUR,
            one_live: false,
            link: crate::error::Link::SecureAccount,
        },
        path: crate::paths::SECURE_ACCOUNT,
        email: None,
    };
    let sent = send_token_link(state, user_id, mail, |account, link| {
        templates::new_sign_in(
            &account.email,
            &account.username,
            templates::SignInFacts {
                how: how.as_str(),
                at: &at,
                browser: &browser,
                address: &address,
            },
            &security,
            link,
        )
    })
    .await;
    if let Err(error) = sent {
        tracing::warn!(%error, user_id = user_id.0, "no new-device alert sent");
    }
}

/// How many links of one purpose an account may be sent: at most `per_hour` an hour (else
/// `TooManyEmails` about `link`), and with `one_live` none while an earlier one is still unused
/// and unexpired.
pub struct TokenCap {
    pub per_hour: i64,
    pub one_live: bool,
    pub link: crate::error::Link,
}

/// A link to mail: what its token is for, how long it lives, the cap on such mails, the page it
/// opens, and the address it is about (an email change's), kept with the token.
pub struct LinkMail<'a> {
    pub purpose: crate::store::TokenPurpose,
    pub lifetime: i64,
    pub cap: TokenCap,
    pub path: &'a str,
    pub email: Option<&'a str>,
}

/// Mails the account a link to `mail.path` holding a new single-use token for `mail.purpose`,
/// valid for `mail.lifetime` seconds, within `mail.cap`; `compose` writes the mail (and chooses
/// its address). The token is stored hashed; the cap is checked and the token made in one
/// transaction, so parallel requests cannot pass the cap together; the token is withdrawn when the
/// mail cannot be sent, so a failed send spends nothing. False when a live link made a new one
/// needless.
pub async fn send_token_link(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    mail: LinkMail<'_>,
    compose: impl FnOnce(&crate::store::Account, &str) -> Email,
) -> Result<bool, crate::error::AppError> {
    use crate::{
        error::AppError,
        security::token,
        store::{self, CappedToken},
    };
    let LinkMail {
        purpose,
        lifetime,
        cap,
        path,
        email,
    } = mail;
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = state.clock.now();
    let token = token::new_token();
    let new_token = store::NewToken {
        user_id,
        purpose,
        hash: &token::hash(&token),
        created_at: now,
        expires_at: now + lifetime,
        email,
    };
    let token_id = match store::create_token_capped(
        &state.pool,
        new_token,
        now - 60 * 60,
        cap.per_hour,
        cap.one_live,
    )
    .await?
    {
        CappedToken::Created(id) => id,
        CappedToken::LiveExists => return Ok(false),
        CappedToken::CapReached => {
            return Err(AppError::TooManyEmails {
                link: cap.link,
                per_hour: cap.per_hour,
            });
        }
    };
    let link = format!("{}{path}?token={token}", state.settings.base_url);
    if let Err(error) = state.mailer.send(compose(&account, &link)).await {
        store::delete_token(&state.pool, token_id).await?;
        tracing::warn!(%error, user_id = user_id.0, ?purpose, "a link email could not be sent");
        return Err(AppError::MailNotSent);
    }
    Ok(true)
}

/// What a person is told when the token of a `link` is not valid (`found` says why).
pub fn link_refusal(
    found: crate::store::TokenState,
    link: crate::error::Link,
) -> crate::error::AppError {
    use crate::{error::AppError, store::TokenState};
    match found {
        TokenState::Expired => AppError::LinkExpired { link },
        TokenState::Used => AppError::LinkUsed { link },
        _ => AppError::LinkInvalid { link },
    }
}

/// The account of a live token of `purpose`, or what to tell the person about the `link`.
pub async fn account_of_link(
    state: &crate::state::AppState,
    token: &str,
    purpose: crate::store::TokenPurpose,
    link: crate::error::Link,
) -> Result<crate::store::Account, crate::error::AppError> {
    use crate::{security::token, store};
    let found =
        store::token_state(&state.pool, &token::hash(token), purpose, state.clock.now()).await?;
    let store::TokenState::Valid(user_id) = found else {
        return Err(link_refusal(found, link));
    };
    store::account(&state.pool, user_id)
        .await?
        .ok_or_else(|| link_refusal(store::TokenState::Unknown, link))
}
