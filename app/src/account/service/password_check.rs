//! The one password check of sign-in and re-authentication: throttled per username (or per
//! device that signed in before), reserved before Argon2id runs so parallel guesses cannot slip
//! between the counter's read and its write, and audited the same way for known and unknown
//! usernames.

use secrecy::SecretString;

use crate::{
    audit::EventKind,
    auth::device,
    error::AppError,
    security::throttle::{self, Verdict},
    state::AppState,
    store::{self, Client, PasswordGeneration, PasswordThrottleKey, UserId},
};

/// The account whose password was right, and which of its passwords that was: a sign-in made
/// from it stands only while the password has not changed since (see `store::create_sign_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordMatch {
    pub user_id: UserId,
    pub generation: PasswordGeneration,
}

/// Checks `password` for `username` (already normalised). `Ok(Some(..))` for the right password,
/// `Ok(None)` for a wrong one or an unknown username (both counted and audited alike), or
/// `TryAgainIn` while the counter says to wait.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: SecretString,
    client: &Client,
) -> Result<Option<PasswordMatch>, AppError> {
    let key = throttle_key(state, username).await;
    let now = state.clock.now();
    store::reserve_password_attempt(&state.pool, &key, now, |earlier| {
        let count = u32::try_from(earlier.failures).unwrap_or(u32::MAX);
        match throttle::password_verdict(count, earlier.last_failure_at, now) {
            Verdict::WaitSeconds(seconds) => Err(AppError::TryAgainIn {
                seconds: seconds as u64,
            }),
            Verdict::Allowed | Verdict::Locked => Ok(()),
        }
    })
    .await??;
    let credentials = store::credentials_for(&state.pool, username).await?;
    let (user_id, stored_hash, generation) = match credentials {
        Some(credentials) => (
            Some(credentials.id),
            Some(credentials.password_hash),
            PasswordGeneration(credentials.password_generation),
        ),
        None => (None, None, PasswordGeneration(0)),
    };
    let matches = state.passwords.verify(password, stored_hash).await?;
    match (user_id, matches) {
        (Some(user_id), true) => {
            store::clear_password_failures(&state.pool, &key).await?;
            Ok(Some(PasswordMatch {
                user_id,
                generation,
            }))
        }
        // The same row and the same log line whether or not the account exists: neither the
        // database's work nor the time it takes tells.
        (user_id, _) => {
            crate::audit::record(state, user_id, EventKind::PasswordFailed, client, None).await?;
            Ok(None)
        }
    }
}

/// A browser with a device cookie for this username is counted on its own; every other client
/// shares the username's counter.
async fn throttle_key(state: &AppState, username: &str) -> PasswordThrottleKey {
    let device = device::from_request(state)
        .await
        .filter(|device| device.username == username)
        .map(|device| device.id)
        .unwrap_or_default();
    PasswordThrottleKey {
        username: username.to_owned(),
        device,
    }
}
