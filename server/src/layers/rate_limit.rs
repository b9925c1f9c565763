//! Requests per client address to the endpoints that check a credential, send mail, or write
//! for someone without an account; and, in an allowance of its own, to the strength meter.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use app::error::AppError;
use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::server_fn::ServerFn;

use super::client_addr::ClientAddr;

/// Requests per address to the sign-in endpoints: a person behind an office's one address is
/// never slowed, a script guessing from one address is.
pub struct SignInLimiter {
    limiter: governor::DefaultKeyedRateLimiter<IpAddr>,
    /// The `METERED` endpoints' allowance, `METERED_PER_SIGN_IN` times the sign-in one.
    meter: governor::DefaultKeyedRateLimiter<IpAddr>,
}

/// The endpoints that check a credential, send mail, answer about a username (an invitation),
/// or write for someone without an account (a link spent, a ceremony kept: review M4). Named by
/// type: renaming a server function cannot silently drop its limit. A server function that runs
/// without an account is here or is read-only: the integration test
/// `every_anonymous_endpoint_that_writes_is_rate_limited` asks each one in the registry.
const LIMITED: [&str; 23] = [
    <app::account::login::Login as ServerFn>::PATH,
    <app::account::signup::Signup as ServerFn>::PATH,
    <app::two_factor::prompt::VerifySignInCode as ServerFn>::PATH,
    <app::recovery::request::RequestRecovery as ServerFn>::PATH,
    <app::recovery::confirm::ConfirmRecovery as ServerFn>::PATH,
    <app::account::sessions::ConfirmPassword as ServerFn>::PATH,
    <app::account::verify_email::ResendVerification as ServerFn>::PATH,
    <app::org::invitations::InviteMember as ServerFn>::PATH,
    <app::account::forgot_password::RequestPasswordReset as ServerFn>::PATH,
    <app::account::reset_password::ResetPassword as ServerFn>::PATH,
    <app::account::change_password::ChangePassword as ServerFn>::PATH,
    <app::account::change_email::ChangeEmail as ServerFn>::PATH,
    <app::account::close::CloseAccount as ServerFn>::PATH,
    <app::security_keys::manage::StartKeyRegistration as ServerFn>::PATH,
    <app::two_factor::apps::StartAppAddition as ServerFn>::PATH,
    <app::account::change_email::ConfirmEmailChange as ServerFn>::PATH,
    <app::account::change_email::KeepEmail as ServerFn>::PATH,
    <app::account::secure::SecureAccount as ServerFn>::PATH,
    <app::account::verify_email::VerifyEmail as ServerFn>::PATH,
    <app::security_keys::sign_in::StartPasskeySignIn as ServerFn>::PATH,
    <app::security_keys::sign_in::FinishPasskeySignIn as ServerFn>::PATH,
    <app::security_keys::sign_in::StartKeySignIn as ServerFn>::PATH,
    <app::security_keys::sign_in::FinishKeySignIn as ServerFn>::PATH,
];

/// Endpoints that only compute, for anyone: the strength meter runs zxcvbn on the blocking
/// threads Argon2id also uses. Limited per address too, in an allowance of their own: the
/// meter asks as a person types, and must not use up their sign-ins.
const METERED: [&str; 1] = [<app::account::new_password::AssessPassword as ServerFn>::PATH];

/// The meter's allowance, in sign-in allowances: a pause every few letters of a few passwords.
const METERED_PER_SIGN_IN: u32 = 10;

/// Whether requests to `path` count against the per-address limit.
pub fn is_limited(path: &str) -> bool {
    LIMITED.contains(&path) || METERED.contains(&path)
}

/// The endpoints that run Argon2id (a password or a recovery code checked, or a new password
/// hashed). Only a few of their requests go on past this layer at once (`LimitPolicy::hashing`):
/// the rest wait here, before their session is loaded, holding little more than the connection.
/// They would wait for a hashing thread anyway; a flood of 500 at once peaked 10 MB lower.
const HASHING: [&str; 8] = [
    <app::account::login::Login as ServerFn>::PATH,
    <app::account::signup::Signup as ServerFn>::PATH,
    <app::recovery::request::RequestRecovery as ServerFn>::PATH,
    <app::account::sessions::ConfirmPassword as ServerFn>::PATH,
    <app::account::reset_password::ResetPassword as ServerFn>::PATH,
    <app::account::change_password::ChangePassword as ServerFn>::PATH,
    <app::account::change_email::ChangeEmail as ServerFn>::PATH,
    <app::account::close::CloseAccount as ServerFn>::PATH,
];

/// Requests to the hashing endpoints past this layer at once, per hashing thread: enough to keep
/// every hashing thread fed while the next requests read their sessions.
pub const HASHING_IN_FLIGHT_PER_THREAD: usize = 4;

/// How often addresses whose allowance is full again are forgotten. A quota is per minute, so an
/// address idle this long holds nothing the limiter needs.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

impl SignInLimiter {
    pub fn per_minute(requests: NonZeroU32) -> Self {
        Self::with_quota(
            governor::Quota::per_minute(requests),
            governor::Quota::per_minute(
                requests.saturating_mul(
                    NonZeroU32::new(METERED_PER_SIGN_IN).unwrap_or(NonZeroU32::MIN),
                ),
            ),
        )
    }

    fn with_quota(quota: governor::Quota, meter: governor::Quota) -> Self {
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            meter: governor::RateLimiter::keyed(meter),
        }
    }

    /// Drops the addresses whose allowance is full again: the map then holds only the clients of
    /// about the last minute, however many addresses have ever come.
    pub fn forget_idle(&self) {
        for limiter in [&self.limiter, &self.meter] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.limiter.len() + self.meter.len()
    }
}

/// Forgets idle addresses every minute. Run by `Portal::serve` and aborted when it returns: a
/// timer, not a request count, so memory is given back even when requests stop coming.
pub async fn forget_idle_periodically(limiter: Arc<SignInLimiter>) {
    let mut every = tokio::time::interval(FORGET_IDLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        limiter.forget_idle();
    }
}

/// The limiter's key for a client: an IPv4 address, or an IPv6 address's /64. One IPv6
/// subscriber is usually given a whole /64 (RFC 6177), so keying by address would give it 2^64
/// fresh allowances.
pub fn limiter_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(address) => {
            let network = u128::from(address) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// What the limit needs: the limiter, and the stylesheet its page links to (hashed by the build).
#[derive(Clone)]
pub struct LimitPolicy {
    pub limiter: Arc<SignInLimiter>,
    pub stylesheet: Arc<str>,
    /// Admits requests to the `HASHING` endpoints, first come first served.
    pub hashing: Arc<tokio::sync::Semaphore>,
}

pub async fn limit_sign_in(
    State(LimitPolicy {
        limiter,
        stylesheet,
        hashing,
    }): State<LimitPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let bucket = if LIMITED.contains(&path) {
        &limiter.limiter
    } else if METERED.contains(&path) {
        &limiter.meter
    } else {
        return next.run(request).await;
    };
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    // Set by `client_addr::resolve_client` for every connection; the unspecified address only
    // if the server was built without it, which then limits everyone together.
    let address = request
        .extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientAddr(address)| {
            *address
        });
    let Err(not_until) = bucket.check_key(&limiter_key(address)) else {
        if !HASHING.contains(&request.uri().path()) {
            return next.run(request).await;
        }
        // The semaphore is never closed; were it, the request would go on unqueued.
        let _admitted = hashing.acquire().await.ok();
        return next.run(request).await;
    };
    let seconds = not_until
        .wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ))
        .as_secs()
        .max(1);
    tracing::warn!(%address, path = request.uri().path(), "sign-in rate limit");
    too_many_requests(&request, seconds, &stylesheet)
}

/// 429 with the wait: for a page without JavaScript an HTML page, for the hydrated page the
/// server function error its form shows.
fn too_many_requests(request: &Request, seconds: u64, stylesheet: &str) -> Response {
    let error = AppError::TryAgainIn { seconds };
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let retry_after = [(header::RETRY_AFTER, seconds.to_string())];
    if wants_html {
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many attempts · Portal</title>\
             <link rel=\"stylesheet\" href=\"{stylesheet}\"></head><body><main><h1>Too many attempts</h1>\
             <p class=\"form-message\" role=\"alert\">{error}</p><p><a href=\"/login\">Back to sign-in</a></p></main></body></html>"
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            axum::response::Html(page),
        )
            .into_response();
    }
    (
        retry_after,
        super::server_fn_error(request.uri().path(), &error),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_hashing_endpoint_is_limited_so_its_queue_is_reached() {
        for path in HASHING {
            assert!(LIMITED.contains(&path), "{path}");
        }
    }

    #[test]
    fn ipv4_clients_are_keyed_by_their_address() {
        assert_eq!(limiter_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(limiter_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            limiter_key(ip("2001:db8:1:2:3:4:5:6")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            limiter_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limiter_key(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            limiter_key(ip("2001:db8:1:3::1")),
            limiter_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limiter_key(ip("::1")), ip("::"));
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let quota = governor::Quota::with_period(Duration::from_millis(1))
            .unwrap()
            .allow_burst(NonZeroU32::MIN);
        let limiter = SignInLimiter::with_quota(quota, quota);
        for last in 1..=3u8 {
            let _ = limiter.limiter.check_key(&IpAddr::from([192, 0, 2, last]));
            let _ = limiter.meter.check_key(&IpAddr::from([192, 0, 2, last]));
        }
        assert_eq!(limiter.tracked(), 6);
        std::thread::sleep(Duration::from_millis(20));
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 0);
    }
}
