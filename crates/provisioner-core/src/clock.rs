//! Time for the provisioning session: the [`Clock`] trait and the deterministic [`VirtualClock`].
//!
//! Session code never reads the wall clock. It asks its `Clock` for `now` (to stamp log lines and
//! events, to pass to the enterprise CA and the AMT time sync) and calls [`Clock::sleep`] when it
//! waits (retry back-off). The in-process runner uses [`VirtualClock`], whose `sleep` only advances
//! the shared time, so minutes of retries take no real time; the network shell's `SystemClock`
//! (in `net/`) reads and sleeps on the real clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use amt_wire::time::Timestamp;

/// A source of time the session can read and wait on.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
    /// Wait for `d` (a virtual clock just advances by `d`).
    fn sleep(&self, d: Duration);
}

/// A shared, manually advanced clock. Clones share the same time, so the session, the in-process
/// network and the test all see one timeline.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    millis: Arc<AtomicI64>,
}

impl VirtualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(start.unix_millis())),
        }
    }

    /// Move time forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_add(ms))
            });
    }

    /// Move time forward to `t` if `t` is later than now (time never goes back).
    pub fn advance_to(&self, t: Timestamp) {
        self.millis.fetch_max(t.unix_millis(), Ordering::SeqCst);
    }
}

impl Default for VirtualClock {
    /// A clock at 2026-01-01T00:00:00Z, inside the validity of the test PKI.
    fn default() -> Self {
        Self::new(Timestamp::from_unix_secs(1_767_225_600))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.millis.load(Ordering::SeqCst))
    }

    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_timeline_and_sleep_advances() {
        let clock = VirtualClock::new(Timestamp::from_unix_secs(100));
        let other = clock.clone();
        clock.sleep(Duration::from_secs(30));
        assert_eq!(other.now(), Timestamp::from_unix_secs(130));
        other.advance_to(Timestamp::from_unix_secs(120));
        assert_eq!(
            clock.now(),
            Timestamp::from_unix_secs(130),
            "never goes back"
        );
        other.advance_to(Timestamp::from_unix_secs(200));
        assert_eq!(clock.now(), Timestamp::from_unix_secs(200));
    }
}
