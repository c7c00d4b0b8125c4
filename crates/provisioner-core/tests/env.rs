//! Environment YAML: the example files parse, defaults provision, errors carry line and column.

use std::path::{Path, PathBuf};

use provisioner_core::env::{
    AliasState, CaDenial, ConfigMgrVersion, EnvError, Environment, ResolveTo, SiteMode,
    TEST_DEVICE_UUID,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/env")
}

fn load_example(name: &str) -> Result<Environment, Box<dyn std::error::Error>> {
    let dir = examples_dir();
    let text = std::fs::read_to_string(dir.join(name))?;
    Ok(Environment::from_yaml(&text, &dir)?)
}

#[test]
fn default_example_equals_default_for_tests_up_to_paths_and_acl() -> TestResult {
    let env = load_example("default.yaml")?;
    let mut expected = Environment::default_for_tests();
    expected.stage2.acl = env.stage2.acl.clone();
    // Paths differ in spelling (relative to the example vs the crate); both must exist.
    for (a, b) in [
        (
            &env.provisioning_certificates[0].chain_pem,
            &expected.provisioning_certificates[0].chain_pem,
        ),
        (
            &env.provisioning_certificates[0].key_pem,
            &expected.provisioning_certificates[0].key_pem,
        ),
        (
            &env.enterprise_ca.issuer_cert_pem,
            &expected.enterprise_ca.issuer_cert_pem,
        ),
        (
            &env.enterprise_ca.issuer_key_pem,
            &expected.enterprise_ca.issuer_key_pem,
        ),
    ] {
        assert_eq!(a.canonicalize()?, b.canonicalize()?);
    }
    let mut env = env;
    env.provisioning_certificates = expected.provisioning_certificates.clone();
    env.enterprise_ca.issuer_cert_pem = expected.enterprise_ca.issuer_cert_pem.clone();
    env.enterprise_ca.issuer_key_pem = expected.enterprise_ca.issuer_key_pem.clone();
    assert_eq!(env, expected);
    assert_eq!(env.computers[0].uuid.to_string(), TEST_DEVICE_UUID);
    assert_eq!(env.stage2.acl[0].name, "helpdesk");
    Ok(())
}

#[test]
fn other_examples_parse_with_their_settings() -> TestResult {
    let sp1 = load_example("sp1-mixed-inband.yaml")?;
    assert_eq!(sp1.configmgr.version, ConfigMgrVersion::Sp1);
    assert_eq!(sp1.configmgr.site_mode, SiteMode::Mixed);
    assert!(sp1.computers[0].client_installed);
    assert!(sp1.provisioning_certificates[0].chain_pem.exists());
    assert!(sp1.enterprise_ca.issuer_key_pem.exists());

    let failures = load_example("sp2-failures.yaml")?;
    assert_eq!(
        failures.enterprise_ca.deny,
        Some(CaDenial::TemplatePermissions)
    );
    assert_eq!(
        failures.dns.provision_server_alias,
        AliasState::RegisteredBeforeServicePoint
    );
    assert_eq!(failures.dns.resolve_to, ResolveTo::Wireless);
    assert!(!failures.active_directory.container_exists);
    assert!(!failures.schannel_hotfix);
    assert_eq!(failures.accounts.len(), 2);
    assert_eq!(failures.stage2.power_scheme, 3);
    // Secrets stay out of Debug output.
    let debug = format!("{failures:?}");
    assert!(!debug.contains("P@ssw0rd"), "{debug}");
    assert!(!debug.contains("not-a-real-passphrase"));
    Ok(())
}

#[test]
fn empty_file_is_the_default_environment() -> TestResult {
    let env = Environment::from_yaml("{}", Path::new("/base"))?;
    assert!(env.computers.is_empty());
    assert_eq!(
        env.provisioning_certificates[0].chain_pem,
        Path::new("/base/certs/prov-oid.chain.pem")
    );
    assert_eq!(env.configmgr.version, ConfigMgrVersion::Sp2);
    assert!(env.schannel_hotfix);
    Ok(())
}

fn yaml_error(text: &str) -> Option<(u64, u64, String)> {
    match Environment::from_yaml(text, Path::new("/")) {
        Err(EnvError::Yaml {
            line,
            column,
            message,
        }) => Some((line, column, message)),
        _ => None,
    }
}

#[test]
fn unknown_keys_are_rejected_with_line_and_column() {
    let text = "configmgr:\n  version: sp2\n  site_kode: AMT\n";
    let err = yaml_error(text);
    assert!(
        matches!(&err, Some((3, 3, m)) if m.contains("site_kode")),
        "{err:?}"
    );
    let nested = "computers:\n  - name: A\n    uuid: 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d\n    fqdn: a.b\n    colour: red\n";
    let err = yaml_error(nested);
    assert!(
        matches!(&err, Some((5, 5, m)) if m.contains("colour")),
        "{err:?}"
    );
    assert!(
        matches!(&err, Some((_, _, m)) if !m.contains(" at line ")),
        "location is not repeated in the message: {err:?}"
    );
    let top = "configmgr: {}\nsurprise: 1\n";
    assert!(
        matches!(yaml_error(top), Some((2, 1, _))),
        "{:?}",
        yaml_error(top)
    );
}

#[test]
fn type_and_value_errors_point_at_the_value() {
    let bad_variant = "configmgr:\n  version: sp3\n";
    let err = yaml_error(bad_variant);
    assert!(
        matches!(&err, Some((2, _, m)) if m.contains("sp3") || m.contains("variant")),
        "{err:?}"
    );
    let bad_uuid = "computers:\n  - name: A\n    uuid: not-a-uuid\n    fqdn: a.b\n";
    let err = yaml_error(bad_uuid);
    assert!(
        matches!(&err, Some((3, _, m)) if m.contains("not-a-uuid")),
        "{err:?}"
    );
    let bad_port = "computers:\n  - name: A\n    uuid: 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d\n    fqdn: a.b\n    tls_port: 99999\n";
    let err = yaml_error(bad_port);
    assert!(matches!(&err, Some((5, _, _))), "{err:?}");
    let syntax = "configmgr:\n  version: [sp2\n";
    assert!(matches!(yaml_error(syntax), Some((l, _, _)) if l >= 2));
}

#[test]
fn semantic_errors_are_typed() {
    let dup = "computers:\n  - { name: A, uuid: 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d, fqdn: a.b }\n  - { name: B, uuid: 8C4D6B2A-1F3E-4A5B-9C7D-0E1F2A3B4C5D, fqdn: b.b }\n";
    let err = Environment::from_yaml(dup, Path::new("/")).map_err(|e| e.id());
    assert_eq!(err.err(), Some("env/invalid"));
    let none = "provisioning_certificates: []\n";
    let err = Environment::from_yaml(none, Path::new("/")).map_err(|e| e.id());
    assert_eq!(err.err(), Some("env/invalid"));
}

#[test]
fn default_for_tests_points_at_the_repository_pki() {
    let env = Environment::default_for_tests();
    assert!(env.provisioning_certificates[0].chain_pem.exists());
    assert!(env.provisioning_certificates[0].key_pem.exists());
    assert!(env.enterprise_ca.issuer_cert_pem.exists());
    assert!(env.enterprise_ca.issuer_key_pem.exists());
    assert_eq!(env.computers.len(), 1);
    assert_eq!(env.computers[0].dns_suffix(), "corp.amt-sim.test");
    assert_eq!(env.computers[0].host_name(), "amt-device-01");
}

#[test]
fn logs_section_configures_the_framing() -> TestResult {
    use provisioner_core::logs::LogFile;
    let text = "logs:\n  bias_minutes: -60\n  client_component: OOBMgmt\n  a18_file: amtproxymgr.log\n  overrides:\n    A-11: 'Error: hash list of {uuid} bad.'\n";
    let env = Environment::from_yaml(text, Path::new("/"))?;
    assert_eq!(env.logs.bias_minutes, -60);
    assert_eq!(env.logs.client_component, "OOBMgmt");
    assert_eq!(env.logs.a18_file, LogFile::AmtProxyMgr);
    assert_eq!(
        env.logs.overrides.get("A-11").map(String::as_str),
        Some("Error: hash list of {uuid} bad.")
    );
    assert_eq!(
        env.logs.service_point_thread, 2880,
        "unset keys keep their default"
    );
    let bad = "logs:\n  a18_file: adctrl.log\n";
    assert!(matches!(yaml_error(bad), Some((2, _, _))));
    Ok(())
}
