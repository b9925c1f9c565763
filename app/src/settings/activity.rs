//! The security page's recent activity: what happened to the account in the last 28 days, when,
//! from which browser and address; a sign-in from a new device carries "This wasn't me".

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

/// How far back the list goes.
pub const RECENT_DAYS: i64 = 28;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub description: String,
    pub warning: bool,
    pub at: String,
    pub address: String,
    pub browser: String,
    /// A sign-in from a browser that had never signed in to the account.
    pub new_device: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitySection {
    pub events: Vec<SecurityEvent>,
}

#[component]
pub fn ActivityList(section: ActivitySection) -> impl IntoView {
    let events = section.events;
    view! {
        <section class="card" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Recent security activity"</h2>
            <p>"The last " {RECENT_DAYS} " days. If a sign-in from a new device was not you, choose “This wasn't me” to secure your account."</p>
            {if events.is_empty() {
                view! { <p>"Nothing yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="activity">
                        {events
                            .into_iter()
                            .map(|event| {
                                view! {
                                    <li class:warning=event.warning>
                                        <span class="what">{event.description}</span>
                                        <span class="when">{event.at}</span>
                                        <span class="where">{event.address} " · " {event.browser}</span>
                                        {event.new_device.then(|| view! {
                                            <span class="new-device">
                                                "New device · " <A href=crate::paths::SECURE_ACCOUNT>"This wasn't me"</A>
                                            </span>
                                        })}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}
