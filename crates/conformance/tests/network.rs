//! The socket backends: the catalog over loopback (`Backend::Network`), a failure seen the same
//! way over sockets as in process, the in-band path and the skips over loopback, and the
//! external-device path (`Backend::Device`) against `amt-sim`'s shell served in this process.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use amt_sim::device::Device;
use amt_sim::net::{Bound, RunningDevice, ShellOptions};
use amt_sim::profile::DeviceProfile;
use conformance::catalog;
use conformance::expect::Snapshots;
use conformance::observe::Observation;
use conformance::runner::{self, Backend, RunOptions, ScenarioReport, Verdict};
use conformance::scenario::{LoadedScenario, Scenario};
use provisioner_core::logs::LogFile;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Scenarios of the catalog that must run (not skip) over loopback: raise it as the catalog
/// grows.
const MIN_RAN: usize = 30;

fn options(backend: Backend) -> RunOptions {
    RunOptions {
        backend,
        // Never write snapshots from a test.
        snapshots: Snapshots::Strict,
        jobs: 2,
        admin_password: None,
    }
}

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn load_catalog() -> Result<Vec<LoadedScenario>> {
    let files = catalog::scenario_files(&[catalog_dir()])?;
    let (scenarios, errors) = catalog::load_all(&files);
    assert!(errors.is_empty(), "{errors:?}");
    Ok(scenarios)
}

fn describe(r: &ScenarioReport) -> String {
    match &r.verdict {
        Verdict::Failed { mismatches } => format!(
            "{}: {}",
            r.id,
            mismatches
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => format!("{}: {other:?}", r.id),
    }
}

#[test]
fn the_catalog_passes_over_loopback_sockets() -> Result {
    let scenarios = load_catalog()?;
    let reports = runner::run_all(&scenarios, &options(Backend::Network), &|_, _, _| {});
    assert_eq!(reports.len(), scenarios.len());
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Passed | Verdict::Skipped { .. }))
        .map(describe)
        .collect();
    assert!(bad.is_empty(), "over loopback:\n{}", bad.join("\n\n"));
    let ran = reports.iter().filter(|r| r.passed()).count();
    assert!(
        ran >= MIN_RAN,
        "only {ran} scenario(s) ran over loopback; skipped: {:?}",
        reports
            .iter()
            .filter(|r| !r.passed())
            .map(describe)
            .collect::<Vec<_>>()
    );
    for r in reports.iter().filter(|r| r.passed()) {
        assert_eq!(r.backend, "network");
        let obs = r
            .observed
            .as_ref()
            .ok_or("a passed scenario has an observation")?;
        assert!(
            obs.device.is_some() || obs.config_error.is_some(),
            "{}: the device was read back over WS-MAN (unless the site refused its config)",
            r.id
        );
    }
    Ok(())
}

fn observe(loaded: &LoadedScenario, backend: Backend) -> Result<(ScenarioReport, Observation)> {
    let report = runner::run_one(loaded, &options(backend));
    let obs = report.observed.clone().ok_or_else(|| describe(&report))?;
    Ok((report, obs))
}

fn messages(obs: &Observation, file: LogFile) -> Vec<String> {
    obs.logs
        .get(&file)
        .map(|l| l.messages.clone())
        .unwrap_or_default()
}

#[test]
fn a_root_key_over_2048_bits_fails_the_same_way_over_sockets_as_in_process() -> Result {
    let loaded = Scenario::load(&catalog_dir().join("a18-root-key-over-2048.yaml"))?;
    let (in_report, in_obs) = observe(&loaded, Backend::InProcess)?;
    let (net_report, net_obs) = observe(&loaded, Backend::Network)?;
    assert!(in_report.passed(), "{}", describe(&in_report));
    assert!(net_report.passed(), "{}", describe(&net_report));
    let step = |o: &Observation| o.last_session().and_then(|s| s.failed_step);
    assert_eq!(step(&net_obs), step(&in_obs));
    assert_eq!(
        step(&net_obs).map(|s| s.name()),
        Some("tls-handshake"),
        "{:?}",
        net_obs.sessions
    );
    let line = "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS \
                handshaking with server.";
    for obs in [&in_obs, &net_obs] {
        assert!(
            messages(obs, LogFile::AmtOpMgr).iter().any(|m| m == line),
            "{:?}",
            messages(obs, LogFile::AmtOpMgr)
        );
    }
    assert_eq!(net_obs.documented, in_obs.documented);
    // The device itself refused the handshake, seen from its own event log over sockets.
    assert_eq!(net_obs.wire.tls, vec!["root-key-too-long".to_owned()]);
    assert_eq!((net_obs.hellos.sent, net_obs.hellos.delivered), (1, 1));
    Ok(())
}

#[test]
fn the_served_device_stops_with_its_scenario() -> Result {
    let loaded = Scenario::load(&catalog_dir().join("oob-success-sp2.yaml"))?;
    let (report, obs) = observe(&loaded, Backend::Network)?;
    assert!(report.passed(), "{}", describe(&report));
    // "Start provisioning AMT device … at 127.0.0.1:PORT, mode …": the device's TLS listener.
    let target = messages(&obs, LogFile::AmtOpMgr)
        .iter()
        .find_map(|m| {
            let rest = m.strip_prefix("Start provisioning AMT device ")?;
            let (_, after) = rest.split_once(" at ")?;
            after.split_once(',').map(|(addr, _)| addr.to_owned())
        })
        .ok_or("no provisioning start line")?;
    let addr: SocketAddr = target.parse()?;
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let connect = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2));
    assert!(
        connect.is_err(),
        "{addr} still accepts connections after the scenario"
    );
    Ok(())
}

/// Writes `text` as `dir/NAME.yaml` and loads it.
fn scenario_in(dir: &Path, name: &str, text: &str) -> Result<LoadedScenario> {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text)?;
    Ok(Scenario::load(&path)?)
}

#[test]
fn the_in_band_path_makes_its_heci_calls_on_the_served_device() -> Result {
    let dir = tempfile::tempdir()?;
    let loaded = scenario_in(
        dir.path(),
        "in-band",
        "id: net-in-band\ntitle: in band over loopback\nsource: test\n\
         provisioner: { mode: in-band }\ndevice: { provisioning: { heci_driver_present: true } }\n\
         environment:\n  computers:\n    - { name: AMT-DEVICE-01, uuid: 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d, \
         fqdn: amt-device-01.corp.amt-sim.test, client_installed: true, wired_ip: 127.0.0.1 }\n\
         expect:\n  outcome: provisioned\n  sessions: 1\n  device: { provisioning_state: post }\n",
    )?;
    let (in_report, in_obs) = observe(&loaded, Backend::InProcess)?;
    let (report, obs) = observe(&loaded, Backend::Network)?;
    assert!(in_report.passed(), "{}", describe(&in_report));
    assert!(report.passed(), "{}", describe(&report));
    assert_eq!(obs.sessions, in_obs.sessions);
    assert_eq!(obs.wire.calls, in_obs.wire.calls);
    Ok(())
}

#[test]
fn what_needs_the_virtual_clock_is_skipped_with_its_reason() -> Result {
    let dir = tempfile::tempdir()?;
    let window = scenario_in(
        dir.path(),
        "window",
        "id: net-window\ntitle: t\nsource: test\nsteps: [start_up, { hellos: 24h }]\n\
         expect: { outcome: no-session }\n",
    )?;
    let wait = scenario_in(
        dir.path(),
        "wait",
        "id: net-wait\ntitle: t\nsource: test\nsteps: [start_up, { wait: 10m }]\nexpect: {}\n",
    )?;
    let fleet = scenario_in(
        dir.path(),
        "fleet",
        "id: net-fleet\ntitle: t\nsource: test\nfleet: 50\nexpect: {}\n",
    )?;
    for (loaded, reason) in [
        (&window, "needs the virtual clock (Hello window of 24h)"),
        (&wait, "needs the virtual clock (wait of 10m)"),
        (&fleet, "a fleet of 50 devices"),
    ] {
        let report = runner::run_one(loaded, &options(Backend::Network));
        assert!(
            matches!(&report.verdict, Verdict::Skipped { reason: r } if r.to_string().contains(reason)),
            "{}",
            describe(&report)
        );
    }
    Ok(())
}

#[test]
fn a_small_fleet_provisions_every_device_over_loopback() -> Result {
    let dir = tempfile::tempdir()?;
    let loaded = scenario_in(
        dir.path(),
        "fleet",
        "id: net-fleet-3\ntitle: t\nsource: test\nfleet: 3\n\
         expect: { outcome: provisioned, sessions: 3, hellos: { sent: 3, delivered: 3 } }\n",
    )?;
    let (report, obs) = observe(&loaded, Backend::Network)?;
    assert!(report.passed(), "{}", describe(&report));
    let mut uuids: Vec<&str> = obs.sessions.iter().map(|s| s.uuid.as_str()).collect();
    uuids.dedup();
    assert_eq!(uuids.len(), 3, "{:?}", obs.sessions);
    Ok(())
}

/// An `amt-sim` device served on loopback by its network shell, HTTP on the TLS port minus one
/// (the AMT convention `--device` relies on). Stops with the runtime.
struct Served {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningDevice>,
    tls: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

fn serve_device() -> Result<Served> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    // Two adjacent free ports: take a free one for TLS and try the one below it for HTTP.
    let mut bound = None;
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let tls = probe.local_addr()?;
        drop(probe);
        let Some(http_port) = tls.port().checked_sub(1) else {
            continue;
        };
        let http = SocketAddr::new(tls.ip(), http_port);
        if let Ok(b) = runtime.block_on(Bound::bind(http, tls)) {
            bound = Some(b);
            break;
        }
    }
    let bound = bound.ok_or("no two adjacent free ports")?;
    let (http, tls) = (bound.http_addr()?, bound.tls_addr()?);
    let mut profile = DeviceProfile::default();
    profile.ports.http = http.port();
    profile.ports.tls = tls.port();
    profile.network.wired.ipv4 = Some(Ipv4Addr::LOCALHOST);
    let now = amt_sim::net::clock::now();
    let mut device = Device::new(profile, None, 7, now)?;
    device.set_bound_ports(http.port(), tls.port());
    let options = ShellOptions {
        hello: false,
        label: "external".into(),
        ..ShellOptions::default()
    };
    let running = {
        let _entered = runtime.enter();
        amt_sim::net::start(bound, device, options, None)
    };
    Ok(Served {
        runtime,
        running: Some(running),
        tls,
    })
}

#[test]
fn an_external_device_is_provisioned_and_read_back_over_its_tls_port() -> Result {
    let served = serve_device()?;
    let dir = tempfile::tempdir()?;
    let loaded = scenario_in(
        dir.path(),
        "external",
        "id: ext-success\ntitle: provision an external device\nsource: test\n\
         steps: [start_up, provision]\n\
         expect:\n  outcome: provisioned\n  amt_status: provisioned\n  sessions: 1\n\
         \x20 device: { provisioning_state: post, host_name: amt-device-01, domain_name: corp.amt-sim.test }\n\
         \x20 documented: []\n",
    )?;
    let profile = loaded.scenario.device.build(&loaded.base_dir)?;
    let needs = runner::requirements::requirements(&loaded.scenario, &profile, None);
    assert_eq!(
        runner::requirements::first_unmet(
            &needs,
            &runner::capabilities(Backend::Device(served.tls))
        ),
        None,
        "{needs:?}"
    );
    let (report, obs) = observe(&loaded, Backend::Device(served.tls))?;
    assert!(report.passed(), "{}", describe(&report));
    assert_eq!(report.backend, "device");
    assert!(
        obs.notes
            .iter()
            .any(|n| n.contains("device events are unavailable")),
        "{:?}",
        obs.notes
    );
    assert_eq!(obs.wire.http_requests, 0, "no device events from outside");
    // The session really went to the served device: it is provisioned now, and a second run
    // (same seed, so the site does not know the new password) fails to read it back as `pre`.
    let again = runner::run_one(&loaded, &options(Backend::Device(served.tls)));
    assert!(!again.passed(), "{}", describe(&again));
    Ok(())
}

#[test]
fn an_external_device_is_provisioned_then_removed_and_again() -> Result {
    let served = serve_device()?;
    let dir = tempfile::tempdir()?;
    let loaded = scenario_in(
        dir.path(),
        "external",
        "id: ext-remove\ntitle: provision, then remove\nsource: test\n\
         steps: [start_up, provision, { remove: full }]\n\
         expect:\n  outcome: provisioned\n  amt_status: not-provisioned\n  sessions: 1\n\
         \x20 device: { provisioning_state: pre }\n",
    )?;
    // The removal puts the device back to factory state, so the scenario can run again.
    for run in 0..2 {
        let (report, obs) = observe(&loaded, Backend::Device(served.tls))?;
        assert!(report.passed(), "run {run}: {}", describe(&report));
        let removal = "Removed the provisioning data of AMT device \
                       8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d. AMT status: Not Provisioned.";
        assert!(
            messages(&obs, LogFile::AmtOpMgr)
                .iter()
                .any(|m| m == removal),
            "{:?}",
            messages(&obs, LogFile::AmtOpMgr)
        );
    }
    Ok(())
}

#[test]
fn an_external_device_skips_wire_expectations_and_device_control() -> Result {
    let dir = tempfile::tempdir()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 16993));
    let wire = scenario_in(
        dir.path(),
        "wire",
        "id: ext-wire\ntitle: t\nsource: test\nsteps: [provision]\n\
         expect: { wire: { http_requests: 3 } }\n",
    )?;
    let report = runner::run_one(&wire, &options(Backend::Device(addr)));
    assert!(
        matches!(&report.verdict, Verdict::Skipped { reason } if reason.to_string().contains("expect.wire")),
        "{}",
        describe(&report)
    );
    let hellos = scenario_in(
        dir.path(),
        "hellos",
        "id: ext-hellos\ntitle: t\nsource: test\nexpect: { outcome: provisioned }\n",
    )?;
    let report = runner::run_one(&hellos, &options(Backend::Device(addr)));
    assert!(
        matches!(&report.verdict, Verdict::Skipped { reason } if reason.to_string().contains("Hellos")),
        "{}",
        describe(&report)
    );
    Ok(())
}
