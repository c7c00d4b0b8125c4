//! Stage 2 and management: ACLs, redirection, KVM, opt-in, power (amtctrl's shape), boot, Kerberos,
//! power scheme, Wi-Fi, message log; host-based setup (client mode and AdminSetup with a real
//! signature by the test PKI's provisioning key); unprovisioning.

mod wsman_support;

use amt_sim::state::{AdminAcl, ControlMode, ProvisioningState};
use amt_sim::wsman::{DeviceFacts, NetInterface, Note, Session};
use rcgen::{PublicKeyData as _, SigningKey as _};
use wsman_support::*;

const ADMIN_PASSWORD: &str = "Adm1n-P@ss";

fn provisioned_with(facts: DeviceFacts) -> Device {
    let mut d = Device::with_facts(facts);
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    d.state.admin = Some(AdminAcl {
        username: "admin".into(),
        ha1,
    });
    d.state.provisioning_state = ProvisioningState::Post;
    d.state.control_mode = ControlMode::Admin;
    d
}

fn provisioned() -> Device {
    provisioned_with(DeviceFacts::sample())
}

fn auth() -> String {
    format!("{AMT}AMT_AuthorizationService")
}

#[test]
fn user_acl_entries_add_enumerate_get_update_remove() {
    let mut d = provisioned();
    let ha1 = amt_wire::digest::ha1("operator", d.state.digest_realm(), "0per@tor!");
    let add = |name: &str, pw: &str| {
        format!(
            "<h:DigestUsername>{name}</h:DigestUsername><h:DigestPassword>{pw}</h:DigestPassword><h:AccessPermission>2</h:AccessPermission><h:Realms>2</h:Realms><h:Realms>5</h:Realms>"
        )
    };
    let pw = amt_wire::digest::digest_password_base64(&ha1);
    let r = d.admin(&invoke(
        "1",
        &auth(),
        "AddUserAclEntryEx",
        &[],
        &add("operator", &pw),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let handle = r.find_text("Handle").expect("Handle");
    assert_eq!(d.state.digest_user("operator"), Some(ha1));
    let r = d.admin(&invoke(
        "2",
        &auth(),
        "AddUserAclEntryEx",
        &[],
        &add("operator", &pw),
    ));
    assert_eq!(r.return_value(), 2058, "duplicate name");
    let r = d.admin(&invoke(
        "3",
        &auth(),
        "AddUserAclEntryEx",
        &[],
        "<h:DigestUsername>x</h:DigestUsername><h:DigestPassword>AAAAAAAAAAAAAAAAAAAAAA==</h:DigestPassword><h:AccessPermission>2</h:AccessPermission><h:Realms>999</h:Realms>",
    ));
    assert_eq!(r.return_value(), 2055, "unknown realm");

    let r = d.admin(&invoke(
        "4",
        &auth(),
        "EnumerateUserAclEntries",
        &[],
        "<h:StartIndex>1</h:StartIndex>",
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(r.find_text("TotalCount").as_deref(), Some("1"));
    assert_eq!(r.find_text("Handles"), Some(handle.clone()));

    let r = d.admin(&invoke(
        "5",
        &auth(),
        "GetUserAclEntryEx",
        &[],
        &format!("<h:Handle>{handle}</h:Handle>"),
    ));
    assert_eq!(r.find_text("DigestUsername").as_deref(), Some("operator"));
    let mut realms = Vec::new();
    find_all(r.body_element(), "Realms", &mut realms);
    assert_eq!(realms.len(), 2);

    let r = d.admin(&invoke(
        "6",
        &auth(),
        "UpdateUserAclEntryEx",
        &[],
        &format!("<h:Handle>{handle}</h:Handle><h:DigestUsername>operator</h:DigestUsername><h:AccessPermission>1</h:AccessPermission><h:Realms>5</h:Realms>"),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(d.state.users[0].realms, [5]);

    // The operator can only use realm 5.
    let op = Session::Digest {
        user: "operator".into(),
    };
    let r = d.send_xml(
        op.clone(),
        &get("7", &format!("{AMT}AMT_RedirectionService"), &[]),
    );
    assert_eq!(r.status, 401);
    let r = d.admin(&invoke(
        "8",
        &auth(),
        "SetAclEnabledState",
        &[],
        &format!("<h:Handle>{handle}</h:Handle><h:Enabled>false</h:Enabled>"),
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(
        d.state.digest_user("operator"),
        None,
        "disabled entries do not authenticate"
    );

    let r = d.admin(&invoke(
        "9",
        &auth(),
        "RemoveUserAclEntry",
        &[],
        &format!("<h:Handle>{handle}</h:Handle>"),
    ));
    assert_eq!(r.return_value(), 0);
    let r = d.admin(&invoke(
        "10",
        &auth(),
        "RemoveUserAclEntry",
        &[],
        &format!("<h:Handle>{handle}</h:Handle>"),
    ));
    assert_eq!(r.return_value(), 2053);
    let r = d.admin(&invoke("11", &auth(), "GetAdminAclEntry", &[], ""));
    assert_eq!(r.find_text("Username").as_deref(), Some("admin"));
}

#[test]
fn admin_password_is_strict_base64_on_request() {
    let mut facts = DeviceFacts::sample();
    facts.quirks.strict_digest_password_base64 = true;
    let mut d = provisioned_with(facts);
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), "Other-P@ss1");
    let body = |pw: String| {
        format!("<h:Username>admin</h:Username><h:DigestPassword>{pw}</h:DigestPassword>")
    };
    let r = d.admin(&invoke(
        "1",
        &auth(),
        "SetAdminAclEntryEx",
        &[],
        &body(hex::encode(ha1)),
    ));
    assert_eq!(r.return_value(), 36);
    let r = d.admin(&invoke(
        "2",
        &auth(),
        "SetAdminAclEntryEx",
        &[],
        &body(amt_wire::digest::digest_password_base64(&ha1)),
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.digest_user("admin"), Some(ha1));
}

#[test]
fn redirection_kvm_and_opt_in() {
    let mut d = provisioned();
    let redir = format!("{AMT}AMT_RedirectionService");
    let r = d.admin(&invoke(
        "1",
        &redir,
        "RequestStateChange",
        &[],
        "<h:RequestedState>32771</h:RequestedState>",
    ));
    assert_eq!(r.return_value(), 0);
    assert!(d.state.redirection.sol && d.state.redirection.ider);
    let r = d.admin(&put(
        "2",
        &redir,
        &[],
        "AMT_RedirectionService",
        "<h:ListenerEnabled>true</h:ListenerEnabled>",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.find_text("EnabledState").as_deref(), Some("32771"));
    assert_eq!(r.find_text("ListenerEnabled").as_deref(), Some("true"));
    let r = d.admin(&invoke(
        "3",
        &redir,
        "RequestStateChange",
        &[],
        "<h:RequestedState>7</h:RequestedState>",
    ));
    assert_eq!(r.return_value(), 36);

    // amtctrl vnc: Put KVM settings, then enable the SAP.
    let kvm = format!("{IPS}IPS_KVMRedirectionSettingData");
    let r = d.admin(&put("4", &kvm, &[], "IPS_KVMRedirectionSettingData", "<h:Is5900PortEnabled>true</h:Is5900PortEnabled><h:OptInPolicy>false</h:OptInPolicy><h:SessionTimeout>0</h:SessionTimeout><h:RFBPassword>Vnc-P@s1</h:RFBPassword>"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.kvm.port_5900_enabled && d.state.kvm.rfb_password_set);
    let sap = format!("{CIM}CIM_KVMRedirectionSAP");
    let r = d.admin(&invoke(
        "5",
        &sap,
        "RequestStateChange",
        &[],
        "<h:RequestedState>2</h:RequestedState>",
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.kvm.enabled_state, 2);

    // Opt-in: the code shown on screen is what SendOptInCode needs.
    let opt = format!("{IPS}IPS_OptInService");
    let r = d.admin(&invoke("6", &opt, "StartOptIn", &[], ""));
    assert_eq!(r.return_value(), 0);
    let code = r
        .notes
        .iter()
        .find_map(|n| match n {
            Note::OptInCodeDisplayed { code } => Some(*code),
            _ => None,
        })
        .expect("code shown");
    let r = d.admin(&invoke("7", &opt, "StartOptIn", &[], ""));
    assert_eq!(r.return_value(), 2082);
    let r = d.admin(&invoke(
        "8",
        &opt,
        "SendOptInCode",
        &[],
        &format!("<h:OptInCode>{}</h:OptInCode>", (code + 1) % 1_000_000),
    ));
    assert_ne!(r.return_value(), 0);
    let r = d.admin(&invoke(
        "9",
        &opt,
        "SendOptInCode",
        &[],
        &format!("<h:OptInCode>{code}</h:OptInCode>"),
    ));
    assert_eq!(r.return_value(), 0);
    let r = d.admin(&get("10", &opt, &[]));
    assert_eq!(r.find_text("OptInState").as_deref(), Some("3"));
    let r = d.admin(&invoke("11", &opt, "CancelOptIn", &[], ""));
    assert_eq!(r.return_value(), 0);
}

#[test]
fn power_status_and_change_as_amtctrl_sends_them() {
    let mut d = provisioned();
    // status: Get without selectors, no Content-Type concerns here.
    let r = d.admin(&get(
        "1",
        &format!("{CIM}CIM_AssociatedPowerManagementService"),
        &[],
    ));
    assert_eq!(r.find_text("PowerState").as_deref(), Some("2"));

    // off: selector Name, ManagedElement with a namespaced wsman:Name selector attribute.
    let uri = format!("{CIM}CIM_PowerManagementService");
    let managed = "<h:ManagedElement><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem</w:ResourceURI><w:SelectorSet><w:Selector w:Name=\"Name\">ManagedSystem</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ManagedElement>";
    let r = d.admin(&invoke(
        "2",
        &uri,
        "RequestPowerStateChange",
        &[("Name", "Intel(r) AMT Power Management Service")],
        &format!("<h:PowerState>8</h:PowerState>{managed}"),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert!(
        r.notes
            .contains(&Note::PowerStateChanged { from: 2, to: 8 })
    );
    let r = d.admin(&get(
        "3",
        &format!("{CIM}CIM_AssociatedPowerManagementService"),
        &[],
    ));
    assert_eq!(r.find_text("PowerState").as_deref(), Some("8"));
    let r = d.admin(&invoke(
        "4",
        &uri,
        "RequestPowerStateChange",
        &[],
        &format!("<h:PowerState>2</h:PowerState>{managed}"),
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.power_state, 2);
    let r = d.admin(&invoke(
        "5",
        &uri,
        "RequestPowerStateChange",
        &[],
        "<h:PowerState>99</h:PowerState>",
    ));
    assert_eq!(r.return_value(), 36);

    // The changes are in the message log, newest first.
    let log = format!("{AMT}AMT_MessageLog");
    let r = d.admin(&invoke("6", &log, "PositionToFirstRecord", &[], ""));
    let it = r.find_text("IterationIdentifier").expect("id");
    let r = d.admin(&invoke("7", &log, "GetRecords", &[], &format!("<h:IterationIdentifier>{it}</h:IterationIdentifier><h:MaxReadRecords>390</h:MaxReadRecords>")));
    assert_eq!(r.return_value(), 0);
    let mut records = Vec::new();
    find_all(r.body_element(), "RecordArray", &mut records);
    assert_eq!(records.len(), 2);
    assert_eq!(unb64(&records[0].text()).len(), 21);
    assert_eq!(
        unb64(&records[0].text())[7],
        2,
        "newest first: the power-on"
    );
    assert_eq!(r.find_text("NoMoreRecords").as_deref(), Some("true"));
}

#[test]
fn pxe_boot_as_amtctrl_sends_it() {
    let mut d = provisioned();
    let source = epr(
        &format!("{CIM}CIM_BootSourceSetting"),
        &[("InstanceID", "Intel(r) AMT: Force PXE Boot")],
    );
    let r = d.admin(&invoke(
        "1",
        &format!("{CIM}CIM_BootConfigSetting"),
        "ChangeBootOrder",
        &[("InstanceID", "Intel(r) AMT: Boot Configuration 0")],
        &format!("<h:Source>{source}</h:Source>"),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let config = epr(
        &format!("{CIM}CIM_BootConfigSetting"),
        &[("InstanceID", "Intel(r) AMT: Boot Configuration 0")],
    );
    let r = d.admin(&invoke(
        "2",
        &format!("{CIM}CIM_BootService"),
        "SetBootConfigRole",
        &[("Name", "Intel(r) AMT Boot Service")],
        &format!("<h:BootConfigSetting>{config}</h:BootConfigSetting><h:Role>1</h:Role>"),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(d.state.boot.order, ["Intel(r) AMT: Force PXE Boot"]);
    assert_eq!(d.state.boot.role, Some(1));
    let r = d.admin(&put(
        "3",
        &format!("{AMT}AMT_BootSettingData"),
        &[],
        "AMT_BootSettingData",
        "<h:UseSOL>true</h:UseSOL><h:BootMediaIndex>0</h:BootMediaIndex>",
    ));
    assert_eq!(r.find_text("UseSOL").as_deref(), Some("true"));
    let r = d.admin(&get("4", &format!("{AMT}AMT_BootCapabilities"), &[]));
    assert_eq!(r.find_text("ForcePXEBoot").as_deref(), Some("true"));
}

#[test]
fn kerberos_power_scheme_and_web_ui() {
    let mut d = provisioned();
    let krb = format!("{AMT}AMT_KerberosSettingData");
    let r = d.admin(&put(
        "1",
        &krb,
        &[],
        "AMT_KerberosSettingData",
        "<h:KrbEnabled>true</h:KrbEnabled><h:RealmName>CORP.AMT-SIM.TEST</h:RealmName>",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.kerberos.enabled);
    let r = d.admin(&invoke(
        "2",
        &krb,
        "SetCredentialCacheState",
        &[],
        "<h:Enable>true</h:Enable>",
    ));
    assert_eq!(r.return_value(), 0);
    let r = d.admin(&invoke("3", &krb, "GetCredentialCacheState", &[], ""));
    assert_eq!(r.find_text("CurrentState").as_deref(), Some("true"));

    let schemes = d.enumerate_all(
        Session::Digest {
            user: "admin".into(),
        },
        &format!("{AMT}AMT_SystemPowerScheme"),
    );
    assert!(schemes.len() >= 5);
    let r = d.admin(&invoke(
        "4",
        &format!("{AMT}AMT_SystemPowerScheme"),
        "SetPowerScheme",
        &[("InstanceID", "Intel(r) AMT Power Scheme 5")],
        "",
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.power_scheme, "Intel(r) AMT Power Scheme 5");

    let r = d.admin(&invoke(
        "5",
        &format!("{AMT}AMT_WebUIService"),
        "RequestStateChange",
        &[],
        "<h:RequestedState>3</h:RequestedState>",
    ));
    assert_eq!(r.return_value(), 0);
    assert!(!d.state.web_ui_enabled);
    let general = format!("{AMT}AMT_GeneralSettings");
    let r = d.admin(&put(
        "6",
        &general,
        &[],
        "AMT_GeneralSettings",
        "<h:PingResponseEnabled>false</h:PingResponseEnabled>",
    ));
    assert_eq!(r.find_text("PingResponseEnabled").as_deref(), Some("false"));
}

#[test]
fn wifi_profiles_and_8021x() {
    let mut facts = DeviceFacts::sample();
    facts.wireless_capable = true;
    facts.wireless = Some(NetInterface {
        mac: [0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x02],
        ipv4: std::net::Ipv4Addr::new(192, 168, 2, 50),
        dhcp: true,
        link_up: true,
    });
    let mut d = provisioned_with(facts);
    let svc = format!("{AMT}AMT_WiFiPortConfigurationService");
    let settings = |name: &str, prio: u32| {
        format!(
            "<h:WiFiEndpoint>{}</h:WiFiEndpoint><h:WiFiEndpointSettingsInput xmlns:q=\"{CIM}CIM_WiFiEndpointSettings\"><q:ElementName>{name}</q:ElementName><q:InstanceID>Intel(r) AMT:WiFi Endpoint Settings {name}</q:InstanceID><q:AuthenticationMethod>6</q:AuthenticationMethod><q:EncryptionMethod>4</q:EncryptionMethod><q:SSID>corp-{name}</q:SSID><q:Priority>{prio}</q:Priority><q:PSKPassPhrase>secretpass</q:PSKPassPhrase></h:WiFiEndpointSettingsInput>",
            epr(
                &format!("{CIM}CIM_WiFiEndpoint"),
                &[("Name", "WiFi Endpoint 0")]
            )
        )
    };
    let r = d.admin(&invoke(
        "1",
        &svc,
        "AddWiFiSettings",
        &[],
        &settings("office", 1),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let r = d.admin(&invoke(
        "2",
        &svc,
        "AddWiFiSettings",
        &[],
        &settings("lab", 1),
    ));
    assert_eq!(r.return_value(), 2067, "priority taken");
    let r = d.admin(&invoke(
        "3",
        &svc,
        "AddWiFiSettings",
        &[],
        &settings("lab", 2),
    ));
    assert_eq!(r.return_value(), 0);
    let profiles = d.enumerate_all(
        Session::Digest {
            user: "admin".into(),
        },
        &format!("{CIM}CIM_WiFiEndpointSettings"),
    );
    assert_eq!(profiles.len(), 2);
    let r = d.admin(&delete(
        "4",
        &format!("{CIM}CIM_WiFiEndpointSettings"),
        &[("InstanceID", "Intel(r) AMT:WiFi Endpoint Settings lab")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.state.wifi_profiles.len(), 1);
    let r = d.admin(&invoke("5", &svc, "DeleteAllITProfiles", &[], ""));
    assert_eq!(r.return_value(), 0);
    assert!(d.state.wifi_profiles.is_empty());

    let ports = d.enumerate_all(
        Session::Digest {
            user: "admin".into(),
        },
        &format!("{AMT}AMT_EthernetPortSettings"),
    );
    assert_eq!(ports.len(), 2);
    assert_eq!(
        find(&ports[1], "MACAddress")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("00-1B-21-AA-BB-02")
    );

    let r = d.admin(&put(
        "6",
        &format!("{AMT}AMT_8021XProfile"),
        &[],
        "AMT_8021XProfile",
        "<h:Enabled>true</h:Enabled><h:AuthenticationProtocol>0</h:AuthenticationProtocol>",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.ieee8021x.enabled);

    // A device without Wi-Fi has no Wi-Fi service instance.
    let mut plain = provisioned();
    let r = plain.admin(&get("7", &svc, &[]));
    assert_eq!(r.status, 400);
}

#[test]
fn host_based_client_control_mode() {
    let mut d = Device::new();
    d.host_interface = true;
    let hbs = format!("{IPS}IPS_HostBasedSetupService");
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let r = d.send_xml(admin.clone(), &get("1", &hbs, &[]));
    assert_eq!(r.find_text("CurrentControlMode").as_deref(), Some("0"));
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    let r = d.send_xml(admin.clone(), &invoke("2", &hbs, "Setup", &[], &format!("<h:NetAdminPassEncryptionType>2</h:NetAdminPassEncryptionType><h:NetworkAdminPassword>{}</h:NetworkAdminPassword>", hex::encode(ha1))));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Post);
    assert_eq!(d.state.control_mode, ControlMode::Client);
    assert_eq!(d.state.digest_user("admin"), Some(ha1));
    let r = d.admin(&get(
        "3",
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        &[],
    ));
    assert_eq!(r.find_text("ProvisioningMode").as_deref(), Some("4"));
    let r = d.admin(&invoke("4", &hbs, "Setup", &[], "<h:NetAdminPassEncryptionType>2</h:NetAdminPassEncryptionType><h:NetworkAdminPassword>00</h:NetworkAdminPassword>"));
    assert_eq!(r.return_value(), 2, "invalid state");
}

#[test]
fn host_based_setup_over_the_network_is_refused() {
    // `admin` with the factory MEBx password over the network must not take the device over.
    let mut d = Device::new();
    assert!(!d.host_interface);
    let hbs = format!("{IPS}IPS_HostBasedSetupService");
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let r = d.send_xml(admin.clone(), &get("1", &hbs, &[]));
    assert_eq!(r.status, 200, "reading the service stays allowed");
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    let r = d.send_xml(admin.clone(), &invoke("2", &hbs, "Setup", &[], &format!("<h:NetAdminPassEncryptionType>2</h:NetAdminPassEncryptionType><h:NetworkAdminPassword>{}</h:NetworkAdminPassword>", hex::encode(ha1))));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!r.changed);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Pre);
    assert_eq!(d.state.control_mode, ControlMode::None);
    let chain = pem_blocks("prov-oid.chain.pem");
    let r = d.send_xml(admin, &invoke("3", &hbs, "AddNextCertInChain", &[], &format!(
        "<h:NextCertificate>{}</h:NextCertificate><h:IsLeafCertificate>true</h:IsLeafCertificate><h:IsRootCertificate>false</h:IsRootCertificate>",
        b64(&chain[0])
    )));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(d.state.host_based.chain.is_empty());
}

/// Send the chain (leaf first) and AdminSetup signed over nonce ‖ McNonce with the leaf key.
fn admin_setup_with(
    d: &mut Device,
    chain_file: &str,
    key_file: &str,
    tamper: bool,
) -> (Vec<u32>, u32) {
    d.host_interface = true;
    let hbs = format!("{IPS}IPS_HostBasedSetupService");
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let chain = pem_blocks(chain_file);
    let mut codes = Vec::new();
    for (i, cert) in chain.iter().enumerate() {
        let leaf = i == 0;
        let root = i + 1 == chain.len();
        let id = d.id();
        let r = d.send_xml(admin.clone(), &invoke(&id, &hbs, "AddNextCertInChain", &[], &format!(
            "<h:NextCertificate>{}</h:NextCertificate><h:IsLeafCertificate>{leaf}</h:IsLeafCertificate><h:IsRootCertificate>{root}</h:IsRootCertificate>",
            b64(cert)
        )));
        codes.push(r.return_value());
    }
    let id = d.id();
    let r = d.send_xml(admin.clone(), &get(&id, &hbs, &[]));
    let nonce = unb64(&r.find_text("ConfigurationNonce").expect("nonce"));
    let mc_nonce = [0x5au8; 20];
    let key = rcgen::KeyPair::from_pem(&read_cert_file(key_file)).expect("key");
    let mut message = nonce.clone();
    message.extend_from_slice(&mc_nonce);
    let mut signature = key.sign(&message).expect("sign");
    if tamper {
        signature[10] ^= 1;
    }
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    let id = d.id();
    let r = d.send_xml(admin, &invoke(&id, &hbs, "AdminSetup", &[], &format!(
        "<h:NetAdminPassEncryptionType>2</h:NetAdminPassEncryptionType><h:NetworkAdminPassword>{}</h:NetworkAdminPassword><h:McNonce>{}</h:McNonce><h:SigningAlgorithm>2</h:SigningAlgorithm><h:DigitalSignature>{}</h:DigitalSignature>",
        hex::encode(ha1), b64(&mc_nonce), b64(&signature)
    )));
    (codes, r.return_value())
}

#[test]
fn admin_setup_with_a_real_signature_reaches_admin_control_mode() {
    let mut d = Device::new();
    let (codes, result) = admin_setup_with(
        &mut d,
        "prov-oid.chain.pem",
        "prov-oid.TEST-ONLY.key.pem",
        false,
    );
    assert_eq!(codes, [0, 0, 0]);
    assert_eq!(result, 0);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Post);
    assert_eq!(d.state.control_mode, ControlMode::Admin);
}

#[test]
fn admin_setup_rejects_a_bad_signature_and_foreign_chains() {
    let mut d = Device::new();
    let (codes, result) = admin_setup_with(
        &mut d,
        "prov-oid.chain.pem",
        "prov-oid.TEST-ONLY.key.pem",
        true,
    );
    assert_eq!(codes, [0, 0, 0]);
    assert_eq!(result, 5, "auth failed");
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Pre);

    // Root not in the hash list.
    let mut d = Device::new();
    let (codes, _) = admin_setup_with(
        &mut d,
        "prov-root4096.chain.pem",
        "prov-root4096.TEST-ONLY.key.pem",
        false,
    );
    assert_eq!(codes.last(), Some(&4));
    // No provisioning OID or OU.
    let mut d = Device::new();
    let (codes, _) = admin_setup_with(
        &mut d,
        "prov-plain.chain.pem",
        "prov-plain.TEST-ONLY.key.pem",
        false,
    );
    assert_eq!(codes.last(), Some(&4));
    // SHA-1 root on ME 16+, even when its hash is listed.
    let mut facts = DeviceFacts::sample();
    facts.hashes.push(amt_sim::wsman::HashFact {
        name: "sha1 root".into(),
        thumbprint: amt_wire::thumbprint::Thumbprint::of_der(
            amt_wire::thumbprint::HashAlgorithm::Sha256,
            &cert_der("root-sha1.cert.pem"),
        ),
        default: false,
        active: true,
    });
    let mut d = Device::with_facts(facts.clone());
    let (codes, _) = admin_setup_with(
        &mut d,
        "prov-sha1-root.chain.pem",
        "prov-sha1-root.TEST-ONLY.key.pem",
        false,
    );
    assert_eq!(codes.last(), Some(&4));
    facts.quirks.refuse_sha1_hashes = false;
    let mut d = Device::with_facts(facts);
    let (codes, result) = admin_setup_with(
        &mut d,
        "prov-sha1-root.chain.pem",
        "prov-sha1-root.TEST-ONLY.key.pem",
        false,
    );
    assert_eq!(
        (codes.last(), result),
        (Some(&0), 0),
        "older firmware accepts it"
    );
}

#[test]
fn unprovision_returns_to_factory_and_partial_keeps_the_admin() {
    let mut d = provisioned();
    let svc = format!("{AMT}AMT_SetupAndConfigurationService");
    d.state.general.host_name = "kept-host".into();
    let r = d.admin(&invoke("1", &svc, "PartialUnprovision", &[], ""));
    assert_eq!(r.return_value(), 0);
    assert!(r.notes.contains(&Note::Unprovisioned { full: false }));
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Pre);
    assert_eq!(d.state.general.host_name, "kept-host");
    assert!(d.state.admin.is_some());

    let mut d = provisioned();
    let realm = d.state.digest_realm().to_owned();
    let r = d.admin(&invoke(
        "2",
        &svc,
        "Unprovision",
        &[],
        "<h:ProvisioningMode>9</h:ProvisioningMode>",
    ));
    assert_eq!(r.return_value(), 36);
    let r = d.admin(&invoke(
        "3",
        &svc,
        "Unprovision",
        &[],
        "<h:ProvisioningMode>1</h:ProvisioningMode>",
    ));
    assert_eq!(r.return_value(), 0);
    assert!(r.notes.contains(&Note::ProvisioningStateChanged {
        from: ProvisioningState::Post,
        to: ProvisioningState::Pre
    }));
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Pre);
    assert!(d.state.admin.is_none() && d.state.mebx_password_is_default());
    assert_eq!(d.state.digest_realm(), realm);
    // The audit log recorded it.
    let r = d.send_xml(
        Session::Setup,
        &get("4", &format!("{AMT}AMT_AuditLog"), &[]),
    );
    assert_eq!(r.status, 401, "audit log is not a setup class");
    assert_eq!(d.state.audit_log.len(), 1);
}

#[test]
fn mebx_password_only_while_default_and_strong() {
    let mut d = Device::new();
    let svc = format!("{AMT}AMT_SetupAndConfigurationService");
    let r = d.setup(&invoke(
        "1",
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>weak</h:Password>",
    ));
    assert_eq!(r.return_value(), 2054);
    let r = d.setup(&invoke(
        "2",
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss1</h:Password>",
    ));
    assert_eq!(r.return_value(), 0);
    let r = d.setup(&invoke(
        "3",
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss2</h:Password>",
    ));
    assert_eq!(r.return_value(), 16);
    assert!(d.state.mebx_password_matches("Mebx-P@ss1"));
}

#[test]
fn time_sync_moves_the_device_clock() {
    let mut d = Device::new();
    let time = format!("{AMT}AMT_TimeSynchronizationService");
    let r = d.setup(&invoke("1", &time, "GetLowAccuracyTimeSynch", &[], ""));
    let ta0: i64 = r.find_text("Ta0").expect("Ta0").parse().expect("n");
    let tm = ta0 + 100;
    let r = d.setup(&invoke(
        "2",
        &time,
        "SetHighAccuracyTimeSynch",
        &[],
        &format!("<h:Ta0>{ta0}</h:Ta0><h:Tm1>{tm}</h:Tm1><h:Tm2>{tm}</h:Tm2>"),
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.clock_offset_ms(), 100_000);
    let r = d.setup(&invoke("3", &time, "GetLowAccuracyTimeSynch", &[], ""));
    assert_eq!(r.find_text("Ta0"), Some((ta0 + 100).to_string()));
    let r = d.setup(&invoke(
        "4",
        &time,
        "SetHighAccuracyTimeSynch",
        &[],
        &format!(
            "<h:Ta0>{}</h:Ta0><h:Tm1>1</h:Tm1><h:Tm2>1</h:Tm2>",
            ta0 + 10_000
        ),
    ));
    assert_eq!(r.return_value(), 36, "Ta0 in the future");
    let r = d.setup(&invoke(
        "5",
        &time,
        "SetHighAccuracyTimeSynch",
        &[],
        "<h:Ta0>-9223372036854775808</h:Ta0><h:Tm1>9223372036854775807</h:Tm1><h:Tm2>9223372036854775807</h:Tm2>",
    ));
    assert_eq!(r.return_value(), 36, "not uint32 times");
    assert_eq!(d.state.clock_offset_ms(), 100_000);
}

#[test]
fn in_provisioning_exposes_the_otp() {
    let mut d = Device::new();
    d.state.set_otp(b"one-time".to_vec());
    let svc = format!("{AMT}AMT_SetupAndConfigurationService");
    let r = d.setup(&get("1", &svc, &[]));
    assert_eq!(r.find_text("ProvisioningServerOTP"), None, "not while Pre");
    let r = d.setup(&invoke(
        "2",
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss1</h:Password>",
    ));
    assert_eq!(r.return_value(), 0);
    let r = d.setup(&get("3", &svc, &[]));
    assert_eq!(r.find_text("ProvisioningServerOTP"), Some(b64(b"one-time")));
    assert_eq!(d.state.otp(), Some(&b"one-time"[..]));
}

#[test]
fn csr_for_a_generated_key_is_signed_by_it() {
    let mut d = provisioned();
    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let r = d.admin(&invoke(
        "1",
        &pkm,
        "GenerateKeyPair",
        &[],
        "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
    ));
    assert_eq!(r.return_value(), 0);
    let index = d.state.key_pairs[0].pool_index.expect("pool");
    // A null-signed request: any CSR works as the subject carrier; make one with another key.
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "amt-device-01.corp.amt-sim.test");
    let carrier = params
        .serialize_request(&amt_sim::keypool::key_pair(index + 1))
        .expect("csr");
    let key_epr = epr(
        &format!("{AMT}AMT_PublicPrivateKeyPair"),
        &[("InstanceID", "Intel(r) AMT Key: Handle: 0")],
    );
    let r = d.admin(&invoke("2", &pkm, "GeneratePKCS10RequestEx", &[], &format!(
        "<h:KeyPair>{key_epr}</h:KeyPair><h:SigningAlgorithm>1</h:SigningAlgorithm><h:NullSignedCertificateRequest>{}</h:NullSignedCertificateRequest>",
        b64(carrier.der())
    )));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let csr = unb64(&r.find_text("SignedCertificateRequest").expect("csr"));
    let parsed =
        rcgen::CertificateSigningRequestParams::from_der(&csr.clone().into()).expect("valid CSR");
    assert_eq!(
        parsed.public_key.der_bytes(),
        amt_sim::keypool::rsa_public_key_pkcs1_der(index)
    );
    let cn = parsed
        .params
        .distinguished_name
        .get(&rcgen::DnType::CommonName)
        .cloned();
    assert_eq!(
        cn,
        Some(rcgen::DnValue::Utf8String(
            "amt-device-01.corp.amt-sim.test".into()
        ))
    );
}

#[test]
fn cira_servers_and_policy_rules() {
    let mut d = provisioned();
    let ras = format!("{AMT}AMT_RemoteAccessService");
    let r = d.admin(&invoke("1", &ras, "AddMpServer", &[], "<h:AccessInfo>mps.corp.amt-sim.test</h:AccessInfo><h:InfoFormat>201</h:InfoFormat><h:Port>4433</h:Port><h:AuthMethod>2</h:AuthMethod><h:Username>cira</h:Username><h:Password>Cira-P@ss1</h:Password><h:CN>mps.corp.amt-sim.test</h:CN>"));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let mut selectors = Vec::new();
    find_all(r.body_element(), "Selector", &mut selectors);
    let name = selectors
        .iter()
        .find(|s| s.attribute(None, "Name") == Some("Name"))
        .map(|s| s.text().into_owned())
        .expect("Name selector");
    let server = epr(
        &format!("{AMT}AMT_ManagementPresenceRemoteSAP"),
        &[("Name", &name)],
    );
    let r = d.admin(&invoke("2", &ras, "AddRemoteAccessPolicyRule", &[], &format!("<h:Trigger>2</h:Trigger><h:TunnelLifeTime>0</h:TunnelLifeTime><h:ExtendedData>AAAAAAAAABk=</h:ExtendedData><h:MpServer>{server}</h:MpServer>")));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let applies = d.enumerate_all(
        admin.clone(),
        &format!("{AMT}AMT_RemoteAccessPolicyAppliesToMPS"),
    );
    assert_eq!(applies.len(), 1);
    // The server cannot go while a rule uses it; the rule can.
    let r = d.admin(&delete(
        "3",
        &format!("{AMT}AMT_ManagementPresenceRemoteSAP"),
        &[("Name", &name)],
    ));
    assert_eq!(r.fault_subcode().as_deref(), Some("AccessDenied"));
    let r = d.admin(&delete(
        "4",
        &format!("{AMT}AMT_RemoteAccessPolicyRule"),
        &[("PolicyRuleName", "Periodic")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.admin(&delete(
        "5",
        &format!("{AMT}AMT_ManagementPresenceRemoteSAP"),
        &[("Name", &name)],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.other.mps_servers.is_empty());
}

#[test]
fn alarm_clock_and_environment_detection() {
    let mut d = provisioned();
    let r = d.admin(&invoke(
        "1",
        &format!("{AMT}AMT_AlarmClockService"),
        "AddAlarm",
        &[],
        &format!("<h:AlarmTemplate><q:InstanceID xmlns:q=\"{IPS}IPS_AlarmClockOccurrence\">nightly</q:InstanceID><q:StartTime xmlns:q=\"{IPS}IPS_AlarmClockOccurrence\"><d:Datetime xmlns:d=\"http://schemas.dmtf.org/wbem/wscim/1/common\">2026-01-02T03:00:00Z</d:Datetime></q:StartTime><q:DeleteOnCompletion xmlns:q=\"{IPS}IPS_AlarmClockOccurrence\">true</q:DeleteOnCompletion></h:AlarmTemplate>"),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let alarms = d.enumerate_all(
        Session::Digest {
            user: "admin".into(),
        },
        &format!("{IPS}IPS_AlarmClockOccurrence"),
    );
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        find(&alarms[0], "Datetime")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("2026-01-02T03:00:00Z")
    );
    let r = d.admin(&delete(
        "2",
        &format!("{IPS}IPS_AlarmClockOccurrence"),
        &[("InstanceID", "nightly")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.other.alarms.is_empty());

    let env = format!("{AMT}AMT_EnvironmentDetectionSettingData");
    let r = d.admin(&put("3", &env, &[], "AMT_EnvironmentDetectionSettingData", "<h:DetectionStrings>corp.amt-sim.test</h:DetectionStrings><h:DetectionStrings>lab.amt-sim.test</h:DetectionStrings>"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        d.state.other.detection_strings,
        ["corp.amt-sim.test", "lab.amt-sim.test"]
    );
}

#[test]
fn unprovision_over_the_setup_session_returns_to_pre() {
    let mut d = Device::new();
    let svc = format!("{AMT}AMT_SetupAndConfigurationService");
    let r = d.setup(&invoke(
        "1",
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss1</h:Password>",
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::In);
    let r = d.setup(&invoke(
        "2",
        &svc,
        "Unprovision",
        &[],
        "<h:ProvisioningMode>1</h:ProvisioningMode>",
    ));
    assert_eq!(r.return_value(), 0);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Pre);
    assert!(d.state.mebx_password_is_default());
    assert!(r.notes.contains(&Note::ProvisioningStateChanged {
        from: ProvisioningState::In,
        to: ProvisioningState::Pre
    }));
}
