//! The device's NVRAM: everything real AMT firmware keeps across power cycles (provisioning
//! state, digest realm, passwords and ACLs, certificates and keys, TLS, redirection, power, boot,
//! Wi-Fi and log settings), as one serde value the device core persists atomically.
//!
//! This module holds data and small queries only. The WS-Management engine (`crate::wsman`)
//! changes it; the device core reads it for digest authentication ([`NvramState::digest_user`])
//! and for what its TLS port must do after provisioning ([`NvramState::committed_tls`]). It
//! deliberately does no I/O: persistence is the shell's job (JSON via `serde_json`).

use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::wsman::DeviceFacts;

/// The factory MEBx password of every AMT device.
pub const DEFAULT_MEBX_PASSWORD: &str = "admin";
/// The built-in administrator account name.
pub const ADMIN_USER: &str = "admin";

/// AMT's provisioning state (`AMT_SetupAndConfigurationService.ProvisioningState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProvisioningState {
    /// 0: factory state, not provisioned.
    Pre,
    /// 1: provisioning in progress (a setup session changed something, commit pending).
    In,
    /// 2: provisioned.
    Post,
}

impl ProvisioningState {
    /// The AMT wire value 0, 1 or 2.
    pub fn wire(self) -> u32 {
        match self {
            Self::Pre => 0,
            Self::In => 1,
            Self::Post => 2,
        }
    }
}

/// The control mode after provisioning (`IPS_HostBasedSetupService.CurrentControlMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ControlMode {
    /// 0: not provisioned.
    None,
    /// 1: client control mode (host-based `Setup`).
    Client,
    /// 2: admin control mode (TLS-PKI remote configuration or `AdminSetup`).
    Admin,
}

impl ControlMode {
    /// The AMT wire value of `CurrentControlMode`.
    pub fn wire(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Client => 1,
            Self::Admin => 2,
        }
    }

    /// `AMT_SetupAndConfigurationService.ProvisioningMode`: 1 admin (enterprise), 4 client.
    pub fn provisioning_mode(self) -> u32 {
        match self {
            Self::Client => 4,
            Self::None | Self::Admin => 1,
        }
    }
}

/// The administrator ACL entry set by `SetAdminAclEntryEx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAcl {
    /// User name (usually `admin`).
    pub username: String,
    /// HA1 = MD5(user:realm:password).
    #[serde(with = "hex_array")]
    pub ha1: [u8; 16],
}

/// A digest user ACL entry (`AddUserAclEntryEx`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAcl {
    /// The handle AMT assigned.
    pub handle: u32,
    /// Digest user name (empty for a Kerberos entry).
    pub username: String,
    /// HA1 = MD5(user:realm:password), if a digest entry.
    #[serde(with = "hex_opt_array")]
    pub ha1: Option<[u8; 16]>,
    /// Kerberos user SID, if a Kerberos entry.
    pub kerberos_sid: Option<String>,
    /// Realm numbers (2 redirection, 3 PT administration, 5 remote control, ...).
    pub realms: Vec<u32>,
    /// Access permission: 0 local only, 1 network only, 2 any.
    pub access_permission: u32,
    /// Whether the entry is enabled (`SetAclEnabledState`).
    pub enabled: bool,
}

/// `AMT_GeneralSettings` values that can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralSettings {
    /// `HostName`.
    pub host_name: String,
    /// `DomainName`.
    pub domain_name: String,
    /// `PingResponseEnabled`.
    pub ping_response_enabled: bool,
    /// `RmcpPingResponseEnabled`.
    pub rmcp_ping_response_enabled: bool,
    /// `WsmanOnlyMode`.
    pub wsman_only_mode: bool,
    /// `SharedFQDN`.
    pub shared_fqdn: bool,
    /// `DDNSUpdateEnabled`.
    pub ddns_update_enabled: bool,
    /// `DDNSPeriodicUpdateInterval` (minutes).
    pub ddns_periodic_update_interval: u32,
    /// `DDNSTTL` (seconds).
    pub ddns_ttl: u32,
    /// `IdleWakeTimeout` (minutes).
    pub idle_wake_timeout: u32,
    /// `PresenceNotificationInterval`.
    pub presence_notification_interval: u32,
    /// `PrivacyLevel`.
    pub privacy_level: u32,
    /// `PreferredAddressFamily` (0 IPv4).
    pub preferred_address_family: u32,
    /// `AMTNetworkEnabled` (1 enabled).
    pub amt_network_enabled: u32,
    /// `HostOSFQDN`.
    pub host_os_fqdn: String,
}

impl Default for GeneralSettings {
    fn default() -> Self {
        Self {
            host_name: String::new(),
            domain_name: String::new(),
            ping_response_enabled: true,
            rmcp_ping_response_enabled: true,
            wsman_only_mode: false,
            shared_fqdn: true,
            ddns_update_enabled: false,
            ddns_periodic_update_interval: 1440,
            ddns_ttl: 900,
            idle_wake_timeout: 65535,
            presence_notification_interval: 0,
            privacy_level: 0,
            preferred_address_family: 0,
            amt_network_enabled: 1,
            host_os_fqdn: String::new(),
        }
    }
}

/// A certificate in the AMT certificate store (`AMT_PublicKeyCertificate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    /// Handle N of `Intel(r) AMT Certificate: Handle: N`.
    pub handle: u32,
    /// The certificate's DER.
    #[serde(with = "b64")]
    pub der: Vec<u8>,
    /// Added by `AddTrustedRootCertificate`.
    pub trusted_root: bool,
    /// Read-only (AMT's own self-signed certificate).
    pub read_only: bool,
}

/// A key pair in the AMT key store (`AMT_PublicPrivateKeyPair`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKeyPair {
    /// Handle N of `Intel(r) AMT Key: Handle: N`.
    pub handle: u32,
    /// Index into `crate::keypool` for a key made by `GenerateKeyPair`.
    pub pool_index: Option<usize>,
    /// The private key as PKCS#8 DER, for a key given by `AddKey`.
    #[serde(with = "b64_opt")]
    pub pkcs8_der: Option<Vec<u8>>,
    /// The public key as PKCS#1 `RSAPublicKey` DER (what `DERKey` carries).
    #[serde(with = "b64")]
    pub public_pkcs1_der: Vec<u8>,
}

/// One `AMT_TLSSettingData` instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSetting {
    /// `Enabled`.
    pub enabled: bool,
    /// `MutualAuthentication`.
    pub mutual_authentication: bool,
    /// `AcceptNonSecureConnections` (remote instance only).
    pub accept_non_secure_connections: bool,
    /// `TrustedCN` entries.
    pub trusted_cn: Vec<String>,
}

impl Default for TlsSetting {
    fn default() -> Self {
        Self {
            enabled: false,
            mutual_authentication: false,
            accept_non_secure_connections: true,
            trusted_cn: Vec::new(),
        }
    }
}

/// The two TLS setting instances: remote (802.3) and local (LMS).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TlsSettings {
    /// `Intel(r) AMT 802.3 TLS Settings`.
    pub remote: TlsSetting,
    /// `Intel(r) AMT LMS TLS Settings`.
    pub local: TlsSetting,
}

/// Redirection settings (`AMT_RedirectionService`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirection {
    /// `ListenerEnabled` (port 16994/16995 listens).
    pub listener_enabled: bool,
    /// Serial-over-LAN enabled.
    pub sol: bool,
    /// IDE redirection enabled.
    pub ider: bool,
}

impl Redirection {
    /// `EnabledState`: 32768 both off, 32769 IDER on, 32770 SOL on, 32771 both on.
    pub fn enabled_state(&self) -> u32 {
        32768 + u32::from(self.ider) + 2 * u32::from(self.sol)
    }
}

/// KVM settings (`IPS_KVMRedirectionSettingData`, `CIM_KVMRedirectionSAP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kvm {
    /// `CIM_KVMRedirectionSAP.EnabledState` 2 enabled / 3 disabled / 6 enabled but offline.
    pub enabled_state: u32,
    /// `Is5900PortEnabled`.
    pub port_5900_enabled: bool,
    /// `OptInPolicy`.
    pub opt_in_policy: bool,
    /// `SessionTimeout` (minutes).
    pub session_timeout: u32,
    /// `RFBPassword` set (never read back).
    pub rfb_password_set: bool,
}

/// User consent (`IPS_OptInService`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptIn {
    /// `OptInRequired`: 0 none, 1 KVM only, 4294967295 all.
    pub required: u32,
    /// `OptInState`: 0 not started, 1 requested, 2 displayed, 3 received, 4 in session.
    pub state: u32,
    /// The code displayed on the host while a consent is pending.
    pub code: Option<u32>,
    /// `CanModifyOptInPolicy`.
    pub can_modify_policy: u32,
}

/// Kerberos settings (`AMT_KerberosSettingData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Kerberos {
    /// `KrbEnabled`.
    pub enabled: bool,
    /// `RealmName`.
    pub realm_name: String,
    /// Credential cache state (`SetCredentialCacheState`).
    pub credential_cache_enabled: bool,
}

/// Boot configuration (`CIM_BootConfigSetting`, `AMT_BootSettingData`, `CIM_BootService`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    /// `InstanceID`s of `CIM_BootSourceSetting` in boot order (empty = default order).
    pub order: Vec<String>,
    /// `CIM_BootService` role: 1 is-next, 32768 is-next-single-use (AMT), 0 none.
    pub role: Option<u32>,
    /// `AMT_BootSettingData` properties set by Put (name → text).
    pub setting_data: Vec<(String, String)>,
}

/// A Wi-Fi profile (`CIM_WiFiEndpointSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiProfile {
    /// `InstanceID` (`Intel(r) AMT:WiFi Endpoint Settings <ElementName>`).
    pub instance_id: String,
    /// `ElementName` (profile name).
    pub element_name: String,
    /// `SSID`.
    pub ssid: String,
    /// `Priority`.
    pub priority: u32,
    /// `AuthenticationMethod`.
    pub authentication_method: u32,
    /// `EncryptionMethod`.
    pub encryption_method: u32,
    /// Whether an 802.1X setting came with it.
    pub ieee8021x: bool,
}

/// The wired 802.1X profile (`AMT_8021XProfile`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ieee8021xProfile {
    /// `Enabled`.
    pub enabled: bool,
    /// Properties set by Put (name → text), other than `Enabled`.
    pub properties: Vec<(String, String)>,
}

/// One `AMT_MessageLog` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Device clock, Unix seconds.
    pub timestamp: i64,
    /// Event sensor type.
    pub sensor_type: u8,
    /// Event type.
    pub event_type: u8,
    /// Event offset.
    pub event_offset: u8,
    /// Event source type.
    pub event_source_type: u8,
    /// Event severity.
    pub event_severity: u8,
    /// Sensor number.
    pub sensor_number: u8,
    /// Entity.
    pub entity: u8,
    /// Entity instance.
    pub entity_instance: u8,
    /// Event data (8 bytes).
    pub event_data: [u8; 8],
}

/// One `AMT_AuditLog` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Device clock, Unix seconds.
    pub timestamp: i64,
    /// Application id (16 security admin, ...).
    pub app_id: u16,
    /// Event id.
    pub event_id: u16,
    /// Initiator user name.
    pub initiator: String,
}

/// What a host-based setup (`IPS_HostBasedSetupService`) collected so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostBasedSetup {
    /// Certificates given by `AddNextCertInChain`, leaf first.
    #[serde(with = "b64_vec")]
    pub chain: Vec<Vec<u8>>,
    /// `CertChainStatus`: 0 not started, 1 in progress, 2 complete.
    pub cert_chain_status: u32,
}

/// An alarm clock occurrence (`IPS_AlarmClockOccurrence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmOccurrence {
    /// `InstanceID` (also `ElementName`).
    pub instance_id: String,
    /// `StartTime` (CIM datetime text).
    pub start_time: String,
    /// `Interval` (CIM interval text), if recurring.
    pub interval: Option<String>,
    /// `DeleteOnCompletion`.
    pub delete_on_completion: bool,
}

/// A CIRA management presence server (`AMT_ManagementPresenceRemoteSAP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpsServer {
    /// `Name` (`Intel(r) AMT:Management Presence Server N`).
    pub name: String,
    /// `AccessInfo` (host name or address).
    pub access_info: String,
    /// `InfoFormat` (3 IPv4, 4 IPv6, 201 FQDN).
    pub info_format: u32,
    /// `Port`.
    pub port: u32,
    /// `AuthMethod` (1 mutual TLS, 2 user name/password).
    pub auth_method: u32,
    /// `CN`.
    pub cn: String,
}

/// A CIRA remote access policy rule (`AMT_RemoteAccessPolicyRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// `PolicyRuleName`.
    pub name: String,
    /// `Trigger` (0 user initiated, 1 alert, 2 periodic, 3 home provisioning).
    pub trigger: u32,
    /// `TunnelLifeTime` seconds.
    pub tunnel_lifetime: u32,
    /// `ExtendedData` (base64).
    pub extended_data: String,
    /// Names of the MPS servers the rule applies to.
    pub servers: Vec<String>,
}

/// An HTTP proxy access point (`IPS_HTTPProxyAccessPoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpProxy {
    /// `Name`.
    pub name: String,
    /// `AccessInfo`.
    pub access_info: String,
    /// `InfoFormat`.
    pub info_format: u32,
    /// `Port`.
    pub port: u32,
    /// `NetworkDnsSuffix`.
    pub network_dns_suffix: String,
}

/// Settings of the less used services (alarm clock, CIRA, HTTP proxies, environment detection,
/// host-side power saving). Absent in older state files (serde default).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OtherSettings {
    /// Alarm clock occurrences.
    pub alarms: Vec<AlarmOccurrence>,
    /// CIRA servers.
    pub mps_servers: Vec<MpsServer>,
    /// CIRA policy rules.
    pub policy_rules: Vec<PolicyRule>,
    /// HTTP proxies.
    pub http_proxies: Vec<HttpProxy>,
    /// `AMT_EnvironmentDetectionSettingData.DetectionStrings`.
    pub detection_strings: Vec<String>,
    /// `AMT_UserInitiatedConnectionService.EnabledState` (32768 all off … 32771 BIOS and OS).
    pub user_initiated_connection: Option<u32>,
    /// `IPS_IEEE8021xSettings` properties set by Put.
    pub ieee8021x_host: Vec<(String, String)>,
    /// `IPS_PowerManagementService` OS power saving state (2 full power, 3 saving).
    pub os_power_saving_state: Option<u32>,
    /// Counter for names of created objects.
    pub next_id: u32,
}

/// Counters for handles AMT hands out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Next certificate handle.
    pub next_cert_handle: u32,
    /// Next key handle.
    pub next_key_handle: u32,
    /// Next user ACL handle.
    pub next_user_handle: u32,
    /// Next index into `crate::keypool` for `GenerateKeyPair`.
    pub next_pool_index: usize,
}

/// Everything real firmware keeps in NVRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvramState {
    /// Provisioning state.
    pub provisioning_state: ProvisioningState,
    /// Control mode (none, client, admin).
    pub control_mode: ControlMode,
    /// Digest realm `Digest:` + 32 upper-case hex.
    pub digest_realm: String,
    /// The MEBx password as the firmware needs it, never in the clear: its digest HA1
    /// `MD5(admin:realm:password)` for this device's realm (constant for the device's life,
    /// kept across unprovisioning), which is all the digest setup session and the network
    /// login before `SetAdminAclEntryEx` need. Set it with [`Self::set_mebx_password`].
    #[serde(with = "hex_array", default)]
    pub mebx_ha1: [u8; 16],
    /// A cleartext MEBx password read from a state file written before `mebx_ha1` existed;
    /// turned into `mebx_ha1` on load ([`Self::upgraded`]) and never written back.
    #[serde(default, rename = "mebx_password", skip_serializing)]
    pub legacy_mebx_password: Option<String>,
    /// Whether the MEBx password is still the factory default.
    pub mebx_password_default: bool,
    /// The admin ACL entry; `None` while the network password is still coupled to the MEBx
    /// password (factory state): digest then accepts `admin` with the MEBx password.
    pub admin: Option<AdminAcl>,
    /// User ACL entries.
    pub users: Vec<UserAcl>,
    /// General settings.
    pub general: GeneralSettings,
    /// Certificate store.
    pub certificates: Vec<StoredCertificate>,
    /// Key store.
    pub key_pairs: Vec<StoredKeyPair>,
    /// TLS settings written by Put, applied at `CommitChanges` (or at once when provisioned).
    pub tls_pending: TlsSettings,
    /// TLS settings in force.
    pub tls_committed: TlsSettings,
    /// Certificate handle of the `AMT_TLSCredentialContext` (the TLS server certificate).
    pub tls_credential_cert: Option<u32>,
    /// Redirection.
    pub redirection: Redirection,
    /// KVM.
    pub kvm: Kvm,
    /// User consent.
    pub opt_in: OptIn,
    /// Kerberos.
    pub kerberos: Kerberos,
    /// Web UI enabled (`AMT_WebUIService`).
    pub web_ui_enabled: bool,
    /// `AMT_SystemPowerScheme` InstanceID in force.
    pub power_scheme: String,
    /// `CIM_AssociatedPowerManagementService.PowerState`: 2 on, 8 off (soft), 4 sleep, 7 hibernate.
    pub power_state: u32,
    /// Boot configuration.
    pub boot: Boot,
    /// Wi-Fi profiles.
    pub wifi_profiles: Vec<WifiProfile>,
    /// Local (OS) Wi-Fi profile synchronisation.
    pub wifi_local_profile_sync: bool,
    /// Wired 802.1X profile.
    pub ieee8021x: Ieee8021xProfile,
    /// Message (event) log.
    pub message_log: Vec<LogRecord>,
    /// Audit log.
    pub audit_log: Vec<AuditRecord>,
    /// Device clock minus host clock, milliseconds.
    pub time_offset_ms: i64,
    /// Whether `SetHighAccuracyTimeSynch` has set the clock since provisioning started.
    pub time_set: bool,
    /// `IPS_HostBasedSetupService.ConfigurationNonce` (20 bytes).
    #[serde(with = "b64")]
    pub configuration_nonce: Vec<u8>,
    /// Host-based setup progress.
    pub host_based: HostBasedSetup,
    /// One-time password set locally over HECI (in-band provisioning).
    #[serde(with = "b64_opt")]
    pub otp: Option<Vec<u8>>,
    /// Handle counters.
    pub counters: Counters,
    /// Provisioning period in hours (`ExtendProvisioningPeriod`).
    pub provisioning_period_hours: u32,
    /// The seed this state was made from (new nonces after unprovisioning derive from it).
    pub seed: u64,
    /// Alarm clock, CIRA, proxies and other less used settings.
    #[serde(default)]
    pub other: OtherSettings,
}

/// What the TLS port must do, from the committed TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedTls {
    /// TLS on 16993 with the configured certificate.
    pub tls_enabled: bool,
    /// Whether plain HTTP on 16992 stays open.
    pub accept_non_secure: bool,
    /// Whether clients must present a certificate.
    pub mutual_auth: bool,
    /// The TLS server certificate (DER) from the credential context.
    pub cert_der: Option<Vec<u8>>,
    /// The key pool index of its private key, if the key came from `GenerateKeyPair`.
    pub key_pool_index: Option<usize>,
    /// The private key (PKCS#8 DER), if it came from `AddKey`.
    pub key_pkcs8_der: Option<Vec<u8>>,
}

impl NvramState {
    /// Factory state of a device: realm `Digest:` + 32 upper-case hex derived from `seed`,
    /// MEBx password `admin` (default), nothing provisioned, power on.
    pub fn factory(facts: &DeviceFacts, seed: u64) -> Self {
        let mut state = Self::factory_fields(facts, seed);
        state.reset_mebx_password();
        state
    }

    fn factory_fields(facts: &DeviceFacts, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut realm = [0u8; 16];
        rng.fill_bytes(&mut realm);
        let mut nonce = vec![0u8; 20];
        rng.fill_bytes(&mut nonce);
        Self {
            provisioning_state: ProvisioningState::Pre,
            control_mode: ControlMode::None,
            digest_realm: amt_wire::digest::Realm::from_amt_bytes(realm)
                .as_str()
                .to_owned(),
            mebx_ha1: [0; 16],
            legacy_mebx_password: None,
            mebx_password_default: true,
            admin: None,
            users: Vec::new(),
            general: GeneralSettings {
                host_name: facts.hostname.clone(),
                domain_name: facts
                    .mebx_domain
                    .clone()
                    .or_else(|| facts.dhcp_domain.clone())
                    .unwrap_or_default(),
                ..GeneralSettings::default()
            },
            certificates: Vec::new(),
            key_pairs: Vec::new(),
            tls_pending: TlsSettings::default(),
            tls_committed: TlsSettings::default(),
            tls_credential_cert: None,
            redirection: Redirection {
                listener_enabled: false,
                sol: false,
                ider: false,
            },
            kvm: Kvm {
                enabled_state: 3,
                port_5900_enabled: false,
                opt_in_policy: true,
                session_timeout: 0,
                rfb_password_set: false,
            },
            opt_in: OptIn {
                required: 4_294_967_295,
                state: 0,
                code: None,
                can_modify_policy: 1,
            },
            kerberos: Kerberos::default(),
            web_ui_enabled: true,
            power_scheme: "Intel(r) AMT Power Scheme 1".to_owned(),
            power_state: 2,
            boot: Boot {
                order: Vec::new(),
                role: None,
                setting_data: Vec::new(),
            },
            wifi_profiles: Vec::new(),
            wifi_local_profile_sync: false,
            ieee8021x: Ieee8021xProfile::default(),
            message_log: Vec::new(),
            audit_log: Vec::new(),
            time_offset_ms: 0,
            time_set: false,
            configuration_nonce: nonce,
            host_based: HostBasedSetup::default(),
            otp: None,
            counters: Counters::default(),
            provisioning_period_hours: 24,
            seed,
            other: OtherSettings::default(),
        }
    }

    /// The provisioning state.
    pub fn provisioning_state(&self) -> ProvisioningState {
        self.provisioning_state
    }

    /// The control mode as AMT reports it: a device made post-provisioning without a recorded
    /// mode (e.g. by a device profile) counts as admin control mode.
    pub fn effective_control_mode(&self) -> ControlMode {
        match (self.provisioning_state, self.control_mode) {
            (ProvisioningState::Post, ControlMode::None) => ControlMode::Admin,
            (_, mode) => mode,
        }
    }

    /// The digest realm (`Digest:` + 32 upper-case hex).
    pub fn digest_realm(&self) -> &str {
        &self.digest_realm
    }

    /// The admin user name and HA1 digest checks accept. Before `SetAdminAclEntryEx` the
    /// network password is coupled to the MEBx password (`admin` / MEBx password).
    pub fn admin_credential(&self) -> Option<(&str, [u8; 16])> {
        match &self.admin {
            Some(acl) => Some((acl.username.as_str(), acl.ha1)),
            None => Some((ADMIN_USER, self.mebx_ha1)),
        }
    }

    /// HA1 of `name` if digest may authenticate it: the admin, or an enabled digest user ACL
    /// entry with network access (permission 1 or 2).
    pub fn digest_user(&self, name: &str) -> Option<[u8; 16]> {
        if let Some((admin, ha1)) = self.admin_credential()
            && admin == name
        {
            return Some(ha1);
        }
        self.users
            .iter()
            .find(|u| u.username == name && u.enabled && u.access_permission != 0)
            .and_then(|u| u.ha1)
    }

    /// The user ACL entry for a digest user name.
    pub fn user_acl(&self, name: &str) -> Option<&UserAcl> {
        self.users.iter().find(|u| u.username == name)
    }

    /// Whether `name` is the administrator.
    pub fn is_admin(&self, name: &str) -> bool {
        self.admin_credential()
            .is_some_and(|(admin, _)| admin == name)
    }

    /// HA1 of `admin` with the MEBx password for this device's realm (what the digest setup
    /// session checks).
    pub fn mebx_ha1(&self) -> [u8; 16] {
        self.mebx_ha1
    }

    /// Whether `password` is the MEBx password.
    pub fn mebx_password_matches(&self, password: &str) -> bool {
        amt_wire::digest::ha1(ADMIN_USER, &self.digest_realm, password) == self.mebx_ha1
    }

    /// Sets the MEBx password (kept as its HA1 for the device's realm, see `mebx_ha1`).
    pub fn set_mebx_password(&mut self, password: &str) {
        self.mebx_ha1 = amt_wire::digest::ha1(ADMIN_USER, &self.digest_realm, password);
        self.mebx_password_default = password == DEFAULT_MEBX_PASSWORD;
    }

    /// Back to the factory default MEBx password (`admin`).
    fn reset_mebx_password(&mut self) {
        self.set_mebx_password(DEFAULT_MEBX_PASSWORD);
        self.mebx_password_default = true;
    }

    /// A state loaded from a file: a cleartext MEBx password of an older file becomes its HA1
    /// (the next save drops the cleartext).
    pub fn upgraded(mut self) -> Self {
        if let Some(password) = self.legacy_mebx_password.take() {
            let default = self.mebx_password_default;
            self.set_mebx_password(&password);
            self.mebx_password_default = default;
        }
        self
    }

    /// Whether the MEBx password is still the factory default.
    pub fn mebx_password_is_default(&self) -> bool {
        self.mebx_password_default
    }

    /// What ports 16992/16993 must do: the committed TLS settings of the remote (802.3)
    /// instance, with the credential context's certificate and its key.
    pub fn committed_tls(&self) -> CommittedTls {
        let remote = &self.tls_committed.remote;
        let cert = self
            .tls_credential_cert
            .and_then(|h| self.certificates.iter().find(|c| c.handle == h));
        let key = cert.and_then(|c| self.key_for_certificate(&c.der));
        CommittedTls {
            tls_enabled: remote.enabled,
            accept_non_secure: !remote.enabled || remote.accept_non_secure_connections,
            mutual_auth: remote.enabled && remote.mutual_authentication,
            cert_der: cert.map(|c| c.der.clone()),
            key_pool_index: key.and_then(|k| k.pool_index),
            key_pkcs8_der: key.and_then(|k| k.pkcs8_der.clone()),
        }
    }

    /// The stored key pair whose public key is the one in certificate `der`.
    pub fn key_for_certificate(&self, der: &[u8]) -> Option<&StoredKeyPair> {
        let public = crate::wsman::pki::certificate_public_key(der)?;
        self.key_pairs.iter().find(|k| k.public_pkcs1_der == public)
    }

    /// Device clock offset from the host clock, milliseconds.
    pub fn clock_offset_ms(&self) -> i64 {
        self.time_offset_ms
    }

    /// Set the one-time password (local HECI, in-band provisioning).
    pub fn set_otp(&mut self, otp: Vec<u8>) {
        self.otp = Some(otp);
    }

    /// The one-time password, if set.
    pub fn otp(&self) -> Option<&[u8]> {
        self.otp.as_deref()
    }

    /// Back to factory state, keeping the realm-independent identity (seed, clock offset) as
    /// `Unprovision` does; a fresh configuration nonce is drawn.
    /// Draws the digest realm and the host-based configuration nonce of a factory state from
    /// `rng` (a device on the OS RNG). Call before any password hash is derived from the realm.
    pub(crate) fn randomize_identity(&mut self, rng: &mut dyn RngCore) {
        let mut realm = [0u8; 16];
        rng.fill_bytes(&mut realm);
        self.digest_realm = amt_wire::digest::Realm::from_amt_bytes(realm)
            .as_str()
            .to_owned();
        rng.fill_bytes(&mut self.configuration_nonce);
        // Called on a factory state only: the MEBx password is the default, re-derived for the
        // new realm.
        if self.mebx_password_default {
            self.reset_mebx_password();
        }
    }

    pub(crate) fn reset_to_factory(&mut self, facts: &DeviceFacts, rng: &mut dyn RngCore) {
        let offset = self.time_offset_ms;
        let realm = self.digest_realm.clone();
        let counters = self.counters.clone();
        let log = std::mem::take(&mut self.audit_log);
        *self = Self::factory(facts, self.seed);
        self.time_offset_ms = offset;
        self.digest_realm = realm;
        self.reset_mebx_password();
        self.counters = counters;
        self.audit_log = log;
        rng.fill_bytes(&mut self.configuration_nonce);
    }
}

/// Serde helper: `[u8; 16]` as hex.
mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 16];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// Serde helper: `Option<[u8; 16]>` as hex.
mod hex_opt_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; 16]>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let mut out = [0u8; 16];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Some(out))
    }
}

/// Serde helper: bytes as standard Base64.
mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Serde helper: optional bytes as standard Base64.
mod b64_opt {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// Serde helper: a list of byte strings as Base64 strings.
mod b64_vec {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            v.iter()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        )
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_realm_is_amt_shaped_and_seeded() {
        let facts = DeviceFacts::sample();
        let a = NvramState::factory(&facts, 1);
        let b = NvramState::factory(&facts, 1);
        let c = NvramState::factory(&facts, 2);
        assert_eq!(a, b);
        assert_ne!(a.digest_realm(), c.digest_realm());
        assert!(amt_wire::digest::Realm::amt(a.digest_realm()).is_ok());
        assert_eq!(a.configuration_nonce.len(), 20);
        assert_eq!(a.provisioning_state(), ProvisioningState::Pre);
        assert!(a.mebx_password_is_default());
        assert_eq!(a.general.domain_name, "corp.amt-sim.test");
    }

    #[test]
    fn a_cleartext_mebx_password_of_an_older_file_becomes_its_ha1() -> Result<(), serde_json::Error>
    {
        let facts = DeviceFacts::sample();
        let s = NvramState::factory(&facts, 1);
        let mut json = serde_json::to_value(&s)?;
        assert!(!json.to_string().contains("\"mebx_password\""));
        json["mebx_password"] = "Old-P@ss1".into();
        json["mebx_password_default"] = false.into();
        if let Some(map) = json.as_object_mut() {
            map.remove("mebx_ha1");
        }
        let loaded = serde_json::from_value::<NvramState>(json)?.upgraded();
        assert!(loaded.mebx_password_matches("Old-P@ss1"));
        assert!(!loaded.mebx_password_is_default());
        assert!(!serde_json::to_string(&loaded)?.contains("Old-P@ss1"));
        Ok(())
    }

    #[test]
    fn admin_password_follows_the_mebx_password_until_set() {
        let facts = DeviceFacts::sample();
        let mut s = NvramState::factory(&facts, 1);
        let coupled = amt_wire::digest::ha1("admin", s.digest_realm(), "admin");
        assert_eq!(s.admin_credential(), Some(("admin", coupled)));
        s.set_mebx_password("Mebx-P@ss1");
        let coupled = amt_wire::digest::ha1("admin", s.digest_realm(), "Mebx-P@ss1");
        assert_eq!(s.digest_user("admin"), Some(coupled));
        s.admin = Some(AdminAcl {
            username: "root".into(),
            ha1: [7; 16],
        });
        assert_eq!(s.digest_user("admin"), None);
        assert_eq!(s.digest_user("root"), Some([7; 16]));
        assert!(s.is_admin("root"));
    }

    #[test]
    fn committed_tls_keeps_http_open_until_tls_is_committed() {
        let facts = DeviceFacts::sample();
        let mut s = NvramState::factory(&facts, 1);
        let t = s.committed_tls();
        assert!(!t.tls_enabled && t.accept_non_secure && !t.mutual_auth);
        s.tls_committed.remote = TlsSetting {
            enabled: true,
            mutual_authentication: true,
            accept_non_secure_connections: false,
            trusted_cn: Vec::new(),
        };
        let t = s.committed_tls();
        assert!(t.tls_enabled && !t.accept_non_secure && t.mutual_auth);
        assert_eq!(t.cert_der, None);
    }

    #[test]
    fn state_files_without_newer_fields_still_load() {
        let facts = DeviceFacts::sample();
        let s = NvramState::factory(&facts, 3);
        let mut json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&s).unwrap_or_default())
                .unwrap_or_default();
        if let Some(map) = json.as_object_mut() {
            map.remove("other");
        }
        let back: NvramState = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s);
    }
}
