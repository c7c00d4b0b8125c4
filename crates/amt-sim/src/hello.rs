//! Hello beacons (sans-IO): the schedule as data and the per-device beacon state that says when the
//! next Hello is due and produces its bytes.
//!
//! Retry count: the packet's retry counter is the number of Hellos this device sent before this one
//! in the current window, saturating at [`MAX_RETRY_COUNT`] (14). `reference/amt-protocol.md` §1.4
//! notes 0–14 covers the first hour's 15 attempts and that the hourly ones exceed it, so the counter
//! saturates (an unverified interpretation, kept in one constant).
//!
//! Catch-up: if the clock jumps past several due Hellos, each [`BeaconState::poll`] returns one of
//! them (oldest first), so a caller that polls until `None` sends every scheduled Hello.

use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::hello::{DeviceUuid, HelloError, HelloKind, HelloPacket};
use amt_wire::thumbprint::Thumbprint;
use amt_wire::time::Timestamp;

use crate::personality::ScheduleKind;

/// Highest retry count a Hello carries.
pub const MAX_RETRY_COUNT: u32 = 14;

/// Offsets of each Hello from the first one.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HelloSchedule {
    offsets: Vec<Duration>,
}

impl HelloSchedule {
    /// A schedule from explicit offsets (sorted, duplicates removed).
    pub fn from_offsets(mut offsets: Vec<Duration>) -> Self {
        offsets.sort();
        offsets.dedup();
        Self { offsets }
    }

    /// ConfigMgr's schedule (PRODUCT.md §3 step 1): t = 0,1,2,3,4 min; 5,10,…,60 min; 2,3,…,24 h.
    pub fn configmgr_24h() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        let mut offsets: Vec<Duration> = (0..5).map(min).collect();
        offsets.extend((1..=12).map(|k| min(5 * k)));
        offsets.extend((2..=24).map(|h| min(60 * h)));
        Self::from_offsets(offsets)
    }

    /// The Altiris/HP variant: the ConfigMgr start, but the window ends after 6 hours.
    pub fn six_hours() -> Self {
        let mut s = Self::configmgr_24h();
        s.offsets.retain(|d| *d <= Duration::from_secs(6 * 3600));
        s
    }

    /// The schedule a personality/profile names.
    pub fn of_kind(kind: ScheduleKind) -> Self {
        match kind {
            ScheduleKind::ConfigMgr24h => Self::configmgr_24h(),
            ScheduleKind::SixHours => Self::six_hours(),
        }
    }

    /// The offsets, ascending.
    pub fn offsets(&self) -> &[Duration] {
        &self.offsets
    }
}

/// Where a Hello goes.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum HelloTarget {
    /// A resolved address.
    Address(SocketAddr),
    /// A DNS name for the caller to resolve, and the port.
    Name(String, u16),
}

impl std::fmt::Display for HelloTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Address(a) => write!(f, "{a}"),
            Self::Name(n, p) => write!(f, "{n}:{p}"),
        }
    }
}

/// Which interface a beacon leaves on. Hellos only ever use the wired one.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Interface {
    /// The integrated Intel wired NIC.
    Wired,
}

/// One Hello to send: connect to `target`, write `bytes`, close.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HelloBeacon {
    /// The encoded v3 PKI Hello.
    pub bytes: Vec<u8>,
    /// Where to send it.
    pub target: HelloTarget,
    /// The interface it leaves on.
    pub interface: Interface,
    /// Position in the schedule (0 = first).
    pub index: usize,
    /// Retry count carried in the packet.
    pub retry_count: u32,
}

/// Per-device beacon progress.
#[derive(Clone, Debug)]
pub struct BeaconState {
    schedule: HelloSchedule,
    start: Timestamp,
    next: usize,
    stopped: bool,
}

impl BeaconState {
    /// Beacons starting at `start` (the first Hello is due then).
    pub fn new(schedule: HelloSchedule, start: Timestamp) -> Self {
        Self {
            schedule,
            start,
            next: 0,
            stopped: false,
        }
    }

    /// When the next Hello is due; `None` once stopped or the schedule is exhausted.
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.stopped {
            return None;
        }
        self.schedule
            .offsets
            .get(self.next)
            .map(|d| self.start.saturating_add(*d))
    }

    /// Stops the beacons for good (setup started, provisioned, window closed).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether the beacons are stopped (explicitly or because the schedule ran out).
    pub fn is_finished(&self) -> bool {
        self.stopped || self.next >= self.schedule.offsets.len()
    }

    /// Number of Hellos already taken from the schedule.
    pub fn sent(&self) -> usize {
        self.next
    }

    /// If a Hello is due at `now`, takes it from the schedule and returns its index and retry
    /// count. The caller decides whether it is sent or suppressed.
    pub fn take_due(&mut self, now: Timestamp) -> Option<(usize, u32)> {
        let due = self.next_due()?;
        if now < due {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let retry = u32::try_from(index)
            .unwrap_or(u32::MAX)
            .min(MAX_RETRY_COUNT);
        Some((index, retry))
    }

    /// Convenience for callers with no suppression rules: takes the due Hello and encodes it.
    pub fn poll(
        &mut self,
        now: Timestamp,
        uuid: DeviceUuid,
        hashes: &[Thumbprint],
        target: &HelloTarget,
    ) -> Option<Result<HelloBeacon, HelloError>> {
        let (index, retry_count) = self.take_due(now)?;
        Some(encode(uuid, hashes, retry_count).map(|bytes| HelloBeacon {
            bytes,
            target: target.clone(),
            interface: Interface::Wired,
            index,
            retry_count,
        }))
    }
}

/// Encodes a v3 PKI Hello with the given active hashes (admin credentials not set).
pub fn encode(
    uuid: DeviceUuid,
    hashes: &[Thumbprint],
    retry_count: u32,
) -> Result<Vec<u8>, HelloError> {
    HelloPacket {
        admin_credentials_set: false,
        retry_count,
        uuid,
        kind: HelloKind::Pki {
            hashes: hashes.to_vec(),
        },
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_has_forty_hellos_over_a_day() {
        let s = HelloSchedule::configmgr_24h();
        assert_eq!(s.offsets().len(), 40);
        assert_eq!(s.offsets()[4], Duration::from_secs(240));
        assert_eq!(s.offsets()[5], Duration::from_secs(300));
        assert_eq!(s.offsets()[16], Duration::from_secs(3600));
        assert_eq!(s.offsets()[17], Duration::from_secs(7200));
        assert_eq!(s.offsets()[39], Duration::from_secs(24 * 3600));
        let six = HelloSchedule::six_hours();
        assert_eq!(six.offsets().last(), Some(&Duration::from_secs(6 * 3600)));
        assert_eq!(six.offsets().len(), 22);
    }

    #[test]
    fn beacon_state_walks_the_schedule_and_saturates_retry_count() {
        let t0 = Timestamp::from_unix_secs(1_000);
        let mut b = BeaconState::new(HelloSchedule::configmgr_24h(), t0);
        let mut retries = Vec::new();
        while let Some(due) = b.next_due() {
            assert!(
                b.take_due(due.saturating_sub(Duration::from_millis(1)))
                    .is_none()
            );
            let (_, r) = b.take_due(due).unwrap_or((0, 99));
            retries.push(r);
        }
        assert_eq!(retries.len(), 40);
        assert_eq!(retries[0], 0);
        assert_eq!(retries[14], 14);
        assert_eq!(retries[39], 14);
        assert!(b.is_finished());
    }
}
