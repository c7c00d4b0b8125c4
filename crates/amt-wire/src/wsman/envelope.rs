//! SOAP 1.2 envelope parsing: the typed WS-Addressing / WS-Management [`Header`] and the body.
//!
//! Headers are matched by namespace URI and local name, never by prefix; a header in the wrong
//! namespace is treated as unknown. This module deliberately applies no device policy (minimum
//! `OperationTimeout`, `MaxEnvelopeSize` ≥ 50000, rejecting `OptionSet mustUnderstand`): it reports
//! what the client sent and the device decides.

use std::time::Duration;

use super::element::{Element, NamespaceDecl, QualifiedName};
use super::error::{WsmanError, clip};
use super::names::{ADDRESSING, SOAP_ENVELOPE, WSMAN, XML};
use super::parse::{Limits, parse_document};

/// A parsed SOAP 1.2 envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The typed header.
    pub header: Header,
    /// The single element inside `Body`, `None` for an empty body (Get, Delete, Release ...).
    pub body: Option<Element>,
    /// Namespace declarations in scope at the body element: those of `Envelope`, then of
    /// `Body` (later ones shadow earlier ones). Needed to resolve QName-valued text such as a
    /// fault subcode.
    pub namespaces: Vec<NamespaceDecl>,
}

/// The WS-Addressing and WS-Management headers of a message.
///
/// Text values are trimmed of XML whitespace (URIs and IDs cannot carry it; pretty-printing
/// clients add it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `wsa:Action` (required).
    pub action: String,
    /// `wsa:To`.
    pub to: Option<String>,
    /// `wsman:ResourceURI`.
    pub resource_uri: Option<String>,
    /// `wsa:MessageID`.
    pub message_id: Option<String>,
    /// `wsa:RelatesTo` (present in responses).
    pub relates_to: Option<String>,
    /// `wsa:ReplyTo/wsa:Address`.
    pub reply_to: Option<String>,
    /// `wsman:SelectorSet`, in document order (duplicates kept; the device decides).
    pub selector_set: Vec<Selector>,
    /// `wsman:OperationTimeout`.
    pub operation_timeout: Option<OperationTimeout>,
    /// `wsman:MaxEnvelopeSize`.
    pub max_envelope_size: Option<MaxEnvelopeSize>,
    /// `wsman:OptionSet`.
    pub option_set: Option<OptionSet>,
    /// `wsman:Locale`.
    pub locale: Option<Locale>,
    /// Header elements with `mustUnderstand="true"` that this codec does not understand, in
    /// document order: the device answers `soap:MustUnderstand` if it does not either.
    pub not_understood: Vec<QualifiedName>,
}

/// One `wsman:Selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The `Name` attribute (unprefixed or `wsman:Name`).
    pub name: String,
    /// The value.
    pub value: SelectorValue,
}

/// The value of a selector: text, or an endpoint reference (association selectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorValue {
    /// Text value, trimmed.
    Text(String),
    /// A nested `wsa:EndpointReference` (kept as an element).
    EndpointReference(Element),
}

/// `wsman:OperationTimeout`: the `xs:duration` as sent and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationTimeout {
    /// The duration text as sent, e.g. `PT60S`.
    pub text: String,
    /// The parsed duration.
    pub duration: Duration,
}

/// `wsman:MaxEnvelopeSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxEnvelopeSize {
    /// Size in bytes.
    pub bytes: u32,
    /// Its `mustUnderstand` flag.
    pub must_understand: bool,
}

/// `wsman:OptionSet`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionSet {
    /// Its `mustUnderstand` flag (AMT answers `soap:MustUnderstand` when true).
    pub must_understand: bool,
    /// The options in document order.
    pub options: Vec<WsmanOption>,
}

/// One `wsman:Option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsmanOption {
    /// The `Name` attribute.
    pub name: String,
    /// The text value (not trimmed).
    pub value: String,
}

/// `wsman:Locale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    /// The `xml:lang` attribute (empty if absent).
    pub lang: String,
    /// Its `mustUnderstand` flag.
    pub must_understand: bool,
}

impl Envelope {
    /// Parse a SOAP 1.2 envelope, namespace-aware (any prefixes or a default namespace), within
    /// `limits`.
    ///
    /// The document element must be `soap:Envelope` holding an optional `Header` and then a
    /// `Body` with at most one element. `mustUnderstand` is read from `soap:mustUnderstand` and,
    /// leniently, from an unprefixed `mustUnderstand` (GWM, WinRM and others write it so).
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Self, WsmanError> {
        let root = parse_document(input, limits)?;
        Self::from_element(root)
    }

    /// Interpret an already parsed document element as an envelope.
    pub fn from_element(root: Element) -> Result<Self, WsmanError> {
        if root.name != "Envelope" {
            return Err(WsmanError::NotAnEnvelope {
                found: expanded(&root),
            });
        }
        if root.namespace.as_deref() != Some(SOAP_ENVELOPE) {
            return Err(WsmanError::VersionMismatch {
                namespace: clip(root.namespace.as_deref().unwrap_or_default()),
            });
        }
        let Element {
            declarations: mut namespaces,
            children,
            ..
        } = root;
        let mut header = None;
        let mut body = None;
        for child in children {
            let child = match child {
                super::element::Node::Element(child) => child,
                super::element::Node::Text(text) => {
                    if text.chars().all(super::parse::is_xml_whitespace) {
                        continue;
                    }
                    return Err(WsmanError::UnexpectedEnvelopeChild {
                        element: "text".to_owned(),
                    });
                }
            };
            let in_soap = child.namespace.as_deref() == Some(SOAP_ENVELOPE);
            match child.name.as_str() {
                "Header" if in_soap && header.is_none() && body.is_none() => header = Some(child),
                "Body" if in_soap && body.is_none() => body = Some(child),
                _ => {
                    return Err(WsmanError::UnexpectedEnvelopeChild {
                        element: expanded(&child),
                    });
                }
            }
        }
        let body = body.ok_or(WsmanError::MissingBody)?;
        let header = parse_header(header.as_ref())?;
        let Element {
            declarations,
            children,
            ..
        } = body;
        namespaces.extend(declarations);
        let mut elements = children.into_iter().filter_map(|n| match n {
            super::element::Node::Element(e) => Some(e),
            super::element::Node::Text(_) => None,
        });
        let first = elements.next();
        if elements.next().is_some() {
            return Err(WsmanError::MultipleBodyElements);
        }
        Ok(Self {
            header,
            body: first,
            namespaces,
        })
    }

    /// Resolve a prefix (`None` = default) as it is in scope at `element`, given the chain of
    /// `ancestors` from the body element down to `element`'s parent (outermost first).
    pub fn resolve_prefix<'a>(
        &'a self,
        prefix: Option<&str>,
        element: &'a Element,
        ancestors: &[&'a Element],
    ) -> Option<&'a str> {
        let inner: Vec<&Element> = ancestors.iter().rev().copied().collect();
        element.resolve_prefix(prefix, &inner).or_else(|| {
            if prefix == Some("xml") {
                return Some(XML);
            }
            self.namespaces
                .iter()
                .rev()
                .find(|d| d.prefix.as_deref() == prefix)
                .map(|d| d.uri.as_str())
                .filter(|uri| !uri.is_empty())
        })
    }
}

impl OperationTimeout {
    /// Parse an `xs:duration` such as `PT60S`, `PT1M30.5S` or `P1DT2H`.
    pub fn parse(text: &str) -> Result<Self, WsmanError> {
        Ok(Self {
            duration: parse_duration(text)?,
            text: text.to_owned(),
        })
    }

    /// The canonical `PTnS` form of `duration` (fractions down to milliseconds).
    pub fn from_duration(duration: Duration) -> Self {
        let secs = duration.as_secs();
        let millis = duration.subsec_millis();
        let text = if millis == 0 {
            format!("PT{secs}S")
        } else {
            let frac = format!("{millis:03}");
            format!("PT{secs}.{}S", frac.trim_end_matches('0'))
        };
        Self {
            text,
            duration: Duration::new(secs, millis * 1_000_000),
        }
    }
}

/// Parse an `xs:duration` into a [`Duration`].
///
/// Supported: optional days, hours, minutes and (fractional) seconds (`PnDTnHnMn.nS`). Rejected:
/// negative durations, years and months (their length is not fixed), empty or repeated fields,
/// values that overflow, and more than 9 fraction digits.
pub fn parse_duration(text: &str) -> Result<Duration, WsmanError> {
    let invalid = || WsmanError::InvalidDuration { value: clip(text) };
    let rest = text.strip_prefix('P').ok_or_else(invalid)?;
    if rest.is_empty() {
        return Err(invalid());
    }
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(invalid()),
        None => (rest, None),
    };
    let mut total = Duration::ZERO;
    if !date.is_empty() {
        let days = date.strip_suffix('D').ok_or_else(invalid)?;
        let days = parse_digits(days).ok_or_else(invalid)?;
        total = days
            .checked_mul(86_400)
            .map(Duration::from_secs)
            .ok_or_else(invalid)?;
    }
    if let Some(mut time) = time {
        let mut last_rank = 0;
        while !time.is_empty() {
            let end = time
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let (number, unit_and_rest) = time.split_at(end);
            let mut units = unit_and_rest.chars();
            let unit = units.next().ok_or_else(invalid)?;
            time = units.as_str();
            let (rank, factor) = match unit {
                'H' => (1, 3600),
                'M' => (2, 60),
                'S' => (3, 1),
                _ => return Err(invalid()),
            };
            if rank <= last_rank {
                return Err(invalid());
            }
            last_rank = rank;
            let part = if unit == 'S' {
                parse_seconds(number).ok_or_else(invalid)?
            } else {
                let n = parse_digits(number).ok_or_else(invalid)?;
                Duration::from_secs(n.checked_mul(factor).ok_or_else(invalid)?)
            };
            total = total.checked_add(part).ok_or_else(invalid)?;
        }
    }
    Ok(total)
}

/// Parse a non-empty run of ASCII digits.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse `n` or `n.f` seconds (at most 9 fraction digits).
fn parse_seconds(s: &str) -> Option<Duration> {
    let (whole, frac) = match s.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (s, None),
    };
    let secs = parse_digits(whole)?;
    let nanos = match frac {
        None => 0,
        Some(frac) => {
            if frac.len() > 9 {
                return None;
            }
            let digits = parse_digits(frac)?;
            let scale = 10u64.checked_pow(u32::try_from(9 - frac.len()).ok()?)?;
            u32::try_from(digits.checked_mul(scale)?).ok()?
        }
    };
    Some(Duration::new(secs, nanos))
}

/// Interpret the children of `Header`.
fn parse_header(header: Option<&Element>) -> Result<Header, WsmanError> {
    let mut out = Header::default();
    let mut action = None;
    let Some(header) = header else {
        return Err(WsmanError::MissingAction);
    };
    for h in header.elements() {
        let ns = h.namespace.as_deref();
        match (ns, h.name.as_str()) {
            (Some(ADDRESSING), "Action") => set_once(&mut action, "Action", trimmed(h))?,
            (Some(ADDRESSING), "To") => set_once(&mut out.to, "To", trimmed(h))?,
            (Some(ADDRESSING), "MessageID") => {
                set_once(&mut out.message_id, "MessageID", trimmed(h))?;
            }
            (Some(ADDRESSING), "RelatesTo") => {
                set_once(&mut out.relates_to, "RelatesTo", trimmed(h))?;
            }
            (Some(ADDRESSING), "ReplyTo") => {
                let address = h.child(ADDRESSING, "Address").map(trimmed).ok_or_else(|| {
                    WsmanError::InvalidHeaderValue {
                        header: "ReplyTo",
                        value: String::new(),
                        reason: "no wsa:Address",
                    }
                })?;
                set_once(&mut out.reply_to, "ReplyTo", address)?;
            }
            (Some(WSMAN), "ResourceURI") => {
                set_once(&mut out.resource_uri, "ResourceURI", trimmed(h))?;
            }
            (Some(WSMAN), "SelectorSet") => {
                if !out.selector_set.is_empty() {
                    return Err(WsmanError::DuplicateHeader {
                        header: "SelectorSet",
                    });
                }
                out.selector_set = parse_selectors(h)?;
            }
            (Some(WSMAN), "OperationTimeout") => {
                let timeout = OperationTimeout::parse(&trimmed(h))?;
                set_once(&mut out.operation_timeout, "OperationTimeout", timeout)?;
            }
            (Some(WSMAN), "MaxEnvelopeSize") => {
                let text = trimmed(h);
                let bytes = text
                    .parse::<u32>()
                    .map_err(|_| WsmanError::InvalidHeaderValue {
                        header: "MaxEnvelopeSize",
                        value: clip(&text),
                        reason: "not an unsigned 32-bit integer",
                    })?;
                let size = MaxEnvelopeSize {
                    bytes,
                    must_understand: must_understand(h)?,
                };
                set_once(&mut out.max_envelope_size, "MaxEnvelopeSize", size)?;
            }
            (Some(WSMAN), "OptionSet") => {
                let mut set = OptionSet {
                    must_understand: must_understand(h)?,
                    options: Vec::new(),
                };
                for option in h.children_named(WSMAN, "Option") {
                    let name = name_attribute(option).ok_or(WsmanError::InvalidHeaderValue {
                        header: "OptionSet",
                        value: String::new(),
                        reason: "option without a name",
                    })?;
                    set.options.push(WsmanOption {
                        name: name.to_owned(),
                        value: option.text().into_owned(),
                    });
                }
                set_once(&mut out.option_set, "OptionSet", set)?;
            }
            (Some(WSMAN), "Locale") => {
                let locale = Locale {
                    lang: h
                        .attribute(Some(XML), "lang")
                        .unwrap_or_default()
                        .to_owned(),
                    must_understand: must_understand(h)?,
                };
                set_once(&mut out.locale, "Locale", locale)?;
            }
            _ => {
                if must_understand(h)? {
                    out.not_understood.push(h.qualified_name());
                }
            }
        }
    }
    out.action = action.ok_or(WsmanError::MissingAction)?;
    Ok(out)
}

/// Parse the selectors of a `wsman:SelectorSet`.
fn parse_selectors(set: &Element) -> Result<Vec<Selector>, WsmanError> {
    set.children_named(WSMAN, "Selector")
        .map(|selector| {
            let name = name_attribute(selector).ok_or(WsmanError::SelectorWithoutName)?;
            let value = match selector.first_element() {
                Some(epr) => SelectorValue::EndpointReference(epr.clone()),
                None => SelectorValue::Text(trimmed(selector)),
            };
            Ok(Selector {
                name: name.to_owned(),
                value,
            })
        })
        .collect()
}

/// The `Name` attribute, unprefixed or in the WS-Man namespace (amtctrl writes `wsman:Name`).
fn name_attribute(element: &Element) -> Option<&str> {
    element
        .attribute(None, "Name")
        .or_else(|| element.attribute(Some(WSMAN), "Name"))
}

/// The `mustUnderstand` flag of a header block.
fn must_understand(element: &Element) -> Result<bool, WsmanError> {
    let value = element
        .attribute(Some(SOAP_ENVELOPE), "mustUnderstand")
        .or_else(|| element.attribute(None, "mustUnderstand"));
    match value.map(|v| v.trim_matches(super::parse::is_xml_whitespace)) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(WsmanError::InvalidHeaderValue {
            header: "mustUnderstand",
            value: clip(other),
            reason: "not an xs:boolean",
        }),
    }
}

/// Text content trimmed of XML whitespace.
fn trimmed(element: &Element) -> String {
    element
        .text()
        .trim_matches(super::parse::is_xml_whitespace)
        .to_owned()
}

/// Store a header value, rejecting a second occurrence.
fn set_once<T>(slot: &mut Option<T>, header: &'static str, value: T) -> Result<(), WsmanError> {
    if slot.is_some() {
        return Err(WsmanError::DuplicateHeader { header });
    }
    *slot = Some(value);
    Ok(())
}

/// `{namespace}local` for error messages.
fn expanded(element: &Element) -> String {
    clip(&format!(
        "{{{}}}{}",
        element.namespace.as_deref().unwrap_or_default(),
        element.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsman::names::{ACTION_ENUMERATE, ACTION_GET, ACTION_PULL, ANONYMOUS, ENUMERATION};

    fn parse(s: &str) -> Result<Envelope, WsmanError> {
        Envelope::parse(s.as_bytes(), &Limits::default())
    }

    /// The Get `AMT_GeneralSettings` request as go-wsman-messages builds it, verbatim.
    const GWM_GET: &str = r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>0</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body></Body></Envelope>"#;

    #[test]
    fn parses_gwm_get() {
        let env = parse(GWM_GET).unwrap();
        let h = &env.header;
        assert_eq!(h.action, ACTION_GET);
        assert_eq!(h.to.as_deref(), Some("/wsman"));
        assert_eq!(
            h.resource_uri.as_deref(),
            Some("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings")
        );
        assert_eq!(h.message_id.as_deref(), Some("0"));
        assert_eq!(h.reply_to.as_deref(), Some(ANONYMOUS));
        let timeout = h.operation_timeout.as_ref().unwrap();
        assert_eq!(timeout.text, "PT60S");
        assert_eq!(timeout.duration, Duration::from_secs(60));
        assert!(h.selector_set.is_empty());
        assert!(h.not_understood.is_empty());
        assert_eq!(env.body, None);
    }

    #[test]
    fn parses_openwsman_style_pretty_printed_request() {
        let xml = r#"
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
            xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
            xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">
  <s:Header>
    <wsa:Action s:mustUnderstand="true">
      http://schemas.xmlsoap.org/ws/2004/09/transfer/Get
    </wsa:Action>
    <wsa:To s:mustUnderstand="true">http://127.0.0.1:16992/wsman</wsa:To>
    <wsman:ResourceURI s:mustUnderstand="true">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData</wsman:ResourceURI>
    <wsa:MessageID s:mustUnderstand="true">uuid:f6e752bc-2668-1668-8002-303180ea2ae8</wsa:MessageID>
    <wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>
    <wsman:MaxEnvelopeSize s:mustUnderstand="true">51200</wsman:MaxEnvelopeSize>
    <wsman:Locale xml:lang="en-US" s:mustUnderstand="false"/>
    <wsman:OperationTimeout>PT1M30.5S</wsman:OperationTimeout>
    <wsman:SelectorSet>
      <wsman:Selector Name="InstanceID">Intel(r) AMT 802.3 TLS Settings</wsman:Selector>
    </wsman:SelectorSet>
  </s:Header>
  <s:Body/>
</s:Envelope>
"#;
        let env = parse(xml).unwrap();
        let h = &env.header;
        assert_eq!(h.action, ACTION_GET);
        assert_eq!(h.to.as_deref(), Some("http://127.0.0.1:16992/wsman"));
        assert_eq!(
            h.max_envelope_size,
            Some(MaxEnvelopeSize {
                bytes: 51200,
                must_understand: true
            })
        );
        assert_eq!(
            h.locale,
            Some(Locale {
                lang: "en-US".to_owned(),
                must_understand: false
            })
        );
        assert_eq!(
            h.operation_timeout.as_ref().unwrap().duration,
            Duration::from_millis(90_500)
        );
        assert_eq!(
            h.selector_set,
            vec![Selector {
                name: "InstanceID".to_owned(),
                value: SelectorValue::Text("Intel(r) AMT 802.3 TLS Settings".to_owned()),
            }]
        );
        assert_eq!(env.body, None);
    }

    #[test]
    fn parses_meshcentral_style_enumerate() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body><Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><w:OptimizeEnumeration/><w:MaxElements>32000</w:MaxElements><w:EnumerationMode>EnumerateEPR</w:EnumerationMode></Enumerate></Body></Envelope>"#;
        let env = parse(xml).unwrap();
        assert_eq!(env.header.action, ACTION_ENUMERATE);
        assert_eq!(env.header.message_id.as_deref(), Some("1"));
        let body = env.body.unwrap();
        assert!(body.is(ENUMERATION, "Enumerate"));
        assert!(body.child(WSMAN, "OptimizeEnumeration").is_some());
        assert_eq!(
            body.child_text(WSMAN, "MaxElements").as_deref(),
            Some("32000")
        );
        assert_eq!(
            body.child_text(WSMAN, "EnumerationMode").as_deref(),
            Some("EnumerateEPR")
        );
    }

    #[test]
    fn parses_pull_and_invoke_bodies() {
        let pull = r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull</a:Action></Header><Body><Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>14000000-0000-0000-0000-000000000000</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull></Body></Envelope>"#;
        let env = parse(pull).unwrap();
        assert_eq!(env.header.action, ACTION_PULL);
        let body = env.body.unwrap();
        assert_eq!(
            body.child_text(ENUMERATION, "EnumerationContext")
                .as_deref(),
            Some("14000000-0000-0000-0000-000000000000")
        );

        let ns = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuthorizationService";
        let invoke = format!(
            r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><Header><a:Action>{ns}/SetAdminAclEntryEx</a:Action></Header><Body><h:SetAdminAclEntryEx_INPUT xmlns:h="{ns}"><h:Username>admin</h:Username><h:DigestPassword>AMviB05zT+twP2E9Tn/hPA==</h:DigestPassword></h:SetAdminAclEntryEx_INPUT></Body></Envelope>"#
        );
        let env = parse(&invoke).unwrap();
        let body = env.body.unwrap();
        assert!(body.is(ns, "SetAdminAclEntryEx_INPUT"));
        assert_eq!(body.child_text(ns, "Username").as_deref(), Some("admin"));
        assert_eq!(
            body.child_text(ns, "DigestPassword").as_deref(),
            Some("AMviB05zT+twP2E9Tn/hPA==")
        );
    }

    #[test]
    fn epr_selector_and_namespaced_name_attribute() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><wsa:Action>x</wsa:Action><wsman:SelectorSet><wsman:Selector wsman:Name="Name">Intel(r) AMT Power Management Service</wsman:Selector><wsman:Selector Name="Ref"><wsa:EndpointReference><wsa:Address>a</wsa:Address></wsa:EndpointReference></wsman:Selector></wsman:SelectorSet></s:Header><s:Body></s:Body></s:Envelope>"#;
        let env = parse(xml).unwrap();
        let sel = &env.header.selector_set;
        assert_eq!(sel.len(), 2);
        assert_eq!(sel[0].name, "Name");
        match &sel[1].value {
            SelectorValue::EndpointReference(epr) => {
                assert!(epr.is(ADDRESSING, "EndpointReference"));
            }
            SelectorValue::Text(t) => panic!("expected EPR, got {t}"),
        }
    }

    #[test]
    fn option_set_and_not_understood_headers() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:x="urn:x"><s:Header><wsa:Action>x</wsa:Action><w:OptionSet s:mustUnderstand="true"><w:Option Name="a">1</w:Option></w:OptionSet><w:FragmentTransfer s:mustUnderstand="true">x</w:FragmentTransfer><x:Ignored>1</x:Ignored><x:Other mustUnderstand="1"/></s:Header><s:Body/></s:Envelope>"#;
        let env = parse(xml).unwrap();
        let set = env.header.option_set.unwrap();
        assert!(set.must_understand);
        assert_eq!(
            set.options,
            vec![WsmanOption {
                name: "a".to_owned(),
                value: "1".to_owned()
            }]
        );
        let names: Vec<_> = env
            .header
            .not_understood
            .iter()
            .map(|q| q.local.as_str())
            .collect();
        assert_eq!(names, ["FragmentTransfer", "Other"]);
    }

    #[test]
    fn wrong_namespace_action_is_not_the_action() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x:Action xmlns:x="urn:wrong">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</x:Action></s:Header><s:Body/></s:Envelope>"#;
        assert_eq!(parse(xml).unwrap_err(), WsmanError::MissingAction);
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x:Action xmlns:x="urn:wrong" s:mustUnderstand="true">u</x:Action></s:Header><s:Body/></s:Envelope>"#;
        assert_eq!(parse(xml).unwrap_err(), WsmanError::MissingAction);
    }

    #[test]
    fn structural_errors() {
        let head = r#"<s:Header><a:Action>x</a:Action></s:Header>"#;
        let ns = r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing""#;
        let cases = [
            (format!("<s:Envelope {ns}>{head}</s:Envelope>"), "wsman/missing-body"),
            (
                format!("<s:Envelope {ns}>{head}<s:Body><a:X/><a:Y/></s:Body></s:Envelope>"),
                "wsman/multiple-body-elements",
            ),
            (
                format!("<s:Envelope {ns}><s:Body/>{head}</s:Envelope>"),
                "wsman/unexpected-envelope-child",
            ),
            (format!("<s:Envelope {ns}><s:Body/></s:Envelope>"), "wsman/missing-action"),
            (
                format!("<s:Envelope {ns}><s:Header><a:Action>x</a:Action><a:Action>y</a:Action></s:Header><s:Body/></s:Envelope>"),
                "wsman/duplicate-header",
            ),
            (
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#.to_owned(),
                "wsman/version-mismatch",
            ),
            (format!("<s:Body {ns}/>"), "wsman/not-an-envelope"),
            (
                format!("<s:Envelope {ns}><s:Header><w:OperationTimeout xmlns:w=\"{WSMAN}\">soon</w:OperationTimeout><a:Action>x</a:Action></s:Header><s:Body/></s:Envelope>"),
                "wsman/invalid-duration",
            ),
            (
                format!("<s:Envelope {ns}><s:Header><w:MaxEnvelopeSize xmlns:w=\"{WSMAN}\">-1</w:MaxEnvelopeSize><a:Action>x</a:Action></s:Header><s:Body/></s:Envelope>"),
                "wsman/invalid-header-value",
            ),
            (
                format!("<s:Envelope {ns}><s:Header><a:Action>x</a:Action><w:SelectorSet xmlns:w=\"{WSMAN}\"><w:Selector>v</w:Selector></w:SelectorSet></s:Header><s:Body/></s:Envelope>"),
                "wsman/selector-without-name",
            ),
        ];
        for (xml, id) in cases {
            assert_eq!(parse(&xml).unwrap_err().id(), id, "{xml}");
        }
    }

    #[test]
    fn durations() {
        let ok = [
            ("PT60S", Duration::from_secs(60)),
            ("PT1M30.5S", Duration::from_millis(90_500)),
            ("P1DT2H", Duration::from_secs(93_600)),
            ("PT0.000000001S", Duration::from_nanos(1)),
            ("P0D", Duration::ZERO),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text).unwrap(), want, "{text}");
        }
        for bad in [
            "",
            "P",
            "PT",
            "60",
            "PT60",
            "-PT60S",
            "P1Y",
            "P1M",
            "PT1S1M",
            "PT1H1H",
            "PT.5S",
            "PT1.S",
            "PT1.0000000001S",
            "PT99999999999999999999S",
            "P99999999999999999D",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let t = OperationTimeout::from_duration(Duration::from_millis(1500));
        assert_eq!(t.text, "PT1.5S");
        assert_eq!(OperationTimeout::parse(&t.text).unwrap(), t);
        let max = OperationTimeout::from_duration(Duration::MAX);
        assert_eq!(OperationTimeout::parse(&max.text).unwrap(), max);
    }
}
