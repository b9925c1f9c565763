use crate::account::new_password::PasswordStrength;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    error::AppError,
    security::{breached::PasswordSha1, strength},
    state::AppState,
    validation,
};

/// What a new password on a breach list is told, beside its field.
pub const BREACHED: &str =
    "This password has appeared in a data breach, so others may try it. Choose another.";

pub fn strength(password: &str, known: &[&str]) -> PasswordStrength {
    if let Err(problem) = validation::check_new_password(password) {
        let too_long = password.chars().count() > *validation::PASSWORD_LENGTH.end();
        return PasswordStrength {
            score: 0,
            label: if too_long { "Too long" } else { "Too short" }.to_owned(),
            problem: Some(problem.into_owned()),
        };
    }
    let verdict = strength::assess(password, known);
    let label = match verdict.score {
        0 | 1 => "Weak",
        2 => "Fair",
        3 => "Good",
        _ => "Strong",
    };
    PasswordStrength {
        score: verdict.score,
        label: label.to_owned(),
        problem: verdict.problem,
    }
}

/// The rule for a new password in the input `field`: its length, then zxcvbn's verdict with
/// the account's `known` names (username, address) counted as guessable.
pub fn check_new_password(field: &str, password: &str, known: &[&str]) -> Result<(), AppError> {
    validation::check_new_password(password)
        .map_err(|message| AppError::validation(field, message))?;
    match strength::assess(password, known).problem {
        Some(problem) => Err(AppError::validation(field, problem)),
        None => Ok(()),
    }
}

/// The breach lists' verdict on a new password in the input `field` (after `check_new_password`,
/// so only a password that passed the cheap rules is looked up). A lookup that fails or runs out
/// lets it through (`BreachedPasswords::lists`).
pub async fn check_not_breached(
    state: &AppState,
    field: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    let breached = &state.settings.breached_passwords;
    if breached.is_on()
        && breached
            .lists(&PasswordSha1::of(password.expose_secret()))
            .await
    {
        return Err(AppError::validation(field, BREACHED));
    }
    Ok(())
}
