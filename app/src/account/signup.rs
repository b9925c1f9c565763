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
    super::service::signup::signup(username, email, password.into()).await?;
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
                hint=format!(
                    "{} to {} characters: letters, digits, _ and -.",
                    crate::validation::USERNAME_LENGTH.start(),
                    crate::validation::USERNAME_LENGTH.end()
                )
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
