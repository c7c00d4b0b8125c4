//! The shell's one real clock: the wall clock as an [`amt_wire::time::Timestamp`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amt_wire::time::Timestamp;

/// The current wall-clock time, passed into the core as `now`.
#[expect(
    clippy::disallowed_methods,
    reason = "the network shell's single real clock; the core takes `now` as a parameter"
)]
pub fn now() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => {
            Timestamp::from_unix_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        }
        Err(before) => Timestamp::from_unix_millis(
            i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        ),
    }
}

/// How long from now until `due` (zero if it is past).
pub fn until(due: Timestamp) -> Duration {
    due - now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2020_and_until_is_zero_for_the_past() {
        assert!(now().unix_secs() > 1_577_836_800);
        assert_eq!(until(Timestamp::EPOCH), Duration::ZERO);
        let later = until(now() + Duration::from_secs(60));
        assert!(later > Duration::from_secs(50) && later <= Duration::from_secs(60));
    }
}
