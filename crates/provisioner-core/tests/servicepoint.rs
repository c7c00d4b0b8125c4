//! Service point and site-server models: Hello intake rules, in-band requests, and every A-xx line
//! this crate produces from environment data alone, checked in the right file with its framing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use amt_wire::hello::{DeviceUuid, HelloKind, HelloPacket};
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::client_agent::start_inband;
use provisioner_core::directory::Directory;
use provisioner_core::env::{
    AliasState, CaDenial, ConfigMgrVersion, EnterpriseCa, Environment, ImportedComputer, ResolveTo,
    SiteMode,
};
use provisioner_core::events::{
    AmtStatus, DiscardReason, Outcome, ProvisionEvent, SessionSummary, Step,
};
use provisioner_core::logs::{LogConfig, LogFile, Logs};
use provisioner_core::servicepoint::{Action, CertExpiry, Input, Mode, ServicePoint};
use rand::SeedableRng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// SHA-256 of `certs/root-rsa2048.cert.pem` (certs/README.md).
const ROOT_SHA256: &str = "8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d";
/// SHA-1 of the same root.
const ROOT_SHA1: &str = "c12c0b00a1de9233542d69fe6c3c2d9f2733b98d";
/// SHA-256 of `certs/root-rsa4096.cert.pem`.
const OTHER_ROOT_SHA256: &str = "6b21b09476e0ad9d077d1d1058675170e710654531b5e4e76eeb39075d202cb2";

/// 2027-01-15 08:00:00 UTC.
const T0: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

fn at(secs: u64) -> Timestamp {
    T0 + Duration::from_secs(secs)
}

fn tp(hex: &str) -> Result<Thumbprint, Box<dyn std::error::Error>> {
    Ok(Thumbprint::parse_hex(hex)?)
}

fn device_uuid(env: &Environment) -> Result<DeviceUuid, &'static str> {
    env.computers.first().map(|c| c.uuid).ok_or("no computer")
}

fn source() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 50_123)
}

fn hello(uuid: DeviceUuid, hashes: Vec<Thumbprint>, now: Timestamp) -> Input {
    Input::Hello {
        from: source(),
        packet: HelloPacket {
            admin_credentials_set: false,
            retry_count: 0,
            uuid,
            kind: HelloKind::Pki { hashes },
        },
        now,
    }
}

fn service_point(env: Environment) -> Result<ServicePoint, Box<dyn std::error::Error>> {
    Ok(ServicePoint::new(
        env,
        vec![tp(ROOT_SHA256)?],
        Logs::new(LogConfig::default()),
    ))
}

fn failed(step: Step) -> SessionSummary {
    SessionSummary {
        outcome: Outcome::Failed,
        failed_step: Some(step),
        amt_status: AmtStatus::NotProvisioned,
    }
}

/// The SMS trace suffix of amtopmgr.log at `now` (bias +480).
fn op_suffix(date_time: &str) -> String {
    format!("  $$<SMS_AMT_OPERATION_MANAGER><{date_time}+480><thread=2880 (0x0B40)>")
}

fn proxy_suffix(date_time: &str) -> String {
    format!("  $$<SMS_AMT_PROXY_COMPONENT><{date_time}+480><thread=2632 (0x0A48)>")
}

fn discards(sp: &ServicePoint) -> Vec<DiscardReason> {
    sp.events()
        .events()
        .filter_map(|e| match e {
            ProvisionEvent::HelloDiscarded { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn a_matching_hello_provisions_and_duplicates_wait_for_the_session() -> TestResult {
    let env = Environment::default_for_tests();
    let uuid = device_uuid(&env)?;
    let mut sp = service_point(env)?;
    let other = tp(OTHER_ROOT_SHA256)?;
    let actions = sp.handle(hello(uuid, vec![other, tp(ROOT_SHA256)?], at(0)));
    assert_eq!(
        actions,
        vec![Action::Provision {
            uuid,
            target: SocketAddr::new(source().ip(), 16993),
            fqdn: "amt-device-01.corp.amt-sim.test".to_owned(),
            mode: Mode::OutOfBand,
            cert_index: 0,
        }]
    );
    assert_eq!(sp.status(&uuid), AmtStatus::NotProvisioned);
    assert!(sp.session_running(&uuid));
    // De-duplicated while the session runs.
    assert_eq!(
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(60))),
        vec![]
    );
    assert_eq!(discards(&sp), vec![DiscardReason::SessionRunning]);
    // A session that never reports is presumed lost after an hour.
    assert_eq!(
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(3599))),
        vec![]
    );
    let mut lost = service_point(Environment::default_for_tests())?;
    lost.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0)));
    assert_eq!(
        lost.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(3600)))
            .len(),
        1
    );
    // A failed session: the next Hello starts again.
    let finished = Input::SessionFinished {
        uuid,
        result: failed(Step::TlsHandshake),
        now: at(90),
    };
    assert_eq!(sp.handle(finished), vec![]);
    assert!(!sp.session_running(&uuid));
    assert_eq!(
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(120)))
            .len(),
        1
    );
    let ok = SessionSummary {
        outcome: Outcome::Provisioned,
        failed_step: None,
        amt_status: AmtStatus::Provisioned,
    };
    sp.handle(Input::SessionFinished {
        uuid,
        result: ok,
        now: at(150),
    });
    assert_eq!(sp.status(&uuid), AmtStatus::Provisioned);
    assert_eq!(
        sp.logs().ids(LogFile::AmtOpMgr),
        vec![
            "hello.received",
            "provision.start",
            "hello.received",
            "hello.discarded-busy",
            "hello.received",
            "hello.discarded-busy",
            "hello.received",
            "provision.start",
        ]
    );
    assert!(sp.log_errors().is_empty());
    // The session writes the status report; the service point adds nothing to amtproxymgr.log.
    assert!(sp.logs().messages(LogFile::AmtProxyMgr).is_empty());
    Ok(())
}

#[test]
fn unknown_uuids_are_discarded_with_a_line() -> TestResult {
    let mut sp = service_point(Environment::default_for_tests())?;
    let stranger = DeviceUuid::parse("00000000-1111-2222-3333-444444444444")?;
    assert_eq!(
        sp.handle(hello(stranger, vec![tp(ROOT_SHA256)?], at(0))),
        vec![]
    );
    assert_eq!(discards(&sp), vec![DiscardReason::UnknownUuid]);
    assert_eq!(sp.status(&stranger), AmtStatus::Unknown);
    let lines = sp.logs().lines(LogFile::AmtOpMgr);
    assert_eq!(
        lines[1],
        format!(
            "Discarded AMT Hello message from 192.0.2.10: device 00000000-1111-2222-3333-444444444444 was not imported for out of band management.{}",
            op_suffix("01-15-2027 00:00:00.000")
        )
    );
    Ok(())
}

#[test]
fn a11_hash_list_error_when_no_hash_matches_in_the_same_algorithm() -> TestResult {
    let env = Environment::default_for_tests();
    let uuid = device_uuid(&env)?;
    let mut sp = service_point(env)?;
    // The SHA-1 thumbprint of the right root does not match a SHA-256 provisioning root.
    let actions = sp.handle(hello(
        uuid,
        vec![tp(OTHER_ROOT_SHA256)?, tp(ROOT_SHA1)?],
        at(5),
    ));
    assert_eq!(actions, vec![]);
    assert_eq!(discards(&sp), vec![DiscardReason::HashMismatch]);
    let lines = sp.logs().lines(LogFile::AmtOpMgr);
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            format!(
                "Error: The hash list of AMT device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d does not contain the provisioning server certificate hash.{}",
                op_suffix("01-15-2027 00:00:05.000")
            )
            .as_str()
        )
    );
    // With the roots given as certificates, every algorithm matches.
    let root_der = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../certs/root-rsa2048.cert.pem"
    ))?;
    let der = pem_der(&root_der).ok_or("no certificate in root pem")?;
    assert_eq!(
        Thumbprint::of_der(HashAlgorithm::Sha1, &der),
        tp(ROOT_SHA1)?
    );
    let env = Environment::default_for_tests();
    let mut sp = ServicePoint::with_root_certificates(env, &[der], Logs::new(LogConfig::default()));
    assert_eq!(sp.handle(hello(uuid, vec![tp(ROOT_SHA1)?], at(5))).len(), 1);
    Ok(())
}

fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[test]
fn client_installed_psk_and_sp1_previously_discovered_hellos_are_discarded() -> TestResult {
    let mut env = Environment::default_for_tests();
    let uuid = device_uuid(&env)?;
    env.computers[0].client_installed = true;
    let mut sp = service_point(env.clone())?;
    assert_eq!(
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0))),
        vec![]
    );
    let psk = Input::Hello {
        from: source(),
        packet: HelloPacket {
            admin_credentials_set: false,
            retry_count: 1,
            uuid,
            kind: HelloKind::Psk { pid: [1; 8] },
        },
        now: at(1),
    };
    env.computers[0].client_installed = false;
    let mut psk_sp = service_point(env.clone())?;
    assert_eq!(psk_sp.handle(psk), vec![]);
    assert_eq!(discards(&sp), vec![DiscardReason::ClientInstalled]);
    assert_eq!(discards(&psk_sp), vec![DiscardReason::PskHello]);
    assert_eq!(
        sp.logs().messages(LogFile::AmtOpMgr)[1],
        "Discarded AMT Hello message from 192.0.2.10 for device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d because a Configuration Manager client is installed."
    );
    // SP1 only.
    env.computers[0].previously_discovered = true;
    env.configmgr.version = ConfigMgrVersion::Sp1;
    let mut sp1 = service_point(env.clone())?;
    assert_eq!(
        sp1.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0))),
        vec![]
    );
    assert_eq!(discards(&sp1), vec![DiscardReason::NoSiteCode]);
    env.configmgr.version = ConfigMgrVersion::Sp2;
    let mut sp2 = service_point(env)?;
    assert_eq!(
        sp2.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0))).len(),
        1
    );
    Ok(())
}

#[test]
fn target_follows_dns_wired_or_wireless() -> TestResult {
    let mut env = Environment::default_for_tests();
    let uuid = device_uuid(&env)?;
    let wireless: IpAddr = "10.0.0.51".parse()?;
    env.computers[0].wireless_ip = Some(wireless);
    env.computers[0].tls_port = 26993;
    let mut sp = service_point(env.clone())?;
    let target = |actions: Vec<Action>| {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Provision { target, .. } => Some(target),
                Action::Unprovision { .. } => None,
            })
            .next()
    };
    assert_eq!(
        target(sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0)))),
        Some(SocketAddr::new(source().ip(), 26993))
    );
    env.dns.resolve_to = ResolveTo::Wireless;
    let mut sp = service_point(env.clone())?;
    assert_eq!(
        target(sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0)))),
        Some(SocketAddr::new(wireless, 26993))
    );
    let wired: IpAddr = "192.0.2.99".parse()?;
    env.dns.resolve_to = ResolveTo::Wired;
    env.computers[0].wired_ip = Some(wired);
    let mut sp = service_point(env)?;
    assert_eq!(
        target(sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0)))),
        Some(SocketAddr::new(wired, 26993))
    );
    Ok(())
}

fn inband_env() -> Environment {
    let mut env = Environment::default_for_tests();
    if let Some(c) = env.computers.first_mut() {
        c.client_installed = true;
        c.wired_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    env
}

#[test]
fn in_band_request_provisions_with_the_otp_hash() -> TestResult {
    let env = inband_env();
    let uuid = device_uuid(&env)?;
    let computer: ImportedComputer = env.computers[0].clone();
    let mut sp = service_point(env)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let start = start_inband(
        &computer,
        &[tp(ROOT_SHA256)?],
        &[tp(ROOT_SHA256)?],
        &mut rng,
        sp.logs_mut(),
        at(0),
    )?;
    let actions = sp.handle(Input::InBandRequest {
        uuid,
        otp_hash: start.request.otp_hash,
        now: at(1),
    });
    assert_eq!(
        actions,
        vec![Action::Provision {
            uuid,
            target: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 16993),
            fqdn: computer.fqdn.clone(),
            mode: Mode::InBand {
                otp_hash: start.request.otp_hash
            },
            cert_index: 0,
        }]
    );
    // Hellos from the same device are discarded while in-band runs (client installed).
    assert_eq!(
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(2))),
        vec![]
    );
    assert_eq!(
        sp.logs().ids(LogFile::OobMgmt),
        vec!["client.hash-found", "client.otp-sent"]
    );
    assert_eq!(sp.logs().ids(LogFile::AmtProxyMgr), vec!["inband.request"]);
    // No DNS record: nothing to connect to.
    let mut env = inband_env();
    env.computers[0].wired_ip = None;
    let mut sp = service_point(env)?;
    assert_eq!(
        sp.handle(Input::InBandRequest {
            uuid,
            otp_hash: [0; 32],
            now: at(1)
        }),
        vec![]
    );
    assert!(
        sp.logs()
            .ids(LogFile::AmtOpMgr)
            .contains(&"inband.unresolved")
    );
    Ok(())
}

#[test]
fn a06_unapproved_client_in_sp2_mixed_mode_and_a13_no_policy() -> TestResult {
    let mut env = inband_env();
    let uuid = device_uuid(&env)?;
    env.configmgr.site_mode = SiteMode::Mixed;
    env.computers[0].client_approved = false;
    let mut sp = service_point(env.clone())?;
    assert_eq!(
        sp.handle(Input::InBandRequest {
            uuid,
            otp_hash: [7; 32],
            now: at(3)
        }),
        vec![]
    );
    let lines = sp.logs().lines(LogFile::AmtOpMgr);
    assert_eq!(
        lines,
        vec![format!(
            "Error: Cannot provision computer in-band because the Configuration Manager client is not approved.{}",
            op_suffix("01-15-2027 00:00:03.000")
        )]
    );
    // SP1 has no such check (A-06 is SP2 only).
    env.configmgr.version = ConfigMgrVersion::Sp1;
    let mut sp1 = service_point(env.clone())?;
    assert_eq!(
        sp1.handle(Input::InBandRequest {
            uuid,
            otp_hash: [7; 32],
            now: at(3)
        })
        .len(),
        1
    );
    // no provisioning policy → nothing happens, nothing documented is logged.
    env.configmgr.version = ConfigMgrVersion::Sp2;
    env.computers[0].client_approved = true;
    env.computers[0].auto_provision = false;
    let mut sp = service_point(env)?;
    assert_eq!(
        sp.handle(Input::InBandRequest {
            uuid,
            otp_hash: [7; 32],
            now: at(3)
        }),
        vec![]
    );
    assert!(sp.logs().ids(LogFile::AmtOpMgr).is_empty());
    // The site server only notes the request.
    assert_eq!(sp.logs().ids(LogFile::AmtProxyMgr), vec!["inband.request"]);
    Ok(())
}

#[test]
fn a15_alias_lines_at_start_up_only() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.dns.provision_server_alias = AliasState::RegisteredBeforeServicePoint;
    let mut sp = service_point(env)?;
    sp.handle(Input::Tick { now: at(0) });
    sp.handle(Input::Tick { now: at(3600) });
    assert_eq!(
        sp.logs().lines(LogFile::AmtOpMgr),
        vec![
            format!(
                "Send request to AMT proxy component to add the alias ProvisionServer.corp.amt-sim.test in the DNS. The machine\u{2019}s FQDN is oobsp.corp.amt-sim.test>{}",
                op_suffix("01-15-2027 00:00:00.000")
            ),
            format!(
                "Unable to create instruction file for AMT Proxy task: C:\\Program Files\\Microsoft Configuration Manager\\MP\\OUTBOXES\\Amtproxy.box{}",
                op_suffix("01-15-2027 00:00:00.000")
            ),
        ]
    );
    let mut quiet = service_point(Environment::default_for_tests())?;
    quiet.handle(Input::Tick { now: at(0) });
    assert!(quiet.logs().lines(LogFile::AmtOpMgr).is_empty());
    Ok(())
}

#[test]
fn certificate_expiry_warning_once_a_day() -> TestResult {
    let mut sp = service_point(Environment::default_for_tests())?;
    let leaf = tp("55B7AF313A725CA10BB47A382494A3BD2927D1FB")?;
    sp.set_certificate_expiry(
        0,
        CertExpiry {
            leaf_thumbprint: leaf,
            not_after: at(4 * 86_400 + 3600),
        },
    );
    sp.handle(Input::Tick { now: at(0) });
    sp.handle(Input::Tick { now: at(3600) });
    sp.handle(Input::Tick { now: at(86_400) });
    assert_eq!(
        sp.logs().messages(LogFile::AmtOpMgr),
        vec![
            "Error: The provisioning certificate with the thumbprint 55B7AF313A725CA10BB47A382494A3BD2927D1FB will expire in 4 day(s). Please ensure that this certificate is renewed. (CertID = 1)",
            "Error: The provisioning certificate with the thumbprint 55B7AF313A725CA10BB47A382494A3BD2927D1FB will expire in 3 day(s). Please ensure that this certificate is renewed. (CertID = 1)",
        ]
    );
    Ok(())
}

#[test]
fn a04_container_missing_lines_in_amtproxymgr() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.active_directory.container_exists = false;
    let mut dir = Directory::from_env(&env.active_directory);
    let mut logs = Logs::new(LogConfig::default());
    let err = dir
        .create_computer_account("AMT-DEVICE-01", "amt-device-01.corp.amt-sim.test", at(7))
        .err()
        .ok_or("expected A-04")?;
    err.emit_logs(&mut logs, at(7))?;
    let s = proxy_suffix("01-15-2027 00:00:07.000");
    assert_eq!(
        logs.lines(LogFile::AmtProxyMgr),
        vec![
            format!("CActiveDirectoryUtils::CreateObject - failed to get container.{s}"),
            format!("AD Task - CreateObject failed.{s}"),
            format!(
                "AD Task - CreateObject failed for amt-device-01.corp.amt-sim.test in container OU=AMT Computers,DC=corp,DC=amt-sim,DC=test.{s}"
            ),
        ]
    );
    assert!(logs.lines(LogFile::AmtOpMgr).is_empty());
    Ok(())
}

#[test]
fn a09_a10_a17_ca_denials_write_their_lines() -> TestResult {
    let csr = {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        rcgen::CertificateParams::new(vec!["amt-device-01.corp.amt-sim.test".to_owned()])?
            .serialize_request(&key)?
            .der()
            .to_vec()
    };
    let fqdn = "amt-device-01.corp.amt-sim.test";
    let mut logs = Logs::new(LogConfig::default());
    for deny in [CaDenial::TemplatePermissions, CaDenial::DcomAccessDenied] {
        let mut ca = EnterpriseCaModel::test_default()?;
        ca.set_config(EnterpriseCa {
            deny: Some(deny),
            ..EnterpriseCa::default()
        });
        let err = ca
            .issue(&csr, "AMTWebServer", fqdn, at(9))
            .err()
            .ok_or("expected a denial")?;
        err.emit_logs(&mut logs, at(9))?;
    }
    let mut ca = EnterpriseCaModel::test_default()?;
    let issued = ca.issue(&csr, "AMTWebServer", fqdn, at(9))?;
    ca.set_config(EnterpriseCa {
        revocation_denied: true,
        ..EnterpriseCa::default()
    });
    let err = ca.revoke(&issued.serial).err().ok_or("expected A-17")?;
    err.emit_logs(&mut logs, at(10))?;
    assert_eq!(
        logs.lines(LogFile::AmtOpMgr),
        vec![format!(
            "Error: Missed device certificate. To provision device with TLS server or Mutual authentication mode, device certificate is required.{}",
            op_suffix("01-15-2027 00:00:09.000")
        )]
    );
    assert_eq!(
        logs.lines(LogFile::AmtProxyMgr),
        vec![
            format!(
                "ERROR: ICertRequest2->Submit failed: 0x80070005{}",
                proxy_suffix("01-15-2027 00:00:09.000")
            ),
            format!(
                "Error: CCAUtils::RevokeCertificate failed to revoke certificate {} with 0x80070005{}",
                issued.serial,
                proxy_suffix("01-15-2027 00:00:10.000")
            ),
            format!(
                "Error: CCAUtils::RevokeExistedCertificate failed to revoke certificate {}.{}",
                issued.serial,
                proxy_suffix("01-15-2027 00:00:10.000")
            ),
        ]
    );
    Ok(())
}

#[test]
fn a12_in_band_hash_mismatch_in_oobmgmt() -> TestResult {
    let env = inband_env();
    let computer = env.computers[0].clone();
    let mut logs = Logs::new(LogConfig::default());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let result = start_inband(
        &computer,
        &[tp(ROOT_SHA256)?],
        &[tp(OTHER_ROOT_SHA256)?],
        &mut rng,
        &mut logs,
        at(11),
    );
    assert_eq!(
        result.map(|_| ()).map_err(|e| e.id()),
        Err("client/no-valid-hash")
    );
    assert_eq!(
        logs.lines(LogFile::OobMgmt),
        vec![
            "<![LOG[None certificate is valid between device and server certificate hash.]LOG]!><time=\"00:00:11.000+480\" date=\"01-15-2027\" component=\"OobMgmt\" context=\"\" type=\"3\" thread=\"2724\" file=\"\">"
        ]
    );
    Ok(())
}

/// Removing provisioning data: A-17 (revocation denied) and A-19 (CRL unreachable, SP2).
mod removal {
    use super::*;

    /// A provisioned device's site state: service point, directory, CA, web cert serial, UUID.
    type Site = (
        ServicePoint,
        Directory,
        EnterpriseCaModel,
        String,
        DeviceUuid,
    );

    fn provisioned() -> Result<Site, Box<dyn std::error::Error>> {
        let env = Environment::default_for_tests();
        let uuid = device_uuid(&env)?;
        let mut directory = Directory::from_env(&env.active_directory);
        directory.create_computer_account(
            "AMT-DEVICE-01",
            "amt-device-01.corp.amt-sim.test",
            at(0),
        )?;
        let mut ca = EnterpriseCaModel::test_default()?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())?.serialize_request(&key)?;
        let serial = ca
            .issue(
                csr.der(),
                "AMTWebServer",
                "amt-device-01.corp.amt-sim.test",
                at(0),
            )?
            .serial;
        let mut sp = service_point(env)?;
        sp.handle(hello(uuid, vec![tp(ROOT_SHA256)?], at(0)));
        let ok = SessionSummary {
            outcome: Outcome::Provisioned,
            failed_step: None,
            amt_status: AmtStatus::Provisioned,
        };
        sp.handle(Input::SessionFinished {
            uuid,
            result: ok,
            now: at(60),
        });
        Ok((sp, directory, ca, serial, uuid))
    }

    #[test]
    fn removal_revokes_deletes_and_unprovisions() -> TestResult {
        let (mut sp, mut directory, mut ca, serial, uuid) = provisioned()?;
        let actions =
            sp.remove_provisioning(&uuid, &mut directory, &mut ca, Some(&serial), at(100));
        assert_eq!(
            actions,
            vec![Action::Unprovision {
                uuid,
                target: SocketAddr::new(source().ip(), 16993),
                fqdn: "amt-device-01.corp.amt-sim.test".to_owned(),
                abort_after_tls: false,
            }]
        );
        assert!(ca.is_revoked(&serial));
        assert!(directory.account("AMT-DEVICE-01$iME").is_none());
        sp.handle(Input::RemovalFinished {
            uuid,
            ok: true,
            now: at(110),
        });
        assert_eq!(sp.status(&uuid), AmtStatus::NotProvisioned);
        assert_eq!(
            sp.logs().ids(LogFile::AmtProxyMgr),
            vec!["remove.requested", "ca.revoked", "ad.deleted"]
        );
        assert!(
            sp.logs()
                .ids(LogFile::AmtOpMgr)
                .ends_with(&["remove.start", "remove.completed"])
        );
        Ok(())
    }

    #[test]
    fn a17_revocation_denied_during_removal() -> TestResult {
        let (mut sp, mut directory, mut ca, serial, uuid) = provisioned()?;
        ca.set_config(EnterpriseCa {
            revocation_denied: true,
            ..EnterpriseCa::default()
        });
        let actions =
            sp.remove_provisioning(&uuid, &mut directory, &mut ca, Some(&serial), at(100));
        assert_eq!(actions.len(), 1);
        assert!(!ca.is_revoked(&serial));
        let s = proxy_suffix("01-15-2027 00:01:40.000");
        assert_eq!(
            sp.logs().lines(LogFile::AmtProxyMgr)[1..3],
            [
                format!(
                    "Error: CCAUtils::RevokeCertificate failed to revoke certificate {serial} with 0x80070005{s}"
                ),
                format!(
                    "Error: CCAUtils::RevokeExistedCertificate failed to revoke certificate {serial}.{s}"
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn a19_crl_unreachable_on_sp2_only() -> TestResult {
        let (mut sp, mut directory, mut ca, serial, uuid) = provisioned()?;
        ca.set_config(EnterpriseCa {
            crl_reachable: false,
            ..EnterpriseCa::default()
        });
        let actions =
            sp.remove_provisioning(&uuid, &mut directory, &mut ca, Some(&serial), at(100));
        assert!(matches!(
            &actions[..],
            [Action::Unprovision {
                abort_after_tls: true,
                ..
            }]
        ));
        let s = op_suffix("01-15-2027 00:01:40.000");
        let lines = sp.logs().lines(LogFile::AmtOpMgr);
        assert_eq!(
            lines[lines.len() - 2..],
            [
                format!("Description: A security error occurred{s}"),
                format!("Error code: 0x80072F8F{s}")
            ]
        );
        sp.handle(Input::RemovalFinished {
            uuid,
            ok: false,
            now: at(101),
        });
        assert_eq!(sp.status(&uuid), AmtStatus::Provisioned);
        assert_eq!(
            sp.logs().ids(LogFile::AmtOpMgr).last(),
            Some(&"remove.failed")
        );

        let mut env = Environment::default_for_tests();
        env.configmgr.version = ConfigMgrVersion::Sp1;
        env.computers[0].wired_ip = Some(source().ip());
        let mut sp1 = service_point(env)?;
        let actions = sp1.remove_provisioning(&uuid, &mut directory, &mut ca, None, at(100));
        assert!(matches!(
            &actions[..],
            [Action::Unprovision {
                abort_after_tls: false,
                ..
            }]
        ));
        assert!(!sp1.logs().ids(LogFile::AmtOpMgr).contains(&"A-19.code"));
        Ok(())
    }
}

#[test]
fn environment_secrets_are_redacted_from_every_log_line() -> TestResult {
    let env = Environment::default_for_tests();
    let password = env.accounts[0].password.clone();
    let mebx = env.mebx_password.clone();
    assert!(env.secrets().any(|s| s == password) && env.secrets().any(|s| s == mebx));
    let mut sp = service_point(env)?;
    let detail = format!("digest with {password} and MEBx {mebx}");
    sp.logs_mut().emit(
        provisioner_core::logs::ids::TLS_FAILED,
        &[("uuid", "u"), ("target", "t"), ("detail", &detail)],
        at(0),
    )?;
    let rendered = sp.logs().render(LogFile::AmtOpMgr);
    assert!(
        !rendered.contains(&password) && !rendered.contains(&mebx),
        "{rendered}"
    );
    assert!(rendered.contains("digest with <redacted> and MEBx <redacted>"));
    Ok(())
}

#[test]
fn the_alias_decides_whether_hellos_can_arrive() {
    let mut env = Environment::default_for_tests();
    assert!(env.dns.provision_server_resolvable());
    env.dns.provision_server_alias = AliasState::NotRegistered;
    assert!(!env.dns.provision_server_resolvable());
    env.dns.provision_server_alias = AliasState::RegisteredBeforeServicePoint;
    assert!(!env.dns.provision_server_resolvable());
}

#[test]
fn hello_bytes_are_parsed_or_logged_as_malformed() -> TestResult {
    let env = Environment::default_for_tests();
    let uuid = device_uuid(&env)?;
    let mut sp = service_point(env)?;
    let packet = HelloPacket {
        admin_credentials_set: false,
        retry_count: 0,
        uuid,
        kind: HelloKind::Pki {
            hashes: vec![tp(ROOT_SHA256)?],
        },
    };
    let bytes = packet.to_bytes()?;
    assert_eq!(sp.handle_hello_bytes(source(), &bytes, at(0)).len(), 1);
    assert_eq!(sp.handle_hello_bytes(source(), &bytes[..10], at(1)), vec![]);
    let last = sp
        .logs()
        .messages(LogFile::AmtOpMgr)
        .pop()
        .unwrap_or_default();
    assert!(
        last.starts_with("Discarded malformed AMT Hello message from 192.0.2.10: "),
        "{last}"
    );
    Ok(())
}

#[test]
fn recorded_admin_passwords_are_kept_per_device_and_never_shown() -> TestResult {
    let env = Environment::default_for_tests();
    let uuid = env.computers[0].uuid;
    let mut sp = service_point(env)?;
    assert_eq!(sp.admin_password(&uuid), None);
    let password = "Site-Admin!Pass7";
    sp.record_admin_password(uuid, password);
    assert_eq!(sp.admin_password(&uuid), Some(password));
    assert!(!format!("{sp:?}").contains(password));
    sp.logs_mut().emit(
        provisioner_core::logs::ids::TLS_FAILED,
        &[("uuid", "u"), ("target", "t"), ("detail", password)],
        at(0),
    )?;
    assert!(!sp.logs().render(LogFile::AmtOpMgr).contains(password));
    Ok(())
}
