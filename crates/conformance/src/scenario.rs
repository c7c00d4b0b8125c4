//! The scenario file format (YAML): what device, site and flow to run, and what must come out.
//!
//! A scenario names its source, describes the device (the embedded default profile, a profile
//! file, and/or overrides of any top-level profile key), the environment (the default test site,
//! an environment file, and/or overrides of any top-level environment key), the provisioner
//! settings, the flow to run, and the expectations. Every key is optional except `id`, `title`,
//! `source` and `expect`; unknown keys are errors. Paths are relative to the scenario file.
//! Errors point at file, line and column with a snippet ([`ScenarioError`], rendered by miette).
//! The format is documented field by field in `scenarios/README.md`; `amt-conformance schema`
//! prints its JSON Schema (checked in as `scenarios/scenario.schema.json`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use amt_sim::faults::{DurationText, FaultSpec};
use amt_sim::profile::DeviceProfile;
use provisioner_core::env::{ConfigMgrVersion, Environment, ProvisioningCertRef};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::expect::{
    DeviceExpect, Expect, ExpectedOutcome, HelloExpect, StateName, WireExpect,
};
use crate::overlay::Overlay;

/// One scenario file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique id, used by `--filter`, reports and bundles (e.g. `a18-root-key-over-2048`).
    pub id: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Where the case comes from: an error-catalog entry (`error-catalog A-18`), a seed or a
    /// field report. `explain` finds scenarios by the entry named here.
    pub source: String,
    /// Free tags for filtering (`--filter tag:tls`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Anything a reader should know (why the expectations are what they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Seed of every random choice (device nonces, passwords, OTPs); default 2007.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The device (or every device of the fleet).
    #[serde(default)]
    pub device: DeviceSpec,
    /// The ConfigMgr site: service point, site server, AD, CA, DNS.
    #[serde(default)]
    pub environment: EnvSpec,
    /// Provisioner settings: mode, service pack, provisioning certificate.
    #[serde(default)]
    pub provisioner: ProvisionerSpec,
    /// Run this many devices (same profile, distinct UUIDs, names and addresses) against the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<u32>,
    /// The flow to run, in order. Default: `[start_up, {hellos: first}]` out of band,
    /// `[in_band]` in band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<FlowStep>>,
    /// What must come out.
    pub expect: Expect,
}

/// The device: a base profile plus overrides of its top-level keys (`crates/amt-sim/PROFILE.md`).
/// Every top-level profile key may be given ([`Overlay`]); `faults` are added to the profile's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// A profile file to start from (relative to the scenario); default: the embedded default
    /// profile (`crates/amt-sim/profiles/default.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Injected faults (step-addressed, certificate policy, network), added to the profile's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// Top-level profile keys replacing the base's (`personality`, `hashes`, `network`, …).
    #[serde(flatten)]
    pub overrides: Overlay<DeviceProfile>,
}

impl JsonSchema for DeviceSpec {
    fn schema_name() -> Cow<'static, str> {
        "DeviceSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let profile = json_schema!({
            "description": "A profile file to start from (relative to the scenario); default: \
                            the embedded default profile (`crates/amt-sim/profiles/default.yaml`).",
            "type": "string",
        });
        let mut faults = generator.subschema_for::<Vec<FaultSpec>>();
        if let Some(obj) = faults.as_object_mut() {
            obj.insert(
                "description".to_owned(),
                serde_json::Value::from(
                    "Injected faults (step-addressed, certificate policy, network), added to the \
                     profile's.",
                ),
            );
        }
        Overlay::<DeviceProfile>::schema_with(
            generator,
            "The device: a base profile plus overrides of its top-level keys \
             (crates/amt-sim/PROFILE.md); `faults` are added to the profile's.",
            &[("profile", profile), ("faults", faults)],
        )
    }
}

/// The site: a base environment plus overrides of its top-level keys
/// (`crates/provisioner-core/examples/env/default.yaml`): every top-level environment key may be
/// given ([`Overlay`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EnvSpec {
    /// An environment file to start from (relative to the scenario). It is read when the
    /// scenario runs, so an environment the service point refuses is an outcome
    /// (`expect.config_error`), not a broken scenario. Default: the test site, which has the
    /// default device imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Top-level environment keys replacing the base's (`configmgr`, `computers`, `dns`, …).
    #[serde(flatten)]
    pub overrides: Overlay<Environment>,
}

impl JsonSchema for EnvSpec {
    fn schema_name() -> Cow<'static, str> {
        "EnvSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let file = json_schema!({
            "description": "An environment file to start from (relative to the scenario). It is \
                            read when the scenario runs, so an environment the service point \
                            refuses is an outcome (`expect.config_error`), not a broken scenario. \
                            Default: the test site, which has the default device imported.",
            "type": "string",
        });
        Overlay::<Environment>::schema_with(
            generator,
            "The site: a base environment plus overrides of its top-level keys \
             (crates/provisioner-core/examples/env/default.yaml).",
            &[("file", file)],
        )
    }
}

/// How the provisioner runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionerSpec {
    /// Out of band (Hello-driven) or in band (client agent, OTP). Sets the default flow and, for
    /// in band, marks every imported computer `client_installed`.
    #[serde(default)]
    pub mode: ModeSpec,
    /// ConfigMgr 2007 service pack (shorthand for `environment.configmgr.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ConfigMgrVersion>,
    /// The provisioning certificate (shorthand for a one-entry
    /// `environment.provisioning_certificates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSpec>,
}

/// Out of band or in band.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModeSpec {
    /// Hello → service point → session.
    #[default]
    OutOfBand,
    /// Client agent → site server (OTP) → session.
    InBand,
}

/// A provisioning certificate chain and key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// PEM chain, leaf first, up to and including the root.
    pub chain: String,
    /// PEM (PKCS#8) key of the leaf.
    pub key: String,
}

/// One step of the flow.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FlowStep {
    /// Service point start-up checks (ProvisionServer alias, certificate expiry).
    StartUp,
    /// Deliver the device's Hellos and run the sessions they start: `first` (the Hellos due
    /// now), or a window such as `24h` (every Hello due within it, on the virtual clock).
    Hellos(HelloWindow),
    /// Provision every device directly from its imported record, without a Hello (as
    /// `amt-provision --device` does; e.g. a device that is already provisioned sends none).
    Provision,
    /// The in-band path: the client agent reads the hashes over HECI, sets the OTP and asks the
    /// site server, which starts the session.
    InBand,
    /// Remove the provisioning data: `full` is the console's "Remove provisioning data" (revoke,
    /// delete the AD account, `Unprovision` over management TLS); `partial` is a local
    /// `PartialUnprovision` by the admin (keeps the admin ACL and names).
    Remove(RemovalKind),
    /// Let virtual time pass (`10m`); despooler retries and the policy provider's daily check of
    /// a hierarchy run at their own times within it.
    Wait(DurationText),
    /// A site of `environment.hierarchy` that was not installed is installed (`S01`): it sends its
    /// key exchange instruction and site data to its parent.
    InstallSite(String),
    /// A site is recovered with a new key pair (`S01`); it sends its new key to its parent.
    RecoverSite(String),
    /// `preinst.exe /<option>` on a site server: a key file (`S01.CT4`) at its drive root.
    Preinst(PreinstStep),
    /// Copy a key file preinst wrote into another site's inbox (`hman.box` or `hman.box/pubkey`).
    CopyKey(CopyKeyStep),
    /// A site sends an instruction to another (`site-data`, `package`, `key-exchange`).
    SendInstruction(SendStep),
    /// Configure a primary site with a new site server signing certificate (new key pair) from
    /// a root CA; every policy is re-signed.
    RenewSigningCertificate(RenewStep),
    /// Every ConfigMgr client of the hierarchy downloads its policy.
    PolicyCycle,
    /// A script deletes the data of the client's `AllowedRootCAHashCode` under a registry key
    /// (default: the right one for its OS).
    ClearAllowedRoot(ClearRootStep),
    /// Reinstall a client with the current signing certificate (`CCMSetup.exe /native
    /// SMSSIGNCERT=…`).
    ReinstallClient(String),
}

/// `preinst: { site: S01, option: keyforparent }`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreinstStep {
    /// The site server preinst runs on.
    pub site: String,
    /// `keyforparent` (`<site>.CT4`), `keyforchild` (`.CT5`), `childkeys` (`.CT6`), `parentkeys`
    /// (`.CT7`).
    pub option: provisioner_core::site::PreinstOption,
}

/// `copy_key: { file: S01.CT4, from: S01, to: P01, folder: hman.box }`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyKeyStep {
    /// The file preinst wrote.
    pub file: String,
    /// The site whose drive root holds it.
    pub from: String,
    /// The receiving site.
    pub to: String,
    /// `hman.box` (default; imported) or `hman.box/pubkey` (never looked at).
    #[serde(default)]
    pub folder: provisioner_core::site::KeyFolder,
}

/// `send_instruction: { from: P01, to: S01, what: package }`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The sending site.
    pub from: String,
    /// The receiving site.
    pub to: String,
    /// `site-data`, `package` or `key-exchange`.
    pub what: provisioner_core::site::Payload,
}

/// `renew_signing_certificate: { site: P01, root: corp-root-2027, valid_days: 365 }`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewStep {
    /// The primary site.
    pub site: String,
    /// The root CA the new certificate chains to.
    pub root: String,
    /// Days until it expires (default 365).
    #[serde(default = "default_valid_days")]
    pub valid_days: u32,
}

fn default_valid_days() -> u32 {
    365
}

/// `clear_allowed_root: { client: PC-01, path: "HKLM\\SOFTWARE\\Microsoft\\CCM\\Security" }`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRootStep {
    /// The client.
    pub client: String,
    /// The registry key the script edits; default: the client OS's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl FlowStep {
    /// The hierarchy command of a site step; `None` for the other steps.
    pub fn site_command(&self) -> Option<provisioner_core::site::Command> {
        use provisioner_core::site::Command;
        Some(match self {
            Self::InstallSite(s) => Command::InstallSite(s.clone()),
            Self::RecoverSite(s) => Command::RecoverSite(s.clone()),
            Self::Preinst(p) => Command::Preinst {
                site: p.site.clone(),
                option: p.option,
            },
            Self::CopyKey(c) => Command::CopyKey {
                file: c.file.clone(),
                from: c.from.clone(),
                to: c.to.clone(),
                folder: c.folder,
            },
            Self::SendInstruction(s) => Command::Send {
                from: s.from.clone(),
                to: s.to.clone(),
                payload: s.what,
            },
            Self::RenewSigningCertificate(r) => Command::RenewSigningCertificate {
                site: r.site.clone(),
                root: r.root.clone(),
                valid_days: r.valid_days,
            },
            Self::PolicyCycle => Command::PolicyCycle,
            Self::ClearAllowedRoot(c) => Command::ClearAllowedRoot {
                client: c.client.clone(),
                path: c.path.clone(),
            },
            Self::ReinstallClient(c) => Command::ReinstallClient(c.clone()),
            Self::StartUp
            | Self::Hellos(_)
            | Self::Provision
            | Self::InBand
            | Self::Remove(_)
            | Self::Wait(_) => return None,
        })
    }
}

/// Which Hellos a `hellos` step delivers.
#[derive(Clone, Debug, Eq, PartialEq, JsonSchema)]
#[schemars(
    with = "String",
    description = "`first` or a window such as `90m`, `24h`"
)]
pub enum HelloWindow {
    /// The Hellos due now.
    First,
    /// Every Hello due within this span from now.
    Within(DurationText),
}

impl Serialize for HelloWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::First => s.serialize_str("first"),
            Self::Within(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for HelloWindow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "first" {
            return Ok(Self::First);
        }
        DurationText::parse(&text)
            .map(Self::Within)
            .map_err(|e| serde::de::Error::custom(format!("{e} (or `first`)")))
    }
}

/// Full or partial removal.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalKind {
    /// The site's removal (`Unprovision`).
    Full,
    /// The admin's `PartialUnprovision` on the device.
    Partial,
}

/// A scenario read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its directory: the base of relative paths.
    pub base_dir: PathBuf,
    /// The file's text (kept for bundles).
    pub text: String,
}

/// Why a scenario file could not be used.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML does not fit the format (syntax, type, unknown key).
    #[error("{path}:{line}:{column}: {message}\n{rendered}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// The message without location.
        message: String,
        /// The miette report: location, code snippet and label.
        rendered: String,
    },
    /// The file parsed but a value is unusable.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ScenarioError {
    /// Stable id for tests and JSON output.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Read { .. } => "scenario/read",
            Self::Yaml { .. } => "scenario/yaml",
            Self::Invalid { .. } => "scenario/invalid",
        }
    }
}

/// Largest scenario file read (bytes): a scenario is a page of YAML.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;

impl Scenario {
    /// Parses scenario text; `path` names the file in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ScenarioError> {
        let scenario: Self = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let full = e.without_snippet().to_string();
            let suffix = format!(" at line {line}, column {column}");
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            let name = path.display().to_string();
            let report = serde_saphyr::miette::to_miette_report_with_options(
                &e,
                text,
                &name,
                serde_saphyr::render_options! { source_name: Some(&name) },
            );
            ScenarioError::Yaml {
                path: path.to_owned(),
                line,
                column,
                message,
                rendered: render_report(report.as_ref()),
            }
        })?;
        scenario.check(path)?;
        Ok(scenario)
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
        let text = read_bounded(path)?;
        let scenario = Self::from_yaml(&text, path)?;
        let base_dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(LoadedScenario {
            scenario,
            path: path.to_owned(),
            base_dir,
            text,
        })
    }

    /// Checks what the types cannot.
    fn check(&self, path: &Path) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            path: path.to_owned(),
            message,
        };
        if self.id.trim().is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(format!(
                "id {:?}: use letters, digits, `-`, `_` and `.` only (it names report files)",
                self.id
            )));
        }
        if self.source.trim().is_empty() {
            return Err(invalid("source: name the catalog entry or seed".to_owned()));
        }
        if self.fleet == Some(0) || self.fleet.is_some_and(|n| n > 10_000) {
            return Err(invalid("fleet: between 1 and 10000 devices".to_owned()));
        }
        if let Some(steps) = &self.steps
            && steps.is_empty()
        {
            return Err(invalid(
                "steps: give at least one step (or leave it out)".to_owned(),
            ));
        }
        for step in self.flow() {
            let span = match step {
                FlowStep::Wait(d) | FlowStep::Hellos(HelloWindow::Within(d)) => d.0,
                _ => continue,
            };
            if span > MAX_WAIT {
                return Err(invalid(format!(
                    "steps: a wait or Hello window of {}s cannot be real (at most {} days)",
                    span.as_secs(),
                    MAX_WAIT.as_secs() / 86_400
                )));
            }
        }
        if let Some(file) = &self.expect.transcript
            && !stays_inside(Path::new(file))
        {
            return Err(invalid(format!(
                "expect.transcript {file:?}: give a path inside the scenario's directory \
                 (relative, without `..`)"
            )));
        }
        if let Some(ids) = &self.expect.documented {
            for id in ids {
                if provisioner_core::logs::lookup(id).is_none() {
                    return Err(invalid(format!(
                        "expect.documented: {id:?} is not a log-text id (e.g. A-18.isc)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The flow: `steps`, or the mode's default.
    pub fn flow(&self) -> Vec<FlowStep> {
        self.steps
            .clone()
            .unwrap_or_else(|| match self.provisioner.mode {
                ModeSpec::OutOfBand => {
                    vec![FlowStep::StartUp, FlowStep::Hellos(HelloWindow::First)]
                }
                ModeSpec::InBand => vec![FlowStep::InBand],
            })
    }

    /// The seed (default 2007).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(2007)
    }
}

impl DeviceSpec {
    /// The device profile: the base (file or embedded default) with the overrides applied.
    pub fn build(&self, base_dir: &Path) -> Result<DeviceProfile, String> {
        let profile = match &self.profile {
            Some(file) => {
                let path = base_dir.join(file);
                let text = read_bounded(&path).map_err(|e| format!("device.profile: {e}"))?;
                let dir = path.parent().unwrap_or(base_dir);
                DeviceProfile::from_yaml(&text, dir)
                    .map_err(|e| format!("device.profile {}: {e}", path.display()))?
            }
            None => DeviceProfile::default(),
        };
        let mut profile = self
            .overrides
            .apply(&profile)
            .map_err(|e| format!("device: {e}"))?;
        profile.faults.extend(self.faults.iter().cloned());
        profile
            .resolve(base_dir)
            .map_err(|e| format!("device: {e}"))?;
        profile.validate().map_err(|e| format!("device: {e}"))?;
        Ok(profile)
    }
}

impl EnvSpec {
    /// The environment: the base (file or the test site) with the overrides applied; paths
    /// relative to `base_dir`. `Err` is the configuration error the service point reports.
    pub fn build(
        &self,
        provisioner: &ProvisionerSpec,
        base_dir: &Path,
    ) -> Result<Environment, String> {
        let env = match &self.file {
            Some(file) => {
                let path = base_dir.join(file);
                let text = read_bounded(&path).map_err(|e| format!("environment.file: {e}"))?;
                let dir = path.parent().unwrap_or(base_dir);
                Environment::from_yaml(&text, dir).map_err(|e| e.to_string())?
            }
            None => Environment::default_for_tests(),
        };
        let mut env = self
            .overrides
            .apply(&env)
            .map_err(|e| format!("environment: {e}"))?;
        if let Some(version) = provisioner.version {
            env.configmgr.version = version;
        }
        if let Some(cert) = &provisioner.certificate {
            env.provisioning_certificates = vec![ProvisioningCertRef {
                chain_pem: PathBuf::from(&cert.chain),
                key_pem: PathBuf::from(&cert.key),
            }];
        }
        if provisioner.mode == ModeSpec::InBand && !self.overrides.contains("computers") {
            for c in &mut env.computers {
                c.client_installed = true;
            }
        }
        env.resolve_paths(base_dir);
        env.validate().map_err(|e| e.to_string())?;
        Ok(env)
    }
}

/// The longest `wait` or Hello window a scenario may ask for (a year of virtual time; the
/// Hello schedule ends after 24 h). Larger values cannot be real and would overflow the clock.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

/// Whether `path` is relative and never climbs out of the directory it is relative to.
fn stays_inside(path: &Path) -> bool {
    use std::path::Component;
    path.components().next().is_some()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Reads a file of at most [`MAX_SCENARIO_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read as _;
    let read = |source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = String::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::Invalid {
            path: path.to_owned(),
            message: format!("larger than {MAX_SCENARIO_BYTES} bytes"),
        });
    }
    Ok(text)
}

/// Renders a diagnostic as plain text (no colours), with its source snippet.
pub fn render_report(diagnostic: &dyn miette::Diagnostic) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_err() {
        let _ = write!(out, "{diagnostic}");
    }
    out
}

/// The JSON Schema of the scenario format (draft-07, for editors and yaml-language-server).
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<Scenario>();
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const MINIMAL: &str = "id: ok\ntitle: t\nsource: seed 004\nexpect: { outcome: provisioned }\n";

    #[test]
    fn a_minimal_scenario_has_the_default_flow() -> TestResult {
        let s = Scenario::from_yaml(MINIMAL, Path::new("s.yaml"))?;
        assert_eq!(
            s.flow(),
            vec![FlowStep::StartUp, FlowStep::Hellos(HelloWindow::First)]
        );
        assert_eq!(s.expect.outcome, Some(ExpectedOutcome::Provisioned));
        assert_eq!(s.seed(), 2007);
        Ok(())
    }

    #[test]
    fn device_and_environment_keys_overlay_the_base_generically() -> TestResult {
        // Any top-level profile or environment key, with no harness code naming it.
        let text = "id: x\ntitle: t\nsource: s\n\
                    device: { lenient_digest_password: true, ports: { http: 1, tls: 2 }, \
                    faults: [ { refuse_port: 9 } ] }\n\
                    environment: { wsman_translator: true, mebx_password: \"P@ssw0rd-x\" }\n\
                    expect: {}\n";
        let s = Scenario::from_yaml(text, Path::new("x.yaml"))?;
        let profile = s.device.build(Path::new("."))?;
        assert!(profile.lenient_digest_password);
        assert_eq!((profile.ports.http, profile.ports.tls), (1, 2));
        let base = DeviceProfile::default();
        assert_eq!(
            profile.faults.len(),
            base.faults.len() + 1,
            "faults are added"
        );
        assert_eq!(
            profile.hashes, base.hashes,
            "keys not given stay the base's"
        );
        let env = s.environment.build(&s.provisioner, Path::new("."))?;
        assert!(env.wsman_translator);
        assert_eq!(env.mebx_password, "P@ssw0rd-x");
        // A misspelt key is a load error at its line, naming the keys that exist.
        let typo = "id: x\ntitle: t\nsource: s\ndevice:\n  personalty: amt-6\nexpect: {}\n";
        let err = Scenario::from_yaml(typo, Path::new("x.yaml"));
        let Err(ScenarioError::Yaml { line, rendered, .. }) = err else {
            return Err(format!("expected a YAML error, got {err:?}").into());
        };
        assert_eq!(line, 5);
        assert!(rendered.contains("personality"), "{rendered}");
        Ok(())
    }

    #[test]
    fn unknown_keys_point_at_line_and_column() {
        let text =
            "id: x\ntitle: t\nsource: s\nexpect:\n  outcome: provisioned\n  outcom: failed\n";
        let err = Scenario::from_yaml(text, Path::new("scenarios/x.yaml"));
        let Err(ScenarioError::Yaml {
            line,
            column,
            rendered,
            ..
        }) = err
        else {
            panic!("expected a YAML error, got {err:?}");
        };
        assert_eq!((line, column), (6, 3));
        assert!(rendered.contains("scenarios/x.yaml:6:3"), "{rendered}");
        assert!(rendered.contains("outcom: failed"), "{rendered}");
    }

    #[test]
    fn steps_parse_in_both_yaml_shapes() -> TestResult {
        let text = "id: x\ntitle: t\nsource: s\nsteps:\n  - start_up\n  - hellos: 24h\n  - remove: partial\n  - wait: 10m\n  - hellos: first\n  - in_band\nexpect: {}\n";
        let s = Scenario::from_yaml(text, Path::new("x.yaml"))?;
        assert_eq!(
            s.flow(),
            vec![
                FlowStep::StartUp,
                FlowStep::Hellos(HelloWindow::Within(DurationText(
                    std::time::Duration::from_secs(86_400)
                ))),
                FlowStep::Remove(RemovalKind::Partial),
                FlowStep::Wait(DurationText(std::time::Duration::from_secs(600))),
                FlowStep::Hellos(HelloWindow::First),
                FlowStep::InBand,
            ]
        );
        Ok(())
    }

    #[test]
    fn semantic_errors_name_the_key() {
        for (text, needle) in [
            (
                "id: 'a b'\ntitle: t\nsource: s\nexpect: {}\n",
                "letters, digits",
            ),
            (
                "id: x\ntitle: t\nsource: s\nexpect: { documented: [A-99] }\n",
                "A-99",
            ),
            (
                "id: x\ntitle: t\nsource: s\nfleet: 0\nexpect: {}\n",
                "fleet",
            ),
        ] {
            let err = Scenario::from_yaml(text, Path::new("x.yaml"));
            assert!(
                matches!(&err, Err(ScenarioError::Invalid { message, .. }) if message.contains(needle)),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn device_overrides_replace_top_level_keys() -> TestResult {
        let text = "id: x\ntitle: t\nsource: s\ndevice:\n  personality: amt-6\n  provisioning: { mebx_password: secret-1 }\nexpect: {}\n";
        let s = Scenario::from_yaml(text, Path::new("x.yaml"))?;
        let profile = s.device.build(Path::new("."))?;
        assert_eq!(profile.personality, amt_sim::personality::Personality::Amt6);
        assert_eq!(profile.provisioning.mebx_password, "secret-1");
        assert_eq!(profile.uuid, DeviceProfile::default().uuid);
        Ok(())
    }

    #[test]
    fn an_endless_referenced_file_fails_fast_with_a_clear_error() {
        let device = DeviceSpec {
            profile: Some("/dev/zero".into()),
            ..DeviceSpec::default()
        };
        let err = device.build(Path::new(".")).err().unwrap_or_default();
        assert!(
            err.contains("/dev/zero") && err.contains("larger than"),
            "{err}"
        );
        let env = EnvSpec {
            file: Some("/dev/zero".into()),
            ..EnvSpec::default()
        };
        let err = env
            .build(&ProvisionerSpec::default(), Path::new("."))
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("/dev/zero") && err.contains("larger than"),
            "{err}"
        );
    }

    #[test]
    fn a_transcript_outside_the_scenario_directory_is_a_load_error() -> TestResult {
        for path in ["../x.txt", "data/../../x.txt", "/etc/passwd", "''"] {
            let text = format!("id: x\ntitle: t\nsource: s\nexpect: {{ transcript: {path} }}\n");
            let err = Scenario::from_yaml(&text, Path::new("x.yaml"));
            assert!(
                matches!(&err, Err(ScenarioError::Invalid { message, .. }) if message.contains("expect.transcript")),
                "{path}: {err:?}"
            );
        }
        let text = "id: x\ntitle: t\nsource: s\nexpect: { transcript: data/./x.txt }\n";
        Scenario::from_yaml(text, Path::new("x.yaml"))?;
        Ok(())
    }

    #[test]
    fn waits_that_cannot_be_real_are_load_errors() -> TestResult {
        for step in [
            "wait: 18446744073709551616s",
            "wait: 18446744073709551615",
            "wait: 18446744073709551615ms",
            "hellos: 100000h",
        ] {
            let text = format!("id: x\ntitle: t\nsource: s\nsteps:\n  - {step}\nexpect: {{}}\n");
            let err = Scenario::from_yaml(&text, Path::new("x.yaml"));
            assert!(
                matches!(
                    err,
                    Err(ScenarioError::Invalid { .. } | ScenarioError::Yaml { .. })
                ),
                "{step}: {err:?}"
            );
        }
        let text = "id: x\ntitle: t\nsource: s\nsteps:\n  - wait: 366d\nexpect: {}\n";
        assert!(Scenario::from_yaml(text, Path::new("x.yaml")).is_err());
        let text = "id: x\ntitle: t\nsource: s\nsteps:\n  - wait: 8784h\nexpect: {}\n";
        Scenario::from_yaml(text, Path::new("x.yaml"))?;
        Ok(())
    }
}
