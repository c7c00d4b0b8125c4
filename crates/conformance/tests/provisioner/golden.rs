//! Capture and drift check of the provisioner's golden exchanges
//! (`crates/provisioner-core/tests/data/golden/`, replayed without the simulator by
//! `provisioner-core/tests/golden.rs`).
//!
//! Each case runs the real provisioning session against an `amt_sim` device on the in-memory
//! testbed, through a recording man-in-the-middle: the session's TLS ends at the scripted device
//! (`golden_support::scripted`), whose backend here forwards every plaintext HTTP request to the
//! simulated device over the provisioner's own TLS client (`provisioner_core::tls::TlsStream`, same
//! provisioning chain, same Schannel-hotfix choice) and records request, answer and how the
//! device's TLS handshake went. Neither half needs a hook for it.
//!
//! With `AMT_SIM_CAPTURE_GOLDEN=1` the files are rewritten. Without it, the capture is compared
//! with the checked-in files (drift fails with the first difference), the checked-in files are
//! replayed and must give the session the same result and log lines as the live capture, and the
//! recording wrapper must not change the session's outcome compared with a direct run.

#[path = "../../../provisioner-core/tests/golden_support/mod.rs"]
mod golden_support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::http::{Limits, ResponseDecoder};
use conformance::testbed::SimNetwork;
use provisioner_core::clock::{Clock as _, VirtualClock};
use provisioner_core::logs::LogFile;
use provisioner_core::tls::{self, TlsError, TlsStream};
use provisioner_core::transport::{Connector, Stream, TransportError};
use rustls::ClientConfig;

use golden_support::format::{Answer, Connection, Exchange, Golden, TlsPlan, transport_error};
use golden_support::scripted::{Backend, ConnPlan, ScriptedConnector};
use golden_support::{CAPTURE_VAR, CASES, Case, Run};

use super::TestResult;

/// The device each case is captured from.
fn device_profile(case: &str) -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    let mut profile = DeviceProfile::default();
    let fault = |yaml: &str| serde_saphyr::from_str(yaml);
    match case {
        "credential-fallback" | "stale-nonce" => {
            profile.setup_auth = Some(serde_saphyr::from_str("digest")?);
            "Mebx!Pass-3".clone_into(&mut profile.provisioning.mebx_password);
            if case == "stale-nonce" {
                // The answer comes 6 minutes late: the next request's nonce is stale.
                profile.faults.push(fault(
                    "on: { method: GetLowAccuracyTimeSynch }\ndo: { delay: 6m }\n",
                )?);
            }
        }
        "tls-alert-root-4096" | "tls-closed-after-server-hello-root-4096" => {
            profile.personality = serde_saphyr::from_str("amt-6")?;
            profile.hashes.push(serde_saphyr::from_str(
                "{ name: root4096, algorithm: sha256, value: 6b21b09476e0ad9d077d1d1058675170e710654531b5e4e76eeb39075d202cb2, active: true }",
            )?);
            if case != "tls-alert-root-4096" {
                profile.faults.push(fault(
                    "on: { step: tls-server-hello }\ndo: close_connection\n",
                )?);
            }
        }
        "tls-closed-after-server-hello" => profile.faults.push(fault(
            "on: { step: tls-server-hello }\ndo: close_connection\n",
        )?),
        "tls-closed-after-client-flight" => {
            profile
                .faults
                .push(fault("refuse_tls: root-not-in-hash-list\n")?);
        }
        "stage1-commit-fails" => profile.faults.push(fault(
            "on: { method: CommitChanges }\ndo: { return_value: 1 }\n",
        )?),
        "stage2-redirection-fails" => profile.faults.push(fault(
            "on: { method: RequestStateChange }\ndo: { return_value: 1 }\n",
        )?),
        "stage2-connection-dropped" => profile.faults.push(fault(
            "on: { method: SetPowerScheme }\ndo: close_connection\n",
        )?),
        _ => {}
    }
    Ok(profile)
}

/// A testbed with `profile`'s device on its profile addresses.
fn testbed(
    profile: DeviceProfile,
) -> Result<(SimNetwork, VirtualClock), Box<dyn std::error::Error>> {
    let clock = VirtualClock::default();
    let net = SimNetwork::new(clock.clone());
    let device = Device::new(profile, None, 7, clock.now())?;
    net.add_device(device);
    Ok((net, clock))
}

/// A stream that keeps a copy of every byte it reads (to count the device's TLS records).
struct Observed {
    inner: Box<dyn Stream>,
    read: Rc<RefCell<Vec<u8>>>,
}

impl Stream for Observed {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.inner.write_all(bytes)
    }

    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError> {
        let start = buf.len();
        let n = self.inner.read(buf, timeout)?;
        self.read
            .borrow_mut()
            .extend_from_slice(buf.get(start..).unwrap_or_default());
        Ok(n)
    }
}

/// Complete TLS records in `bytes`.
fn records(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while let Some(len) = bytes.get(at + 3..at + 5) {
        at += 5 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if at > bytes.len() {
            break;
        }
        n += 1;
    }
    n
}

/// The recording backend: forwards to the simulated device, records what it answers.
struct Recorder {
    net: SimNetwork,
    config: Arc<ClientConfig>,
    streams: Vec<Option<TlsStream>>,
    golden: Golden,
    problems: Vec<String>,
}

impl Recorder {
    fn handshake(
        &mut self,
        raw: Box<dyn Stream>,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<(TlsPlan, Option<String>, Option<TlsStream>), String> {
        let read = Rc::new(RefCell::new(Vec::new()));
        let observed = Box::new(Observed {
            inner: raw,
            read: read.clone(),
        });
        match TlsStream::handshake(self.config.clone(), target, observed, timeout) {
            Ok(mut tls) => {
                // With TLS 1.3 a refusal arrives after the client's last flight: look without
                // waiting (a zero timeout does not move the virtual clock).
                let version = tls.protocol();
                let mut probe = Vec::new();
                match tls.read(&mut probe, Duration::ZERO) {
                    Err(TransportError::Timeout) => Ok((TlsPlan::Accept, version, Some(tls))),
                    Err(TransportError::Tls {
                        alert: Some(alert), ..
                    }) => Ok((TlsPlan::Alert(alert), None, None)),
                    Ok(0) | Err(TransportError::Tls { alert: None, .. }) => {
                        Ok((TlsPlan::CloseAfterClientFlight, None, None))
                    }
                    other => Err(format!(
                        "unexpected first read after the handshake: {other:?}"
                    )),
                }
            }
            Err(TlsError::Refused {
                alert: Some(alert), ..
            }) => Ok((TlsPlan::Alert(alert), None, None)),
            Err(TlsError::Refused { alert: None, .. }) if records(&read.borrow()) <= 1 => {
                Ok((TlsPlan::CloseAfterServerHello, None, None))
            }
            Err(TlsError::Refused { alert: None, .. }) => {
                Ok((TlsPlan::CloseAfterClientFlight, None, None))
            }
            Err(other) => Err(format!(
                "a handshake failure the format cannot replay: {other}"
            )),
        }
    }
}

impl Backend for Recorder {
    fn connect(
        &mut self,
        conn: usize,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<ConnPlan, TransportError> {
        if conn != self.golden.connections.len() {
            self.problems
                .push(format!("connection {conn} out of order"));
        }
        let raw = match self.net.connect(target, timeout) {
            Ok(raw) => raw,
            Err(e) => {
                if transport_error(e.id()).is_none() {
                    self.problems.push(format!("connect failed with {e}"));
                }
                self.golden.connections.push(Connection::Failed(e.clone()));
                self.streams.push(None);
                return Err(e);
            }
        };
        match self.handshake(raw, target, timeout) {
            Ok((plan, version, stream)) => {
                self.golden.connections.push(Connection::Tls {
                    plan: plan.clone(),
                    version: version.clone(),
                    chain: None,
                });
                self.streams.push(stream);
                Ok(ConnPlan { tls: plan, version })
            }
            Err(problem) => {
                self.problems
                    .push(format!("connection {}: {problem}", conn + 1));
                Err(TransportError::Reset)
            }
        }
    }

    fn client_chain(&mut self, conn: usize, len: usize) {
        if let Some(Connection::Tls { chain, .. }) = self.golden.connections.get_mut(conn) {
            *chain = Some(len);
        }
    }

    fn request(&mut self, conn: usize, raw: &[u8], timeout: Duration) -> Answer {
        let answer = match self.streams.get_mut(conn).and_then(Option::as_mut) {
            Some(stream) => forward(stream, raw, timeout),
            None => Answer::Closed,
        };
        let keep = matches!(answer, Answer::Respond { close: false, .. });
        if !keep && let Some(slot) = self.streams.get_mut(conn) {
            *slot = None;
        }
        if let Answer::Failed(e) = &answer
            && transport_error(e.id()).is_none()
        {
            self.problems
                .push(format!("exchange {}: {e}", self.golden.exchanges.len() + 1));
        }
        self.golden.exchanges.push(Exchange {
            connection: conn,
            request: raw.to_vec(),
            answer: answer.clone(),
        });
        answer
    }
}

/// Sends one request to the device and reads its whole answer.
fn forward(stream: &mut TlsStream, raw: &[u8], timeout: Duration) -> Answer {
    if let Err(e) = stream.write_all(raw) {
        return Answer::Failed(e);
    }
    let mut decoder = ResponseDecoder::new(Limits::default());
    let mut bytes = Vec::new();
    loop {
        let mut buf = Vec::new();
        match stream.read(&mut buf, timeout) {
            Ok(0) if bytes.is_empty() => return Answer::Closed,
            Ok(0) => return Answer::Respond { bytes, close: true },
            Ok(_) => {
                bytes.extend_from_slice(&buf);
                if decoder.feed(&buf).is_err() {
                    return Answer::Respond { bytes, close: true };
                }
                if let Ok(Some(response)) = decoder.next_response() {
                    let close = !response.keep_alive();
                    return Answer::Respond { bytes, close };
                }
            }
            Err(e) if bytes.is_empty() => return Answer::Failed(e),
            Err(_) => return Answer::Respond { bytes, close: true },
        }
    }
}

/// Runs `case` against a device with `profile` through the recorder.
fn capture(
    case: &Case,
    profile: DeviceProfile,
) -> Result<(Golden, Run), Box<dyn std::error::Error>> {
    let (net, clock) = testbed(profile)?;
    let identity = golden_support::identity(case.identity)?;
    let config = tls::client_config(&identity, case.hotfix)?;
    let recorder = Rc::new(RefCell::new(Recorder {
        net,
        config,
        streams: Vec::new(),
        golden: Golden::default(),
        problems: Vec::new(),
    }));
    let mut connector = ScriptedConnector::new(recorder.clone());
    let run = golden_support::run_session(case, &mut connector, &clock)?;
    drop(connector);
    let mut recorder = Rc::try_unwrap(recorder)
        .map_err(|_| "the recorder is still shared")?
        .into_inner();
    if !recorder.problems.is_empty() {
        return Err(format!("{}: {}", case.name, recorder.problems.join("; ")).into());
    }
    recorder.golden.comments = vec![
        format!(
            "Golden exchange set `{}` (TEST ONLY: test-site passwords).",
            case.name
        ),
        "Captured from the amt-sim device by crates/conformance/tests/provisioner/golden.rs;"
            .into(),
        format!("recapture: {CAPTURE_VAR}=1 cargo test -p conformance --test provisioner golden"),
        "Format and replay: crates/provisioner-core/tests/data/golden/README.md.".into(),
    ];
    Ok((recorder.golden, run))
}

/// The same session straight over the testbed (no recorder).
fn direct(case: &Case) -> Result<Run, Box<dyn std::error::Error>> {
    let (mut net, clock) = testbed(device_profile(case.name)?)?;
    let connector: &mut dyn Connector = &mut net;
    Ok(golden_support::run_session(case, connector, &clock)?)
}

/// What two runs must agree on.
fn summary(run: &Run) -> String {
    let r = &run.result;
    let mut text = format!(
        "outcome {:?}, failed step {:?}, status {:?}, error {:?}, version {:?}, log errors {:?}\n",
        r.outcome, r.failed_step, r.amt_status, r.error, r.amt_version, r.log_errors
    );
    for file in LogFile::ALL {
        for (id, message) in run.logs.ids(file).iter().zip(run.logs.messages(file)) {
            text.push_str(&format!("{file:?} {id}: {message}\n"));
        }
    }
    text
}

#[test]
fn golden_exchanges_are_what_the_device_answers_today() -> TestResult {
    let rewrite = std::env::var_os(CAPTURE_VAR).is_some();
    let mut failures = Vec::new();
    for case in CASES {
        let (golden, run) = capture(case, device_profile(case.name)?)?;
        let direct = direct(case)?;
        if (
            run.result.outcome,
            run.result.failed_step,
            &run.result.error,
        ) != (
            direct.result.outcome,
            direct.result.failed_step,
            &direct.result.error,
        ) {
            failures.push(format!(
                "{}: the recorder changed the session:\n{}\nwithout it:\n{}",
                case.name,
                summary(&run),
                summary(&direct)
            ));
        }
        let path = golden_support::golden_path(case.name);
        if rewrite {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, golden.emit())?;
        }
        let checked_in = golden_support::load(case.name)?;
        if let Some(diff) = checked_in.first_difference(&golden) {
            failures.push(format!(
                "{}: the device no longer answers as recorded in {} (recapture with {CAPTURE_VAR}=1 \
                 cargo test -p conformance --test provisioner golden):\n{diff}",
                case.name,
                path.display()
            ));
            continue;
        }
        let (replayed, verdict) = golden_support::replay(case)?;
        if let Err(e) = verdict {
            failures.push(format!("{}: replay mismatch: {e}", case.name));
        }
        let (live, replay) = (summary(&run), summary(&replayed));
        if live != replay {
            failures.push(format!(
                "{}: the replay gives another session than the device:\n{}",
                case.name,
                similar::TextDiff::from_lines(&live, &replay)
                    .unified_diff()
                    .header("device", "replay")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

#[test]
fn a_device_that_answers_differently_is_reported_as_drift() -> TestResult {
    // The SP2 success session captured from a device whose CommitChanges now returns 1: the
    // drift check against the checked-in recording names the first exchange that changed.
    let Some(case) = golden_support::case_named("sp2-success") else {
        return Err("no sp2-success case".into());
    };
    let (changed, _) = capture(case, device_profile("stage1-commit-fails")?)?;
    let checked_in = golden_support::load(case.name)?;
    let diff = checked_in.first_difference(&changed).unwrap_or_default();
    let commit = checked_in
        .exchanges
        .iter()
        .position(|x| String::from_utf8_lossy(&x.request).contains("/CommitChanges</"))
        .ok_or("no CommitChanges in the recording")?;
    assert!(
        diff.starts_with(&format!("exchange {}: expected ", commit + 1)),
        "{diff}"
    );
    assert!(diff.contains("--- actual"), "{diff}");
    Ok(())
}
