//! What a scenario run produced: sessions, logs, Hellos, the device's wire events, the device's
//! end state read back over WS-MAN, and the redacted transcript. Expectations are checked
//! against this (`expect.rs`); reports print it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use provisioner_core::events::{AmtStatus, Outcome, Step};
use provisioner_core::logs::LogFile;
use serde::Serialize;

/// Everything observed in one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Observation {
    /// The environment was refused before anything ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// The in-band client agent refused to start (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_refusal: Option<String>,
    /// Provisioning sessions in order (all devices).
    pub sessions: Vec<SessionObs>,
    /// The AMT status the site records for the first device.
    pub amt_status: Option<AmtStatus>,
    /// Log files: messages and framed lines.
    pub logs: BTreeMap<LogFile, LogObs>,
    /// Error-catalog line ids written (any file).
    pub documented: BTreeSet<String>,
    /// Hello counts and timing.
    pub hellos: HelloObs,
    /// The device side of the wire.
    pub wire: WireObs,
    /// The first device's end state, read back over WS-MAN.
    pub device: Option<DeviceObs>,
    /// The site's end state (directory accounts, certificates of the CA).
    pub site: SiteStateObs,
    /// Every event of both sides, as their JSON objects (redacted), for `expect.events`.
    #[serde(skip)]
    pub events: EventsObs,
    /// Virtual (or real) time the flow took.
    pub elapsed: Duration,
    /// The redacted transcript (events of both sides and log lines, in time order).
    #[serde(skip)]
    pub transcript: String,
    /// The site hierarchy, by site code (empty without a hierarchy).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sites: BTreeMap<String, SiteObs>,
    /// Every status message raised in the hierarchy, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_messages: Vec<StatusObs>,
    /// The hierarchy's ConfigMgr clients, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, ClientObs>,
    /// AMT web server certificates issued by the CA and published to the site database.
    pub certificates: CertificatesObs,
    /// Steps skipped and why (e.g. a Hello window in network mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Step-addressed faults of the device profile (`faults[i]` and what they say) that never
    /// fired during the run and are not marked `optional` (arms with device events only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults_never_fired: Vec<String>,
}

/// One provisioning session's result (passwords left out).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SessionObs {
    /// Device UUID.
    pub uuid: String,
    /// Provisioned or failed.
    pub outcome: Outcome,
    /// The failing step.
    pub failed_step: Option<Step>,
    /// The AMT status reported.
    pub amt_status: AmtStatus,
    /// The error id and text.
    pub error: Option<String>,
    /// The failure's stable id (`wsman/return-value`, `tls/revocation-check`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// One site of the hierarchy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SiteObs {
    /// Its log files (despool.log, hman.log, policypv.log, amtproxymgr.log, PolicyAgent.log).
    pub logs: BTreeMap<LogFile, LogObs>,
    /// Files in `despoolr.box\receive` at the end.
    pub receive_now: usize,
    /// The most files `despoolr.box\receive` held at once.
    pub receive_max: usize,
    /// Instructions deleted after their last retry.
    pub deleted: usize,
    /// Instructions verified and executed.
    pub executed: usize,
    /// Sites whose public key it holds.
    pub keys: Vec<String>,
    /// Its record of the first device's AMT status (`None`: no record).
    pub device_status: Option<AmtStatus>,
    /// Policies re-signed (sum over renewals).
    pub policies_resigned: u32,
    /// Policy authentication failures reported by clients.
    pub policy_errors: u32,
    /// Files at the root of its server's drive (preinst output).
    pub drive_root: Vec<String>,
}

/// One status message.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StatusObs {
    /// Site code.
    pub site: String,
    /// Component.
    pub component: String,
    /// Message id.
    pub id: u32,
    /// `info`, `warning`, `error`.
    pub severity: String,
    /// Insertion strings.
    pub istr: Vec<String>,
}

/// One ConfigMgr client.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ClientObs {
    /// `accepted` or `refused`.
    pub policy: String,
    /// Managed by its site.
    pub managed: bool,
    /// Policy authentication failures it reported.
    pub reported_errors: u32,
    /// `AllowedRootCAHashCode` on its OS's key (`None`: absent or empty).
    pub allowed_root: Option<String>,
}

/// The AMT web server certificates of the run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CertificatesObs {
    /// Issued by the enterprise CA.
    pub issued: usize,
    /// Published to the site database.
    pub published: usize,
    /// Serials issued but not published.
    pub unpublished: Vec<String>,
}

/// One log file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LogObs {
    /// Messages (the text before the framing).
    pub messages: Vec<String>,
    /// Framed lines as written to the file.
    pub lines: Vec<String>,
    /// The catalog id of each line (`A-11`, `tls.failed`, …), in the same order.
    pub ids: Vec<String>,
}

/// The site's end state after the flow.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SiteStateObs {
    /// sAMAccountNames of the AMT computer accounts in Active Directory (`AMT-DEVICE-01$iME`).
    pub ad_accounts: Vec<String>,
    /// Serials of the web server certificates the enterprise CA issued, in order.
    pub certificates_issued: Vec<String>,
    /// Serials of those it revoked.
    pub certificates_revoked: Vec<String>,
}

/// The events of a run, each as its JSON object (`{"event": "tls-handshake", …}`).
#[derive(Clone, Debug, Default)]
pub struct EventsObs {
    /// The service point's events, in order.
    pub site: Vec<serde_json::Value>,
    /// The devices' events (all devices), in order.
    pub device: Vec<serde_json::Value>,
}

/// Hellos of every device.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HelloObs {
    /// Hellos sent.
    pub sent: usize,
    /// Hellos that reached the service point.
    pub delivered: usize,
    /// Hellos whose target name did not resolve.
    pub unresolved: usize,
    /// Hellos the service point discarded.
    pub discarded: usize,
    /// Time of the last Hello after the start.
    pub last_at: Option<Duration>,
    /// No device has a Hello due any more.
    pub stopped: bool,
}

/// The device side of the wire (all devices), from their event logs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WireObs {
    /// TLS handshakes: `ok` or the refusal id.
    pub tls: Vec<String>,
    /// HTTP requests answered.
    pub http_requests: usize,
    /// Refused TCP connections (reason ids).
    pub refused_connections: Vec<String>,
    /// Requests refused by digest authentication.
    pub auth_failures: usize,
    /// WS-MAN calls answered with 200, as `Class.Action`.
    pub calls: Vec<String>,
}

/// The device's end state.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DeviceObs {
    /// `pre`, `in`, `post`, or `None` when unreadable.
    pub provisioning_state: Option<String>,
    /// `AMT_GeneralSettings.HostName`.
    pub host_name: Option<String>,
    /// `AMT_GeneralSettings.DomainName`.
    pub domain_name: Option<String>,
    /// Why the read-back failed.
    pub error: Option<String>,
}

impl Observation {
    /// The last session.
    pub fn last_session(&self) -> Option<&SessionObs> {
        self.sessions.last()
    }

    /// The outcome name: `provisioned`, `failed`, `no-session`, `client-refused`,
    /// `config-error`.
    pub fn outcome_name(&self) -> &'static str {
        if self.config_error.is_some() {
            return "config-error";
        }
        if self.client_refusal.is_some() {
            return "client-refused";
        }
        // Per device, its last session counts; a fleet is provisioned when every device is.
        let mut last: BTreeMap<&str, Outcome> = BTreeMap::new();
        for s in &self.sessions {
            last.insert(&s.uuid, s.outcome);
        }
        if last.is_empty() {
            "no-session"
        } else if last.values().all(|o| *o == Outcome::Provisioned) {
            "provisioned"
        } else {
            "failed"
        }
    }
}
