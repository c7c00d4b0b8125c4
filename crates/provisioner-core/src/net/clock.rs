//! The wall clock: the one place the service point reads real time and really sleeps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amt_wire::time::Timestamp;

use crate::clock::Clock;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the network shell's one real clock"
    )]
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(ms)
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the network shell really waits between retries"
    )]
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}
