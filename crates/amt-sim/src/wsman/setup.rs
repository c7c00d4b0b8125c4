//! Activation classes: `AMT_GeneralSettings`, `AMT_SetupAndConfigurationService` (commit,
//! unprovision, MEBx password, UUID), `IPS_HostBasedSetupService` (client and admin control mode
//! with real certificate-chain and signature checks), `CIM_SoftwareIdentity` and
//! `AMT_ProvisioningCertificateHash`.

use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::wsman::Fault;
use amt_wire::wsman::fault::DETAIL_INVALID_VALUES;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA, IPS_SCHEMA};

use super::model::{
    Call, Cx, Input, Instance, Invoked, MethodOut, Update, b64_decode, b64_encode, parse_bool, pt,
};
use super::{DeviceFacts, Note, pki};
use crate::deviation::Deviation;
use crate::state::{AdminAcl, ControlMode, NvramState, ProvisioningState};

/// `InstanceID` of the general settings.
pub(crate) const GENERAL_SETTINGS_ID: &str = "Intel(r) AMT: General Settings";
/// `Name` of the setup and configuration service.
const SETUP_SERVICE: &str = "Intel(r) AMT Setup and Configuration Service";
/// `Name` of the host-based setup service.
const HBS_SERVICE: &str = "Intel(r) AMT Host Based Setup Service";
/// Device clock before this (2005-01-01) counts as never set (AMT's PRTC epoch is 2004).
const CLOCK_UNSET_BEFORE_MS: i64 = 1_104_537_600_000;
/// Audit application: Security Admin.
const AUDIT_SECURITY_ADMIN: u16 = 16;
/// Audit event: provisioning completed.
const AUDIT_PROVISIONING_COMPLETED: u16 = 1;
/// Audit event: unprovisioning started.
const AUDIT_UNPROVISIONING_STARTED: u16 = 20;
/// Longest certificate chain `AddNextCertInChain` takes.
const MAX_CHAIN: usize = 4;

/// Instances of the activation classes.
pub(crate) fn instances(class: &str, state: &NvramState, facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "AMT_GeneralSettings" => vec![general_settings(state)],
        "AMT_SetupAndConfigurationService" => vec![setup_service(state, facts)],
        "IPS_HostBasedSetupService" if facts.quirks.host_based_setup => {
            vec![host_based_service(state)]
        }
        "CIM_SoftwareIdentity" => software_identity(facts),
        "AMT_ProvisioningCertificateHash" => facts
            .hashes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let entry = Instance::new(AMT_SCHEMA, "AMT_ProvisioningCertificateHash")
                    .p("Description", "Certificate Hash Entry")
                    .p("ElementName", &h.name)
                    .b("Enabled", h.active)
                    .p("HashData", hex::encode_upper(h.thumbprint.as_bytes()))
                    .p("HashType", h.thumbprint.algorithm().wire())
                    .key("InstanceID", format!("Intel(r) AMT: Certificate Hash {i}"));
                if facts.deviations.has(Deviation::HashWithoutIsDefault) {
                    return entry;
                }
                entry.b("IsDefault", h.default)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `AMT_GeneralSettings`.
fn general_settings(state: &NvramState) -> Instance {
    let g = &state.general;
    Instance::new(AMT_SCHEMA, "AMT_GeneralSettings")
        .p("AMTNetworkEnabled", g.amt_network_enabled)
        .p(
            "DDNSPeriodicUpdateInterval",
            g.ddns_periodic_update_interval,
        )
        .p("DDNSTTL", g.ddns_ttl)
        .b("DDNSUpdateByDHCPServerEnabled", true)
        .b("DDNSUpdateEnabled", g.ddns_update_enabled)
        .b("DHCPSyncRequiresHostname", true)
        .p("DHCPv6ConfigurationTimeout", 0)
        .p("DigestRealm", &state.digest_realm)
        .p("DomainName", &g.domain_name)
        .p("ElementName", GENERAL_SETTINGS_ID)
        .p("HostName", &g.host_name)
        .p("HostOSFQDN", &g.host_os_fqdn)
        .p("IdleWakeTimeout", g.idle_wake_timeout)
        .key("InstanceID", GENERAL_SETTINGS_ID)
        .p("NetworkInterfaceEnabled", true)
        .b("PingResponseEnabled", g.ping_response_enabled)
        .p("PowerSource", 0)
        .p("PreferredAddressFamily", g.preferred_address_family)
        .p(
            "PresenceNotificationInterval",
            g.presence_notification_interval,
        )
        .p("PrivacyLevel", g.privacy_level)
        .b("RmcpPingResponseEnabled", g.rmcp_ping_response_enabled)
        .b("SharedFQDN", g.shared_fqdn)
        .b("ThunderboltDockEnabled", false)
        .b("WsmanOnlyMode", g.wsman_only_mode)
}

/// `AMT_SetupAndConfigurationService`; `ProvisioningServerOTP` only while in provisioning.
fn setup_service(state: &NvramState, facts: &DeviceFacts) -> Instance {
    let otp = match (state.provisioning_state, &state.otp) {
        (ProvisioningState::In, Some(otp)) => Some(b64_encode(otp)),
        _ => None,
    };
    Instance::new(AMT_SCHEMA, "AMT_SetupAndConfigurationService")
        .p("CreationClassName", "AMT_SetupAndConfigurationService")
        .opt("DhcpDNSSuffix", facts.dhcp_domain.as_ref())
        .p("ElementName", SETUP_SERVICE)
        .p("EnabledState", 5)
        .key("Name", SETUP_SERVICE)
        .p("PasswordModel", 1)
        .p(
            "ProvisioningMode",
            state.effective_control_mode().provisioning_mode(),
        )
        .opt("ProvisioningServerOTP", otp)
        .p("ProvisioningState", state.provisioning_state.wire())
        .p("RequestedState", 12)
        .p("SystemCreationClassName", "CIM_ComputerSystem")
        .p("SystemName", "Intel(r) AMT")
        .opt("TrustedDNSSuffix", facts.mebx_domain.as_ref())
        .b("ZeroTouchConfigurationEnabled", facts.pki_mode_enabled)
}

/// `IPS_HostBasedSetupService`.
fn host_based_service(state: &NvramState) -> Instance {
    let allowed: &[u32] = match state.effective_control_mode() {
        ControlMode::None => &[2, 1],
        ControlMode::Client => &[2],
        ControlMode::Admin => &[],
    };
    Instance::new(IPS_SCHEMA, "IPS_HostBasedSetupService")
        .list("AllowedControlModes", allowed)
        .p("CertChainStatus", state.host_based.cert_chain_status)
        .p("ConfigurationNonce", b64_encode(&state.configuration_nonce))
        .p("CreationClassName", "IPS_HostBasedSetupService")
        .p("CurrentControlMode", state.effective_control_mode().wire())
        .p("ElementName", HBS_SERVICE)
        .key("Name", HBS_SERVICE)
        .p("SystemCreationClassName", "CIM_ComputerSystem")
        .p("SystemName", "Intel(r) AMT")
}

/// `CIM_SoftwareIdentity` instances as firmware reports them: the version entries (`Flash`,
/// `Netstack`, `AMTApps`, `AMT`, `Recovery Version`, `AMT FW Core Version`) carry
/// major.minor.hotfix only and the build number is its own entry (`Build Number`, `Recovery
/// Build Num`), so that clients which join `AMT` and `Build Number` (fwupd's AMT plugin, RPS)
/// get `16.1.25.2124`, not the build twice. Observed shapes: AMT 11.8.50 build 3425 (Intel
/// console test data), 12.0.67/1579 and 15.0.23/1706 (RPS test data), all three-part `AMT`.
fn software_identity(facts: &DeviceFacts) -> Vec<Instance> {
    let parts: Vec<&str> = facts.amt_version.split('.').collect();
    let short = parts.iter().take(3).copied().collect::<Vec<_>>().join(".");
    let build = parts.get(3).copied().unwrap_or("0");
    [
        ("Flash", short.as_str()),
        ("Netstack", short.as_str()),
        ("AMTApps", short.as_str()),
        ("AMT", short.as_str()),
        ("Sku", "16392"),
        ("VendorID", "8086"),
        ("Build Number", build),
        ("Recovery Version", short.as_str()),
        ("Recovery Build Num", build),
        ("Legacy Mode", "False"),
        ("AMT FW Core Version", short.as_str()),
    ]
    .iter()
    .map(|(id, version)| {
        Instance::new(CIM_SCHEMA, "CIM_SoftwareIdentity")
            .key("InstanceID", id)
            .b("IsEntity", true)
            .p("VersionString", version)
    })
    .collect()
}

/// Put of `AMT_GeneralSettings`: only the properties present change.
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    put.only("AMT_GeneralSettings")?;
    let input = put.input;
    let mut g = cx.state.general.clone();
    if let Some(host) = input.text("HostName") {
        if !valid_host_name(&host) {
            return Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)));
        }
        g.host_name = host;
    }
    if let Some(domain) = input.text("DomainName") {
        if !valid_domain_name(&domain) {
            return Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)));
        }
        g.domain_name = domain;
    }
    if let Some(fqdn) = input.text("HostOSFQDN") {
        g.host_os_fqdn = fqdn;
    }
    let flag = |name: &str| -> Result<Option<bool>, Fault> {
        input.text(name).map(|t| parse_bool(&t)).transpose()
    };
    let number = |name: &str| -> Result<Option<u32>, Fault> {
        input
            .text(name)
            .map(|t| {
                t.parse::<u32>()
                    .map_err(|_| Fault::schema_validation_error())
            })
            .transpose()
    };
    if let Some(v) = flag("PingResponseEnabled")? {
        g.ping_response_enabled = v;
    }
    if let Some(v) = flag("RmcpPingResponseEnabled")? {
        g.rmcp_ping_response_enabled = v;
    }
    if let Some(v) = flag("WsmanOnlyMode")? {
        g.wsman_only_mode = v;
    }
    if let Some(v) = flag("SharedFQDN")? {
        g.shared_fqdn = v;
    }
    if let Some(v) = flag("DDNSUpdateEnabled")? {
        g.ddns_update_enabled = v;
    }
    if let Some(v) = number("DDNSPeriodicUpdateInterval")? {
        g.ddns_periodic_update_interval = v;
    }
    if let Some(v) = number("DDNSTTL")? {
        g.ddns_ttl = v;
    }
    if let Some(v) = number("IdleWakeTimeout")? {
        g.idle_wake_timeout = v;
    }
    if let Some(v) = number("PresenceNotificationInterval")? {
        g.presence_notification_interval = v;
    }
    if let Some(v) = number("PrivacyLevel")? {
        g.privacy_level = v;
    }
    if let Some(v) = number("PreferredAddressFamily")? {
        g.preferred_address_family = v;
    }
    if let Some(v) = number("AMTNetworkEnabled")? {
        g.amt_network_enabled = v;
    }
    if g != cx.state.general {
        cx.state.general = g;
        cx.changed(None);
    }
    Ok(())
}

/// A DNS host label: 1–63 of letters, digits and hyphens (empty clears it).
fn valid_host_name(name: &str) -> bool {
    name.is_empty()
        || (name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.starts_with('-'))
}

/// A DNS domain: dot-separated labels, at most 191 bytes (empty clears it).
fn valid_domain_name(name: &str) -> bool {
    name.is_empty()
        || (name.len() <= 191
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

/// AMT's strong-password rule (amt-protocol §3.2): 8–32 characters of 7-bit ASCII with a
/// digit, a lower-case and an upper-case letter and a non-alphanumeric character; no `:` `,`
/// `"`. `_` and space are allowed but do not count as the special character.
pub(crate) fn strong_password(password: &str) -> bool {
    let len_ok = (8..=32).contains(&password.len());
    let ascii = password.bytes().all(|b| (0x20..0x7f).contains(&b));
    let forbidden = password.contains([':', ',', '"']);
    let digit = password.bytes().any(|b| b.is_ascii_digit());
    let lower = password.bytes().any(|b| b.is_ascii_lowercase());
    let upper = password.bytes().any(|b| b.is_ascii_uppercase());
    let special = password
        .bytes()
        .any(|b| !b.is_ascii_alphanumeric() && b != b'_' && b != b' ');
    len_ok && ascii && !forbidden && digit && lower && upper && special
}

/// Methods of the activation classes.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let Call {
        class,
        method,
        input,
        ..
    } = call;
    match class {
        "AMT_SetupAndConfigurationService" => setup_method(method, cx, input),
        "IPS_HostBasedSetupService" => {
            if !cx.facts().quirks.host_based_setup {
                return Some(Err(Fault::destination_unreachable(None)));
            }
            host_based_method(method, cx, input)
        }
        _ => None,
    }
}

/// `AMT_SetupAndConfigurationService` methods.
fn setup_method(
    method: &str,
    cx: &mut Cx<'_, '_, '_>,
    input: Input<'_>,
) -> Option<Result<MethodOut, Fault>> {
    let out = match method {
        "CommitChanges" => Ok(commit(cx)),
        "Unprovision" => unprovision(cx, input),
        "PartialUnprovision" => Ok(partial_unprovision(cx)),
        "SetMEBxPassword" => input
            .required("Password")
            .map(|pw| set_mebx_password(cx, &pw)),
        "GetUuid" if cx.facts().deviations.has(Deviation::GetUuidWithoutUuid) => {
            Ok(MethodOut::ok())
        }
        "GetUuid" => Ok(MethodOut::ok().out("UUID", b64_encode(&cx.facts().uuid.to_wire()))),
        "ExtendProvisioningPeriod" => input.u32("Duration").map(|d| match d {
            Some(hours @ 1..=24) => {
                cx.state.provisioning_period_hours = hours;
                cx.changed(None);
                MethodOut::ok()
            }
            _ => MethodOut::status(pt::INVALID_PARAMETER),
        }),
        "GetProvisioningAuditRecord" | "GetProvisioningAuditRecordV2" => {
            Ok(MethodOut::status(pt::NOT_FOUND))
        }
        "GetUnprovisionBlockingComponents" => Ok(MethodOut::ok()),
        _ => return None,
    };
    Some(out)
}

/// `CommitChanges`: validate, apply pending TLS settings, move to post-provisioning.
///
/// Returns 2057 DATA_MISSING when TLS is enabled without a credential context, when TLS is
/// enabled while the clock was never set (device clock before 2005), when no admin password was
/// set during provisioning, or (AMT 19+) while the MEBx password is still the default.
fn commit(cx: &mut Cx<'_, '_, '_>) -> MethodOut {
    let pending = &cx.state.tls_pending;
    let tls_on = pending.remote.enabled || pending.local.enabled;
    let provisioning = cx.state.provisioning_state != ProvisioningState::Post;
    if tls_on && cx.state.tls_credential_cert.is_none() {
        return MethodOut::status(pt::DATA_MISSING);
    }
    if tls_on && !cx.state.time_set && cx.ctx.now.unix_millis() < CLOCK_UNSET_BEFORE_MS {
        return MethodOut::status(pt::DATA_MISSING);
    }
    if provisioning
        && cx.state.admin.is_none()
        && !cx.facts().deviations.has(Deviation::CommitWithoutAdmin)
    {
        return MethodOut::status(pt::DATA_MISSING);
    }
    if provisioning && cx.facts().amt_major >= 19 && cx.state.mebx_password_default {
        return MethodOut::status(pt::DATA_MISSING);
    }
    let from = cx.state.provisioning_state;
    cx.state.tls_committed = cx.state.tls_pending.clone();
    if !cx.facts().deviations.has(Deviation::CommitStaysIn) {
        cx.state.provisioning_state = ProvisioningState::Post;
    }
    if cx.state.control_mode == ControlMode::None {
        cx.state.control_mode = ControlMode::Admin;
    }
    cx.changed(Some(Note::Committed));
    cx.audit(AUDIT_SECURITY_ADMIN, AUDIT_PROVISIONING_COMPLETED);
    if from != ProvisioningState::Post {
        cx.notes.push(Note::ProvisioningStateChanged {
            from,
            to: ProvisioningState::Post,
        });
    }
    MethodOut::ok()
}

/// `Unprovision(ProvisioningMode)`: back to factory state.
fn unprovision(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let mode = input.u32("ProvisioningMode")?.unwrap_or(0);
    if !matches!(mode, 0 | 1 | 4) {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let facts = cx.ctx.facts;
    if !facts.deviations.has(Deviation::UnprovisionKeepsState) {
        cx.state.reset_to_factory(facts, &mut *cx.ctx.rng);
    }
    cx.changed(Some(Note::Unprovisioned { full: true }));
    cx.audit(AUDIT_SECURITY_ADMIN, AUDIT_UNPROVISIONING_STARTED);
    Ok(MethodOut::ok())
}

/// `PartialUnprovision`: factory state but the admin ACL and host/domain names stay.
fn partial_unprovision(cx: &mut Cx<'_, '_, '_>) -> MethodOut {
    if cx.state.provisioning_state == ProvisioningState::Pre {
        return MethodOut::status(pt::NOT_PERMITTED);
    }
    let admin = cx.state.admin.clone();
    let host = cx.state.general.host_name.clone();
    let domain = cx.state.general.domain_name.clone();
    let facts = cx.ctx.facts;
    cx.state.reset_to_factory(facts, &mut *cx.ctx.rng);
    cx.state.admin = admin;
    cx.state.general.host_name = host;
    cx.state.general.domain_name = domain;
    cx.changed(Some(Note::Unprovisioned { full: false }));
    cx.audit(AUDIT_SECURITY_ADMIN, AUDIT_UNPROVISIONING_STARTED);
    MethodOut::ok()
}

/// `SetMEBxPassword`: only while the MEBx password is the default (else 16 NOT_PERMITTED);
/// weak passwords give 2054 INVALID_PASSWORD.
fn set_mebx_password(cx: &mut Cx<'_, '_, '_>, password: &str) -> MethodOut {
    if !cx.state.mebx_password_default {
        return MethodOut::status(pt::NOT_PERMITTED);
    }
    if !strong_password(password) {
        return MethodOut::status(pt::INVALID_PASSWORD);
    }
    cx.state.set_mebx_password(password);
    cx.state.mebx_password_default = false;
    cx.changed(Some(Note::MebxPasswordChanged));
    MethodOut::ok()
}

/// Host-based setup return values (GWM decoder).
mod hbs {
    /// Invalid state.
    pub(super) const INVALID_STATE: u32 = 2;
    /// Invalid parameter (Setup/AdminSetup).
    pub(super) const INVALID_PARAM: u32 = 3;
    /// Signature check failed.
    pub(super) const AUTH_FAILED: u32 = 5;
    /// AddNextCertInChain: invalid parameter.
    pub(super) const CHAIN_INVALID_PARAM: u32 = 1;
    /// AddNextCertInChain: invalid state.
    pub(super) const CHAIN_INVALID_STATE: u32 = 3;
    /// AddNextCertInChain: verification failed.
    pub(super) const CERT_VERIFY_FAILED: u32 = 4;
    /// AddNextCertInChain: chain too long.
    pub(super) const CHAIN_TOO_LONG: u32 = 5;
}

/// `IPS_HostBasedSetupService` methods.
fn host_based_method(
    method: &str,
    cx: &mut Cx<'_, '_, '_>,
    input: Input<'_>,
) -> Option<Result<MethodOut, Fault>> {
    let out = match method {
        "Setup" => Ok(hbs_setup(cx, input)),
        "AddNextCertInChain" => add_next_cert(cx, input),
        "AdminSetup" => Ok(admin_setup(cx, input, false)),
        "UpgradeClientToAdmin" => Ok(admin_setup(cx, input, true)),
        _ => return None,
    };
    Some(out)
}

/// Read `NetAdminPassEncryptionType` 2 + hex `NetworkAdminPassword`.
fn network_admin_ha1(input: Input<'_>) -> Option<[u8; 16]> {
    if input.text("NetAdminPassEncryptionType").as_deref() != Some("2") {
        return None;
    }
    let hex = input.text("NetworkAdminPassword")?;
    amt_wire::digest::ha1_from_hex(&hex).ok()
}

/// `Setup`: client control mode with the given admin digest password.
fn hbs_setup(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    if cx.state.provisioning_state != ProvisioningState::Pre {
        return MethodOut::status(hbs::INVALID_STATE);
    }
    let Some(ha1) = network_admin_ha1(input) else {
        return MethodOut::status(hbs::INVALID_PARAM);
    };
    finish_host_based(cx, Some(ha1), ControlMode::Client);
    MethodOut::ok()
}

/// Complete a host-based setup.
fn finish_host_based(cx: &mut Cx<'_, '_, '_>, ha1: Option<[u8; 16]>, mode: ControlMode) {
    let from = cx.state.provisioning_state;
    if let Some(ha1) = ha1 {
        cx.state.admin = Some(AdminAcl {
            username: crate::state::ADMIN_USER.to_owned(),
            ha1,
        });
        cx.notes.push(Note::AdminAclSet {
            user: crate::state::ADMIN_USER.to_owned(),
        });
    }
    cx.state.control_mode = mode;
    cx.state.provisioning_state = ProvisioningState::Post;
    cx.state.tls_committed = cx.state.tls_pending.clone();
    cx.changed(Some(Note::HostBasedSetup { mode }));
    cx.audit(AUDIT_SECURITY_ADMIN, AUDIT_PROVISIONING_COMPLETED);
    if from != ProvisioningState::Post {
        cx.notes.push(Note::ProvisioningStateChanged {
            from,
            to: ProvisioningState::Post,
        });
    }
}

/// `AddNextCertInChain(NextCertificate, IsLeafCertificate, IsRootCertificate)`: leaf first;
/// at the root the whole chain is checked (signatures, provisioning EKU/OU on the leaf, SHA-1
/// on ME 16+, root hash active in the hash list).
fn add_next_cert(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    if cx.state.provisioning_state != ProvisioningState::Pre {
        return Ok(MethodOut::status(hbs::CHAIN_INVALID_STATE));
    }
    let Some(der) = input.text("NextCertificate").and_then(|t| b64_decode(&t)) else {
        return Ok(MethodOut::status(hbs::CHAIN_INVALID_PARAM));
    };
    if pki::certificate_public_key(&der).is_none() {
        return Ok(MethodOut::status(hbs::CHAIN_INVALID_PARAM));
    }
    let is_leaf = input.bool("IsLeafCertificate")?.unwrap_or(false);
    let is_root = input.bool("IsRootCertificate")?.unwrap_or(false);
    let hb = &mut cx.state.host_based;
    if is_leaf {
        hb.chain.clear();
    } else if hb.chain.is_empty() {
        return Ok(MethodOut::status(hbs::CHAIN_INVALID_STATE));
    }
    if hb.chain.len() >= MAX_CHAIN {
        hb.chain.clear();
        hb.cert_chain_status = 0;
        cx.changed(None);
        return Ok(MethodOut::status(hbs::CHAIN_TOO_LONG));
    }
    hb.chain.push(der);
    hb.cert_chain_status = 1;
    if is_root {
        let ok = chain_acceptable(&cx.state.host_based.chain, cx.ctx.facts);
        let hb = &mut cx.state.host_based;
        if ok {
            hb.cert_chain_status = 2;
        } else {
            hb.chain.clear();
            hb.cert_chain_status = 0;
            cx.changed(None);
            return Ok(MethodOut::status(hbs::CERT_VERIFY_FAILED));
        }
    }
    cx.changed(None);
    Ok(MethodOut::ok())
}

/// Whether a leaf-first chain may provision this device.
fn chain_acceptable(chain: &[Vec<u8>], facts: &DeviceFacts) -> bool {
    let (Some(leaf), Some(root)) = (chain.first(), chain.last()) else {
        return false;
    };
    if !pki::is_provisioning_leaf(leaf) {
        return false;
    }
    for pair in chain.windows(2) {
        if let [child, issuer] = pair
            && !pki::signed_by(child, issuer, facts.quirks.refuse_sha1_hashes)
        {
            return false;
        }
    }
    if facts.quirks.refuse_sha1_hashes && chain.iter().any(|c| pki::uses_sha1(c)) {
        return false;
    }
    facts.hashes.iter().any(|h| {
        h.active && {
            let alg: HashAlgorithm = h.thumbprint.algorithm();
            Thumbprint::of_der(alg, root) == h.thumbprint
        }
    })
}

/// `AdminSetup` / `UpgradeClientToAdmin`: RSA-PKCS#1-v1.5-SHA256 over
/// ConfigurationNonce ‖ McNonce with the chain leaf's key.
fn admin_setup(cx: &mut Cx<'_, '_, '_>, input: Input<'_>, upgrade: bool) -> MethodOut {
    let state_ok = if upgrade {
        cx.state.provisioning_state == ProvisioningState::Post
            && cx.state.effective_control_mode() == ControlMode::Client
    } else {
        cx.state.provisioning_state == ProvisioningState::Pre
    };
    if !state_ok || cx.state.host_based.cert_chain_status != 2 {
        return MethodOut::status(hbs::INVALID_STATE);
    }
    let ha1 = if upgrade {
        None
    } else {
        match network_admin_ha1(input) {
            Some(ha1) => Some(ha1),
            None => return MethodOut::status(hbs::INVALID_PARAM),
        }
    };
    if input.text("SigningAlgorithm").as_deref() != Some("2") {
        return MethodOut::status(hbs::INVALID_PARAM);
    }
    let mc_nonce = input.text("McNonce").and_then(|t| b64_decode(&t));
    let signature = input.text("DigitalSignature").and_then(|t| b64_decode(&t));
    let (Some(mc_nonce), Some(signature)) = (mc_nonce, signature) else {
        return MethodOut::status(hbs::INVALID_PARAM);
    };
    if mc_nonce.len() != 20 {
        return MethodOut::status(hbs::INVALID_PARAM);
    }
    let mut message = cx.state.configuration_nonce.clone();
    message.extend_from_slice(&mc_nonce);
    let verified = cx
        .state
        .host_based
        .chain
        .first()
        .is_some_and(|leaf| pki::verify_rsa_sha256(leaf, &message, &signature));
    // A fresh nonce after every attempt: a signature is good for one try only.
    cx.ctx.rng.fill_bytes(&mut cx.state.configuration_nonce);
    cx.changed(None);
    if !verified {
        return MethodOut::status(hbs::AUTH_FAILED);
    }
    cx.state.host_based = crate::state::HostBasedSetup::default();
    finish_host_based(cx, ha1, ControlMode::Admin);
    MethodOut::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rule_follows_the_mebx_guide() {
        assert!(strong_password("P@ssw0rd"));
        assert!(!strong_password("P@ssw0r"), "too short");
        assert!(!strong_password("password1!"), "no upper case");
        assert!(!strong_password("Passw0rd_"), "underscore does not count");
        assert!(!strong_password("P@ss:w0rd"), "colon forbidden");
        assert!(!strong_password(&"Aa1!".repeat(9)), "too long");
    }

    #[test]
    fn host_and_domain_names_are_dns_names() {
        assert!(valid_host_name("amt-device-01"));
        assert!(!valid_host_name("bad_name"));
        assert!(valid_domain_name("corp.amt-sim.test"));
        assert!(!valid_domain_name("corp..test"));
        assert!(valid_domain_name(""));
    }
}
