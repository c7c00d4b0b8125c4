//! End-to-end provisioning sessions against in-process `amt_sim` devices on a virtual clock:
//! SP1 and SP2 out of band, in band with an OTP, credential fallback, timeouts, dropped
//! connections and the documented TLS failures.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::time::Timestamp;
use conformance::testbed::SimNetwork;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::clock::{Clock as _, VirtualClock};
use provisioner_core::directory::Directory;
use provisioner_core::env::{AclUser, AmtAccount, ConfigMgrVersion, Environment, ImportedComputer};
use provisioner_core::events::{AmtStatus, EventLog, Outcome, ProvisionEvent, Step};
use provisioner_core::logs::{LogConfig, LogFile, Logs};
use provisioner_core::servicepoint::Mode;
use provisioner_core::session::{self, SessionCtx, SessionResult};
use provisioner_core::tls::{self, ClientIdentity};
use provisioner_core::wsman_client::{ClientSettings, Credentials, WsmanClient};
use rand::SeedableRng as _;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SP1_SHORT: &str = "Error: Device internal error. Check Schannel, provision certificate, network configuration, device.";
const A18_ISC: &str = "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.";
const A20_PREFIX: &str =
    "Error: Can not finish WSMAN call with target device. 1. Check if there is a winhttp proxy";

fn identity(stem: &str) -> ClientIdentity {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../certs");
    let chain = std::fs::read(dir.join(format!("{stem}.chain.pem"))).unwrap_or_default();
    let key = std::fs::read(dir.join(format!("{stem}.TEST-ONLY.key.pem"))).unwrap_or_default();
    match ClientIdentity::from_pem(&chain, &key) {
        Ok(i) => i,
        Err(e) => panic!("test PKI {stem}: {e}"),
    }
}

/// One device on a virtual network, and everything a session needs around it.
struct Bench {
    net: SimNetwork,
    clock: VirtualClock,
    env: Environment,
    computer: ImportedComputer,
    target: SocketAddr,
    identity: ClientIdentity,
    logs: Logs,
    events: EventLog,
    directory: Directory,
    ca: EnterpriseCaModel,
}

impl Bench {
    fn new(profile: DeviceProfile) -> Self {
        Self::with_env(profile, Environment::default_for_tests())
    }

    fn with_env(profile: DeviceProfile, env: Environment) -> Self {
        let clock = VirtualClock::default();
        let net = SimNetwork::new(clock.clone());
        let tls_port = profile.ports.tls;
        let uuid = profile.device_uuid();
        let device = match Device::new(profile, None, 7, clock.now()) {
            Ok(d) => d,
            Err(e) => panic!("device: {e}"),
        };
        let index = net.add_device(device);
        let ip = net
            .address(index)
            .unwrap_or_else(|| IpAddr::from([127, 0, 0, 1]));
        let mut computer = env
            .computers
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no computer"));
        computer.uuid = uuid;
        let mut ca = match EnterpriseCaModel::test_default() {
            Ok(ca) => ca,
            Err(e) => panic!("CA: {e}"),
        };
        let mut ca_config = ca.config().clone();
        ca_config.deny = env.enterprise_ca.deny;
        ca_config.crl_reachable = env.enterprise_ca.crl_reachable;
        ca.set_config(ca_config);
        Self {
            directory: Directory::from_env(&env.active_directory),
            ca,
            net,
            clock,
            computer,
            target: SocketAddr::new(ip, tls_port),
            identity: identity("prov-oid"),
            env,
            logs: Logs::new(LogConfig::default()),
            events: EventLog::new(),
        }
    }

    fn run(&mut self, mode: Mode) -> SessionResult {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        let mut connector = self.net.clone();
        session::provision(&mut SessionCtx {
            env: &self.env,
            computer: &self.computer,
            target: self.target,
            mode,
            identity: &self.identity,
            cert_index: 0,
            connector: &mut connector,
            clock: &self.clock,
            logs: &mut self.logs,
            events: &mut self.events,
            directory: &mut self.directory,
            ca: &mut self.ca,
            rng: &mut rng,
            journal: None,
        })
    }

    fn messages(&self, file: LogFile) -> Vec<String> {
        self.logs.messages(file)
    }

    /// A management client logged in as admin with the password the session set.
    fn admin_client<'n>(&self, net: &'n mut SimNetwork, result: &SessionResult) -> WsmanClient<'n> {
        let config = tls::anonymous_client_config().unwrap_or_else(|e| panic!("{e}"));
        WsmanClient::new(
            net,
            ClientSettings {
                target: self.target,
                tls: Some(config),
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(30),
            },
            vec![Credentials::new(
                "admin",
                result.admin_password.clone().unwrap_or_default(),
            )],
            1,
        )
    }
}

fn text_of(e: &amt_wire::wsman::Element, name: &str) -> Option<String> {
    e.child_by_local_name(name)
        .map(|c| c.text().trim().to_owned())
}

fn assert_provisioned(bench: &Bench, result: &SessionResult) {
    assert_eq!(result.outcome, Outcome::Provisioned, "{result:?}");
    assert_eq!(result.failed_step, None);
    assert_eq!(result.amt_status, AmtStatus::Provisioned);
    assert!(result.log_errors.is_empty(), "{:?}", result.log_errors);
    assert!(result.admin_password.is_some());
    let state = bench
        .net
        .with_device(0, |d| format!("{:?}", d.provisioning_state()))
        .unwrap_or_default();
    assert!(state.contains("Post"), "device state {state}");
    // Passwords never reach the logs.
    let admin = result.admin_password.clone().unwrap_or_default();
    for file in [LogFile::AmtOpMgr, LogFile::AmtProxyMgr, LogFile::OobMgmt] {
        assert!(
            bench.logs.render(file).find(&admin).is_none(),
            "admin password in {file:?}"
        );
    }
}

#[test]
fn sp2_out_of_band_provisions_and_settings_read_back() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.stage2.power_scheme = 1;
    env.stage2.acl = vec![AclUser {
        name: "helpdesk".into(),
        password: "H3lp!desk-pass".into(),
        realms: vec![3, 5],
        access: 2,
    }];
    let mut bench = Bench::with_env(DeviceProfile::default(), env);
    let result = bench.run(Mode::OutOfBand);
    assert_provisioned(&bench, &result);
    let op = bench.messages(LogFile::AmtOpMgr);
    for needle in [
        "First-stage provisioning",
        "Second-stage provisioning",
        "provisioned successfully",
    ] {
        assert!(
            op.iter().any(|m| m.contains(needle)),
            "{needle} missing in {op:#?}"
        );
    }
    assert!(
        op.iter().any(|m| m.contains("wireless")),
        "SP2 runs the wireless step"
    );

    let mut net = bench.net.clone();
    let mut client = bench.admin_client(&mut net, &result);
    let general = client.get("AMT_GeneralSettings", &[])?;
    assert_eq!(
        text_of(&general, "HostName").as_deref(),
        Some("amt-device-01")
    );
    assert_eq!(
        text_of(&general, "DomainName").as_deref(),
        Some("corp.amt-sim.test")
    );
    let tls_settings = client.get(
        "AMT_TLSSettingData",
        &[("InstanceID", "Intel(r) AMT 802.3 TLS Settings")],
    )?;
    assert_eq!(text_of(&tls_settings, "Enabled").as_deref(), Some("true"));
    let acl = client.invoke(
        "AMT_AuthorizationService",
        "EnumerateUserAclEntries",
        &[],
        vec![provisioner_core::wsman_client::property(
            "AMT_AuthorizationService",
            "StartIndex",
            "1",
        )],
    )?;
    assert_eq!(acl.get("TotalCount").as_deref(), Some("1"));
    let power = bench
        .net
        .with_device(0, |d| d.state().power_scheme.clone())
        .unwrap_or_default();
    assert!(
        power.ends_with(" 1"),
        "SP2 sets the configured scheme: {power}"
    );
    // The wire transcript: every WS-MAN call of both stages with its HTTP status.
    let transcript: Vec<String> = bench
        .events
        .events()
        .filter_map(|e| match e {
            ProvisionEvent::WsmanCall {
                class,
                method,
                status,
            } => Some(format!("{method} {class} -> {status}")),
            ProvisionEvent::StageStarted { stage } => Some(format!("-- stage {stage}")),
            _ => None,
        })
        .collect();
    insta::assert_snapshot!("sp2_wsman_transcript", transcript.join("\n"));
    Ok(())
}

#[test]
fn sp1_sets_power_scheme_5_and_skips_wireless() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.configmgr.version = ConfigMgrVersion::Sp1;
    env.stage2.power_scheme = 1;
    let mut bench = Bench::with_env(DeviceProfile::default(), env);
    let result = bench.run(Mode::OutOfBand);
    assert_provisioned(&bench, &result);
    let power = bench
        .net
        .with_device(0, |d| d.state().power_scheme.clone())
        .unwrap_or_default();
    assert!(power.ends_with(" 5"), "SP1 always sets 5: {power}");
    let op = bench.messages(LogFile::AmtOpMgr);
    assert!(!op.iter().any(|m| m.contains("wireless")), "{op:#?}");
    Ok(())
}

fn inband_profile() -> DeviceProfile {
    let mut profile = DeviceProfile::default();
    profile.provisioning.heci_driver_present = true;
    profile
}

#[test]
fn in_band_with_matching_otp_provisions_and_a_wrong_hash_fails() -> TestResult {
    use sha2::{Digest as _, Sha256};
    let otp = b"0123456789abcdef".to_vec();
    let hash: [u8; 32] = Sha256::digest(&otp).into();

    let mut bench = Bench::new(inband_profile());
    let now = bench.clock.now();
    bench
        .net
        .with_device(0, |d| {
            d.heci_set_otp(&otp, now)
                .and_then(|()| d.heci_start_configuration(now))
                .map_err(|e| e.to_string())
        })
        .unwrap_or_else(|| Err("no device".into()))?;
    let result = bench.run(Mode::InBand { otp_hash: hash });
    assert_provisioned(&bench, &result);

    let mut bench = Bench::new(inband_profile());
    let now = bench.clock.now();
    bench
        .net
        .with_device(0, |d| {
            d.heci_set_otp(&otp, now)
                .and_then(|()| d.heci_start_configuration(now))
                .map_err(|e| e.to_string())
        })
        .unwrap_or_else(|| Err("no device".into()))?;
    let result = bench.run(Mode::InBand { otp_hash: [0; 32] });
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.failed_step, Some(Step::InBand));
    assert!(
        bench
            .messages(LogFile::AmtOpMgr)
            .iter()
            .any(|m| m.contains("one-time password"))
    );
    Ok(())
}

fn digest_profile(mebx: &str) -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    let mut profile = DeviceProfile {
        setup_auth: Some(serde_saphyr::from_str("digest")?),
        ..DeviceProfile::default()
    };
    profile.provisioning.mebx_password = mebx.to_owned();
    Ok(profile)
}

#[test]
fn credential_fallback_uses_the_third_account() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.accounts = vec![
        AmtAccount {
            user: "admin".into(),
            password: "Wrong-1!pass".into(),
        },
        AmtAccount {
            user: "admin".into(),
            password: "Wrong-2!pass".into(),
        },
        AmtAccount {
            user: "admin".into(),
            password: "Mebx!Pass-3".into(),
        },
    ];
    let mut bench = Bench::with_env(digest_profile("Mebx!Pass-3")?, env);
    let start = bench.clock.now();
    let result = bench.run(Mode::OutOfBand);
    assert_provisioned(&bench, &result);
    let digest: Vec<(usize, bool)> = bench
        .events
        .events()
        .filter_map(|e| match e {
            ProvisionEvent::Digest {
                account_index, ok, ..
            } => Some((*account_index, *ok)),
            _ => None,
        })
        .collect();
    assert_eq!(digest.first(), Some(&(0, false)));
    assert_eq!(digest.get(1), Some(&(1, false)));
    assert_eq!(digest.get(2), Some(&(2, true)));
    assert!(bench.clock.now() >= start, "virtual clock only");
    Ok(())
}

#[test]
fn no_account_accepted_leaves_the_device_detected() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.accounts = vec![AmtAccount {
        user: "admin".into(),
        password: "Wrong-1!pass".into(),
    }];
    let mut bench = Bench::with_env(digest_profile("Mebx!Pass-3")?, env);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.failed_step, Some(Step::Digest));
    assert_eq!(result.amt_status, AmtStatus::Detected);
    Ok(())
}

fn with_fault(yaml: &str) -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    let mut profile = DeviceProfile::default();
    profile.faults.push(serde_saphyr::from_str(yaml)?);
    Ok(profile)
}

#[test]
fn a_40s_delay_on_a_stage1_call_times_out_stage1_on_the_virtual_clock() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.timeouts.request_ms = 30_000;
    let profile = with_fault("on: { method: SetHighAccuracyTimeSynch }\ndo: { delay: 40s }\n")?;
    let mut bench = Bench::with_env(profile, env);
    let start = bench.clock.now();
    #[expect(clippy::disallowed_methods, reason = "checks that no real time passes")]
    let wall = std::time::Instant::now();
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.outcome, Outcome::Failed, "{result:?}");
    assert_eq!(result.failed_step, Some(Step::Stage1));
    assert!(
        result
            .error
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap_or_default()
            .contains("timeout"),
        "{result:?}"
    );
    assert!(bench.clock.now().saturating_duration_since(start) >= Duration::from_secs(30));
    assert!(wall.elapsed() < Duration::from_secs(20), "no real waiting");
    assert!(
        bench
            .messages(LogFile::AmtOpMgr)
            .iter()
            .any(|m| m.starts_with("Error: First-stage provisioning"))
    );
    Ok(())
}

#[test]
fn a_dropped_connection_mid_stage2_fails_stage2() -> TestResult {
    let profile = with_fault("on: { method: SetPowerScheme }\ndo: close_connection\n")?;
    let mut bench = Bench::new(profile);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.outcome, Outcome::Failed, "{result:?}");
    assert_eq!(result.failed_step, Some(Step::Stage2));
    assert_ne!(result.amt_status, AmtStatus::Provisioned);
    assert!(
        bench
            .messages(LogFile::AmtOpMgr)
            .iter()
            .any(|m| m.starts_with("Error: Second-stage provisioning"))
    );
    Ok(())
}

#[test]
fn the_wireless_address_gives_the_a20_line() -> TestResult {
    let mut profile = DeviceProfile::default();
    profile.network.wireless = Some(serde_saphyr::from_str(
        "{ mac: \"00:16:3e:a3:7c:02\", ipv4: 127.0.0.2, dhcp: true, link_up: true }",
    )?);
    let mut bench = Bench::new(profile);
    bench.target = SocketAddr::new(IpAddr::from([127, 0, 0, 2]), bench.target.port());
    let start = bench.clock.now();
    let result = bench.run(Mode::OutOfBand);
    // Two retries (the default), 5 s apart, on the virtual clock.
    assert_eq!(
        bench.clock.now().saturating_duration_since(start),
        Duration::from_secs(10)
    );
    let connects = bench
        .events
        .events()
        .filter(|e| matches!(e, ProvisionEvent::TlsFailed { .. }))
        .count();
    assert_eq!(connects, 1, "one failure reported after the retries");
    assert_eq!(result.failed_step, Some(Step::Connect), "{result:?}");
    assert!(
        bench
            .messages(LogFile::AmtOpMgr)
            .iter()
            .any(|m| m.starts_with(A20_PREFIX))
    );
    Ok(())
}

#[test]
fn a_4096_bit_root_on_old_firmware_gives_the_a18_lines() -> TestResult {
    let mut profile = DeviceProfile {
        personality: serde_saphyr::from_str("amt-6")?,
        ..DeviceProfile::default()
    };
    profile.hashes.push(serde_saphyr::from_str(
        "{ name: root4096, algorithm: sha256, value: 6b21b09476e0ad9d077d1d1058675170e710654531b5e4e76eeb39075d202cb2, active: true }",
    )?);
    let mut bench = Bench::new(profile);
    bench.identity = identity("prov-root4096");
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.failed_step, Some(Step::TlsHandshake), "{result:?}");
    let op = bench.messages(LogFile::AmtOpMgr);
    assert!(op.iter().any(|m| m == A18_ISC), "{op:#?}");
    assert!(op.iter().any(|m| m.starts_with("**** Error 0x") && m.ends_with("returned by ApplyControlToken")));
    assert!(
        op.iter()
            .any(|m| m.starts_with("Fail to connect and get core version of machine 127.0.0.1"))
    );
    let state = bench
        .net
        .with_device(0, |d| format!("{:?}", d.provisioning_state()))
        .unwrap_or_default();
    assert!(state.contains("Pre"), "{state}");
    Ok(())
}

#[test]
fn without_the_schannel_hotfix_the_device_refuses_sp1_short_sp2_long() -> TestResult {
    for version in [ConfigMgrVersion::Sp1, ConfigMgrVersion::Sp2] {
        let mut env = Environment::default_for_tests();
        env.schannel_hotfix = false;
        env.configmgr.version = version;
        let mut bench = Bench::with_env(DeviceProfile::default(), env);
        let result = bench.run(Mode::OutOfBand);
        assert_eq!(result.failed_step, Some(Step::TlsHandshake), "{result:?}");
        let op = bench.messages(LogFile::AmtOpMgr);
        match version {
            ConfigMgrVersion::Sp1 => assert!(op.iter().any(|m| m == SP1_SHORT), "{op:#?}"),
            ConfigMgrVersion::Sp2 => assert!(
                op.iter()
                    .any(|m| m
                        .starts_with("Error: Device internal error. This may be caused by: 1.")),
                "{op:#?}"
            ),
        }
    }
    Ok(())
}

#[test]
fn the_clock_starts_inside_the_test_pki_validity() {
    let clock = VirtualClock::default();
    assert!(clock.now() > Timestamp::from_unix_secs(1_735_689_600));
}

#[test]
fn a_hello_drives_the_service_point_to_a_provisioned_device() -> TestResult {
    use amt_wire::hello::HelloPacket;
    use provisioner_core::servicepoint::{Input, ServicePoint};

    let profile = DeviceProfile::default();
    let mut env = Environment::default_for_tests();
    if let Some(c) = env.computers.first_mut() {
        c.uuid = profile.device_uuid();
    }
    let mut bench = Bench::with_env(profile, env.clone());
    let root = bench
        .identity
        .root()
        .map(|r| r.as_ref().to_vec())
        .unwrap_or_default();
    let mut sp =
        ServicePoint::with_root_certificates(env, &[root], Logs::new(LogConfig::default()));
    let hellos = bench.net.poll_hellos(bench.clock.now());
    assert_eq!(
        hellos.len(),
        1,
        "the default device sends its first Hello at once"
    );
    let mut results = Vec::new();
    for (index, beacon) in hellos {
        let packet = HelloPacket::parse(&beacon.bytes)?;
        let from = SocketAddr::new(bench.net.address(index).ok_or("address")?, 50000);
        let actions = sp.handle(Input::Hello {
            from,
            packet,
            now: bench.clock.now(),
        });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for action in &actions {
            let mut connector = bench.net.clone();
            if let Some(r) = session::run_action(
                &mut sp,
                action,
                std::slice::from_ref(&bench.identity),
                &mut connector,
                &bench.clock,
                &mut bench.directory,
                &mut bench.ca,
                &mut rng,
            ) {
                results.push(r);
            }
        }
    }
    assert_eq!(results.len(), 1);
    let result = results.first().ok_or("no session")?;
    assert_eq!(result.outcome, Outcome::Provisioned, "{result:?}");
    assert_eq!(sp.status(&result.uuid), AmtStatus::Provisioned);
    let op = sp.logs().messages(LogFile::AmtOpMgr);
    assert!(
        op.iter().any(|m| m.contains("provisioned successfully")),
        "{op:#?}"
    );
    insta::assert_snapshot!("sp2_hello_to_provisioned_amtopmgr", op.join("\n"));
    Ok(())
}

#[test]
fn a_stale_nonce_is_retried_with_the_same_account() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.accounts = vec![AmtAccount {
        user: "admin".into(),
        password: "Mebx!Pass-3".into(),
    }];
    env.timeouts.request_ms = 600_000;
    let mut profile = digest_profile("Mebx!Pass-3")?;
    profile.faults.push(serde_saphyr::from_str(
        "on: { method: GetLowAccuracyTimeSynch }\ndo: { delay: 6m }\n",
    )?);
    let mut bench = Bench::with_env(profile, env);
    let result = bench.run(Mode::OutOfBand);
    assert_provisioned(&bench, &result);
    let device_events = bench
        .net
        .with_device(0, |d| format!("{:?}", d.drain_events()))
        .unwrap_or_default();
    assert!(
        device_events.contains("Stale"),
        "the device said stale once"
    );
    let accepted = bench
        .events
        .events()
        .filter(|e| matches!(e, ProvisionEvent::Digest { ok: false, .. }))
        .count();
    assert_eq!(accepted, 0, "a stale nonce is not a refused account");
    Ok(())
}

#[test]
fn an_fqdn_over_44_bytes_on_amt_6_fails_stage1_with_the_a20_line() -> TestResult {
    let profile = DeviceProfile {
        personality: serde_saphyr::from_str("amt-6")?,
        ..DeviceProfile::default()
    };
    // ConfigMgr-era firmware asks for digest in the setup session: admin + the MEBx password.
    let mut env = Environment::default_for_tests();
    env.accounts.push(AmtAccount {
        user: "admin".into(),
        password: "admin".into(),
    });
    let mut bench = Bench::with_env(profile, env);
    bench.computer.fqdn = "a-very-long-host-name-for-amt-six-01.corp.amt-sim.test".into();
    assert!(bench.computer.fqdn.len() > 44);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.failed_step, Some(Step::Stage1), "{result:?}");
    let op = bench.messages(LogFile::AmtOpMgr);
    assert!(op.iter().any(|m| m.starts_with(A20_PREFIX)), "{op:#?}");
    Ok(())
}

#[test]
fn amt_3_0_without_the_wsman_translator_is_not_supported() -> TestResult {
    let profile = DeviceProfile {
        personality: serde_saphyr::from_str("amt-3.0")?,
        ..DeviceProfile::default()
    };
    // ConfigMgr-era firmware asks for digest in the setup session: admin + the MEBx password.
    let mut env = Environment::default_for_tests();
    env.accounts.push(AmtAccount {
        user: "admin".into(),
        password: "admin".into(),
    });
    let mut bench = Bench::with_env(profile, env);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.failed_step, Some(Step::Identify), "{result:?}");
    assert!(
        result
            .amt_version
            .as_deref()
            .is_some_and(|v| v.starts_with("3.0")),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn a_missing_ad_container_stops_before_stage1_with_the_a04_lines() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.active_directory.container_exists = false;
    let mut bench = Bench::with_env(DeviceProfile::default(), env);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.failed_step, Some(Step::Directory), "{result:?}");
    let proxy = bench.messages(LogFile::AmtProxyMgr);
    assert!(
        proxy
            .iter()
            .any(|m| m == "CActiveDirectoryUtils::CreateObject - failed to get container."),
        "{proxy:#?}"
    );
    assert!(proxy.iter().any(|m| m == "AD Task - CreateObject failed."));
    let state = bench
        .net
        .with_device(0, |d| format!("{:?}", d.provisioning_state()))
        .unwrap_or_default();
    assert!(!state.contains("Post"), "{state}");
    Ok(())
}

#[test]
fn ca_denials_give_the_a09_and_a10_lines() -> TestResult {
    let cases: [(&str, LogFile, &str); 2] = [
        (
            "template-permissions",
            LogFile::AmtOpMgr,
            "Error: Missed device certificate. To provision device with TLS server or Mutual authentication mode, device certificate is required.",
        ),
        (
            "dcom-access-denied",
            LogFile::AmtProxyMgr,
            "ERROR: ICertRequest2->Submit failed: 0x80070005",
        ),
    ];
    for (deny, file, line) in cases {
        let mut env = Environment::default_for_tests();
        env.enterprise_ca.deny = Some(serde_saphyr::from_str(deny)?);
        let mut bench = Bench::with_env(DeviceProfile::default(), env);
        let result = bench.run(Mode::OutOfBand);
        assert_eq!(
            result.failed_step,
            Some(Step::Certificate),
            "{deny}: {result:?}"
        );
        let messages = bench.messages(file);
        assert!(messages.iter().any(|m| m == line), "{deny}: {messages:#?}");
    }
    Ok(())
}

#[test]
fn an_unreachable_crl_fails_stage2_on_sp2_with_the_a19_lines() -> TestResult {
    let mut env = Environment::default_for_tests();
    env.enterprise_ca.crl_reachable = false;
    let mut bench = Bench::with_env(DeviceProfile::default(), env);
    let result = bench.run(Mode::OutOfBand);
    assert_eq!(result.failed_step, Some(Step::Stage2), "{result:?}");
    let op = bench.messages(LogFile::AmtOpMgr);
    assert!(
        op.iter()
            .any(|m| m == "Description: A security error occurred"),
        "{op:#?}"
    );
    assert!(op.iter().any(|m| m == "Error code: 0x80072F8F"));
    assert!(
        result.admin_password.is_some(),
        "stage 1 committed: the password is reported"
    );
    Ok(())
}

#[test]
fn in_band_end_to_end_client_agent_site_server_and_session() -> TestResult {
    use amt_wire::thumbprint::HashAlgorithm;
    use provisioner_core::client_agent::start_inband;
    use provisioner_core::servicepoint::{Input, ServicePoint};

    let profile = inband_profile();
    let mut env = Environment::default_for_tests();
    if let Some(c) = env.computers.first_mut() {
        c.uuid = profile.device_uuid();
        c.client_installed = true;
        // In band there is no Hello: the site server resolves the computer's name.
        c.wired_ip = Some(IpAddr::from([127, 0, 0, 1]));
    }
    let mut bench = Bench::with_env(profile, env.clone());
    let root = bench
        .identity
        .root()
        .map(|r| r.as_ref().to_vec())
        .unwrap_or_default();
    let roots = [HashAlgorithm::Sha256].map(|a| amt_wire::thumbprint::Thumbprint::of_der(a, &root));
    let now = bench.clock.now();
    // The client agent on the host: hashes over HECI, OTP generated and set, interface opened.
    let hashes: Vec<_> = bench
        .net
        .with_device(0, |d| d.heci_get_hashes(now))
        .ok_or("no device")?
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|h| h.active)
        .map(|h| h.thumbprint)
        .collect();
    let mut client_logs = Logs::new(LogConfig::default());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let computer = env.computers.first().cloned().ok_or("no computer")?;
    let start = start_inband(&computer, &roots, &hashes, &mut rng, &mut client_logs, now)?;
    bench
        .net
        .with_device(0, |d| {
            d.heci_set_otp(&start.otp, now)
                .and_then(|()| d.heci_start_configuration(now))
                .map_err(|e| e.to_string())
        })
        .ok_or("no device")??;
    // The site server and the service point.
    let mut sp =
        ServicePoint::with_root_certificates(env, &[root], Logs::new(LogConfig::default()));
    let actions = sp.handle(Input::InBandRequest {
        uuid: start.request.uuid,
        otp_hash: start.request.otp_hash,
        now,
    });
    assert_eq!(
        actions.len(),
        1,
        "{:#?}",
        sp.logs().messages(LogFile::AmtOpMgr)
    );
    let mut results = Vec::new();
    for action in &actions {
        let mut connector = bench.net.clone();
        results.extend(session::run_action(
            &mut sp,
            action,
            std::slice::from_ref(&bench.identity),
            &mut connector,
            &bench.clock,
            &mut bench.directory,
            &mut bench.ca,
            &mut rng,
        ));
    }
    let result = results.first().ok_or("no session")?;
    assert_eq!(result.outcome, Outcome::Provisioned, "{result:?}");
    assert_eq!(sp.status(&result.uuid), AmtStatus::Provisioned);
    Ok(())
}

/// The example environment shipped for users (`examples/env/default.yaml`) provisions the default
/// device end to end, stage 2 included (its ACL entry uses realm 14, Firmware Update).
#[test]
fn the_shipped_example_environment_provisions_the_default_device() -> TestResult {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../provisioner-core/examples/env");
    let text = std::fs::read_to_string(dir.join("default.yaml"))?;
    let env = Environment::from_yaml(&text, &dir)?;
    assert!(
        env.stage2.acl.iter().any(|u| u.realms.contains(&14)),
        "the example still exercises realm 14"
    );
    let mut bench = Bench::with_env(DeviceProfile::default(), env);
    let result = bench.run(Mode::OutOfBand);
    assert_provisioned(&bench, &result);
    Ok(())
}
