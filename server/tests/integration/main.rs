//! Portal's integration tests: the real server on loopback, driven as browsers drive it. One test
//! binary, so the server and its dependencies are linked once for all of them.

mod common;

mod account_life;
mod accounts;
mod authenticator_apps;
mod breached_passwords;
mod deployment;
mod factor_removal;
mod faults;
mod forward_auth;
mod frame;
mod hardening;
mod instances;
mod monitoring;
mod oidc;
mod organizations;
mod proxies;
mod recovery;
mod remembered_browsers;
mod robustness;
mod secure_account;
mod security_keys;
mod sign_in_alerts;
mod two_factor;
