//! The served devices of the loopback backend: each `Device` sits behind amt-sim's network shell
//! in an `Arc<Mutex<_>>` (so the harness reaches it too: HECI calls, Hello polling), its events
//! go to one bounded [`Monitor`], and the [`Shell`] owns the runtime and stops everything when
//! dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use amt_sim::conn::DeviceConnection;
use amt_sim::device::Device;
use amt_sim::events::DeviceEvent;
use amt_sim::net::{Beacon, DeviceCore, Listener, Output, RunningDevice};
use amt_wire::time::Timestamp;

/// Device events kept per scenario (bounded memory); more are counted in a note.
pub(crate) const MAX_EVENTS: usize = 200_000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the harness sees of the served devices: their events and open connections.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    pub(crate) events: Vec<DeviceEvent>,
    pub(crate) dropped: usize,
    pub(crate) open: usize,
}

impl Monitor {
    pub(crate) fn push(&mut self, events: Vec<DeviceEvent>) {
        let room = MAX_EVENTS.saturating_sub(self.events.len());
        self.dropped += events.len().saturating_sub(room);
        self.events.extend(events.into_iter().take(room));
    }
}

/// A device served by the shell and reachable by the harness: every call goes to the shared
/// `Device`, and its events are moved to the [`Monitor`] under the device's lock (so they keep
/// their order whoever drives the device). Hellos are not sent by the shell: the flow's
/// `hellos` step sends them.
pub(crate) struct SharedDevice {
    pub(crate) device: Arc<Mutex<Device>>,
    pub(crate) monitor: Arc<Mutex<Monitor>>,
}

impl SharedDevice {
    fn with<R>(&self, f: impl FnOnce(&mut Device) -> R) -> R {
        with_device(&self.device, &self.monitor, f)
    }
}

/// Runs `f` on the device, then moves its events to the monitor.
pub(crate) fn with_device<R>(
    device: &Mutex<Device>,
    monitor: &Mutex<Monitor>,
    f: impl FnOnce(&mut Device) -> R,
) -> R {
    let mut d = lock(device);
    let r = f(&mut d);
    let events = d.drain_events();
    if !events.is_empty() {
        lock(monitor).push(events);
    }
    r
}

impl DeviceCore for SharedDevice {
    type Connection = DeviceConnection;

    fn accept(
        &mut self,
        listener: Listener,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<DeviceConnection, String> {
        let conn = self.with(|d| DeviceCore::accept(d, listener, local, peer, now));
        if conn.is_ok() {
            lock(&self.monitor).open += 1;
        }
        conn
    }

    fn receive(&mut self, conn: &mut DeviceConnection, bytes: &[u8], now: Timestamp) -> Output {
        self.with(|d| DeviceCore::receive(d, conn, bytes, now))
    }

    fn peer_closed(&mut self, conn: &mut DeviceConnection, now: Timestamp) -> Output {
        let out = self.with(|d| DeviceCore::peer_closed(d, conn, now));
        let mut m = lock(&self.monitor);
        m.open = m.open.saturating_sub(1);
        out
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        None
    }

    fn poll_hello(&mut self, _now: Timestamp) -> Option<Beacon> {
        None
    }

    fn drain_event_lines(&mut self, _out: &mut Vec<String>) {
        self.with(|_| ());
    }
}

/// The runtime and the devices it serves; dropping it stops them and shuts the runtime down
/// (also when a scenario ends early with an error).
pub(crate) struct Shell {
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
    pub(crate) running: Vec<RunningDevice>,
}

impl Drop for Shell {
    fn drop(&mut self) {
        let running = std::mem::take(&mut self.running);
        if let Some(runtime) = self.runtime.take() {
            runtime.block_on(async {
                for device in running {
                    let _ = tokio::time::timeout(Duration::from_secs(5), device.shutdown()).await;
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Shell {
    pub(crate) fn runtime(&self) -> Result<&tokio::runtime::Runtime, crate::runner::RunError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| crate::runner::RunError::Harness("runtime gone".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use amt_sim::events::EventKind;

    use super::*;

    #[test]
    fn the_monitor_keeps_a_bounded_number_of_events() {
        let mut m = Monitor::default();
        let e = DeviceEvent::new(
            "u",
            Timestamp::from_unix_millis(0),
            EventKind::HelloSuppressed { reason: "x".into() },
        );
        m.push(vec![e.clone(); MAX_EVENTS - 1]);
        m.push(vec![e; 3]);
        assert_eq!((m.events.len(), m.dropped), (MAX_EVENTS, 2));
    }
}
