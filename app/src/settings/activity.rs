//! The security page's recent activity: what happened to the account, when, from where.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub description: String,
    pub warning: bool,
    pub at: String,
    pub address: String,
    pub browser: String,
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
