//! The device conformance suite (`amt-conformance check-device`): requirement checks with ids
//! and sources, run against a device at an address (a real AMT device or `amt-sim serve`), each
//! giving PASS, FAIL with evidence, or SKIP with a typed reason.
//!
//! - [`catalog`]: the requirement table (one row per check: id, area, kind, personalities,
//!   requirement, source) and the check functions.
//! - [`probe`]: connections, raw HTTP, digest answers and WS-MAN envelopes over
//!   `provisioner_core`'s `TcpConnector` and `TlsStream` and the `amt_wire` codecs.
//! - [`report`]: the human, JSON and JUnit reports of a run (HTML: [`crate::html`]).
//!
//! Like the external-device arm of the scenario runner (`runner::network::External`), the suite
//! has no control over the device: it only connects to the TLS port (and the HTTP port, by
//! default one below), with the admin password when given. Destructive checks (provisioning,
//! unprovisioning) run only with `allow_reset` and leave the device unprovisioned again.

pub mod catalog;
pub mod probe;
pub mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use amt_sim::personality::{Personality, PersonalityTraits};
use provisioner_core::net::hello_listener::HelloListener;
use serde::Serialize;
use thiserror::Error;

pub use catalog::{Applies, Area, CHECKS, Check, Kind};

/// How long the Hello checks wait for the first Hello.
pub const HELLO_WAIT: Duration = Duration::from_secs(90);

/// What to check and how to reach the device.
#[derive(Debug)]
pub struct Config {
    /// The device's TLS port (16993).
    pub tls: SocketAddr,
    /// The device's plain HTTP port (16992).
    pub http: SocketAddr,
    /// The admin password (before provisioning: the MEBx password, `admin` from the factory).
    pub admin_password: Option<String>,
    /// The firmware generation whose rules apply; `None`: read from Identify.
    pub personality: Option<Personality>,
    /// Destructive checks may run (the device is provisioned and unprovisioned again).
    pub allow_reset: bool,
    /// Where the device's Hellos arrive.
    pub hello: Option<HelloListener>,
    /// How long to wait for the first Hello.
    pub hello_wait: Duration,
    /// Only checks whose id equals or starts with one of these.
    pub filter: Vec<String>,
    /// The test PKI (`certs/`): provisioning chains and keys.
    pub certs: PathBuf,
}

/// Why the run could not start (exit 2).
#[derive(Debug, Error)]
pub enum SuiteError {
    /// Neither port answers.
    #[error("device unreachable: {0}")]
    Unreachable(String),
    /// A filter matches no check.
    #[error("--filter {0:?} matches no check")]
    EmptyFilter(String),
    /// The test PKI cannot be read.
    #[error("test PKI: {0}")]
    Certs(String),
}

impl SuiteError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "check-device/unreachable",
            Self::EmptyFilter(_) => "check-device/empty-filter",
            Self::Certs(_) => "check-device/certs",
        }
    }
}

/// Why a check was not run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "id", rename_all = "kebab-case")]
pub enum SkipReason {
    /// A destructive check without `--allow-reset`.
    NeedsReset,
    /// The check needs `--admin-password`.
    NeedsAdminPassword,
    /// The check needs `--hello-listen`.
    NeedsHelloListener,
    /// The check does not apply to the device's firmware generation.
    NotApplicable {
        /// The personality in force.
        personality: String,
        /// What the check applies to.
        applies: String,
    },
    /// No personality given and none could be read from the device.
    PersonalityUnknown,
    /// The device is not in the state the check needs (e.g. provisioned, for the setup port).
    DeviceState {
        /// What was needed.
        needs: String,
    },
    /// Something the check builds on is missing (a root in the hash list, an earlier step).
    Prerequisite {
        /// What.
        detail: String,
    },
}

impl SkipReason {
    /// Stable id (`skip/…`).
    pub fn id(&self) -> &'static str {
        match self {
            Self::NeedsReset => "skip/needs-reset",
            Self::NeedsAdminPassword => "skip/needs-admin-password",
            Self::NeedsHelloListener => "skip/needs-hello-listener",
            Self::NotApplicable { .. } => "skip/not-applicable",
            Self::PersonalityUnknown => "skip/personality-unknown",
            Self::DeviceState { .. } => "skip/device-state",
            Self::Prerequisite { .. } => "skip/prerequisite",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NeedsReset => f.write_str("destructive: needs --allow-reset"),
            Self::NeedsAdminPassword => f.write_str("needs --admin-password"),
            Self::NeedsHelloListener => f.write_str("needs --hello-listen"),
            Self::NotApplicable {
                personality,
                applies,
            } => write!(f, "not applicable to {personality} (applies to: {applies})"),
            Self::PersonalityUnknown => {
                f.write_str("personality unknown: pass --personality (Identify gave no version)")
            }
            Self::DeviceState { needs } => write!(f, "device state: needs {needs}"),
            Self::Prerequisite { detail } => write!(f, "prerequisite: {detail}"),
        }
    }
}

/// What a failed check shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// What the requirement expects.
    pub expected: String,
    /// What came back.
    pub actual: String,
    /// The request/response excerpts of the check (clipped).
    pub exchange: Vec<String>,
}

/// The verdict of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// The requirement holds.
    Pass,
    /// It does not.
    Fail(Evidence),
    /// Not run.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

impl Verdict {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail(_) => "FAIL",
            Self::Skip { .. } => "SKIP",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The check id (`DIGEST-07`).
    pub id: &'static str,
    /// Its area.
    pub area: Area,
    /// Its kind.
    pub kind: Kind,
    /// The requirement sentence.
    pub requirement: &'static str,
    /// Where it comes from.
    pub source: &'static str,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Wall time, milliseconds.
    pub wall_ms: u64,
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// The TLS address checked.
    pub target: String,
    /// The personality whose rules applied (given or read), if any.
    pub personality: Option<String>,
    /// Where the personality came from: `given`, `identify`, or `unknown`.
    pub personality_source: &'static str,
    /// Every selected check, in catalog order.
    pub results: Vec<CheckResult>,
}

impl SuiteReport {
    /// (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.results {
            match r.verdict {
                Verdict::Pass => c.0 += 1,
                Verdict::Fail(_) => c.1 += 1,
                Verdict::Skip { .. } => c.2 += 1,
            }
        }
        c
    }

    /// Exit code: 0 all applicable passed, 1 a check failed.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.counts().1 > 0)
    }

    /// Ids of the failed checks.
    pub fn failed_ids(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail(_)))
            .map(|r| r.id)
            .collect()
    }
}

/// The repository's test PKI (`certs/`), where the provisioning chains live.
pub fn default_certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs")
}

/// Whether `id` is selected by `filter` (empty: all; else equal to or starting with an entry,
/// case-insensitive).
pub fn selected(id: &str, filter: &[String]) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            id.len() >= f.len() && id.get(..f.len()).is_some_and(|p| p.eq_ignore_ascii_case(f))
        })
}

/// The personality whose Identify `ProductVersion` is `version`: the newest generation whose
/// major version is at most the device's.
pub fn personality_for_version(version: &str) -> Option<Personality> {
    let major: u8 = version.split('.').next()?.trim().parse().ok()?;
    Personality::ALL
        .iter()
        .rev()
        .find(|p| p.traits().amt_major <= major)
        .copied()
}

/// Whether `check` applies to `traits` (personality known) — the capability statement.
pub fn applies(check: &Check, traits: &PersonalityTraits) -> bool {
    check.applies.holds(traits)
}

/// Runs the selected checks in catalog order.
pub fn run(config: Config) -> Result<SuiteReport, SuiteError> {
    for f in &config.filter {
        if !CHECKS
            .iter()
            .any(|c| selected(c.id, std::slice::from_ref(f)))
        {
            return Err(SuiteError::EmptyFilter(f.clone()));
        }
    }
    let http_up = probe::Conn::plain(config.http).is_ok();
    let tls_up = probe::Conn::plain(config.tls).is_ok();
    if !http_up && !tls_up {
        return Err(SuiteError::Unreachable(format!(
            "neither {} (HTTP) nor {} (TLS) accepts a connection",
            config.http, config.tls
        )));
    }
    catalog::run_all(config)
}
