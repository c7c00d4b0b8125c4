//! SOAP 1.2 / WS-Management faults: constructors for the common DSP0226 faults, emission in
//! AMT's shape, and reading a fault out of a parsed response.
//!
//! It deliberately does not decide which fault a device condition deserves (that is device
//! policy), and does not emit `soap:NotUnderstood` header blocks.

use super::element::{Element, QualifiedName};
use super::emit::amt_envelope;
use super::envelope::Envelope;
use super::error::{WsmanError, clip};
use super::names::{
    ACTION_ADDRESSING_FAULT, ACTION_ENUMERATION_FAULT, ACTION_TRANSFER_FAULT, ACTION_WSMAN_FAULT,
    ADDRESSING, ANONYMOUS, ENUMERATION, PREFIX_ADDRESSING, PREFIX_SOAP, PREFIX_WSMAN,
    SOAP_ENVELOPE, TRANSFER, WSMAN, XML,
};

/// The SOAP 1.2 fault code (`soap:Code/soap:Value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// `soap:VersionMismatch`: the envelope is not SOAP 1.2.
    VersionMismatch,
    /// `soap:MustUnderstand`: a `mustUnderstand` header was not understood.
    MustUnderstand,
    /// `soap:DataEncodingUnknown`.
    DataEncodingUnknown,
    /// `soap:Sender`: the request is at fault (HTTP 400).
    Sender,
    /// `soap:Receiver`: the service is at fault (HTTP 500).
    Receiver,
}

/// A SOAP fault as WS-Management uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The `wsa:Action` of the fault message (e.g. [`ACTION_WSMAN_FAULT`]).
    pub action: String,
    /// The fault code.
    pub code: FaultCode,
    /// The subcode, e.g. `{wsman}AlreadyExists`.
    pub subcode: Option<QualifiedName>,
    /// The reason text (`xml:lang="en-US"`).
    pub reason: String,
    /// The `wsman:FaultDetail` URI, if any (see the `DETAIL_*` constants).
    pub detail: Option<String>,
}

impl FaultCode {
    /// The local name in the SOAP namespace.
    pub fn local_name(self) -> &'static str {
        match self {
            Self::VersionMismatch => "VersionMismatch",
            Self::MustUnderstand => "MustUnderstand",
            Self::DataEncodingUnknown => "DataEncodingUnknown",
            Self::Sender => "Sender",
            Self::Receiver => "Receiver",
        }
    }

    /// Parse a local name in the SOAP namespace.
    pub fn from_local_name(local: &str) -> Option<Self> {
        [
            Self::VersionMismatch,
            Self::MustUnderstand,
            Self::DataEncodingUnknown,
            Self::Sender,
            Self::Receiver,
        ]
        .into_iter()
        .find(|c| c.local_name() == local)
    }
}

impl Fault {
    /// A fault with the given parts and no detail.
    pub fn new(action: &str, code: FaultCode, subcode: Option<(&str, &str)>, reason: &str) -> Self {
        Self {
            action: action.to_owned(),
            code,
            subcode: subcode.map(|(ns, local)| QualifiedName {
                namespace: Some(ns.to_owned()),
                local: local.to_owned(),
            }),
            reason: reason.to_owned(),
            detail: None,
        }
    }

    /// Builder: set the `wsman:FaultDetail` URI.
    #[must_use]
    pub fn with_detail(mut self, detail: Option<&str>) -> Self {
        self.detail = detail.map(str::to_owned);
        self
    }

    /// `wsman:AccessDenied`.
    pub fn access_denied() -> Self {
        Self::wsman(FaultCode::Sender, "AccessDenied", REASON_ACCESS_DENIED)
    }

    /// `wsa:ActionNotSupported`.
    pub fn action_not_supported() -> Self {
        Self::addressing("ActionNotSupported", REASON_ACTION_NOT_SUPPORTED)
    }

    /// `wsman:AlreadyExists` (as AMT 15 answers a duplicate Create).
    pub fn already_exists() -> Self {
        Self::wsman(FaultCode::Sender, "AlreadyExists", REASON_ALREADY_EXISTS)
    }

    /// `wsa:DestinationUnreachable` with AMT's reason text (unknown resource URI or selectors
    /// matching no instance); `detail` e.g. [`DETAIL_INVALID_RESOURCE_URI`].
    pub fn destination_unreachable(detail: Option<&str>) -> Self {
        Self::addressing("DestinationUnreachable", REASON_DESTINATION_UNREACHABLE)
            .with_detail(detail)
    }

    /// `wsa:EndpointUnavailable` (receiver fault).
    pub fn endpoint_unavailable() -> Self {
        Self::new(
            ACTION_ADDRESSING_FAULT,
            FaultCode::Receiver,
            Some((ADDRESSING, "EndpointUnavailable")),
            REASON_ENDPOINT_UNAVAILABLE,
        )
    }

    /// `wsman:EncodingLimit`; `detail` e.g. [`DETAIL_SERVICE_ENVELOPE_LIMIT`].
    pub fn encoding_limit(detail: Option<&str>) -> Self {
        Self::wsman(FaultCode::Sender, "EncodingLimit", REASON_ENCODING_LIMIT).with_detail(detail)
    }

    /// `wsman:InternalError` (receiver fault).
    pub fn internal_error() -> Self {
        Self::wsman(FaultCode::Receiver, "InternalError", REASON_INTERNAL_ERROR)
    }

    /// `wsen:InvalidEnumerationContext` (receiver fault, enumeration fault action).
    pub fn invalid_enumeration_context() -> Self {
        Self::new(
            ACTION_ENUMERATION_FAULT,
            FaultCode::Receiver,
            Some((ENUMERATION, "InvalidEnumerationContext")),
            REASON_INVALID_ENUMERATION_CONTEXT,
        )
    }

    /// `wsa:InvalidMessageInformationHeader`.
    pub fn invalid_message_information_header() -> Self {
        Self::addressing(
            "InvalidMessageInformationHeader",
            REASON_INVALID_MESSAGE_INFORMATION_HEADER,
        )
    }

    /// `wsman:InvalidOptions`.
    pub fn invalid_options() -> Self {
        Self::wsman(FaultCode::Sender, "InvalidOptions", REASON_INVALID_OPTIONS)
    }

    /// `wsman:InvalidParameter`; `detail` e.g. [`DETAIL_INVALID_VALUE`] or
    /// [`DETAIL_MISSING_VALUES`].
    pub fn invalid_parameter(detail: Option<&str>) -> Self {
        Self::wsman(
            FaultCode::Sender,
            "InvalidParameter",
            REASON_INVALID_PARAMETER,
        )
        .with_detail(detail)
    }

    /// `wxf:InvalidRepresentation` (transfer fault action); `detail` e.g.
    /// [`DETAIL_INVALID_VALUES`].
    pub fn invalid_representation(detail: Option<&str>) -> Self {
        Self::new(
            ACTION_TRANSFER_FAULT,
            FaultCode::Sender,
            Some((TRANSFER, "InvalidRepresentation")),
            REASON_INVALID_REPRESENTATION,
        )
        .with_detail(detail)
    }

    /// `wsman:InvalidSelectors`; `detail` e.g. [`DETAIL_INSUFFICIENT_SELECTORS`].
    pub fn invalid_selectors(detail: Option<&str>) -> Self {
        Self::wsman(
            FaultCode::Sender,
            "InvalidSelectors",
            REASON_INVALID_SELECTORS,
        )
        .with_detail(detail)
    }

    /// `wsa:MessageInformationHeaderRequired`.
    pub fn message_information_header_required() -> Self {
        Self::addressing(
            "MessageInformationHeaderRequired",
            REASON_MESSAGE_INFORMATION_HEADER_REQUIRED,
        )
    }

    /// SOAP `MustUnderstand` (code, no subcode, addressing fault action) naming the header.
    pub fn must_understand(header: &QualifiedName) -> Self {
        let reason = format!(
            "The header {{{}}}{} was not understood.",
            header.namespace.as_deref().unwrap_or_default(),
            clip(&header.local)
        );
        Self::new(
            ACTION_ADDRESSING_FAULT,
            FaultCode::MustUnderstand,
            None,
            &reason,
        )
    }

    /// `wsman:QuotaLimit`.
    pub fn quota_limit() -> Self {
        Self::wsman(FaultCode::Sender, "QuotaLimit", REASON_QUOTA_LIMIT)
    }

    /// `wsman:SchemaValidationError` (also used for input that is not well-formed XML).
    pub fn schema_validation_error() -> Self {
        Self::wsman(
            FaultCode::Sender,
            "SchemaValidationError",
            REASON_SCHEMA_VALIDATION_ERROR,
        )
    }

    /// `wsman:TimedOut` (receiver fault).
    pub fn timed_out() -> Self {
        Self::wsman(FaultCode::Receiver, "TimedOut", REASON_TIMED_OUT)
    }

    /// `wsman:UnsupportedFeature`; `detail` e.g. [`DETAIL_FRAGMENT_LEVEL_ACCESS`].
    pub fn unsupported_feature(detail: Option<&str>) -> Self {
        Self::wsman(
            FaultCode::Sender,
            "UnsupportedFeature",
            REASON_UNSUPPORTED_FEATURE,
        )
        .with_detail(detail)
    }

    /// SOAP `VersionMismatch` (code, no subcode).
    pub fn version_mismatch() -> Self {
        Self::new(
            ACTION_ADDRESSING_FAULT,
            FaultCode::VersionMismatch,
            None,
            REASON_VERSION_MISMATCH,
        )
    }

    /// The local name of the subcode, if any (`"AlreadyExists"`).
    pub fn subcode_local(&self) -> Option<&str> {
        self.subcode.as_ref().map(|q| q.local.as_str())
    }

    /// Whether the subcode is `{namespace}local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.subcode
            .as_ref()
            .is_some_and(|q| q.local == local && q.namespace.as_deref() == Some(namespace))
    }

    /// The HTTP status of the SOAP 1.2 HTTP binding: 400 for `Sender`, 500 otherwise (AMT
    /// answers `wsman:AlreadyExists` with 400 Bad Request).
    pub fn http_status(&self) -> u16 {
        match self.code {
            FaultCode::Sender => 400,
            _ => 500,
        }
    }

    /// Emit the fault message in AMT's shape: `b:To` anonymous, `b:RelatesTo` (if known),
    /// `b:Action a:mustUnderstand="true"`, `b:MessageID`, then
    /// `<a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>e:AlreadyExists</a:Value>
    /// </a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">…</a:Text></a:Reason><a:Detail>
    /// </a:Detail></a:Fault>`. The subcode prefix is `a:` (SOAP), `b:` (addressing) or `e:`
    /// declared on the envelope for any other namespace; the detail URI goes in
    /// `c:FaultDetail`.
    pub fn emit(&self, relates_to: Option<&str>, message_id: &str) -> String {
        let b = |name: &str| Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, name);
        let a = |name: &str| Element::prefixed(PREFIX_SOAP, SOAP_ENVELOPE, name);
        let mut blocks = vec![b("To").with_text(ANONYMOUS)];
        if let Some(id) = relates_to {
            blocks.push(b("RelatesTo").with_text(id));
        }
        blocks.push(
            b("Action")
                .with_ns_attribute(PREFIX_SOAP, SOAP_ENVELOPE, "mustUnderstand", "true")
                .with_text(self.action.as_str()),
        );
        blocks.push(b("MessageID").with_text(message_id));

        let mut extra = Vec::new();
        let mut code = a("Code")
            .with_child(a("Value").with_text(format!("{PREFIX_SOAP}:{}", self.code.local_name())));
        if let Some(sub) = &self.subcode {
            let text = match sub.namespace.as_deref() {
                Some(SOAP_ENVELOPE) => format!("{PREFIX_SOAP}:{}", sub.local),
                Some(ADDRESSING) => format!("{PREFIX_ADDRESSING}:{}", sub.local),
                Some(ns) => {
                    extra.push((PREFIX_SUBCODE, ns));
                    format!("{PREFIX_SUBCODE}:{}", sub.local)
                }
                None => sub.local.clone(),
            };
            code = code.with_child(a("Subcode").with_child(a("Value").with_text(text)));
        }
        let mut detail = a("Detail");
        if let Some(uri) = &self.detail {
            detail = detail.with_child(
                Element::prefixed(PREFIX_WSMAN, WSMAN, "FaultDetail").with_text(uri.as_str()),
            );
        }
        let fault = a("Fault")
            .with_child(code)
            .with_child(
                a("Reason").with_child(
                    a("Text")
                        .with_ns_attribute("xml", XML, "lang", "en-US")
                        .with_text(self.reason.as_str()),
                ),
            )
            .with_child(detail);
        amt_envelope(&blocks, Some(&fault), &extra)
    }

    /// Read the fault in a parsed response, `Ok(None)` if the body is not a `soap:Fault`.
    ///
    /// Code and subcode QNames are resolved against the declarations in scope; the reason is
    /// the first `Reason/Text` (empty if absent); the detail is `Detail/wsman:FaultDetail`.
    pub fn from_envelope(envelope: &Envelope) -> Result<Option<Self>, WsmanError> {
        let Some(fault) = envelope
            .body
            .as_ref()
            .filter(|b| b.is(SOAP_ENVELOPE, "Fault"))
        else {
            return Ok(None);
        };
        let missing = |reason| WsmanError::MalformedFault { reason };
        let code_el = fault
            .child(SOAP_ENVELOPE, "Code")
            .ok_or_else(|| missing("no code"))?;
        let value = code_el
            .child(SOAP_ENVELOPE, "Value")
            .ok_or_else(|| missing("no code value"))?;
        let code = resolve_qname(envelope, value, &[fault, code_el])?;
        let code = match code.namespace.as_deref() {
            Some(SOAP_ENVELOPE) => FaultCode::from_local_name(&code.local),
            _ => None,
        }
        .ok_or_else(|| missing("unknown fault code"))?;
        let subcode = match code_el.child(SOAP_ENVELOPE, "Subcode") {
            Some(sub) => {
                let value = sub
                    .child(SOAP_ENVELOPE, "Value")
                    .ok_or_else(|| missing("no subcode value"))?;
                Some(resolve_qname(envelope, value, &[fault, code_el, sub])?)
            }
            None => None,
        };
        let reason = fault
            .child(SOAP_ENVELOPE, "Reason")
            .and_then(|r| r.child(SOAP_ENVELOPE, "Text"))
            .map(|t| t.text().into_owned())
            .unwrap_or_default();
        let detail = fault
            .child(SOAP_ENVELOPE, "Detail")
            .and_then(|d| d.child(WSMAN, "FaultDetail"))
            .map(|d| {
                d.text()
                    .trim_matches(super::parse::is_xml_whitespace)
                    .to_owned()
            });
        Ok(Some(Self {
            action: envelope.header.action.clone(),
            code,
            subcode,
            reason,
            detail,
        }))
    }

    /// A WS-Management fault (`wsman:` subcode, WS-Man fault action).
    fn wsman(code: FaultCode, local: &str, reason: &str) -> Self {
        Self::new(ACTION_WSMAN_FAULT, code, Some((WSMAN, local)), reason)
    }

    /// A WS-Addressing sender fault (`wsa:` subcode, addressing fault action).
    fn addressing(local: &str, reason: &str) -> Self {
        Self::new(
            ACTION_ADDRESSING_FAULT,
            FaultCode::Sender,
            Some((ADDRESSING, local)),
            reason,
        )
    }
}

impl Envelope {
    /// The fault carried by this (response) envelope, if any; see [`Fault::from_envelope`].
    pub fn fault(&self) -> Result<Option<Fault>, WsmanError> {
        Fault::from_envelope(self)
    }
}

/// Resolve the QName text of `value` whose ancestors below the body are `ancestors`.
fn resolve_qname(
    envelope: &Envelope,
    value: &Element,
    ancestors: &[&Element],
) -> Result<QualifiedName, WsmanError> {
    let text = value.text();
    let text = text.trim_matches(super::parse::is_xml_whitespace);
    let (prefix, local) = match text.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, text),
    };
    if local.is_empty() {
        return Err(WsmanError::MalformedFault {
            reason: "empty qname",
        });
    }
    let namespace = envelope.resolve_prefix(prefix, value, ancestors);
    if prefix.is_some() && namespace.is_none() {
        return Err(WsmanError::MalformedFault {
            reason: "undeclared prefix in qname",
        });
    }
    Ok(QualifiedName {
        namespace: namespace.map(str::to_owned),
        local: local.to_owned(),
    })
}

/// Prefix bound on the fault envelope to a subcode namespace other than SOAP or addressing
/// (AMT writes `e:AlreadyExists`).
const PREFIX_SUBCODE: &str = "e";

/// Detail: the selectors given do not identify an instance fully.
pub const DETAIL_INSUFFICIENT_SELECTORS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InsufficientSelectors";
/// Detail: a selector that the class does not have.
pub const DETAIL_UNEXPECTED_SELECTORS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors";
/// Detail: the same selector twice.
pub const DETAIL_DUPLICATE_SELECTORS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/DuplicateSelectors";
/// Detail: a selector value of the wrong type.
pub const DETAIL_TYPE_MISMATCH: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/TypeMismatch";
/// Detail: an invalid value.
pub const DETAIL_INVALID_VALUE: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue";
/// Detail: invalid values in a representation.
pub const DETAIL_INVALID_VALUES: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValues";
/// Detail: required values are missing.
pub const DETAIL_MISSING_VALUES: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MissingValues";
/// Detail: the resource URI is unknown.
pub const DETAIL_INVALID_RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI";
/// Detail: the envelope exceeds what the service accepts.
pub const DETAIL_SERVICE_ENVELOPE_LIMIT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/ServiceEnvelopeLimit";
/// Detail: the response would exceed the client's `MaxEnvelopeSize`.
pub const DETAIL_MAX_ENVELOPE_SIZE: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize";
/// Detail: the requested `MaxEnvelopeSize` is below the service minimum.
pub const DETAIL_MINIMUM_ENVELOPE_LIMIT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MinimumEnvelopeLimit";
/// Detail: the character set is not supported.
pub const DETAIL_CHARACTER_SET: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/CharacterSet";
/// Detail: the `OperationTimeout` is not acceptable.
pub const DETAIL_OPERATION_TIMEOUT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/OperationTimeout";
/// Detail: fragment-level transfer is not supported (AMT).
pub const DETAIL_FRAGMENT_LEVEL_ACCESS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/FragmentLevelAccess";
/// Detail: the action does not match the resource.
pub const DETAIL_ACTION_MISMATCH: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/ActionMismatch";
/// Detail: the property is read-only.
pub const DETAIL_READ_ONLY: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/ReadOnly";

/// DSP0226 reason of `wsman:AccessDenied`.
const REASON_ACCESS_DENIED: &str = "The sender was not authorized to access the resource.";
/// DSP0226 reason of `wsa:ActionNotSupported`.
const REASON_ACTION_NOT_SUPPORTED: &str = "The action is not supported by the service.";
/// DSP0226 reason of `wsman:AlreadyExists` (verbatim from an AMT 15 capture).
const REASON_ALREADY_EXISTS: &str =
    "The sender attempted to create a resource which already exists.";
/// Reason of `wsa:DestinationUnreachable` as AMT writes it ("WSAddressing", no hyphen).
const REASON_DESTINATION_UNREACHABLE: &str =
    "No route can be determined to reach the destination role defined by the WSAddressing To.";
/// DSP0226 reason of `wsa:EndpointUnavailable`.
const REASON_ENDPOINT_UNAVAILABLE: &str = "The specified endpoint is currently unavailable.";
/// DSP0226 reason of `wsman:EncodingLimit`.
const REASON_ENCODING_LIMIT: &str = "An internal encoding limit was exceeded in a request or would be violated if the message were processed.";
/// DSP0226 reason of `wsman:InternalError`.
const REASON_INTERNAL_ERROR: &str =
    "The service cannot comply with the request due to internal processing errors.";
/// DSP0226 reason of `wsen:InvalidEnumerationContext`.
const REASON_INVALID_ENUMERATION_CONTEXT: &str = "The supplied enumeration context is invalid.";
/// DSP0226 reason of `wsa:InvalidMessageInformationHeader`.
const REASON_INVALID_MESSAGE_INFORMATION_HEADER: &str =
    "A message information header is not valid and the message cannot be processed.";
/// DSP0226 reason of `wsman:InvalidOptions`.
const REASON_INVALID_OPTIONS: &str = "One or more options are not valid.";
/// DSP0226 reason of `wsman:InvalidParameter`.
const REASON_INVALID_PARAMETER: &str = "An operation parameter is not valid.";
/// DSP0226 reason of `wxf:InvalidRepresentation`.
const REASON_INVALID_REPRESENTATION: &str = "The XML content is not valid.";
/// DSP0226 reason of `wsman:InvalidSelectors`.
const REASON_INVALID_SELECTORS: &str = "The Selectors for the resource are not valid.";
/// DSP0226 reason of `wsa:MessageInformationHeaderRequired`.
const REASON_MESSAGE_INFORMATION_HEADER_REQUIRED: &str = "A required header is missing.";
/// DSP0226 reason of `wsman:QuotaLimit`.
const REASON_QUOTA_LIMIT: &str = "The service is busy servicing other requests.";
/// DSP0226 reason of `wsman:SchemaValidationError`.
const REASON_SCHEMA_VALIDATION_ERROR: &str =
    "The supplied SOAP violates the corresponding XML schema definition.";
/// DSP0226 reason of `wsman:TimedOut`.
const REASON_TIMED_OUT: &str = "The operation has timed out.";
/// DSP0226 reason of `wsman:UnsupportedFeature`.
const REASON_UNSUPPORTED_FEATURE: &str = "The specified feature is not supported.";
/// Reason of a SOAP `VersionMismatch`.
const REASON_VERSION_MISMATCH: &str = "The SOAP envelope namespace is not supported.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsman::names::FAULT_DETAIL_BASE;
    use crate::wsman::parse::Limits;

    #[test]
    fn already_exists_matches_amt_shape() {
        let xml =
            Fault::already_exists().emit(Some("5"), "uuid:00000000-8086-8086-8086-000000000002");
        assert!(
            xml.starts_with("<a:Envelope xmlns:a=\"http://www.w3.org/2003/05/soap-envelope\""),
            "{xml}"
        );
        assert!(xml.contains(&format!(" xmlns:e=\"{WSMAN}\"")), "{xml}");
        assert!(
            xml.contains(&format!(
                "<b:Action a:mustUnderstand=\"true\">{ACTION_WSMAN_FAULT}</b:Action>"
            )),
            "{xml}"
        );
        assert!(xml.contains("<a:Body><a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>e:AlreadyExists</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang=\"en-US\">The sender attempted to create a resource which already exists.</a:Text></a:Reason><a:Detail></a:Detail></a:Fault></a:Body>"), "{xml}");
        assert!(!xml.contains("/>"));
        assert!(!xml.contains("xmlns:xml"));
    }

    #[test]
    fn destination_unreachable_uses_b_prefix_and_round_trips() {
        let fault = Fault::destination_unreachable(Some(DETAIL_INVALID_RESOURCE_URI));
        let xml = fault.emit(None, "m");
        assert!(
            xml.contains("<a:Value>b:DestinationUnreachable</a:Value>"),
            "{xml}"
        );
        assert!(!xml.contains("xmlns:e="), "{xml}");
        let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.header.action, ACTION_ADDRESSING_FAULT);
        assert_eq!(env.fault().unwrap(), Some(fault));
    }

    #[test]
    fn all_constructors_round_trip() {
        let faults = [
            Fault::access_denied(),
            Fault::action_not_supported(),
            Fault::already_exists(),
            Fault::endpoint_unavailable(),
            Fault::encoding_limit(Some(DETAIL_MAX_ENVELOPE_SIZE)),
            Fault::internal_error(),
            Fault::invalid_enumeration_context(),
            Fault::invalid_message_information_header(),
            Fault::invalid_options(),
            Fault::invalid_parameter(Some(DETAIL_MISSING_VALUES)),
            Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)),
            Fault::invalid_selectors(Some(DETAIL_INSUFFICIENT_SELECTORS)),
            Fault::message_information_header_required(),
            Fault::must_understand(&QualifiedName {
                namespace: Some(WSMAN.to_owned()),
                local: "OptionSet".to_owned(),
            }),
            Fault::quota_limit(),
            Fault::schema_validation_error(),
            Fault::timed_out(),
            Fault::unsupported_feature(Some(DETAIL_FRAGMENT_LEVEL_ACCESS)),
            Fault::version_mismatch(),
        ];
        for fault in faults {
            let xml = fault.emit(Some("1"), "2");
            let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(env.header.relates_to.as_deref(), Some("1"));
            assert_eq!(env.fault().unwrap().as_ref(), Some(&fault), "{xml}");
            assert!(
                fault
                    .detail
                    .as_deref()
                    .is_none_or(|d| d.starts_with(FAULT_DETAIL_BASE))
            );
        }
    }

    #[test]
    fn reads_foreign_fault_with_other_prefixes() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><wsa:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</wsa:Action></s:Header><s:Body><s:Fault xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value> wsman:InternalError </s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">boom</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let fault = env.fault().unwrap().unwrap();
        assert_eq!(fault.code, FaultCode::Receiver);
        assert!(fault.is(WSMAN, "InternalError"));
        assert_eq!(fault.reason, "boom");
        assert_eq!(fault.http_status(), 500);
    }

    #[test]
    fn malformed_faults_are_errors_and_non_faults_none() {
        let wrap = |fault: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:Action>x</a:Action></s:Header><s:Body>{fault}</s:Body></s:Envelope>"#
            )
        };
        let parse = |s: &str| Envelope::parse(s.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(parse(&wrap("")).fault().unwrap(), None);
        assert_eq!(parse(&wrap("<s:Other></s:Other>")).fault().unwrap(), None);
        for bad in [
            "<s:Fault></s:Fault>",
            "<s:Fault><s:Code><s:Value>s:Bogus</s:Value></s:Code></s:Fault>",
            "<s:Fault><s:Code><s:Value>q:Sender</s:Value></s:Code></s:Fault>",
            "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>zz:X</s:Value></s:Subcode></s:Code></s:Fault>",
        ] {
            assert_eq!(
                parse(&wrap(bad)).fault().unwrap_err().id(),
                "wsman/malformed-fault",
                "{bad}"
            );
        }
    }
}
