//! What a page shows in place of what it loads: while it loads, and when loading fails.

use leptos::prelude::*;

use crate::error::AppError;

/// A `Suspense` fallback: "Loading…", or what the page is doing.
#[component]
pub fn Loading(#[prop(default = "Loading…")] text: &'static str) -> impl IntoView {
    view! { <p>{text}</p> }
}

/// Why what the page loads could not be shown, as an alert.
#[component]
pub fn ErrorCard(
    error: AppError,
    /// Without the form-message style (the portal and security pages show it so).
    #[prop(optional)]
    bare: bool,
) -> impl IntoView {
    let class = (!bare).then_some("form-message");
    view! { <p class=class role="alert">{error.to_string()}</p> }
}
