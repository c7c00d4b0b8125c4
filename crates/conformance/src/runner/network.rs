//! The socket backends: `--network` (the device as amt-sim's tokio shell on loopback, the
//! service point over TCP) and `--device HOST:PORT` (an external device).
//!
//! Both build the device profile and the site exactly as the in-process backend does (its
//! helpers are shared) and run the same flow, but on the wall clock ([`SystemClock`]) with real
//! sockets ([`TcpConnector`]):
//!
//! - **Loopback** ([`run_loopback`]): each device is an `amt_sim::device::Device` served by
//!   `amt_sim::net::start` on 127.0.0.1 with ports the OS picks, so parallel scenarios and fleet
//!   members never clash (the profile, its port faults and the imported record follow the bound
//!   ports; log lines name them, so scenarios write `{ip}:{n}`, not `:16993`). The imported
//!   computer record's recorded address (when it is the device's) becomes 127.0.0.1.
//!   The device stays reachable from the harness (it sits behind the shell in an
//!   `Arc<Mutex<_>>`), which is how the `in_band` step makes its HECI calls and how device events
//!   are collected. Hellos: the `hellos: first` step takes the Hellos due now from the device and
//!   sends each with the shell's own sender (`amt_sim::net::hello::send`: one TCP connection, one
//!   write) to a real [`HelloListener`] on 127.0.0.1:0, whose bytes go to the service point as
//!   `amt-provision --listen` does. The site's DNS is modelled as in process: a Hello addressed by
//!   name reaches the listener only when the name is the ProvisionServer alias and the site
//!   resolves it. The runtime is shut down at the end of every scenario, also on error.
//! - **External device** ([`run_external`]): only the provisioner side runs (`start_up`,
//!   `provision` as a session against the device, `remove: full`, short `wait`s), then the state
//!   is read back over WS-MAN. The address given is the TLS port; the HTTP port is the TLS port
//!   minus one (AMT convention: 16993 → 16992). The device is assumed to be the scenario's device
//!   (its UUID selects the imported computer). Device events are not observable.
//!
//! What cannot run on the wall clock or over sockets is a skip with its reason (`skip:` prefix),
//! never an approximation: Hello windows, long waits, long injected delays, fleets above
//! [`MAX_FLEET`], a second (wireless) address, a record pointing elsewhere than the device, a
//! TCP connection the device refuses (the shell accepts it first), and for an external device
//! `expect.wire`. Expectations that pin virtual-clock times (transcript snapshots, framed log
//! lines with literal times, `hellos.last_at`) are left out of the check
//! ([`wall_clock_expect`]), with a note in the observation.

mod served;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::events::{DeviceEvent, EventKind};
use amt_sim::faults::FaultAction;
use amt_sim::net::{Beacon, BeaconTarget, Bound};
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use provisioner_core::clock::Clock as _;
use provisioner_core::env::{Environment, ResolveTo};
use provisioner_core::net::hello_listener::HelloListener;
use provisioner_core::net::{SystemClock, TcpConnector};
use provisioner_core::servicepoint::{Action, Input};
use provisioner_core::session::{self, SessionResult};
use rand::SeedableRng as _;

use self::served::{MAX_EVENTS, Monitor, SharedDevice, Shell, lock, with_device};
use super::inprocess;
use super::readback;
use super::site::{self as shared, SiteParts};
use crate::observe::{HelloObs, Observation};
use crate::scenario::{Expect, FlowStep, HelloWindow, LoadedScenario, RemovalKind};

/// Largest fleet run over loopback (each device has its own runtime tasks and listeners).
pub const MAX_FLEET: usize = 20;
/// Longest `wait` step, and longest injected device delay, run on the wall clock.
pub const MAX_WALL_WAIT: Duration = Duration::from_secs(5);
/// How long the `hellos: first` step waits for each Hello to reach the listener.
pub const HELLO_WAIT: Duration = Duration::from_secs(5);
/// How long the observation waits for the device to finish its open connections.
const SETTLE: Duration = Duration::from_secs(3);

/// Runs `loaded` over loopback sockets. `Ok(None)`: the scenario cannot run this way.
pub fn run_loopback(loaded: &LoadedScenario) -> Result<Option<Observation>, String> {
    let scenario = &loaded.scenario;
    let base = &loaded.base_dir;
    let flow = scenario.flow();
    wall_clock_check(&flow)?;
    let fleet = scenario.fleet.unwrap_or(1) as usize;
    if fleet > MAX_FLEET {
        return Err(format!(
            "skip:a fleet of {fleet} devices is too many for loopback sockets (at most {MAX_FLEET})"
        ));
    }
    let profile = scenario.device.build(base)?;
    delay_check(&profile)?;
    let env = match scenario.environment.build(&scenario.provisioner, base) {
        Ok(env) => env,
        Err(e) => {
            return Ok(Some(Observation {
                config_error: Some(e),
                ..Observation::default()
            }));
        }
    };
    let in_band = scenario.provisioner.mode == crate::scenario::ModeSpec::InBand;
    let (profiles, env) = inprocess::fleet_of(profile, env, fleet, in_band)?;
    let mut site = Loopback::start(env, profiles, scenario.seed(), &flow)?;
    for step in &flow {
        site.step(step)?;
    }
    let mut obs = site.observe()?;
    obs.notes.extend(wall_clock_expect(&scenario.expect).1);
    Ok(Some(obs))
    // `site` is dropped here (or on any early return): devices and runtime shut down.
}

/// Runs the device-side checks of `loaded` against the external device at `addr` (its TLS
/// port; HTTP is the port below). `admin_password`: the device's, if it is provisioned.
pub fn run_external(
    loaded: &LoadedScenario,
    addr: SocketAddr,
    admin_password: Option<&str>,
) -> Result<Option<Observation>, String> {
    let scenario = &loaded.scenario;
    let base = &loaded.base_dir;
    if scenario.expect.wire.is_some() {
        return Err(
            "skip:expect.wire needs the device's own event log, which an external \
                    device does not report"
                .to_owned(),
        );
    }
    let flow = scenario.flow();
    wall_clock_check(&flow)?;
    for step in &flow {
        match step {
            FlowStep::StartUp
            | FlowStep::Provision
            | FlowStep::Remove(RemovalKind::Full)
            | FlowStep::Wait(_) => {}
            other => {
                let name = serde_json::to_string(other).unwrap_or_default();
                return Err(format!("skip:the step {name} needs control of the device"));
            }
        }
    }
    let http_port = addr.port().checked_sub(1).ok_or_else(|| {
        format!("--device {addr}: the HTTP port is the TLS port minus one, and there is none")
    })?;
    let http = SocketAddr::new(addr.ip(), http_port);
    let profile = scenario.device.build(base)?;
    let mut env = match scenario.environment.build(&scenario.provisioner, base) {
        Ok(env) => env,
        Err(e) => {
            return Ok(Some(Observation {
                config_error: Some(e),
                ..Observation::default()
            }));
        }
    };
    let uuid = profile.device_uuid();
    for c in env.computers.iter_mut().filter(|c| c.uuid == uuid) {
        c.wired_ip = Some(addr.ip());
        c.tls_port = addr.port();
    }
    let clock = SystemClock;
    let start = clock.now();
    let mut site = shared::build_site(env)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(scenario.seed());
    let mut results = Vec::new();
    let mut notes = Vec::new();
    for step in &flow {
        let actions = match step {
            FlowStep::StartUp => site.sp.handle(Input::Tick { now: clock.now() }),
            FlowStep::Provision => {
                shared::direct_provision(&site.sp, uuid, Some(addr.ip()), &mut notes)?
                    .into_iter()
                    .collect()
            }
            FlowStep::Remove(_) => shared::full_removal(
                &mut site.sp,
                &mut site.directory,
                &mut site.ca,
                &results,
                uuid,
                clock.now(),
            ),
            FlowStep::Wait(span) => {
                wall_sleep(span.0);
                Vec::new()
            }
            FlowStep::Hellos(_) | FlowStep::InBand => Vec::new(),
        };
        run_actions(&mut site, &mut rng, &mut results, &actions);
    }
    notes.push(format!(
        "external device {addr} (HTTP {http}): device events are unavailable, so the wire \
         summary and the device side of the transcript are empty"
    ));
    let mut obs = shared::observe_site(
        &site.sp,
        &results,
        &HelloObs::default(),
        &[],
        notes,
        Some(&uuid),
        start,
    );
    obs.elapsed = clock.now().saturating_duration_since(start);
    obs.device = Some(shared::read_back(
        &site.sp,
        &uuid,
        // The password given for the device, then its factory MEBx password as the scenario
        // describes it (after a full removal the device is back to it).
        admin_password
            .map(str::to_owned)
            .into_iter()
            .chain([profile.provisioning.mebx_password.clone()]),
        &mut TcpConnector,
        (http, addr),
        rand::RngCore::next_u64(&mut rng),
    ));
    obs.notes.extend(wall_clock_expect(&scenario.expect).1);
    Ok(Some(obs))
}

/// The skip for steps that need the virtual clock: Hello windows and long waits.
fn wall_clock_check(flow: &[FlowStep]) -> Result<(), String> {
    for step in flow {
        match step {
            FlowStep::Hellos(HelloWindow::Within(span)) => {
                return Err(format!(
                    "skip:needs the virtual clock (Hello window of {})",
                    span_text(span.0)
                ));
            }
            FlowStep::Wait(span) if span.0 > MAX_WALL_WAIT => {
                return Err(format!(
                    "skip:needs the virtual clock (wait of {})",
                    span_text(span.0)
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The skip for injected device delays longer than [`MAX_WALL_WAIT`].
fn delay_check(profile: &DeviceProfile) -> Result<(), String> {
    for fault in &profile.faults {
        if let Some(FaultAction::Delay(d)) = &fault.action
            && d.0 > MAX_WALL_WAIT
        {
            return Err(format!(
                "skip:needs the virtual clock (an injected device delay of {})",
                span_text(d.0)
            ));
        }
    }
    Ok(())
}

/// The expectations the wall clock can check: `expect` without what pins virtual-clock times
/// (the transcript snapshot, framed log lines with a literal date or time, `hellos.last_at`),
/// with a note for each thing left out. `run_one` checks the socket backends' observations
/// against this; both backends put the notes in their observation.
pub fn wall_clock_expect(expect: &Expect) -> (Expect, Vec<String>) {
    let mut relaxed = expect.clone();
    let mut notes = Vec::new();
    if let Some(file) = relaxed.transcript.take() {
        notes.push(format!(
            "expect.transcript ({file}) not compared: the transcript is deterministic only on \
             the virtual clock (in-process)"
        ));
    }
    for (file, lines) in &mut relaxed.logs {
        let before = lines.len();
        lines.retain(|l| !pins_a_time(l));
        let dropped = before - lines.len();
        if dropped > 0 {
            notes.push(format!(
                "expect.logs.{}: {dropped} framed line(s) with a literal date or time not \
                 compared (virtual-clock times; use {{date}} and {{time}} to compare them here)",
                file.file_name()
            ));
        }
    }
    if let Some(h) = &mut relaxed.hellos
        && h.last_at.take().is_some()
    {
        notes.push("expect.hellos.last_at not compared: a virtual-clock time".to_owned());
    }
    (relaxed, notes)
}

/// A framed log line (`$$<` or `<![LOG[`) with a literal time (`00:00:00`) or date
/// (`01-15-2027`) instead of the `{time}` / `{date}` placeholders.
fn pins_a_time(line: &str) -> bool {
    if !(line.contains("$$<") || line.contains("<![LOG[")) {
        return false;
    }
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    (0..b.len()).any(|i| {
        let time = digit(i)
            && digit(i + 1)
            && at(i + 2, b':')
            && digit(i + 3)
            && digit(i + 4)
            && at(i + 5, b':')
            && digit(i + 6)
            && digit(i + 7);
        let date = digit(i)
            && digit(i + 1)
            && at(i + 2, b'-')
            && digit(i + 3)
            && digit(i + 4)
            && at(i + 5, b'-')
            && (i + 6..i + 10).all(digit);
        time || date
    })
}

/// `24h`, `90m`, `40s` or `1500ms`.
fn span_text(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the wall-clock backend really waits for a short `wait` step"
)]
fn wall_sleep(d: Duration) {
    std::thread::sleep(d);
}

/// Runs the service point's actions over TCP on the wall clock.
fn run_actions(
    site: &mut SiteParts,
    rng: &mut rand_chacha::ChaCha8Rng,
    results: &mut Vec<SessionResult>,
    actions: &[Action],
) {
    for action in actions {
        if let Some(result) = session::run_action(
            &mut site.sp,
            action,
            &site.identities,
            &mut TcpConnector,
            &SystemClock,
            &mut site.directory,
            &mut site.ca,
            rng,
        ) {
            shared::record_result(&mut site.sp, result, results);
        }
    }
}

/// One served device.
struct Served {
    device: Arc<Mutex<Device>>,
    uuid: DeviceUuid,
    ip: IpAddr,
    http: SocketAddr,
    tls: SocketAddr,
}

/// A site and its devices on loopback sockets.
struct Loopback {
    shell: Shell,
    devices: Vec<Served>,
    monitor: Arc<Mutex<Monitor>>,
    listener: Option<HelloListener>,
    site: SiteParts,
    rng: rand_chacha::ChaCha8Rng,
    results: Vec<SessionResult>,
    hellos: HelloObs,
    notes: Vec<String>,
    start: Timestamp,
}

impl Loopback {
    /// Binds and serves every device, points the imported records at them, and binds the Hello
    /// listener if the flow has a `hellos` step.
    fn start(
        mut env: Environment,
        profiles: Vec<DeviceProfile>,
        seed: u64,
        flow: &[FlowStep],
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("conformance-net")
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let mut shell = Shell {
            runtime: Some(runtime),
            running: Vec::new(),
        };
        let clock = SystemClock;
        let start = clock.now();
        let monitor = Arc::new(Mutex::new(Monitor::default()));
        let listener = if flow.iter().any(|s| matches!(s, FlowStep::Hellos(_))) {
            Some(
                HelloListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .map_err(|e| format!("binding the Hello listener: {e}"))?,
            )
        } else {
            None
        };
        let resolvable = env.dns.provision_server_resolvable();
        let mut devices = Vec::new();
        for (i, mut profile) in profiles.into_iter().enumerate() {
            let original_ip = profile.network.wired.ipv4;
            let (ip, bound) = bind_device(shell.runtime()?)?;
            let (http, tls) = (
                bound.http_addr().map_err(|e| e.to_string())?,
                bound.tls_addr().map_err(|e| e.to_string())?,
            );
            let original_tls_port = profile.ports.tls;
            translate_ports(&mut profile, http.port(), tls.port());
            if original_ip.is_some() {
                profile.network.wired.ipv4 = Some(ip);
            }
            // A Hello that would reach the service point in process (an address, or the
            // ProvisionServer alias the site resolves) goes to the real listener.
            if let Some(listener) = &listener
                && profile
                    .hello_target()
                    .is_ok_and(|t| shared::hello_delivered(&t, resolvable))
            {
                profile.provisioning.server = Some(listener.local_addr().to_string());
            }
            let uuid = profile.device_uuid();
            point_record_at(
                &mut env,
                &uuid,
                (original_ip.map(IpAddr::V4), original_tls_port),
                tls,
            )?;
            let mut device = Device::new(profile, None, seed.wrapping_add(i as u64), clock.now())
                .map_err(|e| format!("device: {e}"))?;
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
            site: shared::build_site(env)?,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            results: Vec::new(),
            hellos: HelloObs::default(),
            notes: Vec::new(),
            start,
        })
    }

    fn step(&mut self, step: &FlowStep) -> Result<(), String> {
        match step {
            FlowStep::StartUp => {
                let actions = self.site.sp.handle(Input::Tick {
                    now: SystemClock.now(),
                });
                self.run_actions(&actions);
            }
            FlowStep::Hellos(HelloWindow::First) => self.hello_round()?,
            FlowStep::Hellos(HelloWindow::Within(span)) => {
                return Err(format!(
                    "skip:needs the virtual clock (Hello window of {})",
                    span_text(span.0)
                ));
            }
            FlowStep::Provision => {
                for index in 0..self.devices.len() {
                    let served = self.devices.get(index).ok_or("no device")?;
                    let (uuid, ip) = (served.uuid, served.ip);
                    if let Some(action) =
                        shared::direct_provision(&self.site.sp, uuid, Some(ip), &mut self.notes)?
                    {
                        self.run_actions(&[action]);
                    }
                }
            }
            FlowStep::InBand => {
                for index in 0..self.devices.len() {
                    self.in_band(index)?;
                }
            }
            FlowStep::Remove(kind) => {
                for index in 0..self.devices.len() {
                    self.remove(index, *kind)?;
                }
            }
            FlowStep::Wait(span) if span.0 <= MAX_WALL_WAIT => wall_sleep(span.0),
            FlowStep::Wait(span) => {
                return Err(format!(
                    "skip:needs the virtual clock (wait of {})",
                    span_text(span.0)
                ));
            }
        }
        Ok(())
    }

    fn run_actions(&mut self, actions: &[Action]) {
        run_actions(&mut self.site, &mut self.rng, &mut self.results, actions);
    }

    fn device(&self, index: usize) -> Result<&Served, String> {
        self.devices
            .get(index)
            .ok_or_else(|| format!("no device {index}"))
    }

    /// Runs `f` on device `index` (its events go to the monitor).
    fn with_device<R>(&self, index: usize, f: impl FnOnce(&mut Device) -> R) -> Result<R, String> {
        let served = self.device(index)?;
        Ok(with_device(&served.device, &self.monitor, f))
    }

    /// Sends the Hellos due now over TCP to the Hello listener and hands what arrives to the
    /// service point; runs the sessions it starts.
    fn hello_round(&mut self) -> Result<(), String> {
        let runtime = self.shell.runtime()?;
        let listener = self.listener.as_ref().ok_or("no Hello listener")?;
        let to = listener.local_addr();
        let resolvable = self.site.sp.env().dns.provision_server_resolvable();
        let mut actions = Vec::new();
        for served in &self.devices {
            let now = SystemClock.now();
            // The Hellos due now (a bounded number: the schedule moves on with each).
            for _ in 0..16 {
                let Some(beacon) =
                    with_device(&served.device, &self.monitor, |d| d.poll_hello(now))
                else {
                    break;
                };
                self.hellos.sent += 1;
                self.hellos.last_at = Some(now.saturating_duration_since(self.start));
                if !shared::hello_delivered(&beacon.target, resolvable) {
                    self.hellos.unresolved += 1;
                    continue;
                }
                let wire = Beacon {
                    bytes: beacon.bytes,
                    target: BeaconTarget::Address(to),
                };
                if let Err(e) = runtime.block_on(amt_sim::net::hello::send(&wire, Some(served.ip)))
                {
                    self.notes
                        .push(format!("Hello from {} not sent: {e}", served.uuid));
                    continue;
                }
                let Some(hello) = listener.recv_timeout(HELLO_WAIT) else {
                    self.notes.push(format!(
                        "Hello from {} did not reach the listener within {}",
                        served.uuid,
                        span_text(HELLO_WAIT)
                    ));
                    continue;
                };
                self.hellos.delivered += 1;
                let now = SystemClock.now();
                actions.extend(
                    self.site
                        .sp
                        .handle_hello_bytes(hello.from, &hello.bytes, now),
                );
            }
        }
        self.run_actions(&actions);
        Ok(())
    }

    /// The in-band path for device `index`: HECI calls on the served device itself.
    fn in_band(&mut self, index: usize) -> Result<(), String> {
        let now = SystemClock.now();
        let hashes = self.with_device(index, |d| shared::heci_active_hashes(d, now))??;
        let uuid = self.device(index)?.uuid;
        let Some(start) = shared::in_band_start(
            &mut self.site.sp,
            &self.site.identities,
            &mut self.rng,
            uuid,
            &hashes,
            now,
            &mut self.notes,
        ) else {
            return Ok(());
        };
        self.with_device(index, |d| shared::heci_hand_over(d, &start, now))??;
        let actions = shared::in_band_request(&mut self.site.sp, &start, now);
        self.run_actions(&actions);
        Ok(())
    }

    fn remove(&mut self, index: usize, kind: RemovalKind) -> Result<(), String> {
        let (uuid, tls) = {
            let served = self.device(index)?;
            (served.uuid, served.tls)
        };
        match kind {
            RemovalKind::Full => {
                let actions = shared::full_removal(
                    &mut self.site.sp,
                    &mut self.site.directory,
                    &mut self.site.ca,
                    &self.results,
                    uuid,
                    SystemClock.now(),
                );
                self.run_actions(&actions);
            }
            RemovalKind::Partial => {
                let password = self.site.sp.admin_password(&uuid).map(str::to_owned);
                let env = self.site.sp.env().clone();
                let seed = rand::RngCore::next_u64(&mut self.rng);
                if let Err(e) = readback::partial_unprovision(
                    &mut TcpConnector,
                    tls,
                    password.as_deref(),
                    &env,
                    seed,
                ) {
                    self.notes.push(format!("remove partial: {e}"));
                }
            }
        }
        Ok(())
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

    fn observe(&mut self) -> Result<Observation, String> {
        self.settle();
        for served in &self.devices {
            with_device(&served.device, &self.monitor, |_| ());
        }
        let (events, dropped, open) = {
            let m = lock(&self.monitor);
            (m.events.clone(), m.dropped, m.open)
        };
        refusal_check(&events)?;
        let mut notes = std::mem::take(&mut self.notes);
        if dropped > 0 {
            notes.push(format!(
                "{dropped} device events beyond {MAX_EVENTS} not kept"
            ));
        }
        if open > 0 {
            notes.push(format!(
                "{open} device connection(s) still open after {}",
                span_text(SETTLE)
            ));
        }
        let first = self.devices.first().map(|d| d.uuid);
        let mut obs = shared::observe_site(
            &self.site.sp,
            &self.results,
            &self.hellos,
            &events,
            notes,
            first.as_ref(),
            self.start,
        );
        obs.hellos.stopped = self
            .devices
            .iter()
            .all(|s| lock(&s.device).next_hello_due().is_none());
        obs.elapsed = SystemClock.now().saturating_duration_since(self.start);
        // The first device's end state over WS-MAN; its events are not part of the run (they
        // reach the monitor after the copy above).
        if let Some(served) = self.devices.first() {
            let mebx: Vec<String> = {
                let device = lock(&served.device);
                let p = &device.profile().provisioning;
                [Some(p.mebx_password.clone()), p.admin_password.clone()]
                    .into_iter()
                    .flatten()
                    .collect()
            };
            let seed = rand::RngCore::next_u64(&mut self.rng);
            obs.device = Some(shared::read_back(
                &self.site.sp,
                &served.uuid,
                mebx,
                &mut TcpConnector,
                (served.http, served.tls),
                seed,
            ));
        }
        Ok(obs)
    }
}

/// Binds the device's listeners on 127.0.0.1 with ports the OS picks (parallel scenarios and
/// fleet members never clash; the profile, its port faults and the imported record follow the
/// bound ports).
fn bind_device(runtime: &tokio::runtime::Runtime) -> Result<(Ipv4Addr, Bound), String> {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let bound = runtime
        .block_on(Bound::bind(any, any))
        .map_err(|e| format!("binding the device listeners on 127.0.0.1: {e}"))?;
    Ok((Ipv4Addr::LOCALHOST, bound))
}

/// Moves the profile to the bound ports, with the port faults that name its ports.
fn translate_ports(profile: &mut DeviceProfile, http: u16, tls: u16) {
    let (old_http, old_tls) = (profile.ports.http, profile.ports.tls);
    for fault in &mut profile.faults {
        fault.refuse_port = fault.refuse_port.map(|p| match p {
            _ if p == old_http => http,
            _ if p == old_tls => tls,
            other => other,
        });
    }
    profile.ports.http = http;
    profile.ports.tls = tls;
}

/// The skip for a device that refused a TCP connection: the core means "nothing listens" (the
/// provisioner's connect is refused, and it retries), but amt-sim's shell has already accepted
/// the connection when the core is asked, so it can only close it and the provisioner sees a
/// reset during the TLS handshake instead: the in-process network shows the refusal itself.
fn refusal_check(events: &[DeviceEvent]) -> Result<(), String> {
    let reason = events.iter().find_map(|e| match &e.kind {
        EventKind::ConnectionRefused { reason, .. } => Some(reason),
        _ => None,
    });
    match reason {
        Some(reason) => Err(format!(
            "skip:the device refused a TCP connection ({reason}), which amt-sim's network shell \
             can only accept and close (a reset, not a refused connect): needs the in-process \
             network"
        )),
        None => Ok(()),
    }
}

/// Translates the imported computer `uuid`'s record to the served device: its recorded wired
/// address (when it is the device's own, `device_ip`) becomes the loopback address, its TLS port
/// (when it is the device's, `device_tls_port`) the bound port. An unset address stays unset
/// (the site then uses the Hello's source, as in process). A record naming another address or
/// port than the device's, or resolving to the wireless address, is not something loopback can
/// show: a skip.
fn point_record_at(
    env: &mut Environment,
    uuid: &DeviceUuid,
    (device_ip, device_tls_port): (Option<IpAddr>, u16),
    tls: SocketAddr,
) -> Result<(), String> {
    let resolve_to = env.dns.resolve_to;
    for c in env.computers.iter_mut().filter(|c| c.uuid == *uuid) {
        if let Some(recorded) = c.wired_ip {
            if Some(recorded) != device_ip {
                return Err(format!(
                    "skip:the imported record's address {recorded} is not the device's: the \
                     in-process network models that"
                ));
            }
            c.wired_ip = Some(tls.ip());
        }
        if c.tls_port != device_tls_port {
            return Err(format!(
                "skip:the imported record's TLS port {} is not the device's: the in-process \
                 network models that",
                c.tls_port
            ));
        }
        c.tls_port = tls.port();
        if c.wireless_ip.is_some() && resolve_to == ResolveTo::Wireless {
            return Err(
                "skip:the site resolves the device to its wireless address: loopback \
                        gives each device one address (the in-process network has both)"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use amt_sim::faults::DurationText;

    #[test]
    fn spans_print_in_their_largest_whole_unit() {
        assert_eq!(span_text(Duration::from_secs(86_400)), "24h");
        assert_eq!(span_text(Duration::from_secs(5400)), "90m");
        assert_eq!(span_text(Duration::from_secs(40)), "40s");
        assert_eq!(span_text(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn hello_windows_and_long_waits_are_skips_short_waits_are_not() {
        let day = FlowStep::Hellos(HelloWindow::Within(DurationText(Duration::from_secs(
            86_400,
        ))));
        assert_eq!(
            wall_clock_check(&[FlowStep::StartUp, day]),
            Err("skip:needs the virtual clock (Hello window of 24h)".to_owned())
        );
        let long = FlowStep::Wait(DurationText(Duration::from_secs(600)));
        assert_eq!(
            wall_clock_check(&[long]),
            Err("skip:needs the virtual clock (wait of 10m)".to_owned())
        );
        let short = FlowStep::Wait(DurationText(Duration::from_millis(100)));
        assert_eq!(
            wall_clock_check(&[FlowStep::Hellos(HelloWindow::First), short]),
            Ok(())
        );
    }

    #[test]
    fn only_virtual_clock_expectations_are_left_out() -> Result<(), Box<dyn std::error::Error>> {
        let text = "outcome: failed\ntranscript: data/x.txt\nhellos: { sent: 1, last_at: 0s }\n\
                    logs:\n  amtopmgr.log:\n    - \"Error: x\"\n\
                    \x20   - \"Error: y  $$<SMS_AMT_OPERATION_MANAGER><01-15-2027 00:00:00.000+480><thread=2880 (0x0B40)>\"\n\
                    \x20   - \"Error: z  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread=2880 (0x0B40)>\"\n";
        let expect: Expect = serde_saphyr::from_str(text)?;
        let (relaxed, notes) = wall_clock_expect(&expect);
        assert_eq!(relaxed.transcript, None);
        assert_eq!(relaxed.outcome, expect.outcome);
        let hellos = relaxed.hellos.ok_or("hellos kept")?;
        assert_eq!((hellos.sent, hellos.last_at), (Some(1), None));
        let lines: Vec<&String> = relaxed.logs.values().flatten().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("01-15-2027")));
        assert_eq!(notes.len(), 3, "{notes:?}");
        Ok(())
    }

    #[test]
    fn port_faults_follow_the_ports_to_their_bound_numbers() {
        let mut profile = DeviceProfile::default();
        profile.faults = vec![
            amt_sim::faults::FaultSpec {
                refuse_port: Some(profile.ports.tls),
                ..amt_sim::faults::FaultSpec::default()
            },
            amt_sim::faults::FaultSpec {
                refuse_port: Some(623),
                ..amt_sim::faults::FaultSpec::default()
            },
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
                reason: "connect/tls-closed".into(),
            },
        );
        let err = refusal_check(&[refused]).err().unwrap_or_default();
        assert!(
            err.starts_with("skip:") && err.contains("connect/tls-closed"),
            "{err}"
        );
        assert_eq!(refusal_check(&[]), Ok(()));
    }
}
