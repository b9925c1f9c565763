//! Recovery of a lost second factor: password, recovery code and mailbox together — none alone,
//! nor two of them — reset it. And the last resort, support's admin command.

pub mod confirm;
pub mod request;
#[cfg(feature = "ssr")]
pub mod service;
