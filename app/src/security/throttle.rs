//! How long guessing must wait: after 5 consecutive failures each further attempt waits twice as
//! long as the last (capped at 15 minutes); after 100 the factor is locked until recovery.

use crate::unix_time::UnixTime;
/// Failures that cost nothing: typos happen.
pub const FREE_FAILURES: u32 = 5;
pub const MAX_WAIT_SECONDS: i64 = 15 * 60;
pub const LOCK_AFTER_FAILURES: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    WaitSeconds(i64),
    Locked,
}

/// The wait that `failures` consecutive failures impose after the last one: 1 s after the 5th,
/// 2 s after the 6th, 4 s after the 7th, … at most 15 minutes.
pub fn wait_after(failures: u32) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = failures - FREE_FAILURES;
    if doublings >= 20 {
        return MAX_WAIT_SECONDS;
    }
    (1i64 << doublings).min(MAX_WAIT_SECONDS)
}

/// Whether an attempt may be made `now`, after `failures` consecutive failures, the last at
/// `last_failure_at`.
pub fn verdict(failures: u32, last_failure_at: Option<UnixTime>, now: UnixTime) -> Verdict {
    if failures >= LOCK_AFTER_FAILURES {
        return Verdict::Locked;
    }
    let Some(last) = last_failure_at else {
        return Verdict::Allowed;
    };
    let remaining = last + wait_after(failures) - now;
    if remaining > 0 {
        Verdict::WaitSeconds(remaining)
    } else {
        Verdict::Allowed
    }
}

/// Passwords follow the same schedule but never lock: a lock would let anyone who knows a
/// username lock its owner out.
pub fn password_verdict(
    failures: u32,
    last_failure_at: Option<UnixTime>,
    now: UnixTime,
) -> Verdict {
    verdict(failures.min(LOCK_AFTER_FAILURES - 1), last_failure_at, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free() {
        for failures in 0..FREE_FAILURES {
            assert_eq!(
                verdict(failures, Some(UnixTime(1000)), UnixTime(1000)),
                Verdict::Allowed
            );
        }
    }

    #[test]
    fn each_further_failure_doubles_the_wait() {
        let waits: Vec<i64> = (5..=12).map(wait_after).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128]);
    }

    #[test]
    fn the_wait_is_capped_at_fifteen_minutes() {
        assert_eq!(wait_after(14), 512);
        assert_eq!(wait_after(15), MAX_WAIT_SECONDS);
        assert_eq!(wait_after(99), MAX_WAIT_SECONDS);
        assert_eq!(wait_after(u32::MAX), MAX_WAIT_SECONDS);
    }

    #[test]
    fn the_wait_counts_from_the_last_failure() {
        assert_eq!(
            verdict(8, Some(UnixTime(1000)), UnixTime(1000)),
            Verdict::WaitSeconds(8)
        );
        assert_eq!(
            verdict(8, Some(UnixTime(1000)), UnixTime(1005)),
            Verdict::WaitSeconds(3)
        );
        assert_eq!(
            verdict(8, Some(UnixTime(1000)), UnixTime(1008)),
            Verdict::Allowed
        );
    }

    #[test]
    fn passwords_wait_but_never_lock() {
        assert_eq!(
            password_verdict(500, Some(UnixTime(0)), UnixTime(100)),
            Verdict::WaitSeconds(800)
        );
        assert_eq!(
            password_verdict(500, Some(UnixTime(0)), UnixTime(900)),
            Verdict::Allowed
        );
        assert_eq!(
            password_verdict(3, Some(UnixTime(0)), UnixTime(0)),
            Verdict::Allowed
        );
    }

    #[test]
    fn a_hundred_failures_lock_the_factor() {
        assert_eq!(
            verdict(99, Some(UnixTime(0)), UnixTime(10_000)),
            Verdict::Allowed
        );
        assert_eq!(
            verdict(100, Some(UnixTime(0)), UnixTime(10_000)),
            Verdict::Locked
        );
        assert_eq!(verdict(100, None, UnixTime(0)), Verdict::Locked);
    }
}
