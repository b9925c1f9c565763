use crate::store::SignInId;
use qrcode::{QrCode, render::svg};

use crate::{
    audit::EventKind,
    auth::{signed_in, signed_in_recently, this_sign_in_id},
    error::AppError,
    mail::templates::Notice,
    security::{
        crypto::random_bytes,
        otpauth,
        totp::{self, CodeCheck},
    },
    state::AppState,
    store,
    store::UserId,
    two_factor::service::{self, code_required, secret_context},
};

/// 160 bits: RFC 4226 §4 recommends a secret of that length for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn start() -> Result<(), AppError> {
    let (state, user_id) = signed_in_recently().await?;
    if store::two_factor_of(&state.pool, user_id).await?.is_some() {
        return Err(AppError::TwoFactorAlreadyOn);
    }
    if !email_verified(&state, user_id).await? {
        return Err(AppError::VerifyEmailFirst);
    }
    begin_enrollment(&state, user_id, &this_sign_in_id().await?).await
}

/// A new secret for an authenticator app.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    random_bytes::<SECRET_BYTES>()
}

/// A secret as the app takes it: a QR code (inline SVG) of its otpauth URI, and the key as
/// grouped text for typing.
pub fn scan_code(
    state: &AppState,
    username: &str,
    secret: &[u8],
) -> Result<(String, String), AppError> {
    let uri = otpauth::uri(&state.settings.issuer, username, secret);
    let qr_svg = QrCode::new(uri.as_bytes())
        .map_err(AppError::internal)?
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // Inline SVG needs no XML declaration.
    let qr_svg = qr_svg
        .find("<svg")
        .map_or(qr_svg.clone(), |start| qr_svg[start..].to_owned());
    Ok((qr_svg, otpauth::grouped(&otpauth::base32(secret))))
}

#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn email_verified(state: &AppState, user_id: UserId) -> Result<bool, AppError> {
    Ok(store::account(&state.pool, user_id)
        .await?
        .is_some_and(|account| account.email_verified_at.is_some()))
}

/// A new enrollment with a fresh secret, belonging to the sign-in `sign_in_id`.
#[tracing::instrument(skip_all, fields(user_id = user_id.0), err(level = "info", Display))]
pub async fn begin_enrollment(
    state: &AppState,
    user_id: UserId,
    sign_in_id: &SignInId,
) -> Result<(), AppError> {
    let sealed = state.secrets.seal(&new_secret(), &secret_context(user_id));
    store::start_enrollment(&state.pool, user_id, sign_in_id, &sealed, state.clock.now()).await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn confirm(code: &str) -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    let sign_in_id = this_sign_in_id().await?;
    let code = totp::parse_code(code).ok_or_else(code_required)?;
    let enrollment = store::enrollment_of(&state.pool, user_id)
        .await?
        .filter(|enrollment| {
            enrollment.confirmed_step.is_none()
                && enrollment.sign_in_id.as_ref() == Some(&sign_in_id)
        })
        .ok_or(AppError::EnrollmentGone)?;
    let secret = state
        .secrets
        .open(&enrollment.secret_sealed, &secret_context(user_id))?;
    let CodeCheck::Accepted(step) = totp::check_code(&secret, &code, state.clock.now(), None)
    else {
        return Err(AppError::InvalidCode);
    };
    let recovery = service::new_recovery_code(&state, user_id).await?;
    store::confirm_enrollment(
        &state.pool,
        user_id,
        &sign_in_id,
        &enrollment.secret_sealed,
        step.0,
        &recovery.hash,
        &recovery.sealed,
        state.clock.now(),
    )
    .await?;
    // The code just checked is a second factor this sign-in has now shown.
    crate::auth::AuthSession::from_request()
        .await?
        .second_factor_shown()
        .await?;
    Ok(())
}

/// Where the browser goes once the wizard is done: the place an app's sign-in kept (it asked
/// for a second factor first), else the security page with its notice.
pub async fn after_wizard(notice: crate::notice::Notice) -> Result<String, AppError> {
    let kept = match notice {
        crate::notice::Notice::Enabled => {
            crate::auth::AuthSession::from_request()
                .await?
                .take_after_wizard()
                .await?
        }
        _ => None,
    };
    Ok(kept.unwrap_or_else(|| notice.at(crate::paths::SECURITY)))
}

/// Returns the notice the security page shows next.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn save(saved: bool) -> Result<crate::notice::Notice, AppError> {
    if !saved {
        return Err(AppError::validation(
            "saved",
            "Tick the box once you have saved your recovery code.",
        ));
    }
    let (state, user_id) = signed_in().await?;
    let sign_in_id = this_sign_in_id().await?;
    if store::complete_enrollment(&state.pool, user_id, &sign_in_id, state.clock.now()).await? {
        // Whoever else held a session of the account (a stolen cookie, a stale tab) must not
        // keep it past the step that protects the account.
        let (event, notice) = (EventKind::TwoFactorEnabled, Notice::Enabled);
        service::factor_changed(&state, user_id, event, None, notice).await?;
        return Ok(crate::notice::Notice::Enabled);
    }
    // Only the sign-in that was shown the code can say it is saved.
    if service::revealed_recovery_code(&state, user_id, &sign_in_id)
        .await?
        .is_none()
    {
        return Err(AppError::NoRecoveryCodeToSave);
    }
    store::forget_recovery_code_reveal(&state.pool, user_id).await?;
    Ok(crate::notice::Notice::RecoveryCodeSaved)
}

/// Leaves the wizard: nothing was turned on.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn cancel() -> Result<(), AppError> {
    let (state, user_id) = signed_in().await?;
    store::cancel_enrollment(&state.pool, user_id).await?;
    Ok(())
}
