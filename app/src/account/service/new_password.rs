use crate::account::new_password::PasswordStrength;
use crate::{error::AppError, security::strength, validation};

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
