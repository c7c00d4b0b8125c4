//! Less used AMT services that Intel's message library addresses: alarm clock
//! (`AMT_AlarmClockService`, `IPS_AlarmClockOccurrence`), CIRA (`AMT_RemoteAccessService`,
//! `AMT_ManagementPresenceRemoteSAP`, `AMT_RemoteAccessPolicyRule`,
//! `AMT_RemoteAccessPolicyAppliesToMPS`, `AMT_MPSUsernamePassword`,
//! `AMT_UserInitiatedConnectionService`), HTTP proxies (`IPS_HTTPProxyService`,
//! `IPS_HTTPProxyAccessPoint`), environment detection, host-side 802.1X (`IPS_IEEE8021xSettings`,
//! credential contexts), `IPS_PowerManagementService`, `IPS_ScreenSettingData` and the
//! `CIM_ServiceAvailableToElement` / `CIM_ConcreteDependency` / `CIM_CredentialContext`
//! associations. They keep plausible state so a management client's reads and writes round-trip;
//! nothing here drives other parts of the simulation (no CIRA tunnel, no alarm wake-up).

use amt_wire::wsman::Fault;
use amt_wire::wsman::fault::DETAIL_INVALID_VALUES;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA, IPS_SCHEMA};

use super::DeviceFacts;
use super::model::{Call, Cx, Epr, Input, Instance, Invoked, MethodOut, Update, pt};
use super::power::computer_system_epr;
use crate::state::{AlarmOccurrence, HttpProxy, MpsServer, NvramState, PolicyRule};

/// Most objects of each kind.
const MAX_OBJECTS: usize = 16;

/// Common service properties.
fn service(base: &str, class: &str, name: &str, enabled_state: u32) -> Instance {
    Instance::new(base, class)
        .key("CreationClassName", class)
        .p("ElementName", name)
        .p("EnabledState", enabled_state)
        .key("Name", name)
        .p("RequestedState", 12)
        .key("SystemCreationClassName", "CIM_ComputerSystem")
        .key("SystemName", "Intel(r) AMT")
}

/// EPR of an MPS server.
fn mps_epr(name: &str) -> Epr {
    Epr::new(
        format!("{AMT_SCHEMA}AMT_ManagementPresenceRemoteSAP"),
        &[
            ("CreationClassName", "AMT_ManagementPresenceRemoteSAP"),
            ("Name", name),
            ("SystemCreationClassName", "CIM_ComputerSystem"),
            ("SystemName", "Intel(r) AMT"),
        ],
    )
}

/// EPR of a policy rule.
fn rule_epr(name: &str) -> Epr {
    Epr::new(
        format!("{AMT_SCHEMA}AMT_RemoteAccessPolicyRule"),
        &[
            ("CreationClassName", "AMT_RemoteAccessPolicyRule"),
            ("PolicyRuleName", name),
            ("SystemCreationClassName", "CIM_ComputerSystem"),
            ("SystemName", "Intel(r) AMT"),
        ],
    )
}

/// Instances.
pub(crate) fn instances(class: &str, state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    let o = &state.other;
    match class {
        "AMT_AlarmClockService" => vec![
            service(AMT_SCHEMA, class, "Intel(r) AMT Alarm Clock Service", 5)
                .p("ElementName", "Intel(r) AMT Alarm Clock Service"),
        ],
        "IPS_AlarmClockOccurrence" => o
            .alarms
            .iter()
            .map(|a| {
                let i = Instance::new(IPS_SCHEMA, class)
                    .b("DeleteOnCompletion", a.delete_on_completion)
                    .p("ElementName", &a.instance_id)
                    .key("InstanceID", &a.instance_id)
                    .datetime("StartTime", &a.start_time);
                match &a.interval {
                    Some(interval) => i.p("Interval", interval),
                    None => i,
                }
            })
            .collect(),
        "AMT_RemoteAccessService" => vec![service(
            AMT_SCHEMA,
            class,
            "Intel(r) AMT Remote Access Service",
            5,
        )],
        "AMT_ManagementPresenceRemoteSAP" => o
            .mps_servers
            .iter()
            .map(|m| {
                Instance::new(AMT_SCHEMA, class)
                    .p("AccessInfo", &m.access_info)
                    .p("CN", &m.cn)
                    .key("CreationClassName", class)
                    .p("ElementName", "Intel(r) AMT:Management Presence Server")
                    .p("InfoFormat", m.info_format)
                    .key("Name", &m.name)
                    .p("Port", m.port)
                    .key("SystemCreationClassName", "CIM_ComputerSystem")
                    .key("SystemName", "Intel(r) AMT")
            })
            .collect(),
        "AMT_RemoteAccessPolicyRule" => o
            .policy_rules
            .iter()
            .map(|r| {
                Instance::new(AMT_SCHEMA, class)
                    .key("CreationClassName", class)
                    .p("ElementName", &r.name)
                    .p("ExtendedData", &r.extended_data)
                    .key("PolicyRuleName", &r.name)
                    .key("SystemCreationClassName", "CIM_ComputerSystem")
                    .key("SystemName", "Intel(r) AMT")
                    .p("Trigger", r.trigger)
                    .p("TunnelLifeTime", r.tunnel_lifetime)
            })
            .collect(),
        "AMT_RemoteAccessPolicyAppliesToMPS" => o
            .policy_rules
            .iter()
            .flat_map(|r| {
                r.servers.iter().map(|s| {
                    Instance::new(AMT_SCHEMA, class)
                        .key_epr("ManagedElement", mps_epr(s))
                        .p("MpsType", 2)
                        .p("OrderOfAccess", 0)
                        .key_epr("PolicySet", rule_epr(&r.name))
                })
            })
            .collect(),
        "AMT_MPSUsernamePassword" => o
            .mps_servers
            .iter()
            .filter(|m| m.auth_method == 2)
            .map(|m| {
                Instance::new(AMT_SCHEMA, class)
                    .p("ElementName", "Intel(r) AMT:MPS Username Password")
                    .key("InstanceID", format!("{} Credentials", m.name))
                    .p("RemoteID", "")
            })
            .collect(),
        "AMT_UserInitiatedConnectionService" => vec![service(
            AMT_SCHEMA,
            class,
            "Intel(r) AMT User Initiated Connection Service",
            o.user_initiated_connection.unwrap_or(32771),
        )],
        "IPS_HTTPProxyService" => vec![service(
            IPS_SCHEMA,
            class,
            "Intel(r) AMT HTTP Proxy Service",
            5,
        )],
        "IPS_HTTPProxyAccessPoint" => o
            .http_proxies
            .iter()
            .map(|p| {
                Instance::new(IPS_SCHEMA, class)
                    .p("AccessInfo", &p.access_info)
                    .key("CreationClassName", class)
                    .p("ElementName", "Intel(r) AMT HTTP Proxy Access Point")
                    .p("InfoFormat", p.info_format)
                    .key("Name", &p.name)
                    .p("NetworkDnsSuffix", &p.network_dns_suffix)
                    .p("Port", p.port)
                    .key("SystemCreationClassName", "CIM_ComputerSystem")
                    .key("SystemName", "Intel(r) AMT")
            })
            .collect(),
        "AMT_EnvironmentDetectionSettingData" => vec![
            Instance::new(AMT_SCHEMA, class)
                .list("DetectionAlgorithm", &[0])
                .list("DetectionStrings", &o.detection_strings)
                .p("ElementName", "Intel(r) AMT Environment Detection Settings")
                .key("InstanceID", "Intel(r) AMT Environment Detection Settings"),
        ],
        "IPS_IEEE8021xSettings" => {
            let mut i = Instance::new(IPS_SCHEMA, class)
                .p("ElementName", "Intel(r) AMT: 8021X Settings")
                .key("InstanceID", "Intel(r) AMT: 8021X Settings");
            for (name, value) in &o.ieee8021x_host {
                i = i.p(name, value);
            }
            vec![i]
        }
        "IPS_PowerManagementService" => vec![
            service(
                IPS_SCHEMA,
                class,
                "Intel(r) AMT Power Management Service",
                5,
            )
            .p("OSPowerSavingState", o.os_power_saving_state.unwrap_or(2)),
        ],
        "IPS_ScreenSettingData" => vec![
            Instance::new(IPS_SCHEMA, class)
                .p("ElementName", "Intel(r) Screen Settings")
                .key("InstanceID", "Intel(r) Screen Settings 0")
                .list("IsActive", &["true"])
                .p("PrimaryIndex", 0)
                .list("ResolutionX", &[1920])
                .list("ResolutionY", &[1080]),
        ],
        "CIM_ServiceAvailableToElement" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key_epr(
                    "ServiceProvided",
                    Epr::new(
                        format!("{CIM_SCHEMA}CIM_PowerManagementService"),
                        &[
                            ("CreationClassName", "CIM_PowerManagementService"),
                            ("Name", "Intel(r) AMT Power Management Service"),
                            ("SystemCreationClassName", "CIM_ComputerSystem"),
                            ("SystemName", "Intel(r) AMT"),
                        ],
                    ),
                )
                .key_epr("UserOfService", computer_system_epr()),
        ],
        // Associations with nothing to associate in this model.
        _ => Vec::new(),
    }
}

/// Put.
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    let Update { class, input, .. } = put;
    let before = cx.state.other.clone();
    match class {
        "AMT_EnvironmentDetectionSettingData" => {
            let strings: Vec<String> = input
                .texts("DetectionStrings")
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if strings.len() > 5 || strings.iter().any(|s| s.len() > 192) {
                return Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)));
            }
            cx.state.other.detection_strings = strings;
        }
        "IPS_IEEE8021xSettings" => {
            for name in [
                "AuthenticationProtocol",
                "Username",
                "Password",
                "RoamingIdentity",
                "ServerCertificateName",
                "ServerCertificateNameComparison",
                "Enabled",
                "AvailableInS0",
                "PxeTimeout",
            ] {
                if let Some(v) = input.text(name) {
                    if v.len() > 255 {
                        return Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)));
                    }
                    let o = &mut cx.state.other.ieee8021x_host;
                    o.retain(|(n, _)| n != name);
                    if name != "Password" {
                        o.push((name.to_owned(), v));
                    }
                }
            }
            cx.state.other.ieee8021x_host.sort();
        }
        "AMT_AlarmClockService" | "AMT_MPSUsernamePassword" | "AMT_RemoteAccessPolicyRule" => {}
        _ => return Err(Fault::action_not_supported()),
    }
    if cx.state.other != before {
        cx.changed(None);
    }
    Ok(())
}

/// Delete of created objects.
pub(crate) fn delete(class: &str, cx: &mut Cx<'_, '_, '_>, target: &Instance) -> Result<(), Fault> {
    let o = &mut cx.state.other;
    match class {
        "IPS_AlarmClockOccurrence" => {
            let id = target.text("InstanceID").unwrap_or_default();
            o.alarms.retain(|a| a.instance_id != id);
        }
        "AMT_ManagementPresenceRemoteSAP" => {
            let name = target.text("Name").unwrap_or_default().to_owned();
            if o.policy_rules.iter().any(|r| r.servers.contains(&name)) {
                return Err(Fault::access_denied());
            }
            o.mps_servers.retain(|m| m.name != name);
        }
        "AMT_RemoteAccessPolicyRule" => {
            let name = target.text("PolicyRuleName").unwrap_or_default();
            o.policy_rules.retain(|r| r.name != name);
        }
        "AMT_RemoteAccessPolicyAppliesToMPS" => {
            let server = target
                .props
                .iter()
                .find_map(|(n, v)| match v {
                    super::model::Value::Epr(e) if n == "ManagedElement" => {
                        e.selector("Name").map(str::to_owned)
                    }
                    _ => None,
                })
                .unwrap_or_default();
            for r in &mut o.policy_rules {
                r.servers.retain(|s| *s != server);
            }
        }
        "IPS_HTTPProxyAccessPoint" => {
            let name = target.text("Name").unwrap_or_default();
            o.http_proxies.retain(|p| p.name != name);
        }
        _ => return Err(Fault::action_not_supported()),
    }
    cx.changed(None);
    Ok(())
}

/// Methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let Call {
        class,
        method,
        input,
        ..
    } = call;
    let out = match (class, method) {
        ("AMT_AlarmClockService", "AddAlarm") => Ok(add_alarm(cx, input)),
        ("AMT_RemoteAccessService", "AddMpServer") => add_mps(cx, input),
        ("AMT_RemoteAccessService", "AddRemoteAccessPolicyRule") => add_rule(cx, input),
        ("AMT_UserInitiatedConnectionService", "RequestStateChange") => {
            input.u32("RequestedState").map(|s| match s {
                Some(s @ 32768..=32771) => {
                    cx.state.other.user_initiated_connection = Some(s);
                    cx.changed(None);
                    MethodOut::ok()
                }
                _ => MethodOut::status(pt::INVALID_PARAMETER),
            })
        }
        ("IPS_HTTPProxyService", "AddProxyAccessPoint") => Ok(add_proxy(cx, input)),
        ("IPS_HTTPProxyAccessPoint", "UpdatePriority") => Ok(MethodOut::ok()),
        ("IPS_IEEE8021xSettings", "SetCertificates") => Ok(MethodOut::ok()),
        ("IPS_PowerManagementService", "RequestOSPowerSavingStateChange") => {
            input.u32("OSPowerSavingState").map(|s| match s {
                Some(s @ (2 | 3)) => {
                    cx.state.other.os_power_saving_state = Some(s);
                    cx.changed(None);
                    MethodOut::ok()
                }
                _ => MethodOut::status(pt::INVALID_PARAMETER),
            })
        }
        _ => return None,
    };
    Some(out)
}

/// At most 255 bytes of a client string (on a character boundary).
fn clip(mut text: String) -> String {
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// A fresh object number.
fn next_id(cx: &mut Cx<'_, '_, '_>) -> u32 {
    let id = cx.state.other.next_id;
    cx.state.other.next_id = id.wrapping_add(1);
    id
}

/// `AddAlarm(AlarmTemplate)`: an `IPS_AlarmClockOccurrence` from the template's
/// `InstanceID`/`ElementName`, `StartTime`, `Interval`, `DeleteOnCompletion`.
fn add_alarm(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let template = Input::new(input.child("AlarmTemplate"));
    let Some(id) = template
        .text("InstanceID")
        .or_else(|| template.text("ElementName"))
        .filter(|s| !s.is_empty() && s.len() <= 64)
    else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    let start = template
        .child("StartTime")
        .map(|e| e.elements().next().unwrap_or(e).text().trim().to_owned())
        .unwrap_or_default();
    if cx.state.other.alarms.iter().any(|a| a.instance_id == id) {
        return MethodOut::status(pt::DUPLICATE);
    }
    if cx.state.other.alarms.len() >= 5 {
        return MethodOut::status(pt::MAX_LIMIT_REACHED);
    }
    cx.state.other.alarms.push(AlarmOccurrence {
        instance_id: id.clone(),
        start_time: clip(start),
        interval: template
            .child("Interval")
            .map(|e| clip(e.elements().next().unwrap_or(e).text().trim().to_owned())),
        delete_on_completion: template.text("DeleteOnCompletion").as_deref() == Some("true"),
    });
    cx.changed(None);
    MethodOut::ok().out_epr(
        "AlarmClock",
        Epr::new(
            format!("{IPS_SCHEMA}IPS_AlarmClockOccurrence"),
            &[("InstanceID", &id)],
        ),
    )
}

/// `AddMpServer(AccessInfo, InfoFormat, Port, AuthMethod, …, CN)`.
fn add_mps(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let access_info = input.text("AccessInfo").unwrap_or_default();
    let (info_format, port, auth) = (
        input.u32("InfoFormat")?,
        input.u32("Port")?,
        input.u32("AuthMethod")?,
    );
    let (Some(info_format), Some(port), Some(auth_method)) = (info_format, port, auth) else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    if access_info.is_empty()
        || access_info.len() > 255
        || port > 65535
        || !matches!(info_format, 3 | 4 | 201)
    {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    if cx.state.other.mps_servers.len() >= MAX_OBJECTS {
        return Ok(MethodOut::status(pt::MAX_LIMIT_REACHED));
    }
    let name = format!("Intel(r) AMT:Management Presence Server {}", next_id(cx));
    cx.state.other.mps_servers.push(MpsServer {
        name: name.clone(),
        access_info,
        info_format,
        port,
        auth_method,
        cn: clip(input.text("CN").unwrap_or_default()),
    });
    cx.changed(None);
    Ok(MethodOut::ok().out_epr("MpServer", mps_epr(&name)))
}

/// `AddRemoteAccessPolicyRule(Trigger, TunnelLifeTime, ExtendedData, MpServer)`.
fn add_rule(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let (Some(trigger), Some(lifetime)) = (input.u32("Trigger")?, input.u32("TunnelLifeTime")?)
    else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    let server = input
        .epr("MpServer")
        .and_then(|e| e.selector("Name").map(str::to_owned));
    let Some(server) = server.filter(|s| cx.state.other.mps_servers.iter().any(|m| m.name == *s))
    else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    if trigger > 3 {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let name = match trigger {
        0 => "User Initiated",
        1 => "Alert",
        2 => "Periodic",
        _ => "Home Provisioning",
    }
    .to_owned();
    let rules = &mut cx.state.other.policy_rules;
    match rules.iter_mut().find(|r| r.name == name) {
        Some(rule) => {
            if !rule.servers.contains(&server) {
                rule.servers.push(server);
            }
        }
        None => rules.push(PolicyRule {
            name: name.clone(),
            trigger,
            tunnel_lifetime: lifetime,
            extended_data: clip(input.text("ExtendedData").unwrap_or_default()),
            servers: vec![server],
        }),
    }
    cx.changed(None);
    Ok(MethodOut::ok().out_epr("PolicyRule", rule_epr(&name)))
}

/// `AddProxyAccessPoint(AccessInfo, InfoFormat, Port, NetworkDnsSuffix)`.
fn add_proxy(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let access_info = input.text("AccessInfo").unwrap_or_default();
    let info_format = input
        .text("InfoFormat")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let port = input.text("Port").and_then(|t| t.parse().ok()).unwrap_or(0);
    if access_info.is_empty() || access_info.len() > 255 || port == 0 || port > 65535 {
        return MethodOut::status(pt::INVALID_PARAMETER);
    }
    if cx.state.other.http_proxies.len() >= MAX_OBJECTS {
        return MethodOut::status(pt::MAX_LIMIT_REACHED);
    }
    let name = format!("Intel(r) AMT HTTP Proxy Access Point {}", next_id(cx));
    cx.state.other.http_proxies.push(HttpProxy {
        name: name.clone(),
        access_info,
        info_format,
        port,
        network_dns_suffix: clip(input.text("NetworkDnsSuffix").unwrap_or_default()),
    });
    cx.changed(None);
    MethodOut::ok().out_epr(
        "ProxyAccessPoint",
        Epr::new(
            format!("{IPS_SCHEMA}IPS_HTTPProxyAccessPoint"),
            &[("Name", &name)],
        ),
    )
}
