//! The engine never panics and always answers a well-formed response (or an empty 401), whatever
//! class, action, selectors and body a client sends, in any provisioning state and session.

mod wsman_support;

use amt_sim::state::{AdminAcl, ProvisioningState};
use amt_sim::wsman::Session;
use proptest::prelude::*;
use wsman_support::*;

/// Class names the engine knows, plus some it does not.
const CLASSES: &[&str] = &[
    "AMT_GeneralSettings",
    "AMT_SetupAndConfigurationService",
    "IPS_HostBasedSetupService",
    "CIM_SoftwareIdentity",
    "AMT_AuthorizationService",
    "AMT_TimeSynchronizationService",
    "AMT_PublicKeyManagementService",
    "AMT_PublicKeyCertificate",
    "AMT_PublicPrivateKeyPair",
    "AMT_TLSSettingData",
    "AMT_TLSCredentialContext",
    "AMT_RedirectionService",
    "IPS_OptInService",
    "CIM_PowerManagementService",
    "CIM_AssociatedPowerManagementService",
    "CIM_BootConfigSetting",
    "AMT_MessageLog",
    "AMT_AuditLog",
    "AMT_WiFiPortConfigurationService",
    "AMT_RemoteAccessService",
    "AMT_AlarmClockService",
    "CIM_Chassis",
    "AMT_NoSuchClass",
];

/// Method names across the classes, plus nonsense.
const METHODS: &[&str] = &[
    "CommitChanges",
    "Unprovision",
    "PartialUnprovision",
    "SetMEBxPassword",
    "GetUuid",
    "Setup",
    "AdminSetup",
    "AddNextCertInChain",
    "SetAdminAclEntryEx",
    "AddUserAclEntryEx",
    "EnumerateUserAclEntries",
    "SetHighAccuracyTimeSynch",
    "GenerateKeyPair",
    "AddCertificate",
    "AddKey",
    "GeneratePKCS10RequestEx",
    "RequestStateChange",
    "RequestPowerStateChange",
    "ChangeBootOrder",
    "StartOptIn",
    "SendOptInCode",
    "GetRecords",
    "ReadRecords",
    "AddWiFiSettings",
    "AddMpServer",
    "AddAlarm",
    "Bogus",
];

/// Parameter names clients send.
const PARAMS: &[&str] = &[
    "Password",
    "Username",
    "DigestPassword",
    "DigestUsername",
    "Realms",
    "Handle",
    "StartIndex",
    "Ta0",
    "Tm1",
    "Tm2",
    "KeyAlgorithm",
    "KeyLength",
    "CertificateBlob",
    "KeyBlob",
    "RequestedState",
    "PowerState",
    "OptInCode",
    "ProvisioningMode",
    "NetAdminPassEncryptionType",
    "NetworkAdminPassword",
    "McNonce",
    "SigningAlgorithm",
    "DigitalSignature",
    "NextCertificate",
    "IsLeafCertificate",
    "IsRootCertificate",
    "HostName",
    "DomainName",
    "Enabled",
    "InstanceID",
    "MaxReadRecords",
    "IterationIdentifier",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("1".to_owned()),
        Just("2048".to_owned()),
        Just("32771".to_owned()),
        Just("true".to_owned()),
        Just("4294967296".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("AAAAAAAAAAAAAAAAAAAAAA==".to_owned()),
        "[a-zA-Z0-9+/=:. -]{0,40}",
    ]
}

fn session() -> impl Strategy<Value = Session> {
    prop_oneof![
        Just(Session::Setup),
        Just(Session::Anonymous),
        Just(Session::Digest {
            user: "admin".into()
        }),
        Just(Session::Digest {
            user: "nobody".into()
        }),
    ]
}

fn action_kind() -> impl Strategy<Value = u8> {
    0u8..8
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_request_gets_a_well_formed_answer(
        class in prop::sample::select(CLASSES),
        method in prop::sample::select(METHODS),
        kind in action_kind(),
        params in prop::collection::vec((prop::sample::select(PARAMS), value()), 0..6),
        selectors in prop::collection::vec((prop::sample::select(PARAMS), value()), 0..3),
        session in session(),
        provisioned in any::<bool>(),
        context in "[0-9A-F]{8}-0000-0000-0000-000000000000",
    ) {
        let mut d = Device::new();
        if provisioned {
            d.state.admin = Some(AdminAcl { username: "admin".into(), ha1: [1; 16] });
            d.state.provisioning_state = ProvisioningState::Post;
        }
        let base = if class.starts_with("IPS") { IPS } else if class.starts_with("CIM") { CIM } else { AMT };
        let uri = format!("{base}{class}");
        let inputs: String = params.iter().map(|(n, v)| format!("<h:{n}>{v}</h:{n}>")).collect();
        let sels: Vec<(&str, &str)> = selectors.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let xml = match kind {
            0 => get("1", &uri, &sels),
            1 => put("1", &uri, &sels, class, &inputs),
            2 => create("1", &uri, class, &inputs),
            3 => delete("1", &uri, &sels),
            4 => enumerate("1", &uri, ""),
            5 => pull("1", &uri, &context, 3, None),
            6 => release("1", &uri, &context),
            _ => invoke("1", &uri, method, &sels, &inputs),
        };
        // send_xml asserts: no self-closing tags, no CDATA, the body parses as an envelope.
        let before = d.state.clone();
        let r = d.send_xml(session, &xml);
        // Every NVRAM change is reported, so the core persists it.
        if !r.changed {
            prop_assert_eq!(&d.state, &before);
        }
        prop_assert!(matches!(r.status, 200 | 400 | 401 | 500), "status {}", r.status);
        if r.status == 401 {
            prop_assert!(r.body.is_empty());
        } else {
            prop_assert!(r.envelope.is_some());
        }
        if r.status == 400 || r.status == 500 {
            prop_assert!(r.fault_subcode().is_some() || r.body.contains("MustUnderstand"));
        }
        // NVRAM always survives a JSON round trip.
        let json = serde_json::to_string(&d.state).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: amt_sim::state::NvramState = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, d.state);
    }
}
