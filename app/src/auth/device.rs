//! The device cookie (OWASP "Slow down online guessing attacks with device cookies"): a browser
//! that has signed in to an account carries a sealed cookie naming that account, and its wrong
//! passwords are counted on a counter of its own. An attacker hammering a username then waits,
//! while its owner's browser still gets in.

use super::cookie;
use crate::{security::crypto::random_bytes, state::AppState};

/// A year: the owner's browser stays known across many sign-ins.
const DEVICE_COOKIE_DAYS: i64 = 365;
/// Associated data: a device cookie opens only as a device cookie.
const CONTEXT: &[u8] = b"portal:device-cookie";

/// A browser that signed in to `username` before; `id` names it in the throttle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub username: String,
    pub id: String,
}

const COOKIE: &str = "portal_device";

/// The device cookie of this request, if it opens under the server key.
pub async fn from_request(state: &AppState) -> Option<Device> {
    let value = cookie::read(&cookie::name(state, COOKIE)).await?;
    open(state, &value)
}

fn open(state: &AppState, value: &str) -> Option<Device> {
    let sealed = decode_hex(value)?;
    let plain = state.secrets.open(&sealed, CONTEXT).ok()?;
    let plain = String::from_utf8(plain).ok()?;
    let (username, id) = plain.split_once('\n')?;
    Some(Device {
        username: username.to_owned(),
        id: id.to_owned(),
    })
}

/// Whether this browser has never signed in to the account `user_id`: it carries no device
/// cookie naming it. Read from the request, so before `remember` replaces the cookie. (A browser
/// keeps one cookie, for the last account it signed in to.)
pub async fn is_new_for(
    state: &AppState,
    user_id: crate::store::UserId,
) -> Result<bool, crate::error::AppError> {
    let Some(device) = from_request(state).await else {
        return Ok(true);
    };
    let username = crate::store::username_of(&state.pool, user_id).await?;
    Ok(username.as_deref() != Some(device.username.as_str()))
}

/// Gives this browser a device cookie for `username` (a new one at each sign-in).
pub fn remember(state: &AppState, username: &str) {
    let id = encode_hex(&random_bytes::<16>());
    let sealed = state
        .secrets
        .seal(format!("{username}\n{id}").as_bytes(), CONTEXT);
    cookie::set(
        state,
        cookie::name(state, COOKIE),
        encode_hex(&sealed),
        DEVICE_COOKIE_DAYS,
    );
}

fn encode_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A cookie's value is the browser's to send: a long one is refused before it is decoded.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() > 512 {
        return None;
    }
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_back_and_refuses_junk() {
        assert_eq!(
            decode_hex(&encode_hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
