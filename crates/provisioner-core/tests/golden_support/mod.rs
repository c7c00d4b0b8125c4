//! Golden exchanges shared by the replay tests (`provisioner-core/tests/golden.rs`) and the
//! capture/drift test (`conformance/tests/provisioner/golden.rs`, which includes this module by
//! path): the file format, the scripted TLS device, the replay backend, and the session cases
//! with the exact inputs both sides run the provisioner with.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by two test crates by path, each using a part of it"
)]

pub mod format;
pub mod replay;
pub mod scripted;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;

use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::clock::VirtualClock;
use provisioner_core::directory::Directory;
use provisioner_core::env::{AmtAccount, ConfigMgrVersion, Environment};
use provisioner_core::events::EventLog;
use provisioner_core::logs::{LogConfig, Logs};
use provisioner_core::servicepoint::Mode;
use provisioner_core::session::{self, SessionCtx, SessionResult};
use provisioner_core::tls::ClientIdentity;
use provisioner_core::transport::Connector;
use rand::SeedableRng as _;

use format::Golden;
use replay::Replay;
use scripted::ScriptedConnector;

/// The environment variable that makes the conformance test rewrite the golden files.
pub const CAPTURE_VAR: &str = "AMT_SIM_CAPTURE_GOLDEN";

/// The simulated device's wired address and TLS port (default device profile).
pub const DEVICE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 16993);

/// The session inputs of one golden exchange set (the device side of the capture lives in the
/// conformance crate, keyed by `name`).
#[derive(Clone, Debug)]
pub struct Case {
    /// File stem under `tests/data/golden/`.
    pub name: &'static str,
    /// ConfigMgr version.
    pub version: ConfigMgrVersion,
    /// Provisioning certificate stem under `certs/`.
    pub identity: &'static str,
    /// Schannel hotfix 942841 (send the root).
    pub hotfix: bool,
    /// Passwords of the `admin` accounts tried in order; empty = the test site's accounts.
    pub passwords: &'static [&'static str],
    /// Request timeout override (ms).
    pub request_ms: Option<u64>,
    /// Where the session connects.
    pub target: SocketAddr,
}

const fn case(name: &'static str) -> Case {
    Case {
        name,
        version: ConfigMgrVersion::Sp2,
        identity: "prov-oid",
        hotfix: true,
        passwords: &[],
        request_ms: None,
        target: DEVICE,
    }
}

/// Every golden exchange set.
pub const CASES: &[Case] = &[
    Case {
        version: ConfigMgrVersion::Sp1,
        ..case("sp1-success")
    },
    case("sp2-success"),
    Case {
        passwords: &["Wrong-1!pass", "Mebx!Pass-3"],
        ..case("credential-fallback")
    },
    Case {
        passwords: &["Mebx!Pass-3"],
        request_ms: Some(600_000),
        ..case("stale-nonce")
    },
    Case {
        version: ConfigMgrVersion::Sp1,
        hotfix: false,
        ..case("tls-alert-root-missing-sp1")
    },
    Case {
        hotfix: false,
        ..case("tls-alert-root-missing-sp2")
    },
    Case {
        identity: "prov-root4096",
        ..case("tls-alert-root-4096")
    },
    case("tls-closed-after-server-hello"),
    Case {
        identity: "prov-root4096",
        ..case("tls-closed-after-server-hello-root-4096")
    },
    case("tls-closed-after-client-flight"),
    Case {
        target: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 16993),
        ..case("connect-timeout")
    },
    Case {
        version: ConfigMgrVersion::Sp1,
        target: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 16993),
        ..case("connect-timeout-sp1")
    },
    case("stage1-commit-fails"),
    case("stage2-redirection-fails"),
    case("stage2-connection-dropped"),
];

/// The case named `name`.
pub fn case_named(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

/// `crates/provisioner-core/tests/data/golden/<name>.golden` (works from either crate).
pub fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../provisioner-core/tests/data/golden")
        .join(format!("{name}.golden"))
}

/// The checked-in exchange set of `name`.
pub fn load(name: &str) -> Result<Golden, String> {
    let path = golden_path(name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Golden::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A provisioning identity from `certs/`.
pub fn identity(stem: &str) -> Result<ClientIdentity, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs");
    let read = |name: String| std::fs::read(dir.join(&name)).map_err(|e| format!("{name}: {e}"));
    let chain = read(format!("{stem}.chain.pem"))?;
    let key = read(format!("{stem}.TEST-ONLY.key.pem"))?;
    ClientIdentity::from_pem(&chain, &key).map_err(|e| e.to_string())
}

/// The test site with the case's changes.
pub fn environment(case: &Case) -> Environment {
    let mut env = Environment::default_for_tests();
    env.configmgr.version = case.version;
    env.schannel_hotfix = case.hotfix;
    if !case.passwords.is_empty() {
        env.accounts = case
            .passwords
            .iter()
            .map(|p| AmtAccount {
                user: "admin".into(),
                password: (*p).into(),
            })
            .collect();
    }
    if let Some(ms) = case.request_ms {
        env.timeouts.request_ms = ms;
    }
    env
}

/// What one session left behind.
pub struct Run {
    pub result: SessionResult,
    pub logs: Logs,
    pub events: EventLog,
}

/// Runs the provisioning session of `case` over `connector` on `clock` (seeded: the same inputs
/// every time).
pub fn run_session(
    case: &Case,
    connector: &mut dyn Connector,
    clock: &VirtualClock,
) -> Result<Run, String> {
    let env = environment(case);
    let computer = env
        .computers
        .first()
        .cloned()
        .ok_or("the test site has no computer")?;
    let identity = identity(case.identity)?;
    let mut ca = EnterpriseCaModel::test_default().map_err(|e| e.to_string())?;
    let mut directory = Directory::from_env(&env.active_directory);
    let mut logs = Logs::new(LogConfig::default());
    let mut events = EventLog::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let result = session::provision(&mut SessionCtx {
        env: &env,
        computer: &computer,
        target: case.target,
        mode: Mode::OutOfBand,
        identity: &identity,
        cert_index: 0,
        connector,
        clock,
        logs: &mut logs,
        events: &mut events,
        directory: &mut directory,
        ca: &mut ca,
        rng: &mut rng,
        journal: None,
    });
    Ok(Run {
        result,
        logs,
        events,
    })
}

/// Replays the checked-in exchange set of `case` through the scripted device; returns the run
/// and the replay's verdict on the requests (`Err` lists every mismatch).
pub fn replay(case: &Case) -> Result<(Run, Result<(), String>), String> {
    replay_golden(case, load(case.name)?)
}

/// Replays `golden` with the session inputs of `case`.
pub fn replay_golden(case: &Case, golden: Golden) -> Result<(Run, Result<(), String>), String> {
    let backend = Rc::new(RefCell::new(Replay::new(golden)));
    let mut connector = ScriptedConnector::new(backend.clone());
    let clock = VirtualClock::default();
    let run = run_session(case, &mut connector, &clock)?;
    let verdict = backend.borrow().verify();
    Ok((run, verdict))
}
