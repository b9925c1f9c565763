//! Portal's security rules as plain functions over plain values: no I/O, no clock of their own.

pub mod access_rules;
pub mod breached;
pub mod crypto;
pub mod otpauth;
pub mod recovery_code;
pub mod strength;
pub mod throttle;
pub mod token;
pub mod totp;
