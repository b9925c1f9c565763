//! What the security page loads that no flow owns: the account's recent security activity.

use crate::{
    audit::EventKind,
    auth::Viewer,
    display::{address_or_unknown, browser_name, format_time},
    error::AppError,
    settings::activity::{ActivitySection, SecurityEvent},
    store,
};

/// The security page shows the events of the last 28 days…
pub const RECENT_DAYS: i64 = crate::settings::activity::RECENT_DAYS;
/// …and at most this many of them: a flood of wrong passwords keeps the page a page.
const RECENT_EVENTS: i64 = 100;

#[tracing::instrument(skip_all, fields(user_id = viewer.user_id().0), err(level = "info", Display))]
pub async fn activity(viewer: &Viewer) -> Result<ActivitySection, AppError> {
    let since = viewer.state.clock.now() - RECENT_DAYS * 24 * 60 * 60;
    let events = store::recent_events(&viewer.state.pool, viewer.user_id(), since, RECENT_EVENTS)
        .await?
        .into_iter()
        .filter_map(|row| {
            let kind = EventKind::parse(&row.kind)?;
            Some(SecurityEvent {
                description: kind.description().to_owned(),
                warning: kind.is_warning(),
                at: format_time(row.at),
                address: address_or_unknown(row.address),
                browser: browser_name(row.user_agent.as_deref()),
                new_device: kind == EventKind::SignedIn && row.new_device == 1,
            })
        })
        .collect();
    Ok(ActivitySection { events })
}
