//! The out-of-band service point and the site-server duties around it, as an event-driven state machine.
//!
//! Inputs are Hellos, in-band requests from client agents, finished sessions and clock ticks, each
//! with `now`; outputs are [`Action`]s (start a provisioning session) plus log lines and events.
//! Rules (error-catalog §2, §3):
//! - Hello intake: unknown UUID → discarded (invented line); SP1 + previously discovered computer →
//!   discarded like an unknown UUID (A-14, see [`DiscardReason::NoSiteCode`]); computer with a
//!   ConfigMgr client → discarded ("client installed", in-band instead); PSK Hello → discarded;
//!   no device hash equal (same algorithm) to a provisioning root → A-11, no action; a session
//!   already running for the UUID → discarded (unless it is older than [`SESSION_STALE_AFTER`]
//!   without a report: then it is presumed lost); otherwise [`Action::Provision`]. After a failed
//!   session the next Hello starts a new one.
//! - In-band request: unknown computer → discarded; no provisioning policy → ignored
//!   silently; SP2 mixed-mode site with an unapproved client → A-06; otherwise
//!   [`Action::Provision`] with [`Mode::InBand`].
//! - The ProvisionServer alias enabled before the service point existed: the two A-15 lines
//!   at start-up (the first input), nothing else (devices then never find the server).
//! - Removing provisioning data ([`ServicePoint::remove_provisioning`]): revoke the web
//!   certificate (A-17 on denial), delete the AD account, unprovision the device; on SP2 with the
//!   CRL unreachable the A-19 lines.
//! - Provisioning certificates that expire within 30 days: the S-GODADDY warning at start-up and
//!   then once a day ([`ServicePoint::set_certificate_expiry`]).
//!
//! The target address is what DNS returns for the computer's FQDN: the configured wired address or
//! the Hello's source, or the wireless address when `dns.resolve_to: wireless` (A-20 then happens in
//! the session). Version-dependent decisions that need the device (A-08 WS-MAN translator) are made
//! by the session.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use amt_wire::hello::{DeviceUuid, HelloKind, HelloPacket};
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;

use crate::ca::EnterpriseCaModel;
use crate::directory::Directory;
use crate::env::{
    AliasState, AmtAccount, ConfigMgrVersion, Environment, ImportedComputer, ResolveTo, SiteMode,
};
pub use crate::events::AmtStatus;
use crate::events::{DiscardReason, EventLog, Outcome, ProvisionEvent, SessionSummary};
use crate::logs::{LogError, Logs};
use crate::logs::{LogId, ids};
use crate::session::SecretJournal;

/// Warn about provisioning certificates that expire within this time.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);
/// A session that has not reported after this long is considered lost: the next Hello or
/// request for the device starts a new one.
pub const SESSION_STALE_AFTER: Duration = Duration::from_secs(3600);
/// Repeat the expiry warning this often.
const EXPIRY_REPEAT: Duration = Duration::from_secs(24 * 3600);

/// Something that happened to the service point.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Input {
    /// A Hello packet arrived from `from`.
    Hello {
        /// Source address of the Hello connection.
        from: SocketAddr,
        /// The parsed packet.
        packet: HelloPacket,
        /// When it arrived.
        now: Timestamp,
    },
    /// A client agent asked for in-band provisioning (via the site server).
    InBandRequest {
        /// The device UUID.
        uuid: DeviceUuid,
        /// SHA-256 of the OTP the client set on the device.
        otp_hash: [u8; 32],
        /// When it arrived.
        now: Timestamp,
    },
    /// A provisioning session ended.
    SessionFinished {
        /// The device UUID.
        uuid: DeviceUuid,
        /// How it ended.
        result: SessionSummary,
        /// When it ended.
        now: Timestamp,
    },
    /// A removal started by [`ServicePoint::remove_provisioning`] ended.
    RemovalFinished {
        /// The device UUID.
        uuid: DeviceUuid,
        /// The device accepted `Unprovision` (status becomes Not Provisioned).
        ok: bool,
        /// When it ended.
        now: Timestamp,
    },
    /// Time passed (certificate-expiry checks).
    Tick {
        /// The current time.
        now: Timestamp,
    },
}

impl Input {
    /// The time of the input.
    pub fn now(&self) -> Timestamp {
        match self {
            Self::Hello { now, .. }
            | Self::InBandRequest { now, .. }
            | Self::SessionFinished { now, .. }
            | Self::RemovalFinished { now, .. }
            | Self::Tick { now } => *now,
        }
    }
}

/// How a device is provisioned.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Mode {
    /// Out of band, started by a Hello.
    OutOfBand,
    /// In band, started by the client agent: the session compares this hash with SHA-256 of the
    /// device's `ProvisioningServerOTP` before stage 1.
    InBand {
        /// SHA-256 of the OTP.
        otp_hash: [u8; 32],
    },
}

impl Mode {
    /// `out-of-band` or `in-band`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OutOfBand => "out-of-band",
            Self::InBand { .. } => "in-band",
        }
    }
}

/// What the shell must do.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Action {
    /// Run a provisioning session; report its end with [`Input::SessionFinished`].
    Provision {
        /// The device UUID.
        uuid: DeviceUuid,
        /// The address to connect to (TLS port of the computer).
        target: SocketAddr,
        /// The imported FQDN (AMT host name + domain).
        fqdn: String,
        /// Out of band or in band.
        mode: Mode,
        /// Index into `env.provisioning_certificates` of the certificate to present.
        cert_index: usize,
    },
    /// Remove the provisioning data from the device: connect (TLS with the device's web
    /// certificate, as the admin account) and call `AMT_SetupAndConfigurationService.Unprovision`;
    /// report the end with [`Input::RemovalFinished`].
    Unprovision {
        /// The device UUID.
        uuid: DeviceUuid,
        /// The address to connect to.
        target: SocketAddr,
        /// The imported FQDN.
        fqdn: String,
        /// WinRM's revocation check fails (SP2, CRL unreachable). Do the TCP connect and TLS
        /// handshake, then close before any WS-MAN request; the A-19 lines are already logged.
        abort_after_tls: bool,
    },
}

/// A provisioning certificate's facts for the expiry warning.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CertExpiry {
    /// SHA-1 thumbprint of the leaf (shown in the warning).
    pub leaf_thumbprint: Thumbprint,
    /// End of validity.
    pub not_after: Timestamp,
}

/// What the site knows about one device.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
struct DeviceRecord {
    status: AmtStatus,
    running: bool,
    sessions: u32,
    /// Source address of the last Hello (the wired address when DNS has no record).
    last_source: Option<IpAddr>,
    /// When the running session started.
    started_at: Option<Timestamp>,
}

impl DeviceRecord {
    /// Whether a session is running and not yet stale at `now`.
    fn busy(&self, now: Timestamp) -> bool {
        self.running
            && self
                .started_at
                .is_none_or(|t| now - t < SESSION_STALE_AFTER)
    }
}

/// The service point with the site-server state it needs.
#[derive(Debug)]
pub struct ServicePoint {
    env: Environment,
    /// (certificate index, root thumbprint) pairs.
    roots: Vec<(usize, Thumbprint)>,
    logs: Logs,
    events: EventLog,
    devices: BTreeMap<DeviceUuid, DeviceRecord>,
    started: bool,
    expiry: Vec<Option<CertExpiry>>,
    last_expiry_warning: Option<Timestamp>,
    log_errors: Vec<LogError>,
    admin_passwords: AdminPasswords,
    recovered: RecoveredAccounts,
    journal: Journal,
}

/// Accounts recovered from an earlier run's secrets file, per device (tried after the configured
/// ones). `Debug` shows the UUIDs only.
#[derive(Default)]
struct RecoveredAccounts(BTreeMap<DeviceUuid, Vec<AmtAccount>>);

impl std::fmt::Debug for RecoveredAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(ToString::to_string))
            .finish()
    }
}

/// The write-ahead journal sessions record passwords in.
#[derive(Default)]
struct Journal(Option<Box<dyn SecretJournal + Send>>);

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Journal" } else { "None" })
    }
}

/// The admin passwords set on provisioned devices (ConfigMgr keeps them in the site database to
/// manage and unprovision the devices later). `Debug` shows the UUIDs only.
#[derive(Default)]
struct AdminPasswords(BTreeMap<DeviceUuid, String>);

impl std::fmt::Debug for AdminPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(ToString::to_string))
            .finish()
    }
}

impl ServicePoint {
    /// A service point for `env` (its passwords are registered as log secrets, see
    /// [`Logs::register_secret`]). `prov_roots[i]` is the root thumbprint of
    /// `env.provisioning_certificates[i]`; a device hash matches only with the same algorithm, so
    /// give the algorithm the devices use (SHA-256 on current firmware), or use
    /// [`Self::with_root_certificates`] to match any algorithm.
    pub fn new(env: Environment, prov_roots: Vec<Thumbprint>, logs: Logs) -> Self {
        let roots = prov_roots.into_iter().enumerate().collect();
        Self::with_roots(env, roots, logs)
    }

    /// A service point for `env` given the DER of each provisioning chain's root (`roots_der[i]`
    /// for `env.provisioning_certificates[i]`): SHA-1, SHA-256 and SHA-384 hashes all match.
    pub fn with_root_certificates(env: Environment, roots_der: &[Vec<u8>], logs: Logs) -> Self {
        let roots = roots_der
            .iter()
            .enumerate()
            .flat_map(|(i, der)| HashAlgorithm::ALL.map(|alg| (i, Thumbprint::of_der(alg, der))))
            .collect();
        Self::with_roots(env, roots, logs)
    }

    fn with_roots(env: Environment, roots: Vec<(usize, Thumbprint)>, mut logs: Logs) -> Self {
        for secret in env.secrets() {
            logs.register_secret(secret);
        }
        let expiry = vec![None; env.provisioning_certificates.len()];
        Self {
            env,
            roots,
            logs,
            events: EventLog::new(),
            devices: BTreeMap::new(),
            started: false,
            expiry,
            last_expiry_warning: None,
            log_errors: Vec::new(),
            admin_passwords: AdminPasswords::default(),
            recovered: RecoveredAccounts::default(),
            journal: Journal::default(),
        }
    }

    /// Records the leaf thumbprint and end of validity of provisioning certificate `index`, so the
    /// expiry warning can be written.
    pub fn set_certificate_expiry(&mut self, index: usize, expiry: CertExpiry) {
        if let Some(slot) = self.expiry.get_mut(index) {
            *slot = Some(expiry);
        }
    }

    /// The environment.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// The logs written so far.
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// The logs, for the session to write into.
    pub fn logs_mut(&mut self) -> &mut Logs {
        &mut self.logs
    }

    /// The events recorded so far.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// The events, for the session to append to.
    pub fn events_mut(&mut self) -> &mut EventLog {
        &mut self.events
    }

    /// The AMT status the site records for `uuid` (`Unknown` until a Hello or request arrives).
    pub fn status(&self, uuid: &DeviceUuid) -> AmtStatus {
        self.devices
            .get(uuid)
            .map_or(AmtStatus::Unknown, |d| d.status)
    }

    /// Whether a session for `uuid` is running (started and not reported, even if stale).
    pub fn session_running(&self, uuid: &DeviceUuid) -> bool {
        self.devices.get(uuid).is_some_and(|d| d.running)
    }

    /// Parses the bytes of a Hello connection and handles them as [`Input::Hello`]; a Hello that
    /// does not parse is logged (`hello.malformed`, with the `amt_wire` error) and dropped.
    pub fn handle_hello_bytes(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Timestamp,
    ) -> Vec<Action> {
        match HelloPacket::parse(bytes) {
            Ok(packet) => self.handle(Input::Hello { from, packet, now }),
            Err(e) => {
                if !self.started {
                    self.started = true;
                    self.startup(now);
                }
                let ip = from.ip().to_string();
                self.log(
                    ids::HELLO_MALFORMED,
                    &[("ip", &ip), ("error", &e.to_string())],
                    now,
                );
                Vec::new()
            }
        }
    }

    /// Handles one input and returns what to do.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let now = input.now();
        if !self.started {
            self.started = true;
            self.startup(now);
        }
        self.check_expiry(now);
        match input {
            Input::Hello { from, packet, now } => self.hello(from, &packet, now),
            Input::InBandRequest {
                uuid,
                otp_hash,
                now,
            } => self.in_band(uuid, otp_hash, now),
            Input::SessionFinished { uuid, result, .. } => {
                self.finished(uuid, result);
                Vec::new()
            }
            Input::RemovalFinished { uuid, ok, now } => {
                self.removal_finished(uuid, ok, now);
                Vec::new()
            }
            Input::Tick { .. } => Vec::new(),
        }
    }

    /// "Remove provisioning data" for a device (console action): the site server revokes the
    /// device's web server certificate (`web_cert_serial`, if one was issued; A-17 lines when the
    /// CA denies it) and deletes its AD account `<name>$iME`; the service point then removes the
    /// data from the device ([`Action::Unprovision`]). On an SP2 site whose CRL is unreachable,
    /// WinRM's revocation check fails: the A-19 lines are written now and the action only
    /// reproduces the connection (`abort_after_tls`). Unknown computers give no action.
    pub fn remove_provisioning(
        &mut self,
        uuid: &DeviceUuid,
        directory: &mut Directory,
        ca: &mut EnterpriseCaModel,
        web_cert_serial: Option<&str>,
        now: Timestamp,
    ) -> Vec<Action> {
        if !self.started {
            self.started = true;
            self.startup(now);
        }
        let Some(computer) = self.env.computer(uuid).cloned() else {
            return Vec::new();
        };
        let uuid_text = uuid.to_string();
        self.log(
            ids::REMOVE_REQUESTED,
            &[("fqdn", &computer.fqdn), ("uuid", &uuid_text)],
            now,
        );
        if let Some(serial) = web_cert_serial {
            match ca.revoke(serial) {
                Ok(()) => self.log(ids::CA_REVOKED, &[("cert_id", serial)], now),
                Err(e) => {
                    if let Err(e) = e.emit_logs(&mut self.logs, now) {
                        self.log_errors.push(e);
                    }
                }
            }
            self.events.push(
                now,
                ProvisionEvent::Ca {
                    operation: "revoke".to_owned(),
                    template: ca.config().template.clone(),
                    serial: Some(serial.to_owned()),
                    error: ca
                        .config()
                        .revocation_denied
                        .then(|| "ca/revocation-denied".to_owned()),
                },
            );
        }
        let sam = format!("{}$iME", computer.name);
        if directory.delete_account(&sam).is_ok() {
            self.log(ids::AD_DELETED, &[("account", &sam)], now);
        }
        let last = self.devices.get(uuid).and_then(|d| d.last_source);
        let Some(target) = self.resolve(&computer, last) else {
            self.log(ids::REMOVE_FAILED, &[("uuid", &uuid_text)], now);
            return Vec::new();
        };
        self.log(
            ids::REMOVE_START,
            &[("uuid", &uuid_text), ("target", &target.to_string())],
            now,
        );
        let abort_after_tls =
            self.env.configmgr.version == ConfigMgrVersion::Sp2 && !ca.crl_reachable();
        if abort_after_tls {
            self.log(ids::A_19_DESCRIPTION, &[], now);
            self.log(ids::A_19_CODE, &[], now);
        }
        vec![Action::Unprovision {
            uuid: *uuid,
            target,
            fqdn: computer.fqdn,
            abort_after_tls,
        }]
    }

    fn removal_finished(&mut self, uuid: DeviceUuid, ok: bool, now: Timestamp) {
        let uuid_text = uuid.to_string();
        if ok {
            let record = self.devices.entry(uuid).or_default();
            record.status = AmtStatus::NotProvisioned;
            let status = record.status.to_string();
            self.log(
                ids::REMOVE_COMPLETED,
                &[("uuid", &uuid_text), ("status", &status)],
                now,
            );
        } else {
            self.log(ids::REMOVE_FAILED, &[("uuid", &uuid_text)], now);
        }
    }

    /// Writes a catalog line. A failure is a catalog bug (the catalog tests rule it out); it is
    /// kept in [`Self::log_errors`] instead of panicking.
    fn log(&mut self, id: LogId, args: &[(&str, &str)], now: Timestamp) {
        if let Err(e) = self.logs.emit(id, args, now) {
            self.log_errors.push(e);
        }
    }

    /// Records the admin password a session set on device `uuid` (kept for later management and
    /// [`Action::Unprovision`]; registered as a log secret).
    pub fn record_admin_password(&mut self, uuid: DeviceUuid, password: &str) {
        self.logs.register_secret(password);
        self.admin_passwords.0.insert(uuid, password.to_owned());
    }

    /// Adds accounts recovered for device `uuid` from an earlier run (its secrets file): its
    /// sessions try them after the configured accounts (registered as log secrets).
    pub fn add_recovered_accounts(&mut self, uuid: DeviceUuid, accounts: Vec<AmtAccount>) {
        let list = self.recovered.0.entry(uuid).or_default();
        for account in accounts {
            self.logs.register_secret(&account.password);
            if !list.contains(&account) {
                list.push(account);
            }
        }
    }

    /// The accounts recovered for device `uuid` (see [`Self::add_recovered_accounts`]).
    pub fn recovered_accounts(&self, uuid: &DeviceUuid) -> &[AmtAccount] {
        self.recovered.0.get(uuid).map_or(&[], Vec::as_slice)
    }

    /// Sets the journal the sessions record passwords in before they send them
    /// ([`crate::session::SecretJournal`]).
    pub fn set_journal(&mut self, journal: Box<dyn SecretJournal + Send>) {
        self.journal.0 = Some(journal);
    }

    /// Takes the journal out (a session borrows it; give it back with [`Self::set_journal`]).
    pub fn take_journal(&mut self) -> Option<Box<dyn SecretJournal + Send>> {
        self.journal.0.take()
    }

    /// The admin password recorded for device `uuid`, if any.
    pub fn admin_password(&self, uuid: &DeviceUuid) -> Option<&str> {
        self.admin_passwords.0.get(uuid).map(String::as_str)
    }

    /// Log lines that could not be written (always empty unless the catalog has a bug).
    pub fn log_errors(&self) -> &[LogError] {
        &self.log_errors
    }

    fn startup(&mut self, now: Timestamp) {
        if self.env.dns.provision_server_alias == AliasState::RegisteredBeforeServicePoint {
            let sp = self.env.configmgr.service_point_fqdn.clone();
            let suffix = sp.split_once('.').map_or("", |(_, d)| d).to_owned();
            let path = self.env.configmgr.install_path.clone();
            self.log(
                ids::A_15_ALIAS,
                &[("suffix", &suffix), ("sp_fqdn", &sp)],
                now,
            );
            self.log(ids::A_15_INSTRUCTION, &[("path", &path)], now);
        }
    }

    fn check_expiry(&mut self, now: Timestamp) {
        if self
            .last_expiry_warning
            .is_some_and(|last| now - last < EXPIRY_REPEAT)
        {
            return;
        }
        let mut warned = false;
        for (index, expiry) in self.expiry.clone().into_iter().enumerate() {
            let Some(e) = expiry else { continue };
            if e.not_after <= now || e.not_after - now > EXPIRY_WARNING {
                continue;
            }
            let days = ((e.not_after - now).as_secs() / 86_400).to_string();
            let thumb = e.leaf_thumbprint.to_configmgr_hex();
            let cert_id = (index + 1).to_string();
            self.log(
                ids::CERT_EXPIRY,
                &[
                    ("thumbprint", &thumb),
                    ("days", &days),
                    ("cert_id", &cert_id),
                ],
                now,
            );
            warned = true;
        }
        if warned {
            self.last_expiry_warning = Some(now);
        }
    }

    fn discard(&mut self, uuid: DeviceUuid, reason: DiscardReason, now: Timestamp) -> Vec<Action> {
        self.events
            .push(now, ProvisionEvent::HelloDiscarded { uuid, reason });
        Vec::new()
    }

    fn hello(&mut self, from: SocketAddr, packet: &HelloPacket, now: Timestamp) -> Vec<Action> {
        let uuid = packet.uuid;
        let uuid_text = uuid.to_string();
        let ip = from.ip().to_string();
        self.events.push(
            now,
            ProvisionEvent::HelloReceived {
                uuid,
                from,
                retry_count: packet.retry_count,
            },
        );
        self.log(
            ids::HELLO_RECEIVED,
            &[("ip", &ip), ("uuid", &uuid_text)],
            now,
        );
        let args = [("ip", ip.as_str()), ("uuid", uuid_text.as_str())];
        let Some(computer) = self.env.computer(&uuid).cloned() else {
            self.log(ids::HELLO_DISCARDED_UNKNOWN, &args, now);
            return self.discard(uuid, DiscardReason::UnknownUuid, now);
        };
        if self.env.configmgr.version == ConfigMgrVersion::Sp1 && computer.previously_discovered {
            self.log(ids::HELLO_DISCARDED_UNKNOWN, &args, now);
            return self.discard(uuid, DiscardReason::NoSiteCode, now);
        }
        if computer.client_installed {
            self.log(ids::HELLO_DISCARDED_CLIENT_INSTALLED, &args, now);
            return self.discard(uuid, DiscardReason::ClientInstalled, now);
        }
        let hashes = match &packet.kind {
            HelloKind::Pki { hashes } => hashes,
            HelloKind::Psk { .. } => {
                self.log(ids::HELLO_DISCARDED_PSK, &args, now);
                return self.discard(uuid, DiscardReason::PskHello, now);
            }
        };
        let record = self.devices.entry(uuid).or_default();
        record.last_source = Some(from.ip());
        if record.status == AmtStatus::Unknown {
            record.status = AmtStatus::NotProvisioned;
        }
        if record.busy(now) {
            self.log(ids::HELLO_DISCARDED_BUSY, &args, now);
            return self.discard(uuid, DiscardReason::SessionRunning, now);
        }
        let cert_index = self
            .roots
            .iter()
            .find(|(_, root)| hashes.contains(root))
            .map(|(i, _)| *i);
        let Some(cert_index) = cert_index else {
            self.log(ids::A_11, &[("uuid", &uuid_text)], now);
            return self.discard(uuid, DiscardReason::HashMismatch, now);
        };
        let target = self.resolve(&computer, Some(from.ip()));
        match target {
            Some(target) => self.start(&computer, target, Mode::OutOfBand, cert_index, now),
            None => Vec::new(),
        }
    }

    fn in_band(&mut self, uuid: DeviceUuid, otp_hash: [u8; 32], now: Timestamp) -> Vec<Action> {
        let uuid_text = uuid.to_string();
        let refuse = |sp: &mut Self| {
            sp.events.push(
                now,
                ProvisionEvent::InBandRequest {
                    uuid,
                    accepted: false,
                },
            );
            Vec::new()
        };
        let Some(computer) = self.env.computer(&uuid).cloned() else {
            self.log(ids::INBAND_UNKNOWN, &[("uuid", &uuid_text)], now);
            return refuse(self);
        };
        self.log(
            ids::INBAND_REQUEST,
            &[("name", &computer.name), ("uuid", &uuid_text)],
            now,
        );
        if !computer.auto_provision {
            return refuse(self);
        }
        if self.env.configmgr.version == ConfigMgrVersion::Sp2
            && self.env.configmgr.site_mode == SiteMode::Mixed
            && !computer.client_approved
        {
            self.log(ids::A_06, &[], now);
            return refuse(self);
        }
        let record = self.devices.entry(uuid).or_default();
        if record.status == AmtStatus::Unknown {
            record.status = AmtStatus::NotProvisioned;
        }
        if record.busy(now) {
            return refuse(self);
        }
        let last = self.devices.get(&uuid).and_then(|d| d.last_source);
        let Some(target) = self.resolve(&computer, last) else {
            self.log(
                ids::INBAND_UNRESOLVED,
                &[("fqdn", &computer.fqdn), ("uuid", &uuid_text)],
                now,
            );
            return refuse(self);
        };
        self.events.push(
            now,
            ProvisionEvent::InBandRequest {
                uuid,
                accepted: true,
            },
        );
        self.log(
            ids::INBAND_INSTRUCT,
            &[("uuid", &uuid_text), ("fqdn", &computer.fqdn)],
            now,
        );
        // The client checked the device's hashes; the first provisioning certificate is used.
        self.start(&computer, target, Mode::InBand { otp_hash }, 0, now)
    }

    /// What DNS returns for the computer: see the module docs.
    fn resolve(
        &self,
        computer: &ImportedComputer,
        hello_source: Option<IpAddr>,
    ) -> Option<SocketAddr> {
        let wired = computer.wired_ip.or(hello_source);
        let ip = match self.env.dns.resolve_to {
            ResolveTo::Wired => wired,
            ResolveTo::Wireless => computer.wireless_ip.or(wired),
        }?;
        Some(SocketAddr::new(ip, computer.tls_port))
    }

    fn start(
        &mut self,
        computer: &ImportedComputer,
        target: SocketAddr,
        mode: Mode,
        cert_index: usize,
        now: Timestamp,
    ) -> Vec<Action> {
        let uuid = computer.uuid;
        let record = self.devices.entry(uuid).or_default();
        record.running = true;
        record.started_at = Some(now);
        record.sessions = record.sessions.saturating_add(1);
        self.events.push(
            now,
            ProvisionEvent::ProvisionStarted {
                uuid,
                target,
                mode: mode.name().to_owned(),
                cert_index,
            },
        );
        self.log(
            ids::PROVISION_START,
            &[
                ("uuid", &uuid.to_string()),
                ("fqdn", &computer.fqdn),
                ("target", &target.to_string()),
                ("name", mode.name()),
                ("cert_id", &(cert_index + 1).to_string()),
            ],
            now,
        );
        vec![Action::Provision {
            uuid,
            target,
            fqdn: computer.fqdn.clone(),
            mode,
            cert_index,
        }]
    }

    /// Records the end of a session. The session itself writes `provision.status-reported`
    /// (amtproxymgr.log) when it reports to the site server, so nothing is logged here.
    fn finished(&mut self, uuid: DeviceUuid, result: SessionSummary) {
        let record = self.devices.entry(uuid).or_default();
        record.running = false;
        record.status = match (result.outcome, result.amt_status) {
            (Outcome::Provisioned, _) => AmtStatus::Provisioned,
            (Outcome::Failed, AmtStatus::Unknown) => record.status,
            (Outcome::Failed, status) => status,
        };
    }
}
