//! Instants as a type of their own. An instant is Unix time in seconds; a duration stays a plain
//! number of seconds (the `*_SECONDS` constants), so `now - REAUTH_SECONDS` is an instant and
//! `now - signed_in_at` a duration, and the compiler refuses to mix them up.

use std::ops::{Add, Sub};

/// A moment, in whole seconds since the Unix epoch: how the store keeps every time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Seconds since the Unix epoch.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

impl Add<i64> for UnixTime {
    type Output = UnixTime;
    fn add(self, seconds: i64) -> UnixTime {
        UnixTime(self.0 + seconds)
    }
}

impl Sub<i64> for UnixTime {
    type Output = UnixTime;
    fn sub(self, seconds: i64) -> UnixTime {
        UnixTime(self.0 - seconds)
    }
}

/// The seconds from `earlier` to `self`.
impl Sub<UnixTime> for UnixTime {
    type Output = i64;
    fn sub(self, earlier: UnixTime) -> i64 {
        self.0 - earlier.0
    }
}

#[cfg(test)]
mod tests {
    use super::UnixTime;

    #[test]
    fn instants_and_durations_combine_as_time_does() {
        let start = UnixTime(1_000);
        assert_eq!(start + 60, UnixTime(1_060));
        assert_eq!(start - 60, UnixTime(940));
        assert_eq!((start + 90) - start, 90);
        assert!(start < start + 1);
    }
}
