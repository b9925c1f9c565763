//! A new password, wherever one is chosen (sign-up, a reset, a change): the field, a strength
//! meter and a show-password toggle beside it in the hydrated page, and the server's check that
//! decides (length, then zxcvbn's verdict with the account's own names counted as known).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{components::Field, error::AppError};

/// What the meter shows: zxcvbn's score (0–4), a word for it, and why the server would refuse
/// the password, if it would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordStrength {
    pub score: u8,
    pub label: String,
    pub problem: Option<String>,
}

/// The meter's question. It checks nothing about any account, so it answers anyone; the same
/// verdict decides when the form is sent. `known`: the account's username and address,
/// separated by spaces (neither can hold one).
#[server(endpoint = "assess_password")]
pub async fn assess_password(
    password: String,
    known: String,
) -> Result<PasswordStrength, AppError> {
    // A username and an address at most: the words zxcvbn also matches against are bounded.
    let known: Vec<String> = known
        .split_whitespace()
        .take(2)
        .map(|word| word.chars().take(254).collect())
        .collect();
    // zxcvbn's matching is CPU work: off the async runtime.
    tokio::task::spawn_blocking(move || {
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        super::service::new_password::strength(&password, &known)
    })
    .await
    .map_err(AppError::from)
}

/// The "New password" field (or `label`) with its meter. `known` are the account's username and
/// address when the page knows them; `known_fields` name inputs of the same form that hold them
/// (sign-up's username and email).
#[component]
pub fn NewPasswordField(
    #[prop(default = "New password")] label: &'static str,
    #[prop(default = "new_password")] name: &'static str,
    #[prop(optional)] known: Vec<String>,
    #[prop(optional)] known_fields: Vec<String>,
) -> impl IntoView {
    view! {
        <Field
            label
            name
            input_type="password"
            autocomplete="new-password"
            hint=format!(
                "At least {} characters. A few uncommon words are easy to remember and hard to guess.",
                crate::validation::PASSWORD_LENGTH.start()
            )
        />
        <StrengthMeter input_id=format!("field-{name}") known known_fields />
    }
}

/// Runs only in the hydrated page: without JavaScript it shows nothing, and the server's
/// message after sending says the same.
#[island]
fn StrengthMeter(input_id: String, known: Vec<String>, known_fields: Vec<String>) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    let strength = RwSignal::new(None::<PasswordStrength>);
    let shown = RwSignal::new(false);
    {
        let input_id = input_id.clone();
        // Effects run only in the browser, once the island is alive.
        Effect::new(move |_| {
            if !hydrated.get_untracked() {
                hydrated.set(true);
                client::watch(&input_id, known.clone(), known_fields.clone(), strength);
            }
        });
    }
    let toggle = {
        let input_id = input_id.clone();
        move |_| {
            shown.update(|shown| *shown = !*shown);
            client::show_password(&input_id, shown.get_untracked());
        }
    };
    view! {
        <div class="strength" hidden=move || !hydrated.get()>
            <button
                type="button"
                class="link"
                aria-controls=input_id
                aria-pressed=move || if shown.get() { "true" } else { "false" }
                on:click=toggle
            >
                "Show password"
            </button>
            <div aria-live="polite">
                {move || strength.get().map(|strength| view! {
                    <meter min="0" max="4" low="2.5" high="3.5" optimum="4" value=strength.score.to_string()></meter>
                    <span class="strength-label">"Strength: " {strength.label}</span>
                    {strength.problem.map(|problem| view! { <p class="hint">{problem}</p> })}
                })}
            </div>
        </div>
    }
}

/// The browser side of the meter: the field is the server-rendered `Field`, found by its id. Its
/// listener goes with the element when the next page replaces this one.
mod client {
    use super::{AssessPassword, PasswordStrength};
    use leptos::{
        prelude::*,
        server_fn::ServerFn,
        wasm_bindgen::{JsCast, JsValue, closure::Closure},
        web_sys::{Event, HtmlInputElement, Request, RequestInit, Response, UrlSearchParams},
    };
    use wasm_bindgen_futures::JsFuture;

    /// Asks the server for the password's strength a moment after typing stops; an answer to an
    /// older value is dropped.
    pub fn watch(
        input_id: &str,
        known: Vec<String>,
        known_fields: Vec<String>,
        strength: RwSignal<Option<PasswordStrength>>,
    ) {
        let Some(input) = document().get_element_by_id(input_id) else {
            return;
        };
        let pending = StoredValue::new(None::<TimeoutHandle>);
        let asked = StoredValue::new(0_u64);
        let on_input = Closure::<dyn Fn(Event)>::new(move |event: Event| {
            let password = event_target::<HtmlInputElement>(&event).value();
            if let Some(earlier) = pending.get_value() {
                earlier.clear();
            }
            asked.update_value(|count| *count += 1);
            if password.is_empty() {
                strength.set(None);
                return;
            }
            let this = asked.get_value();
            let mut names = known.clone();
            names.extend(known_fields.iter().filter_map(|id| field_value(id)));
            let ask = move || {
                leptos::task::spawn_local(async move {
                    if let Some(answer) = assess(&password, &names.join(" ")).await
                        && asked.get_value() == this
                    {
                        strength.set(Some(answer));
                    }
                });
            };
            pending.set_value(
                set_timeout_with_handle(ask, std::time::Duration::from_millis(250)).ok(),
            );
        });
        let _ = input.add_event_listener_with_callback("input", on_input.as_ref().unchecked_ref());
        on_input.forget();
    }

    /// Calls `assess_password` with the browser's fetch, as a form post like any other: the
    /// server-function client would add about 30 KB (compressed) to every page's script for this
    /// one question.
    async fn assess(password: &str, known: &str) -> Option<PasswordStrength> {
        let form = UrlSearchParams::new().ok()?;
        form.append("password", password);
        form.append("known", known);
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&form.into());
        let request = Request::new_with_str_and_init(AssessPassword::PATH, &init).ok()?;
        let response: Response = JsFuture::from(window().fetch_with_request(&request))
            .await
            .ok()?
            .dyn_into()
            .ok()?;
        if !response.ok() {
            return None;
        }
        let body = JsFuture::from(response.json().ok()?).await.ok()?;
        let field = |name: &str| js_sys::Reflect::get(&body, &JsValue::from_str(name)).ok();
        Some(PasswordStrength {
            score: field("score")?.as_f64()? as u8,
            label: field("label")?.as_string()?,
            problem: field("problem").and_then(|problem| problem.as_string()),
        })
    }

    fn field_value(id: &str) -> Option<String> {
        document()
            .get_element_by_id(id)?
            .dyn_into::<HtmlInputElement>()
            .ok()
            .map(|input| input.value())
            .filter(|value| !value.is_empty())
    }

    pub fn show_password(input_id: &str, shown: bool) {
        if let Some(input) = document().get_element_by_id(input_id) {
            let _ = input.set_attribute("type", if shown { "text" } else { "password" });
        }
    }
}
