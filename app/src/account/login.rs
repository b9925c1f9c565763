use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    components::{Field, FormMessage, last_error},
    error::AppError,
};

/// `next` is where to go once signed in: a path on this site, else the portal.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String, next: String) -> Result<(), AppError> {
    ssr::login(username, password.into()).await?;
    leptos_axum::redirect(crate::validation::safe_next_path(&next));
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = last_error(login);
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <Title text="Sign in · Portal" />
        <h1>"Sign in to Portal"</h1>
        <ActionForm action=login attr:novalidate=true attr:class="card">
            <FormMessage error />
            <input type="hidden" name="next" prop:value=next value=next />
            <Field label="Username" name="username" autocomplete="username" error />
            <Field
                label="Password"
                name="password"
                input_type="password"
                autocomplete="current-password"
                error
            />
            <button type="submit" disabled=move || login.pending().get()>
                "Sign in"
            </button>
        </ActionForm>
        <p class="aside">"New to Portal? " <A href="/signup">"Create an account"</A></p>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use secrecy::SecretString;

    use crate::{auth::AuthSession, error::AppError, state::app_state, store};

    /// Unknown username and wrong password answer alike, in words and in work: both verify one
    /// Argon2id hash.
    pub async fn login(username: String, password: SecretString) -> Result<(), AppError> {
        let state = app_state()?;
        let username = username.trim().to_ascii_lowercase();
        let credentials = store::credentials_for(&state.pool, &username)
            .await
            .map_err(AppError::internal)?;
        let (user_id, stored_hash) = match credentials {
            Some(credentials) => (Some(credentials.id), Some(credentials.password_hash)),
            None => (None, None),
        };
        let matches = state.passwords.verify(password, stored_hash).await?;
        let Some(user_id) = user_id.filter(|_| matches) else {
            tracing::info!("sign-in refused");
            return Err(AppError::InvalidCredentials);
        };
        tracing::info!(user_id, "signed in");
        AuthSession::from_request()
            .await?
            .sign_in(user_id, state.clock.now())
            .await
    }
}
