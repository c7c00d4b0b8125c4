//! Stage-2 settings: `AMT_RedirectionService` (SOL/IDER, listener), `IPS_KVMRedirectionSettingData`
//! and `CIM_KVMRedirectionSAP` (KVM), `IPS_OptInService` (user consent), `AMT_KerberosSettingData`,
//! `AMT_WebUIService` and `AMT_SystemPowerScheme`.

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA, IPS_SCHEMA};
use rand::Rng as _;

use super::model::{Call, Cx, Instance, Invoked, MethodOut, Update, parse_bool, pt};
use super::{DeviceFacts, Note};
use crate::state::NvramState;

/// Name of the redirection service.
const REDIRECTION: &str = "Intel(r) AMT Redirection Service";
/// Name of the KVM SAP.
const KVM_SAP: &str = "KVM Redirection Service Access Point";
/// InstanceID of the KVM settings.
const KVM_SETTINGS: &str = "Intel(r) KVM Redirection Settings";
/// Name of the opt-in service.
const OPT_IN: &str = "Intel(r) AMT OptIn Service";
/// InstanceID of the Kerberos settings.
const KERBEROS: &str = "Intel (r) AMT: Kerberos Settings";
/// Name of the web UI service.
const WEB_UI: &str = "Intel(r) AMT Web Browser UI Service";
/// The power schemes: (index, description).
const POWER_SCHEMES: &[(u32, &str)] = &[
    (1, "Mobile: ON in S0"),
    (2, "Mobile: ON in S0, S3/AC"),
    (3, "Desktop: ON in S0"),
    (4, "Desktop: ON in S0, S3"),
    (5, "Desktop: ON in S0, S3, S4-5"),
    (6, "Desktop: ON in S0, ME Wake in S3, S4-5"),
];

/// The `InstanceID` of power scheme `n`.
fn scheme_id(n: u32) -> String {
    format!("Intel(r) AMT Power Scheme {n}")
}

/// Service properties common to AMT services.
fn service(base: &str, class: &str, name: &str, enabled_state: u32) -> Instance {
    Instance::new(base, class)
        .p("CreationClassName", class)
        .p("ElementName", name)
        .p("EnabledState", enabled_state)
        .key("Name", name)
        .p("RequestedState", 12)
        .p("SystemCreationClassName", "CIM_ComputerSystem")
        .p("SystemName", "Intel(r) AMT")
}

/// Instances.
pub(crate) fn instances(class: &str, state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "AMT_RedirectionService" => vec![
            service(
                AMT_SCHEMA,
                class,
                REDIRECTION,
                state.redirection.enabled_state(),
            )
            .p("AccessLog", "")
            .b("ListenerEnabled", state.redirection.listener_enabled),
        ],
        "IPS_KVMRedirectionSettingData" => vec![
            Instance::new(IPS_SCHEMA, class)
                .p("BackToBackFbMode", "false")
                .p("DefaultScreen", 0)
                .p("ElementName", KVM_SETTINGS)
                .p("EnabledByMEBx", "true")
                .p("GreyScale", "false")
                .key("InstanceID", KVM_SETTINGS)
                .b("Is5900PortEnabled", state.kvm.port_5900_enabled)
                .p("InitialDecimationModeForLowRes", 0)
                .b("OptInPolicy", state.kvm.opt_in_policy)
                .p("OptInPolicyTimeout", 120)
                .p("SessionTimeout", state.kvm.session_timeout)
                .p("ZlibControlSupported", "true"),
        ],
        "CIM_KVMRedirectionSAP" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key("CreationClassName", class)
                .p("ElementName", KVM_SAP)
                .p("EnabledState", state.kvm.enabled_state)
                .p("KVMProtocol", 4)
                .key("Name", KVM_SAP)
                .p("RequestedState", 5)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "ManagedSystem"),
        ],
        "IPS_OptInService" => vec![
            service(IPS_SCHEMA, class, OPT_IN, 5)
                .p("CanModifyOptInPolicy", state.opt_in.can_modify_policy)
                .p("OptInCodeTimeout", 120)
                .p("OptInDisplayTimeout", 300)
                .p("OptInRequired", state.opt_in.required)
                .p("OptInState", state.opt_in.state),
        ],
        "AMT_KerberosSettingData" => vec![
            Instance::new(AMT_SCHEMA, class)
                .p("ElementName", "Intel(r) AMT Kerberos Settings")
                .key("InstanceID", KERBEROS)
                .p("KeyVersion", 0)
                .b("KrbEnabled", state.kerberos.enabled)
                .p("MaximumClockTolerance", 5)
                .p("RealmName", &state.kerberos.realm_name)
                .list("SupportedEncryptionAlgorithms", &[0, 1, 2])
                .p("ConfiguredEncryptionAlgorithms", 0),
        ],
        "AMT_WebUIService" => vec![service(
            AMT_SCHEMA,
            class,
            WEB_UI,
            if state.web_ui_enabled { 2 } else { 3 },
        )],
        "AMT_SystemPowerScheme" => POWER_SCHEMES
            .iter()
            .map(|(n, description)| {
                let id = scheme_id(*n);
                Instance::new(AMT_SCHEMA, class)
                    .p("Description", description)
                    .p("ElementName", &id)
                    .key("InstanceID", &id)
                    .b("IsActive", state.power_scheme == id)
                    .p("SchemeGUID", format!("{n:02}"))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Put.
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    let Update { class, input, .. } = put;
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
    let before = cx.state.clone();
    match class {
        "AMT_RedirectionService" => {
            if let Some(v) = flag("ListenerEnabled")? {
                cx.state.redirection.listener_enabled = v;
            }
        }
        "IPS_KVMRedirectionSettingData" => {
            if let Some(v) = flag("Is5900PortEnabled")? {
                cx.state.kvm.port_5900_enabled = v;
            }
            if let Some(v) = flag("OptInPolicy")? {
                cx.state.kvm.opt_in_policy = v;
            }
            if let Some(v) = number("SessionTimeout")? {
                cx.state.kvm.session_timeout = v;
            }
            if let Some(pw) = input.text("RFBPassword") {
                if !super::setup::strong_password(&pw) || pw.len() != 8 {
                    return Err(Fault::invalid_representation(Some(
                        amt_wire::wsman::fault::DETAIL_INVALID_VALUES,
                    )));
                }
                cx.state.kvm.rfb_password_set = true;
            }
        }
        "IPS_OptInService" => {
            if let Some(v) = number("OptInRequired")? {
                if !matches!(v, 0 | 1 | 4_294_967_295) {
                    return Err(Fault::invalid_representation(Some(
                        amt_wire::wsman::fault::DETAIL_INVALID_VALUES,
                    )));
                }
                cx.state.opt_in.required = v;
            }
        }
        "AMT_KerberosSettingData" => {
            if let Some(v) = flag("KrbEnabled")? {
                cx.state.kerberos.enabled = v;
            }
            if let Some(v) = input.text("RealmName") {
                if v.len() > 255 {
                    return Err(Fault::invalid_representation(Some(
                        amt_wire::wsman::fault::DETAIL_INVALID_VALUES,
                    )));
                }
                cx.state.kerberos.realm_name = v;
            }
        }
        _ => return Err(Fault::action_not_supported()),
    }
    if *cx.state != before {
        cx.changed(None);
    }
    Ok(())
}

/// Methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let Call {
        class,
        method,
        target,
        input,
    } = call;
    let out =
        match (class, method) {
            ("AMT_RedirectionService", "RequestStateChange") => {
                input.u32("RequestedState").map(|s| match s {
                    Some(s @ 32768..=32771) => {
                        let r = &mut cx.state.redirection;
                        let (ider, sol) = (s & 1 == 1, s & 2 == 2);
                        if (r.ider, r.sol) != (ider, sol) {
                            r.ider = ider;
                            r.sol = sol;
                            cx.changed(None);
                        }
                        MethodOut::ok()
                    }
                    _ => MethodOut::status(pt::INVALID_PARAMETER),
                })
            }
            ("AMT_RedirectionService", "TerminateSession") => Ok(MethodOut::ok()),
            ("CIM_KVMRedirectionSAP", "RequestStateChange") => {
                input.u32("RequestedState").map(|s| match s {
                    Some(s @ (2 | 3)) => {
                        if cx.state.kvm.enabled_state != s {
                            cx.state.kvm.enabled_state = s;
                            cx.changed(None);
                        }
                        MethodOut::ok()
                    }
                    _ => MethodOut::status(pt::INVALID_PARAMETER),
                })
            }
            ("AMT_WebUIService", "RequestStateChange") => {
                input.u32("RequestedState").map(|s| match s {
                    Some(s @ (2 | 3)) => {
                        if cx.state.web_ui_enabled != (s == 2) {
                            cx.state.web_ui_enabled = s == 2;
                            cx.changed(None);
                        }
                        MethodOut::ok()
                    }
                    _ => MethodOut::status(pt::INVALID_PARAMETER),
                })
            }
            ("IPS_OptInService", "StartOptIn") => Ok(start_opt_in(cx)),
            ("IPS_OptInService", "CancelOptIn") => {
                cx.state.opt_in.state = 0;
                cx.state.opt_in.code = None;
                cx.changed(None);
                Ok(MethodOut::ok())
            }
            ("IPS_OptInService", "SendOptInCode") => input.u32("OptInCode").map(|code| {
                match (cx.state.opt_in.state, cx.state.opt_in.code) {
                    (1 | 2, Some(expected)) if code == Some(expected) => {
                        cx.state.opt_in.state = 3;
                        cx.state.opt_in.code = None;
                        cx.changed(None);
                        MethodOut::ok()
                    }
                    (1 | 2, Some(_)) => MethodOut::status(pt::UNSUPPORTED),
                    _ => MethodOut::status(pt::NOT_PERMITTED),
                }
            }),
            ("AMT_KerberosSettingData", "GetCredentialCacheState") => Ok(MethodOut::ok().out(
                "CurrentState",
                if cx.state.kerberos.credential_cache_enabled {
                    "true"
                } else {
                    "false"
                },
            )),
            ("AMT_KerberosSettingData", "SetCredentialCacheState") => {
                input.bool("Enable").map(|enable| {
                    cx.state.kerberos.credential_cache_enabled = enable.unwrap_or(false);
                    cx.changed(None);
                    MethodOut::ok()
                })
            }
            ("AMT_SystemPowerScheme", "SetPowerScheme") => {
                let id = target.and_then(|t| t.text("InstanceID")).map(str::to_owned);
                Ok(match id {
                    Some(id) => {
                        if cx.state.power_scheme != id {
                            cx.state.power_scheme = id;
                            cx.changed(None);
                        }
                        MethodOut::ok()
                    }
                    None => MethodOut::status(pt::INVALID_PARAMETER),
                })
            }
            _ => return None,
        };
    Some(out)
}

/// `StartOptIn`: shows a 6-digit code on the host screen (2082 if a consent is pending, 16 if
/// no consent is required).
fn start_opt_in(cx: &mut Cx<'_, '_, '_>) -> MethodOut {
    if cx.state.opt_in.required == 0 {
        return MethodOut::status(pt::NOT_PERMITTED);
    }
    if matches!(cx.state.opt_in.state, 1 | 2) {
        return MethodOut::status(pt::OPERATION_IN_PROGRESS);
    }
    let code = cx.ctx.rng.random_range(0..1_000_000u32);
    cx.state.opt_in.state = 2;
    cx.state.opt_in.code = Some(code);
    cx.changed(Some(Note::OptInCodeDisplayed { code }));
    MethodOut::ok()
}
