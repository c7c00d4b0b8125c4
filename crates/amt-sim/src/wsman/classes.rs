//! The table of classes the device knows: resource URI, the family module that implements it,
//! the ACL realm a digest user needs, and whether the provisioning (setup) session may use it.
//!
//! Adding a class means one row here and its instances/handlers in its family module.

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA, IPS_SCHEMA};

use super::model::{Call, Cx, Epr, Input, Instance, Invoked, Update};
use super::{
    DeviceFacts, auth, inventory, logs, other, pki, power, redirection, setup, timesync, wifi,
};
use crate::state::NvramState;

/// The module implementing a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Activation classes.
    Setup,
    /// Certificates, keys and TLS.
    Pki,
    /// ACLs.
    Auth,
    /// Time synchronisation.
    Time,
    /// Redirection, KVM, opt-in, Kerberos, web UI, power scheme.
    Redirection,
    /// Power and boot.
    Power,
    /// Wi-Fi, 802.1X, Ethernet.
    Wifi,
    /// Message and audit log.
    Logs,
    /// Hardware inventory.
    Inventory,
    /// Alarm clock, CIRA, proxies and other less used services.
    Other,
}

/// One supported class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClassDef {
    /// Class name.
    pub(crate) name: &'static str,
    /// Resource URI base.
    pub(crate) base: &'static str,
    /// Implementing family.
    pub(crate) family: Family,
    /// ACL realm a non-admin digest user needs (0 = administrator only).
    pub(crate) realm: u32,
    /// Usable over the provisioning (setup) session, and readable over digest before
    /// provisioning.
    pub(crate) setup: bool,
}

/// Realm: redirection.
const R_REDIRECTION: u32 = 2;
/// Realm: PT administration.
const R_ADMIN: u32 = 3;
/// Realm: hardware asset.
const R_HARDWARE: u32 = 4;
/// Realm: remote control.
const R_REMOTE: u32 = 5;
/// Realm: network time.
const R_TIME: u32 = 12;
/// Realm: general info.
const R_GENERAL: u32 = 13;
/// Realm: event log reader.
const R_EVENT_LOG: u32 = 19;
/// Realm: audit log.
const R_AUDIT: u32 = 20;
/// Realm: user access control.
const R_ACL: u32 = 21;

/// Realm numbers AMT knows (for `AddUserAclEntryEx` validation): 2 Redirection … 13 General Info,
/// 14 Firmware Update, 15 EIT, 16 LocalUN, 17/18 Endpoint Access Control (Admin), 19 Event Log
/// Reader, 20 Audit Log, 21 ACL, 24 Local System (MeshCentral `amt.js` `RealmNames`).
pub(crate) const KNOWN_REALMS: &[u32] = &[
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
];

/// Shorthand for a table row.
const fn c(
    name: &'static str,
    base: &'static str,
    family: Family,
    realm: u32,
    setup: bool,
) -> ClassDef {
    ClassDef {
        name,
        base,
        family,
        realm,
        setup,
    }
}

/// Every class the device answers.
pub(crate) const CLASSES: &[ClassDef] = &[
    // Activation.
    c(
        "AMT_GeneralSettings",
        AMT_SCHEMA,
        Family::Setup,
        R_GENERAL,
        true,
    ),
    c(
        "AMT_SetupAndConfigurationService",
        AMT_SCHEMA,
        Family::Setup,
        R_ADMIN,
        true,
    ),
    c(
        "IPS_HostBasedSetupService",
        IPS_SCHEMA,
        Family::Setup,
        0,
        true,
    ),
    c(
        "CIM_SoftwareIdentity",
        CIM_SCHEMA,
        Family::Setup,
        R_GENERAL,
        true,
    ),
    c(
        "AMT_ProvisioningCertificateHash",
        AMT_SCHEMA,
        Family::Setup,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_AuthorizationService",
        AMT_SCHEMA,
        Family::Auth,
        R_ACL,
        true,
    ),
    c(
        "AMT_TimeSynchronizationService",
        AMT_SCHEMA,
        Family::Time,
        R_TIME,
        true,
    ),
    // Certificates, keys, TLS.
    c(
        "AMT_PublicKeyManagementService",
        AMT_SCHEMA,
        Family::Pki,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_PublicKeyCertificate",
        AMT_SCHEMA,
        Family::Pki,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_PublicPrivateKeyPair",
        AMT_SCHEMA,
        Family::Pki,
        R_ADMIN,
        true,
    ),
    c("AMT_TLSSettingData", AMT_SCHEMA, Family::Pki, R_ADMIN, true),
    c(
        "AMT_TLSCredentialContext",
        AMT_SCHEMA,
        Family::Pki,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_TLSProtocolEndpointCollection",
        AMT_SCHEMA,
        Family::Pki,
        R_ADMIN,
        true,
    ),
    // Stage 2 settings.
    c(
        "AMT_RedirectionService",
        AMT_SCHEMA,
        Family::Redirection,
        R_REDIRECTION,
        true,
    ),
    c(
        "IPS_KVMRedirectionSettingData",
        IPS_SCHEMA,
        Family::Redirection,
        R_REDIRECTION,
        true,
    ),
    c(
        "CIM_KVMRedirectionSAP",
        CIM_SCHEMA,
        Family::Redirection,
        R_REDIRECTION,
        true,
    ),
    c(
        "IPS_OptInService",
        IPS_SCHEMA,
        Family::Redirection,
        R_REDIRECTION,
        true,
    ),
    c(
        "AMT_KerberosSettingData",
        AMT_SCHEMA,
        Family::Redirection,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_WebUIService",
        AMT_SCHEMA,
        Family::Redirection,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_SystemPowerScheme",
        AMT_SCHEMA,
        Family::Redirection,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_WiFiPortConfigurationService",
        AMT_SCHEMA,
        Family::Wifi,
        R_ADMIN,
        true,
    ),
    c(
        "CIM_WiFiEndpointSettings",
        CIM_SCHEMA,
        Family::Wifi,
        R_ADMIN,
        true,
    ),
    c("CIM_WiFiPort", CIM_SCHEMA, Family::Wifi, R_ADMIN, true),
    c("AMT_8021XProfile", AMT_SCHEMA, Family::Wifi, R_ADMIN, true),
    c(
        "AMT_EthernetPortSettings",
        AMT_SCHEMA,
        Family::Wifi,
        R_GENERAL,
        true,
    ),
    // Management.
    c(
        "CIM_AssociatedPowerManagementService",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "CIM_PowerManagementService",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "CIM_ComputerSystem",
        CIM_SCHEMA,
        Family::Power,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_BootConfigSetting",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "CIM_BootService",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "CIM_BootSourceSetting",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "AMT_BootSettingData",
        AMT_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "AMT_BootCapabilities",
        AMT_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "AMT_MessageLog",
        AMT_SCHEMA,
        Family::Logs,
        R_EVENT_LOG,
        false,
    ),
    c("AMT_AuditLog", AMT_SCHEMA, Family::Logs, R_AUDIT, false),
    // Hardware inventory.
    c(
        "CIM_ComputerSystemPackage",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_Chassis",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c("CIM_Card", CIM_SCHEMA, Family::Inventory, R_HARDWARE, false),
    c(
        "CIM_BIOSElement",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_Processor",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_PhysicalMemory",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c("CIM_Chip", CIM_SCHEMA, Family::Inventory, R_HARDWARE, false),
    c(
        "CIM_MediaAccessDevice",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_PhysicalPackage",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_SystemPackaging",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c("CIM_Fan", CIM_SCHEMA, Family::Inventory, R_HARDWARE, false),
    c(
        "CIM_NumericSensor",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_SystemDevice",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    c(
        "CIM_AssociatedSensor",
        CIM_SCHEMA,
        Family::Inventory,
        R_HARDWARE,
        false,
    ),
    // Associations of the managed system's services and settings.
    c(
        "CIM_ElementSettingData",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    c(
        "CIM_ServiceAffectsElement",
        CIM_SCHEMA,
        Family::Power,
        R_REMOTE,
        false,
    ),
    // Less used services.
    c(
        "AMT_AlarmClockService",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        false,
    ),
    c(
        "IPS_AlarmClockOccurrence",
        IPS_SCHEMA,
        Family::Other,
        R_ADMIN,
        false,
    ),
    c(
        "AMT_RemoteAccessService",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_ManagementPresenceRemoteSAP",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_RemoteAccessPolicyRule",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_RemoteAccessPolicyAppliesToMPS",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_MPSUsernamePassword",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_UserInitiatedConnectionService",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_EnvironmentDetectionSettingData",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "IPS_HTTPProxyService",
        IPS_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "IPS_HTTPProxyAccessPoint",
        IPS_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "IPS_IEEE8021xSettings",
        IPS_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "AMT_8021xCredentialContext",
        AMT_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "IPS_8021xCredentialContext",
        IPS_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "CIM_IEEE8021xSettings",
        CIM_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "CIM_CredentialContext",
        CIM_SCHEMA,
        Family::Other,
        R_ADMIN,
        true,
    ),
    c(
        "CIM_ConcreteDependency",
        CIM_SCHEMA,
        Family::Other,
        R_ADMIN,
        false,
    ),
    c(
        "CIM_ServiceAvailableToElement",
        CIM_SCHEMA,
        Family::Other,
        R_REMOTE,
        false,
    ),
    c(
        "IPS_PowerManagementService",
        IPS_SCHEMA,
        Family::Other,
        R_REMOTE,
        false,
    ),
    c(
        "IPS_ScreenSettingData",
        IPS_SCHEMA,
        Family::Other,
        R_REDIRECTION,
        false,
    ),
];

/// The class a resource URI names (exact match of base + name).
pub(crate) fn lookup(resource_uri: &str) -> Option<&'static ClassDef> {
    let uri = resource_uri.trim();
    CLASSES
        .iter()
        .find(|d| uri.strip_prefix(d.base).is_some_and(|name| name == d.name))
}

/// All instances of a class now.
pub(crate) fn instances(def: &ClassDef, state: &NvramState, facts: &DeviceFacts) -> Vec<Instance> {
    let class = def.name;
    match def.family {
        Family::Setup => setup::instances(class, state, facts),
        Family::Pki => pki::instances(class, state, facts),
        Family::Auth => auth::instances(class, state, facts),
        Family::Time => timesync::instances(class, state, facts),
        Family::Redirection => redirection::instances(class, state, facts),
        Family::Power => power::instances(class, state, facts),
        Family::Wifi => wifi::instances(class, state, facts),
        Family::Logs => logs::instances(class, state, facts),
        Family::Inventory => inventory::instances(class, state, facts),
        Family::Other => other::instances(class, state, facts),
    }
}

/// Apply a Put to `target`.
pub(crate) fn put(
    def: &ClassDef,
    cx: &mut Cx<'_, '_, '_>,
    target: &Instance,
    input: Input<'_>,
) -> Result<(), Fault> {
    let update = Update {
        class: def.name,
        target,
        input,
    };
    match def.family {
        Family::Setup => setup::put(cx, update),
        Family::Pki => pki::put(cx, update),
        Family::Redirection => redirection::put(cx, update),
        Family::Power => power::put(cx, update),
        Family::Wifi => wifi::put(cx, update),
        Family::Other => other::put(cx, update),
        Family::Auth | Family::Time | Family::Logs | Family::Inventory => {
            Err(Fault::action_not_supported())
        }
    }
}

/// Create an instance; returns its EPR.
pub(crate) fn create(
    def: &ClassDef,
    cx: &mut Cx<'_, '_, '_>,
    input: Input<'_>,
) -> Result<Epr, Fault> {
    match def.family {
        Family::Pki => pki::create(def.name, cx, input),
        _ => Err(Fault::action_not_supported()),
    }
}

/// Delete `target`.
pub(crate) fn delete(
    def: &ClassDef,
    cx: &mut Cx<'_, '_, '_>,
    target: &Instance,
) -> Result<(), Fault> {
    match def.family {
        Family::Pki => pki::delete(def.name, cx, target),
        Family::Wifi => wifi::delete(def.name, cx, target),
        Family::Other => other::delete(def.name, cx, target),
        _ => Err(Fault::action_not_supported()),
    }
}

/// Invoke `method`; `None` if the class has no such method.
pub(crate) fn invoke(
    def: &ClassDef,
    method: &str,
    cx: &mut Cx<'_, '_, '_>,
    target: Option<&Instance>,
    input: Input<'_>,
) -> Invoked {
    let call = Call {
        class: def.name,
        method,
        target,
        input,
    };
    match def.family {
        Family::Setup => setup::invoke(cx, call),
        Family::Pki => pki::invoke(cx, call),
        Family::Auth => auth::invoke(cx, call),
        Family::Time => timesync::invoke(cx, call),
        Family::Redirection => redirection::invoke(cx, call),
        Family::Power => power::invoke(cx, call),
        Family::Wifi => wifi::invoke(cx, call),
        Family::Logs => logs::invoke(cx, call),
        Family::Other => other::invoke(cx, call),
        Family::Inventory => None,
    }
}
