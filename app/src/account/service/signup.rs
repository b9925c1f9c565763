use secrecy::{ExposeSecret, SecretString};

use crate::{
    account::service::new_password::{check_new_password, check_not_breached},
    auth::AuthSession,
    error::AppError,
    state::app_state,
    store::{self, NewUser, NewUserError},
    validation,
};

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn signup(
    username: String,
    email: String,
    password: SecretString,
) -> Result<(), AppError> {
    let username = validation::normalize_username(&username)
        .map_err(|message| AppError::validation("username", message))?;
    let email = validation::normalize_email(&email)
        .map_err(|message| AppError::validation("email", message))?;
    check_new_password("password", password.expose_secret(), &[&username, &email])?;

    let state = app_state()?;
    check_not_breached(&state, "password", &password).await?;
    let password_hash = state.passwords.hash(password).await?;
    let now = state.clock.now();
    let new_user = NewUser {
        username: &username,
        email: &email,
        password_hash: &password_hash,
        created_at: now,
    };
    let user_id = store::create_user(&state.pool, new_user)
        .await
        .map_err(|error| match error {
            NewUserError::UsernameTaken => {
                AppError::validation("username", "That username is taken. Choose another.")
            }
            NewUserError::Database(error) => AppError::from(error),
        })?;
    tracing::info!(user_id = user_id.0, "account created");
    AuthSession::from_request()
        .await?
        .sign_in(&state, user_id, None, &crate::auth::client().await, None)
        .await?;
    crate::account::service::verify_email::send_verification(&state, user_id).await;
    Ok(())
}
