//! The pre-AMT-9 SOAP interface ("EOI"): the SOAP 1.1 services AMT 1.0–8.x served beside
//! WS-MAN on `POST /<Service>` (removed in AMT 9.0: amttool's man page, `reference/amt-protocol.md`
//! §4.6), at the level legacy tools such as amttool use. Behind the same digest as `/wsman`.
//!
//! | path | operations |
//! |---|---|
//! | `/SecurityAdministrationService` | `GetCoreVersion` → `Version` |
//! | `/GeneralInfoService` | `GetCoreVersion` → `Version` |
//! | `/NetworkAdministrationService` | `GetHostName` → `HostName`, `GetDomainName` → `DomainName` |
//! | `/RemoteControlService` | `GetSystemPowerState` → `SystemPowerState`; `GetRemoteControlCapabilities`; `RemoteControl(Command, IanaOemNumber)` |
//!
//! Namespaces are `http://schemas.intel.com/platform/client/<Service>/2004/01` (Intel AMT SDK
//! EOI WSDLs as amttool and the gSOAP namespace maps name them); every response carries
//! `StatusCode` (PT_STATUS, `reference/amt-protocol.md` §4.5) first. `RemoteControl` commands
//! 16 reset, 17 power up, 18 power down, 19 power cycle go through the same transition table as
//! WS-MAN's `RequestPowerStateChange` (DSP1027); a transition the current state does not offer
//! is StatusCode 2 (PT_STATUS_NOT_READY), an `IanaOemNumber` other than Intel's ASF number 4542
//! is 36 (PT_STATUS_INVALID_PARAMETER). `SystemPowerState` is the ACPI S-state (0 on, 3 sleep,
//! 4 hibernate, 5 soft off). An unknown operation is a SOAP 1.1 `Client` fault (HTTP 500).
//!
//! Decisions where the sources are silent: only digest users with the administrator account
//! (or a user ACL entry with the service's realm) after provisioning get answers; anyone else
//! gets 401 like WS-MAN access denials; AMT 9+ personalities answer these paths with 404 (the
//! services are gone).

use amt_wire::time::Timestamp;
use amt_wire::wsman::{Element, Limits};

use crate::state::{NvramState, ProvisioningState};
use crate::wsman::{DeviceFacts, Session};

/// SOAP 1.1 envelope namespace.
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Intel's IANA enterprise number as the ASF `IanaOemNumber` (amttool sends it).
const INTEL_IANA: u32 = 4542;
/// PT_STATUS values used here.
const PT_SUCCESS: u32 = 0;
/// PT_STATUS_INVALID_PARAMETER.
const PT_INVALID_PARAMETER: u32 = 36;

/// One legacy service: its path (and namespace name), the ACL realm it belongs to (as
/// [`crate::wsman`]'s realms) and its operations.
struct Service {
    /// `SecurityAdministrationService` etc.
    name: &'static str,
    /// Realm a non-admin user needs.
    realm: u32,
    /// Operation names.
    operations: &'static [&'static str],
}

/// The services (behaviour as data).
const SERVICES: &[Service] = &[
    Service {
        name: "SecurityAdministrationService",
        realm: 3,
        operations: &["GetCoreVersion"],
    },
    Service {
        name: "GeneralInfoService",
        realm: 13,
        operations: &["GetCoreVersion"],
    },
    Service {
        name: "NetworkAdministrationService",
        realm: 3,
        operations: &["GetHostName", "GetDomainName"],
    },
    Service {
        name: "RemoteControlService",
        realm: 5,
        operations: &[
            "GetSystemPowerState",
            "GetRemoteControlCapabilities",
            "RemoteControl",
        ],
    },
];

/// What the SOAP layer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EoiReply {
    /// 200 with a SOAP 1.1 body, or 500 with a SOAP 1.1 fault.
    Soap {
        /// HTTP status.
        status: u16,
        /// The envelope.
        body: Vec<u8>,
        /// The operation (for the event log), if one was recognised.
        operation: Option<String>,
        /// The power state changed (`from`, `to`): persist NVRAM.
        power_changed: Option<(u32, u32)>,
    },
    /// The caller may not use the service: answer 401 with the challenge.
    Denied,
}

/// Whether `path` is a legacy SOAP service path this firmware serves.
pub fn serves(facts: &DeviceFacts, path: &str) -> bool {
    facts.amt_major < 9 && service(path).is_some()
}

/// The service a path names (`/RemoteControlService`, case-sensitive like the firmware's).
fn service(path: &str) -> Option<&'static Service> {
    let name = path.strip_prefix('/')?;
    SERVICES.iter().find(|s| s.name == name)
}

/// Handle one authenticated POST to a legacy service path. `None` when this firmware has no
/// such service (the caller answers 404).
pub fn handle(
    facts: &DeviceFacts,
    state: &mut NvramState,
    session: &Session,
    path: &str,
    body: &[u8],
    now: Timestamp,
) -> Option<EoiReply> {
    if !serves(facts, path) {
        return None;
    }
    let service = service(path)?;
    let allowed = match session {
        Session::Digest { user } => {
            state.provisioning_state == ProvisioningState::Post
                && (state.is_admin(user)
                    || state
                        .user_acl(user)
                        .is_some_and(|a| a.enabled && a.realms.contains(&service.realm)))
        }
        Session::Setup | Session::Anonymous => false,
    };
    if !allowed {
        return Some(EoiReply::Denied);
    }
    let namespace = format!(
        "http://schemas.intel.com/platform/client/{}/2004/01",
        service.name
    );
    let Some(request) = operation(body) else {
        return Some(fault(
            "The request is not a SOAP 1.1 envelope with an operation.",
            None,
        ));
    };
    let name = request.name.clone();
    if !service.operations.contains(&name.as_str())
        || request.namespace.as_deref() != Some(namespace.as_str())
    {
        return Some(fault("Unknown operation.", Some(name)));
    }
    let input = |local: &str| {
        request
            .elements()
            .find(|e| e.name == local)
            .map(|e| e.text().trim().to_owned())
    };
    let mut power_changed = None;
    let outputs: Vec<(&str, String)> = match name.as_str() {
        "GetCoreVersion" => vec![
            ("StatusCode", PT_SUCCESS.to_string()),
            ("Version", core_version(&facts.amt_version)),
        ],
        "GetHostName" => vec![
            ("StatusCode", PT_SUCCESS.to_string()),
            ("HostName", state.general.host_name.clone()),
        ],
        "GetDomainName" => vec![
            ("StatusCode", PT_SUCCESS.to_string()),
            ("DomainName", state.general.domain_name.clone()),
        ],
        "GetSystemPowerState" => vec![
            ("StatusCode", PT_SUCCESS.to_string()),
            (
                "SystemPowerState",
                acpi_state(state.power_state).to_string(),
            ),
        ],
        "GetRemoteControlCapabilities" => vec![
            ("StatusCode", PT_SUCCESS.to_string()),
            ("IanaOemNumber", INTEL_IANA.to_string()),
            ("OemDefinedCapabilities", "0".to_owned()),
            ("SpecialCommandsSupported", "0".to_owned()),
            // ASF: power cycle, power down, power up, reset.
            ("SystemCapabilitiesSupported", "15".to_owned()),
            ("SystemFirmwareCapabilities", "0".to_owned()),
        ],
        _ => {
            let command = input("Command").and_then(|c| c.parse::<u32>().ok());
            let iana = input("IanaOemNumber").and_then(|c| c.parse::<u32>().ok());
            let requested = match command {
                Some(16) => Some(10),
                Some(17) => Some(2),
                Some(18) => Some(8),
                Some(19) => Some(5),
                _ => None,
            };
            let status = match (requested, iana) {
                (Some(requested), Some(INTEL_IANA)) => {
                    match crate::wsman::apply_power_request(state, requested, facts.amt_major, now)
                    {
                        Ok(change) => {
                            power_changed = Some(change);
                            PT_SUCCESS
                        }
                        Err(rv) => rv,
                    }
                }
                _ => PT_INVALID_PARAMETER,
            };
            vec![("StatusCode", status.to_string())]
        }
    };
    let mut response = Element::prefixed("ns", namespace.as_str(), format!("{name}Response"));
    for (output, value) in outputs {
        response = response
            .with_child(Element::prefixed("ns", namespace.as_str(), output).with_text(value));
    }
    Some(EoiReply::Soap {
        status: 200,
        body: envelope(response),
        operation: Some(name),
        power_changed,
    })
}

impl crate::device::Device {
    /// The legacy SOAP interface of this device (see the module documentation): `None` when
    /// the firmware has no service at `path`. The device clock is applied, a power change is
    /// persisted like any NVRAM change.
    pub fn handle_eoi(
        &mut self,
        session: &Session,
        path: &str,
        body: &[u8],
        now: Timestamp,
    ) -> Option<EoiReply> {
        let before = self.state.provisioning_state;
        let device_now = self.device_clock(now);
        let facts = self.facts().clone();
        let reply = handle(&facts, &mut self.state, session, path, body, device_now)?;
        if let EoiReply::Soap {
            power_changed: Some(_),
            ..
        } = &reply
        {
            self.after_change(before, now);
        }
        Some(reply)
    }
}

/// The first element of the SOAP 1.1 body (bounded parse, never panics).
fn operation(body: &[u8]) -> Option<Element> {
    let root = Element::parse(body, &Limits::default()).ok()?;
    if !root.is(SOAP11, "Envelope") {
        return None;
    }
    root.child(SOAP11, "Body")?.elements().next().cloned()
}

/// `major.minor.hotfix` of the firmware version (what `GetCoreVersion` reports).
fn core_version(version: &str) -> String {
    version.split('.').take(3).collect::<Vec<_>>().join(".")
}

/// The ACPI S-state of a CIM power state.
fn acpi_state(power_state: u32) -> u32 {
    match power_state {
        2 => 0,
        4 => 3,
        7 => 4,
        _ => 5,
    }
}

/// A SOAP 1.1 envelope around `body`.
fn envelope(body: Element) -> Vec<u8> {
    Element::prefixed("SOAP-ENV", SOAP11, "Envelope")
        .with_declaration(Some("SOAP-ENV"), SOAP11)
        .with_child(Element::prefixed("SOAP-ENV", SOAP11, "Body").with_child(body))
        .to_xml()
        .into_bytes()
}

/// An element in no namespace (SOAP 1.1's `faultcode`, `faultstring`).
fn unqualified(name: &str) -> Element {
    Element {
        namespace: None,
        name: name.to_owned(),
        ..Element::default()
    }
}

/// A SOAP 1.1 `Client` fault (HTTP 500, as SOAP 1.1 over HTTP requires).
fn fault(reason: &str, operation: Option<String>) -> EoiReply {
    let s = |name: &str| Element::prefixed("SOAP-ENV", SOAP11, name);
    let fault = s("Fault")
        .with_child(unqualified("faultcode").with_text("SOAP-ENV:Client"))
        .with_child(unqualified("faultstring").with_text(reason));
    EoiReply::Soap {
        status: 500,
        body: envelope(fault),
        operation,
        power_changed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_power_states_map_as_documented() {
        assert_eq!(core_version("6.2.61.3535"), "6.2.61");
        assert_eq!(acpi_state(2), 0);
        assert_eq!(acpi_state(8), 5);
        assert!(service("/RemoteControlService").is_some());
        assert!(service("/remotecontrolservice").is_none());
        assert!(operation(b"<not xml").is_none());
    }
}
