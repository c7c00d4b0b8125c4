//! The simulated ConfigMgr environment: site, imported computers, certificates, accounts, AD, CA, DNS.
//!
//! Plain data, read from YAML (`Environment::from_yaml`, unknown keys rejected, errors with line and
//! column). Every field has a default, so an empty file is the default environment
//! ([`Environment::default_for_tests`] minus the test computer), and the defaults provision a default
//! `amt-sim` device: the test PKI under `certs/` (provisioning chain `prov-oid`, root `root-rsa2048`,
//! enterprise CA `enterprise-ca`) and the device domain `corp.amt-sim.test`.
//!
//! Paths in the file are relative to the file's directory; [`Environment::from_yaml`] resolves them
//! against `base_dir`. Certificate files are not read here: loading them is the caller's job.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use amt_wire::hello::DeviceUuid;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::logs::LogConfig;

/// The device DNS domain of the test PKI and the default device profile.
pub const TEST_DOMAIN: &str = "corp.amt-sim.test";

/// The UUID of the default `amt-sim` device profile (imported by [`Environment::default_for_tests`]).
pub const TEST_DEVICE_UUID: &str = "8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d";

/// Everything the service point and site server know and depend on.
///
/// `Debug` redacts every password (accounts, MEBx, ACL users, wireless passphrases).
#[derive(Clone, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Environment {
    /// The ConfigMgr site: service pack, site mode, site code, service point name.
    pub configmgr: ConfigMgr,
    /// Computers imported with "Import Computer for Out of Band Management" (or discovered clients).
    pub computers: Vec<ImportedComputer>,
    /// AMT provisioning certificates (chain + key), tried in order; index = `cert_index` of
    /// [`crate::servicepoint::Action::Provision`].
    pub provisioning_certificates: Vec<ProvisioningCertRef>,
    /// "AMT Provisioning and Discovery Accounts", tried in order after the default `admin` account.
    pub accounts: Vec<AmtAccount>,
    /// The new MEBx password to set if the device still has the default one.
    pub mebx_password: String,
    /// Active Directory: container for AMT accounts, domains, namespace.
    pub active_directory: ActiveDirectory,
    /// The enterprise CA that issues the AMT web server certificate.
    pub enterprise_ca: EnterpriseCa,
    /// DNS facts: the ProvisionServer alias and which address a device name resolves to.
    pub dns: Dns,
    /// DHCP options the device network hands out.
    pub dhcp: Dhcp,
    /// Hotfix 942841 present on a Windows Server 2003 SP2 service point. `false` → Schannel does
    /// not send the root in the chain and the device refuses it (A-02).
    pub schannel_hotfix: bool,
    /// "Enable support for Intel WS-MAN translator": needed for AMT older than 3.2.1 (A-08).
    pub wsman_translator: bool,
    /// Second-stage settings: ACLs, interfaces, Kerberos, power, wireless.
    pub stage2: Stage2Settings,
    /// Connection timeouts and retries of the service point.
    pub timeouts: Timeouts,
    /// Log framing: time-zone bias, thread ids, oobmgmt.log component, A-18 file, text overrides.
    pub logs: LogConfig,
    /// The site hierarchy (sites, AD forests, keys, signing certificates, clients); empty: the
    /// service point's site stands alone ([`crate::site`]).
    pub hierarchy: crate::site::HierarchyConfig,
    /// The site database the issued AMT web server certificate is published to, and its fault.
    pub site_database: crate::site::publish::SiteDatabaseConfig,
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            configmgr: ConfigMgr::default(),
            computers: Vec::new(),
            provisioning_certificates: vec![ProvisioningCertRef::default()],
            accounts: vec![AmtAccount::default()],
            mebx_password: "P@ssw0rd-MEBx1".to_owned(),
            active_directory: ActiveDirectory::default(),
            enterprise_ca: EnterpriseCa::default(),
            dns: Dns::default(),
            dhcp: Dhcp::default(),
            schannel_hotfix: true,
            wsman_translator: false,
            stage2: Stage2Settings::default(),
            timeouts: Timeouts::default(),
            logs: LogConfig::default(),
            hierarchy: crate::site::HierarchyConfig::default(),
            site_database: crate::site::publish::SiteDatabaseConfig::default(),
        }
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("configmgr", &self.configmgr)
            .field("computers", &self.computers)
            .field("provisioning_certificates", &self.provisioning_certificates)
            .field("accounts", &self.accounts)
            .field("mebx_password", &"<redacted>")
            .field("active_directory", &self.active_directory)
            .field("enterprise_ca", &self.enterprise_ca)
            .field("dns", &self.dns)
            .field("dhcp", &self.dhcp)
            .field("schannel_hotfix", &self.schannel_hotfix)
            .field("wsman_translator", &self.wsman_translator)
            .field("stage2", &self.stage2)
            .field("timeouts", &self.timeouts)
            .field("logs", &self.logs)
            .field("hierarchy", &self.hierarchy)
            .field("site_database", &self.site_database)
            .finish()
    }
}

/// The ConfigMgr site.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigMgr {
    /// Service pack: decides several log texts and second-stage steps.
    pub version: ConfigMgrVersion,
    /// Native or mixed site mode (A-06 applies to mixed mode).
    pub site_mode: SiteMode,
    /// Three-character site code.
    pub site_code: String,
    /// FQDN of the out-of-band service point server.
    pub service_point_fqdn: String,
    /// `<ConfigMgrInstallationPath>` as it appears in log lines.
    pub install_path: String,
}

impl Default for ConfigMgr {
    fn default() -> Self {
        Self {
            version: ConfigMgrVersion::Sp2,
            site_mode: SiteMode::Native,
            site_code: "AMT".to_owned(),
            service_point_fqdn: format!("oobsp.{TEST_DOMAIN}"),
            install_path: r"C:\Program Files\Microsoft Configuration Manager".to_owned(),
        }
    }
}

/// ConfigMgr 2007 service pack.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfigMgrVersion {
    /// ConfigMgr 2007 SP1 (R2 is an add-on).
    Sp1,
    /// ConfigMgr 2007 SP2 (R3 is an add-on).
    #[default]
    Sp2,
}

/// Site security mode.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SiteMode {
    /// Native mode (PKI for clients).
    #[default]
    Native,
    /// Mixed mode (clients need approval).
    Mixed,
}

/// A computer the site knows.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedComputer {
    /// NetBIOS computer name (the AD account is `<name>$iME`).
    pub name: String,
    /// SMBIOS UUID, text form.
    #[serde(serialize_with = "ser_uuid", deserialize_with = "de_uuid")]
    #[schemars(with = "String", pattern(amt_wire::hello::UUID_PATTERN))]
    pub uuid: DeviceUuid,
    /// Fully qualified domain name used to reach it and set as AMT host name + domain.
    pub fqdn: String,
    /// Its Active Directory domain.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// A ConfigMgr SP1+ client is installed: provision in-band, discard Hellos.
    #[serde(default)]
    pub client_installed: bool,
    /// The client is approved (matters in mixed mode, A-06).
    #[serde(default = "yes")]
    pub client_approved: bool,
    /// In a collection with automatic AMT provisioning enabled and not disabled per computer (A-13).
    #[serde(default = "yes")]
    pub auto_provision: bool,
    /// Discovered before it was imported (SP1 defect A-14).
    #[serde(default)]
    pub previously_discovered: bool,
    /// The HECI (MEI) driver is installed on the host (in-band).
    #[serde(default = "yes")]
    pub heci_driver: bool,
    /// What DNS returns for the FQDN on the wired side; `None` = the Hello's source address.
    #[serde(default)]
    pub wired_ip: Option<IpAddr>,
    /// What DNS returns when the name resolves to the wireless interface (A-20); `None` = no
    /// wireless record (the wired address is used).
    #[serde(default)]
    pub wireless_ip: Option<IpAddr>,
    /// AMT TLS port to connect to (16993; tests give each simulated device its own).
    #[serde(default = "default_tls_port")]
    pub tls_port: u16,
    /// The site it was imported at (with a hierarchy): a computer imported at another site than
    /// the out-of-band service point's does not reach that service point. Default: the service
    /// point's site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<String>,
}

impl ImportedComputer {
    /// The host part of the FQDN (before the first dot).
    pub fn host_name(&self) -> &str {
        self.fqdn.split('.').next().unwrap_or(&self.fqdn)
    }

    /// The DNS suffix of the FQDN (after the first dot), empty if none.
    pub fn dns_suffix(&self) -> &str {
        self.fqdn.split_once('.').map_or("", |(_, d)| d)
    }
}

/// A provisioning certificate chain and its key, as files.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningCertRef {
    /// PEM chain, leaf first, up to and including the root.
    pub chain_pem: PathBuf,
    /// PEM (PKCS#8) private key of the leaf.
    pub key_pem: PathBuf,
}

impl Default for ProvisioningCertRef {
    fn default() -> Self {
        Self {
            chain_pem: PathBuf::from("certs/prov-oid.chain.pem"),
            key_pem: PathBuf::from("certs/prov-oid.TEST-ONLY.key.pem"),
        }
    }
}

/// An AMT Provisioning and Discovery Account.
#[derive(Clone, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmtAccount {
    /// User name (AMT: `admin`).
    pub user: String,
    /// Password. Never logged; `Debug` redacts it.
    pub password: String,
}

impl Default for AmtAccount {
    fn default() -> Self {
        Self {
            user: "admin".to_owned(),
            password: "P@ssw0rd".to_owned(),
        }
    }
}

impl std::fmt::Debug for AmtAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmtAccount")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Active Directory facts for the AMT computer accounts.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveDirectory {
    /// The OU/container in the out-of-band component properties.
    pub container: String,
    /// Whether that container exists (in every domain below); `false` → A-04.
    pub container_exists: bool,
    /// AD domains (DNS form) that have the container.
    pub domains: Vec<String>,
    /// The DNS namespace differs from the AD namespace (A-05, unsupported).
    pub disjoint_namespace: bool,
}

impl Default for ActiveDirectory {
    fn default() -> Self {
        Self {
            container: "OU=AMT Computers,DC=corp,DC=amt-sim,DC=test".to_owned(),
            container_exists: true,
            domains: vec![TEST_DOMAIN.to_owned()],
            disjoint_namespace: false,
        }
    }
}

/// The enterprise CA that issues AMT web server certificates.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EnterpriseCa {
    /// Certificate template name.
    pub template: String,
    /// Why the CA refuses requests, if it does (A-09, A-10).
    pub deny: Option<CaDenial>,
    /// The site server lacks "Issue and Manage Certificates" (A-17).
    pub revocation_denied: bool,
    /// The CRL of issued certificates is reachable (A-19 when not).
    pub crl_reachable: bool,
    /// The CA certificate (PEM).
    pub issuer_cert_pem: PathBuf,
    /// The CA private key (PEM, PKCS#8).
    pub issuer_key_pem: PathBuf,
}

impl Default for EnterpriseCa {
    fn default() -> Self {
        Self {
            template: "AMTWebServer".to_owned(),
            deny: None,
            revocation_denied: false,
            crl_reachable: true,
            issuer_cert_pem: PathBuf::from("certs/enterprise-ca.cert.pem"),
            issuer_key_pem: PathBuf::from("certs/enterprise-ca.TEST-ONLY.key.pem"),
        }
    }
}

/// Why the enterprise CA refuses a certificate request.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CaDenial {
    /// No Read + Enroll on the template (A-09).
    TemplatePermissions,
    /// No DCOM access to the CA (A-10).
    DcomAccessDenied,
}

/// DNS facts.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Dns {
    /// State of the `ProvisionServer.<suffix>` alias.
    pub provision_server_alias: AliasState,
    /// Which of the device's addresses its name resolves to (wireless → A-20).
    pub resolve_to: ResolveTo,
}

impl Dns {
    /// Whether `ProvisionServer.<suffix>` resolves to the service point, i.e. whether a device
    /// that discovers its server by DNS can send Hellos at all (A-03 b, A-15).
    pub fn provision_server_resolvable(&self) -> bool {
        self.provision_server_alias == AliasState::Registered
    }
}

/// The ProvisionServer DNS alias.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AliasState {
    /// Registered: devices find the service point.
    #[default]
    Registered,
    /// Not registered (and not requested): devices cannot find the service point.
    NotRegistered,
    /// The option was enabled before the service point existed: never registered (A-15).
    RegisteredBeforeServicePoint,
}

/// Which device address DNS returns.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResolveTo {
    /// The wired address (or the Hello's source address).
    #[default]
    Wired,
    /// The wireless address: provisioning fails (A-20).
    Wireless,
}

/// DHCP options.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Dhcp {
    /// Option 6 (DNS servers) present.
    pub option_6: bool,
    /// Option 15 (DNS suffix), if sent.
    pub option_15: Option<String>,
}

impl Default for Dhcp {
    fn default() -> Self {
        Self {
            option_6: true,
            option_15: Some(TEST_DOMAIN.to_owned()),
        }
    }
}

/// Second-stage provisioning settings.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Stage2Settings {
    /// AMT user accounts (ACL entries) to set after clearing the existing ones.
    pub acl: Vec<AclUser>,
    /// Enable ping (ICMP) responses.
    pub ping: bool,
    /// Enable the AMT web console.
    pub web_console: bool,
    /// Enable Serial-over-LAN.
    pub sol: bool,
    /// Enable IDE redirection.
    pub ider: bool,
    /// Enable Kerberos authentication.
    pub kerberos: bool,
    /// Power scheme to set on SP2 (SP1 always sets 5 = always on).
    pub power_scheme: u8,
    /// Wireless profiles to store (SP2 only).
    pub wireless_profiles: Vec<WirelessProfile>,
    /// 802.1X settings (SP2 only).
    pub ieee8021x: Option<Ieee8021x>,
}

impl Default for Stage2Settings {
    fn default() -> Self {
        Self {
            acl: Vec::new(),
            ping: true,
            web_console: true,
            sol: true,
            ider: true,
            kerberos: false,
            power_scheme: 1,
            wireless_profiles: Vec::new(),
            ieee8021x: None,
        }
    }
}

/// One AMT user account (ACL entry).
#[derive(Clone, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AclUser {
    /// User name.
    pub name: String,
    /// Password (digest user). Never logged; `Debug` redacts it.
    pub password: String,
    /// AMT realm numbers granted.
    #[serde(default)]
    pub realms: Vec<u32>,
    /// Access permission: 0 local, 1 network, 2 any.
    #[serde(default = "default_access")]
    pub access: u8,
}

impl std::fmt::Debug for AclUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("realms", &self.realms)
            .field("access", &self.access)
            .finish()
    }
}

/// A wireless profile (SP2).
#[derive(Clone, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WirelessProfile {
    /// SSID.
    pub ssid: String,
    /// Authentication: e.g. `wpa2-psk`, `wpa2-ieee8021x`.
    pub auth: String,
    /// Encryption: e.g. `ccmp`, `tkip`.
    pub encryption: String,
    /// Pre-shared passphrase (PSK profiles). Never logged; `Debug` redacts it.
    #[serde(default)]
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for WirelessProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WirelessProfile")
            .field("ssid", &self.ssid)
            .field("auth", &self.auth)
            .field("encryption", &self.encryption)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// 802.1X settings for wired/wireless (SP2).
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ieee8021x {
    /// EAP method, e.g. `eap-tls`, `peap-mschapv2`.
    pub eap_method: String,
    /// Also apply to the wired interface.
    #[serde(default)]
    pub wired: bool,
    /// Root CA of the RADIUS server (PEM path), if any.
    #[serde(default)]
    pub root_ca_pem: Option<PathBuf>,
}

/// Service point timeouts.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// TCP connect timeout in milliseconds.
    pub connect_ms: u64,
    /// Per-request (read) timeout in milliseconds.
    pub request_ms: u64,
    /// Retries of a failed connection before the session fails.
    pub retries: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 10_000,
            request_ms: 30_000,
            retries: 2,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_domain() -> String {
    TEST_DOMAIN.to_owned()
}

fn default_tls_port() -> u16 {
    16993
}

fn default_access() -> u8 {
    2
}

fn de_uuid<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceUuid, D::Error> {
    let text = String::deserialize(d)?;
    DeviceUuid::parse(&text).map_err(serde::de::Error::custom)
}

fn ser_uuid<S: Serializer>(uuid: &DeviceUuid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(uuid)
}

/// Why an environment file could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EnvError {
    /// YAML syntax, type or unknown-key error.
    #[error("environment line {line} column {column}: {message}")]
    Yaml {
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// What was wrong.
        message: String,
    },
    /// A value that parses but makes no sense (duplicate UUID, no certificate, …).
    #[error("environment: {message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
}

impl EnvError {
    /// A stable id: `env/yaml` or `env/invalid`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Yaml { .. } => "env/yaml",
            Self::Invalid { .. } => "env/invalid",
        }
    }
}

impl Environment {
    /// Reads an environment from YAML; relative paths are resolved against `base_dir` (the
    /// directory of the file). Unknown keys are errors; every error carries line and column.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<Self, EnvError> {
        let mut env: Self = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let full = e.without_snippet().to_string();
            let suffix = format!(" at line {line}, column {column}");
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            EnvError::Yaml {
                line,
                column,
                message,
            }
        })?;
        env.resolve_paths(base_dir);
        env.validate()?;
        Ok(env)
    }

    /// The default environment with the default `amt-sim` device imported (out-of-band), paths
    /// pointing at the repository's `certs/`: provisions a default device.
    pub fn default_for_tests() -> Self {
        let mut env = Self::default();
        env.resolve_paths(&repo_root());
        if let Ok(uuid) = DeviceUuid::parse(TEST_DEVICE_UUID) {
            env.computers.push(ImportedComputer {
                name: "AMT-DEVICE-01".to_owned(),
                uuid,
                fqdn: format!("amt-device-01.{TEST_DOMAIN}"),
                domain: TEST_DOMAIN.to_owned(),
                client_installed: false,
                client_approved: true,
                auto_provision: true,
                previously_discovered: false,
                heci_driver: true,
                wired_ip: None,
                wireless_ip: None,
                tls_port: default_tls_port(),
                imported_at: None,
            });
        }
        env
    }

    /// Every secret value in the environment: account and ACL passwords, the MEBx password,
    /// wireless passphrases (for log redaction).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.accounts
            .iter()
            .map(|a| a.password.as_str())
            .chain(std::iter::once(self.mebx_password.as_str()))
            .chain(self.stage2.acl.iter().map(|u| u.password.as_str()))
            .chain(
                self.stage2
                    .wireless_profiles
                    .iter()
                    .filter_map(|w| w.passphrase.as_deref()),
            )
    }

    /// The imported computer with this UUID.
    pub fn computer(&self, uuid: &DeviceUuid) -> Option<&ImportedComputer> {
        self.computers.iter().find(|c| &c.uuid == uuid)
    }

    /// Makes every relative path absolute under `base_dir`.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base_dir.join(&*p);
            }
        };
        for c in &mut self.provisioning_certificates {
            fix(&mut c.chain_pem);
            fix(&mut c.key_pem);
        }
        fix(&mut self.enterprise_ca.issuer_cert_pem);
        fix(&mut self.enterprise_ca.issuer_key_pem);
        if let Some(x) = &mut self.stage2.ieee8021x
            && let Some(p) = &mut x.root_ca_pem
        {
            fix(p);
        }
    }

    /// Checks what the types cannot: unique UUIDs and names, at least one provisioning certificate.
    pub fn validate(&self) -> Result<(), EnvError> {
        for (i, c) in self.computers.iter().enumerate() {
            if self.computers[..i].iter().any(|o| o.uuid == c.uuid) {
                return Err(EnvError::Invalid {
                    message: format!("computers[{i}]: uuid {} is imported twice", c.uuid),
                });
            }
            if c.name.is_empty() || c.fqdn.is_empty() {
                return Err(EnvError::Invalid {
                    message: format!("computers[{i}]: name and fqdn must not be empty"),
                });
            }
        }
        if self.provisioning_certificates.is_empty() {
            return Err(EnvError::Invalid {
                message: "provisioning_certificates: at least one is needed".to_owned(),
            });
        }
        self.hierarchy.validate().map_err(|e| EnvError::Invalid {
            message: format!("{e} ({})", e.id()),
        })
    }
}

/// The draft-07 JSON Schema of an environment file ([`Environment`]; the deserialisation
/// contract, shared types under `definitions`). The harness embeds it in the scenario schema and
/// checks documents against it.
pub fn environment_schema() -> serde_json::Value {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Environment>()
        .to_value()
}

/// The repository root (this crate is `crates/provisioner-core`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn property_names(schema: &Value) -> Vec<&str> {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn definition<'a>(schema: &'a Value, name: &str) -> Result<&'a Value, String> {
        schema
            .pointer(&format!("/definitions/{name}"))
            .ok_or_else(|| format!("no definition {name}"))
    }

    #[test]
    fn environment_schema_serialises_and_lists_the_fields() -> TestResult {
        let schema = environment_schema();
        let text = serde_json::to_string(&schema)?;
        assert!(text.contains("http://json-schema.org/draft-07/schema#"));
        assert_eq!(
            property_names(&schema),
            [
                "accounts",
                "active_directory",
                "computers",
                "configmgr",
                "dhcp",
                "dns",
                "enterprise_ca",
                "hierarchy",
                "logs",
                "mebx_password",
                "provisioning_certificates",
                "schannel_hotfix",
                "site_database",
                "stage2",
                "timeouts",
                "wsman_translator",
            ]
        );
        assert!(schema.get("required").is_none());
        assert_eq!(
            property_names(definition(&schema, "LogConfig")?),
            [
                "a18_file",
                "bias_minutes",
                "client_component",
                "client_source_file",
                "client_thread",
                "despool_thread",
                "hman_thread",
                "max_records",
                "overrides",
                "policy_agent_thread",
                "policy_provider_thread",
                "proxy_thread",
                "service_point_thread",
                "sms_message_suffix",
            ]
        );
        Ok(())
    }

    #[test]
    fn deny_unknown_fields_becomes_additional_properties_false() -> TestResult {
        let schema = environment_schema();
        assert_eq!(
            schema.get("additionalProperties"),
            Some(&Value::Bool(false))
        );
        for name in [
            "ConfigMgr",
            "ImportedComputer",
            "ProvisioningCertRef",
            "AmtAccount",
            "ActiveDirectory",
            "EnterpriseCa",
            "Dns",
            "Dhcp",
            "Stage2Settings",
            "AclUser",
            "WirelessProfile",
            "Ieee8021x",
            "Timeouts",
            "LogConfig",
        ] {
            assert_eq!(
                definition(&schema, name)?.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{name}"
            );
        }
        // `overrides` is an open map of id → template.
        assert_eq!(
            schema.pointer("/definitions/LogConfig/properties/overrides/additionalProperties/type"),
            Some(&Value::from("string"))
        );
        Ok(())
    }
}
