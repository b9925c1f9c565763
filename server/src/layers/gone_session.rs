//! A request still in flight when its browser's session id is renewed (every step up renews it)
//! carries the old id, whose row is gone by the time the request loads it. tower-sessions answers
//! such a request with a cookie that removes the session cookie; arriving after the step up's
//! answer, it removes the *new* session's cookie, and the person is signed out just after
//! changing their password (the strength meter's request was in flight). So a server function's
//! answer never removes the cookie of a session that was gone before it began: only a page load,
//! which a browser makes one at a time, clears a dead cookie. A sign-out, whose session existed,
//! still removes it.

use axum::{extract::Request, http::header, middleware::Next, response::Response};
use tower_sessions::Session;

/// On a response: the request's cookie named a session that no longer existed.
#[derive(Clone, Copy)]
struct SessionWasGone;

/// A key no session holds: reading it loads the session's row, which tells whether it exists.
const PROBE: &str = "gone_session.probe";

/// Inside the session layer: marks the answer of a server function whose cookie named a
/// session that is gone.
pub async fn note_gone_session(session: Session, request: Request, next: Next) -> Response {
    let named = session.id().is_some();
    if !named || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    // Every `/api/` request loads its session anyway (the sign-in layer reads who is signed in);
    // this only does it first. An error here is left to that load to report.
    let _ = session.get::<serde_json::Value>(PROBE).await;
    let gone = session.id().is_none();
    let mut response = next.run(request).await;
    if gone {
        response.extensions_mut().insert(SessionWasGone);
    }
    response
}

/// Outside the session layer: drops the removal of the session cookie from such an answer.
pub async fn keep_cookie_of_gone_session(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.extensions().get::<SessionWasGone>().is_none() {
        return response;
    }
    let kept: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|cookie| !removes_session_cookie(cookie.to_str().unwrap_or_default()))
        .cloned()
        .collect();
    let headers = response.headers_mut();
    headers.remove(header::SET_COOKIE);
    for cookie in kept {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// A `Set-Cookie` that removes the session cookie (either name: `__Host-` over https).
fn removes_session_cookie(cookie: &str) -> bool {
    let name = cookie.split('=').next().unwrap_or_default();
    (name == crate::SESSION_COOKIE
        || name == crate::SESSION_COOKIE_HTTPS
        || name == crate::SESSION_COOKIE_DOMAIN)
        && cookie
            .split(';')
            .any(|attribute| attribute.trim().eq_ignore_ascii_case("Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::removes_session_cookie;

    #[test]
    fn only_the_removal_of_the_session_cookie_is_recognised() {
        assert!(removes_session_cookie(
            "portal_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        ));
        assert!(removes_session_cookie(
            "__Host-portal_session=; Secure; Path=/; Max-Age=0"
        ));
        assert!(!removes_session_cookie(
            "portal_session=abc; HttpOnly; Path=/; Max-Age=1800"
        ));
        assert!(!removes_session_cookie("portal_device=; Path=/; Max-Age=0"));
    }
}
