//! The security page, which places the cards each flow owns: the two-factor switch and its
//! panel, apps, keys, remembered browsers, email, account links, sessions and recent activity.
//! Flows do not use it; it uses them. A new setting belongs to its flow's card, not here.

pub mod activity;
mod page;
#[cfg(feature = "ssr")]
pub mod service;

pub use page::{LoadSecurityOverview, SecurityPage, SecurityPageData, load_security_overview};
