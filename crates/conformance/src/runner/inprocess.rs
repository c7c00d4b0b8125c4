//! The in-process arm: the scenario's devices (`amt_sim::Device`) on one in-memory network
//! ([`SimNetwork`]) and one virtual clock. Deterministic: the clock starts at [`T0`] and every
//! random choice comes from the scenario's seed. Hello windows and long waits replay in no time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::events::DeviceEvent;
use amt_sim::hello::HelloBeacon;
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use provisioner_core::clock::{Clock, VirtualClock};
use provisioner_core::env::Environment;
use provisioner_core::transport::Connector;

use super::configmgr::hello_source;
use super::driver::{World, WorldEnd};
use super::error::RunError;
use super::requirements::Capabilities;
use crate::testbed::SimNetwork;

/// 2027-01-15 08:00:00 UTC: the virtual clock's start (01-15-2027 00:00:00 local at bias +480).
pub const T0: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

/// What the in-process arm offers: everything.
pub const CAPABILITIES: Capabilities = Capabilities {
    virtual_clock: true,
    max_wall_wait: Duration::MAX,
    device_control: true,
    device_events: true,
    max_fleet: usize::MAX,
    foreign_records: true,
};

/// `n` copies of `profile` (UUID, host name, MAC and address made unique) and an environment
/// that imports each of them like its first computer. In band, a record without an address gets
/// the device's wired address: the site knows an installed client's address from discovery.
pub(crate) fn fleet_of(
    profile: DeviceProfile,
    env: Environment,
    n: usize,
    in_band: bool,
) -> Result<(Vec<DeviceProfile>, Environment), RunError> {
    let (profiles, mut env) = copies(profile, env, n)?;
    if in_band {
        for p in &profiles {
            let uuid = p.device_uuid();
            if let Some(c) = env.computers.iter_mut().find(|c| c.uuid == uuid)
                && c.wired_ip.is_none()
            {
                c.wired_ip = p.network.wired.ipv4.map(IpAddr::V4);
            }
        }
    }
    Ok((profiles, env))
}

fn copies(
    profile: DeviceProfile,
    mut env: Environment,
    n: usize,
) -> Result<(Vec<DeviceProfile>, Environment), RunError> {
    if n <= 1 {
        return Ok((vec![profile], env));
    }
    let template = env
        .computers
        .iter()
        .find(|c| c.uuid.to_string().eq_ignore_ascii_case(&profile.uuid))
        .cloned()
        .ok_or_else(|| {
            RunError::Fleet(
                "fleet: the environment must import the device's UUID (its first computer)"
                    .to_owned(),
            )
        })?;
    let mut profiles = Vec::with_capacity(n);
    env.computers
        .retain(|c| !c.uuid.to_string().eq_ignore_ascii_case(&profile.uuid));
    for i in 0..n {
        let mut p = profile.clone();
        let uuid_text = fleet_uuid(&profile.uuid, i);
        p.uuid.clone_from(&uuid_text);
        p.network.hostname = format!("{}-{i:05}", profile.network.hostname);
        let octets =
            u32::try_from(i + 1).map_err(|_| RunError::Fleet("fleet too large".to_owned()))?;
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 0)) + octets);
        p.network.wired.ipv4 = Some(ip);
        p.network.wired.mac = format!(
            "02:00:{:02x}:{:02x}:{:02x}:01",
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        );
        let mut c = template.clone();
        c.uuid = DeviceUuid::parse(&uuid_text)
            .map_err(|e| RunError::Fleet(format!("fleet uuid: {e}")))?;
        c.name = format!("{}-{i:05}", template.name);
        // An explicit address in the record follows the member's own address.
        c.wired_ip = template.wired_ip.map(|_| IpAddr::V4(ip));
        c.wireless_ip = None;
        let domain = template.dns_suffix().to_owned();
        c.fqdn = format!("{}.{domain}", p.network.hostname);
        env.computers.push(c);
        profiles.push(p);
    }
    Ok((profiles, env))
}

/// The UUID of fleet member `i`: the base UUID with its last 8 hex digits replaced by `i`.
fn fleet_uuid(base: &str, i: usize) -> String {
    let keep = base.len().saturating_sub(8);
    format!("{}{:08x}", base.get(..keep).unwrap_or(base), i)
}

/// The devices of a scenario on one in-memory network and virtual clock.
pub(crate) struct InProcess {
    clock: VirtualClock,
    net: SimNetwork,
    uuids: Vec<DeviceUuid>,
    events: Vec<DeviceEvent>,
}

impl InProcess {
    /// The devices of `profiles`, device `i` seeded with `seed + i`.
    pub(crate) fn new(profiles: Vec<DeviceProfile>, seed: u64) -> Result<Self, RunError> {
        let clock = VirtualClock::new(T0);
        let net = SimNetwork::new(clock.clone());
        let mut uuids = Vec::new();
        for (i, profile) in profiles.into_iter().enumerate() {
            uuids.push(profile.device_uuid());
            let device = Device::new(profile, None, seed.wrapping_add(i as u64), clock.now())
                .map_err(|e| RunError::Device(e.to_string()))?;
            net.add_device(device);
        }
        Ok(Self {
            clock,
            net,
            uuids,
            events: Vec::new(),
        })
    }

    fn port(&self, index: usize, tls: bool) -> Result<SocketAddr, RunError> {
        let ip = self.net.address(index).ok_or(RunError::NoDevice(index))?;
        let port = self
            .net
            .with_device(index, |d| {
                let ports = &d.profile().ports;
                if tls { ports.tls } else { ports.http }
            })
            .ok_or(RunError::NoDevice(index))?;
        Ok(SocketAddr::new(ip, port))
    }
}

impl World for InProcess {
    fn clock(&self) -> &dyn Clock {
        &self.clock
    }

    fn start(&self) -> Timestamp {
        T0
    }

    fn connector(&self) -> Box<dyn Connector> {
        Box::new(self.net.clone())
    }

    fn device_count(&self) -> usize {
        self.uuids.len()
    }

    fn uuid(&self, index: usize) -> Result<DeviceUuid, RunError> {
        self.uuids
            .get(index)
            .copied()
            .ok_or(RunError::NoDevice(index))
    }

    fn address(&self, index: usize) -> Option<IpAddr> {
        self.net.address(index)
    }

    fn targets(&self, index: usize) -> Result<(SocketAddr, SocketAddr), RunError> {
        Ok((self.port(index, false)?, self.port(index, true)?))
    }

    fn due_hellos(&mut self, now: Timestamp) -> Vec<(usize, HelloBeacon)> {
        self.net.poll_hellos(now)
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        self.net.next_hello_due()
    }

    fn advance_to(&mut self, t: Timestamp) {
        self.clock.advance_to(t);
    }

    /// In memory every Hello arrives, from the device's wired address.
    fn deliver_hello(
        &mut self,
        index: usize,
        bytes: Vec<u8>,
        _notes: &mut Vec<String>,
    ) -> Result<Option<(SocketAddr, Vec<u8>)>, RunError> {
        Ok(Some((hello_source(self.net.address(index)), bytes)))
    }

    fn with_device(
        &mut self,
        index: usize,
        f: &mut dyn FnMut(&mut Device) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        self.net
            .with_device(index, |d| f(d))
            .ok_or(RunError::NoDevice(index))?
    }

    /// The device's MEBx password, and the admin password of a device declared already
    /// provisioned (another solution's, A-16).
    fn device_passwords(&self, index: usize) -> Vec<String> {
        self.net
            .with_device(index, |d| {
                let p = &d.profile().provisioning;
                [Some(p.mebx_password.clone()), p.admin_password.clone()]
            })
            .into_iter()
            .flatten()
            .flatten()
            .collect()
    }

    fn after_step(&mut self) {
        for index in 0..self.uuids.len() {
            if let Some(events) = self.net.with_device(index, Device::drain_events) {
                self.events.extend(events);
            }
        }
    }

    fn finish(&mut self, _notes: &mut Vec<String>) -> Result<WorldEnd, RunError> {
        self.after_step();
        Ok(WorldEnd {
            events: std::mem::take(&mut self.events),
            hellos_stopped: self.net.next_hello_due().is_none(),
            skip: None,
        })
    }

    fn discard_events(&mut self) {
        for index in 0..self.uuids.len() {
            let _ = self.net.with_device(index, Device::drain_events);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn fleet_uuids_are_distinct_and_valid() {
        let base = "8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d";
        let a = fleet_uuid(base, 0);
        let b = fleet_uuid(base, 41);
        assert_ne!(a, b);
        assert!(DeviceUuid::parse(&a).is_ok() && DeviceUuid::parse(&b).is_ok());
        assert!(b.ends_with("00000029"), "{b}");
    }

    #[test]
    fn t0_is_mid_january_2027() {
        assert_eq!(
            T0.saturating_duration_since(Timestamp::from_unix_millis(0)),
            Duration::from_secs(1_800_000_000)
        );
    }
}
