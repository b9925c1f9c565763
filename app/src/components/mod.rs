//! Form pieces shared by every flow: a labelled field with its message, and the message that
//! belongs to the whole form.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::error::AppError;

/// The error of a server action's last run, if it failed.
pub fn last_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action
            .value()
            .with(|result| result.as_ref().and_then(|r| r.as_ref().err().cloned()))
    })
}

/// What a browser without JavaScript typed into a form that came back with an error (never a
/// password, code or token), so the page it returns to shows it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptFields(pub Vec<(String, String)>);

/// Inputs never kept: secrets, and what only the server reads.
pub const UNKEPT_FIELDS: [&str; 6] = ["password", "code", "recovery_code", "token", "id", "slug"];

#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    /// The last error of the form; the field shows it when it names this field.
    error: Signal<Option<AppError>>,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    // Only a password field's own value is never kept (the server keeps none).
    let kept = use_context::<KeptFields>()
        .filter(|_| input_type != "password")
        .and_then(|kept| {
            kept.0
                .into_iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value)
        });
    let input_id = format!("field-{name}");
    let message_id = format!("{name}-message");
    let hint_id = format!("{name}-hint");
    let message = move || error.get().and_then(|error| error.message_for(name));
    let described_by = {
        let (message_id, hint_id) = (message_id.clone(), hint_id.clone());
        move || {
            let ids: Vec<&str> = [
                hint.map(|_| hint_id.as_str()),
                message().map(|_| message_id.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field">
            <label for=input_id.clone()>{label}</label>
            {hint.map(|hint| view! { <p id=hint_id.clone() class="hint">{hint}</p> })}
            <input
                id=input_id
                name=name
                type=input_type
                autocomplete=autocomplete
                inputmode=inputmode
                value=kept
                required
                aria-invalid=move || message().map(|_| "true")
                aria-describedby=described_by
            />
            <p id=message_id class="field-message" aria-live="polite">
                {message}
            </p>
        </div>
    }
}

/// A message about the whole form (wrong password, too many attempts, an outage).
#[component]
pub fn FormMessage(error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || {
        error
            .get()
            .filter(AppError::is_form_level)
            .map(|error| error.to_string())
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="form-message" role="alert">{message}</p>
        </Show>
    }
}

/// Names the page a form is on, for a browser without JavaScript: Portal sends no Referer, and
/// the server returns there (with any error) after the post.
#[component]
pub fn ReturnHere() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let page = move || {
        let query: Vec<String> = location
            .query
            .read()
            .clone()
            .into_iter()
            .filter(|(key, _)| key != "__path" && key != "__err")
            .map(|(key, value)| {
                format!(
                    "{}={}",
                    crate::validation::encode_component(&key),
                    crate::validation::encode_component(&value)
                )
            })
            .collect();
        let path = location.pathname.get();
        if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        }
    };
    view! { <input type="hidden" name="__page" value=page /> }
}
