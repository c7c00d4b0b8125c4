//! One provisioning session of the out-of-band service point against one device: connect, TLS with
//! the provisioning certificate, digest with credential fallback, version check, Active Directory
//! account, web-server certificate from the enterprise CA, stage 1, stage 2 and the report.
//!
//! [`provision`] runs the steps of error-catalog §2 in order over whatever [`Connector`] it is
//! given (in-memory devices or real sockets) and never reads the wall clock (time comes from the
//! [`Clock`]). Each step logs the ConfigMgr lines of the catalog (`crate::logs`) and pushes
//! [`ProvisionEvent`]s. The first failing step ends the session: a timeout, a dropped connection or a
//! fault in the middle of a stage is reported as a failure **of that stage**, never as success.
//!
//! Decisions where the sources are silent (documented in the report too):
//! - AMT status after a failure: `Detected` when no provisioning account was accepted (A-16: the
//!   device is there but its credentials are unknown), `Not Provisioned` for every other failure.
//! - A TCP connect that is refused or times out (after `timeouts.retries` retries): the service
//!   point sees only the timeout, so it cannot tell a stale host record (A-03 (c): "connects to
//!   the wrong IP or none (TCP timeout)") from a wireless address (A-20: "TCP connect to the wrong
//!   (wireless) IP — no listener/timeout"); one line per version, chosen by the failing layer:
//!   - SP2: the A-20 line ("Can not finish WSMAN call with target device"), the entry whose wire is
//!     explicitly the TCP connect; the long text is the TLS-time error (its item 5 is
//!     the wireless case "at TLS time"), so it is kept for handshake refusals.
//!   - SP1: A-20 does not exist (wireless support came with SP2), and the only documented entry
//!     with a TCP-timeout wire on SP1 is A-03 (c), whose log is the A-02 short text ("Device
//!     internal error. Check Schannel, provision certificate, network configuration, device."):
//!     that line is written (the step stays `connect`).
//! - A stage-1 WS-MAN failure on a device whose FQDN is longer than 44 bytes also logs the A-20
//!   line (its third cause).
//! - An unreachable CRL (`enterprise_ca.crl_reachable: false`) on SP2 fails the stage-2 connection
//!   with the A-19 lines (WinRM checks the revocation of the device's new certificate before any
//!   request); SP1 does not check.
//! - `SetMEBxPassword` is always attempted with the configured password; a refusal with
//!   `PT_STATUS_NOT_PERMITTED` (16, the password is no longer the default) is not an error and
//!   leaves the MEBx password unreported.
//! - The admin password is 16 random characters from `A–Z a–z 0–9 !@#$%^*()` (RPS' alphabet),
//!   redrawn until it has an upper, a lower, a digit and a symbol; the device gets
//!   `Base64(MD5(admin:realm:password))`.

pub mod error;
mod inband;
mod removal;
mod stage1;
mod stage2;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use rand::RngCore;

use crate::ca::EnterpriseCaModel;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::env::{ConfigMgrVersion, Environment, ImportedComputer};
use crate::events::{AmtStatus, EventLog, Outcome, ProvisionEvent, SessionSummary, Step};
use crate::logs::Logs;
use crate::servicepoint::{Action, Input, Mode, ServicePoint};
use crate::tls::{self, ClientIdentity, RefusalKind, TlsError};
use crate::transport::{Connector, TransportError};
use crate::wsman_client::{CallError, ClientSettings, Credentials, WsmanClient};

use crate::logs::{LogId, ids};

pub use self::error::{OtpError, RemovalError, SessionError, SubCause, SubStepError};
pub use removal::RemovalResult;

/// Durable storage for a password the session is about to set on a device: a **write-ahead
/// record**, made durable before the request that sets the password is sent, so that a crash or
/// power loss between the device's change and the end of the session cannot lose it (the shell
/// appends it to the secrets file, `crate::io::secrets`, flushed to disk). A retry tries the
/// recorded passwords after the configured accounts.
pub trait SecretJournal {
    /// Records that `secret` (`key`: `admin_password` or `mebx_password`) is about to be set on
    /// `device`. An error stops the session before the request is sent.
    fn write_ahead(&mut self, device: DeviceUuid, key: &str, secret: &str) -> Result<(), String>;
}

/// Everything one session needs. Borrowed, so the caller keeps the logs, events, directory and CA
/// across sessions.
pub struct SessionCtx<'a> {
    /// The site's environment.
    pub env: &'a Environment,
    /// The imported computer being provisioned.
    pub computer: &'a ImportedComputer,
    /// Where to connect (the device's TLS port).
    pub target: SocketAddr,
    /// Out-of-band or in-band.
    pub mode: Mode,
    /// The provisioning certificate chain and key.
    pub identity: &'a ClientIdentity,
    /// Index of that certificate in the environment (reported by the caller's `provision.start`).
    pub cert_index: usize,
    /// Opens connections to the device.
    pub connector: &'a mut dyn Connector,
    /// Time.
    pub clock: &'a dyn Clock,
    /// ConfigMgr log files.
    pub logs: &'a mut Logs,
    /// Event stream.
    pub events: &'a mut EventLog,
    /// Active Directory model.
    pub directory: &'a mut Directory,
    /// Enterprise CA model.
    pub ca: &'a mut EnterpriseCaModel,
    /// Randomness (admin password, cnonces).
    pub rng: &'a mut dyn RngCore,
    /// Where passwords are recorded before they are sent to the device (`None`: nowhere, the
    /// caller keeps `SessionResult`'s passwords only).
    pub journal: Option<&'a mut dyn SecretJournal>,
}

impl fmt::Debug for SessionCtx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCtx")
            .field("computer", &self.computer.name)
            .field("target", &self.target)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What a session reports to the site server. `Debug` redacts the passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionResult {
    /// Device UUID.
    pub uuid: DeviceUuid,
    /// Provisioned or failed.
    pub outcome: Outcome,
    /// The failing step.
    pub failed_step: Option<Step>,
    /// The AMT status to record.
    pub amt_status: AmtStatus,
    /// What went wrong, if anything (typed; its text is the error id and message).
    pub error: Option<SessionError>,
    /// AMT firmware version read from the device.
    pub amt_version: Option<String>,
    /// SHA-256 thumbprint of the device's setup TLS certificate.
    pub device_setup_cert_sha256: Option<String>,
    /// Serial of the web-server certificate issued by the enterprise CA.
    pub web_cert_serial: Option<String>,
    /// The new admin (`admin`) password, once set on the device. Secret.
    pub admin_password: Option<String>,
    /// The MEBx password, when it was set by this session. Secret.
    pub mebx_password: Option<String>,
    /// Log lines that could not be written (unknown id, missing argument): always a bug.
    pub log_errors: Vec<String>,
}

impl fmt::Debug for SessionResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("SessionResult")
            .field("uuid", &self.uuid.to_string())
            .field("outcome", &self.outcome)
            .field("failed_step", &self.failed_step)
            .field("amt_status", &self.amt_status)
            .field("error", &self.error)
            .field("amt_version", &self.amt_version)
            .field("device_setup_cert_sha256", &self.device_setup_cert_sha256)
            .field("web_cert_serial", &self.web_cert_serial)
            .field("admin_password", &redact(&self.admin_password))
            .field("mebx_password", &redact(&self.mebx_password))
            .field("log_errors", &self.log_errors)
            .finish()
    }
}

impl SessionResult {
    /// The summary the service point records.
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            outcome: self.outcome,
            failed_step: self.failed_step,
            amt_status: self.amt_status,
        }
    }
}

/// A failed step.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) step: Step,
    pub(crate) cause: Box<SessionError>,
    pub(crate) status: AmtStatus,
}

impl Failure {
    pub(crate) fn new(step: Step, cause: SessionError) -> Self {
        Self {
            step,
            cause: Box::new(cause),
            status: AmtStatus::NotProvisioned,
        }
    }
}

/// Logging, events and time for the steps, apart from the connector so both can be borrowed.
pub(crate) struct Sink<'s> {
    pub(crate) logs: &'s mut Logs,
    pub(crate) events: &'s mut EventLog,
    pub(crate) clock: &'s dyn Clock,
    /// Arguments every line may use: uuid, fqdn, name, target, ip.
    base: Vec<(&'static str, String)>,
    pub(crate) log_errors: Vec<String>,
    calls_seen: usize,
    attempts_seen: usize,
    /// Whether digest attempts are logged (the provisioning accounts of the setup session; the
    /// stage-2 admin login only makes events).
    log_digest: bool,
    /// Write-ahead records of passwords (see [`SecretJournal`]).
    journal: Option<&'s mut dyn SecretJournal>,
    /// The device the records are for.
    device: DeviceUuid,
}

impl Sink<'_> {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Emits catalog line `id` with the base arguments plus `extra`.
    pub(crate) fn log(&mut self, id: LogId, extra: &[(&str, &str)]) {
        let mut args: Vec<(&str, &str)> = extra.to_vec();
        args.extend(self.base.iter().map(|(k, v)| (*k, v.as_str())));
        let now = self.clock.now();
        if let Err(e) = self.logs.emit(id, &args, now) {
            self.log_errors.push(format!("{id}: {e}"));
        }
    }

    /// Makes `secret` durable in the journal before it is sent to the device (no journal: no-op).
    pub(crate) fn write_ahead(&mut self, key: &str, secret: &str) -> Result<(), String> {
        let device = self.device;
        match self.journal.as_deref_mut() {
            Some(journal) => journal.write_ahead(device, key, secret),
            None => Ok(()),
        }
    }

    pub(crate) fn event(&mut self, event: ProvisionEvent) {
        let now = self.clock.now();
        self.events.push(now, event);
    }

    /// Turns the client's new call records and digest attempts into events and log lines.
    pub(crate) fn flush(&mut self, client: &WsmanClient<'_>) {
        let attempts = client
            .auth_attempts()
            .get(self.attempts_seen..)
            .unwrap_or_default();
        let attempts = attempts.to_vec();
        self.attempts_seen += attempts.len();
        for attempt in attempts {
            if self.log_digest {
                self.log(ids::DIGEST_TRYING, &[("account", &attempt.user)]);
                if !attempt.accepted {
                    self.log(ids::DIGEST_REJECTED, &[("account", &attempt.user)]);
                }
            }
            self.event(ProvisionEvent::Digest {
                account_index: attempt.account_index,
                user: attempt.user,
                ok: attempt.accepted,
            });
        }
        let calls = client
            .calls()
            .get(self.calls_seen..)
            .unwrap_or_default()
            .to_vec();
        self.calls_seen += calls.len();
        for call in calls {
            self.event(ProvisionEvent::WsmanCall {
                class: call.class,
                method: call.operation,
                status: call
                    .status
                    .map_or_else(|| "none".to_owned(), |s| s.to_string()),
            });
        }
    }

    /// A new client's records start at zero.
    pub(crate) fn reset_client_cursor(&mut self) {
        self.calls_seen = 0;
        self.attempts_seen = 0;
    }
}

/// State carried between steps.
#[derive(Default)]
pub(crate) struct Progress {
    /// The UUID the device reported, when the computer record had none.
    pub(crate) device_uuid: Option<DeviceUuid>,
    pub(crate) amt_version: Option<String>,
    pub(crate) setup_cert: Option<String>,
    pub(crate) web_cert_serial: Option<String>,
    pub(crate) admin_password: Option<String>,
    pub(crate) mebx_password: Option<String>,
}

/// Runs one provisioning session to its end and reports the result.
pub fn provision(ctx: &mut SessionCtx<'_>) -> SessionResult {
    let SessionCtx {
        env,
        computer,
        target,
        mode,
        identity,
        cert_index: _,
        connector,
        clock,
        logs,
        events,
        directory,
        ca,
        rng,
        journal,
    } = ctx;
    let env: &Environment = env;
    let computer: &ImportedComputer = computer;
    let uuid_text = computer.uuid.to_string();
    let mut sink = Sink {
        logs,
        events,
        clock: *clock,
        base: vec![
            ("uuid", uuid_text.clone()),
            ("fqdn", computer.fqdn.clone()),
            ("target", target.to_string()),
            ("ip", target.ip().to_string()),
        ],
        log_errors: Vec::new(),
        calls_seen: 0,
        attempts_seen: 0,
        log_digest: true,
        journal: match journal {
            Some(j) => Some(&mut **j as &mut dyn SecretJournal),
            None => None,
        },
        device: computer.uuid,
    };
    // Secrets never reach a log line, even inside an error text.
    for account in &env.accounts {
        sink.logs.register_secret(&account.password);
    }
    for user in &env.stage2.acl {
        sink.logs.register_secret(&user.password);
    }
    let mut progress = Progress::default();
    // The service point logs `provision.start` when it decides to provision; a caller that runs
    // a session without one (the `--device` command line) logs it itself.
    let steps = Steps {
        env,
        computer,
        target: *target,
        mode: *mode,
        identity,
    };
    let result = steps.run(
        &mut **connector,
        &mut sink,
        &mut progress,
        directory,
        ca,
        &mut **rng,
    );
    let (outcome, failed_step, status, error) = match &result {
        Ok(()) => (Outcome::Provisioned, None, AmtStatus::Provisioned, None),
        Err(f) => (
            Outcome::Failed,
            Some(f.step),
            f.status,
            Some((*f.cause).clone()),
        ),
    };
    let status_text = status.to_string();
    match &result {
        Ok(()) => sink.log(ids::PROVISION_SUCCEEDED, &[("status", &status_text)]),
        Err(f) => sink.log(
            ids::PROVISION_FAILED,
            &[("step", f.step.name()), ("status", &status_text)],
        ),
    }
    let uuid = progress.device_uuid.unwrap_or(computer.uuid);
    if uuid != computer.uuid {
        sink.base.retain(|(k, _)| *k != "uuid");
        sink.base.push(("uuid", uuid.to_string()));
    }
    sink.log(ids::PROVISION_STATUS_REPORTED, &[("status", &status_text)]);
    sink.event(ProvisionEvent::Result {
        uuid,
        outcome,
        failed_step,
        amt_status: status,
    });
    SessionResult {
        uuid,
        outcome,
        failed_step,
        amt_status: status,
        error,
        amt_version: progress.amt_version,
        device_setup_cert_sha256: progress.setup_cert,
        web_cert_serial: progress.web_cert_serial,
        admin_password: progress.admin_password,
        mebx_password: progress.mebx_password,
        log_errors: sink.log_errors,
    }
}

/// Runs the session an [`Action::Provision`] of `sp` asks for and reports its result back to
/// `sp` (`Input::SessionFinished`); the admin password it set is recorded in `sp`
/// ([`ServicePoint::record_admin_password`]). Lines go to the service point's logs and events.
/// `identities[i]` is the loaded chain and key of `env.provisioning_certificates[i]`.
///
/// An [`Action::Unprovision`] runs the removal (see [`run_removal`]) with the admin password
/// recorded for the device and returns `None` (it is not a provisioning session).
/// Returns `None` too for an unknown computer or a missing identity.
#[expect(
    clippy::too_many_arguments,
    reason = "the site server's parts, borrowed separately"
)]
pub fn run_action(
    sp: &mut ServicePoint,
    action: &Action,
    identities: &[ClientIdentity],
    connector: &mut dyn Connector,
    clock: &dyn Clock,
    directory: &mut Directory,
    ca: &mut EnterpriseCaModel,
    rng: &mut dyn RngCore,
) -> Option<SessionResult> {
    if let Action::Unprovision { .. } = action {
        let _ = run_removal(sp, action, connector, clock, rng);
        return None;
    }
    let Action::Provision {
        uuid,
        target,
        mode,
        cert_index,
        ..
    } = action
    else {
        return None;
    };
    let mut env = sp.env().clone();
    // Passwords an earlier, interrupted session recorded for this device come after the
    // configured accounts.
    for account in sp.recovered_accounts(uuid) {
        if !env.accounts.contains(account) {
            env.accounts.push(account.clone());
        }
    }
    let computer = env.computer(uuid)?.clone();
    let identity = identities.get(*cert_index)?;
    let config = sp.logs().config().clone();
    let mut logs = std::mem::replace(sp.logs_mut(), Logs::new(config));
    let mut events = std::mem::take(sp.events_mut());
    let mut journal = sp.take_journal();
    let result = provision(&mut SessionCtx {
        env: &env,
        computer: &computer,
        target: *target,
        mode: *mode,
        identity,
        cert_index: *cert_index,
        connector,
        clock,
        logs: &mut logs,
        events: &mut events,
        directory,
        ca,
        rng,
        journal: journal
            .as_deref_mut()
            .map(|j| -> &mut dyn SecretJournal { j }),
    });
    *sp.logs_mut() = logs;
    *sp.events_mut() = events;
    if let Some(journal) = journal {
        sp.set_journal(journal);
    }
    if let Some(password) = &result.admin_password {
        sp.record_admin_password(*uuid, password);
    }
    sp.handle(Input::SessionFinished {
        uuid: *uuid,
        result: result.summary(),
        now: clock.now(),
    });
    Some(result)
}

/// Runs the removal an [`Action::Unprovision`] of `sp` asks for (module `removal`): TLS with the
/// device's management certificate, digest as `admin` with the password recorded in `sp` for the
/// device, `AMT_SetupAndConfigurationService.Unprovision(1)`; with `abort_after_tls` the
/// connection closes after the handshake. Reports `Input::RemovalFinished` to `sp` (its
/// `remove.completed` / `remove.failed` line). Events go to the service point's event log.
/// Returns `None` for other actions.
pub fn run_removal(
    sp: &mut ServicePoint,
    action: &Action,
    connector: &mut dyn Connector,
    clock: &dyn Clock,
    rng: &mut dyn RngCore,
) -> Option<RemovalResult> {
    let Action::Unprovision {
        uuid,
        target,
        fqdn,
        abort_after_tls,
    } = action
    else {
        return None;
    };
    let env = sp.env().clone();
    let password = sp.admin_password(uuid).map(str::to_owned);
    let mut events = std::mem::take(sp.events_mut());
    let config = sp.logs().config().clone();
    let mut logs = std::mem::replace(sp.logs_mut(), Logs::new(config));
    let mut sink = Sink {
        logs: &mut logs,
        events: &mut events,
        clock,
        base: vec![
            ("uuid", uuid.to_string()),
            ("fqdn", fqdn.clone()),
            ("target", target.to_string()),
            ("ip", target.ip().to_string()),
        ],
        log_errors: Vec::new(),
        calls_seen: 0,
        attempts_seen: 0,
        log_digest: false,
        journal: None,
        device: *uuid,
    };
    let result = removal::Removal {
        env: &env,
        uuid: *uuid,
        target: *target,
        admin_password: password.as_deref(),
        abort_after_tls: *abort_after_tls,
    }
    .run(connector, &mut sink, rng.next_u64());
    *sp.logs_mut() = logs;
    *sp.events_mut() = events;
    sp.handle(Input::RemovalFinished {
        uuid: *uuid,
        ok: result.ok,
        now: clock.now(),
    });
    Some(result)
}

/// The immutable inputs of the steps.
pub(crate) struct Steps<'a> {
    pub(crate) env: &'a Environment,
    pub(crate) computer: &'a ImportedComputer,
    pub(crate) target: SocketAddr,
    pub(crate) mode: Mode,
    pub(crate) identity: &'a ClientIdentity,
}

impl Steps<'_> {
    fn run(
        &self,
        connector: &mut dyn Connector,
        sink: &mut Sink<'_>,
        progress: &mut Progress,
        directory: &mut Directory,
        ca: &mut EnterpriseCaModel,
        rng: &mut dyn RngCore,
    ) -> Result<(), Failure> {
        let accounts: Vec<Credentials> = self
            .env
            .accounts
            .iter()
            .map(|a| Credentials::new(a.user.clone(), a.password.clone()))
            .collect();
        let config = tls::client_config(self.identity, self.env.schannel_hotfix)
            .map_err(|e| Failure::new(Step::TlsHandshake, SessionError::ClientConfig(e)))?;
        let settings = ClientSettings {
            target: self.target,
            tls: Some(config),
            connect_timeout: Duration::from_millis(self.env.timeouts.connect_ms),
            request_timeout: Duration::from_millis(self.env.timeouts.request_ms),
        };
        {
            let mut client = WsmanClient::new(&mut *connector, settings, accounts, rng.next_u64());
            sink.reset_client_cursor();
            self.connect(&mut client, sink, progress)?;
            let r = self.identify(&mut client, sink, progress);
            sink.flush(&client);
            r?;
            if let Mode::InBand { otp_hash } = self.mode {
                let r = inband::check_otp(&mut client, &otp_hash);
                sink.flush(&client);
                if let Err(f) = r {
                    sink.log(ids::INBAND_OTP_MISMATCH, &[]);
                    return Err(f);
                }
            }
            self.directory(directory, sink)?;
            let r = stage1::run(self, &mut client, sink, progress, ca, rng);
            sink.flush(&client);
            r?;
        }
        // SP2 on Windows Server 2008 R2: WinRM checks the CRL of the device's new certificate
        // before any stage-2 request.
        if self.is_sp2() && !ca.crl_reachable() {
            sink.log(ids::A_19_DESCRIPTION, &[]);
            sink.log(ids::A_19_CODE, &[]);
            sink.event(ProvisionEvent::TlsFailed {
                detail: "certificate revocation check failed: 0x80072F8F".into(),
            });
            return Err(Failure::new(Step::Stage2, SessionError::RevocationCheck));
        }
        let admin = progress.admin_password.clone().unwrap_or_default();
        let config = tls::anonymous_client_config()
            .map_err(|e| Failure::new(Step::Stage2, SessionError::ClientConfig(e)))?;
        let settings = ClientSettings {
            target: self.target,
            tls: Some(config),
            connect_timeout: Duration::from_millis(self.env.timeouts.connect_ms),
            request_timeout: Duration::from_millis(self.env.timeouts.request_ms),
        };
        let mut client = WsmanClient::new(
            &mut *connector,
            settings,
            vec![Credentials::new("admin", admin)],
            rng.next_u64(),
        );
        sink.reset_client_cursor();
        sink.log_digest = false;
        let r = stage2::run(self, &mut client, sink);
        sink.flush(&client);
        r
    }

    fn is_sp2(&self) -> bool {
        self.env.configmgr.version == ConfigMgrVersion::Sp2
    }

    /// TCP connect (with retries) and the TLS handshake.
    fn connect(
        &self,
        client: &mut WsmanClient<'_>,
        sink: &mut Sink<'_>,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        sink.event(ProvisionEvent::TlsConnect {
            target: self.target,
        });
        let mut attempt = 0;
        loop {
            match client.connect() {
                Ok(()) => break,
                Err(CallError::Connect { source, .. })
                    if attempt < self.env.timeouts.retries
                        && matches!(source, TransportError::Refused | TransportError::Timeout) =>
                {
                    attempt += 1;
                    sink.clock.sleep(Duration::from_secs(5));
                }
                Err(e) => return Err(self.connect_failure(&e, sink)),
            }
        }
        progress.setup_cert = client.server_thumbprint().map(str::to_owned);
        Ok(())
    }

    /// Maps a connect or TLS failure to its log lines.
    fn connect_failure(&self, error: &CallError, sink: &mut Sink<'_>) -> Failure {
        sink.event(ProvisionEvent::TlsFailed {
            detail: format!("{}: {error}", error.id()),
        });
        match error {
            CallError::Connect { .. } => {
                // SP2: A-20; SP1: A-03 (c)'s short A-02 text (see the module doc).
                sink.log(
                    if self.is_sp2() {
                        ids::A_20
                    } else {
                        ids::A_02_SP1
                    },
                    &[],
                );
                Failure::new(Step::Connect, SessionError::Connect(error.clone()))
            }
            _ => {
                match tls::classify_refusal(self.identity) {
                    RefusalKind::RootKeyTooLong => {
                        let hex = format!("0x{:x}", pointer_like(&self.computer.fqdn));
                        sink.log(ids::A_18_ISC, &[]);
                        sink.log(ids::A_18_APPLY, &[("hex", &hex)]);
                        sink.log(ids::A_18_CORE_VERSION, &[]);
                    }
                    RefusalKind::DeviceInternalError => {
                        sink.log(
                            if self.is_sp2() {
                                ids::A_02_SP2
                            } else {
                                ids::A_02_SP1
                            },
                            &[],
                        );
                    }
                }
                Failure::new(
                    Step::TlsHandshake,
                    SessionError::TlsHandshake(error.clone()),
                )
            }
        }
    }

    /// First authenticated call: reads the firmware version (and runs digest).
    fn identify(
        &self,
        client: &mut WsmanClient<'_>,
        sink: &mut Sink<'_>,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        let items = match client.enumerate("CIM_SoftwareIdentity") {
            Ok(items) => items,
            Err(e) => {
                sink.flush(client);
                return Err(self.first_call_failure(&e, sink));
            }
        };
        sink.event(ProvisionEvent::TlsEstablished {
            server_cert_sha256: progress
                .setup_cert
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        });
        sink.log(ids::TLS_ESTABLISHED, &[]);
        let version = items
            .iter()
            .find(|i| {
                i.child_by_local_name("InstanceID")
                    .is_some_and(|id| id.text().trim() == "AMT")
            })
            .and_then(|i| i.child_by_local_name("VersionString"))
            .map(|v| v.text().trim().to_owned())
            .or_else(|| {
                client
                    .server_header()
                    .and_then(|s| s.rsplit(' ').next())
                    .map(str::to_owned)
            });
        progress.amt_version.clone_from(&version);
        if self.computer.uuid.canonical() == [0; 16] {
            // A device given by address only (`amt-provision --device`): ask it who it is.
            progress.device_uuid = read_uuid(client);
            if let Some(uuid) = progress.device_uuid {
                sink.device = uuid;
            }
        }
        if let Some(v) = &version
            && version_below(v, (3, 2, 1))
            && !self.env.wsman_translator
        {
            return Err(Failure::new(
                Step::Identify,
                SessionError::UnsupportedVersion(v.clone()),
            ));
        }
        Ok(())
    }

    /// The first call's failure: a TLS refusal seen on the first read, digest, or the call itself.
    fn first_call_failure(&self, error: &CallError, sink: &mut Sink<'_>) -> Failure {
        match error {
            CallError::Transport {
                source: TransportError::Tls { .. } | TransportError::Reset,
                ..
            }
            | CallError::Tls { .. }
            | CallError::Connect { .. } => self.connect_failure(error, sink),
            CallError::AuthFailed { .. } => {
                sink.log(ids::DIGEST_NONE_ACCEPTED, &[]);
                Failure {
                    step: Step::Digest,
                    cause: Box::new(SessionError::Digest(error.clone())),
                    status: AmtStatus::Detected,
                }
            }
            other => Failure::new(Step::Identify, SessionError::FirstCall(other.clone())),
        }
    }

    /// Step 5: the computer's AD account and SPN.
    fn directory(&self, directory: &mut Directory, sink: &mut Sink<'_>) -> Result<(), Failure> {
        sink.log(ids::AD_REQUEST, &[]);
        let now = sink.now();
        match directory.create_computer_account(&self.computer.name, &self.computer.fqdn, now) {
            Ok(account) => {
                let spn = account.spn.join(", ");
                sink.log(
                    ids::AD_CREATED,
                    &[
                        ("account", &account.sam),
                        ("container", &self.env.active_directory.container),
                        ("spn", &spn),
                    ],
                );
                sink.event(ProvisionEvent::Directory {
                    dn: Some(account.dn),
                    error: None,
                });
                Ok(())
            }
            Err(e) => {
                for id in e.log_ids() {
                    sink.log(*id, &[("container", &self.env.active_directory.container)]);
                }
                sink.event(ProvisionEvent::Directory {
                    dn: None,
                    error: Some(e.id().to_owned()),
                });
                Err(Failure::new(Step::Directory, SessionError::Directory(e)))
            }
        }
    }
}

/// `AMT_SetupAndConfigurationService.GetUuid`: the SMBIOS UUID, base64 in wire byte order.
fn read_uuid(client: &mut WsmanClient<'_>) -> Option<DeviceUuid> {
    use base64::Engine as _;
    let out = client
        .invoke("AMT_SetupAndConfigurationService", "GetUuid", &[], vec![])
        .ok()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out.get("UUID")?)
        .ok()?;
    let wire: [u8; 16] = bytes.try_into().ok()?;
    Some(DeviceUuid::from_wire(wire))
}

/// A pointer-looking number for the A-18 `ApplyControlToken` line (varies per machine in the
/// field; derived from the FQDN here so runs are reproducible).
fn pointer_like(seed: &str) -> u32 {
    let mut h: u32 = 0x0193_b95c;
    for b in seed.bytes() {
        h = h.rotate_left(5) ^ u32::from(b);
    }
    (h & 0x0fff_fff0) | 0x0100_0000
}

/// Whether dotted version `v` is below `min` (unparsable parts count as 0).
fn version_below(v: &str, min: (u32, u32, u32)) -> bool {
    let mut parts = v.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let got = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    got < min
}

impl From<TlsError> for Failure {
    fn from(e: TlsError) -> Self {
        Self::new(Step::TlsHandshake, SessionError::Tls(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_below("3.2.0", (3, 2, 1)));
        assert!(version_below("2.6", (3, 2, 1)));
        assert!(!version_below("3.2.1", (3, 2, 1)));
        assert!(!version_below("15.0.23.1706", (3, 2, 1)));
        assert!(!version_below("3.10", (3, 2, 1)));
    }

    #[test]
    fn pointer_like_values_look_like_the_field_samples() {
        let v = pointer_like("amt-device-01.corp.amt-sim.test");
        assert!((0x0100_0000..0x1000_0000).contains(&v));
        assert_eq!(v & 0xf, 0);
    }
}
