//! The socket arms: loopback (the device as amt-sim's tokio shell on 127.0.0.1, the service
//! point over TCP, on the wall clock) and an external device (`--device HOST:PORT`).
//!
//! - **Loopback** (`Loopback`): each device is an `amt_sim::device::Device` served by
//!   `amt_sim::net::start` on 127.0.0.1 with ports the OS picks, so parallel scenarios and fleet
//!   members never clash (the profile, its port faults and the imported record follow the bound
//!   ports; log lines name them, so scenarios write `{ip}:{n}`, not `:16993`). The imported
//!   computer record's recorded address (when it is the device's) becomes 127.0.0.1.
//!   The device stays reachable from the harness (it sits behind the shell in an
//!   `Arc<Mutex<_>>`), which is how the `in_band` step makes its HECI calls and how device events
//!   are collected. Hellos: the harness takes the Hellos due now from the device and sends each
//!   with the shell's own sender (`amt_sim::net::hello::send`: one TCP connection, one write) to a
//!   real [`HelloListener`] on 127.0.0.1:0, whose bytes go to the provisioning side as
//!   `amt-provision --listen` does. The runtime is shut down at the end of every scenario, also on
//!   error.
//! - **External device** (`External`): the scenario's device is the one at the address given
//!   (its TLS port; HTTP is the TLS port minus one, AMT's convention 16993 → 16992), assumed to be
//!   the scenario's device (its UUID selects the imported computer). Only what needs no device
//!   control runs; device events are not observable.
//!
//! What these arms cannot do is stated in their [`Capabilities`] and becomes a typed skip before
//! the run ([`super::requirements`]); the one thing found while running is a TCP connection the
//! device refused (the shell accepts it first). Expectations that pin virtual-clock times
//! (transcript snapshots, framed log lines with literal times, `hellos.last_at`) are left out of
//! the check (`crate::expect::wall_clock_expect`), with a note in the observation.

mod served;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::events::{DeviceEvent, EventKind};
use amt_sim::hello::HelloBeacon;
use amt_sim::net::{Beacon, BeaconTarget, Bound};
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use provisioner_core::clock::Clock;
use provisioner_core::env::Environment;
use provisioner_core::net::hello_listener::HelloListener;
use provisioner_core::net::{SystemClock, TcpConnector};
use provisioner_core::transport::Connector;

use self::served::{MAX_EVENTS, Monitor, SharedDevice, Shell, lock, with_device};
use super::driver::{World, WorldEnd};
use super::error::RunError;
use super::requirements::{Capabilities, SkipReason, span};

/// Largest fleet run over loopback (each device has its own runtime tasks and listeners).
pub const MAX_FLEET: usize = 20;
/// Longest `wait` step, and longest injected device delay, run on the wall clock.
pub const MAX_WALL_WAIT: Duration = Duration::from_secs(5);
/// How long a Hello may take to reach the listener.
pub const HELLO_WAIT: Duration = Duration::from_secs(5);
/// How long the observation waits for the device to finish its open connections.
const SETTLE: Duration = Duration::from_secs(3);

/// What the loopback arm offers.
pub const LOOPBACK: Capabilities = Capabilities {
    virtual_clock: false,
    max_wall_wait: MAX_WALL_WAIT,
    device_control: true,
    device_events: true,
    max_fleet: MAX_FLEET,
    foreign_records: false,
};

/// What the external-device arm offers.
pub const EXTERNAL_DEVICE: Capabilities = Capabilities {
    virtual_clock: false,
    max_wall_wait: MAX_WALL_WAIT,
    device_control: false,
    device_events: false,
    max_fleet: 1,
    foreign_records: true,
};

/// One served device.
struct Served {
    device: Arc<Mutex<Device>>,
    uuid: DeviceUuid,
    ip: IpAddr,
    http: SocketAddr,
    tls: SocketAddr,
}

/// The devices of a scenario on loopback sockets, on the wall clock.
pub(crate) struct Loopback {
    shell: Shell,
    devices: Vec<Served>,
    monitor: Arc<Mutex<Monitor>>,
    listener: Option<HelloListener>,
    start: Timestamp,
}

impl Loopback {
    /// Binds and serves every device and points the imported records in `env` at them; binds
    /// the Hello listener when `hellos` (the flow has a `hellos` step).
    pub(crate) fn start(
        env: &mut Environment,
        profiles: Vec<DeviceProfile>,
        seed: u64,
        hellos: bool,
    ) -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("conformance-net")
            .enable_all()
            .build()
            .map_err(|e| RunError::Harness(format!("tokio runtime: {e}")))?;
        let mut shell = Shell {
            runtime: Some(runtime),
            running: Vec::new(),
        };
        let start = SystemClock.now();
        let monitor = Arc::new(Mutex::new(Monitor::default()));
        let listener = if hellos {
            Some(
                HelloListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .map_err(|e| RunError::Harness(format!("binding the Hello listener: {e}")))?,
            )
        } else {
            None
        };
        let mut devices = Vec::new();
        for (i, mut profile) in profiles.into_iter().enumerate() {
            let original_ip = profile.network.wired.ipv4;
            let (ip, bound) = bind_device(shell.runtime()?)?;
            let (http, tls) = (
                bound
                    .http_addr()
                    .map_err(|e| RunError::Harness(e.to_string()))?,
                bound
                    .tls_addr()
                    .map_err(|e| RunError::Harness(e.to_string()))?,
            );
            translate_ports(&mut profile, http.port(), tls.port());
            if original_ip.is_some() {
                profile.network.wired.ipv4 = Some(ip);
            }
            let uuid = profile.device_uuid();
            point_record_at(env, &uuid, tls);
            let mut device = Device::new(profile, None, seed.wrapping_add(i as u64), start)
                .map_err(|e| RunError::Device(e.to_string()))?;
            device.set_bound_ports(http.port(), tls.port());
            let device = Arc::new(Mutex::new(device));
            let core = SharedDevice {
                device: Arc::clone(&device),
                monitor: Arc::clone(&monitor),
            };
            let options = amt_sim::net::ShellOptions {
                hello: false,
                label: uuid.to_string(),
                ..amt_sim::net::ShellOptions::default()
            };
            let running = {
                let _entered = shell.runtime()?.enter();
                amt_sim::net::start(bound, core, options, None)
            };
            shell.running.push(running);
            devices.push(Served {
                device,
                uuid,
                ip: IpAddr::V4(ip),
                http,
                tls,
            });
        }
        Ok(Self {
            shell,
            devices,
            monitor,
            listener,
            start,
        })
    }

    fn served(&self, index: usize) -> Result<&Served, RunError> {
        self.devices.get(index).ok_or(RunError::NoDevice(index))
    }

    /// Waits (at most [`SETTLE`]) until the devices have closed every connection, so that the
    /// events of the last session are all in.
    fn settle(&self) {
        let Ok(runtime) = self.shell.runtime() else {
            return;
        };
        runtime.block_on(async {
            let _ = tokio::time::timeout(SETTLE, async {
                while lock(&self.monitor).open > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        });
    }
}

impl World for Loopback {
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }

    fn start(&self) -> Timestamp {
        self.start
    }

    fn connector(&self) -> Box<dyn Connector> {
        Box::new(TcpConnector)
    }

    fn device_count(&self) -> usize {
        self.devices.len()
    }

    fn uuid(&self, index: usize) -> Result<DeviceUuid, RunError> {
        Ok(self.served(index)?.uuid)
    }

    fn address(&self, index: usize) -> Option<IpAddr> {
        self.devices.get(index).map(|s| s.ip)
    }

    fn targets(&self, index: usize) -> Result<(SocketAddr, SocketAddr), RunError> {
        let served = self.served(index)?;
        Ok((served.http, served.tls))
    }

    /// The Hellos each device has due now (a bounded number: the schedule moves on with each).
    fn due_hellos(&mut self, now: Timestamp) -> Vec<(usize, HelloBeacon)> {
        let mut out = Vec::new();
        for (index, served) in self.devices.iter().enumerate() {
            for _ in 0..16 {
                let Some(beacon) =
                    with_device(&served.device, &self.monitor, |d| d.poll_hello(now))
                else {
                    break;
                };
                out.push((index, beacon));
            }
        }
        out
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        self.devices
            .iter()
            .filter_map(|s| lock(&s.device).next_hello_due())
            .min()
    }

    /// The wall clock cannot be moved (flows that need it are skipped before the run).
    fn advance_to(&mut self, _t: Timestamp) {}

    /// One TCP connection and one write from the device's address to the Hello listener.
    fn deliver_hello(
        &mut self,
        index: usize,
        bytes: Vec<u8>,
        notes: &mut Vec<String>,
    ) -> Result<Option<(SocketAddr, Vec<u8>)>, RunError> {
        let (uuid, ip) = {
            let served = self.served(index)?;
            (served.uuid, served.ip)
        };
        let runtime = self.shell.runtime()?;
        let listener = self
            .listener
            .as_ref()
            .ok_or_else(|| RunError::Harness("no Hello listener".to_owned()))?;
        let wire = Beacon {
            bytes,
            target: BeaconTarget::Address(listener.local_addr()),
        };
        if let Err(e) = runtime.block_on(amt_sim::net::hello::send(&wire, Some(ip))) {
            notes.push(format!("Hello from {uuid} not sent: {e}"));
            return Ok(None);
        }
        let Some(hello) = listener.recv_timeout(HELLO_WAIT) else {
            notes.push(format!(
                "Hello from {uuid} did not reach the listener within {}",
                span(HELLO_WAIT)
            ));
            return Ok(None);
        };
        Ok(Some((hello.from, hello.bytes)))
    }

    fn with_device(
        &mut self,
        index: usize,
        f: &mut dyn FnMut(&mut Device) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        let served = self.served(index)?;
        with_device(&served.device, &self.monitor, |d| f(d))
    }

    fn device_passwords(&self, index: usize) -> Vec<String> {
        self.devices
            .get(index)
            .map(|served| {
                let device = lock(&served.device);
                let p = &device.profile().provisioning;
                [Some(p.mebx_password.clone()), p.admin_password.clone()]
                    .into_iter()
                    .flatten()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn after_step(&mut self) {}

    fn finish(&mut self, notes: &mut Vec<String>) -> Result<WorldEnd, RunError> {
        self.settle();
        for served in &self.devices {
            with_device(&served.device, &self.monitor, |_| ());
        }
        let (events, dropped, open) = {
            let m = lock(&self.monitor);
            (m.events.clone(), m.dropped, m.open)
        };
        let skip = refused_connect(&events);
        if dropped > 0 {
            notes.push(format!(
                "{dropped} device events beyond {MAX_EVENTS} not kept"
            ));
        }
        if open > 0 {
            notes.push(format!(
                "{open} device connection(s) still open after {}",
                span(SETTLE)
            ));
        }
        let hellos_stopped = self
            .devices
            .iter()
            .all(|s| lock(&s.device).next_hello_due().is_none());
        Ok(WorldEnd {
            events,
            hellos_stopped,
            skip,
        })
    }

    /// Events reaching the monitor after [`World::finish`] copied it are not part of the run.
    fn discard_events(&mut self) {}
}

/// An external device at a TLS address (HTTP one port below).
pub(crate) struct External {
    uuid: DeviceUuid,
    tls: SocketAddr,
    http: SocketAddr,
    passwords: Vec<String>,
    start: Timestamp,
}

impl External {
    /// The device at `tls` (its TLS port), taken to be the scenario's device `profile`;
    /// `admin_password` is its password if it is provisioned. The imported record of the device
    /// in `env` is pointed at it.
    pub(crate) fn new(
        tls: SocketAddr,
        profile: &DeviceProfile,
        admin_password: Option<&str>,
        env: &mut Environment,
    ) -> Result<Self, RunError> {
        let http_port = tls.port().checked_sub(1).ok_or_else(|| {
            RunError::Address(format!(
                "--device {tls}: the HTTP port is the TLS port minus one, and there is none"
            ))
        })?;
        let uuid = profile.device_uuid();
        for c in env.computers.iter_mut().filter(|c| c.uuid == uuid) {
            c.wired_ip = Some(tls.ip());
            c.tls_port = tls.port();
        }
        Ok(Self {
            uuid,
            tls,
            http: SocketAddr::new(tls.ip(), http_port),
            // The password given for the device, then its factory MEBx password as the scenario
            // describes it (after a full removal the device is back to it).
            passwords: admin_password
                .map(str::to_owned)
                .into_iter()
                .chain([profile.provisioning.mebx_password.clone()])
                .collect(),
            start: SystemClock.now(),
        })
    }
}

impl World for External {
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }

    fn start(&self) -> Timestamp {
        self.start
    }

    fn connector(&self) -> Box<dyn Connector> {
        Box::new(TcpConnector)
    }

    fn device_count(&self) -> usize {
        1
    }

    fn uuid(&self, index: usize) -> Result<DeviceUuid, RunError> {
        match index {
            0 => Ok(self.uuid),
            _ => Err(RunError::NoDevice(index)),
        }
    }

    fn address(&self, _index: usize) -> Option<IpAddr> {
        Some(self.tls.ip())
    }

    fn targets(&self, index: usize) -> Result<(SocketAddr, SocketAddr), RunError> {
        self.uuid(index).map(|_| (self.http, self.tls))
    }

    /// Its Hellos go wherever it was configured to send them, not to the harness.
    fn due_hellos(&mut self, _now: Timestamp) -> Vec<(usize, HelloBeacon)> {
        Vec::new()
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        None
    }

    fn advance_to(&mut self, _t: Timestamp) {}

    fn deliver_hello(
        &mut self,
        _index: usize,
        _bytes: Vec<u8>,
        _notes: &mut Vec<String>,
    ) -> Result<Option<(SocketAddr, Vec<u8>)>, RunError> {
        Ok(None)
    }

    /// An external device offers no local host interface (the requirements keep such flows off).
    fn with_device(
        &mut self,
        index: usize,
        _f: &mut dyn FnMut(&mut Device) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        Err(RunError::Heci(format!(
            "device {index} is external: no local host interface"
        )))
    }

    fn device_passwords(&self, _index: usize) -> Vec<String> {
        self.passwords.clone()
    }

    fn after_step(&mut self) {}

    fn finish(&mut self, notes: &mut Vec<String>) -> Result<WorldEnd, RunError> {
        notes.push(format!(
            "external device {} (HTTP {}): device events are unavailable, so the wire \
             summary and the device side of the transcript are empty",
            self.tls, self.http
        ));
        Ok(WorldEnd {
            events: Vec::new(),
            hellos_stopped: false,
            skip: None,
        })
    }

    fn discard_events(&mut self) {}
}

/// A device that refused a TCP connection: the core means "nothing listens" (the
/// provisioner's connect is refused, and it retries), but amt-sim's shell has already accepted
/// the connection when the core is asked, so it can only close it and the provisioner sees a
/// reset during the TLS handshake instead: the in-process network shows the refusal itself.
fn refused_connect(events: &[DeviceEvent]) -> Option<SkipReason> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ConnectionRefused { reason, .. } => Some(SkipReason::RefusedConnect(*reason)),
        _ => None,
    })
}

/// Points the imported computer `uuid`'s record at the served device: a recorded wired address
/// becomes the loopback address, the TLS port the bound port. An unset address stays unset (the
/// site then uses the Hello's source, as in process). Records that name anything but the device
/// itself are skipped before the run (their requirement is unmet here).
fn point_record_at(env: &mut Environment, uuid: &DeviceUuid, tls: SocketAddr) {
    for c in env.computers.iter_mut().filter(|c| c.uuid == *uuid) {
        if c.wired_ip.is_some() {
            c.wired_ip = Some(tls.ip());
        }
        c.tls_port = tls.port();
    }
}

/// Binds the device's listeners on 127.0.0.1 with ports the OS picks (parallel scenarios and
/// fleet members never clash; the profile, its port faults and the imported record follow the
/// bound ports).
fn bind_device(runtime: &tokio::runtime::Runtime) -> Result<(Ipv4Addr, Bound), RunError> {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let bound = runtime.block_on(Bound::bind(any, any)).map_err(|e| {
        RunError::Harness(format!("binding the device listeners on 127.0.0.1: {e}"))
    })?;
    Ok((Ipv4Addr::LOCALHOST, bound))
}

/// Moves the profile to the bound ports, with the port faults that name its ports.
fn translate_ports(profile: &mut DeviceProfile, http: u16, tls: u16) {
    let (old_http, old_tls) = (profile.ports.http, profile.ports.tls);
    for fault in &mut profile.faults {
        if let amt_sim::faults::FaultSpec::RefusePort(p) = fault {
            *p = match *p {
                p if p == old_http => http,
                p if p == old_tls => tls,
                other => other,
            };
        }
    }
    profile.ports.http = http;
    profile.ports.tls = tls;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_faults_follow_the_ports_to_their_bound_numbers() {
        let mut profile = DeviceProfile::default();
        profile.faults = vec![
            amt_sim::faults::FaultSpec::RefusePort(profile.ports.tls),
            amt_sim::faults::FaultSpec::RefusePort(623),
        ];
        translate_ports(&mut profile, 40_000, 40_001);
        assert_eq!((profile.ports.http, profile.ports.tls), (40_000, 40_001));
        assert!(profile.port_refused(40_001) && profile.port_refused(623));
        assert!(!profile.port_refused(16_993));
    }

    #[test]
    fn a_refused_connection_is_a_skip_with_its_reason() {
        let refused = DeviceEvent::new(
            "u",
            Timestamp::from_unix_millis(0),
            EventKind::ConnectionRefused {
                port: 1,
                reason: amt_sim::device::ConnectRefusalKind::TlsClosed,
            },
        );
        let skip = refused_connect(&[refused]);
        assert_eq!(
            skip.as_ref().map(SkipReason::id),
            Some("skip/refused-connect")
        );
        assert!(
            skip.is_some_and(|s| s.to_string().contains("connect/tls-closed")),
            "the reason names the refusal"
        );
        assert_eq!(refused_connect(&[]), None);
    }
}
