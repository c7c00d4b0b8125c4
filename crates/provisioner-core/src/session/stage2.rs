//! Second-stage provisioning (error-catalog §2 step 7), over a new TLS session authenticated as
//! `admin` with the password set in stage 1.
//!
//! User ACLs cleared and rebuilt; ping, web console, Serial-over-LAN and IDE redirection as
//! configured; Kerberos; the power scheme (SP1 always 5, SP2 the configured value); SP2 only: Wi-Fi
//! profiles deleted, wireless capability detected (`CIM_WiFiPort` present) and the configured
//! profiles added. The web console switch (`AMT_WebUIService`) and wireless detection tolerate a
//! device that does not know the class; everything else failing fails the stage.

use amt_wire::digest;
use amt_wire::wsman::{Element, Node};

use super::error::SessionError;
use super::stage1::{SubFailure, call, ok_return, with_values};
use super::{Failure, Sink, Steps};
use crate::env::WirelessProfile;
use crate::events::{ProvisionEvent, Step};
use crate::logs::ids;
use crate::wsman_client::{WsmanClient, endpoint_reference, property, resource_uri};

const AUTH: &str = "AMT_AuthorizationService";
const REDIRECTION: &str = "AMT_RedirectionService";
const WIFI: &str = "AMT_WiFiPortConfigurationService";

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Runs stage 2.
pub(crate) fn run(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), Failure> {
    sink.log(ids::STAGE2_STARTED, &[]);
    sink.event(ProvisionEvent::StageStarted { stage: 2 });
    let r = stage2(steps, client, sink);
    sink.flush(client);
    match r {
        Ok(()) => {
            sink.log(ids::STAGE2_COMPLETED, &[]);
            sink.event(ProvisionEvent::StageFinished { stage: 2, ok: true });
            Ok(())
        }
        Err(f) => {
            sink.log(
                ids::STAGE2_FAILED,
                &[("step", f.what), ("error", &f.cause.to_string())],
            );
            sink.event(ProvisionEvent::StageFinished {
                stage: 2,
                ok: false,
            });
            Err(Failure::new(Step::Stage2, SessionError::Stage2(f)))
        }
    }
}

fn stage2(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), SubFailure> {
    let settings = &steps.env.stage2;

    // ACLs: remove every user entry, then add the configured ones.
    let general = client
        .get("AMT_GeneralSettings", &[])
        .map_err(call("AMT_GeneralSettings"))?;
    sink.flush(client);
    let realm = general
        .child_by_local_name("DigestRealm")
        .map(|r| r.text().trim().to_owned())
        .unwrap_or_default();
    let out = client
        .invoke(
            AUTH,
            "EnumerateUserAclEntries",
            &[],
            vec![property(AUTH, "StartIndex", "1")],
        )
        .map_err(call("EnumerateUserAclEntries"))?;
    let out = ok_return("EnumerateUserAclEntries", out)?;
    let handles: Vec<String> = out
        .body
        .elements()
        .filter(|e| e.name == "Handles")
        .map(|e| e.text().trim().to_owned())
        .collect();
    for handle in handles {
        let out = client
            .invoke(
                AUTH,
                "RemoveUserAclEntry",
                &[],
                vec![property(AUTH, "Handle", handle)],
            )
            .map_err(call("RemoveUserAclEntry"))?;
        ok_return("RemoveUserAclEntry", out)?;
    }
    for user in &settings.acl {
        let ha1 = digest::ha1(&user.name, &realm, &user.password);
        let mut params = vec![
            property(AUTH, "DigestUsername", user.name.clone()),
            property(AUTH, "DigestPassword", digest::digest_password_base64(&ha1)),
            property(AUTH, "AccessPermission", user.access.to_string()),
        ];
        params.extend(
            user.realms
                .iter()
                .map(|r| property(AUTH, "Realms", r.to_string())),
        );
        let out = client
            .invoke(AUTH, "AddUserAclEntryEx", &[], params)
            .map_err(call("AddUserAclEntryEx"))?;
        ok_return("AddUserAclEntryEx", out)?;
    }
    sink.log(
        ids::STAGE2_ACL,
        &[("count", &settings.acl.len().to_string())],
    );

    // Ping, web console, SOL, IDE-R.
    let general = with_values(
        general,
        &[(
            "PingResponseEnabled",
            if settings.ping { "true" } else { "false" },
        )],
    );
    client
        .put("AMT_GeneralSettings", &[], general)
        .map_err(call("AMT_GeneralSettings"))?;
    let web_state = if settings.web_console { "2" } else { "3" };
    // Tolerated: not every firmware exposes AMT_WebUIService.
    let _ = client.invoke(
        "AMT_WebUIService",
        "RequestStateChange",
        &[],
        vec![property("AMT_WebUIService", "RequestedState", web_state)],
    );
    let requested = 32768 + u32::from(settings.ider) + 2 * u32::from(settings.sol);
    let out = client
        .invoke(
            REDIRECTION,
            "RequestStateChange",
            &[],
            vec![property(
                REDIRECTION,
                "RequestedState",
                requested.to_string(),
            )],
        )
        .map_err(call("AMT_RedirectionService.RequestStateChange"))?;
    ok_return("AMT_RedirectionService.RequestStateChange", out)?;
    let redirection = client
        .get(REDIRECTION, &[])
        .map_err(call("AMT_RedirectionService"))?;
    let listener = if settings.sol || settings.ider {
        "true"
    } else {
        "false"
    };
    let redirection = with_values(redirection, &[("ListenerEnabled", listener)]);
    client
        .put(REDIRECTION, &[], redirection)
        .map_err(call("AMT_RedirectionService"))?;
    let enabled = format!(
        "ping {}, web console {}, SOL {}, IDE-R {}",
        on_off(settings.ping),
        on_off(settings.web_console),
        on_off(settings.sol),
        on_off(settings.ider)
    );
    sink.log(ids::STAGE2_INTERFACES, &[("enabled", &enabled)]);

    // Kerberos.
    if settings.kerberos {
        let krb = client
            .get("AMT_KerberosSettingData", &[])
            .map_err(call("AMT_KerberosSettingData"))?;
        let krb = with_values(krb, &[("KrbEnabled", "true")]);
        client
            .put("AMT_KerberosSettingData", &[], krb)
            .map_err(call("AMT_KerberosSettingData"))?;
    }
    sink.log(
        ids::STAGE2_KERBEROS,
        &[("enabled", on_off(settings.kerberos))],
    );

    // Power scheme: SP1 always 5 (always on), SP2 the configured value.
    let scheme = if steps.is_sp2() {
        settings.power_scheme
    } else {
        5
    };
    let schemes = client
        .enumerate("AMT_SystemPowerScheme")
        .map_err(call("AMT_SystemPowerScheme"))?;
    let wanted = scheme.to_string();
    let instance_id = schemes
        .iter()
        .filter_map(|s| {
            s.child_by_local_name("InstanceID")
                .map(|i| i.text().trim().to_owned())
        })
        .find(|id| id.rsplit(' ').next() == Some(wanted.as_str()))
        .unwrap_or_else(|| format!("Intel(r) AMT Power Scheme {scheme}"));
    let out = client
        .invoke(
            "AMT_SystemPowerScheme",
            "SetPowerScheme",
            &[("InstanceID", &instance_id)],
            vec![],
        )
        .map_err(call("SetPowerScheme"))?;
    ok_return("SetPowerScheme", out)?;
    sink.log(ids::STAGE2_POWER, &[("scheme", &wanted)]);

    if steps.is_sp2() {
        wireless(steps, client, sink)?;
    }
    Ok(())
}

/// SP2 only: delete Wi-Fi profiles, detect wireless, add the configured profiles.
fn wireless(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), SubFailure> {
    let existing = client
        .enumerate("CIM_WiFiEndpointSettings")
        .unwrap_or_default();
    for profile in existing {
        if let Some(id) = profile
            .child_by_local_name("InstanceID")
            .map(|i| i.text().trim().to_owned())
        {
            client
                .delete("CIM_WiFiEndpointSettings", &[("InstanceID", &id)])
                .map_err(call("CIM_WiFiEndpointSettings"))?;
        }
    }
    sink.log(ids::STAGE2_WIRELESS_CLEARED, &[]);
    let ports = client.enumerate("CIM_WiFiPort").unwrap_or_default();
    let capable = !ports.is_empty();
    sink.log(
        ids::STAGE2_WIRELESS_DETECTED,
        &[("enabled", if capable { "present" } else { "absent" })],
    );
    let mut stored = 0usize;
    if capable {
        let endpoint = client
            .enumerate("CIM_WiFiEndpoint")
            .unwrap_or_default()
            .iter()
            .find_map(|e| {
                e.child_by_local_name("Name")
                    .map(|n| n.text().trim().to_owned())
            })
            .unwrap_or_else(|| "WiFi Endpoint 0".to_owned());
        for (i, profile) in steps.env.stage2.wireless_profiles.iter().enumerate() {
            let out = client
                .invoke(
                    WIFI,
                    "AddWiFiSettings",
                    &[],
                    wifi_params(&endpoint, profile, i),
                )
                .map_err(call("AddWiFiSettings"))?;
            ok_return("AddWiFiSettings", out)?;
            stored += 1;
        }
    }
    sink.log(
        ids::STAGE2_WIRELESS_PROFILES,
        &[("count", &stored.to_string())],
    );
    Ok(())
}

/// `AddWiFiSettings` inputs for one profile.
fn wifi_params(endpoint: &str, profile: &WirelessProfile, index: usize) -> Vec<Element> {
    let mut endpoint_ref = property(WIFI, "WiFiEndpoint", "");
    endpoint_ref.children.extend(
        endpoint_reference("CIM_WiFiEndpoint", &[("Name", endpoint)])
            .into_iter()
            .map(Node::Element),
    );
    let settings_uri = resource_uri("CIM_WiFiEndpointSettings");
    let q = |name: &str, text: String| {
        Element::prefixed("q", settings_uri.clone(), name).with_text(text)
    };
    let name = format!("ConfigMgr profile {}", index + 1);
    let mut input = property(WIFI, "WiFiEndpointSettingsInput", "")
        .with_child(q("ElementName", name.clone()))
        .with_child(q(
            "InstanceID",
            format!("Intel(r) AMT:WiFi Endpoint Settings {name}"),
        ))
        .with_child(q(
            "AuthenticationMethod",
            auth_method(&profile.auth).to_string(),
        ))
        .with_child(q(
            "EncryptionMethod",
            encryption_method(&profile.encryption).to_string(),
        ))
        .with_child(q("SSID", profile.ssid.clone()))
        .with_child(q("Priority", (index + 1).to_string()));
    if let Some(passphrase) = &profile.passphrase {
        input = input.with_child(q("PSKPassPhrase", passphrase.clone()));
    }
    vec![endpoint_ref, input]
}

/// CIM Wi-Fi authentication method from a name or number (amt-protocol §4.3 enum).
fn auth_method(text: &str) -> u32 {
    match text.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
        "open" => 2,
        "shared-key" => 3,
        "wpa-psk" => 4,
        "wpa-802.1x" | "wpa-ieee802.1x" => 5,
        "wpa2-802.1x" | "wpa2-ieee802.1x" => 7,
        "wpa3-802.1x" => 32768,
        "wpa2-psk" => 6,
        other => other.parse().unwrap_or(6),
    }
}

/// CIM Wi-Fi encryption method from a name or number.
fn encryption_method(text: &str) -> u32 {
    match text.to_ascii_lowercase().as_str() {
        "wep" => 2,
        "tkip" => 3,
        "ccmp" | "aes" => 4,
        "none" => 5,
        other => other.parse().unwrap_or(4),
    }
}

#[cfg(test)]
mod tests {
    use super::super::stage1::selector_value;
    use super::*;

    #[test]
    fn wifi_enums_map_names_and_numbers() {
        assert_eq!(auth_method("WPA2-PSK"), 6);
        assert_eq!(auth_method("wpa2_802.1x"), 7);
        assert_eq!(auth_method("4"), 4);
        assert_eq!(encryption_method("AES"), 4);
        assert_eq!(encryption_method("tkip"), 3);
    }

    #[test]
    fn selector_of_an_epr_is_found() {
        let uri = resource_uri("AMT_PublicKeyManagementService");
        let mut e = Element::prefixed("g", uri, "KeyPair");
        e.children.extend(
            endpoint_reference(
                "AMT_PublicPrivateKeyPair",
                &[("InstanceID", "Intel(r) AMT Key: Handle: 0")],
            )
            .into_iter()
            .map(Node::Element),
        );
        assert_eq!(
            selector_value(&e),
            Some("Intel(r) AMT Key: Handle: 0".to_owned())
        );
    }
}
