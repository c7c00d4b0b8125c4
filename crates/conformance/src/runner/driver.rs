//! The one driver: [`drive`] interprets a scenario's flow steps (nothing else matches on them)
//! against two halves, each behind a trait:
//!
//! - [`World`]: where the devices live and how bytes and time move (an arm: in-process on a
//!   virtual clock, loopback sockets on the wall clock, an external device);
//! - [`ProvisioningSide`]: what provisions them (today the ConfigMgr site,
//!   [`super::configmgr::ConfigMgrSite`]; an external provisioning server under test is another
//!   implementation, with devices served by a loopback world).
//!
//! A device-only check suite uses a [`World`] alone. What a scenario needs of an arm is compared
//! with the arm's capabilities (each arm's `CAPABILITIES` constant) before [`drive`] runs (see
//! [`super::requirements`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::events::DeviceEvent;
use amt_sim::hello::{HelloBeacon, HelloTarget};
use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use provisioner_core::clock::Clock;
use provisioner_core::transport::Connector;

use super::error::RunError;
use super::requirements::SkipReason;
use crate::observe::{HelloObs, Observation};
use crate::scenario::{FlowStep, HelloWindow, RemovalKind};

/// The world a scenario's devices run in (one arm).
pub(crate) trait World {
    /// The arm's clock (virtual or wall).
    fn clock(&self) -> &dyn Clock;
    /// When the run started (transcript and `elapsed` times are relative to it).
    fn start(&self) -> Timestamp;
    /// A connector to the devices (what sessions and read-backs connect through).
    fn connector(&self) -> Box<dyn Connector>;
    /// How many devices.
    fn device_count(&self) -> usize;
    /// Device `index`'s UUID.
    fn uuid(&self, index: usize) -> Result<DeviceUuid, RunError>;
    /// Device `index`'s wired address, if it has one.
    fn address(&self, index: usize) -> Option<IpAddr>;
    /// Device `index`'s HTTP and TLS addresses.
    fn targets(&self, index: usize) -> Result<(SocketAddr, SocketAddr), RunError>;
    /// The Hellos the devices want to send at `now`, with the sender's index.
    fn due_hellos(&mut self, now: Timestamp) -> Vec<(usize, HelloBeacon)>;
    /// When the next Hello of any device is due (`None`: every schedule has ended).
    fn next_hello_due(&self) -> Option<Timestamp>;
    /// Moves a virtual clock to `t` (a wall clock cannot: the requirements keep such flows off).
    fn advance_to(&mut self, t: Timestamp);
    /// Carries Hello `bytes` of device `index` to the provisioning side's listener: where it
    /// arrived from and what arrived, or `None` (with a note) when it did not arrive.
    fn deliver_hello(
        &mut self,
        index: usize,
        bytes: Vec<u8>,
        notes: &mut Vec<String>,
    ) -> Result<Option<(SocketAddr, Vec<u8>)>, RunError>;
    /// Runs `f` on device `index` through its local host interface (HECI).
    fn with_device(
        &mut self,
        index: usize,
        f: &mut dyn FnMut(&mut Device) -> Result<(), RunError>,
    ) -> Result<(), RunError>;
    /// The device's own passwords (MEBx, and an admin password it was declared with), for the
    /// read-back after the site's.
    fn device_passwords(&self, index: usize) -> Vec<String>;
    /// Called after every step (the in-process arm collects device events here).
    fn after_step(&mut self);
    /// The end of the run: the device events, whether every Hello schedule has ended, and a
    /// skip found while running. Notes for the report go to `notes`.
    fn finish(&mut self, notes: &mut Vec<String>) -> Result<WorldEnd, RunError>;
    /// Forgets what the devices did after [`World::finish`] (the harness's own read-back).
    fn discard_events(&mut self);
}

/// What a world reports at the end of a run.
pub(crate) struct WorldEnd {
    /// Every device event of the run, in order.
    pub(crate) events: Vec<DeviceEvent>,
    /// Whether every device's Hello schedule has ended.
    pub(crate) hellos_stopped: bool,
    /// A reason found while running why the result means nothing on this arm.
    pub(crate) skip: Option<SkipReason>,
}

/// What provisions the devices: each flow step's provisioning half.
pub(crate) trait ProvisioningSide {
    /// `start_up`: the side starts (its start-up checks).
    fn start_up(&mut self, world: &mut dyn World) -> Result<(), RunError>;
    /// Whether a Hello addressed to `target` reaches this side (its DNS).
    fn reaches(&self, target: &HelloTarget) -> bool;
    /// A Hello arrived from `from` at `now` (what it starts runs at [`ProvisioningSide::flush`]).
    fn hello(&mut self, from: SocketAddr, bytes: &[u8], now: Timestamp);
    /// Runs what the Hellos of a round started.
    fn flush(&mut self, world: &mut dyn World) -> Result<(), RunError>;
    /// `provision`: a session for device `index` without a Hello.
    fn provision(&mut self, world: &mut dyn World, index: usize) -> Result<(), RunError>;
    /// `in_band`: the client agent's path for device `index`.
    fn in_band(&mut self, world: &mut dyn World, index: usize) -> Result<(), RunError>;
    /// `remove`: removes device `index`'s provisioning data.
    fn remove(
        &mut self,
        world: &mut dyn World,
        index: usize,
        kind: RemovalKind,
    ) -> Result<(), RunError>;
    /// A step on the site hierarchy (preinst, copying a key file, a renewal, a client fix, …).
    fn site(
        &mut self,
        world: &mut dyn World,
        command: &provisioner_core::site::Command,
    ) -> Result<(), RunError>;
    /// When the hierarchy next has something due (a despooler retry, a daily check).
    fn site_due(&self) -> Option<Timestamp>;
    /// Runs what the hierarchy has due at or before `now`.
    fn site_advance(&mut self, now: Timestamp);
    /// What was observed: the side's sessions, logs and transcript, the Hellos, the world's
    /// end, and device 0's end state read back.
    fn observe(
        &mut self,
        world: &mut dyn World,
        hellos: &HelloObs,
        end: &WorldEnd,
        notes: Vec<String>,
    ) -> Observation;
}

/// The result of driving a flow.
pub(crate) enum Driven {
    /// What was observed.
    Observed(Box<Observation>),
    /// The world found a reason to skip while running.
    Skipped(SkipReason),
}

/// Runs `flow` on `world` with `side`, then observes.
pub(crate) fn drive(
    world: &mut dyn World,
    side: &mut dyn ProvisioningSide,
    flow: &[FlowStep],
) -> Result<Driven, RunError> {
    let mut hellos = HelloObs::default();
    let mut notes = Vec::new();
    // The site hierarchy starts with the run (its daily checks count from here).
    side.site_advance(world.clock().now());
    for step in flow {
        let devices = world.device_count();
        match step {
            FlowStep::StartUp => side.start_up(world)?,
            FlowStep::Hellos(HelloWindow::First) => {
                hello_round(world, side, &mut hellos, &mut notes)?;
            }
            FlowStep::Hellos(HelloWindow::Within(span)) => {
                let end = world.clock().now() + span.0;
                hello_round(world, side, &mut hellos, &mut notes)?;
                while let Some(due) = world.next_hello_due() {
                    if due > end {
                        break;
                    }
                    let t = due.max(world.clock().now());
                    world.advance_to(t);
                    hello_round(world, side, &mut hellos, &mut notes)?;
                }
                if world.clock().now() < end {
                    world.advance_to(end);
                }
            }
            FlowStep::Provision => {
                for index in 0..devices {
                    side.provision(world, index)?;
                }
            }
            FlowStep::InBand => {
                for index in 0..devices {
                    side.in_band(world, index)?;
                }
            }
            FlowStep::Remove(kind) => {
                for index in 0..devices {
                    side.remove(world, index, *kind)?;
                }
            }
            FlowStep::Wait(span) => {
                // The hierarchy's retries and daily checks run at their own times in the wait.
                let end = world.clock().now() + span.0;
                while let Some(due) = side.site_due().filter(|d| *d <= end) {
                    let now = world.clock().now();
                    if due > now {
                        wait(world.clock(), due.saturating_duration_since(now));
                    }
                    side.site_advance(world.clock().now());
                }
                let now = world.clock().now();
                if end > now {
                    wait(world.clock(), end.saturating_duration_since(now));
                }
            }
            other => {
                if let Some(command) = other.site_command() {
                    side.site(world, &command)?;
                }
            }
        }
        side.site_advance(world.clock().now());
        world.after_step();
    }
    let end = world.finish(&mut notes)?;
    if let Some(skip) = end.skip.clone() {
        return Ok(Driven::Skipped(skip));
    }
    let mut obs = side.observe(world, &hellos, &end, notes);
    obs.hellos.stopped = end.hellos_stopped;
    world.discard_events();
    Ok(Driven::Observed(Box::new(obs)))
}

/// A `wait` step: the clock's own wait (a virtual clock advances, a wall clock sleeps).
fn wait(clock: &dyn Clock, span: Duration) {
    clock.sleep(span);
}

/// Delivers the Hellos due now and runs the sessions they start.
fn hello_round(
    world: &mut dyn World,
    side: &mut dyn ProvisioningSide,
    hellos: &mut HelloObs,
    notes: &mut Vec<String>,
) -> Result<(), RunError> {
    let now = world.clock().now();
    let start = world.start();
    for (index, beacon) in world.due_hellos(now) {
        hellos.sent += 1;
        hellos.last_at = Some(now.saturating_duration_since(start));
        if !side.reaches(&beacon.target) {
            hellos.unresolved += 1;
            continue;
        }
        let Some((from, bytes)) = world.deliver_hello(index, beacon.bytes, notes)? else {
            continue;
        };
        hellos.delivered += 1;
        let now = world.clock().now();
        side.hello(from, &bytes, now);
    }
    side.flush(world)
}
