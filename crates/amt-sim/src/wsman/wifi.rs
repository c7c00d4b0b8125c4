//! Network settings: `AMT_WiFiPortConfigurationService` (`AddWiFiSettings`,
//! `DeleteAllITProfiles`), `CIM_WiFiEndpointSettings` (profiles), `CIM_WiFiPort`,
//! `AMT_8021XProfile` and `AMT_EthernetPortSettings` (wired and wireless).

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA};

use super::model::{Call, Cx, Input, Instance, Invoked, MethodOut, Update, parse_bool, pt};
use super::{DeviceFacts, NetInterface};
use crate::state::{NvramState, WifiProfile};

/// Name of the Wi-Fi port configuration service.
const WIFI_SERVICE: &str = "Intel(r) AMT WiFi Port Configuration Service";
/// InstanceID of the 802.1X profile.
const PROFILE_8021X: &str = "Intel(r) AMT 8021X Profile 0";
/// Most Wi-Fi profiles.
const MAX_PROFILES: usize = 16;

/// `AA-BB-CC-DD-EE-FF`.
fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// `AMT_EthernetPortSettings` of one interface.
fn ethernet(index: u32, nic: &NetInterface, wireless: bool) -> Instance {
    let octets = nic.ipv4.octets();
    let gateway = format!("{}.{}.{}.1", octets[0], octets[1], octets[2]);
    let mut i = Instance::new(AMT_SCHEMA, "AMT_EthernetPortSettings")
        .p("DHCPEnabled", if nic.dhcp { "true" } else { "false" })
        .p("DefaultGateway", &gateway)
        .p("ElementName", "Intel(r) AMT Ethernet Port Settings")
        .p("IPAddress", nic.ipv4)
        .key(
            "InstanceID",
            format!("Intel(r) AMT Ethernet Port Settings {index}"),
        )
        .p("IpSyncEnabled", "true")
        .p("LinkIsUp", if nic.link_up { "true" } else { "false" })
        .list("LinkPolicy", &[1, 14])
        .p("MACAddress", mac_text(nic.mac))
        .p("PhysicalConnectionType", if wireless { 3 } else { 0 })
        .p("PrimaryDNS", &gateway)
        .p("SharedDynamicIP", "true")
        .p("SharedMAC", "true")
        .p("SharedStaticIp", "false")
        .p("SubnetMask", "255.255.255.0");
    if wireless {
        i = i.p("WLANLinkProtectionLevel", 1);
    }
    i
}

/// Instances.
pub(crate) fn instances(class: &str, state: &NvramState, facts: &DeviceFacts) -> Vec<Instance> {
    let wifi = facts.wireless_capable && facts.wireless.is_some();
    match class {
        "AMT_WiFiPortConfigurationService" if wifi => vec![
            Instance::new(AMT_SCHEMA, class)
                .p("CreationClassName", class)
                .p("ElementName", WIFI_SERVICE)
                .p("EnabledState", 5)
                .p("LastConnectedSsidUnderMeControl", "")
                .key("Name", WIFI_SERVICE)
                .p("NoHostCsmeSoftwarePolicy", 0)
                .p("RequestedState", 12)
                .p("SystemCreationClassName", "CIM_ComputerSystem")
                .p("SystemName", "Intel(r) AMT")
                .p(
                    "localProfileSynchronizationEnabled",
                    u32::from(state.wifi_local_profile_sync),
                ),
        ],
        "CIM_WiFiEndpointSettings" if wifi => state
            .wifi_profiles
            .iter()
            .map(|p| {
                Instance::new(CIM_SCHEMA, class)
                    .p("AuthenticationMethod", p.authentication_method)
                    .p("BSSType", 3)
                    .p("ElementName", &p.element_name)
                    .p("EncryptionMethod", p.encryption_method)
                    .key("InstanceID", &p.instance_id)
                    .p("Priority", p.priority)
                    .p("SSID", &p.ssid)
            })
            .collect(),
        "CIM_WiFiPort" if wifi => vec![
            Instance::new(CIM_SCHEMA, class)
                .key("CreationClassName", class)
                .key("DeviceID", "WiFi Port 0")
                .p("ElementName", "Wireless port")
                .p(
                    "EnabledState",
                    if state.wifi_profiles.is_empty() { 3 } else { 2 },
                )
                .p("LinkTechnology", 11)
                .p(
                    "PermanentAddress",
                    facts
                        .wireless
                        .map(|w| hex::encode_upper(w.mac))
                        .unwrap_or_default(),
                )
                .p("PortType", 108)
                .p("RequestedState", 5)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "ManagedSystem"),
        ],
        "AMT_8021XProfile" => {
            let mut i = Instance::new(AMT_SCHEMA, class)
                .p("ActiveInS0", "true")
                .p("ElementName", "Intel(r) AMT 8021X Profile")
                .b("Enabled", state.ieee8021x.enabled)
                .key("InstanceID", PROFILE_8021X);
            for (name, value) in &state.ieee8021x.properties {
                i = i.p(name, value);
            }
            vec![i]
        }
        "AMT_EthernetPortSettings" => {
            let mut list = vec![ethernet(0, &facts.wired, false)];
            if let Some(w) = &facts.wireless {
                list.push(ethernet(1, w, true));
            }
            list
        }
        _ => Vec::new(),
    }
}

/// Put.
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    let Update { class, input, .. } = put;
    match class {
        "AMT_8021XProfile" => {
            let mut profile = cx.state.ieee8021x.clone();
            if let Some(v) = input.text("Enabled") {
                profile.enabled = parse_bool(&v)?;
            }
            for name in [
                "AuthenticationProtocol",
                "RoamingIdentity",
                "ServerCertificateName",
                "ServerCertificateNameComparison",
                "Username",
                "Domain",
                "ProtectedAccessCredential",
                "PxeTimeout",
            ] {
                if let Some(v) = input.text(name) {
                    if v.len() > 255 {
                        return Err(Fault::invalid_representation(Some(
                            amt_wire::wsman::fault::DETAIL_INVALID_VALUES,
                        )));
                    }
                    profile.properties.retain(|(n, _)| n != name);
                    profile.properties.push((name.to_owned(), v));
                }
            }
            profile.properties.sort();
            if profile != cx.state.ieee8021x {
                cx.state.ieee8021x = profile;
                cx.changed(None);
            }
            Ok(())
        }
        "AMT_WiFiPortConfigurationService" => {
            if let Some(v) = input.u32("localProfileSynchronizationEnabled")? {
                let on = v != 0;
                if on != cx.state.wifi_local_profile_sync {
                    cx.state.wifi_local_profile_sync = on;
                    cx.changed(None);
                }
            }
            Ok(())
        }
        // Accepted and kept as the facts say: the simulator's addresses come from the profile.
        "AMT_EthernetPortSettings" => Ok(()),
        _ => Err(Fault::action_not_supported()),
    }
}

/// Delete of a Wi-Fi profile.
pub(crate) fn delete(class: &str, cx: &mut Cx<'_, '_, '_>, target: &Instance) -> Result<(), Fault> {
    if class != "CIM_WiFiEndpointSettings" {
        return Err(Fault::action_not_supported());
    }
    let id = target.text("InstanceID").unwrap_or_default().to_owned();
    cx.state.wifi_profiles.retain(|p| p.instance_id != id);
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
        ("AMT_WiFiPortConfigurationService", "AddWiFiSettings") => Ok(add_wifi(cx, input)),
        ("AMT_WiFiPortConfigurationService", "UpdateWiFiSettings") => Ok(add_wifi(cx, input)),
        ("AMT_WiFiPortConfigurationService", "DeleteAllITProfiles" | "DeleteAllUserProfiles") => {
            if !cx.state.wifi_profiles.is_empty() {
                cx.state.wifi_profiles.clear();
                cx.changed(None);
            }
            Ok(MethodOut::ok())
        }
        ("AMT_EthernetPortSettings", "SetLinkPreference") => {
            input.u32("LinkPreference").map(|p| match p {
                None | Some(1 | 2) => MethodOut::ok(),
                _ => MethodOut::status(pt::INVALID_PARAMETER),
            })
        }
        ("CIM_WiFiPort", "RequestStateChange") => input.u32("RequestedState").map(|s| match s {
            Some(2 | 3 | 32768..=32769) => MethodOut::ok(),
            _ => MethodOut::status(pt::INVALID_PARAMETER),
        }),
        _ => return None,
    };
    Some(out)
}

/// `AddWiFiSettings(WiFiEndpoint, WiFiEndpointSettingsInput, IEEE8021xSettingsInput, …)`.
/// Same name again replaces the profile (`UpdateWiFiSettings`); a priority already used by
/// another profile gives 2067 INVALID_PRIORITY.
fn add_wifi(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    if !cx.facts().wireless_capable {
        return MethodOut::status(pt::UNSUPPORTED);
    }
    let settings = Input::new(input.child("WiFiEndpointSettingsInput"));
    let (Some(name), Some(ssid)) = (settings.text("ElementName"), settings.text("SSID")) else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    let number = |n: &str| settings.text(n).and_then(|t| t.parse::<u32>().ok());
    let (Some(priority), Some(auth), Some(enc)) = (
        number("Priority"),
        number("AuthenticationMethod"),
        number("EncryptionMethod"),
    ) else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    if ssid.is_empty() || ssid.len() > 32 || name.is_empty() || name.len() > 32 {
        return MethodOut::status(pt::INVALID_PARAMETER);
    }
    let ieee8021x = input.child("IEEE8021xSettingsInput").is_some();
    if matches!(auth, 5 | 7 | 32768) && !ieee8021x {
        return MethodOut::status(pt::INVALID_PARAMETER);
    }
    let instance_id = format!("Intel(r) AMT:WiFi Endpoint Settings {name}");
    if cx
        .state
        .wifi_profiles
        .iter()
        .any(|p| p.priority == priority && p.instance_id != instance_id)
    {
        return MethodOut::status(pt::INVALID_PRIORITY);
    }
    cx.state
        .wifi_profiles
        .retain(|p| p.instance_id != instance_id);
    if cx.state.wifi_profiles.len() >= MAX_PROFILES {
        return MethodOut::status(pt::MAX_LIMIT_REACHED);
    }
    cx.state.wifi_profiles.push(WifiProfile {
        instance_id: instance_id.clone(),
        element_name: name,
        ssid,
        priority,
        authentication_method: auth,
        encryption_method: enc,
        ieee8021x,
    });
    cx.changed(None);
    MethodOut::ok().out_epr(
        "WiFiSetting",
        super::model::Epr::new(
            format!("{CIM_SCHEMA}CIM_WiFiEndpointSettings"),
            &[("InstanceID", &instance_id)],
        ),
    )
}
