//! The second factor's rules applied to the store: code checks under the throttle and the replay
//! rule, and recovery codes made, sealed and hashed.

pub mod apps;
pub mod enroll;
pub mod manage;
pub mod prompt;

use crate::store::SignInId;
use crate::unix_time::UnixTime;
use secrecy::SecretString;

use crate::{
    audit::{self, EventKind},
    auth::Viewer,
    error::AppError,
    security::{
        crypto::random_bytes,
        recovery_code,
        throttle::{self, LOCK_AFTER_FAILURES, Verdict},
        totp::{self, CodeCheck, TotpStep},
    },
    state::AppState,
    store::{self, Client, CodeVerdict, Factor, Failures, UserId},
    two_factor::{TwoFactorState, section::TwoFactorSection, service::enroll::scan_code},
};

/// A recovery code or enrollment is shown for this long, then taken as abandoned.
pub const REVEAL_SECONDS: i64 = 15 * 60;

/// Associated data that binds a sealed secret to its account and purpose.
pub fn secret_context(user_id: UserId) -> Vec<u8> {
    format!("portal:totp-secret:{user_id}").into_bytes()
}

pub fn recovery_code_context(user_id: UserId) -> Vec<u8> {
    format!("portal:recovery-code:{user_id}").into_bytes()
}

pub fn code_required() -> AppError {
    AppError::validation(
        "code",
        "Enter the 6-digit code from your authenticator app.",
    )
}

/// Checks an authentication code of an account with two-factor authentication on. A right code
/// spends its step; a wrong or replayed one counts as a failure and is recorded. The throttle's
/// judgement, the check and its outcome are one write transaction (`store::settle_code_check`),
/// so parallel guesses cannot slip past the failure counter, on one instance or several.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn verify_totp(
    state: &AppState,
    user_id: UserId,
    code: &str,
    client: &Client,
) -> Result<(), AppError> {
    let code = totp::parse_code(code).ok_or_else(code_required)?;
    let now = state.clock.now();
    let (verdict, failures) = store::settle_code_check(&state.pool, user_id, now, |row| {
        throttle_verdict(row.failures, Factor::Totp, now)?;
        check_with_apps(state, user_id, &row.apps, &code, now)
    })
    .await?
    .ok_or(AppError::TwoFactorOff)??;
    let (event, error) = match verdict {
        CodeVerdict::Accepted { .. } => return Ok(()),
        // The same code twice (or accepted meanwhile by a parallel check).
        CodeVerdict::Replayed => (EventKind::CodeReplayed, AppError::CodeReplayed),
        CodeVerdict::Wrong => (EventKind::SecondFactorFailed, AppError::InvalidCode),
    };
    record_failure(state, user_id, Factor::Totp, client, event, failures).await?;
    Err(error)
}

/// The code checked against each of the account's apps: the app and step it is right for, or
/// else whether it was one some app had accepted already.
fn check_with_apps(
    state: &AppState,
    user_id: UserId,
    apps: &[store::AppSecret],
    code: &str,
    now: UnixTime,
) -> Result<CodeVerdict, AppError> {
    let mut replayed = false;
    for app in apps {
        let secret = state
            .secrets
            .open(&app.secret_sealed, &secret_context(user_id))?;
        match totp::check_code(&secret, code, now, Some(TotpStep(app.last_accepted_step))) {
            CodeCheck::Accepted(step) => {
                return Ok(CodeVerdict::Accepted {
                    app_id: app.id,
                    step: step.0,
                });
            }
            CodeCheck::Replayed => replayed = true,
            CodeCheck::Wrong => {}
        }
    }
    Ok(if replayed {
        CodeVerdict::Replayed
    } else {
        CodeVerdict::Wrong
    })
}

/// Checks a recovery code of an account with two-factor authentication on, under its own
/// throttle. The code stays valid: it is spent only by the reset it is for.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn verify_recovery_code(
    state: &AppState,
    user_id: UserId,
    typed: &str,
    client: &Client,
) -> Result<(), AppError> {
    let code = recovery_code::normalize(typed).ok_or_else(|| {
        AppError::validation(
            "recovery_code",
            "Enter your recovery code: 16 letters and digits, like ABCD-EFGH-JKMN-PQRS.",
        )
    })?;
    // A cheap refusal first; the judgement that counts comes after the check, below.
    check_throttle(state, user_id, Factor::RecoveryCode, state.clock.now()).await?;
    let Some(two_factor) = store::two_factor_of(&state.pool, user_id).await? else {
        return Err(AppError::TwoFactorOff);
    };
    // Argon2id runs holding no lock, so no account's checks wait on another's.
    let matches = state
        .passwords
        .verify(
            SecretString::from(code),
            Some(two_factor.recovery_code_hash),
        )
        .await?;
    let now = state.clock.now();
    let failures = store::settle_factor_attempt(
        &state.pool,
        user_id,
        Factor::RecoveryCode,
        now,
        matches,
        |earlier| throttle_verdict(earlier, Factor::RecoveryCode, now).map(|_| ()),
    )
    .await??;
    if !matches {
        record_failure(
            state,
            user_id,
            Factor::RecoveryCode,
            client,
            EventKind::RecoveryCodeFailed,
            failures,
        )
        .await?;
        return Err(AppError::InvalidRecoveryCode);
    }
    Ok(())
}

/// A second factor typed in the one field `code`: a code from the app (six digits), or else the
/// recovery code; each under its own throttle. Used where a mailbox or a session must not be
/// enough (a password reset, a change of password, closing the account).
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn verify_any_factor(
    state: &AppState,
    user_id: UserId,
    typed: &str,
    client: &Client,
) -> Result<(), AppError> {
    const FIELD: &str = "code";
    if typed.trim().is_empty() {
        return Err(AppError::validation(
            FIELD,
            "Enter the 6-digit code from your authenticator app, or your recovery code.",
        ));
    }
    if totp::parse_code(typed).is_some() {
        return verify_totp(state, user_id, typed, client).await;
    }
    verify_recovery_code(state, user_id, typed, client)
        .await
        .map_err(|error| match error {
            AppError::InvalidRecoveryCode => {
                AppError::validation(FIELD, "That recovery code is incorrect.")
            }
            AppError::Validation { .. } => AppError::validation(
                FIELD,
                "Enter the 6-digit code from your authenticator app, or your recovery code (16 letters and digits, like ABCD-EFGH-JKMN-PQRS).",
            ),
            other => other,
        })
}

/// Refuses an attempt while the factor's failures say to wait, or once it is locked; otherwise
/// returns how many consecutive failures came before.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn check_throttle(
    state: &AppState,
    user_id: UserId,
    factor: Factor,
    now: UnixTime,
) -> Result<i64, AppError> {
    let failures = store::failures_of(&state.pool, user_id, factor).await?;
    throttle_verdict(failures, factor, now)
}

/// The throttle's answer for these failures: the count of earlier failures, or why to wait.
pub fn throttle_verdict(
    failures: Failures,
    factor: Factor,
    now: UnixTime,
) -> Result<i64, AppError> {
    let count = u32::try_from(failures.failures).unwrap_or(u32::MAX);
    match throttle::verdict(count, failures.last_failure_at, now) {
        Verdict::Allowed => Ok(failures.failures),
        Verdict::WaitSeconds(seconds) => Err(AppError::TryAgainIn {
            seconds: seconds as u64,
        }),
        Verdict::Locked => Err(match factor {
            Factor::Totp => AppError::FactorLocked,
            Factor::RecoveryCode => AppError::RecoveryCodesLocked,
        }),
    }
}

/// Records a failure already counted (the `failures`-th in a row), and the lockout when this
/// failure caused it.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn record_failure(
    state: &AppState,
    user_id: UserId,
    factor: Factor,
    client: &Client,
    event: EventKind,
    failures: i64,
) -> Result<(), AppError> {
    audit::record(state, user_id, event, client, None).await?;
    if failures == i64::from(LOCK_AFTER_FAILURES) {
        let detail = match factor {
            Factor::Totp => "authentication codes",
            Factor::RecoveryCode => "recovery codes",
        };
        audit::record(
            state,
            user_id,
            EventKind::SecondFactorLocked,
            client,
            Some(detail),
        )
        .await?;
    }
    Ok(())
}

/// After a second factor was added or removed: live recovery links die (a link asked for before
/// must not reset the factors as they are now), every other session ends (and every remembered
/// browser with them), the change is audited with `detail`, and the owner is mailed `notice`.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn factor_changed(
    state: &AppState,
    user_id: UserId,
    event: EventKind,
    detail: Option<&str>,
    notice: crate::mail::templates::Notice,
) -> Result<(), AppError> {
    store::withdraw_recovery_links_of(&state.pool, user_id, state.clock.now()).await?;
    crate::auth::AuthSession::from_request()
        .await?
        .sign_out_others(state, user_id)
        .await?;
    audit::record(state, user_id, event, &crate::auth::client().await, detail).await?;
    crate::notify::send_notice(state, user_id, notice).await;
    Ok(())
}

/// A fresh recovery code, its Argon2id hash (what is kept) and the code sealed for showing once.
pub struct NewRecoveryCode {
    pub hash: String,
    pub sealed: Vec<u8>,
}

#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn new_recovery_code(
    state: &AppState,
    user_id: UserId,
) -> Result<NewRecoveryCode, AppError> {
    let code = recovery_code::format(&random_bytes());
    let canonical = recovery_code::normalize(&code)
        .ok_or_else(|| AppError::internal("a new recovery code does not read back"))?;
    let hash = state.passwords.hash(SecretString::from(canonical)).await?;
    let sealed = state
        .secrets
        .seal(code.as_bytes(), &recovery_code_context(user_id));
    Ok(NewRecoveryCode { hash, sealed })
}

/// The recovery code waiting to be shown to the sign-in that made it, if there is a recent one.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn revealed_recovery_code(
    state: &AppState,
    user_id: UserId,
    sign_in_id: &SignInId,
) -> Result<Option<String>, AppError> {
    let not_before = state.clock.now() - REVEAL_SECONDS;
    let Some(sealed) =
        store::recovery_code_reveal(&state.pool, user_id, sign_in_id, not_before).await?
    else {
        return Ok(None);
    };
    let code = state
        .secrets
        .open(&sealed, &recovery_code_context(user_id))?;
    String::from_utf8(code)
        .map(Some)
        .map_err(AppError::internal)
}

/// The security page's two-factor card, as the viewer may see it.
#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn section(viewer: &Viewer) -> Result<TwoFactorSection, AppError> {
    let state = &viewer.state;
    let user_id = viewer.user_id();
    let reveal_to = viewer.reveal_to();
    let two_factor = two_factor_state(state, user_id, &viewer.account.username, reveal_to).await?;
    let recovery_code = match (&two_factor, reveal_to) {
        (TwoFactorState::SavingRecoveryCode | TwoFactorState::On, Some(sign_in_id)) => {
            revealed_recovery_code(state, user_id, sign_in_id).await?
        }
        _ => None,
    };
    let two_factor = match (two_factor, &recovery_code) {
        // A confirmed enrollment whose code can no longer be shown is an abandoned one.
        (TwoFactorState::SavingRecoveryCode, None) => TwoFactorState::Off,
        (state, _) => state,
    };
    Ok(TwoFactorSection {
        state: two_factor,
        recovery_code,
        password_recent: viewer.password_recent,
        required_by: store::requiring_org(&state.pool, user_id).await?,
    })
}

/// The switch's state as `reveal_to` (this sign-in, when its password is recent) may see it:
/// an enrollment of another sign-in, or one this sign-in may not see now, shows as off.
async fn two_factor_state(
    state: &AppState,
    user_id: UserId,
    username: &str,
    reveal_to: Option<&SignInId>,
) -> Result<TwoFactorState, AppError> {
    if store::two_factor_of(&state.pool, user_id).await?.is_some() {
        return Ok(TwoFactorState::On);
    }
    let recent = state.clock.now() - REVEAL_SECONDS;
    let Some(enrollment) = store::enrollment_of(&state.pool, user_id)
        .await?
        .filter(|enrollment| {
            enrollment.started_at >= recent
                && reveal_to.is_some()
                && enrollment.sign_in_id.as_ref() == reveal_to
        })
    else {
        return Ok(TwoFactorState::Off);
    };
    if enrollment.confirmed_step.is_some() {
        return Ok(TwoFactorState::SavingRecoveryCode);
    }
    let secret = state
        .secrets
        .open(&enrollment.secret_sealed, &secret_context(user_id))?;
    let (qr_svg, key) = scan_code(state, username, &secret)?;
    Ok(TwoFactorState::Scanning { qr_svg, key })
}
