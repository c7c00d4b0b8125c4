//! Running scenarios: the arms (in-process on a virtual clock, loopback sockets, an external
//! device), the requirements compared once before a run, the one flow driver, the parallel
//! runner, and each scenario's verdict.
//!
//! [`run_one`] builds the scenario's device profile and environment, lists what the scenario
//! requires ([`requirements::requirements`]) and compares it with the arm's capabilities: an unmet
//! requirement is a typed skip. Otherwise the arm's world (`driver::World`) and the ConfigMgr
//! site (`configmgr::ConfigMgrSite`) are built and `driver::drive` runs the flow.

pub(crate) mod configmgr;
pub(crate) mod driver;
pub mod error;
pub mod inprocess;
pub mod network;
pub mod readback;
pub mod requirements;
pub mod transcript;

pub use error::RunError;
pub use requirements::SkipReason;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amt_sim::events::{DeviceEvent, EventKind, TlsVerdict};
use provisioner_core::logs::{LogFile, Logs};
use serde::Serialize;

use crate::expect::{self, Mismatch, Snapshots};
use crate::observe::{LogObs, Observation};
use crate::scenario::LoadedScenario;

/// Where the scenarios run.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Backend {
    /// Devices and site in memory, on a virtual clock (default).
    InProcess,
    /// The device as `amt-sim`'s network shell on loopback sockets, the service point over TCP,
    /// on the wall clock.
    Network,
    /// An external device at this address (its TLS port); only the checks that need no device
    /// control run.
    Device(SocketAddr),
}

impl Backend {
    /// `in-process`, `network` or `device`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Network => "network",
            Self::Device(_) => "device",
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where.
    pub backend: Backend,
    /// Transcript snapshot handling.
    pub snapshots: Snapshots,
    /// Worker threads (default: the number of cores).
    pub jobs: usize,
    /// For `--device`: the device's admin password, if it is provisioned.
    pub admin_password: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            backend: Backend::InProcess,
            snapshots: Snapshots::Compare,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            admin_password: None,
        }
    }
}

/// A scenario's verdict.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every expectation held.
    Passed,
    /// Some did not.
    Failed {
        /// What differed.
        mismatches: Vec<Mismatch>,
    },
    /// Not run in this mode.
    Skipped {
        /// Why (serialised as its text).
        reason: SkipReason,
    },
    /// The scenario could not be run (broken input or harness error).
    Error {
        /// What went wrong (serialised as its text).
        #[serde(serialize_with = "ser_display")]
        message: RunError,
    },
}

/// One scenario's result.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// Scenario id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its source.
    pub source: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The file.
    pub path: PathBuf,
    /// The seed used.
    pub seed: u64,
    /// Backend name.
    pub backend: &'static str,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// What was observed (absent when skipped or not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observation>,
    /// Wall time of the run.
    #[serde(serialize_with = "ser_ms", rename = "wall_ms")]
    pub wall: Duration,
}

fn ser_display<S: serde::Serializer>(e: &RunError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl ScenarioReport {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Passed)
    }
}

/// Runs one scenario.
#[expect(
    clippy::disallowed_methods,
    reason = "the harness shell measures each scenario's wall time for the report"
)]
pub fn run_one(loaded: &LoadedScenario, options: &RunOptions) -> ScenarioReport {
    let started = std::time::Instant::now();
    let s = &loaded.scenario;
    let (verdict, observed) = match run_on_arm(loaded, options) {
        Ok(Ran::Observed(obs)) => {
            // The socket arms run on the wall clock: what pins virtual-clock times (the
            // transcript snapshot, framed log lines with literal times) is not compared there;
            // their observations' notes say what was left out.
            let expected = match options.backend {
                Backend::InProcess => std::borrow::Cow::Borrowed(&s.expect),
                _ => std::borrow::Cow::Owned(expect::wall_clock_expect(&s.expect).0),
            };
            let mut mismatches =
                expect::check(&expected, &obs, &loaded.base_dir, options.snapshots);
            mismatches.extend(obs.faults_never_fired.iter().map(|f| Mismatch {
                what: "device.faults".to_owned(),
                expected: format!("{f} fires at least once (or is marked `optional: true`)"),
                actual: "it never fired".to_owned(),
                detail: None,
            }));
            let verdict = if mismatches.is_empty() {
                Verdict::Passed
            } else {
                Verdict::Failed { mismatches }
            };
            (verdict, Some(*obs))
        }
        Ok(Ran::Skipped(reason)) => (Verdict::Skipped { reason }, None),
        Err(message) => (Verdict::Error { message }, None),
    };
    ScenarioReport {
        id: s.id.clone(),
        title: s.title.clone(),
        source: s.source.clone(),
        tags: s.tags.clone(),
        path: loaded.path.clone(),
        seed: s.seed(),
        backend: options.backend.name(),
        verdict,
        observed,
        wall: started.elapsed(),
    }
}

/// The step-addressed faults of `profile` that no device event says fired (`fault-applied` with
/// their index), unless marked optional.
fn faults_never_fired(
    profile: &amt_sim::profile::DeviceProfile,
    device_events: &[serde_json::Value],
) -> Vec<String> {
    let fired: std::collections::BTreeSet<u64> = device_events
        .iter()
        .filter(|e| e.get("event").and_then(serde_json::Value::as_str) == Some("fault-applied"))
        .filter_map(|e| e.get("fault").and_then(serde_json::Value::as_u64))
        .collect();
    profile
        .faults
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            matches!(f, amt_sim::faults::FaultSpec::Step { on, .. } if !on.optional)
                && !fired.contains(&(*i as u64))
        })
        .map(|(i, f)| format!("faults[{i}] {}", f.describe()))
        .collect()
}

/// What running a scenario on an arm gave.
enum Ran {
    Observed(Box<Observation>),
    Skipped(SkipReason),
}

/// The capabilities of the arm `backend` names.
pub fn capabilities(backend: Backend) -> requirements::Capabilities {
    match backend {
        Backend::InProcess => inprocess::CAPABILITIES,
        Backend::Network => network::LOOPBACK,
        Backend::Device(_) => network::EXTERNAL_DEVICE,
    }
}

/// Builds the scenario's device and site, compares its requirements with the arm's
/// capabilities, and drives its flow on the arm.
fn run_on_arm(loaded: &LoadedScenario, options: &RunOptions) -> Result<Ran, RunError> {
    let scenario = &loaded.scenario;
    let base = &loaded.base_dir;
    let profile = scenario.device.build(base).map_err(RunError::Profile)?;
    let env = scenario.environment.build(&scenario.provisioner, base);
    let fleet_size = scenario.fleet.unwrap_or(1) as usize;
    let in_band = scenario.provisioner.mode == crate::scenario::ModeSpec::InBand;
    // The fleet is made only when the arm can hold it (a skip says so otherwise).
    let caps = capabilities(options.backend);
    let fleet = match &env {
        Ok(env) if fleet_size <= caps.max_fleet => Some(inprocess::fleet_of(
            profile.clone(),
            env.clone(),
            fleet_size,
            in_band,
        )?),
        _ => None,
    };
    let required = requirements::requirements(
        scenario,
        &profile,
        fleet.as_ref().map(|(p, e)| (p.as_slice(), e)),
    );
    if let Some(skip) = requirements::first_unmet(&required, &caps) {
        return Ok(Ran::Skipped(skip));
    }
    let (profiles, mut env) = match (env, fleet) {
        (Err(e), _) => {
            return Ok(Ran::Observed(Box::new(Observation {
                config_error: Some(e),
                ..Observation::default()
            })));
        }
        (Ok(_), Some(fleet)) => fleet,
        (Ok(_), None) => return Err(RunError::Fleet("fleet too large".to_owned())),
    };
    let flow = scenario.flow();
    let seed = scenario.seed();
    let mut world: Box<dyn driver::World> = match options.backend {
        Backend::InProcess => Box::new(inprocess::InProcess::new(profiles, seed)?),
        Backend::Network => {
            let hellos = flow
                .iter()
                .any(|s| matches!(s, crate::scenario::FlowStep::Hellos(_)));
            Box::new(network::Loopback::start(&mut env, profiles, seed, hellos)?)
        }
        Backend::Device(addr) => Box::new(network::External::new(
            addr,
            &profile,
            options.admin_password.as_deref(),
            &mut env,
        )?),
    };
    let mut site = configmgr::ConfigMgrSite::new(env, seed)?;
    let ran = match driver::drive(world.as_mut(), &mut site, &flow)? {
        driver::Driven::Skipped(skip) => Ran::Skipped(skip),
        driver::Driven::Observed(mut obs) => {
            if caps.device_events {
                obs.faults_never_fired = faults_never_fired(&profile, &obs.events.device);
            }
            if options.backend != Backend::InProcess {
                obs.notes
                    .extend(expect::wall_clock_expect(&scenario.expect).1);
            }
            Ran::Observed(obs)
        }
    };
    // The world (and with it a socket arm's devices and runtime) is dropped here, also on an
    // early return.
    drop(world);
    Ok(ran)
}

/// Runs every scenario on `options.jobs` threads; `progress` is called as each one finishes
/// (from the worker thread). Reports come back in input order.
pub fn run_all(
    scenarios: &[LoadedScenario],
    options: &RunOptions,
    progress: &(dyn Fn(&ScenarioReport, usize, usize) + Sync),
) -> Vec<ScenarioReport> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ScenarioReport>>> = Mutex::new(vec![None; scenarios.len()]);
    let jobs = options.jobs.clamp(1, scenarios.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(loaded) = scenarios.get(i) else {
                        break;
                    };
                    let report = run_one(loaded, options);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    progress(&report, n, scenarios.len());
                    let mut r = results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(slot) = r.get_mut(i) {
                        *slot = Some(report);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// Copies the three log files into `obs` and collects the error-catalog ids written.
pub(crate) fn fill_logs(obs: &mut Observation, logs: &Logs) {
    for file in LogFile::ALL {
        obs.logs.insert(
            file,
            LogObs {
                messages: logs.messages(file),
                lines: logs.lines(file),
                ids: logs.ids(file).into_iter().map(str::to_owned).collect(),
            },
        );
    }
    obs.documented = logs
        .all_records()
        .filter(|r| r.id.starts_with("A-"))
        .map(|r| r.id.to_owned())
        .collect();
}

/// Summarises the devices' events into `obs.wire`.
pub(crate) fn fill_wire(obs: &mut Observation, events: &[DeviceEvent]) {
    for event in events {
        if let Ok(json) = serde_json::to_value(&event.kind) {
            obs.events.device.push(json);
        }
        match &event.kind {
            EventKind::TlsHandshake {
                verdict, refusal, ..
            } => obs.wire.tls.push(match (verdict, refusal) {
                (_, Some(r)) => r.id().to_owned(),
                (TlsVerdict::Ok, None) => "ok".to_owned(),
                (TlsVerdict::Refused, None) => "refused".to_owned(),
                (TlsVerdict::Failed, None) => "failed".to_owned(),
            }),
            EventKind::HttpRequest {
                action,
                class,
                status,
                ..
            } => {
                obs.wire.http_requests += 1;
                if *status == 200
                    && let (Some(c), Some(a)) = (class, action)
                {
                    obs.wire.calls.push(format!("{c}.{a}"));
                }
            }
            EventKind::ConnectionRefused { reason, .. } => {
                obs.wire.refused_connections.push(reason.id().to_owned());
            }
            EventKind::AuthFailed { .. } => obs.wire.auth_failures += 1,
            _ => {}
        }
    }
}
