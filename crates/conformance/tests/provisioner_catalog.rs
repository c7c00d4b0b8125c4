//! One test per failure-catalog entry A-01…A-20 (`reference/error-catalog.md` §3): each entry is
//! produced by an environment and/or device setting (YAML under `tests/provisioner_catalog_data/`, read with
//! `Environment::from_yaml` / `DeviceProfile::from_yaml`), run end to end in-process on a virtual
//! clock, and checked for the documented log line(s), the failing step, the device's end state and
//! what the wire did.
//!
//! | Entry | Setting that produces it | Log file | Test |
//! | --- | --- | --- | --- |
//! | A-01 | env `provisioning_certificates: []` (validation refuses); computer `heci_driver: false` | — (no documented line) | `a01_prerequisites_missing` |
//! | A-02 | env `schannel_hotfix: false`, `configmgr.version: sp1` / `sp2` | amtopmgr.log | `a02_schannel_hotfix_overwritten` |
//! | A-03 | (a) device: no DHCP option 15 / MEBx domain (server by IP); (b) device DNS without `provisionserver` + env alias `not-registered`; (c) computer `wired_ip` nobody owns (connect timeout: A-20 text on SP2, the A-02 short text on SP1) | amtopmgr.log | `a03_dns_dhcp_misconfigured` |
//! | A-04 | env `active_directory.container_exists: false` | amtproxymgr.log | `a04_ad_container_missing` |
//! | A-05 | env `active_directory.disjoint_namespace: true` | — (no documented line) | `a05_disjoint_namespace_unsupported` |
//! | A-06 | env `site_mode: mixed`, computer `client_installed`, `client_approved: false` | amtopmgr.log | `a06_inband_client_not_approved` |
//! | A-07 | none: console UI state (GAP, no knob) | — | `a07_provisioning_cert_option_on_child_site` |
//! | A-08 | device `personality: amt-3.0`, env `wsman_translator: false` | — (no documented line) | `a08_amt_version_not_natively_supported` |
//! | A-09 | env `enterprise_ca.deny: template-permissions` | amtopmgr.log | `a09_web_cert_template_permissions` |
//! | A-10 | env `enterprise_ca.deny: dcom-access-denied` | amtproxymgr.log | `a10_ca_dcom_access_denied` |
//! | A-11 | device `hashes:` without the provisioning root | amtopmgr.log | `a11_oob_hello_hash_not_in_amt_list` |
//! | A-12 | device `hashes:` without the root, in-band (computer `client_installed`) | oobmgmt.log | `a12_inband_no_valid_hash_match` |
//! | A-13 | computer `auto_provision: false`, in-band | — (no documented line) | `a13_inband_collection_not_enabled` |
//! | A-14 | env `configmgr.version: sp1`, computer `previously_discovered: true` | — (no documented line) | `a14_inband_previously_discovered_sitecode_missing` |
//! | A-15 | env `dns.provision_server_alias: registered-before-service-point`, device DNS without `provisionserver` | amtopmgr.log | `a15_provisionserver_dns_alias_not_registered` |
//! | A-16 | device `provisioning.state: post` with an unknown admin password (no Hello: the session is driven from the imported record; TLS with the device's management certificate, 401 on every account, Detected); variant: device `setup_auth: digest` + a MEBx password no account knows → 401 on every account, Detected | — (no documented line) | `a16_provisioned_by_other_solution` |
//! | A-17 | env `enterprise_ca.revocation_denied: true`, removal path (`Action::Unprovision` then runs against the device: back to Pre) | amtproxymgr.log | `a17_site_server_cannot_revoke_certs` |
//! | A-18 | env provisioning chain `prov-root4096`, device `personality: amt-6` trusting that root | amtopmgr.log (`logs.a18_file`) | `a18_root_ca_key_over_2048` |
//! | A-19 | env `enterprise_ca.crl_reachable: false` (SP2): stage 2 of provisioning and the removal path | amtopmgr.log | `a19_crl_check_failed_winrm` |
//! | A-20 | env `dns.resolve_to: wireless` + device wireless NIC; device `personality: amt-6` + computer FQDN > 44 bytes | amtopmgr.log | `a20_wireless_provision_not_supported` |
//!
//! Lines marked `// GAP:` assert what the code does today where it lacks a knob or a code path.

mod catalog_support;

use std::time::Duration;

use amt_sim::events::EventKind;
use catalog_support::{
    BoxError, HelloFate, Site, http_requests, load_env, op_suffix, proxy_suffix, tls_refusals,
};
use provisioner_core::clock::Clock as _;
use provisioner_core::env::{ConfigMgrVersion, Environment};
use provisioner_core::events::{AmtStatus, DiscardReason, Outcome, ProvisionEvent, Step};
use provisioner_core::logs::{self, LogFile};
use provisioner_core::servicepoint::Action;

type TestResult = Result<(), BoxError>;

const UUID: &str = "8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d";

const SP1_SHORT: &str = "Error: Device internal error. Check Schannel, provision certificate, network configuration, device.";
const SP2_LONG: &str = "Error: Device internal error. This may be caused by: 1. Schannel hotfix applied that can send our root certificate in provisioning certificate chain. 2. incorrect network configuration(DHCP option 6 and 15 required for AMT firmware). 3. AMT firmware self signed certificate issue(date zero). 4. AMT firmware is not ready for PKI provisioning. Check network interface is opening and AMT is in PKI mode. 5. Service point is trying to establish connection with wireless IP address of AMT firmware but wireless management has NOT enabled yet. AMT firmware doesn't support provision through wireless connection.";
const A04_CONTAINER: &str = "CActiveDirectoryUtils::CreateObject - failed to get container.";
const A04_CREATE: &str = "AD Task - CreateObject failed.";
const A06: &str = "Error: Cannot provision computer in-band because the Configuration Manager client is not approved.";
const A09: &str = "Error: Missed device certificate. To provision device with TLS server or Mutual authentication mode, device certificate is required.";
const A10: &str = "ERROR: ICertRequest2->Submit failed: 0x80070005";
const A12: &str = "None certificate is valid between device and server certificate hash.";
const A15_INSTRUCTION: &str = "Unable to create instruction file for AMT Proxy task: C:\\Program Files\\Microsoft Configuration Manager\\MP\\OUTBOXES\\Amtproxy.box";
const A18_ISC: &str = "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.";
const A19_DESCRIPTION: &str = "Description: A security error occurred";
const A19_CODE: &str = "Error code: 0x80072F8F";
const A20: &str = "Error: Can not finish WSMAN call with target device. 1. Check if there is a winhttp proxy to block connection. 2. Service point is trying to establish connection with wireless IP address of AMT firmware but wireless management has NOT enabled yet. AMT firmware doesn't support provision through wireless connection. 3. For greater than 3.x AMT, there is a known issue in AMT firmware that WSMAN will fail with FQDN longer than 44 bytes.";

/// Every documented (catalog) message text, for "no documented line was written" checks.
fn documented(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| logs::match_message(m).is_some_and(|(text, _)| text.id.starts_with("A-")))
        .cloned()
        .collect()
}

fn has(messages: &[String], line: &str) -> bool {
    messages.iter().any(|m| m == line)
}

/// Reasons of the connections the device refused.
fn refused_connections(events: &[EventKind]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::ConnectionRefused { reason, .. } => Some(reason.id().to_owned()),
            _ => None,
        })
        .collect()
}

fn provision_started(site: &Site) -> usize {
    site.sp_events()
        .iter()
        .filter(|e| matches!(e, ProvisionEvent::ProvisionStarted { .. }))
        .count()
}

#[test]
fn baseline_site_provisions_from_the_first_hello() -> TestResult {
    let mut site = Site::load("baseline")?;
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.outcome, Outcome::Provisioned, "{result:?}");
    assert!(site.device_state().contains("Post"));
    assert!(documented(&site.messages(LogFile::AmtOpMgr)).is_empty());
    Ok(())
}

#[test]
fn a01_prerequisites_missing() -> TestResult {
    // A-01 has no log line of its own: it is the generic "walk the prerequisites" check, and a
    // missing prerequisite shows up as one of the later entries. What the code checks itself:
    // (1) environment validation refuses a site without an AMT provisioning certificate.
    let err = load_env("a01")
        .err()
        .ok_or("a site without a certificate was accepted")?;
    assert!(
        err.to_string()
            .contains("provisioning_certificates: at least one is needed"),
        "{err}"
    );
    // (2) the in-band client agent refuses a host without the HECI (MEI) driver: no OTP, no
    // request to the site server, no connection to the device.
    let mut site = Site::load("a01-heci")?;
    let refusal = site
        .in_band()?
        .err()
        .ok_or("in-band started without a HECI driver")?;
    assert_eq!(refusal.id(), "client/heci-missing");
    assert!(documented(&site.messages(LogFile::OobMgmt)).is_empty());
    assert!(documented(&site.messages(LogFile::AmtOpMgr)).is_empty());
    assert_eq!(provision_started(&site), 0);
    assert!(tls_refusals(&site.device_events()).is_empty(), "no TLS");
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a02_schannel_hotfix_overwritten() -> TestResult {
    for (name, version, text) in [
        ("a02-sp1", ConfigMgrVersion::Sp1, SP1_SHORT),
        ("a02-sp2", ConfigMgrVersion::Sp2, SP2_LONG),
    ] {
        let mut site = Site::load(name)?;
        assert_eq!(site.sp.env().configmgr.version, version);
        site.hello_round()?;
        let result = site.result()?;
        assert_eq!(result.outcome, Outcome::Failed, "{name}: {result:?}");
        assert_eq!(result.failed_step, Some(Step::TlsHandshake), "{name}");
        let op = site.messages(LogFile::AmtOpMgr);
        assert!(has(&op, text), "{name}: {op:#?}");
        // Only the text of this service pack.
        let other = if text == SP1_SHORT {
            SP2_LONG
        } else {
            SP1_SHORT
        };
        assert!(!has(&op, other), "{name}");
        // Wire: TCP + TLS reached the device, which refused the chain without its root; no HTTP.
        let events = site.device_events();
        assert_eq!(
            tls_refusals(&events),
            vec![Some("root-not-presented".to_owned())],
            "{name}"
        );
        assert_eq!(http_requests(&events), 0, "{name}");
        assert!(site.device_state().contains("Pre"), "{name}");
        assert_eq!(result.amt_status, AmtStatus::NotProvisioned);
    }
    Ok(())
}

#[test]
fn a03_dns_dhcp_misconfigured() -> TestResult {
    // (a) No DHCP option 15 (and no MEBx domain): the device has no DNS suffix to match the
    // provisioning certificate's CN, so it refuses the handshake; same two texts as A-02.
    // The device found the service point by an IP typed into MEBx, so its Hello arrives.
    for (name, text) in [("a03-sp1", SP1_SHORT), ("a03-sp2", SP2_LONG)] {
        let mut site = Site::load(name)?;
        // GAP: the environment's `dhcp:` section is descriptive only; what the device actually
        // received is its profile's `network.dhcp` (nothing copies one into the other).
        assert_eq!(site.sp.env().dhcp.option_15, None);
        site.hello_round()?;
        assert_eq!(site.hellos, vec![HelloFate::Delivered], "{name}");
        assert_eq!(site.failed_step()?, Some(Step::TlsHandshake), "{name}");
        let op = site.messages(LogFile::AmtOpMgr);
        assert!(has(&op, text), "{name}: {op:#?}");
        let events = site.device_events();
        assert_eq!(
            tls_refusals(&events),
            vec![Some("no-domain-suffix".to_owned())],
            "{name}"
        );
        assert_eq!(http_requests(&events), 0);
        assert!(site.device_state().contains("Pre"));
    }
    // (c) DHCP did not register the host record: the service point connects to a stale address
    // (nobody answers), retries, and gives up at the connect step.
    for (name, version) in [
        ("a03-host-sp1", ConfigMgrVersion::Sp1),
        ("a03-host-sp2", ConfigMgrVersion::Sp2),
    ] {
        let mut site = Site::load(name)?;
        let actions = site.hello_round()?;
        let stale: std::net::IpAddr = "192.0.2.99".parse()?;
        assert!(
            matches!(&actions[..], [Action::Provision { target, .. }] if target.ip() == stale),
            "{actions:?}"
        );
        assert_eq!(site.failed_step()?, Some(Step::Connect), "{name}");
        // Three unanswered SYNs (10 s connect timeout) and two 5 s pauses, on the virtual clock.
        assert_eq!(
            site.clock
                .now()
                .saturating_duration_since(catalog_support::T0),
            Duration::from_secs(40),
            "{name}"
        );
        // Wire: nothing reached the device (no TCP, no TLS, no HTTP).
        let events = site.device_events();
        assert!(
            tls_refusals(&events).is_empty() && http_requests(&events) == 0,
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, EventKind::ConnectionRefused { .. })),
            "{events:?}"
        );
        let op = site.messages(LogFile::AmtOpMgr);
        // The catalog gives A-03 the A-02 texts (SP1 short / SP2 long), and A-20 the same wire
        // (TCP connect to an address without a listener / timeout) on SP2: the service point only
        // sees a connect timeout and cannot tell the two apart. Decision (session module doc):
        // SP2 writes A-20 (the entry whose wire is the TCP connect; the long A-02 text is the
        // TLS-time error); SP1 has no A-20 (no wireless support), so A-03 (c)'s short text.
        let ids = site.sp.logs().ids(LogFile::AmtOpMgr);
        assert!(!ids.contains(&"tls.failed"), "{ids:?}");
        assert!(!has(&op, SP2_LONG), "{name}: {op:#?}");
        match version {
            ConfigMgrVersion::Sp1 => {
                assert!(has(&op, SP1_SHORT), "{op:#?}");
                assert!(!has(&op, A20), "{op:#?}");
            }
            ConfigMgrVersion::Sp2 => {
                assert!(has(&op, A20), "{op:#?}");
                assert!(!has(&op, SP1_SHORT), "{op:#?}");
            }
        }
        assert!(site.device_state().contains("Pre"));
    }
    // (b) No ProvisionServer alias: the device's lookup fails, no Hello ever reaches the service
    // point, nothing is provisioned and nothing documented is logged.
    let mut site = Site::load("a03-alias")?;
    site.hellos_for(Duration::from_secs(3600))?;
    assert!(site.hellos.len() > 1, "the device keeps trying");
    assert!(
        site.hellos
            .iter()
            .all(|h| matches!(h, HelloFate::Unresolved(t) if t.starts_with("provisionserver.corp.amt-sim.test"))),
        "{:?}",
        site.hellos
    );
    assert_eq!(provision_started(&site), 0);
    assert!(site.results.is_empty());
    assert!(documented(&site.messages(LogFile::AmtOpMgr)).is_empty());
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a04_ad_container_missing() -> TestResult {
    let mut site = Site::load("a04")?;
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::Directory), "{result:?}");
    let proxy = site.messages(LogFile::AmtProxyMgr);
    assert!(has(&proxy, A04_CONTAINER), "{proxy:#?}");
    assert!(has(&proxy, A04_CREATE), "{proxy:#?}");
    // The lines are in amtproxymgr.log only (SMS_AMT_PROXY_COMPONENT).
    let op = site.messages(LogFile::AmtOpMgr);
    assert!(!has(&op, A04_CONTAINER) && !has(&op, A04_CREATE));
    let lines = site.lines(LogFile::AmtProxyMgr);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(A04_CONTAINER) && l.contains("$$<SMS_AMT_PROXY_COMPONENT><")),
        "{lines:#?}"
    );
    // Wire: TLS and digest succeeded, then it stopped before stage 1 (no commit).
    let events = site.device_events();
    assert_eq!(tls_refusals(&events), vec![None]);
    assert!(http_requests(&events) > 0);
    assert!(!site.device_state().contains("Post"));
    assert!(site.directory.account("AMT-DEVICE-01$iME").is_none());
    Ok(())
}

#[test]
fn a05_disjoint_namespace_unsupported() -> TestResult {
    // A-05 has no log line ("Log: none given"). The code refuses the configuration in the
    // directory model: with a disjoint namespace no AMT account is created.
    let env = load_env("a05")?;
    assert!(env.active_directory.disjoint_namespace);
    let mut directory = provisioner_core::directory::Directory::from_env(&env.active_directory);
    let err = directory
        .create_computer_account(
            "AMT-DEVICE-01",
            "amt-device-01.corp.amt-sim.test",
            catalog_support::T0,
        )
        .err()
        .ok_or("a disjoint namespace was accepted")?;
    assert_eq!(err.id(), "ad/disjoint-namespace");
    // End to end the session stops at the directory step, before stage 1, and writes no
    // documented catalog line.
    let mut site = Site::load("a05")?;
    site.hello_round()?;
    assert_eq!(site.failed_step()?, Some(Step::Directory));
    for file in LogFile::ALL {
        assert!(documented(&site.messages(file)).is_empty(), "{file:?}");
    }
    assert!(!site.device_state().contains("Post"));
    Ok(())
}

#[test]
fn a06_inband_client_not_approved() -> TestResult {
    let mut site = Site::load("a06")?;
    let actions = site.in_band()?.map_err(|e| e.to_string())?;
    assert_eq!(
        actions,
        vec![],
        "the site server refuses before any session"
    );
    // The full framed line (SMS trace format) in amtopmgr.log.
    let lines = site.lines(LogFile::AmtOpMgr);
    assert_eq!(
        lines,
        vec![format!("{A06}{}", op_suffix("01-15-2027 00:00:00.000"))]
    );
    assert!(site.sp_events().iter().any(|e| matches!(
        e,
        ProvisionEvent::InBandRequest {
            accepted: false,
            ..
        }
    )));
    // Wire: nothing towards AMT.
    let events = site.device_events();
    assert!(tls_refusals(&events).is_empty());
    assert_eq!(http_requests(&events), 0);
    assert!(!site.device_state().contains("Post"));
    // A-06 is SP2 only: the same unapproved client on an SP1 site is provisioned in band.
    let mut env = load_env("a06")?;
    env.configmgr.version = ConfigMgrVersion::Sp1;
    let mut site = Site::new(env, catalog_support::load_profile("a06")?)?;
    let actions = site.in_band()?.map_err(|e| e.to_string())?;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(!has(&site.messages(LogFile::AmtOpMgr), A06));
    assert_eq!(site.result()?.outcome, Outcome::Provisioned);
    assert!(site.device_state().contains("Post"));
    Ok(())
}

#[test]
fn a07_provisioning_cert_option_on_child_site() -> TestResult {
    // A-07 is console UI state (the option is greyed out for a child primary site); there is no
    // run-time symptom and no log line.
    // GAP: the environment has no parent/child site hierarchy, so the code has nothing to check:
    // the setting that would express it is refused as an unknown key.
    let yaml = "configmgr:\n  version: sp2\n  parent_site: P01\n";
    let err = Environment::from_yaml(yaml, &catalog_support::repo_root())
        .err()
        .ok_or("parent_site is not a known setting")?;
    assert_eq!(err.id(), "env/yaml");
    assert!(err.to_string().contains("parent_site"), "{err}");
    Ok(())
}

#[test]
fn a08_amt_version_not_natively_supported() -> TestResult {
    // No log line is documented for A-08. AMT 3.0 without the WS-MAN translator option stops
    // after the version is read (identify step), before the directory and stage 1.
    let mut site = Site::load("a08")?;
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::Identify), "{result:?}");
    assert!(
        result
            .amt_version
            .as_deref()
            .is_some_and(|v| v.starts_with("3.0")),
        "{result:?}"
    );
    for file in LogFile::ALL {
        assert!(documented(&site.messages(file)).is_empty(), "{file:?}");
    }
    assert!(!site.device_state().contains("Post"));
    // With the translator enabled the same device gets past the version check.
    let mut env = load_env("a08")?;
    env.wsman_translator = true;
    let mut site = Site::new(env, catalog_support::load_profile("a08")?)?;
    site.hello_round()?;
    assert_ne!(site.failed_step()?, Some(Step::Identify));
    Ok(())
}

/// share their shape: the CA refuses the web server certificate request.
fn ca_denied(name: &str, file: LogFile, line: &str) -> TestResult {
    let mut site = Site::load(name)?;
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::Certificate), "{result:?}");
    let messages = site.messages(file);
    assert!(has(&messages, line), "{messages:#?}");
    let other = if file == LogFile::AmtOpMgr {
        LogFile::AmtProxyMgr
    } else {
        LogFile::AmtOpMgr
    };
    assert!(!has(&site.messages(other), line));
    assert!(
        site.sp_events()
            .iter()
            .any(|e| matches!(e, ProvisionEvent::Ca { error: Some(_), .. }))
    );
    // TLS and digest went through; no certificate to store → no stage 1 → not provisioned.
    assert_eq!(tls_refusals(&site.device_events()), vec![None]);
    assert!(!site.device_state().contains("Post"));
    assert_eq!(result.web_cert_serial, None);
    Ok(())
}

#[test]
fn a09_web_cert_template_permissions() -> TestResult {
    ca_denied("a09", LogFile::AmtOpMgr, A09)
}

#[test]
fn a10_ca_dcom_access_denied() -> TestResult {
    ca_denied("a10", LogFile::AmtProxyMgr, A10)
}

#[test]
fn a11_oob_hello_hash_not_in_amt_list() -> TestResult {
    let mut site = Site::load("a11")?;
    site.hellos_for(Duration::from_secs(3600))?;
    let delivered = site
        .hellos
        .iter()
        .filter(|h| **h == HelloFate::Delivered)
        .count();
    assert!(delivered > 1, "AMT keeps re-sending Hellos on its schedule");
    let line = format!(
        "Error: The hash list of AMT device {UUID} does not contain the provisioning server certificate hash."
    );
    let op = site.messages(LogFile::AmtOpMgr);
    assert_eq!(
        op.iter().filter(|m| **m == line).count(),
        delivered,
        "{op:#?}"
    );
    // The first one, framed, at the first Hello.
    assert!(
        site.lines(LogFile::AmtOpMgr)
            .contains(&format!("{line}{}", op_suffix("01-15-2027 00:00:00.000")))
    );
    let discarded = site
        .sp_events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                ProvisionEvent::HelloDiscarded {
                    reason: DiscardReason::HashMismatch,
                    ..
                }
            )
        })
        .count();
    assert_eq!(discarded, delivered);
    // Wire: no TLS connection is attempted.
    assert_eq!(provision_started(&site), 0);
    assert!(site.results.is_empty());
    assert!(tls_refusals(&site.device_events()).is_empty());
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a12_inband_no_valid_hash_match() -> TestResult {
    let mut site = Site::load("a12")?;
    let refusal = site
        .in_band()?
        .err()
        .ok_or("in-band started despite the hash mismatch")?;
    assert_eq!(refusal.id(), "client/no-valid-hash");
    assert_eq!(site.messages(LogFile::OobMgmt), vec![A12.to_owned()]);
    // CCM/CMTrace framing, error type 3.
    assert_eq!(
        site.lines(LogFile::OobMgmt),
        vec![format!(
            "<![LOG[{A12}]LOG]!><time=\"00:00:00.000+480\" date=\"01-15-2027\" component=\"OobMgmt\" context=\"\" type=\"3\" thread=\"2724\" file=\"\">"
        )]
    );
    assert!(!has(&site.messages(LogFile::AmtOpMgr), A12));
    // Wire: the client stops before the OTP: no request to the site server, no TLS.
    assert!(
        !site
            .sp_events()
            .iter()
            .any(|e| matches!(e, ProvisionEvent::InBandRequest { .. }))
    );
    assert!(tls_refusals(&site.device_events()).is_empty());
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a13_inband_collection_not_enabled() -> TestResult {
    // No log line: the console column "Automatic AMT Provisioning" shows Disabled. The client
    // has no policy and does nothing; the site server would refuse a request anyway.
    let mut site = Site::load("a13")?;
    let refusal = site
        .in_band()?
        .err()
        .ok_or("in-band started without a policy")?;
    assert_eq!(refusal.id(), "client/not-enabled");
    let uuid = amt_wire::hello::DeviceUuid::parse(UUID)?;
    let now = site.clock.now();
    let actions = site
        .sp
        .handle(provisioner_core::servicepoint::Input::InBandRequest {
            uuid,
            otp_hash: [7; 32],
            now,
        });
    assert_eq!(actions, vec![]);
    // Nothing documented: the client logs nothing, the site server only notes the request.
    assert!(site.messages(LogFile::OobMgmt).is_empty());
    assert!(site.messages(LogFile::AmtOpMgr).is_empty());
    assert_eq!(
        site.sp.logs().ids(LogFile::AmtProxyMgr),
        vec!["inband.request"]
    );
    assert!(tls_refusals(&site.device_events()).is_empty());
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a14_inband_previously_discovered_sitecode_missing() -> TestResult {
    // SP1 defect, no log line given. The imported record lacks the site code: the Hello is
    // dropped and nothing happens.
    let mut site = Site::load("a14")?;
    site.hello_round()?;
    assert_eq!(site.hellos, vec![HelloFate::Delivered]);
    assert!(site.sp_events().iter().any(|e| matches!(
        e,
        ProvisionEvent::HelloDiscarded {
            reason: DiscardReason::NoSiteCode,
            ..
        }
    )));
    assert_eq!(provision_started(&site), 0);
    assert!(documented(&site.messages(LogFile::AmtOpMgr)).is_empty());
    assert!(tls_refusals(&site.device_events()).is_empty());
    assert!(site.device_state().contains("Pre"));
    // Fixed in SP2: the same computer provisions.
    let mut env = load_env("a14")?;
    env.configmgr.version = ConfigMgrVersion::Sp2;
    let mut site = Site::new(env, catalog_support::load_profile("a14")?)?;
    site.hello_round()?;
    assert_eq!(site.result()?.outcome, Outcome::Provisioned);
    Ok(())
}

#[test]
fn a15_provisionserver_dns_alias_not_registered() -> TestResult {
    let mut site = Site::load("a15")?;
    site.start_up();
    let s = op_suffix("01-15-2027 00:00:00.000");
    assert_eq!(
        site.lines(LogFile::AmtOpMgr),
        vec![
            format!(
                "Send request to AMT proxy component to add the alias ProvisionServer.corp.amt-sim.test in the DNS. The machine\u{2019}s FQDN is oobsp.corp.amt-sim.test>{s}"
            ),
            format!("{A15_INSTRUCTION}{s}"),
        ]
    );
    // Wire: AMT's lookup of ProvisionServer.<suffix> gets no answer: no Hello arrives.
    site.hellos_for(Duration::from_secs(3600))?;
    assert!(site.hellos.len() > 1);
    assert!(
        site.hellos
            .iter()
            .all(|h| matches!(h, HelloFate::Unresolved(_)))
    );
    assert!(
        !site
            .sp_events()
            .iter()
            .any(|e| matches!(e, ProvisionEvent::HelloReceived { .. }))
    );
    assert!(site.results.is_empty());
    assert!(tls_refusals(&site.device_events()).is_empty());
    assert!(site.device_state().contains("Pre"));
    Ok(())
}

#[test]
fn a16_provisioned_by_other_solution() -> TestResult {
    // No log line is documented for A-16; the console status typically shows Detected.
    // (1) The device setting for the cause: already post-provisioning with an admin password the
    // site does not know. Such a device sends no Hello.
    let mut site = Site::load("a16")?;
    assert!(site.device_state().contains("Post"));
    site.hello_round()?;
    assert!(site.hellos.is_empty(), "{:?}", site.hellos);
    // ConfigMgr contacts an already-provisioned device without a Hello only from an imported
    // record (there is no Hello-less discovery), so the session is driven directly here, as
    // `amt-provision --device` does. The device, set up by the other solution, has TLS on 16993
    // with its own management certificate (no client certificate asked) and checks digest
    // against ITS admin password: every configured account gets HTTP 401 → Detected.
    let env = site.sp.env().clone();
    let computer = env.computers.first().cloned().ok_or("no computer")?;
    let action = Action::Provision {
        uuid: computer.uuid,
        target: std::net::SocketAddr::new(site.device_ip(), computer.tls_port),
        fqdn: computer.fqdn.clone(),
        mode: provisioner_core::servicepoint::Mode::OutOfBand,
        cert_index: 0,
    };
    site.run_actions(&[action]);
    let result = site.result()?.clone();
    assert_eq!(result.outcome, Outcome::Failed, "{result:?}");
    assert_eq!(result.failed_step, Some(Step::Digest), "{result:?}");
    assert_eq!(result.amt_status, AmtStatus::Detected);
    assert!(
        result.device_setup_cert_sha256.is_some(),
        "TLS was established"
    );
    let digest: Vec<bool> = site
        .sp_events()
        .iter()
        .filter_map(|e| match e {
            ProvisionEvent::Digest { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect();
    assert_eq!(digest.len(), env.accounts.len(), "one try per account");
    assert!(digest.iter().all(|ok| !ok), "{digest:?}");
    let events = site.device_events();
    assert!(refused_connections(&events).is_empty(), "{events:?}");
    // Every handshake was a management session the device accepted (no setup TLS, no refusal).
    assert!(
        !tls_refusals(&events).is_empty() && tls_refusals(&events).iter().all(Option::is_none),
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| !matches!(
            e,
            EventKind::TlsHandshake { session, verdict, .. }
                if *session != amt_sim::events::TlsSession::Management || *verdict != amt_sim::events::TlsVerdict::Ok
        )),
        "{events:?}"
    );
    // Each account's digest answer was wrong for the device's admin password: HTTP 401.
    let wrong = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                EventKind::AuthFailed {
                    reason: amt_sim::events::AuthFailure::Wrong,
                    ..
                }
            )
        })
        .count();
    assert_eq!(wrong, digest.len(), "{events:?}");
    assert!(
        events.iter().all(|e| !matches!(
            e,
            EventKind::HttpRequest { status, .. } if *status != 401
        )),
        "{events:?}"
    );
    for file in LogFile::ALL {
        assert!(documented(&site.messages(file)).is_empty(), "{file:?}");
    }
    assert!(
        site.device_state().contains("Post"),
        "the other solution's setup stays"
    );

    // (2) The other solution changed the MEBx password of a device still in setup (digest in
    // the setup session): every configured account gets HTTP 401 → Detected.
    let mut site = Site::load("a16-mebx")?;
    site.hello_round()?;
    let result = site.result()?.clone();
    assert_eq!(result.failed_step, Some(Step::Digest), "{result:?}");
    assert_eq!(result.amt_status, AmtStatus::Detected);
    let digest: Vec<bool> = site
        .sp_events()
        .iter()
        .filter_map(|e| match e {
            ProvisionEvent::Digest { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect();
    assert_eq!(
        digest.len(),
        site.sp.env().accounts.len(),
        "one try per account"
    );
    assert!(digest.iter().all(|ok| !ok), "{digest:?}");
    let auth_failures = site
        .device_events()
        .iter()
        .filter(|e| matches!(e, EventKind::AuthFailed { .. }))
        .count();
    assert!(auth_failures >= digest.len(), "{auth_failures}");
    for file in LogFile::ALL {
        assert!(documented(&site.messages(file)).is_empty(), "{file:?}");
    }
    assert!(!site.device_state().contains("Post"));
    Ok(())
}

#[test]
fn a17_site_server_cannot_revoke_certs() -> TestResult {
    // Provisioned first (revocation rights do not matter for issuing), then the admin removes
    // the provisioning data: the revocation is denied.
    let mut site = Site::load("a17")?;
    site.hello_round()?;
    let result = site.result()?.clone();
    assert_eq!(result.outcome, Outcome::Provisioned, "{result:?}");
    let serial = result.web_cert_serial.clone().ok_or("no web certificate")?;
    // The removal ten minutes after T0 (the session took less than that on the virtual clock).
    let removal_at = catalog_support::T0 + Duration::from_secs(600);
    assert!(site.clock.now() < removal_at);
    site.clock.advance_to(removal_at);
    let actions = site.sp.remove_provisioning(
        &result.uuid,
        &mut site.directory,
        &mut site.ca,
        Some(&serial),
        removal_at,
    );
    let proxy = site.messages(LogFile::AmtProxyMgr);
    let revoke = format!(
        "Error: CCAUtils::RevokeCertificate failed to revoke certificate {serial} with 0x80070005"
    );
    let existed =
        format!("Error: CCAUtils::RevokeExistedCertificate failed to revoke certificate {serial}.");
    assert!(has(&proxy, &revoke), "{proxy:#?}");
    assert!(has(&proxy, &existed), "{proxy:#?}");
    // Framed in amtproxymgr.log (08:10:00 UTC = 00:10:00 local at bias +480).
    let s = proxy_suffix("01-15-2027 00:10:00.000");
    let lines = site.lines(LogFile::AmtProxyMgr);
    assert!(lines.contains(&format!("{revoke}{s}")), "{lines:#?}");
    assert!(lines.contains(&format!("{existed}{s}")), "{lines:#?}");
    assert!(!site.ca.is_revoked(&serial));
    // Wire: no AMT traffic for the revocation; the removal itself is handed on as an action.
    assert!(
        matches!(&actions[..], [Action::Unprovision { .. }]),
        "{actions:?}"
    );
    // The removal reaches the device (the denied revocation does not stop it): TLS with the
    // device's management certificate, digest as admin with the password the provisioning
    // session set (recorded by the service point), `Unprovision(1)` → back to Pre.
    assert_eq!(
        site.sp.admin_password(&result.uuid),
        result.admin_password.as_deref()
    );
    let _ = site.device_events();
    site.run_actions(&actions);
    assert_eq!(
        site.results.len(),
        1,
        "a removal is not a provisioning session"
    );
    assert!(
        site.device_state().contains("Pre"),
        "{}",
        site.device_state()
    );
    let events = site.device_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            EventKind::HttpRequest { action: Some(a), class: Some(c), status: 200, user: Some(u), .. }
                if a == "Unprovision" && c == "AMT_SetupAndConfigurationService" && u == "admin"
        )),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            EventKind::TlsHandshake { session, verdict: amt_sim::events::TlsVerdict::Ok, .. }
                if *session == amt_sim::events::TlsSession::Management
        )),
        "{events:?}"
    );
    let sp_events = site.sp_events();
    let tail: Vec<&ProvisionEvent> = sp_events.iter().rev().take(4).rev().collect();
    assert!(
        matches!(
            &tail[..],
            [
                ProvisionEvent::TlsConnect { .. },
                ProvisionEvent::TlsEstablished { .. },
                ProvisionEvent::Digest { ok: true, .. },
                ProvisionEvent::WsmanCall { class, method, status },
            ] if class == "AMT_SetupAndConfigurationService" && method == "Unprovision" && status == "200"
        ),
        "{tail:?}"
    );
    let ids = site.sp.logs().ids(LogFile::AmtOpMgr);
    assert!(ids.contains(&"remove.completed"), "{ids:?}");
    assert!(!ids.contains(&"remove.failed"), "{ids:?}");
    Ok(())
}

#[test]
fn a18_root_ca_key_over_2048() -> TestResult {
    let mut site = Site::load("a18")?;
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::TlsHandshake), "{result:?}");
    let op = site.messages(LogFile::AmtOpMgr);
    assert!(has(&op, A18_ISC), "{op:#?}");
    let apply: Vec<&String> = op
        .iter()
        .filter(|m| m.starts_with("**** Error 0x") && m.ends_with(" returned by ApplyControlToken"))
        .collect();
    assert_eq!(apply.len(), 1, "{op:#?}");
    assert!(has(
        &op,
        &format!(
            "Fail to connect and get core version of machine {}.",
            site.device_ip()
        )
    ));
    // Wire: the device refused the chain (root key too long) during the handshake; no HTTP.
    let events = site.device_events();
    assert_eq!(
        tls_refusals(&events),
        vec![Some("root-key-too-long".to_owned())]
    );
    assert_eq!(http_requests(&events), 0);
    assert!(site.device_state().contains("Pre"));
    // The doc names amtproxymgr.log: the file is a setting (`logs.a18_file`).
    let mut env = load_env("a18")?;
    env.logs.a18_file = LogFile::AmtProxyMgr;
    let mut site = Site::new(env, catalog_support::load_profile("a18")?)?;
    site.hello_round()?;
    assert!(has(&site.messages(LogFile::AmtProxyMgr), A18_ISC));
    assert!(!has(&site.messages(LogFile::AmtOpMgr), A18_ISC));
    assert!(
        site.lines(LogFile::AmtProxyMgr)
            .iter()
            .any(|l| l.starts_with(A18_ISC) && l.contains("$$<SMS_AMT_PROXY_COMPONENT><"))
    );
    Ok(())
}

#[test]
fn a19_crl_check_failed_winrm() -> TestResult {
    // While provisioning: stage 1 (SOAP) commits, the WinRM stage 2 fails on the revocation check.
    let mut site = Site::load("a19")?;
    site.hello_round()?;
    let result = site.result()?.clone();
    assert_eq!(result.failed_step, Some(Step::Stage2), "{result:?}");
    let op = site.messages(LogFile::AmtOpMgr);
    let description = op
        .iter()
        .position(|m| m == A19_DESCRIPTION)
        .ok_or("no description line")?;
    assert_eq!(op.get(description + 1).map(String::as_str), Some(A19_CODE));
    assert!(site.device_state().contains("Post"), "stage 1 committed");
    assert!(result.admin_password.is_some());
    // Removing the provisioning data: the same lines, the WS-MAN connection is aborted after TLS.
    let uuid = result.uuid;
    let now = site.clock.now();
    let serial = result.web_cert_serial.clone();
    let actions = site.sp.remove_provisioning(
        &uuid,
        &mut site.directory,
        &mut site.ca,
        serial.as_deref(),
        now,
    );
    assert!(
        matches!(
            &actions[..],
            [Action::Unprovision {
                abort_after_tls: true,
                ..
            }]
        ),
        "{actions:?}"
    );
    let op = site.messages(LogFile::AmtOpMgr);
    assert_eq!(op.iter().filter(|m| *m == A19_CODE).count(), 2, "{op:#?}");
    // On the wire: TCP connect and the TLS handshake with the device's management certificate,
    // then WinHTTP aborts (revocation check): no WS-MAN request, the device stays provisioned.
    let _ = site.device_events();
    site.run_actions(&actions);
    assert_eq!(
        site.results.len(),
        1,
        "a removal is not a provisioning session"
    );
    let events = site.device_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            EventKind::TlsHandshake { session, verdict: amt_sim::events::TlsVerdict::Ok, .. }
                if *session == amt_sim::events::TlsSession::Management
        )),
        "{events:?}"
    );
    assert_eq!(http_requests(&events), 0, "{events:?}");
    assert!(site.device_state().contains("Post"));
    let ids = site.sp.logs().ids(LogFile::AmtOpMgr);
    assert!(ids.contains(&"remove.failed"), "{ids:?}");
    assert!(!ids.contains(&"remove.completed"), "{ids:?}");
    let op = site.messages(LogFile::AmtOpMgr);
    assert_eq!(op.iter().filter(|m| *m == A19_CODE).count(), 2, "{op:#?}");
    // SP1 (no WinRM stage with CRL checking): no A-19 lines.
    let mut env = load_env("a19")?;
    env.configmgr.version = ConfigMgrVersion::Sp1;
    let mut site = Site::new(env, catalog_support::load_profile("a19")?)?;
    site.hello_round()?;
    let op = site.messages(LogFile::AmtOpMgr);
    assert!(!has(&op, A19_CODE) && !has(&op, A19_DESCRIPTION), "{op:#?}");
    Ok(())
}

#[test]
fn a20_wireless_provision_not_supported() -> TestResult {
    // Cause 2: the name resolves to the wireless address; wireless management is not enabled.
    let mut site = Site::load("a20-wireless")?;
    let actions = site.hello_round()?;
    let wireless: std::net::IpAddr = "127.0.0.2".parse()?;
    assert!(
        matches!(&actions[..], [Action::Provision { target, .. }] if target.ip() == wireless),
        "{actions:?}"
    );
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::Connect), "{result:?}");
    let op = site.messages(LogFile::AmtOpMgr);
    assert!(has(&op, A20), "{op:#?}");
    // Written after the connect retries (two, 5 s apart on the virtual clock), framed.
    assert!(
        site.lines(LogFile::AmtOpMgr)
            .contains(&format!("{A20}{}", op_suffix("01-15-2027 00:00:10.000"))),
        "{:#?}",
        site.lines(LogFile::AmtOpMgr)
    );
    // Wire: the TCP connect to the wireless address gets nowhere (the first try and two
    // retries are refused: no setup over wireless); no TLS, no HTTP.
    let events = site.device_events();
    assert_eq!(
        refused_connections(&events),
        vec!["connect/wireless".to_owned(); 3],
        "{events:?}"
    );
    assert!(tls_refusals(&events).is_empty(), "{events:?}");
    assert_eq!(http_requests(&events), 0);
    assert!(
        !site
            .sp_events()
            .iter()
            .any(|e| matches!(e, ProvisionEvent::TlsEstablished { .. }))
    );
    assert!(site.device_state().contains("Pre"));

    // Cause 3: AMT > 3.x and an FQDN longer than 44 bytes: WS-MAN fails in stage 1.
    let mut site = Site::load("a20-fqdn")?;
    let fqdn_len = site
        .sp
        .env()
        .computers
        .first()
        .map(|c| c.fqdn.len())
        .unwrap_or_default();
    assert!(fqdn_len > 44, "{fqdn_len}");
    site.hello_round()?;
    let result = site.result()?;
    assert_eq!(result.failed_step, Some(Step::Stage1), "{result:?}");
    let op = site.messages(LogFile::AmtOpMgr);
    assert!(has(&op, A20), "{op:#?}");
    let events = site.device_events();
    let handshakes = tls_refusals(&events);
    assert!(
        !handshakes.is_empty() && handshakes.iter().all(Option::is_none),
        "TLS and digest succeeded: {handshakes:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            EventKind::WsmanFault { .. } | EventKind::HttpError { .. }
        )),
        "{events:?}"
    );
    assert!(!site.device_state().contains("Post"));
    Ok(())
}

/// The documented (A-xx) lines of every file, framed, with the file name.
fn framed_documented(site: &Site) -> Vec<String> {
    let mut out = Vec::new();
    for file in LogFile::ALL {
        for (message, line) in site.messages(file).iter().zip(site.lines(file)) {
            if let Some((text, _)) = logs::match_message(message)
                && text.id.starts_with("A-")
            {
                out.push(format!("{} [{}] {line}", file.file_name(), text.id));
            }
        }
    }
    out
}

#[test]
fn documented_lines_of_every_entry_snapshot() -> TestResult {
    let mut report = Vec::new();
    for name in [
        "a02-sp1",
        "a02-sp2",
        "a03-sp1",
        "a03-sp2",
        "a04",
        "a09",
        "a10",
        "a11",
        "a18",
        "a19",
        "a20-wireless",
        "a20-fqdn",
    ] {
        let mut site = Site::load(name)?;
        site.hello_round()?;
        report.push(format!("== {name} (hello → session)"));
        report.extend(framed_documented(&site));
    }
    for name in ["a06", "a12"] {
        let mut site = Site::load(name)?;
        // The refusal itself is what is being recorded here.
        let _refused = site.in_band()?;
        report.push(format!("== {name} (in band)"));
        report.extend(framed_documented(&site));
    }
    let mut site = Site::load("a15")?;
    site.start_up();
    report.push("== a15 (service point start-up)".to_owned());
    report.extend(framed_documented(&site));
    let mut site = Site::load("a17")?;
    site.hello_round()?;
    let result = site.result()?.clone();
    let removal_at = catalog_support::T0 + Duration::from_secs(600);
    site.clock.advance_to(removal_at);
    site.sp.remove_provisioning(
        &result.uuid,
        &mut site.directory,
        &mut site.ca,
        result.web_cert_serial.as_deref(),
        removal_at,
    );
    report.push("== a17 (removal)".to_owned());
    report.extend(framed_documented(&site));
    insta::assert_snapshot!("documented_lines", report.join("\n"));
    Ok(())
}
