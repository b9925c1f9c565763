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

/// Where an error card sends a person next: a link under it.
#[derive(Clone, Copy)]
pub struct NextStep {
    pub href: &'static str,
    pub label: &'static str,
}

/// What a page loads, shown: `loading` while it loads, then `show(value)`, or the error in a
/// card with `next` under it (where to go from a link that does not work).
#[component]
pub fn Loaded<T, V, F>(
    resource: Resource<Result<T, AppError>>,
    show: F,
    #[prop(default = "Loading…")] loading: &'static str,
    #[prop(optional)] next: Option<NextStep>,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    view! {
        <Suspense fallback=move || view! { <Loading text=loading /> }>
            {
                let show = show.clone();
                move || {
                    let show = show.clone();
                    Suspend::new(async move {
                        match resource.await {
                            Ok(value) => show(value).into_any(),
                            Err(error) => match next {
                                Some(NextStep { href, label }) => view! {
                                    <section class="card">
                                        <ErrorCard error />
                                        <p><leptos_router::components::A href=href>{label}</leptos_router::components::A></p>
                                    </section>
                                }
                                    .into_any(),
                                None => view! { <ErrorCard error bare=true /> }.into_any(),
                            },
                        }
                    })
                }
            }
        </Suspense>
    }
}

/// The page an emailed link opens. Opening it changes nothing (mail scanners open links):
/// `show` renders what the link would do, with a form whose POST does it and answers with
/// `?done=1`, when the page says `done` and leads on to `next` (also where a link that does not
/// work leads).
#[component]
pub fn LinkPage<T, V, F>(
    resource: Resource<Result<T, AppError>>,
    show: F,
    done: &'static str,
    next: NextStep,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    let query = leptos_router::hooks::use_query_map();
    let is_done = move || query.read().get("done").is_some();
    view! {
        <Show
            when=is_done
            fallback=move || {
                let show = show.clone();
                view! { <Loaded resource loading="Checking the link…" next show /> }
            }
        >
            <section class="card">
                <p class="notice" role="status">{done}</p>
                <p><leptos_router::components::A href=next.href>{next.label}</leptos_router::components::A></p>
            </section>
        </Show>
    }
}
