use leptos::prelude::*;

use crate::paths;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    account::new_password::NewPasswordField,
    components::{Field, PortalForm, SubmitButton},
    error::AppError,
};

#[server(endpoint = "signup")]
pub async fn signup(username: String, email: String, password: String) -> Result<(), AppError> {
    ssr::signup(username, email, password.into()).await?;
    crate::validation::redirect(paths::PORTAL);
    Ok(())
}

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <Title text="Create your account · Portal" />
        <h1>"Create your account"</h1>
        <PortalForm<Signup> novalidate=true class="card">
            <Field
                label="Username"
                name="username"
                autocomplete="username"
                hint="3 to 32 characters: letters, digits, _ and -."
            />
            <Field label="Email" name="email" input_type="email" autocomplete="email" />
            <NewPasswordField
                label="Password"
                name="password"
                known_fields=vec!["field-username".to_owned(), "field-email".to_owned()]
            />
            <SubmitButton label="Create account" />
        </PortalForm<Signup>>
        <p class="aside">"Already have an account? " <A href=paths::LOGIN>"Sign in"</A></p>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use secrecy::{ExposeSecret, SecretString};

    use crate::{
        account::new_password::check_new_password,
        auth::AuthSession,
        error::AppError,
        state::app_state,
        store::{self, NewUser, NewUserError},
        validation,
    };

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
        let password_hash = state.passwords.hash(password).await?;
        let now = state.clock.now();
        let new_user = NewUser {
            username: &username,
            email: &email,
            password_hash: &password_hash,
            created_at: now,
        };
        let user_id =
            store::create_user(&state.pool, new_user)
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
        crate::account::verify_email::send_verification(&state, user_id).await;
        Ok(())
    }
}
