//! `PortalForm`: a server action's form that works with and without JavaScript, and what every
//! such form carries (the page to return to, the form's message).

use leptos::{
    context::Provider,
    prelude::*,
    server_fn::{
        Http, ServerFn,
        client::Client,
        codec::{Json, PostUrl},
        request::ClientReq,
    },
    web_sys::FormData,
};
use serde::de::DeserializeOwned;

use super::last_error;
use crate::error::AppError;

/// What the inside of a `PortalForm` reads from it: its action's last error, which each field
/// shows the part of that names it.
#[derive(Clone, Copy)]
pub struct FormState {
    pub error: Signal<Option<AppError>>,
}

impl FormState {
    /// The state of the enclosing `PortalForm`; outside one, no error.
    pub fn current() -> Self {
        use_context::<Self>().unwrap_or(Self {
            error: Signal::stored(None),
        })
    }
}

/// What a form shows before its message: a heading, a line saying what it does.
#[slot]
pub struct Intro {
    children: Children,
}

/// The form of server function `S`, rendered on the server: it posts to `/api/<fn>` (through
/// `navigate.js`, or natively without JavaScript) and the server returns to this page
/// (`ReturnHere`) with any error. The form makes its own action, which reads that error back from
/// the request, so the form's message and its fields show it (`FormState`).
#[component]
pub fn PortalForm<S>(
    #[prop(optional)] class: Option<&'static str>,
    /// Leaves checking to the server, whose messages name the field.
    #[prop(optional)]
    novalidate: bool,
    /// Shows the form's own form-level message; `false` where the page shows one for a list of
    /// forms of the same action, or none.
    #[prop(default = true)]
    message: bool,
    #[prop(optional)] intro: Option<Intro>,
    /// Names `S` for the props; set by the type in `<PortalForm<S>>`.
    #[prop(optional)]
    _server_fn: std::marker::PhantomData<S>,
    children: Children,
) -> impl IntoView
where
    S: DeserializeOwned
        + ServerFn<Protocol = Http<PostUrl, Json>, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Client: Client<AppError>,
    <S::Client as Client<AppError>>::Request: ClientReq<AppError>,
    <<S::Client as Client<AppError>>::Request as ClientReq<AppError>>::FormData: From<FormData>,
    S::Output: Send + Sync + 'static,
{
    let action = ServerAction::<S>::new();
    let state = FormState {
        error: last_error(action),
    };
    view! {
        <Provider value=state>
            <ActionForm action attr:class=class attr:novalidate=novalidate>
                <ReturnHere />
                {intro.map(|intro| (intro.children)())}
                {message.then(|| view! { <FormMessage error=state.error /> })}
                {children()}
            </ActionForm>
        </Provider>
    }
}

/// The button that sends a `PortalForm` (`navigate.js` marks it busy while the post runs).
#[component]
pub fn SubmitButton(
    label: &'static str,
    #[prop(optional)] class: Option<&'static str>,
) -> impl IntoView {
    view! {
        <button type="submit" class=class>
            {label}
        </button>
    }
}

/// First in a form whose submit buttons each act on one item of a list (`name="id"`): Enter in
/// a text field submits with the form's first submit button, and a disabled one does nothing, so
/// Enter never acts on whichever item is listed first.
#[component]
pub fn EnterSubmitsNothing() -> impl IntoView {
    view! { <button type="submit" disabled hidden aria-hidden="true" tabindex="-1"></button> }
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
