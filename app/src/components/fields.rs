//! The inputs of a `PortalForm`. Each field shows the part of the form's last error that names
//! it, read from the form (`FormState`), so no caller wires the error by hand.

use leptos::prelude::*;

use super::{FormState, KeptFields};

#[component]
pub fn Field(
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional, into)] hint: Option<String>,
    /// What the element ids are made of, where `name` is not unique on the page.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    let error = FormState::current().error;
    // Only a password field's own value is never kept (the server keeps none).
    let kept = use_context::<KeptFields>()
        .filter(|_| input_type != "password")
        .and_then(|kept| {
            kept.0
                .into_iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value)
        });
    let stem = id.unwrap_or(name);
    let input_id = format!("field-{stem}");
    let message_id = format!("{stem}-message");
    let hint_id = format!("{stem}-hint");
    let message = move || error.get().and_then(|error| error.message_for(name));
    let has_hint = hint.is_some();
    let described_by = {
        let (message_id, hint_id) = (message_id.clone(), hint_id.clone());
        move || {
            let ids: Vec<&str> = [
                has_hint.then_some(hint_id.as_str()),
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

/// A code from the authenticator app: `code`, offered by the phone's one-time-code keyboard.
#[component]
pub fn CodeField() -> impl IntoView {
    view! {
        <Field
            label="Authentication code"
            name="code"
            autocomplete="one-time-code"
            inputmode="numeric"
        />
    }
}

/// A value the form sends and nobody types.
#[component]
pub fn Hidden(name: &'static str, #[prop(into)] value: Signal<String>) -> impl IntoView {
    view! { <input type="hidden" name=name prop:value=value value=value /> }
}

/// A checkbox that must be ticked, with the message of the form's error that names it.
#[component]
pub fn CheckboxField(
    #[prop(into)] label: String,
    name: &'static str,
    /// What the form sends when it is ticked.
    value: &'static str,
) -> impl IntoView {
    let error = FormState::current().error;
    let message = move || error.get().and_then(|error| error.message_for(name));
    let input_id = format!("field-{name}");
    let message_id = format!("{name}-message");
    let described_by = {
        let message_id = message_id.clone();
        move || message().map(|_| message_id.clone())
    };
    view! {
        <div class="field checkbox">
            <input
                type="checkbox"
                id=input_id.clone()
                name=name
                value=value
                aria-invalid=move || message().map(|_| "true")
                aria-describedby=described_by
            />
            <label for=input_id>{label}</label>
            <p id=message_id class="field-message">
                {message}
            </p>
        </div>
    }
}

/// A switch that submits its form: pressing it asks for the other state (the form's fields say
/// which). `disabled` with `described_by`: a switch that cannot move, and the line saying why.
#[component]
pub fn Switch(
    on: bool,
    label: &'static str,
    #[prop(optional)] disabled: bool,
    #[prop(default = None)] described_by: Option<&'static str>,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            role="switch"
            aria-checked=if on { "true" } else { "false" }
            class="switch"
            disabled=disabled
            aria-describedby=described_by
        >
            <span class="switch-track" aria-hidden="true">
                <span class="switch-thumb"></span>
            </span>
            <span class="switch-label">{label}</span>
        </button>
    }
}
