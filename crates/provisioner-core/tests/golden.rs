//! The provisioner without the simulator: golden request/response exchanges captured once from the
//! simulated device (`tests/data/golden/`, README there) are replayed through a scripted TLS
//! device behind the `Connector`/`Stream` traits, and each session's outcome, failed step, error
//! id, digest attempts and log lines are asserted. Every replay also checks each request the
//! provisioner sends against the recorded one (see `golden_support/replay.rs`).

mod golden_support;

use provisioner_core::env::ConfigMgrVersion;
use provisioner_core::events::{AmtStatus, Outcome, ProvisionEvent, Step};
use provisioner_core::logs::LogFile;

use golden_support::format::{Answer, Connection, Golden, TlsPlan};
use golden_support::{CASES, Run};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SP1_SHORT: &str = "Error: Device internal error. Check Schannel, provision certificate, network configuration, device.";
const SP2_LONG_PREFIX: &str = "Error: Device internal error. This may be caused by: 1.";
const A18_ISC: &str = "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.";
const A20_PREFIX: &str =
    "Error: Can not finish WSMAN call with target device. 1. Check if there is a winhttp proxy";

/// Replays the golden file `name` with its case's inputs; fails on any request mismatch.
fn replayed(name: &str) -> Result<Run, Box<dyn std::error::Error>> {
    let case = golden_support::case_named(name).ok_or_else(|| format!("no case {name}"))?;
    let (run, verdict) = golden_support::replay(case)?;
    verdict.map_err(|e| format!("{name}: {e}"))?;
    assert!(
        run.result.log_errors.is_empty(),
        "{:?}",
        run.result.log_errors
    );
    Ok(run)
}

fn op_ids(run: &Run) -> Vec<&'static str> {
    run.logs.ids(LogFile::AmtOpMgr)
}

/// The message of the first amtopmgr line with `id`.
fn op_message(run: &Run, id: &str) -> Option<String> {
    run.logs
        .ids(LogFile::AmtOpMgr)
        .iter()
        .zip(run.logs.messages(LogFile::AmtOpMgr))
        .find(|(i, _)| **i == id)
        .map(|(_, m)| m)
}

/// The typed id of the session's failure (`wsman/connect`, `tls/refused`, …).
fn error_id(run: &Run) -> Option<&'static str> {
    run.result.error.as_ref().map(|e| e.id())
}

/// (account index, accepted) of every digest attempt, in order.
fn digests(run: &Run) -> Vec<(usize, bool)> {
    run.events
        .events()
        .filter_map(|e| match e {
            ProvisionEvent::Digest {
                account_index, ok, ..
            } => Some((*account_index, *ok)),
            _ => None,
        })
        .collect()
}

const SUCCESS_STAGE1: [&str; 4] = [
    "tls.established",
    "ad.request",
    "stage1.started",
    "stage1.completed",
];

fn assert_provisioned(run: &Run) {
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Provisioned, "{r:?}");
    assert_eq!(r.failed_step, None);
    assert_eq!(r.amt_status, AmtStatus::Provisioned);
    assert_eq!(r.error, None);
    assert_eq!(r.amt_version.as_deref(), Some("11.8.50"));
    assert!(r.web_cert_serial.is_some());
    let admin = r.admin_password.clone().unwrap_or_default();
    assert_eq!(admin.len(), 16, "the admin password is set");
    for file in LogFile::ALL {
        assert!(
            !run.logs.render(file).contains(&admin),
            "admin password in {file:?}"
        );
    }
    assert_eq!(op_ids(run).last(), Some(&"provision.succeeded"));
    assert_eq!(
        run.logs.ids(LogFile::AmtProxyMgr),
        [
            "ad.created",
            "ca.requested",
            "ca.issued",
            "publish.ok",
            "provision.status-reported"
        ]
    );
}

#[test]
fn sp1_success_provisions_with_power_scheme_5_and_no_wireless() -> TestResult {
    let run = replayed("sp1-success")?;
    assert_provisioned(&run);
    let mut expected = SUCCESS_STAGE1.to_vec();
    expected.extend([
        "stage2.started",
        "stage2.acl",
        "stage2.interfaces",
        "stage2.kerberos",
        "stage2.power",
        "stage2.completed",
        "provision.succeeded",
    ]);
    assert_eq!(op_ids(&run), expected);
    assert!(
        op_message(&run, "stage2.power").is_some_and(|m| m.ends_with("set power policy 5.")),
        "SP1 always sets power policy 5"
    );
    // Certificate setup session: no digest until the stage-2 admin login.
    assert_eq!(digests(&run), [(0, true)]);
    Ok(())
}

#[test]
fn sp2_success_provisions_with_the_configured_power_scheme_and_wireless_steps() -> TestResult {
    let run = replayed("sp2-success")?;
    assert_provisioned(&run);
    let mut expected = SUCCESS_STAGE1.to_vec();
    expected.extend([
        "stage2.started",
        "stage2.acl",
        "stage2.interfaces",
        "stage2.kerberos",
        "stage2.power",
        "stage2.wireless-cleared",
        "stage2.wireless-detected",
        "stage2.wireless-profiles",
        "stage2.completed",
        "provision.succeeded",
    ]);
    assert_eq!(op_ids(&run), expected);
    let case = golden_support::case_named("sp2-success").ok_or("no case")?;
    let power = golden_support::environment(case).stage2.power_scheme;
    assert!(
        op_message(&run, "stage2.power")
            .is_some_and(|m| m.ends_with(&format!("set power policy {power}."))),
        "{:?}",
        op_message(&run, "stage2.power")
    );
    assert!(
        op_message(&run, "stage2.wireless-detected")
            .is_some_and(|m| m.ends_with("wireless capability absent."))
    );
    Ok(())
}

#[test]
fn credential_fallback_logs_the_refused_account_and_uses_the_second() -> TestResult {
    let run = replayed("credential-fallback")?;
    assert_provisioned(&run);
    // Setup session: account 0 refused, account 1 accepted; then the stage-2 admin login.
    assert_eq!(digests(&run), [(0, false), (1, true), (0, true)]);
    let ids = op_ids(&run);
    assert_eq!(
        ids.get(..5),
        Some(
            &[
                "tls.established",
                "digest.trying",
                "digest.rejected",
                "digest.trying",
                "ad.request"
            ][..]
        ),
        "{ids:?}"
    );
    Ok(())
}

#[test]
fn a_stale_nonce_is_retried_with_the_same_account_and_refuses_nobody() -> TestResult {
    // The recording holds the device's 401 with stale="true" in the middle of the setup session.
    let golden = golden_support::load("stale-nonce")?;
    let stale = golden.exchanges.iter().position(|x| {
        matches!(&x.answer, Answer::Respond { bytes, .. }
            if bytes.starts_with(b"HTTP/1.1 401")
                && String::from_utf8_lossy(bytes).contains("stale=\"true\""))
    });
    assert!(
        stale.is_some_and(|i| i > 1),
        "a stale 401 after the first calls"
    );
    let run = replayed("stale-nonce")?;
    assert_provisioned(&run);
    assert!(
        digests(&run).iter().all(|(_, ok)| *ok),
        "a stale nonce is not a refused account: {:?}",
        digests(&run)
    );
    assert_eq!(
        op_ids(&run)
            .iter()
            .filter(|id| **id == "digest.trying")
            .count(),
        1
    );
    assert!(!op_ids(&run).contains(&"digest.rejected"));
    Ok(())
}

/// Failed at the TLS handshake, not provisioned, nothing sent over HTTP that got an answer.
fn assert_tls_refused(run: &Run, error_id_: &str, detail: &str) {
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
    assert_eq!(r.failed_step, Some(Step::TlsHandshake));
    assert_eq!(r.amt_status, AmtStatus::NotProvisioned);
    assert_eq!(error_id(run), Some(error_id_), "{r:?}");
    assert!(
        r.error
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .is_some_and(|e| e.contains(detail)),
        "{r:?}"
    );
    assert_eq!(r.amt_version, None);
    assert!(digests(run).is_empty());
    let failed = run
        .events
        .events()
        .filter(|e| matches!(e, ProvisionEvent::TlsFailed { .. }))
        .count();
    assert_eq!(failed, 1);
    assert!(
        op_message(run, "provision.failed").is_some_and(|m| m.contains("at step tls-handshake"))
    );
}

#[test]
fn an_alert_to_a_chain_without_its_root_is_the_a02_short_text_on_sp1() -> TestResult {
    let run = replayed("tls-alert-root-missing-sp1")?;
    assert_tls_refused(&run, "wsman/connection-lost", "CertificateUnknown");
    assert_eq!(op_ids(&run), ["A-02.sp1", "provision.failed"]);
    assert_eq!(op_message(&run, "A-02.sp1").as_deref(), Some(SP1_SHORT));
    Ok(())
}

#[test]
fn an_alert_to_a_chain_without_its_root_is_the_a02_long_text_on_sp2() -> TestResult {
    let run = replayed("tls-alert-root-missing-sp2")?;
    assert_tls_refused(&run, "wsman/connection-lost", "CertificateUnknown");
    assert_eq!(op_ids(&run), ["A-02.sp2", "provision.failed"]);
    assert!(op_message(&run, "A-02.sp2").is_some_and(|m| m.starts_with(SP2_LONG_PREFIX)));
    Ok(())
}

#[test]
fn an_alert_to_a_chain_with_a_4096_bit_root_is_the_a18_lines() -> TestResult {
    let run = replayed("tls-alert-root-4096")?;
    assert_tls_refused(&run, "wsman/connection-lost", "CertificateUnknown");
    assert_eq!(
        op_ids(&run),
        [
            "A-18.isc",
            "A-18.apply",
            "A-18.core-version",
            "provision.failed"
        ]
    );
    assert_eq!(op_message(&run, "A-18.isc").as_deref(), Some(A18_ISC));
    assert!(op_message(&run, "A-18.apply").is_some_and(
        |m| m.starts_with("**** Error 0x") && m.ends_with(" returned by ApplyControlToken")
    ));
    assert_eq!(
        op_message(&run, "A-18.core-version").as_deref(),
        Some("Fail to connect and get core version of machine 127.0.0.1.")
    );
    Ok(())
}

#[test]
fn a_close_after_the_server_hello_fails_the_handshake_with_the_a02_text() -> TestResult {
    let run = replayed("tls-closed-after-server-hello")?;
    assert_tls_refused(&run, "wsman/tls", "connection closed during the handshake");
    assert_eq!(op_ids(&run), ["A-02.sp2", "provision.failed"]);
    Ok(())
}

#[test]
fn the_a18_lines_come_from_the_own_chain_not_from_the_devices_reason() -> TestResult {
    // The same close after the ServerHello as above, with the RSA-4096 root in the chain: the
    // service point cannot see why the device closed, it classifies by its own root's key size.
    let run = replayed("tls-closed-after-server-hello-root-4096")?;
    assert_tls_refused(&run, "wsman/tls", "connection closed during the handshake");
    assert_eq!(
        op_ids(&run),
        [
            "A-18.isc",
            "A-18.apply",
            "A-18.core-version",
            "provision.failed"
        ]
    );
    Ok(())
}

#[test]
fn a_close_without_alert_after_the_client_flight_is_a_refusal_too() -> TestResult {
    // TLS 1.3: the client's side of the handshake is done, the close comes on the first read.
    let run = replayed("tls-closed-after-client-flight")?;
    assert_tls_refused(
        &run,
        "wsman/connection-lost",
        "connection closed before the first response",
    );
    assert_eq!(op_ids(&run), ["A-02.sp2", "provision.failed"]);
    Ok(())
}

#[test]
fn connect_timeouts_are_retried_then_fail_the_connect_step_with_the_a20_line() -> TestResult {
    let case = golden_support::case_named("connect-timeout").ok_or("no case")?;
    let retries = golden_support::environment(case).timeouts.retries;
    let golden = golden_support::load("connect-timeout")?;
    assert_eq!(
        golden.connections.len(),
        usize::try_from(retries)? + 1,
        "one connect and its retries"
    );
    let run = replayed("connect-timeout")?;
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failed_step, Some(Step::Connect));
    assert_eq!(r.amt_status, AmtStatus::NotProvisioned);
    assert_eq!(error_id(&run), Some("wsman/connect"));
    assert!(
        r.error
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .is_some_and(|e| e.ends_with("timed out"))
    );
    assert_eq!(op_ids(&run), ["A-20", "provision.failed"]);
    assert!(op_message(&run, "A-20").is_some_and(|m| m.starts_with(A20_PREFIX)));
    Ok(())
}

#[test]
fn on_sp1_a_connect_timeout_is_the_a02_short_text_at_step_connect() -> TestResult {
    // SP1 has no A-20 (wireless came with SP2): the TCP timeout logs A-03 (c)'s short A-02 text.
    let run = replayed("connect-timeout-sp1")?;
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failed_step, Some(Step::Connect));
    assert_eq!(error_id(&run), Some("wsman/connect"));
    assert_eq!(op_ids(&run), ["A-02.sp1", "provision.failed"]);
    assert_eq!(op_message(&run, "A-02.sp1").as_deref(), Some(SP1_SHORT));
    Ok(())
}

#[test]
fn a_pt_status_error_on_commit_changes_fails_stage1() -> TestResult {
    let run = replayed("stage1-commit-fails")?;
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failed_step, Some(Step::Stage1));
    assert_eq!(r.amt_status, AmtStatus::NotProvisioned);
    assert_eq!(
        r.error.as_ref().map(ToString::to_string).as_deref(),
        Some("CommitChanges: ReturnValue 1")
    );
    let mut expected = SUCCESS_STAGE1[..3].to_vec();
    expected.extend(["stage1.failed", "provision.failed"]);
    assert_eq!(op_ids(&run), expected);
    assert!(
        op_message(&run, "stage1.failed")
            .is_some_and(|m| m.ends_with("failed at CommitChanges: ReturnValue 1"))
    );
    // No second stage: the one connection of the setup session is all there is.
    let golden = golden_support::load("stage1-commit-fails")?;
    assert_eq!(golden.connections.len(), 1);
    Ok(())
}

#[test]
fn a_failed_redirection_call_fails_stage2() -> TestResult {
    let run = replayed("stage2-redirection-fails")?;
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failed_step, Some(Step::Stage2));
    assert_eq!(r.amt_status, AmtStatus::NotProvisioned);
    assert_eq!(
        r.error.as_ref().map(ToString::to_string).as_deref(),
        Some("AMT_RedirectionService.RequestStateChange: ReturnValue 1")
    );
    let mut expected = SUCCESS_STAGE1.to_vec();
    expected.extend([
        "stage2.started",
        "stage2.acl",
        "stage2.failed",
        "provision.failed",
    ]);
    assert_eq!(op_ids(&run), expected);
    Ok(())
}

#[test]
fn a_connection_dropped_mid_stage2_fails_stage2_never_success() -> TestResult {
    let golden = golden_support::load("stage2-connection-dropped")?;
    assert!(
        matches!(
            golden.exchanges.last().map(|x| &x.answer),
            Some(Answer::Closed)
        ),
        "the recording ends with a request the device did not answer"
    );
    let run = replayed("stage2-connection-dropped")?;
    let r = &run.result;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failed_step, Some(Step::Stage2));
    assert_ne!(r.amt_status, AmtStatus::Provisioned);
    assert_eq!(
        r.error
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .and_then(|e| e.split(": ").nth(1)),
        Some("wsman/connection-lost"),
        "{r:?}"
    );
    assert!(
        op_message(&run, "stage2.failed")
            .is_some_and(|m| m.contains("failed at SetPowerScheme: wsman/connection-lost"))
    );
    assert_eq!(op_ids(&run).last(), Some(&"provision.failed"));
    assert!(!op_ids(&run).contains(&"stage2.completed"));
    Ok(())
}

#[test]
fn a_request_other_than_recorded_fails_naming_the_exchange_expected_and_actual() -> TestResult {
    // Swap the recorded exchanges 3 and 4: the provisioner's third request is now not the one
    // the recording expects there.
    let case = golden_support::case_named("sp2-success").ok_or("no case")?;
    let mut golden = golden_support::load("sp2-success")?;
    golden.exchanges.swap(2, 3);
    let key = |i: usize| {
        golden
            .exchanges
            .get(i)
            .map(|x| golden_support::replay::RequestKey::of(&x.request))
            .ok_or("no such exchange")
    };
    let (expected, actual) = (key(2)??, key(3)??);
    assert_ne!(expected.action, actual.action);
    let (run, verdict) = golden_support::replay_golden(case, golden)?;
    let Err(problems) = verdict else {
        return Err("a swapped recording was accepted".into());
    };
    assert_eq!(
        problems.lines().next(),
        Some(
            format!(
                "exchange 3: expected {expected} on connection 1, actual {actual} on connection 1"
            )
            .as_str()
        ),
        "{problems}"
    );
    assert_eq!(run.result.outcome, Outcome::Failed);
    Ok(())
}

#[test]
fn a_request_past_the_end_of_the_recording_fails() -> TestResult {
    // SP2 inputs against the SP1 recording: SP2's stage 2 goes on to the wireless steps, which
    // the SP1 recording does not have.
    let case = golden_support::case_named("sp2-success").ok_or("no case")?;
    assert_eq!(case.version, ConfigMgrVersion::Sp2);
    let (_, verdict) = golden_support::replay_golden(case, golden_support::load("sp1-success")?)?;
    let problems = verdict.err().unwrap_or_default();
    assert!(
        problems.starts_with("exchange ")
            && problems.contains(": expected nothing (the recording ends), actual POST /wsman")
            && problems.contains("CIM_WiFiEndpointSettings"),
        "{problems}"
    );
    Ok(())
}

#[test]
fn a_changed_tls_plan_changes_the_session() -> TestResult {
    // The scripted device really follows the recording's TLS line: the SP2 success recording with
    // its first handshake refused gives the A-02 failure, and the replay reports the exchanges
    // that were never asked for.
    let case = golden_support::case_named("sp2-success").ok_or("no case")?;
    let mut golden = golden_support::load("sp2-success")?;
    let Some(Connection::Tls { plan, .. }) = golden.connections.first_mut() else {
        return Err("no first connection".into());
    };
    *plan = TlsPlan::Alert("CertificateUnknown".into());
    let (run, verdict) = golden_support::replay_golden(case, golden)?;
    assert_eq!(run.result.failed_step, Some(Step::TlsHandshake));
    assert_eq!(op_ids(&run), ["A-02.sp2", "provision.failed"]);
    assert!(verdict.is_err_and(|e| e.contains("never requested")));
    Ok(())
}

#[test]
fn every_golden_file_has_a_case_and_reads_back_byte_for_byte() -> TestResult {
    let dir = golden_support::golden_path("x")
        .parent()
        .map(std::path::Path::to_path_buf)
        .ok_or("no directory")?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "golden") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let bytes = std::fs::read(&path)?;
            let golden = Golden::parse(&bytes).map_err(|e| format!("{stem}: {e}"))?;
            assert!(
                golden.emit() == bytes,
                "{stem} does not re-emit byte for byte"
            );
            files.push(stem);
        }
    }
    files.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.name.to_owned()).collect();
    cases.sort();
    assert_eq!(files, cases);
    Ok(())
}

#[test]
fn a_truncated_golden_file_is_a_parse_error_with_its_line() -> TestResult {
    let bytes = std::fs::read(golden_support::golden_path("sp2-success"))?;
    let cut = bytes.get(..bytes.len() - 10).ok_or("short file")?;
    let err = Golden::parse(cut).err().unwrap_or_default();
    assert!(err.contains("bytes=N does not match the block"), "{err}");
    Ok(())
}
