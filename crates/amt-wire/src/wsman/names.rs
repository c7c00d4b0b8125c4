//! Namespace URIs, action URIs and well-known values of WS-Management as AMT speaks it
//! (DSP0226 1.0 with the 2004/08 WS-Addressing and 2004/09 WS-Transfer/Enumeration drafts).
//!
//! Only constants live here; this module deliberately builds no strings and knows nothing about
//! particular AMT classes beyond the three resource URI bases.

/// SOAP 1.2 envelope namespace (`a:` in AMT responses, default namespace in GWM/MeshCentral requests).
pub const SOAP_ENVELOPE: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (August 2004 submission) namespace (`b:` in AMT responses, `a:` in GWM requests).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Management (DSP0226) namespace (`c:` in AMT responses, `w:` in GWM requests).
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// WS-Enumeration (September 2004) namespace.
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
/// WS-Transfer (September 2004) namespace.
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WS-Management Identify namespace (`IdentifyResponse`, `ProtocolVersion`, ...).
pub const IDENTITY: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";
/// WS-Management CIM binding namespace (DSP0227).
pub const CIM_BINDING: &str = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd";
/// XML Schema instance namespace (`xsi:nil`, `xsi:type`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// XML Schema namespace.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// The namespace permanently bound to the `xml` prefix (`xml:lang`).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Resource URI base of the Intel `AMT_*` classes (append the class name).
pub const AMT_SCHEMA: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
/// Resource URI base of the DMTF `CIM_*` classes (append the class name).
pub const CIM_SCHEMA: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
/// Resource URI base of the Intel `IPS_*` classes (append the class name).
pub const IPS_SCHEMA: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";

/// The WS-Addressing anonymous role: `ReplyTo` address of clients and `To` of AMT responses.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// WS-Transfer Get.
pub const ACTION_GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
/// Response to WS-Transfer Get.
pub const ACTION_GET_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse";
/// WS-Transfer Put.
pub const ACTION_PUT: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put";
/// Response to WS-Transfer Put.
pub const ACTION_PUT_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/PutResponse";
/// WS-Transfer Create.
pub const ACTION_CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
/// Response to WS-Transfer Create.
pub const ACTION_CREATE_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse";
/// WS-Transfer Delete.
pub const ACTION_DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
/// Response to WS-Transfer Delete.
pub const ACTION_DELETE_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse";
/// WS-Enumeration Enumerate.
pub const ACTION_ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
/// Response to WS-Enumeration Enumerate.
pub const ACTION_ENUMERATE_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse";
/// WS-Enumeration Pull.
pub const ACTION_PULL: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
/// Response to WS-Enumeration Pull.
pub const ACTION_PULL_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse";
/// WS-Enumeration Release.
pub const ACTION_RELEASE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release";
/// Response to WS-Enumeration Release.
pub const ACTION_RELEASE_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/ReleaseResponse";
/// Fault action of WS-Management faults (`wsman:AlreadyExists`, `wsman:InvalidSelectors`, ...).
pub const ACTION_WSMAN_FAULT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
/// Fault action of WS-Addressing and SOAP faults (`wsa:DestinationUnreachable`, `MustUnderstand`, ...).
pub const ACTION_ADDRESSING_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";
/// Fault action of WS-Enumeration faults (`wsen:InvalidEnumerationContext`, ...).
pub const ACTION_ENUMERATION_FAULT: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/fault";
/// Fault action of WS-Transfer faults (`wxf:InvalidRepresentation`).
pub const ACTION_TRANSFER_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/fault";

/// Base of the WS-Management fault detail URIs (append e.g. `InvalidValue`).
pub const FAULT_DETAIL_BASE: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/";

/// `wsman:EnumerationMode` value asking for endpoint references instead of objects.
pub const ENUMERATION_MODE_EPR: &str = "EnumerateEPR";
/// `wsman:EnumerationMode` value asking for objects together with their endpoint references.
pub const ENUMERATION_MODE_OBJECT_AND_EPR: &str = "EnumerateObjectAndEPR";

/// Prefix AMT binds to [`SOAP_ENVELOPE`] in responses.
pub const PREFIX_SOAP: &str = "a";
/// Prefix AMT binds to [`ADDRESSING`] in responses.
pub const PREFIX_ADDRESSING: &str = "b";
/// Prefix AMT binds to [`WSMAN`] in responses.
pub const PREFIX_WSMAN: &str = "c";
/// Prefix AMT uses for the class (or enumeration) namespace of a response body.
pub const PREFIX_CLASS: &str = "g";
/// Prefix AMT uses for items inside a `PullResponse`.
pub const PREFIX_ITEM: &str = "h";
