//! Device profiles: the YAML description of one virtual AMT device (identity, personality, hash
//! list, network, provisioning state, clock, Hello schedule, faults) and its embedded default.
//!
//! Every field has a default, so `{}` is a working device and a scenario can override single
//! values. `PROFILE.md` documents each field; `profiles/default.yaml` spells the defaults out and a
//! test proves it parses to [`DeviceProfile::default`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use amt_wire::hello::DeviceUuid;
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::faults::{DurationText, FaultSpec};
use crate::hello::HelloSchedule;
use crate::personality::{CnRule, Personality, PersonalityTraits, ScheduleKind, SetupAuth};

/// The embedded default profile, documented field by field.
pub const DEFAULT_PROFILE_YAML: &str = include_str!("../profiles/default.yaml");

/// The test PKI's main root (`certs/root-rsa2048.cert.pem`), SHA-256, active in the default list.
pub const TEST_ROOT_SHA256: &str =
    "8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d";

/// The DNS domain of the test PKI and the default device.
pub const DEFAULT_DOMAIN: &str = "corp.amt-sim.test";

/// JSON Schema `pattern` of an SMBIOS UUID in text form (shared with the site's records).
pub use amt_wire::hello::UUID_PATTERN;

/// JSON Schema `pattern` of a hash value: hex byte pairs, optionally separated by spaces, colons
/// or dashes (what [`Thumbprint::parse_hex`] accepts, length aside).
pub const HEX_HASH_PATTERN: &str = r"^[ :-]*([0-9A-Fa-f]{2}[ :-]*)+$";

/// Whether `text` matches [`MAC_PATTERN`]: six hex pairs separated by `:` or `-`.
fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// JSON Schema `pattern` of a MAC address (`aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`).
pub const MAC_PATTERN: &str = r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$";

/// JSON Schema `pattern` of a `host:port` server address (IPv6 hosts in brackets).
pub const HOST_PORT_PATTERN: &str = r"^.+:[0-9]{1,5}$";

/// A virtual device's description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceProfile {
    /// SMBIOS UUID in canonical text form.
    #[schemars(pattern(UUID_PATTERN))]
    pub uuid: String,
    /// Firmware generation; sets every version-dependent default.
    pub personality: Personality,
    /// Full firmware version string; defaults to the personality's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amt_version: Option<String>,
    /// Authorisation inside the setup TLS session; defaults to the personality's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_auth: Option<SetupAuth>,
    /// FQDN length limit override (bytes; 0 = none); defaults to the personality's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn_limit: Option<usize>,
    /// Lenient hex `DigestPassword` values (MeshCentral) besides strict Base64.
    pub lenient_digest_password: bool,
    /// Root certificate hash list, in firmware order.
    pub hashes: Vec<HashEntry>,
    /// Network interfaces, DHCP options and name table.
    pub network: Network,
    /// Provisioning mode, state and server.
    pub provisioning: Provisioning,
    /// Listening ports.
    pub ports: Ports,
    /// The device's protected real-time clock.
    pub clock: Clock,
    /// Hello beacons.
    pub hello: HelloSettings,
    /// Inventory facts.
    pub system: SystemInfo,
    /// Injected faults.
    pub faults: Vec<FaultSpec>,
}

/// One root certificate hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HashEntry {
    /// Friendly name (≤ 32 ASCII bytes on real firmware); defaults to the `cert` file's stem or
    /// `Custom Hash <n>`.
    #[serde(default)]
    pub name: String,
    /// `sha1`, `sha256` or `sha384`; inferred from `value`'s length or `sha256` for `cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<HashAlgorithmName>,
    /// The hash in hex (colons and spaces allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(HEX_HASH_PATTERN))]
    pub value: Option<String>,
    /// A certificate file (PEM or DER), relative to the profile file; replaced by `value` on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// A firmware default entry (as opposed to one added by the user).
    #[serde(default)]
    pub default: bool,
    /// Whether the entry is active (only active hashes are sent and trusted).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Hash algorithm names in profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithmName {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl From<HashAlgorithmName> for HashAlgorithm {
    fn from(a: HashAlgorithmName) -> Self {
        match a {
            HashAlgorithmName::Sha1 => Self::Sha1,
            HashAlgorithmName::Sha256 => Self::Sha256,
            HashAlgorithmName::Sha384 => Self::Sha384,
        }
    }
}

/// A resolved hash-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedHash {
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// Friendly name.
    pub name: String,
    /// Firmware default.
    pub is_default: bool,
    /// Active.
    pub active: bool,
}

/// Network facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// The integrated wired NIC (Hellos and setup only ever use it).
    pub wired: NetInterface,
    /// An optional wireless NIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireless: Option<NetInterface>,
    /// DHCP options the device received.
    pub dhcp: DhcpOptions,
    /// PKI DNS suffix configured in MEBx (preferred over DHCP option 15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mebx_domain: Option<String>,
    /// Host name.
    pub hostname: String,
    /// A tiny name table: what the device's DNS lookups resolve to.
    pub dns: BTreeMap<String, IpAddr>,
}

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetInterface {
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    #[schemars(pattern(MAC_PATTERN))]
    pub mac: String,
    /// IPv4 address (the address the device answers on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// Whether the address came from DHCP.
    #[serde(default = "yes")]
    pub dhcp: bool,
    /// Whether the link is up.
    #[serde(default = "yes")]
    pub link_up: bool,
}

/// DHCP options 6 and 15.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DhcpOptions {
    /// Option 6: DNS servers.
    pub dns_servers: Vec<IpAddr>,
    /// Option 15: domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// Provisioning configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Provisioning {
    /// `pki`, `psk` or `disabled`.
    pub mode: ProvisioningMode,
    /// Factory state of a fresh device (no saved NVRAM): `pre`, `in` or `post`.
    pub state: InitialState,
    /// For `state: post`: the admin password already set (user `admin`), as by another
    /// management solution: TLS is then on (a self-signed management certificate from the key
    /// pool, no client certificate required, plain HTTP still accepted); absent = the MEBx
    /// password stays the network password and TLS stays off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
    /// Provisioning server `host:port` (an IP or a name); absent = discover
    /// `provisionserver.<domain>` on `server_port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(HOST_PORT_PATTERN))]
    pub server: Option<String>,
    /// Hello port for discovery.
    pub server_port: u16,
    /// Current MEBx password (`admin` = factory default, not yet changed).
    pub mebx_password: String,
    /// Whether the host OS has the HECI/MEI driver (the in-band ConfigMgr client checks it).
    pub heci_driver_present: bool,
}

/// Provisioning state a fresh device starts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    /// Pre-provisioning (factory).
    Pre,
    /// In-provisioning (setup opened, e.g. by the host).
    In,
    /// Post-provisioning (already provisioned; with `admin_password`, admin credentials set and
    /// TLS on with a management certificate).
    Post,
}

/// Provisioning mode set in MEBx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningMode {
    /// Remote configuration with certificates (Hello v3).
    Pki,
    /// Pre-shared keys (Hello v2; not simulated beyond suppressing Hellos).
    Psk,
    /// Remote configuration disabled.
    Disabled,
}

/// Ports (the shell binds them; `0` in tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    /// Plain HTTP WS-MAN (16992).
    pub http: u16,
    /// TLS WS-MAN and setup (16993).
    pub tls: u16,
}

/// The protected real-time clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// Follows the host clock.
    Host,
    /// Un-set clock: starts at this RFC 3339 instant when the device starts (date-zero case).
    Epoch(#[schemars(extend("format" = "date-time"))] String),
}

/// Hello beacon settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HelloSettings {
    /// Whether the device beacons at all.
    pub enabled: bool,
    /// Named schedule; defaults to the personality's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleKind>,
    /// Explicit offsets from the first Hello (`0s`, `1m`, …); overrides `schedule`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<Vec<DurationText>>,
}

/// Inventory facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SystemInfo {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// BIOS version.
    pub bios_version: String,
    /// Memory in MiB.
    pub memory_mb: u32,
    /// CPU description.
    pub cpu: String,
    /// Chassis type (`CIM_Chassis.ChassisPackageType`).
    pub chassis: ChassisKind,
    /// Current CPU clock in MHz (`CIM_Processor.CurrentClockSpeed`).
    pub cpu_mhz: u32,
    /// Maximum CPU clock in MHz (`CIM_Processor.MaxClockSpeed`).
    pub cpu_max_mhz: u32,
    /// Number of memory modules `memory_mb` is split over (`CIM_PhysicalMemory` instances).
    pub memory_modules: std::num::NonZeroU8,
    /// Memory speed in MHz (`CIM_PhysicalMemory.Speed`/`ConfiguredMemoryClockSpeed`).
    pub memory_mhz: u32,
    /// Fans (`CIM_Fan`, each with a tachometer `CIM_NumericSensor`).
    pub fans: Vec<FanSpec>,
    /// Temperature sensors (`CIM_NumericSensor`, degrees C).
    pub temperatures: Vec<TemperatureSpec>,
}

/// Chassis types (SMBIOS type 3 / `CIM_Chassis.ChassisPackageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChassisKind {
    /// Desktop (3).
    Desktop,
    /// Mini tower (6).
    MiniTower,
    /// Tower (7).
    Tower,
    /// Laptop (9).
    Laptop,
    /// Notebook (10).
    Notebook,
    /// All in one (13).
    AllInOne,
}

impl ChassisKind {
    /// The CIM `ChassisPackageType` value.
    pub fn cim_value(self) -> u16 {
        match self {
            Self::Desktop => 3,
            Self::MiniTower => 6,
            Self::Tower => 7,
            Self::Laptop => 9,
            Self::Notebook => 10,
            Self::AllInOne => 13,
        }
    }
}

/// One fan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FanSpec {
    /// Its name (`ElementName`).
    pub name: String,
    /// Its speed in revolutions per minute (the tachometer reading).
    pub rpm: u32,
}

/// One temperature sensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemperatureSpec {
    /// Its name (`ElementName`).
    pub name: String,
    /// The reading in degrees Celsius.
    pub celsius: i32,
}

impl SystemInfo {
    /// The inventory facts the WS-MAN engine serves.
    pub fn hardware_facts(&self) -> crate::wsman::HardwareFacts {
        crate::wsman::HardwareFacts {
            chassis_package_type: self.chassis.cim_value(),
            cpu_mhz: self.cpu_mhz,
            cpu_max_mhz: self.cpu_max_mhz,
            memory_modules: self.memory_modules.get(),
            memory_mhz: self.memory_mhz,
            fans: self.fans.iter().map(|f| (f.name.clone(), f.rpm)).collect(),
            temperatures: self
                .temperatures
                .iter()
                .map(|t| (t.name.clone(), t.celsius))
                .collect(),
        }
    }
}

/// Errors loading a profile.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// YAML syntax or type error.
    #[error("profile line {line} column {column}: {message}")]
    Yaml {
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// A value is well-typed but invalid.
    #[error("profile field `{field}`: {message}")]
    Invalid {
        /// Dotted field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A referenced certificate file could not be read.
    #[error("profile hash `{name}`: cannot read certificate {path}: {source}")]
    CertFile {
        /// Entry name.
        name: String,
        /// Resolved path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl ProfileError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Yaml { .. } => "profile/yaml",
            Self::Invalid { .. } => "profile/invalid",
            Self::CertFile { .. } => "profile/cert-file",
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Default for DeviceProfile {
    fn default() -> Self {
        let h = |name: &str, value: &str, default: bool| HashEntry {
            name: name.into(),
            algorithm: Some(HashAlgorithmName::Sha256),
            value: Some(value.into()),
            cert: None,
            default,
            active: true,
        };
        Self {
            uuid: "8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d".into(),
            personality: Personality::default(),
            amt_version: None,
            setup_auth: None,
            fqdn_limit: None,
            lenient_digest_password: true,
            hashes: vec![
                h(
                    "VeriSign Class 3 Primary CA-G3",
                    "eb04cf5eb1f39afa762f2bb120f296cba520c1b97db1589565b81cb9a17b7244",
                    true,
                ),
                h(
                    "Go Daddy Class 2 CA",
                    "c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4",
                    true,
                ),
                h(
                    "Comodo AAA CA",
                    "d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4",
                    true,
                ),
                h(
                    "Starfield Class 2 CA",
                    "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
                    true,
                ),
                h(
                    "VeriSign Class 3 Primary CA-G5",
                    "9acfab7e43c8d880d06b262a94deeee4b4659989c3d0caf19baf6405e41ab7df",
                    true,
                ),
                h(
                    "Baltimore CyberTrust Root",
                    "16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb",
                    true,
                ),
                h(
                    "Entrust Root CA",
                    "73c176434f1bc6d5adf45b0e76e727287c8de57616c1e6e6141a2b2cbc7d8e4c",
                    true,
                ),
                h(
                    "DigiCert Global Root CA",
                    "4348a0e9444c78cb265e058d5e8944b4d84f9662bd26db257f8934a443c70161",
                    true,
                ),
                h("amt-sim Test Root (TEST ONLY)", TEST_ROOT_SHA256, false),
            ],
            network: Network::default(),
            provisioning: Provisioning::default(),
            ports: Ports::default(),
            clock: Clock::Host,
            hello: HelloSettings::default(),
            system: SystemInfo::default(),
            faults: Vec::new(),
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Self {
            wired: NetInterface {
                mac: "00:16:3e:a3:7c:01".into(),
                ipv4: Some(Ipv4Addr::LOCALHOST),
                dhcp: true,
                link_up: true,
            },
            wireless: None,
            dhcp: DhcpOptions::default(),
            mebx_domain: None,
            hostname: "amt-device-01".into(),
            dns: BTreeMap::from([(
                format!("provisionserver.{DEFAULT_DOMAIN}"),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            )]),
        }
    }
}

impl Default for DhcpOptions {
    fn default() -> Self {
        Self {
            dns_servers: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            domain: Some(DEFAULT_DOMAIN.into()),
        }
    }
}

impl Default for Provisioning {
    fn default() -> Self {
        Self {
            mode: ProvisioningMode::Pki,
            state: InitialState::Pre,
            admin_password: None,
            server: None,
            server_port: 9971,
            mebx_password: "admin".into(),
            heci_driver_present: false,
        }
    }
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            http: 16992,
            tls: 16993,
        }
    }
}

impl Default for HelloSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: None,
            offsets: None,
        }
    }
}

impl Default for SystemInfo {
    fn default() -> Self {
        Self {
            manufacturer: "amt-sim".into(),
            model: "Virtual vPro Desktop".into(),
            serial: "AMTSIM0001".into(),
            bios_version: "AMTSIM.86A.0001.2026".into(),
            memory_mb: 8192,
            cpu: "Intel(R) Core(TM) i5 (virtual)".into(),
            chassis: ChassisKind::Desktop,
            cpu_mhz: 2600,
            cpu_max_mhz: 4400,
            memory_modules: std::num::NonZeroU8::MIN.saturating_add(1),
            memory_mhz: 3200,
            fans: vec![FanSpec {
                name: "CPU Fan".into(),
                rpm: 1800,
            }],
            temperatures: vec![
                TemperatureSpec {
                    name: "CPU Temperature".into(),
                    celsius: 45,
                },
                TemperatureSpec {
                    name: "System Temperature".into(),
                    celsius: 34,
                },
            ],
        }
    }
}

impl DeviceProfile {
    /// Parses a profile and resolves certificate paths against `base_dir` (the profile's folder).
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<Self, ProfileError> {
        let mut profile: Self = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ProfileError::Yaml {
                line,
                column,
                message: e.to_string(),
            }
        })?;
        profile.resolve(base_dir)?;
        Ok(profile)
    }

    /// Reads certificate files named by hash entries (relative to `base_dir`) into `value`, and
    /// validates every field. Idempotent.
    pub fn resolve(&mut self, base_dir: &Path) -> Result<(), ProfileError> {
        for (i, entry) in self.hashes.iter_mut().enumerate() {
            if entry.name.is_empty() {
                entry.name = entry
                    .cert
                    .as_deref()
                    .and_then(|c| Path::new(c).file_name())
                    .and_then(|n| n.to_str())
                    .map(|n| n.split('.').next().unwrap_or(n).to_owned())
                    .unwrap_or_else(|| format!("Custom Hash {}", i + 1));
            }
            if let Some(cert) = entry.cert.take() {
                if entry.value.is_some() {
                    return Err(invalid(
                        format!("hashes[{i}]"),
                        "give either `value` or `cert`, not both",
                    ));
                }
                let path = base_dir.join(&cert);
                let bytes =
                    crate::io::read_file(&path).map_err(|source| ProfileError::CertFile {
                        name: entry.name.clone(),
                        path: path.clone(),
                        source,
                    })?;
                let der = pem_to_der(&bytes).ok_or_else(|| {
                    invalid(
                        format!("hashes[{i}].cert"),
                        format!("{} is not a PEM or DER certificate", path.display()),
                    )
                })?;
                let alg = entry.algorithm.unwrap_or(HashAlgorithmName::Sha256);
                entry.value = Some(Thumbprint::of_der(alg.into(), &der).to_lower_hex());
                entry.algorithm = Some(alg);
            }
        }
        self.validate()
    }

    /// Checks values that types cannot (UUID, hashes, server address, clock, faults).
    pub fn validate(&self) -> Result<(), ProfileError> {
        DeviceUuid::parse(&self.uuid).map_err(|e| invalid("uuid", e.to_string()))?;
        if self.hashes.len() > amt_wire::hello::MAX_HASHES {
            return Err(invalid(
                "hashes",
                format!("at most {} entries", amt_wire::hello::MAX_HASHES),
            ));
        }
        for (i, h) in self.hashes.iter().enumerate() {
            resolve_hash(h).map_err(|m| invalid(format!("hashes[{i}]"), m))?;
        }
        if let Some(server) = &self.provisioning.server {
            parse_host_port(server).map_err(|m| invalid("provisioning.server", m))?;
        }
        if let Clock::Epoch(text) = &self.clock {
            parse_rfc3339(text).map_err(|m| invalid("clock.epoch", m))?;
        }
        let interfaces = std::iter::once(("network.wired.mac", &self.network.wired)).chain(
            self.network
                .wireless
                .iter()
                .map(|w| ("network.wireless.mac", w)),
        );
        for (field, iface) in interfaces {
            if !is_mac(&iface.mac) {
                return Err(invalid(
                    field,
                    format!("{:?} is not a MAC address (aa:bb:cc:dd:ee:ff)", iface.mac),
                ));
            }
        }
        // Faults built in code (not parsed from YAML) get the parser's checks too.
        for (i, f) in self.faults.iter().enumerate() {
            crate::faults::FaultEntry::from(f.clone())
                .validate()
                .map_err(|m| invalid(format!("faults[{i}]"), m))?;
            // A `hash_active` fault names an entry the hash list has.
            if let FaultSpec::HashActive(o) = f {
                let names: Vec<&str> = self.hashes.iter().map(|h| h.name.as_str()).collect();
                if let Some(name) = &o.name
                    && !names.contains(&name.as_str())
                {
                    return Err(invalid(
                        format!("faults[{i}].hash_active.name"),
                        format!("no hash entry is named {name:?} (the list has: {names:?})"),
                    ));
                }
                if let Some(index) = o.index
                    && index >= names.len()
                {
                    return Err(invalid(
                        format!("faults[{i}].hash_active.index"),
                        format!("index {index} is past the {} hash entries", names.len()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The device UUID (validated by [`Self::validate`]; a nil UUID if invalid).
    pub fn device_uuid(&self) -> DeviceUuid {
        DeviceUuid::parse(&self.uuid).unwrap_or_else(|_| DeviceUuid::from_canonical([0; 16]))
    }

    /// The personality's behaviour table with the profile's overrides and policy faults applied.
    pub fn traits(&self) -> PersonalityTraits {
        let mut t = self.personality.traits();
        if let Some(a) = self.setup_auth {
            t.setup_auth = a;
        }
        if let Some(l) = self.fqdn_limit {
            t.fqdn_limit = (l > 0).then_some(l);
        }
        if let Some(k) = self.hello.schedule {
            t.hello_schedule = k;
        }
        for f in &self.faults {
            match *f {
                FaultSpec::CnRule(r) => t.cn_rule = r,
                FaultSpec::MaxRootKeyBits(b) => t.max_root_key_bits = (b > 0).then_some(b),
                FaultSpec::MinRsaKeyBits(b) => t.min_rsa_key_bits = (b > 0).then_some(b),
                FaultSpec::RefuseSha1(s) => t.refuse_sha1 = s,
                _ => {}
            }
        }
        t
    }

    /// The facts the WS-MAN engine sees (see [`crate::device::facts_of`]).
    pub fn facts(&self) -> crate::wsman::DeviceFacts {
        crate::device::facts_of(self, &self.traits())
    }

    /// The CN rule in force.
    pub fn cn_rule(&self) -> CnRule {
        self.traits().cn_rule
    }

    /// The firmware version string.
    pub fn amt_version(&self) -> String {
        self.amt_version
            .clone()
            .unwrap_or_else(|| self.personality.traits().amt_version.to_owned())
    }

    /// The hash list with `hash_active` faults applied (entries that fail to parse are skipped;
    /// [`Self::validate`] reports them).
    pub fn hash_list(&self) -> Vec<ResolvedHash> {
        let mut list: Vec<ResolvedHash> = self
            .hashes
            .iter()
            .filter_map(|h| resolve_hash(h).ok())
            .collect();
        for f in &self.faults {
            if let FaultSpec::HashActive(o) = f {
                for (i, h) in list.iter_mut().enumerate() {
                    if o.index == Some(i) || o.name.as_deref() == Some(h.name.as_str()) {
                        h.active = o.active;
                    }
                }
            }
        }
        list
    }

    /// Thumbprints of the active hashes, in order (what a Hello carries and TLS trusts).
    pub fn active_hashes(&self) -> Vec<Thumbprint> {
        self.hash_list()
            .into_iter()
            .filter(|h| h.active)
            .map(|h| h.thumbprint)
            .collect()
    }

    /// The device's DNS domain: MEBx setting, else DHCP option 15.
    pub fn dns_domain(&self) -> Option<&str> {
        self.network
            .mebx_domain
            .as_deref()
            .or(self.network.dhcp.domain.as_deref())
            .filter(|d| !d.is_empty())
    }

    /// The device's FQDN (`hostname.domain`, or the host name alone).
    pub fn fqdn(&self) -> String {
        match self.dns_domain() {
            Some(d) => format!("{}.{d}", self.network.hostname),
            None => self.network.hostname.clone(),
        }
    }

    /// The Hello schedule in force.
    pub fn hello_schedule(&self) -> HelloSchedule {
        match &self.hello.offsets {
            Some(o) => HelloSchedule::from_offsets(o.iter().map(|d| d.0).collect()),
            None => HelloSchedule::of_kind(self.traits().hello_schedule),
        }
    }

    /// The device clock's value when the device starts at host time `host_now`.
    pub fn clock_start(&self, host_now: Timestamp) -> Timestamp {
        match &self.clock {
            Clock::Host => host_now,
            Clock::Epoch(text) => parse_rfc3339(text).unwrap_or(host_now),
        }
    }

    /// Whether a network fault names this.
    pub fn no_wired_link(&self) -> bool {
        !self.network.wired.link_up || self.faults.contains(&FaultSpec::NoWiredLink)
    }

    /// Whether a `hellos_off` fault suppresses every scheduled Hello (each one is recorded as
    /// suppressed; `hello.enabled: false` instead means no schedule at all).
    pub fn hellos_off(&self) -> bool {
        self.faults.contains(&FaultSpec::HellosOff)
    }

    /// Whether only the wireless address answers (fault).
    pub fn wireless_only(&self) -> bool {
        self.faults.contains(&FaultSpec::WirelessOnly)
    }

    /// Whether connections to `port` are refused by a fault.
    pub fn port_refused(&self, port: u16) -> bool {
        self.faults.contains(&FaultSpec::RefusePort(port))
    }

    /// A forced TLS refusal id, if a fault sets one.
    pub fn forced_tls_refusal(&self) -> Option<crate::tls::RefusalKind> {
        self.faults.iter().find_map(|f| match f {
            FaultSpec::RefuseTls(r) => Some(*r),
            _ => None,
        })
    }

    /// The provisioning server Hellos go to, or why there is none (a stable reason id).
    pub fn hello_target(&self) -> Result<crate::hello::HelloTarget, &'static str> {
        use crate::hello::HelloTarget;
        if let Some(server) = &self.provisioning.server {
            let (host, port) = parse_host_port(server).map_err(|_| "bad-server-address")?;
            return Ok(match host.parse::<IpAddr>() {
                Ok(ip) => HelloTarget::Address(SocketAddr::new(ip, port)),
                Err(_) => self.resolve_name(&host, port),
            });
        }
        let domain = self.dns_domain().ok_or("no-dns-domain")?;
        if self.network.dhcp.dns_servers.is_empty() {
            return Err("no-dns-server");
        }
        let name = format!("provisionserver.{domain}");
        Ok(self.resolve_name(&name, self.provisioning.server_port))
    }

    fn resolve_name(&self, name: &str, port: u16) -> crate::hello::HelloTarget {
        use crate::hello::HelloTarget;
        match self.network.dns.get(name) {
            Some(ip) => HelloTarget::Address(SocketAddr::new(*ip, port)),
            None => HelloTarget::Name(name.to_owned(), port),
        }
    }
}

fn resolve_hash(h: &HashEntry) -> Result<ResolvedHash, String> {
    let value = h
        .value
        .as_deref()
        .ok_or("needs `value` (hex) or `cert` (file)")?;
    let thumbprint = Thumbprint::parse_hex(value).map_err(|e| e.to_string())?;
    if let Some(alg) = h.algorithm
        && HashAlgorithm::from(alg) != thumbprint.algorithm()
    {
        return Err(format!(
            "`algorithm` {:?} does not match a {}-byte value",
            alg,
            thumbprint.as_bytes().len()
        ));
    }
    Ok(ResolvedHash {
        thumbprint,
        name: h.name.clone(),
        is_default: h.default,
        active: h.active,
    })
}

/// Splits `host:port` (IPv6 in brackets).
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok((sa.ip().to_string(), sa.port()));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not host:port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{text:?}: invalid port"))?;
    if host.is_empty() {
        return Err(format!("{text:?}: empty host"));
    }
    Ok((host.to_owned(), port))
}

/// Parses an RFC 3339 instant into a [`Timestamp`].
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms)
        .map(Timestamp::from_unix_millis)
        .map_err(|_| format!("{text:?} out of range"))
}

/// Extracts the DER of the first certificate in PEM text, or returns DER input as is.
pub fn pem_to_der(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    if bytes.first() == Some(&0x30) {
        return Some(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let body = text.get(start + 27..)?;
    let end = body.find("-----END CERTIFICATE-----")?;
    let b64: String = body
        .get(..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn arbitrary_yaml_never_panics(text in "\\PC{0,200}") {
            let _ = DeviceProfile::from_yaml(&text, Path::new("."));
        }

        #[test]
        fn mutated_default_never_panics(cut in 0usize..4000, insert in "[ :{}\\[\\]a-z0-9-]{0,8}") {
            let mut text = DEFAULT_PROFILE_YAML.to_owned();
            let at = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
            text.insert_str(at, &insert);
            let _ = DeviceProfile::from_yaml(&text, Path::new("."));
        }
    }

    #[test]
    fn facts_follow_the_profile() {
        let mut p = DeviceProfile::default();
        p.network.wired.mac = "00-11-22-aa-bb-cc".into();
        let f = p.facts();
        assert_eq!(f.wired.mac, [0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc]);
        assert_eq!(f.amt_major, 11);
        assert_eq!(f.hashes.len(), 9);
        assert_eq!(f.dhcp_domain.as_deref(), Some(DEFAULT_DOMAIN));
        assert!(f.pki_mode_enabled);
    }

    #[test]
    fn embedded_default_yaml_is_the_default_profile() -> Result<(), ProfileError> {
        let parsed = DeviceProfile::from_yaml(DEFAULT_PROFILE_YAML, Path::new("."))?;
        assert_eq!(parsed, DeviceProfile::default());
        let empty = DeviceProfile::from_yaml("{}", Path::new("."))?;
        assert_eq!(empty, DeviceProfile::default());
        Ok(())
    }

    #[test]
    fn default_device_is_provisionable_with_the_test_pki() -> Result<(), ProfileError> {
        let p = DeviceProfile::default();
        p.validate()?;
        let root =
            Thumbprint::parse_hex(TEST_ROOT_SHA256).map_err(|e| invalid("t", e.to_string()))?;
        assert!(p.active_hashes().contains(&root));
        assert_eq!(p.dns_domain(), Some(DEFAULT_DOMAIN));
        assert_eq!(
            p.hello_target(),
            Ok(crate::hello::HelloTarget::Address(
                "127.0.0.1:9971".parse().map_err(|_| invalid("t", "addr"))?
            ))
        );
        Ok(())
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let err = DeviceProfile::from_yaml("uuid: x\nports:\n  http: 99999\n", Path::new("."));
        assert!(
            matches!(err, Err(ProfileError::Yaml { line: 3, .. })),
            "{err:?}"
        );
        let err = DeviceProfile::from_yaml("bogus_field: 1\n", Path::new("."));
        assert!(matches!(err, Err(ProfileError::Yaml { line: 1, .. })));
        let err = DeviceProfile::from_yaml("uuid: not-a-uuid\n", Path::new("."));
        assert!(matches!(err, Err(ProfileError::Invalid { ref field, .. }) if field == "uuid"));
    }

    #[test]
    fn cert_paths_resolve_relative_to_the_profile() -> Result<(), ProfileError> {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let p = DeviceProfile::from_yaml(
            "hashes:\n  - { cert: ../../../certs/root-rsa2048.cert.pem }\n  - { value: c12c0b00a1de9233542d69fe6c3c2d9f2733b98d }\n",
            &base,
        )?;
        assert_eq!(p.hashes[0].name, "root-rsa2048");
        assert_eq!(p.hashes[0].value.as_deref(), Some(TEST_ROOT_SHA256));
        assert_eq!(p.hashes[1].name, "Custom Hash 2");
        let missing = DeviceProfile::from_yaml("hashes:\n  - { cert: nope.pem }\n", &base);
        assert!(matches!(missing, Err(ProfileError::CertFile { .. })));
        Ok(())
    }

    #[test]
    fn hash_active_faults_name_an_existing_entry() {
        let load = |fault: &str| {
            DeviceProfile::from_yaml(
                &format!("faults:\n  - hash_active: {fault}\n"),
                Path::new("."),
            )
        };
        assert!(load("{ name: amt-sim Test Root (TEST ONLY), active: false }").is_ok());
        let typo = load("{ name: amt-sim Test Rot, active: false }");
        assert!(
            typo.as_ref()
                .is_err_and(|e| e.to_string().contains("no hash entry is named")),
            "{typo:?}"
        );
        assert!(load("{ index: 999, active: false }").is_err());
    }

    #[test]
    fn overrides_and_faults_change_traits_and_hashes() -> Result<(), ProfileError> {
        let p = DeviceProfile::from_yaml(
            "personality: amt-6.0\nclock: { epoch: 2004-01-01T00:00:00Z }\n\
             hashes:\n  - { name: a, value: c12c0b00a1de9233542d69fe6c3c2d9f2733b98d }\n\
             faults:\n  - hash_active: { index: 0, active: false }\n  - cn_rule: exact-suffix\n",
            Path::new("."),
        )?;
        assert_eq!(p.traits().max_root_key_bits, Some(2048));
        assert_eq!(p.cn_rule(), CnRule::ExactSuffix);
        assert!(p.active_hashes().is_empty());
        assert_eq!(
            p.clock_start(Timestamp::from_unix_secs(5)),
            Timestamp::from_unix_secs(1_072_915_200)
        );
        Ok(())
    }
}
