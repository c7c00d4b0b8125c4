//! MeshCentral's TLS-PKI ACM activation sequence (real-clients.md §1) against the engine over the
//! setup session, then the management reconnect over digest, and persistence of the result.

mod wsman_support;

use amt_sim::state::{ControlMode, NvramState, ProvisioningState};
use amt_sim::wsman::{Note, Session};
use wsman_support::*;

const NEW_ADMIN_PASSWORD: &str = "N3w-Admin!pw";

/// A certificate for the device's generated key, signed by the enterprise CA (what MeshCentral
/// does with the key pair's public key).
fn device_certificate(pool_index: usize) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::from_pem(&read_cert_file("enterprise-ca.TEST-ONLY.key.pem"))
        .expect("CA key");
    let ca = rcgen::Issuer::from_ca_cert_pem(&read_cert_file("enterprise-ca.cert.pem"), ca_key)
        .expect("CA");
    let mut params = rcgen::CertificateParams::new(vec!["amt-device-01.corp.amt-sim.test".into()])
        .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "IntelAMT-001b21aabb01");
    let key = amt_sim::keypool::key_pair(pool_index);
    params.signed_by(&key, &ca).expect("signed").der().to_vec()
}

/// Runs the whole activation and returns the device.
fn activate() -> Device {
    let mut d = Device::new();

    // BatchEnum: general settings, software identity, setup service.
    let id = d.id();
    let r = d.setup(&get(&id, &format!("{AMT}AMT_GeneralSettings"), &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    let realm = r.find_text("DigestRealm").expect("DigestRealm");
    assert_eq!(realm, d.state.digest_realm());
    assert!(realm.starts_with("Digest:") && realm.len() == 39);

    let items = d.enumerate_all(Session::Setup, &format!("{CIM}CIM_SoftwareIdentity"));
    let amt = items
        .iter()
        .find(|i| find(i, "InstanceID").is_some_and(|e| e.text() == "AMT"))
        .expect("InstanceID AMT");
    // As firmware reports it: major.minor.hotfix under `AMT`, the build on its own entry
    // (clients join the two; the build used to be in both).
    let version_of = |id: &str| {
        items
            .iter()
            .find(|i| find(i, "InstanceID").is_some_and(|e| e.text() == id))
            .and_then(|i| find(i, "VersionString"))
            .map(|e| e.text().into_owned())
    };
    assert_eq!(
        find(amt, "VersionString")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("16.1.25")
    );
    assert_eq!(version_of("Build Number").as_deref(), Some("2124"));
    assert_eq!(
        version_of("AMT FW Core Version").as_deref(),
        Some("16.1.25")
    );

    let id = d.id();
    let r = d.setup(&get(
        &id,
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        &[],
    ));
    assert_eq!(r.find_text("ProvisioningState").as_deref(), Some("0"));

    // MEBx password, then the admin password as MeshCentral sends it (hex HA1).
    let svc = format!("{AMT}AMT_SetupAndConfigurationService");
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &svc,
        "SetMEBxPassword",
        &[],
        "<h:Password>Mebx-P@ss1</h:Password>",
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert!(r.notes.contains(&Note::MebxPasswordChanged));
    assert_eq!(d.state.provisioning_state(), ProvisioningState::In);

    let ha1 = amt_wire::digest::ha1("admin", &realm, NEW_ADMIN_PASSWORD);
    let auth = format!("{AMT}AMT_AuthorizationService");
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &auth,
        "SetAdminAclEntryEx",
        &[],
        &format!(
            "<h:Username>admin</h:Username><h:DigestPassword>{}</h:DigestPassword>",
            hex::encode(ha1)
        ),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(r.action(), format!("{auth}/SetAdminAclEntryExResponse"));
    assert_eq!(d.state.digest_user("admin"), Some(ha1));

    // Time.
    let time = format!("{AMT}AMT_TimeSynchronizationService");
    let id = d.id();
    let r = d.setup(&invoke(&id, &time, "GetLowAccuracyTimeSynch", &[], ""));
    assert_eq!(r.find_text("Ta0"), Some(NOW.unix_secs().to_string()));

    // Certificates, keys, TLS settings, credential contexts.
    assert!(
        d.enumerate_all(Session::Setup, &format!("{AMT}AMT_PublicKeyCertificate"))
            .is_empty()
    );
    assert!(
        d.enumerate_all(Session::Setup, &format!("{AMT}AMT_PublicPrivateKeyPair"))
            .is_empty()
    );
    let tls = d.enumerate_all(Session::Setup, &format!("{AMT}AMT_TLSSettingData"));
    let ids: Vec<String> = tls
        .iter()
        .filter_map(|i| find(i, "InstanceID").map(|e| e.text().into_owned()))
        .collect();
    assert_eq!(
        ids,
        [
            "Intel(r) AMT 802.3 TLS Settings",
            "Intel(r) AMT LMS TLS Settings"
        ]
    );
    assert!(
        d.enumerate_all(Session::Setup, &format!("{AMT}AMT_TLSCredentialContext"))
            .is_empty()
    );

    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &pkm,
        "GenerateKeyPair",
        &[],
        "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let key_id = r.find_text("Selector").expect("KeyPair selector");
    assert_eq!(key_id, "Intel(r) AMT Key: Handle: 0");
    let pool_index = d.state.key_pairs[0].pool_index.expect("pool key");

    let keys = d.enumerate_all(Session::Setup, &format!("{AMT}AMT_PublicPrivateKeyPair"));
    let der_key = find(&keys[0], "DERKey")
        .expect("DERKey")
        .text()
        .into_owned();
    assert_eq!(
        unb64(&der_key),
        amt_sim::keypool::rsa_public_key_pkcs1_der(pool_index)
    );

    let cert = device_certificate(pool_index);
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &pkm,
        "AddCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&cert)),
    ));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    let cert_id = r
        .find_text("Selector")
        .expect("CreatedCertificate selector");
    assert_eq!(cert_id, "Intel(r) AMT Certificate: Handle: 0");

    let ctx_uri = format!("{AMT}AMT_TLSCredentialContext");
    let body = format!(
        "<h:ElementInContext>{}</h:ElementInContext><h:ElementProvidingContext>{}</h:ElementProvidingContext>",
        epr(
            &format!("{AMT}AMT_PublicKeyCertificate"),
            &[("InstanceID", &cert_id)]
        ),
        epr(
            &format!("{AMT}AMT_TLSProtocolEndpointCollection"),
            &[("ElementName", "TLSProtocolEndpointInstances Collection")]
        ),
    );
    let id = d.id();
    let r = d.setup(&create(&id, &ctx_uri, "AMT_TLSCredentialContext", &body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body_element().name == "ResourceCreated");

    let tls_uri = format!("{AMT}AMT_TLSSettingData");
    let id = d.id();
    let r = d.setup(&put(
        &id,
        &tls_uri,
        &[("InstanceID", "Intel(r) AMT 802.3 TLS Settings")],
        "AMT_TLSSettingData",
        "<h:ElementName>Intel(r) AMT 802.3 TLS Settings</h:ElementName><h:InstanceID>Intel(r) AMT 802.3 TLS Settings</h:InstanceID><h:MutualAuthentication>false</h:MutualAuthentication><h:Enabled>true</h:Enabled><h:AcceptNonSecureConnections>true</h:AcceptNonSecureConnections>",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.find_text("Enabled").as_deref(), Some("true"));
    assert!(
        !d.state.committed_tls().tls_enabled,
        "TLS is pending until CommitChanges"
    );

    let id = d.id();
    let r = d.setup(&invoke(&id, &svc, "CommitChanges", &[], ""));
    assert_eq!(r.return_value(), 0, "{}", r.body);
    assert_eq!(r.action(), format!("{svc}/CommitChangesResponse"));
    assert!(r.notes.contains(&Note::Committed));
    assert!(r.notes.contains(&Note::ProvisioningStateChanged {
        from: ProvisioningState::In,
        to: ProvisioningState::Post
    }));
    d
}

#[test]
fn meshcentral_activation_reaches_post_provisioning_with_tls() {
    let d = activate();
    assert_eq!(d.state.provisioning_state(), ProvisioningState::Post);
    assert_eq!(d.state.control_mode, ControlMode::Admin);
    let tls = d.state.committed_tls();
    assert!(tls.tls_enabled && tls.accept_non_secure && !tls.mutual_auth);
    assert_eq!(tls.key_pool_index, d.state.key_pairs[0].pool_index);
    assert_eq!(
        tls.cert_der.as_deref(),
        Some(&d.state.certificates[0].der[..])
    );
}

#[test]
fn management_reconnect_reads_settings_and_deletes_unknown_certificates() {
    let mut d = activate();
    // The setup session is over.
    let id = d.id();
    let r = d.setup(&get(&id, &format!("{AMT}AMT_GeneralSettings"), &[]));
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty());

    // Over digest as admin: the credential context's ElementInContext is an EPR.
    let items = d.enumerate_all(
        Session::Digest {
            user: "admin".into(),
        },
        &format!("{AMT}AMT_TLSCredentialContext"),
    );
    assert_eq!(items.len(), 1);
    let element = find(&items[0], "ElementInContext").expect("ElementInContext");
    let selector = find(
        find(
            find(element, "ReferenceParameters").expect("ReferenceParameters"),
            "SelectorSet",
        )
        .expect("SelectorSet"),
        "Selector",
    )
    .expect("Selector");
    assert_eq!(selector.text(), "Intel(r) AMT Certificate: Handle: 0");

    for class in [
        "AMT_RedirectionService",
        "IPS_OptInService",
        "CIM_KVMRedirectionSAP",
        "IPS_KVMRedirectionSettingData",
    ] {
        let uri = if class.starts_with("IPS") {
            IPS
        } else if class.starts_with("CIM") {
            CIM
        } else {
            AMT
        };
        let id = d.id();
        let r = d.admin(&get(&id, &format!("{uri}{class}"), &[]));
        assert_eq!(r.status, 200, "{class}: {}", r.body);
    }

    // An unknown (added root) certificate is deleted; the one in use is refused.
    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let root = cert_der("root-rsa2048.cert.pem");
    let id = d.id();
    let r = d.admin(&invoke(
        &id,
        &pkm,
        "AddTrustedRootCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&root)),
    ));
    assert_eq!(r.return_value(), 0);
    let cert_uri = format!("{AMT}AMT_PublicKeyCertificate");
    let id = d.id();
    let r = d.admin(&delete(
        &id,
        &cert_uri,
        &[("InstanceID", "Intel(r) AMT Certificate: Handle: 1")],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.state.certificates.len(), 1);
    let id = d.id();
    let r = d.admin(&delete(
        &id,
        &cert_uri,
        &[("InstanceID", "Intel(r) AMT Certificate: Handle: 0")],
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("AccessDenied"));

    // Hardware inventory, and an unknown class faults so the client moves on.
    for class in [
        "CIM_ComputerSystemPackage",
        "CIM_Chassis",
        "CIM_Card",
        "CIM_BIOSElement",
        "CIM_Processor",
        "CIM_PhysicalMemory",
        "CIM_MediaAccessDevice",
        "CIM_Chip",
        "CIM_PhysicalPackage",
        "CIM_SystemPackaging",
        "CIM_Fan",
        "CIM_NumericSensor",
        "CIM_SystemDevice",
        "CIM_AssociatedSensor",
    ] {
        let items = d.enumerate_all(
            Session::Digest {
                user: "admin".into(),
            },
            &format!("{CIM}{class}"),
        );
        assert!(!items.is_empty(), "{class}");
    }
    let id = d.id();
    let r = d.admin(&enumerate(&id, &format!("{CIM}CIM_Battery"), ""));
    assert_eq!(r.status, 400);
    assert_eq!(r.fault_subcode().as_deref(), Some("DestinationUnreachable"));
}

#[test]
fn nvram_round_trips_through_json_after_activation() {
    let d = activate();
    let json = serde_json::to_string(&d.state).expect("serialize");
    let back: NvramState = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, d.state);
}

#[test]
fn commit_without_a_credential_context_returns_data_missing() {
    let mut d = Device::new();
    let auth = format!("{AMT}AMT_AuthorizationService");
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), NEW_ADMIN_PASSWORD);
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &auth,
        "SetAdminAclEntryEx",
        &[],
        &format!(
            "<h:Username>admin</h:Username><h:DigestPassword>{}</h:DigestPassword>",
            b64(&ha1)
        ),
    ));
    assert_eq!(r.return_value(), 0);
    let id = d.id();
    let r = d.setup(&put(
        &id,
        &format!("{AMT}AMT_TLSSettingData"),
        &[("InstanceID", "Intel(r) AMT 802.3 TLS Settings")],
        "AMT_TLSSettingData",
        "<h:Enabled>true</h:Enabled>",
    ));
    assert_eq!(r.status, 200);
    let id = d.id();
    let r = d.setup(&invoke(
        &id,
        &format!("{AMT}AMT_SetupAndConfigurationService"),
        "CommitChanges",
        &[],
        "",
    ));
    assert_eq!(r.return_value(), 2057);
    assert_eq!(d.state.provisioning_state(), ProvisioningState::In);
}

#[test]
fn reactivation_replaces_the_credential_context_certificate_with_put() {
    // MeshCentral modifies an existing context with a Put that carries no selectors.
    let mut d = activate();
    let admin = Session::Digest {
        user: "admin".into(),
    };
    let pkm = format!("{AMT}AMT_PublicKeyManagementService");
    let id = d.id();
    let r = d.admin(&invoke(
        &id,
        &pkm,
        "GenerateKeyPair",
        &[],
        "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
    ));
    assert_eq!(r.return_value(), 0);
    let index = d.state.key_pairs[1].pool_index.expect("pool");
    let cert = device_certificate(index);
    let id = d.id();
    let r = d.admin(&invoke(
        &id,
        &pkm,
        "AddCertificate",
        &[],
        &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&cert)),
    ));
    assert_eq!(r.return_value(), 0);
    let new_id = r.find_text("Selector").expect("selector");
    let body = format!(
        "<h:ElementInContext>{}</h:ElementInContext><h:ElementProvidingContext>{}</h:ElementProvidingContext>",
        epr(
            &format!("{AMT}AMT_PublicKeyCertificate"),
            &[("InstanceID", &new_id)]
        ),
        epr(
            &format!("{AMT}AMT_TLSProtocolEndpointCollection"),
            &[("ElementName", "TLSProtocolEndpointInstances Collection")]
        ),
    );
    let id = d.id();
    let r = d.send_xml(
        admin.clone(),
        &put(
            &id,
            &format!("{AMT}AMT_TLSCredentialContext"),
            &[],
            "AMT_TLSCredentialContext",
            &body,
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.state.tls_credential_cert, Some(1));
    // The credential context is not pending: the TLS port serves the new certificate and key.
    let tls = d.state.committed_tls();
    assert_eq!(tls.cert_der.as_deref(), Some(&cert[..]));
    assert_eq!(tls.key_pool_index, Some(index));
    // The old certificate is no longer in use and can be deleted.
    let id = d.id();
    let r = d.send_xml(
        admin,
        &delete(
            &id,
            &format!("{AMT}AMT_PublicKeyCertificate"),
            &[("InstanceID", "Intel(r) AMT Certificate: Handle: 0")],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
