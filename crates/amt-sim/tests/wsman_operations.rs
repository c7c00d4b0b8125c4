//! Every WS-Management operation kind and every fault kind the engine answers, with insta
//! snapshots of representative response bodies.

mod wsman_support;

use amt_sim::state::{AdminAcl, ProvisioningState, UserAcl};
use amt_sim::wsman::{DeviceFacts, Session, identify_response};
use amt_wire::wsman::{Envelope, Limits};
use wsman_support::*;

const ADMIN_PASSWORD: &str = "Adm1n-P@ss";

/// A device already provisioned, admin password set.
fn provisioned() -> Device {
    let mut d = Device::new();
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    d.state.admin = Some(AdminAcl {
        username: "admin".into(),
        ha1,
    });
    d.state.provisioning_state = ProvisioningState::Post;
    d
}

fn general() -> String {
    format!("{AMT}AMT_GeneralSettings")
}

#[test]
fn get_general_settings_has_alphabetical_properties() {
    let mut d = Device::new();
    let r = d.setup(&get("1", &general(), &[]));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse"
    );
    let names: Vec<String> = r
        .body_element()
        .elements()
        .map(|e| e.name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"DigestRealm".to_owned()));
    let header = &r.envelope.as_ref().expect("envelope").header;
    assert_eq!(header.relates_to.as_deref(), Some("1"));
    assert_eq!(
        header.message_id.as_deref(),
        Some("uuid:00000000-8086-8086-8086-000000000001")
    );
    insta::assert_snapshot!("get_general_settings", r.body);
}

#[test]
fn get_with_selectors_and_selector_faults() {
    let mut d = Device::new();
    let r = d.setup(&get(
        "1",
        &general(),
        &[("InstanceID", "Intel(r) AMT: General Settings")],
    ));
    assert_eq!(r.status, 200);
    let r = d.setup(&get("2", &general(), &[("InstanceID", "nope")]));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("InvalidSelectors"));
    let r = d.setup(&get("3", &general(), &[("Bogus", "x")]));
    assert_eq!(r.fault_subcode().as_deref(), Some("InvalidSelectors"));
    let fault = r
        .envelope
        .as_ref()
        .and_then(|e| e.fault().ok().flatten())
        .expect("fault");
    assert!(
        fault
            .detail
            .unwrap_or_default()
            .ends_with("UnexpectedSelectors")
    );
    // Several instances and no selector.
    let r = d.setup(&get("4", &format!("{AMT}AMT_TLSSettingData"), &[]));
    assert_eq!(r.fault_subcode().as_deref(), Some("InvalidSelectors"));
    insta::assert_snapshot!("fault_insufficient_selectors", r.body);
}

#[test]
fn get_without_selectors_on_a_single_instance_class() {
    let mut d = provisioned();
    let r = d.admin(&get(
        "1",
        &format!("{CIM}CIM_AssociatedPowerManagementService"),
        &[],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.find_text("PowerState").as_deref(), Some("2"));
}

#[test]
fn unknown_class_and_unknown_method_fault() {
    let mut d = provisioned();
    let r = d.admin(&get("1", &format!("{AMT}AMT_NoSuchClass"), &[]));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("DestinationUnreachable"));
    insta::assert_snapshot!("fault_destination_unreachable", r.body);
    let r = d.admin(&invoke(
        "2",
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        "NoSuchMethod",
        &[],
        "",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("ActionNotSupported"));
    // Put on a class without Put.
    let r = d.admin(&put(
        "3",
        &format!("{CIM}CIM_Chassis"),
        &[],
        "CIM_Chassis",
        "<h:Tag>x</h:Tag>",
    ));
    assert_eq!(r.fault_subcode().as_deref(), Some("ActionNotSupported"));
}

#[test]
fn put_changes_only_the_given_properties_and_validates() {
    let mut d = Device::new();
    let before = d.state.general.clone();
    let r = d.setup(&put(
        "1",
        &general(),
        &[("InstanceID", "Intel(r) AMT: General Settings")],
        "AMT_GeneralSettings",
        "<h:HostName>pc-42</h:HostName>",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/PutResponse"
    );
    assert_eq!(r.find_text("HostName").as_deref(), Some("pc-42"));
    assert_eq!(d.state.general.host_name, "pc-42");
    assert_eq!(d.state.general.domain_name, before.domain_name);
    assert_eq!(
        d.state.general.ping_response_enabled,
        before.ping_response_enabled
    );
    assert!(r.changed);

    let r = d.setup(&put(
        "2",
        &general(),
        &[],
        "AMT_GeneralSettings",
        "<h:PingResponseEnabled>maybe</h:PingResponseEnabled>",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("SchemaValidationError"));
    let r = d.setup(&put(
        "3",
        &general(),
        &[],
        "AMT_Other",
        "<h:HostName>x</h:HostName>",
    ));
    assert_eq!(r.fault_subcode().as_deref(), Some("SchemaValidationError"));
    let r = d.setup(&put(
        "4",
        &general(),
        &[],
        "AMT_GeneralSettings",
        "<h:HostName>bad_name!</h:HostName>",
    ));
    assert_eq!(r.fault_subcode().as_deref(), Some("InvalidRepresentation"));
    assert_eq!(d.state.general.host_name, "pc-42");
}

#[test]
fn create_twice_is_already_exists_and_delete_removes() {
    let mut d = provisioned();
    let root = cert_der("device-web-01.cert.pem");
    // A certificate without its key is refused; a root is fine.
    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let r = d.admin(&invoke(
        "1",
        &pkm,
        "AddCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&root)),
    ));
    assert_eq!(r.return_value(), 2064);
    let key = pem_blocks("device-web-01.TEST-ONLY.key.pem").remove(0);
    let r = d.admin(&invoke(
        "2",
        &pkm,
        "AddKey",
        &[],
        &format!("<h:KeyBlob>{}</h:KeyBlob>", b64(&key)),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(
        r.find_text("Selector").as_deref(),
        Some("Intel(r) AMT Key: Handle: 0")
    );
    let r = d.admin(&invoke(
        "3",
        &pkm,
        "AddCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&root)),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let r = d.admin(&invoke(
        "4",
        &pkm,
        "AddCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&root)),
    ));
    assert_eq!(r.return_value(), 2058, "duplicate");

    let uri = format!("{AMT}AMT_TLSCredentialContext");
    let body = format!(
        "<h:ElementInContext>{}</h:ElementInContext><h:ElementProvidingContext>{}</h:ElementProvidingContext>",
        epr(
            &format!("{AMT}AMT_PublicKeyCertificate"),
            &[("InstanceID", "Intel(r) AMT Certificate: Handle: 0")]
        ),
        epr(
            &format!("{AMT}AMT_TLSProtocolEndpointCollection"),
            &[("ElementName", "TLSProtocolEndpointInstances Collection")]
        ),
    );
    let r = d.admin(&create("5", &uri, "AMT_TLSCredentialContext", &body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse"
    );
    let r = d.admin(&create("6", &uri, "AMT_TLSCredentialContext", &body));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("AlreadyExists"));
    insta::assert_snapshot!("fault_already_exists", r.body);

    // Delete by the association's EPR selector.
    let cert_epr = format!(
        "<a:EndpointReference>{}</a:EndpointReference>",
        epr(
            &format!("{AMT}AMT_PublicKeyCertificate"),
            &[("InstanceID", "Intel(r) AMT Certificate: Handle: 0")]
        )
    );
    let r = d.admin(&delete("7", &uri, &[("ElementInContext", &cert_epr)]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse"
    );
    assert_eq!(d.state.tls_credential_cert, None);
    // Now the key and the certificate can go too.
    let r = d.admin(&delete(
        "8",
        &format!("{AMT}AMT_PublicKeyCertificate"),
        &[("InstanceID", "Intel(r) AMT Certificate: Handle: 0")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.admin(&delete(
        "9",
        &format!("{AMT}AMT_PublicPrivateKeyPair"),
        &[("InstanceID", "Intel(r) AMT Key: Handle: 0")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.key_pairs.is_empty() && d.state.certificates.is_empty());
}

#[test]
fn enumerate_and_pull_in_pages_the_last_without_context() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let r = d.setup(&enumerate("1", &uri, ""));
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse"
    );
    insta::assert_snapshot!("enumerate_response", r.body);
    let context = r.find_text("EnumerationContext").expect("context");
    assert_eq!(context, "01000000-0000-0000-0000-000000000000");
    let mut pages = Vec::new();
    loop {
        let id = d.id();
        let r = d.setup(&pull(&id, &uri, &context, 4, None));
        assert_eq!(r.status, 200, "{}", r.body);
        let items = r
            .body_element()
            .child_by_local_name("Items")
            .map(|i| i.elements().count())
            .unwrap_or(0);
        let more = r
            .body_element()
            .child_by_local_name("EnumerationContext")
            .is_some();
        let end = r
            .body_element()
            .child_by_local_name("EndOfSequence")
            .is_some();
        assert_ne!(more, end);
        pages.push(items);
        if end {
            insta::assert_snapshot!("pull_response_last_page", r.body);
            break;
        }
    }
    assert_eq!(pages, [4, 4, 3]);
    // The context is gone after the last page.
    let r = d.setup(&pull("99", &uri, &context, 4, None));
    assert_eq!(r.status, 500);
    assert_eq!(
        r.fault_subcode().as_deref(),
        Some("InvalidEnumerationContext")
    );
}

#[test]
fn pull_respects_max_characters() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let r = d.setup(&enumerate("1", &uri, ""));
    let context = r.find_text("EnumerationContext").expect("context");
    let r = d.setup(&pull("2", &uri, &context, 999, Some(300)));
    let items = r
        .body_element()
        .child_by_local_name("Items")
        .map(|i| i.elements().count())
        .unwrap_or(0);
    assert!((1..11).contains(&items), "{items} items");
    assert!(
        r.body_element()
            .child_by_local_name("EnumerationContext")
            .is_some()
    );
}

#[test]
fn optimized_enumeration_returns_items_inline() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>3</w:MaxElements>";
    let r = d.setup(&enumerate("1", &uri, extra));
    let body = r.body_element();
    assert_eq!(
        body.child_by_local_name("Items")
            .map(|i| i.elements().count()),
        Some(3)
    );
    assert!(body.child_by_local_name("EndOfSequence").is_none());
    let context = r.find_text("EnumerationContext").expect("context");
    let r = d.setup(&pull("2", &uri, &context, 999, None));
    let items = r
        .body_element()
        .child_by_local_name("Items")
        .map(|i| i.elements().count());
    assert_eq!(items, Some(8));
    // Everything fits: EndOfSequence in the EnumerateResponse.
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>100</w:MaxElements>";
    let r = d.setup(&enumerate("3", &uri, extra));
    assert!(
        r.body_element()
            .child_by_local_name("EndOfSequence")
            .is_some()
    );
}

#[test]
fn epr_enumeration_returns_endpoint_references() {
    let mut d = Device::new();
    let uri = format!("{AMT}AMT_TLSSettingData");
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>10</w:MaxElements><w:EnumerationMode>EnumerateEPR</w:EnumerationMode>";
    let r = d.setup(&enumerate("1", &uri, extra));
    let items = r
        .body_element()
        .child_by_local_name("Items")
        .expect("Items");
    let eprs: Vec<_> = items.elements().collect();
    assert_eq!(eprs.len(), 2);
    assert!(eprs.iter().all(|e| e.name == "EndpointReference"));
    let mut selectors = Vec::new();
    find_all(eprs[0], "Selector", &mut selectors);
    assert_eq!(selectors[0].text(), "Intel(r) AMT 802.3 TLS Settings");
    // Object and EPR.
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>10</w:MaxElements><w:EnumerationMode>EnumerateObjectAndEPR</w:EnumerationMode>";
    let r = d.setup(&enumerate("2", &uri, extra));
    let items = r
        .body_element()
        .child_by_local_name("Items")
        .expect("Items");
    let first = items.first_element().expect("item");
    assert_eq!(first.name, "Item");
    assert!(first.child_by_local_name("AMT_TLSSettingData").is_some());
    assert!(first.child_by_local_name("EndpointReference").is_some());
}

#[test]
fn release_ends_an_enumeration() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let r = d.setup(&enumerate("1", &uri, ""));
    let context = r.find_text("EnumerationContext").expect("context");
    let r = d.setup(&release("2", &uri, &context));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.action(),
        "http://schemas.xmlsoap.org/ws/2004/09/enumeration/ReleaseResponse"
    );
    let r = d.setup(&pull("3", &uri, &context, 1, None));
    assert_eq!(
        r.fault_subcode().as_deref(),
        Some("InvalidEnumerationContext")
    );
    let r = d.setup(&release("4", &uri, "nonsense"));
    assert_eq!(
        r.fault_subcode().as_deref(),
        Some("InvalidEnumerationContext")
    );
}

#[test]
fn enumeration_contexts_are_bounded() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let r = d.setup(&enumerate("1", &uri, ""));
    let first = r.find_text("EnumerationContext").expect("context");
    for i in 0..64 {
        let r = d.setup(&enumerate(&format!("x{i}"), &uri, ""));
        assert_eq!(r.status, 200);
    }
    let r = d.setup(&pull("2", &uri, &first, 1, None));
    assert_eq!(
        r.fault_subcode().as_deref(),
        Some("InvalidEnumerationContext")
    );
}

#[test]
fn enumeration_contexts_expire() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let r = d.setup(&enumerate("1", &uri, ""));
    let context = r.find_text("EnumerationContext").expect("context");
    d.now = Timestamp::from_unix_secs(NOW.unix_secs() + 3600);
    let r = d.setup(&pull("2", &uri, &context, 1, None));
    assert_eq!(
        r.fault_subcode().as_deref(),
        Some("InvalidEnumerationContext")
    );
}

use amt_wire::time::Timestamp;

#[test]
fn identify_response_names_the_product() {
    let facts = DeviceFacts::sample();
    let body = String::from_utf8(identify_response(&facts, false)).expect("utf-8");
    assert!(!body.contains("/>"));
    let envelope = Envelope::parse(body.as_bytes(), &Limits::for_responses()).expect("parses");
    assert_eq!(
        envelope.header.action,
        "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd/IdentifyResponse"
    );
    let response = envelope.body.expect("body");
    assert_eq!(response.name, "IdentifyResponse");
    assert_eq!(
        find(&response, "ProductVersion")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("AMT 16.1")
    );
    assert_eq!(
        find(&response, "ProductVendor")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("Intel(r)")
    );
    insta::assert_snapshot!("identify_response", body);

    // Through the engine, whatever the session (Identify needs an Action to parse here).
    let mut d = Device::new();
    let xml = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:i=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\"><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd/Identify</a:Action></s:Header><s:Body><i:Identify></i:Identify></s:Body></s:Envelope>";
    let r = d.send_xml(Session::Anonymous, xml);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
}

#[test]
fn injected_return_value_changes_nothing() {
    let mut d = Device::new();
    d.override_return = Some(1);
    let before = d.state.clone();
    let r = d.setup(&invoke(
        "1",
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss1</h:Password>",
    ));
    assert_eq!(r.return_value(), 1);
    assert!(!r.changed);
    assert_eq!(d.state, before);
    // An unknown method is still a fault.
    let r = d.setup(&invoke(
        "2",
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        "Nope",
        &[],
        "",
    ));
    assert_eq!(r.fault_subcode().as_deref(), Some("ActionNotSupported"));
}

#[test]
fn header_policy_faults() {
    let mut d = Device::new();
    let xml = get("1", &general(), &[]).replace(
        "<w:OperationTimeout>",
        "<w:OptionSet s:mustUnderstand=\"true\" xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><w:Option Name=\"x\">1</w:Option></w:OptionSet><w:OperationTimeout>",
    );
    let r = d.setup(&xml);
    assert_eq!(r.status, 500);
    let fault = r
        .envelope
        .as_ref()
        .and_then(|e| e.fault().ok().flatten())
        .expect("fault");
    assert_eq!(fault.code, amt_wire::wsman::FaultCode::MustUnderstand);
    let xml = get("2", &general(), &[]).replace(
        "<w:OperationTimeout>",
        "<w:MaxEnvelopeSize>1000</w:MaxEnvelopeSize><w:OperationTimeout>",
    );
    let r = d.setup(&xml);
    assert_eq!(r.fault_subcode().as_deref(), Some("EncodingLimit"));
}

#[test]
fn access_control_by_session_and_realm() {
    // Anonymous: 401, empty body.
    let mut d = provisioned();
    let r = d.send_xml(Session::Anonymous, &get("1", &general(), &[]));
    assert_eq!((r.status, r.body.is_empty()), (401, true));

    // A user with only the remote-control realm can power but not read the TLS settings.
    d.state.users.push(UserAcl {
        handle: 1,
        username: "operator".into(),
        ha1: Some([1; 16]),
        kerberos_sid: None,
        realms: vec![5],
        access_permission: 2,
        enabled: true,
    });
    let op = Session::Digest {
        user: "operator".into(),
    };
    let r = d.send_xml(
        op.clone(),
        &get(
            "2",
            &format!("{CIM}CIM_AssociatedPowerManagementService"),
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.send_xml(op, &enumerate("3", &format!("{AMT}AMT_TLSSettingData"), ""));
    assert_eq!(r.status, 401);

    // Before provisioning, digest may only read setup classes.
    let mut fresh = Device::new();
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let r = fresh.send_xml(admin.clone(), &get("4", &general(), &[]));
    assert_eq!(r.status, 200);
    let r = fresh.send_xml(
        admin,
        &invoke(
            "5",
            &format!("{AMT}AMT_SetupAndConfigurationService"),
            "CommitChanges",
            &[],
            "",
        ),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn fqdn_longer_than_the_limit_breaks_wsman_until_fixed() {
    let mut d = provisioned();
    let long_domain = "a-rather-long-department.corp.amt-sim.test";
    let r = d.admin(&put(
        "1",
        &general(),
        &[],
        "AMT_GeneralSettings",
        &format!(
            "<h:HostName>amt-device-01</h:HostName><h:DomainName>{long_domain}</h:DomainName>"
        ),
    ));
    assert_eq!(r.status, 200, "the Put itself is accepted");
    let r = d.admin(&get("2", &general(), &[]));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("EncodingLimit"));
    // Fixing the name restores service.
    let r = d.admin(&put(
        "3",
        &general(),
        &[],
        "AMT_GeneralSettings",
        "<h:DomainName>corp.amt-sim.test</h:DomainName>",
    ));
    assert_eq!(r.status, 200);
    let r = d.admin(&get("4", &general(), &[]));
    assert_eq!(r.status, 200);
    // No limit, no failure.
    let mut facts = DeviceFacts::sample();
    facts.quirks.fqdn_limit = None;
    let mut d = Device::with_facts(facts);
    d.state = provisioned().state;
    let r = d.admin(&put(
        "5",
        &general(),
        &[],
        "AMT_GeneralSettings",
        &format!("<h:DomainName>{long_domain}</h:DomainName>"),
    ));
    assert_eq!(r.status, 200);
    let r = d.admin(&get("6", &general(), &[]));
    assert_eq!(r.status, 200);
}

#[test]
fn responses_relate_to_their_requests_with_increasing_message_ids() {
    let mut d = Device::new();
    let a = d.setup(&get("abc", &general(), &[]));
    let b = d.setup(&get("def", &general(), &[]));
    let ha = &a.envelope.as_ref().expect("a").header;
    let hb = &b.envelope.as_ref().expect("b").header;
    assert_eq!(ha.relates_to.as_deref(), Some("abc"));
    assert_eq!(hb.relates_to.as_deref(), Some("def"));
    assert!(ha.message_id < hb.message_id);
    assert_eq!(ha.resource_uri.as_deref(), Some(general().as_str()));
}

/// A request file from amt-wire's test data (captured shapes of real clients).
fn wire_request(name: &str) -> String {
    let path = format!(
        "{}/../amt-wire/testdata/wsman/requests/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn real_client_request_shapes_are_answered() {
    let mut d = provisioned();
    let r = d.admin(&wire_request("gwm_get_general_settings.xml"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.find_text("DigestRealm").is_some());

    let r = d.admin(&wire_request("meshcentral_put_tls_settings.xml"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(d.state.tls_pending.remote.enabled);

    d.state.power_state = 8;
    let r = d.admin(&wire_request("amtctrl_power_change.xml"));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(d.state.power_state, 2);

    // TLS pending without a credential context: the commit is refused with a PT_STATUS.
    let r = d.admin(&wire_request("gwm_commit_changes.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(r.return_value(), 2057);
}

#[test]
fn sha1_certificates_are_refused_on_me16() {
    let sha1_root = cert_der("root-sha1.cert.pem");
    let body = format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&sha1_root));
    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let mut d = provisioned();
    let r = d.admin(&invoke("1", &pkm, "AddTrustedRootCertificate", &[], &body));
    assert_eq!(r.return_value(), 2063);
    let mut facts = DeviceFacts::sample();
    facts.quirks.refuse_sha1_hashes = false;
    let mut d = Device::with_facts(facts);
    d.state = provisioned().state;
    let r = d.admin(&invoke("2", &pkm, "AddTrustedRootCertificate", &[], &body));
    assert_eq!(r.return_value(), 0);
    let r = d.admin(&invoke(
        "3",
        &pkm,
        "AddTrustedRootCertificate",
        &[],
        "<h:CertificateBlob>bm90IGEgY2VydA==</h:CertificateBlob>",
    ));
    assert_eq!(r.return_value(), 2063, "not a certificate");
}

#[test]
fn wrong_to_is_destination_unreachable() {
    let mut d = Device::new();
    let xml = get("1", &general(), &[]).replace("<a:To>/wsman</a:To>", "<a:To>/elsewhere</a:To>");
    let r = d.setup(&xml);
    assert_eq!(r.fault_subcode().as_deref(), Some("DestinationUnreachable"));
}
