//! The in-process backend: the scenario's devices (`amt_sim::Device`) and the site (service
//! point, site server, AD, CA) on one in-memory network and one virtual clock, driven through
//! the scenario's flow. Deterministic: the clock starts at [`T0`] and every random choice comes
//! from the scenario's seed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::testbed::SimNetwork;
use amt_sim::device::Device;
use amt_sim::events::DeviceEvent;
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::{DeviceUuid, HelloPacket};
use amt_wire::time::Timestamp;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::clock::{Clock as _, VirtualClock};
use provisioner_core::directory::Directory;
use provisioner_core::env::Environment;
use provisioner_core::servicepoint::{Action, Input, ServicePoint};
use provisioner_core::session::{self, SessionResult};
use provisioner_core::tls::ClientIdentity;
use rand::SeedableRng as _;

use super::readback;
use super::site::{
    SiteParts, build_site, direct_provision, full_removal, hello_delivered, in_band_start,
    observe_site, read_back, record_result,
};
use crate::observe::{HelloObs, Observation};
use crate::scenario::{FlowStep, HelloWindow, LoadedScenario, RemovalKind};

/// 2027-01-15 08:00:00 UTC: the virtual clock's start (01-15-2027 00:00:00 local at bias +480).
pub const T0: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

/// Why a scenario could not be run at all (not an outcome: a broken scenario or harness).
pub type RunError = String;

/// One site and its devices.
struct Site {
    clock: VirtualClock,
    net: SimNetwork,
    sp: ServicePoint,
    identities: Vec<ClientIdentity>,
    directory: Directory,
    ca: EnterpriseCaModel,
    rng: rand_chacha::ChaCha8Rng,
    results: Vec<SessionResult>,
    hellos: HelloObs,
    device_events: Vec<DeviceEvent>,
    uuids: Vec<DeviceUuid>,
    notes: Vec<String>,
}

/// Runs `loaded` in process and observes what happened.
pub fn run(loaded: &LoadedScenario) -> Result<Observation, RunError> {
    let scenario = &loaded.scenario;
    let base = &loaded.base_dir;
    let profile = scenario.device.build(base)?;
    let env = match scenario.environment.build(&scenario.provisioner, base) {
        Ok(env) => env,
        Err(e) => {
            return Ok(Observation {
                config_error: Some(e),
                ..Observation::default()
            });
        }
    };
    let fleet = scenario.fleet.unwrap_or(1) as usize;
    let in_band = scenario.provisioner.mode == crate::scenario::ModeSpec::InBand;
    let (profiles, env) = fleet_of(profile, env, fleet, in_band)?;
    let mut site = Site::new(env, profiles, scenario.seed())?;
    for step in scenario.flow() {
        site.step(&step)?;
    }
    site.observe()
}

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
        .ok_or("fleet: the environment must import the device's UUID (its first computer)")?;
    let mut profiles = Vec::with_capacity(n);
    env.computers
        .retain(|c| !c.uuid.to_string().eq_ignore_ascii_case(&profile.uuid));
    for i in 0..n {
        let mut p = profile.clone();
        let uuid_text = fleet_uuid(&profile.uuid, i);
        p.uuid.clone_from(&uuid_text);
        p.network.hostname = format!("{}-{i:05}", profile.network.hostname);
        let octets = u32::try_from(i + 1).map_err(|_| "fleet too large")?;
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 0)) + octets);
        p.network.wired.ipv4 = Some(ip);
        p.network.wired.mac = format!(
            "02:00:{:02x}:{:02x}:{:02x}:01",
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        );
        let mut c = template.clone();
        c.uuid = DeviceUuid::parse(&uuid_text).map_err(|e| format!("fleet uuid: {e}"))?;
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

impl Site {
    fn new(env: Environment, profiles: Vec<DeviceProfile>, seed: u64) -> Result<Self, RunError> {
        let clock = VirtualClock::new(T0);
        let net = SimNetwork::new(clock.clone());
        let mut uuids = Vec::new();
        for (i, profile) in profiles.into_iter().enumerate() {
            uuids.push(profile.device_uuid());
            let device = Device::new(profile, None, seed.wrapping_add(i as u64), clock.now())
                .map_err(|e| format!("device: {e}"))?;
            net.add_device(device);
        }
        let SiteParts {
            sp,
            identities,
            directory,
            ca,
        } = build_site(env)?;
        Ok(Self {
            clock,
            net,
            sp,
            identities,
            directory,
            ca,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            results: Vec::new(),
            hellos: HelloObs::default(),
            device_events: Vec::new(),
            uuids,
            notes: Vec::new(),
        })
    }

    fn step(&mut self, step: &FlowStep) -> Result<(), RunError> {
        match step {
            FlowStep::StartUp => {
                let now = self.clock.now();
                let actions = self.sp.handle(Input::Tick { now });
                self.run_actions(&actions);
            }
            FlowStep::Hellos(HelloWindow::First) => self.hello_round()?,
            FlowStep::Hellos(HelloWindow::Within(span)) => {
                let end = self.clock.now() + span.0;
                self.hello_round()?;
                while let Some(due) = self.net.next_hello_due() {
                    if due > end {
                        break;
                    }
                    self.clock.advance_to(due.max(self.clock.now()));
                    self.hello_round()?;
                }
                if self.clock.now() < end {
                    self.clock.advance_to(end);
                }
            }
            FlowStep::Provision => {
                for index in 0..self.uuids.len() {
                    self.provision_directly(index)?;
                }
            }
            FlowStep::InBand => {
                for index in 0..self.uuids.len() {
                    self.in_band(index)?;
                }
            }
            FlowStep::Remove(kind) => {
                for index in 0..self.uuids.len() {
                    self.remove(index, *kind)?;
                }
            }
            FlowStep::Wait(span) => {
                let end = self.clock.now() + span.0;
                self.clock.advance_to(end);
            }
        }
        self.collect_device_events();
        Ok(())
    }

    fn collect_device_events(&mut self) {
        for index in 0..self.uuids.len() {
            if let Some(events) = self.net.with_device(index, |d| d.drain_events()) {
                self.device_events.extend(events);
            }
        }
    }

    /// Delivers the Hellos due now and runs the sessions they start.
    fn hello_round(&mut self) -> Result<(), RunError> {
        let now = self.clock.now();
        let resolvable = self.sp.env().dns.provision_server_resolvable();
        let mut actions = Vec::new();
        for (index, beacon) in self.net.poll_hellos(now) {
            self.hellos.sent += 1;
            self.hellos.last_at = Some(now.saturating_duration_since(T0));
            if !hello_delivered(&beacon.target, resolvable) {
                self.hellos.unresolved += 1;
                continue;
            }
            self.hellos.delivered += 1;
            let packet = HelloPacket::parse(&beacon.bytes).map_err(|e| format!("hello: {e}"))?;
            let ip = self
                .net
                .address(index)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let from = SocketAddr::new(ip, 50_000);
            actions.extend(self.sp.handle(Input::Hello { from, packet, now }));
        }
        self.run_actions(&actions);
        Ok(())
    }

    fn run_actions(&mut self, actions: &[Action]) {
        for action in actions {
            let mut connector = self.net.clone();
            if let Some(result) = session::run_action(
                &mut self.sp,
                action,
                &self.identities,
                &mut connector,
                &self.clock,
                &mut self.directory,
                &mut self.ca,
                &mut self.rng,
            ) {
                record_result(&mut self.sp, result, &mut self.results);
            }
        }
    }

    /// A session for device `index` from its imported record (no Hello).
    fn provision_directly(&mut self, index: usize) -> Result<(), RunError> {
        let uuid = self.uuids.get(index).copied().ok_or("no device")?;
        if let Some(action) =
            direct_provision(&self.sp, uuid, self.net.address(index), &mut self.notes)?
        {
            self.run_actions(&[action]);
        }
        Ok(())
    }

    /// The in-band path for device `index`.
    fn in_band(&mut self, index: usize) -> Result<(), RunError> {
        let now = self.clock.now();
        let hashes = self
            .net
            .with_device(index, |d| super::site::heci_active_hashes(d, now))
            .ok_or("no device")??;
        let uuid = self.uuids.get(index).copied().ok_or("no device")?;
        let Some(start) = in_band_start(
            &mut self.sp,
            &self.identities,
            &mut self.rng,
            uuid,
            &hashes,
            now,
            &mut self.notes,
        ) else {
            return Ok(());
        };
        self.net
            .with_device(index, |d| super::site::heci_hand_over(d, &start, now))
            .ok_or("no device")??;
        let actions = super::site::in_band_request(&mut self.sp, &start, now);
        self.run_actions(&actions);
        Ok(())
    }

    /// Removes the provisioning data of device `index`.
    fn remove(&mut self, index: usize, kind: RemovalKind) -> Result<(), RunError> {
        let uuid = self.uuids.get(index).copied().ok_or("no device")?;
        let now = self.clock.now();
        match kind {
            RemovalKind::Full => {
                let actions = full_removal(
                    &mut self.sp,
                    &mut self.directory,
                    &mut self.ca,
                    &self.results,
                    uuid,
                    now,
                );
                self.run_actions(&actions);
            }
            RemovalKind::Partial => {
                let password = self.sp.admin_password(&uuid).map(str::to_owned);
                let target = self.tls_target(index)?;
                let mut connector = self.net.clone();
                let env = self.sp.env().clone();
                let result = readback::partial_unprovision(
                    &mut connector,
                    target,
                    password.as_deref(),
                    &env,
                    self.rng_seed(),
                );
                if let Err(e) = result {
                    self.notes.push(format!("remove partial: {e}"));
                }
            }
        }
        Ok(())
    }

    fn rng_seed(&mut self) -> u64 {
        use rand::RngCore as _;
        self.rng.next_u64()
    }

    fn tls_target(&self, index: usize) -> Result<SocketAddr, RunError> {
        let ip = self.net.address(index).ok_or("no device")?;
        let port = self
            .net
            .with_device(index, |d| d.profile().ports.tls)
            .ok_or("no device")?;
        Ok(SocketAddr::new(ip, port))
    }

    fn http_target(&self, index: usize) -> Result<SocketAddr, RunError> {
        let ip = self.net.address(index).ok_or("no device")?;
        let port = self
            .net
            .with_device(index, |d| d.profile().ports.http)
            .ok_or("no device")?;
        Ok(SocketAddr::new(ip, port))
    }

    fn observe(mut self) -> Result<Observation, RunError> {
        self.collect_device_events();
        let mut obs = observe_site(
            &self.sp,
            &self.results,
            &self.hellos,
            &self.device_events,
            std::mem::take(&mut self.notes),
            self.uuids.first(),
            T0,
        );
        obs.hellos.stopped = self.net.next_hello_due().is_none();
        obs.elapsed = self.clock.now().saturating_duration_since(T0);
        // The first device's end state, over WS-MAN (its own events are not part of the run).
        if let (Some(uuid), Ok(http), Ok(tls)) = (
            self.uuids.first().copied(),
            self.http_target(0),
            self.tls_target(0),
        ) {
            let mebx = self
                .net
                .with_device(0, |d| {
                    // The device's own passwords: MEBx, and the admin password of a device
                    // declared already provisioned (another solution's, A-16).
                    let p = &d.profile().provisioning;
                    [Some(p.mebx_password.clone()), p.admin_password.clone()]
                })
                .into_iter()
                .flatten()
                .flatten();
            let mut connector = self.net.clone();
            let seed = self.rng_seed();
            obs.device = Some(read_back(
                &self.sp,
                &uuid,
                mebx,
                &mut connector,
                (http, tls),
                seed,
            ));
            let _ = self.net.with_device(0, |d| d.drain_events());
        }
        Ok(obs)
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
