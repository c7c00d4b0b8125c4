//! The device's WS-Management engine: AMT's object model (classes, instances, methods) over the
//! NVRAM state, answering Get/Put/Create/Delete/Enumerate/Pull/Release/Invoke/Identify exactly as
//! firmware does (AMT response shape, faults, PT_STATUS return values).
//!
//! The engine is pure: the device core authenticates the request, parses the envelope and applies
//! injected faults, then calls [`Engine::handle`] with the state, a [`RequestContext`] (time,
//! session, randomness) and the parsed [`Envelope`]. It returns an [`Outcome`]: HTTP status, body
//! bytes, [`Note`]s for the event log and whether NVRAM changed. It does no HTTP, digest or TLS.
//!
//! Class families live in submodules: `setup` (activation), `pki` (certificates, keys, TLS),
//! `auth` (ACLs), `timesync`, `redirection` (redirection, KVM, opt-in, Kerberos, web UI, power
//! scheme), `power` (power and boot), `wifi` (Wi-Fi, 802.1X, Ethernet), `logs` (message and
//! audit log), `inventory` (hardware inventory) and `other` (alarm clock, CIRA, HTTP proxies and
//! other less used services).
//!
//! Decisions where the references are silent are listed in [`Engine::handle`]'s documentation
//! and here:
//!
//! - **Access.** No access answers HTTP 401 with an empty body and a [`Note::Fault`]
//!   (`wsman/AccessDenied`); the core adds its challenge. The setup session works only before
//!   post-provisioning and only on the activation / stage-1 / stage-2 settings classes (not
//!   power, boot, logs or inventory). Digest users with a user ACL entry need the class's realm
//!   (2 redirection, 3 PT administration, 4 hardware asset, 5 remote control, 12 network time,
//!   13 general info, 19 event log, 20 audit log, 21 ACLs); host-based setup is admin-only.
//! - **Pending vs committed.** `AMT_TLSSettingData` Puts are pending until `CommitChanges`
//!   copies them to the committed settings ([`crate::state::NvramState::committed_tls`]); Get
//!   and Enumerate show the pending values. The credential context (which certificate the TLS
//!   port serves) and general settings (host and domain name, ping, …) apply at once.
//! - **CommitChanges** returns 2057 DATA_MISSING when TLS is enabled without a credential
//!   context, when TLS is enabled and the clock was never set (device clock before 2005), when
//!   no admin password was set while provisioning, or on AMT 19+ while the MEBx password is the
//!   default. Otherwise it moves to post-provisioning in admin control mode.
//! - **Unprovision** keeps the digest realm, the clock offset, handle counters and the audit
//!   log; `PartialUnprovision` also keeps the admin ACL entry and host/domain names.
//! - **PT_STATUS choices:** AddCertificate without a matching key pair 2064; duplicate
//!   certificate or key 2058; unreadable or (ME 16+) SHA-1-signed certificate 2063;
//!   GenerateKeyPair beyond the 8-key pool 23; GeneratePKCS10RequestEx with SHA-1 2066;
//!   SetAdminAclEntryEx with a malformed DigestPassword 36 (hex accepted unless
//!   `quirks.strict_digest_password_base64`); user ACL realm unknown 2055, bad handle 2053,
//!   more than 7 entries 23; SendOptInCode with a wrong code 2066; numbers out of range 36.
//!   Deleting the certificate or key the TLS credential context uses (or AMT's read-only
//!   certificate) is a `wsman:AccessDenied` fault.
//! - **Enumeration** snapshots the instances at Enumerate time; at most 64 open contexts (least
//!   recently used dropped), each valid for 10 minutes after its last use; the last PullResponse
//!   has `EndOfSequence` and no context, and so does an optimized EnumerateResponse that holds
//!   every item (DSP0226 §8.2.3); `MaxElements` defaults to 1; `MaxCharacters` limits a page but
//!   never below one item. A `wsman:Filter` in the CIM binding's association dialect is answered
//!   by `assoc` (AssociatedInstances / AssociationInstances); other dialects are ignored.
//! - **Power** transitions follow the current state (`power::POWER_TRANSITIONS`, DSP1027);
//!   an unavailable one returns 2 and changes nothing.
//! - **Identify** has a header with only a `wsa:Action` (`…/IdentifyResponse`).
//!
//! Classes answered: activation (`AMT_GeneralSettings`, `AMT_SetupAndConfigurationService`,
//! `IPS_HostBasedSetupService`, `CIM_SoftwareIdentity`, `AMT_ProvisioningCertificateHash`,
//! `AMT_AuthorizationService`, `AMT_TimeSynchronizationService`); PKI and TLS
//! (`AMT_PublicKeyManagementService`, `AMT_PublicKeyCertificate`, `AMT_PublicPrivateKeyPair`,
//! `AMT_TLSSettingData`, `AMT_TLSCredentialContext`, `AMT_TLSProtocolEndpointCollection`);
//! stage 2 (`AMT_RedirectionService`, `IPS_KVMRedirectionSettingData`, `CIM_KVMRedirectionSAP`,
//! `IPS_OptInService`, `AMT_KerberosSettingData`, `AMT_WebUIService`, `AMT_SystemPowerScheme`,
//! `AMT_WiFiPortConfigurationService`, `CIM_WiFiEndpointSettings`, `CIM_WiFiPort`,
//! `AMT_8021XProfile`, `AMT_EthernetPortSettings`); management (`CIM_AssociatedPowerManagementService`,
//! `CIM_PowerManagementService`, `CIM_ComputerSystem`, `CIM_BootConfigSetting`, `CIM_BootService`,
//! `CIM_BootSourceSetting`, `AMT_BootSettingData`, `AMT_BootCapabilities`, `AMT_MessageLog`,
//! `AMT_AuditLog`); inventory (`CIM_ComputerSystemPackage`, `CIM_Chassis`, `CIM_Card`,
//! `CIM_BIOSElement`, `CIM_Processor`, `CIM_PhysicalMemory`, `CIM_Chip`, `CIM_MediaAccessDevice`,
//! `CIM_PhysicalPackage`, `CIM_SystemPackaging`, `CIM_Fan`, `CIM_NumericSensor`,
//! `CIM_SystemDevice`, `CIM_AssociatedSensor`); associations of the managed system
//! (`CIM_ElementSettingData`, `CIM_ServiceAffectsElement`); and the other classes of Intel's
//! `wsman-messages` (alarm clock, CIRA, HTTP proxy, environment detection, host 802.1X,
//! `IPS_PowerManagementService`, `IPS_ScreenSettingData`, association classes). Anything else
//! is `wsa:DestinationUnreachable`.

#![allow(
    clippy::result_large_err,
    reason = "a Fault is built at most once per request; boxing it everywhere adds noise, not speed"
)]

mod assoc;
mod auth;
mod classes;
mod engine;
mod inventory;
mod logs;
mod model;
mod other;
pub(crate) mod pki;
mod power;
mod redirection;
mod setup;
mod timesync;
mod wifi;

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use amt_wire::wsman::names::{ADDRESSING, IDENTITY, SOAP_ENVELOPE, WSMAN};
use amt_wire::wsman::{Element, Envelope};

pub use engine::Engine;
pub(crate) use power::apply_power_request;

/// Read-only facts from the device profile, filled in by the device core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The device UUID.
    pub uuid: DeviceUuid,
    /// Firmware version, e.g. `16.1.25.2124`.
    pub amt_version: String,
    /// Major version (16).
    pub amt_major: u32,
    /// Version-dependent behaviour.
    pub quirks: Quirks,
    /// The wired interface.
    pub wired: NetInterface,
    /// The wireless interface, if any.
    pub wireless: Option<NetInterface>,
    /// DNS suffix from DHCP option 15.
    pub dhcp_domain: Option<String>,
    /// DNS suffix set in MEBx.
    pub mebx_domain: Option<String>,
    /// Host name.
    pub hostname: String,
    /// The root certificate hash list (`AMT_ProvisioningCertificateHash`).
    pub hashes: Vec<HashFact>,
    /// Whether PKI (remote configuration) is enabled.
    pub pki_mode_enabled: bool,
    /// Whether the platform has Wi-Fi that AMT can manage.
    pub wireless_capable: bool,
    /// System manufacturer.
    pub manufacturer: String,
    /// System model.
    pub model: String,
    /// System serial number.
    pub serial: String,
    /// BIOS version.
    pub bios_version: String,
    /// Installed memory in MiB.
    pub memory_mb: u64,
    /// Processor name.
    pub cpu: String,
    /// The rest of the hardware inventory.
    pub hardware: HardwareFacts,
    /// Deliberate deviations (test knobs, [`crate::deviation`]); none by default.
    pub deviations: crate::deviation::DeviationSet,
}

/// Hardware inventory facts beyond the identity strings (profile `system`, PROFILE.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareFacts {
    /// `CIM_Chassis.ChassisPackageType` (3 desktop, 9 laptop, …).
    pub chassis_package_type: u16,
    /// Current CPU clock, MHz.
    pub cpu_mhz: u32,
    /// Maximum CPU clock, MHz.
    pub cpu_max_mhz: u32,
    /// Memory modules (at least 1).
    pub memory_modules: u8,
    /// Memory speed, MHz.
    pub memory_mhz: u32,
    /// Fans: name and speed (RPM).
    pub fans: Vec<(String, u32)>,
    /// Temperature sensors: name and reading (degrees C).
    pub temperatures: Vec<(String, i32)>,
}

impl HardwareFacts {
    /// A desktop with one fan and two temperature sensors (for [`DeviceFacts::sample`]).
    pub fn sample() -> Self {
        Self {
            chassis_package_type: 3,
            cpu_mhz: 2600,
            cpu_max_mhz: 4800,
            memory_modules: 2,
            memory_mhz: 3200,
            fans: vec![("CPU Fan".to_owned(), 1800)],
            temperatures: vec![
                ("CPU Temperature".to_owned(), 45),
                ("System Temperature".to_owned(), 34),
            ],
        }
    }
}

/// Version-dependent firmware behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quirks {
    /// WS-MAN fails once HostName + "." + DomainName is longer than this (AMT > 3.x: 44).
    pub fqdn_limit: Option<usize>,
    /// ME 16+: certificates signed with SHA-1 are refused (PT_STATUS 2063).
    pub refuse_sha1_hashes: bool,
    /// `IPS_HostBasedSetupService` is present (AMT 7+).
    pub host_based_setup: bool,
    /// `SetAdminAclEntryEx` accepts only Base64 `DigestPassword`, not MeshCentral's hex.
    pub strict_digest_password_base64: bool,
}

/// A network interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetInterface {
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ipv4: std::net::Ipv4Addr,
    /// Whether the address came from DHCP.
    pub dhcp: bool,
    /// Link up.
    pub link_up: bool,
}

/// One root certificate hash entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashFact {
    /// Friendly name.
    pub name: String,
    /// The hash.
    pub thumbprint: amt_wire::thumbprint::Thumbprint,
    /// Factory default entry.
    pub default: bool,
    /// Active entry.
    pub active: bool,
}

/// How the request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// TLS session authenticated by the provisioning certificate (pre/in-provisioning).
    Setup,
    /// HTTP digest as this user.
    Digest {
        /// The authenticated user name.
        user: String,
    },
    /// Unauthenticated (only Identify is answered).
    Anonymous,
}

/// Everything about one request other than the envelope.
pub struct RequestContext<'a> {
    /// Device facts.
    pub facts: &'a DeviceFacts,
    /// Device clock (offset already applied).
    pub now: Timestamp,
    /// How the request was authenticated.
    pub session: Session,
    /// The port the request arrived on (16992/16993).
    pub local_port: u16,
    /// The request came over the local host interface (the host's management service tunnelling
    /// to the firmware over HECI/MEI), not over the network. Host-based setup needs it.
    pub host_interface: bool,
    /// Randomness for nonces and codes (deterministic when the device is seeded).
    pub rng: &'a mut dyn rand::RngCore,
    /// Injected fault: an Invoke returns this ReturnValue and changes nothing.
    pub return_value_override: Option<u32>,
}

impl std::fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("now", &self.now)
            .field("session", &self.session)
            .field("local_port", &self.local_port)
            .field("host_interface", &self.host_interface)
            .field("return_value_override", &self.return_value_override)
            .finish_non_exhaustive()
    }
}

/// What the engine answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 200, 400/500 with a fault body, or 401 with an empty body (access denied).
    pub http_status: u16,
    /// The response body (empty for 401).
    pub body: Vec<u8>,
    /// What happened, for the device event log.
    pub notes: Vec<Note>,
    /// NVRAM changed: persist after this.
    pub state_changed: bool,
}

/// Something that happened while handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The provisioning state changed.
    ProvisioningStateChanged {
        /// Before.
        from: crate::state::ProvisioningState,
        /// After.
        to: crate::state::ProvisioningState,
    },
    /// `CommitChanges` applied pending settings.
    Committed,
    /// `Unprovision` (full) or `PartialUnprovision`.
    Unprovisioned {
        /// Full unprovision.
        full: bool,
    },
    /// The admin ACL entry was set.
    AdminAclSet {
        /// The admin user name.
        user: String,
    },
    /// The MEBx password changed.
    MebxPasswordChanged,
    /// The clock was set.
    ClockSet {
        /// New offset from the host clock.
        offset_ms: i64,
    },
    /// A certificate was stored.
    CertificateAdded {
        /// Its handle.
        handle: u32,
    },
    /// A key pair was generated or added.
    KeyPairGenerated {
        /// Its handle.
        handle: u32,
    },
    /// TLS settings (pending or committed) changed.
    TlsSettingsChanged,
    /// A user ACL entry was added, updated or removed.
    UserAclChanged {
        /// Its handle.
        handle: u32,
    },
    /// The power state changed.
    PowerStateChanged {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// A user-consent code is shown on the host screen.
    OptInCodeDisplayed {
        /// The code.
        code: u32,
    },
    /// Host-based setup completed (`Setup`/`AdminSetup`/`UpgradeClientToAdmin`).
    HostBasedSetup {
        /// Control mode reached.
        mode: crate::state::ControlMode,
    },
    /// A method returned a non-zero ReturnValue.
    MethodFailed {
        /// `Class.Method`.
        method: String,
        /// The PT_STATUS value.
        return_value: u32,
    },
    /// A fault (or access denial) was answered.
    Fault {
        /// Stable id, e.g. `wsman/InvalidSelectors`.
        code: String,
        /// What was wrong.
        detail: String,
    },
}

/// The `IdentifyResponse` (unauthenticated discovery): `ProductVendor` `Intel(r)`,
/// `ProductVersion` `AMT <major.minor>`, `DASHVersion`, `SecurityProfiles`. Unauthenticated
/// answers omit nothing (AMT answers Identify anonymously with the same body). The header
/// carries only a `wsa:Action` (`…/wsmanidentity.xsd/IdentifyResponse`): DSP0226 needs no
/// addressing header here, but strict envelope readers (amt-wire's own) require an Action.
pub fn identify_response(facts: &DeviceFacts, authenticated: bool) -> Vec<u8> {
    let _ = authenticated;
    // The `identify-wrong-version` deviation names the next major version.
    let product_version = |facts: &DeviceFacts, major: &str, minor: &str| match major.parse::<u32>()
    {
        Ok(m)
            if facts
                .deviations
                .has(crate::deviation::Deviation::IdentifyWrongVersion) =>
        {
            format!("AMT {}.{minor}", m.saturating_add(1))
        }
        _ => format!("AMT {major}.{minor}"),
    };
    let mut version = facts.amt_version.split('.');
    let major = version.next().unwrap_or("0");
    let minor = version.next().unwrap_or("0");
    let id = |name: &str| Element::prefixed("b", IDENTITY, name);
    let profiles = id("SecurityProfiles")
        .with_child(
            id("SecurityProfileName")
                .with_text("http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest"),
        )
        .with_child(
            id("SecurityProfileName")
                .with_text("http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest"),
        );
    let body = id("IdentifyResponse")
        .with_child(id("ProtocolVersion").with_text(WSMAN))
        .with_child(id("ProductVendor").with_text("Intel(r)"))
        .with_child(id("ProductVersion").with_text(product_version(facts, major, minor)))
        .with_child(Element::prefixed("c", DASH, "DASHVersion").with_text("1.0.0"))
        .with_child(profiles);
    let envelope = Element::prefixed("a", SOAP_ENVELOPE, "Envelope")
        .with_declaration(Some("a"), SOAP_ENVELOPE)
        .with_declaration(Some("b"), IDENTITY)
        .with_declaration(Some("c"), DASH)
        .with_declaration(Some("d"), ADDRESSING)
        .with_child(
            Element::prefixed("a", SOAP_ENVELOPE, "Header").with_child(
                Element::prefixed("d", ADDRESSING, "Action")
                    .with_text(format!("{IDENTITY}/IdentifyResponse")),
            ),
        )
        .with_child(Element::prefixed("a", SOAP_ENVELOPE, "Body").with_child(body));
    envelope.to_xml().into_bytes()
}

/// Whether a parsed envelope is an Identify request (body `wsmid:Identify`).
pub fn is_identify(envelope: &Envelope) -> bool {
    envelope
        .body
        .as_ref()
        .is_some_and(|b| b.is(IDENTITY, "Identify"))
}

/// The DASH namespace of `DASHVersion`.
const DASH: &str = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd";

impl DeviceFacts {
    /// A plausible AMT 16.1 desktop with the test PKI's RSA-2048 root as an active custom hash,
    /// wired DHCP address 192.168.1.50 and no Wi-Fi: a default for examples and tests.
    pub fn sample() -> Self {
        let root = amt_wire::thumbprint::Thumbprint::parse_hex(SAMPLE_ROOT_SHA256)
            .unwrap_or(amt_wire::thumbprint::Thumbprint::Sha256([0; 32]));
        Self {
            uuid: DeviceUuid::from_canonical([
                0x93, 0x9b, 0x52, 0x4b, 0x13, 0xd4, 0x1d, 0x18, 0xe4, 0x87, 0x1c, 0x69, 0x7a, 0x6b,
                0x7a, 0x2b,
            ]),
            amt_version: "16.1.25.2124".to_owned(),
            amt_major: 16,
            quirks: Quirks {
                fqdn_limit: Some(44),
                refuse_sha1_hashes: true,
                host_based_setup: true,
                strict_digest_password_base64: false,
            },
            wired: NetInterface {
                mac: [0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01],
                ipv4: std::net::Ipv4Addr::new(192, 168, 1, 50),
                dhcp: true,
                link_up: true,
            },
            wireless: None,
            dhcp_domain: Some("corp.amt-sim.test".to_owned()),
            mebx_domain: None,
            hostname: "amt-device-01".to_owned(),
            hashes: vec![HashFact {
                name: "amt-sim Test Provisioning Root CA".to_owned(),
                thumbprint: root,
                default: false,
                active: true,
            }],
            pki_mode_enabled: true,
            wireless_capable: false,
            manufacturer: "amt-sim".to_owned(),
            model: "Virtual vPro Desktop".to_owned(),
            serial: "SIM0000001".to_owned(),
            bios_version: "V1.0.0".to_owned(),
            memory_mb: 16384,
            cpu: "Intel(R) Core(TM) i7-1365U".to_owned(),
            hardware: HardwareFacts::sample(),
            deviations: crate::deviation::DeviationSet::NONE,
        }
    }
}

/// SHA-256 of `certs/root-rsa2048.cert.pem` (the test PKI's main provisioning root).
const SAMPLE_ROOT_SHA256: &str = "8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d";
