//! The device conformance suite (`check-device`) against `amt-sim`'s tokio shell on loopback:
//! the default device, an AMT 6 and an AMT 16 device pass every applicable check; every
//! deviation of `amt-sim deviations` makes exactly its listed checks fail (the proof that each
//! of those checks can fail); DEVICE-CHECKS.md is what the catalog generates; the CLI's exit
//! codes and list output.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use amt_sim::deviation::{Deviation, DeviationSet};
use amt_sim::device::Device;
use amt_sim::net::{Bound, RunningDevice, ShellOptions, start};
use amt_sim::personality::Personality;
use amt_sim::profile::{DEFAULT_PROFILE_YAML, DeviceProfile};
use conformance::device_checks::{self, Config, SuiteReport, Verdict, report};
use provisioner_core::net::hello_listener::HelloListener;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The test roots' SHA-256 hash entries (certs/README.md), for profiles that list them.
const ROOT_4096: &str = "6b21b09476e0ad9d077d1d1058675170e710654531b5e4e76eeb39075d202cb2";
const ROOT_SHA1: &str = "246500edd84363e0ac6898d592cc502e9ba570f8533e0979cecbfef2542bc61d";

/// One device served on 127.0.0.1 (ports the OS picks) until dropped.
struct Served {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningDevice>,
    http: SocketAddr,
    tls: SocketAddr,
    hello: Option<HelloListener>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.shutdown());
        }
    }
}

/// The default profile with `personality` and extra hash-list lines.
fn profile(
    personality: &str,
    extra_hashes: &[(&str, &str, bool)],
) -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    let mut yaml = DEFAULT_PROFILE_YAML.replace(
        "personality: amt-11",
        &format!("personality: {personality}"),
    );
    let anchor = "default: false, active: true }\n";
    let mut lines = String::new();
    for (name, value, active) in extra_hashes {
        lines.push_str(&format!(
            "  - {{ name: {name}, algorithm: sha256, value: {value}, default: false, active: {active} }}\n"
        ));
    }
    yaml = yaml.replacen(anchor, &format!("{anchor}{lines}"), 1);
    Ok(DeviceProfile::from_yaml(&yaml, Path::new("."))?)
}

fn serve(
    mut profile: DeviceProfile,
    deviations: &[Deviation],
    hello: bool,
) -> Result<Served, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = if hello {
        Some(HelloListener::bind(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            0,
        )))?)
    } else {
        None
    };
    if let Some(l) = &listener {
        profile.provisioning.server = Some(l.local_addr().to_string());
    }
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let bound = runtime.block_on(Bound::bind(any, any))?;
    let (http, tls) = (bound.http_addr()?, bound.tls_addr()?);
    profile.ports.http = http.port();
    profile.ports.tls = tls.port();
    let mut device = Device::new(profile, None, 7, amt_sim::net::clock::now())?;
    device.set_bound_ports(http.port(), tls.port());
    device.set_deviations(DeviationSet::of(deviations));
    let options = ShellOptions {
        hello,
        idle_timeout: Duration::from_secs(10),
        ..ShellOptions::default()
    };
    let running = {
        let _guard = runtime.enter();
        start(bound, device, options, None)
    };
    Ok(Served {
        runtime,
        running: Some(running),
        http,
        tls,
        hello: listener,
    })
}

fn check(
    served: &mut Served,
    personality: Personality,
) -> Result<SuiteReport, Box<dyn std::error::Error>> {
    let config = Config {
        tls: served.tls,
        http: served.http,
        admin_password: Some("admin".into()),
        personality: Some(personality),
        allow_reset: true,
        hello: served.hello.take(),
        hello_wait: Duration::from_secs(20),
        filter: Vec::new(),
        certs: device_checks::default_certs_dir(),
    };
    Ok(device_checks::run(config)?)
}

fn assert_all_pass(report: &SuiteReport, hello: bool) {
    let (passed, failed, _) = report.counts();
    assert_eq!(failed, 0, "{}", report::human(report));
    assert!(passed >= 60, "{passed} passed\n{}", report::human(report));
    if hello {
        for id in ["HELLO-01", "HELLO-02", "HELLO-03", "HELLO-04"] {
            assert!(
                report
                    .results
                    .iter()
                    .any(|r| r.id == id && r.verdict == Verdict::Pass),
                "{id}\n{}",
                report::human(report)
            );
        }
    }
    // The state machine ran (destructive checks allowed) and left the device unprovisioned.
    assert!(
        report
            .results
            .iter()
            .any(|r| r.id == "STATE-08" && r.verdict == Verdict::Pass),
        "{}",
        report::human(report)
    );
}

#[test]
fn the_default_device_passes_every_applicable_check() -> TestResult {
    let mut served = serve(profile("amt-11", &[])?, &[], true)?;
    let report = check(&mut served, Personality::Amt11)?;
    assert_all_pass(&report, true);
    // A second run finds the device unprovisioned again and passes again.
    let again = check(&mut served, Personality::Amt11)?;
    assert_eq!(again.counts().1, 0, "{}", report::human(&again));
    Ok(())
}

#[test]
fn amt6_and_amt16_devices_pass_every_applicable_check_of_their_personality() -> TestResult {
    // AMT 6: the RSA-4096 root listed and active (refused by the key limit), the SHA-1 root listed
    // inactive. AMT 16: the SHA-1 root active (refused: no SHA-1), the RSA-4096 root inactive.
    let six = profile(
        "amt-6",
        &[
            ("RSA-4096 Test Root", ROOT_4096, true),
            ("SHA-1 Test Root", ROOT_SHA1, false),
        ],
    )?;
    let sixteen = profile(
        "amt-16",
        &[
            ("SHA-1 Test Root", ROOT_SHA1, true),
            ("RSA-4096 Test Root", ROOT_4096, false),
        ],
    )?;
    let reports = std::thread::scope(|s| {
        let a = s.spawn(move || {
            serve(six, &[], false)
                .and_then(|mut d| check(&mut d, Personality::Amt6))
                .map_err(|e| e.to_string())
        });
        let b = s.spawn(move || {
            serve(sixteen, &[], false)
                .and_then(|mut d| check(&mut d, Personality::Amt16))
                .map_err(|e| e.to_string())
        });
        (a.join(), b.join())
    });
    let (Ok(six), Ok(sixteen)) = reports else {
        return Err("a device thread panicked".into());
    };
    let (six, sixteen) = (six?, sixteen?);
    assert_all_pass(&six, false);
    assert_all_pass(&sixteen, false);
    let passed = |r: &SuiteReport, id: &str| {
        r.results
            .iter()
            .any(|c| c.id == id && c.verdict == Verdict::Pass)
    };
    // The personality decides which chain rules apply.
    assert!(passed(&six, "TLS-15") && passed(&six, "TLS-18") && passed(&six, "TLS-14"));
    assert!(passed(&sixteen, "TLS-17") && passed(&sixteen, "TLS-19") && passed(&sixteen, "TLS-14"));
    assert!(!passed(&six, "TLS-17") && !passed(&sixteen, "TLS-18"));
    Ok(())
}

#[test]
fn every_deviation_fails_exactly_its_listed_checks() -> TestResult {
    let outcomes: Vec<(Deviation, Result<Vec<&'static str>, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = Deviation::ALL
            .into_iter()
            .map(|d| {
                s.spawn(move || {
                    let run = || -> Result<Vec<&'static str>, Box<dyn std::error::Error>> {
                        let mut served = serve(profile("amt-11", &[])?, &[d], false)?;
                        let report = check(&mut served, Personality::Amt11)?;
                        assert_eq!(report.exit_code(), 1, "{d}: {}", report::human(&report));
                        Ok(report.failed_ids())
                    };
                    (d, run().map_err(|e| e.to_string()))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    assert_eq!(
        outcomes.len(),
        Deviation::ALL.len(),
        "a deviation thread panicked"
    );
    let mut wrong = Vec::new();
    for (d, failed) in outcomes {
        let mut failed = failed?;
        failed.sort_unstable();
        let mut listed = d.row().checks.to_vec();
        listed.sort_unstable();
        if failed != listed {
            wrong.push(format!("{d}: failed {failed:?}, listed {listed:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

#[test]
fn every_listed_check_id_exists() {
    for d in Deviation::ALL {
        for id in d.row().checks {
            assert!(report::find(id).is_some(), "{d} names unknown check {id}");
        }
    }
}

#[test]
fn device_checks_md_is_generated_from_the_catalog() -> TestResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("DEVICE-CHECKS.md");
    let want = report::markdown() + "\n";
    if std::env::var("AMT_CONFORMANCE_UPDATE").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want)?;
    }
    let have = std::fs::read_to_string(&path)?;
    assert!(
        have == want,
        "DEVICE-CHECKS.md differs from the catalog: regenerate with AMT_CONFORMANCE_UPDATE=1 cargo test -p conformance --test device_checks"
    );
    assert!(device_checks::CHECKS.len() >= 60);
    Ok(())
}

#[test]
fn the_personality_selects_the_applicable_checks() {
    let six = report::list(Some(Personality::Amt6));
    let sixteen = report::list(Some(Personality::Amt16));
    assert_ne!(six, sixteen);
    let line = |list: &str, id: &str| {
        list.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line(&six, "TLS-15").contains(" applies "),
        "{}",
        line(&six, "TLS-15")
    );
    assert!(
        line(&sixteen, "TLS-15").contains("n/a"),
        "{}",
        line(&sixteen, "TLS-15")
    );
    assert!(line(&six, "TLS-17").contains("n/a"));
    assert!(line(&sixteen, "TLS-17").contains(" applies "));
    assert!(line(&six, "OBJ-09").contains("n/a"));
}

#[test]
fn cli_exit_codes_formats_and_list() -> TestResult {
    let bin = env!("CARGO_BIN_EXE_amt-conformance");
    // Unreachable: a port nobody listens on (bound, then closed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let out = Command::new(bin)
        .args([
            "check-device",
            "--tls",
            &closed.to_string(),
            "--http",
            &closed.to_string(),
        ])
        .output()?;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("check-device/unreachable"));
    let out = Command::new(bin)
        .args(["check-device", "--list", "--personality", "amt-6"])
        .output()?;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().count() > 60 && text.contains("checks apply to amt-6"),
        "{text}"
    );
    let out = Command::new(bin)
        .args(["check-device", "--list", "--personality", "amt-99"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));

    // A run with a failure: human lines, exit 1, JSON and JUnit and HTML in the report dir.
    let served = serve(
        profile("amt-11", &[])?,
        &[Deviation::AcceptReplayedNc],
        false,
    )?;
    let dir = tempfile::tempdir()?;
    let out = Command::new(bin)
        .args([
            "check-device",
            "--tls",
            &served.tls.to_string(),
            "--http",
            &served.http.to_string(),
        ])
        .args([
            "--admin-password",
            "admin",
            "--personality",
            "amt-11",
            "--filter",
            "DIGEST",
            "--filter",
            "HTTP-0",
        ])
        .arg("--report-dir")
        .arg(dir.path())
        .output()?;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(last, "21 passed, 1 failed, 0 skipped", "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("FAIL DIGEST-07 ")),
        "{text}"
    );
    assert!(
        text.contains("expected: the replayed nc=1 refused with 401"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        dir.path().join("check-device.json"),
    )?)?;
    assert_eq!(json["kind"], "check-device");
    assert_eq!(json["summary"]["failed"], 1);
    assert_eq!(json["results"][0]["id"], "HTTP-01");
    let junit = std::fs::read_to_string(dir.path().join("check-device.xml"))?;
    assert!(junit.contains("<failure") && junit.contains("DIGEST-07"));
    let html = std::fs::read_to_string(dir.path().join("check-device.html"))?;
    assert!(html.contains("21 passed, 1 failed, 0 skipped") && !html.contains("<script"));
    Ok(())
}
