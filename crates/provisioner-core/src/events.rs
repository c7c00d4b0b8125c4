//! The provisioning event stream: what happened, step by step, as serde data (JSON lines).
//!
//! Both the service point (Hello intake) and the provisioning session (TLS, digest, WS-MAN,
//! directory, CA, stages) push into one [`EventLog`]. Secrets never appear in events: accounts are
//! named by index and user name, never by password.

use std::fmt;
use std::net::SocketAddr;

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The AMT status ConfigMgr shows (`SMS_R_System.AMTStatus`).
#[derive(
    Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AmtStatus {
    /// NULL: nothing known yet.
    #[default]
    Unknown,
    /// 0: not supported.
    NotSupported,
    /// 1: detected (AMT present but the credentials are unknown, e.g. provisioned by another solution).
    Detected,
    /// 2: not provisioned.
    NotProvisioned,
    /// 3: provisioned.
    Provisioned,
}

impl AmtStatus {
    /// The database value (`None` = NULL).
    pub fn code(self) -> Option<u8> {
        match self {
            Self::Unknown => None,
            Self::NotSupported => Some(0),
            Self::Detected => Some(1),
            Self::NotProvisioned => Some(2),
            Self::Provisioned => Some(3),
        }
    }
}

impl fmt::Display for AmtStatus {
    /// The console text: `Unknown`, `Not Supported`, `Detected`, `Not Provisioned`, `Provisioned`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "Unknown",
            Self::NotSupported => "Not Supported",
            Self::Detected => "Detected",
            Self::NotProvisioned => "Not Provisioned",
            Self::Provisioned => "Provisioned",
        })
    }
}

/// A step of the provisioning flow (error-catalog §2), as named in scenarios (`failed_step`).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Hello intake (UUID and hash-list checks).
    Hello,
    /// In-band request handling (client agent, OTP).
    InBand,
    /// TCP connect to the device.
    Connect,
    /// TLS handshake with the provisioning certificate.
    TlsHandshake,
    /// HTTP digest authentication with the provisioning accounts.
    Digest,
    /// Firmware version check (WS-MAN translator).
    Identify,
    /// Active Directory account and SPN.
    Directory,
    /// Enterprise CA request for the web server certificate.
    Certificate,
    /// Publishing the issued certificate to the site database (seed 002's pattern).
    CertificatePublish,
    /// First-stage provisioning (SOAP).
    Stage1,
    /// Second-stage provisioning (WS-MAN).
    Stage2,
    /// Reporting results to the site server.
    Report,
}

impl Step {
    /// The kebab-case name used in scenarios and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::InBand => "in-band",
            Self::Connect => "connect",
            Self::TlsHandshake => "tls-handshake",
            Self::Digest => "digest",
            Self::Identify => "identify",
            Self::Directory => "directory",
            Self::Certificate => "certificate",
            Self::CertificatePublish => "certificate-publish",
            Self::Stage1 => "stage1",
            Self::Stage2 => "stage2",
            Self::Report => "report",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a provisioning attempt ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Both stages completed.
    Provisioned,
    /// A step failed.
    Failed,
}

/// What a finished session reports back to the service point.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// How it ended.
    pub outcome: Outcome,
    /// The failing step, if it failed.
    pub failed_step: Option<Step>,
    /// The AMT status to record.
    pub amt_status: AmtStatus,
}

/// Why the service point dropped a Hello.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscardReason {
    /// The UUID was not imported.
    UnknownUuid,
    /// SP1 defect A-14: the imported record of a previously discovered computer has no site code.
    NoSiteCode,
    /// A ConfigMgr client is installed: provisioning is in-band.
    ClientInstalled,
    /// A PSK (interface version 2) Hello: ConfigMgr provisions with PKI only.
    PskHello,
    /// No device hash matches a provisioning root.
    HashMismatch,
    /// A session for this device is running.
    SessionRunning,
}

/// One step of a provisioning, as it happened.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ProvisionEvent {
    /// A Hello arrived.
    HelloReceived {
        /// Device UUID.
        #[serde(with = "uuid_text")]
        uuid: DeviceUuid,
        /// Source address.
        from: SocketAddr,
        /// The Hello's retry counter.
        retry_count: u32,
    },
    /// A Hello was dropped.
    HelloDiscarded {
        /// Device UUID.
        #[serde(with = "uuid_text")]
        uuid: DeviceUuid,
        /// Why.
        reason: DiscardReason,
    },
    /// The site server received an in-band request (OTP hash) from the client agent.
    InBandRequest {
        /// Device UUID.
        #[serde(with = "uuid_text")]
        uuid: DeviceUuid,
        /// Accepted (an action follows) or refused.
        accepted: bool,
    },
    /// The service point decided to provision a device.
    ProvisionStarted {
        /// Device UUID.
        #[serde(with = "uuid_text")]
        uuid: DeviceUuid,
        /// Address it will connect to.
        target: SocketAddr,
        /// `out-of-band` or `in-band`.
        mode: String,
        /// Index of the provisioning certificate used.
        cert_index: usize,
    },
    /// TCP + TLS connection attempt.
    TlsConnect {
        /// Address connected to.
        target: SocketAddr,
    },
    /// TLS established.
    TlsEstablished {
        /// SHA-256 thumbprint (lower-case hex) of the device's server certificate.
        server_cert_sha256: String,
    },
    /// Connect or TLS failure.
    TlsFailed {
        /// What failed (alert, timeout, refused, …).
        detail: String,
    },
    /// A digest authentication attempt with one provisioning account.
    Digest {
        /// Index into the accounts tried (0 = first).
        account_index: usize,
        /// The user name (never the password).
        user: String,
        /// Accepted by the device.
        ok: bool,
    },
    /// Active Directory account creation.
    Directory {
        /// The account's DN when created.
        dn: Option<String>,
        /// Error id when it failed (`ad/container-missing`, …).
        error: Option<String>,
    },
    /// Enterprise CA request or revocation.
    Ca {
        /// `issue` or `revoke`.
        operation: String,
        /// Certificate template.
        template: String,
        /// Serial number (hex) of the issued or revoked certificate.
        serial: Option<String>,
        /// Error id when it failed (`ca/template-permissions`, …).
        error: Option<String>,
    },
    /// A stage began.
    StageStarted {
        /// Stage number: 1 or 2.
        stage: u8,
    },
    /// A stage ended.
    StageFinished {
        /// Stage number: 1 or 2.
        stage: u8,
        /// Completed without error.
        ok: bool,
    },
    /// One WS-MAN (or SOAP) call.
    WsmanCall {
        /// Class name, e.g. `AMT_GeneralSettings`.
        class: String,
        /// Method or operation: `Get`, `Put`, `CommitChanges`, …
        method: String,
        /// HTTP status, fault subcode or `ReturnValue` as text.
        status: String,
    },
    /// The attempt ended.
    Result {
        /// Device UUID.
        #[serde(with = "uuid_text")]
        uuid: DeviceUuid,
        /// How it ended.
        outcome: Outcome,
        /// The failing step.
        failed_step: Option<Step>,
        /// The recorded AMT status.
        amt_status: AmtStatus,
    },
}

/// Most events an [`EventLog`] keeps.
pub const MAX_EVENTS: usize = 1_000_000;

/// Events with the time they happened, in order.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct EventLog(pub Vec<(Timestamp, ProvisionEvent)>);

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event. At [`MAX_EVENTS`] the oldest tenth is dropped first (bounded memory
    /// under a Hello flood).
    pub fn push(&mut self, now: Timestamp, event: ProvisionEvent) {
        if self.0.len() >= MAX_EVENTS {
            self.0.drain(..MAX_EVENTS / 10);
        }
        self.0.push((now, event));
    }

    /// The events without their times.
    pub fn events(&self) -> impl Iterator<Item = &ProvisionEvent> {
        self.0.iter().map(|(_, e)| e)
    }

    /// Moves every event of `other` to the end of this log.
    pub fn append(&mut self, other: &mut Self) {
        self.0.append(&mut other.0);
    }

    /// One JSON object per line: `{"at_ms":…,"event":"hello-received",…}`.
    pub fn to_json_lines(&self) -> String {
        self.json_lines_since(0)
    }

    /// Like [`Self::to_json_lines`] for the events from index `since` on (what a writer appends
    /// after having written `since` events).
    pub fn json_lines_since(&self, since: usize) -> String {
        let mut out = String::new();
        for (at, event) in self.0.iter().skip(since) {
            let line = serde_json::to_value(event).map(|mut v| {
                if let Some(map) = v.as_object_mut() {
                    map.insert("at_ms".to_owned(), at.unix_millis().into());
                }
                v.to_string()
            });
            // Serialising these plain types cannot fail; a failure would drop one line, not panic.
            if let Ok(line) = line {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

/// Serde for [`DeviceUuid`] as its text form.
pub(crate) mod uuid_text {
    use amt_wire::hello::DeviceUuid;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the canonical text form.
    pub(crate) fn serialize<S: Serializer>(uuid: &DeviceUuid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(uuid)
    }

    /// Reads any text form `DeviceUuid::parse` accepts.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceUuid, D::Error> {
        let text = String::deserialize(d)?;
        DeviceUuid::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_tagged_with_uuid_text() -> Result<(), Box<dyn std::error::Error>> {
        let uuid = DeviceUuid::parse("8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d")?;
        let mut log = EventLog::new();
        log.push(
            Timestamp::from_unix_millis(5),
            ProvisionEvent::HelloDiscarded {
                uuid,
                reason: DiscardReason::UnknownUuid,
            },
        );
        assert_eq!(
            log.to_json_lines(),
            "{\"at_ms\":5,\"event\":\"hello-discarded\",\"reason\":\"unknown-uuid\",\"uuid\":\"8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d\"}\n"
        );
        let event = ProvisionEvent::Result {
            uuid,
            outcome: Outcome::Failed,
            failed_step: Some(Step::TlsHandshake),
            amt_status: AmtStatus::NotProvisioned,
        };
        let back: ProvisionEvent = serde_json::from_str(&serde_json::to_string(&event)?)?;
        assert_eq!(back, event);
        assert_eq!(AmtStatus::Provisioned.code(), Some(3));
        assert_eq!(Step::TlsHandshake.to_string(), "tls-handshake");
        Ok(())
    }
}
