//! The device's event log: what happened on the wire and inside the device, as JSON-lines friendly
//! records that the shells print and the conformance harness asserts on. Never carries secrets.

use amt_wire::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::device::ConnectRefusalKind;
use crate::state::ProvisioningState;
use crate::tls::RefusalKind;

/// Which TLS session a handshake was for.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsSession {
    /// The setup session (the provisioning certificate's chain is checked).
    Setup,
    /// A management session after provisioning.
    Management,
}

/// Provisioning states as events write them: `pre`, `in`, `post`.
mod state_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::state::ProvisioningState;

    pub(super) fn serialize<S: Serializer>(
        s: &ProvisioningState,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_str(match s {
            ProvisioningState::Pre => "pre",
            ProvisioningState::In => "in",
            ProvisioningState::Post => "post",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<ProvisioningState, D::Error> {
        match String::deserialize(d)?.as_str() {
            "pre" => Ok(ProvisioningState::Pre),
            "in" => Ok(ProvisioningState::In),
            "post" => Ok(ProvisioningState::Post),
            other => Err(serde::de::Error::custom(format!(
                "unknown provisioning state {other:?}"
            ))),
        }
    }
}

/// One event: when, which device, and what.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub struct DeviceEvent {
    /// The device's UUID (canonical text form).
    pub uuid: String,
    /// Host time of the event, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl DeviceEvent {
    /// An event of `kind` at `now` for the device `uuid`.
    pub fn new(uuid: impl Into<String>, now: Timestamp, kind: EventKind) -> Self {
        Self {
            uuid: uuid.into(),
            at_ms: now.unix_millis(),
            kind,
        }
    }
}

/// Outcome of a TLS handshake as the device saw it.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsVerdict {
    /// The handshake completed.
    Ok,
    /// The device refused the peer (fatal alert sent).
    Refused,
    /// The handshake failed for a reason that is not a policy refusal (bad records, peer alert).
    Failed,
}

/// Why a request failed digest authentication.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthFailure {
    /// No `Authorization` header (or not a digest one).
    Missing,
    /// The header could not be parsed, or names another realm or URI.
    Malformed,
    /// Unknown user or wrong password.
    Wrong,
    /// Correct credentials on an expired or unknown nonce (answered with `stale="true"`).
    Stale,
    /// A nonce count that is not higher than the last one accepted on that nonce.
    Replayed,
}

impl AuthFailure {
    /// Stable id, e.g. `auth/stale`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Missing => "auth/missing",
            Self::Malformed => "auth/malformed",
            Self::Wrong => "auth/wrong",
            Self::Stale => "auth/stale",
            Self::Replayed => "auth/replayed",
        }
    }
}

/// What happened.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A Hello beacon left the wired interface.
    HelloSent {
        /// Where it was sent (`host:port` or `name:port`).
        target: String,
        /// The retry count carried in the packet.
        retry_count: u32,
        /// Position in the schedule (0 = first Hello).
        index: usize,
        /// Number of active hashes in the packet.
        hashes: usize,
    },
    /// A Hello was due but not sent.
    HelloSuppressed {
        /// Stable reason id (`no-wired-link`, `hellos-off`, `not-pki-mode`, `no-dns-domain`, …).
        reason: String,
    },
    /// The Hello window closed (schedule finished or setup started).
    HelloStopped {
        /// Why (`schedule-ended`, `setup-started`, `provisioned`).
        reason: String,
    },
    /// A TCP connection was refused.
    ConnectionRefused {
        /// Local port the peer tried.
        port: u16,
        /// Why (its stable id in JSON).
        reason: ConnectRefusalKind,
    },
    /// A TLS handshake ended.
    TlsHandshake {
        /// `setup` (provisioning certificate session) or `management`.
        session: TlsSession,
        /// Outcome.
        verdict: TlsVerdict,
        /// The firmware's refusal (its id in JSON) when refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<RefusalKind>,
        /// Human-readable detail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// An HTTP request was answered.
    HttpRequest {
        /// HTTP method.
        method: String,
        /// WS-MAN action (short name: `Get`, `CommitChanges`, …), if the body was parsed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<String>,
        /// WS-MAN class (last segment of the ResourceURI), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
        /// HTTP status sent.
        status: u16,
        /// Authenticated user, if any (`<setup-certificate>` for the certificate session).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// A request failed authentication (answered 401).
    AuthFailed {
        /// Why.
        reason: AuthFailure,
        /// User name the client claimed, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// A request could not be decoded as HTTP (answered 400/413/431 and closed).
    HttpError {
        /// Decoder error id.
        id: String,
        /// Status sent.
        status: u16,
    },
    /// A WS-MAN fault or a non-zero ReturnValue note from the engine.
    WsmanFault {
        /// Detail text.
        detail: String,
    },
    /// The provisioning state changed.
    StateChanged {
        /// Previous state (`pre`, `in`, `post` in JSON).
        #[serde(with = "state_name")]
        from: ProvisioningState,
        /// New state.
        #[serde(with = "state_name")]
        to: ProvisioningState,
    },
    /// A configured fault was applied.
    FaultApplied {
        /// Index of the fault in the profile's `faults` list.
        fault: usize,
        /// What it did.
        description: String,
    },
    /// The NVRAM state was written to the state store (or failed to be).
    Stored {
        /// Whether the write succeeded.
        ok: bool,
        /// Error text on failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A local host-interface (HECI/MEI) call.
    Heci {
        /// Command name.
        command: String,
        /// Whether it succeeded.
        ok: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_tagged_json_lines() -> Result<(), serde_json::Error> {
        let e = DeviceEvent::new(
            "uuid",
            Timestamp::from_unix_millis(5),
            EventKind::AuthFailed {
                reason: AuthFailure::Stale,
                user: Some("admin".into()),
            },
        );
        let line = serde_json::to_string(&e)?;
        assert_eq!(
            line,
            r#"{"uuid":"uuid","at_ms":5,"event":"auth-failed","reason":"stale","user":"admin"}"#
        );
        let back: DeviceEvent = serde_json::from_str(&line)?;
        assert_eq!(back, e);
        Ok(())
    }
}
