//! An in-memory network of virtual AMT devices on a virtual clock: the [`Connector`] the
//! conformance harness and the in-process tests provision through.
//!
//! [`SimNetwork`] owns `amt_sim` devices. `connect` finds the device that owns the target IP (its
//! wired or wireless address from the profile, or an address added with
//! [`SimNetwork::add_device_at`]) and asks it to accept the connection on the target port; the bytes
//! the session writes go synchronously through `DeviceConnection::receive`, and what the device
//! answers is queued for the session's next read.
//!
//! Time: a device may ask for a delay before its answer (`ConnOutput::delay`, e.g. a `delay: 40s`
//! fault). A read waits on the [`VirtualClock`]: if the answer is due within the read timeout the
//! clock advances to it and the bytes are returned; otherwise the clock advances by the timeout and
//! the read fails with [`TransportError::Timeout`]. Nothing ever waits in real time.
//!
//! Handles are cheap clones sharing one network (`Arc<Mutex<…>>`), so a test can keep one to
//! inspect devices after the session consumed another.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amt_sim::conn::{ConnOutput, DeviceConnection};
use amt_sim::device::Device;
use amt_wire::time::Timestamp;

use provisioner_core::clock::{Clock, VirtualClock};
use provisioner_core::transport::{Connector, Stream, TransportError};

/// One device on the network and the addresses it answers on.
struct Host {
    device: Device,
    addresses: Vec<IpAddr>,
}

struct Inner {
    hosts: Vec<Host>,
    next_port: u16,
}

/// The in-memory network (see the module docs).
#[derive(Clone)]
pub struct SimNetwork {
    inner: Arc<Mutex<Inner>>,
    clock: VirtualClock,
}

impl std::fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNetwork")
            .field("devices", &self.lock().hosts.len())
            .field("now", &self.clock.now())
            .finish()
    }
}

/// The address the service point connects from.
const SERVICE_POINT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

impl SimNetwork {
    /// An empty network on `clock`.
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                hosts: Vec::new(),
                next_port: 49152,
            })),
            clock,
        }
    }

    /// The network's clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data inconsistent in a way that matters
        // to a test; keep going with the inner value.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a device reachable on the wired and wireless IPv4 addresses of its profile; returns
    /// its index.
    pub fn add_device(&self, device: Device) -> usize {
        let network = &device.profile().network;
        let addresses: Vec<IpAddr> = network
            .wired
            .ipv4
            .into_iter()
            .chain(network.wireless.as_ref().and_then(|w| w.ipv4))
            .map(IpAddr::V4)
            .collect();
        self.add_device_at(device, addresses)
    }

    /// Adds a device reachable on `addresses` (in addition to nothing else); returns its index.
    pub fn add_device_at(&self, device: Device, addresses: Vec<IpAddr>) -> usize {
        let mut inner = self.lock();
        inner.hosts.push(Host { device, addresses });
        inner.hosts.len() - 1
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.lock().hosts.len()
    }

    /// Whether the network has no device.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on device `index` (e.g. to read its state, drain its events, or use HECI).
    pub fn with_device<R>(&self, index: usize, f: impl FnOnce(&mut Device) -> R) -> Option<R> {
        let mut inner = self.lock();
        inner.hosts.get_mut(index).map(|h| f(&mut h.device))
    }

    /// The first address of device `index` (where its wired interface answers).
    pub fn address(&self, index: usize) -> Option<IpAddr> {
        self.lock()
            .hosts
            .get(index)
            .and_then(|h| h.addresses.first().copied())
    }

    /// Collects the Hellos every device wants to send at `now`, with the sender's index.
    pub fn poll_hellos(&self, now: Timestamp) -> Vec<(usize, amt_sim::hello::HelloBeacon)> {
        let mut inner = self.lock();
        inner
            .hosts
            .iter_mut()
            .enumerate()
            .filter_map(|(i, h)| h.device.poll_hello(now).map(|b| (i, b)))
            .collect()
    }

    /// The earliest time any device wants to send a Hello.
    pub fn next_hello_due(&self) -> Option<Timestamp> {
        self.lock()
            .hosts
            .iter()
            .filter_map(|h| h.device.next_hello_due())
            .min()
    }
}

impl Connector for SimNetwork {
    fn connect(
        &mut self,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<Box<dyn Stream>, TransportError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let Some(index) = inner
            .hosts
            .iter()
            .position(|h| h.addresses.contains(&target.ip()))
        else {
            // Nobody owns the address: the SYN goes unanswered.
            drop(inner);
            self.clock.advance(timeout);
            return Err(TransportError::Timeout);
        };
        let port = inner.next_port;
        inner.next_port = inner.next_port.checked_add(1).unwrap_or(49152);
        let peer = SocketAddr::new(SERVICE_POINT, port);
        let host = inner.hosts.get_mut(index).ok_or(TransportError::Refused)?;
        let conn = host
            .device
            .accept(target, peer, now)
            .map_err(|_| TransportError::Refused)?;
        drop(inner);
        Ok(Box::new(SimStream {
            net: self.clone(),
            index,
            conn: Some(conn),
            queue: VecDeque::new(),
            closed: false,
        }))
    }
}

/// Bytes the device sent, deliverable from `due` on; `close` after them.
struct Delivery {
    due: Timestamp,
    bytes: Vec<u8>,
    close: bool,
}

/// One connection to an in-memory device.
struct SimStream {
    net: SimNetwork,
    index: usize,
    conn: Option<DeviceConnection>,
    queue: VecDeque<Delivery>,
    /// The device closed (after everything queued before).
    closed: bool,
}

impl SimStream {
    fn push(&mut self, out: ConnOutput, now: Timestamp) {
        let earliest = self.queue.back().map_or(now, |d| d.due);
        let due = now.saturating_add(out.delay).max(earliest);
        self.queue.push_back(Delivery {
            due,
            bytes: out.send,
            close: out.close,
        });
    }
}

impl Stream for SimStream {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if self.closed || self.queue.iter().any(|d| d.close) {
            // Like TCP: a write after the peer's close is accepted (and lost); the reader sees
            // what the device sent before closing, then the end of the stream.
            return Ok(());
        }
        let now = self.net.clock.now();
        let out = {
            let mut inner = self.net.lock();
            let (Some(host), Some(conn)) = (inner.hosts.get_mut(self.index), self.conn.as_mut())
            else {
                return Err(TransportError::Reset);
            };
            conn.receive(&mut host.device, bytes, now)
        };
        self.push(out, now);
        Ok(())
    }

    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError> {
        loop {
            let now = self.net.clock.now();
            let Some(front) = self.queue.front() else {
                if self.closed {
                    return Ok(0);
                }
                // The device has nothing more to say: the read times out.
                self.net.clock.advance(timeout);
                return Err(TransportError::Timeout);
            };
            if front.due.saturating_duration_since(now) > timeout {
                self.net.clock.advance(timeout);
                return Err(TransportError::Timeout);
            }
            self.net.clock.advance_to(front.due);
            let Some(delivery) = self.queue.pop_front() else {
                continue;
            };
            if delivery.close {
                self.closed = true;
                self.conn = None;
                self.queue.clear();
            }
            if !delivery.bytes.is_empty() {
                buf.extend_from_slice(&delivery.bytes);
                return Ok(delivery.bytes.len());
            }
            if self.closed {
                return Ok(0);
            }
        }
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let now = self.net.clock.now();
            let mut inner = self.net.lock();
            if let Some(host) = inner.hosts.get_mut(self.index) {
                let _ = conn.peer_closed(&mut host.device, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_nobody_owns_times_out_on_the_virtual_clock() {
        let clock = VirtualClock::default();
        let mut net = SimNetwork::new(clock.clone());
        let start = clock.now();
        let target = SocketAddr::from(([192, 0, 2, 99], 16993));
        let r = net.connect(target, Duration::from_secs(10));
        assert_eq!(r.err(), Some(TransportError::Timeout));
        assert_eq!(
            clock.now().saturating_duration_since(start),
            Duration::from_secs(10)
        );
        assert!(net.is_empty());
        assert_eq!(net.next_hello_due(), None);
    }

    #[test]
    fn a_default_device_answers_on_its_wired_address_and_refuses_other_ports() {
        let clock = VirtualClock::default();
        let mut net = SimNetwork::new(clock.clone());
        let profile = amt_sim::profile::DeviceProfile::default();
        let tls = profile.ports.tls;
        let device = match Device::new(profile, None, 1, clock.now()) {
            Ok(d) => d,
            Err(e) => panic!("device: {e}"),
        };
        let index = net.add_device(device);
        let ip = net.address(index);
        assert!(ip.is_some());
        let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(
            net.connect(SocketAddr::new(ip, tls), Duration::from_secs(1))
                .is_ok()
        );
        assert_eq!(
            net.connect(SocketAddr::new(ip, 1), Duration::from_secs(1))
                .err(),
            Some(TransportError::Refused)
        );
        assert_eq!(
            net.poll_hellos(clock.now()).len(),
            1,
            "the first Hello is due at once"
        );
    }
}
