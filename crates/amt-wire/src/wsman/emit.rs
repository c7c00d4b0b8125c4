//! XML emission: elements, AMT-style responses and GWM-style requests.
//!
//! Output follows what strict real clients need: no self-closing tags (always `<x></x>`), no
//! CDATA, double-quoted attributes without spaces around `=`, text and attribute values escaped,
//! every prefix declared. Responses carry no XML declaration (AMT's start with `<a:Envelope`);
//! requests carry `<?xml version="1.0" encoding="utf-8"?>` as GWM's do. This module deliberately
//! does not pretty-print, validate names (callers pass NCNames) or invent message IDs.

use super::element::{Attribute, Element, Node};
use super::envelope::{Header, SelectorValue};
use super::names::{
    ADDRESSING, ANONYMOUS, PREFIX_ADDRESSING, PREFIX_SOAP, PREFIX_WSMAN, SOAP_ENVELOPE, WSMAN, XML,
    XSD, XSI,
};

/// The header fields of a response the device sends (AMT shape: `To` anonymous, `RelatesTo`,
/// `Action` with `mustUnderstand`, `MessageID`, `ResourceURI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Response action URI, e.g. [`super::names::ACTION_GET_RESPONSE`].
    pub action: String,
    /// The request's `MessageID`; omitted when the request had none (or was unreadable).
    pub relates_to: Option<String>,
    /// This response's `MessageID`, chosen by the caller (AMT: `uuid:00000000-8086-8086-8086-…`).
    pub message_id: String,
    /// Echoed `ResourceURI`, if any.
    pub resource_uri: Option<String>,
}

/// A request as a client (the provisioner) sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Header fields; [`Header::not_understood`] is not emitted.
    pub header: Header,
    /// The body element, `None` for an empty body.
    pub body: Option<Element>,
}

impl Element {
    /// Serialise this element (no XML declaration), declaring whatever prefixes it needs.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        let mut scope = Scope::default();
        write_element(&mut out, self, &mut scope);
        out
    }
}

/// Emit a response envelope in AMT's shape.
///
/// The envelope declares `a:` (SOAP), `b:` (addressing), `c:` (WS-Man) and every other prefix
/// the body uses consistently (e.g. `g:` for the class namespace), so the body itself carries no
/// declarations, like AMT's. Prefixes the body uses for two different namespaces are declared
/// locally instead.
pub fn emit_response(header: &ResponseHeader, body: Option<&Element>) -> String {
    let mut blocks =
        vec![Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, "To").with_text(ANONYMOUS)];
    if let Some(relates_to) = &header.relates_to {
        blocks.push(
            Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, "RelatesTo")
                .with_text(relates_to.as_str()),
        );
    }
    blocks.push(
        Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, "Action")
            .with_ns_attribute(PREFIX_SOAP, SOAP_ENVELOPE, "mustUnderstand", "true")
            .with_text(header.action.as_str()),
    );
    blocks.push(
        Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, "MessageID")
            .with_text(header.message_id.as_str()),
    );
    if let Some(uri) = &header.resource_uri {
        blocks.push(Element::prefixed(PREFIX_WSMAN, WSMAN, "ResourceURI").with_text(uri.as_str()));
    }
    amt_envelope(&blocks, body, &[])
}

impl Request {
    /// Emit the request in GWM's shape: XML declaration, default-namespace SOAP envelope with
    /// `xsi`/`xsd`/`a:` (addressing)/`w:` (WS-Man) declared, headers in GWM's order (Action,
    /// To, ResourceURI, MessageID, RelatesTo, ReplyTo, OperationTimeout, MaxEnvelopeSize,
    /// Locale, OptionSet, SelectorSet), `mustUnderstand` written unprefixed as GWM and WinRM
    /// clients do (the parser accepts it).
    pub fn emit(&self) -> String {
        let h = &self.header;
        let w = |name: &str| Element::prefixed("w", WSMAN, name);
        let a = |name: &str| Element::prefixed("a", ADDRESSING, name);
        let mut blocks = vec![a("Action").with_text(h.action.as_str())];
        if let Some(to) = &h.to {
            blocks.push(a("To").with_text(to.as_str()));
        }
        if let Some(uri) = &h.resource_uri {
            blocks.push(w("ResourceURI").with_text(uri.as_str()));
        }
        if let Some(id) = &h.message_id {
            blocks.push(a("MessageID").with_text(id.as_str()));
        }
        if let Some(id) = &h.relates_to {
            blocks.push(a("RelatesTo").with_text(id.as_str()));
        }
        if let Some(address) = &h.reply_to {
            blocks.push(a("ReplyTo").with_child(a("Address").with_text(address.as_str())));
        }
        if let Some(timeout) = &h.operation_timeout {
            blocks.push(w("OperationTimeout").with_text(timeout.text.as_str()));
        }
        if let Some(size) = &h.max_envelope_size {
            blocks.push(
                w("MaxEnvelopeSize")
                    .with_attribute("mustUnderstand", bool_text(size.must_understand))
                    .with_text(size.bytes.to_string()),
            );
        }
        if let Some(locale) = &h.locale {
            blocks.push(
                w("Locale")
                    .with_ns_attribute("xml", XML, "lang", locale.lang.as_str())
                    .with_attribute("mustUnderstand", bool_text(locale.must_understand)),
            );
        }
        if let Some(set) = &h.option_set {
            let mut e = w("OptionSet");
            if set.must_understand {
                e = e.with_attribute("mustUnderstand", "true");
            }
            for option in &set.options {
                e = e.with_child(
                    w("Option")
                        .with_attribute("Name", option.name.as_str())
                        .with_text(option.value.as_str()),
                );
            }
            blocks.push(e);
        }
        if !h.selector_set.is_empty() {
            let mut set = w("SelectorSet");
            for selector in &h.selector_set {
                let e = w("Selector").with_attribute("Name", selector.name.as_str());
                set = set.with_child(match &selector.value {
                    SelectorValue::Text(text) => e.with_text(text.as_str()),
                    SelectorValue::EndpointReference(epr) => e.with_child(epr.clone()),
                });
            }
            blocks.push(set);
        }

        let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?><Envelope"#);
        let mut scope = Scope::default();
        for (prefix, uri) in [
            (Some("xsi"), XSI),
            (Some("xsd"), XSD),
            (Some("a"), ADDRESSING),
            (Some("w"), WSMAN),
            (None, SOAP_ENVELOPE),
        ] {
            scope.bind(prefix, uri);
            write_declaration(&mut out, prefix, uri);
        }
        out.push_str("><Header>");
        for block in &blocks {
            write_element(&mut out, block, &mut scope);
        }
        out.push_str("</Header><Body>");
        if let Some(body) = &self.body {
            write_element(&mut out, body, &mut scope);
        }
        out.push_str("</Body></Envelope>");
        out
    }
}

/// Write an AMT-style envelope: `a:`/`b:`/`c:` plus `extra` and the body's consistent prefixes
/// declared on `a:Envelope`, then the header blocks and the body.
pub(crate) fn amt_envelope(
    header_blocks: &[Element],
    body: Option<&Element>,
    extra: &[(&str, &str)],
) -> String {
    let mut declarations: Vec<(String, String)> = [
        (PREFIX_SOAP, SOAP_ENVELOPE),
        (PREFIX_ADDRESSING, ADDRESSING),
        (PREFIX_WSMAN, WSMAN),
    ]
    .iter()
    .chain(extra)
    .map(|(p, u)| ((*p).to_owned(), (*u).to_owned()))
    .collect();
    if let Some(body) = body {
        hoistable_prefixes(body, &mut declarations);
    }
    let mut out = String::from("<a:Envelope");
    let mut scope = Scope::default();
    for (prefix, uri) in &declarations {
        if scope.lookup(Some(prefix)).is_none() {
            scope.bind(Some(prefix), uri);
            write_declaration(&mut out, Some(prefix), uri);
        }
    }
    out.push_str("><a:Header>");
    for block in header_blocks {
        write_element(&mut out, block, &mut scope);
    }
    out.push_str("</a:Header><a:Body>");
    if let Some(body) = body {
        write_element(&mut out, body, &mut scope);
    }
    out.push_str("</a:Body></a:Envelope>");
    out
}

/// Collect `(prefix, namespace)` pairs that `element` and its descendants use for one namespace
/// only and that do not clash with `declarations`, appending them in first-use order.
fn hoistable_prefixes(element: &Element, declarations: &mut Vec<(String, String)>) {
    let mut used: Vec<(&str, &str)> = Vec::new();
    let mut clashing: Vec<&str> = Vec::new();
    let mut stack = vec![element];
    while let Some(e) = stack.pop() {
        let element_use = match (&e.prefix, &e.namespace) {
            (Some(p), Some(ns)) => Some((p.as_str(), ns.as_str())),
            _ => None,
        };
        let attribute_uses = e
            .attributes
            .iter()
            .filter_map(|a| match (&a.prefix, &a.namespace) {
                (Some(p), Some(ns)) => Some((p.as_str(), ns.as_str())),
                _ => None,
            });
        for (prefix, ns) in element_use.into_iter().chain(attribute_uses) {
            if prefix == "xml" || prefix == "xmlns" {
                continue;
            }
            match used.iter().find(|(p, _)| *p == prefix) {
                Some((_, existing)) if *existing != ns => clashing.push(prefix),
                Some(_) => {}
                None => used.push((prefix, ns)),
            }
        }
        // Push children in reverse so that first use is in document order.
        stack.extend(e.elements().collect::<Vec<_>>().into_iter().rev());
    }
    for (prefix, ns) in used {
        if clashing.contains(&prefix) {
            continue;
        }
        match declarations.iter().find(|(p, _)| p == prefix) {
            Some(_) => {}
            None => declarations.push((prefix.to_owned(), ns.to_owned())),
        }
    }
}

/// In-scope namespace bindings while writing, innermost last.
#[derive(Debug, Default)]
struct Scope {
    bindings: Vec<(Option<String>, String)>,
}

impl Scope {
    /// Namespace bound to `prefix` (`None` = default), `Some("")` when undeclared explicitly.
    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| uri.as_str())
    }

    fn bind(&mut self, prefix: Option<&str>, uri: &str) {
        self.bindings
            .push((prefix.map(str::to_owned), uri.to_owned()));
    }

    /// Whether `prefix` was bound at or after `mark` (i.e. on the element being written) or is
    /// already relied on by a name of this start tag (`used`): rebinding it is not possible.
    fn fixed_here(&self, mark: usize, prefix: Option<&str>, used: &[Option<String>]) -> bool {
        used.iter().any(|u| u.as_deref() == prefix)
            || self
                .bindings
                .get(mark..)
                .is_some_and(|new| new.iter().any(|(p, _)| p.as_deref() == prefix))
    }

    /// An in-scope, unshadowed, non-default prefix bound to `ns`.
    fn prefix_for(&self, ns: &str) -> Option<String> {
        self.bindings
            .iter()
            .rev()
            .filter_map(|(p, uri)| p.as_deref().filter(|_| uri == ns))
            .find(|p| self.lookup(Some(p)) == Some(ns))
            .map(str::to_owned)
    }

    /// A prefix bound nowhere in scope.
    fn fresh_prefix(&self) -> String {
        (0usize..)
            .map(|n| format!("ns{n}"))
            .find(|p| !self.bindings.iter().any(|(q, _)| q.as_deref() == Some(p)))
            .unwrap_or_default()
    }
}

/// Write `element` and its subtree, declaring prefixes as needed.
fn write_element(out: &mut String, element: &Element, scope: &mut Scope) {
    let mark = scope.bindings.len();
    for d in &element.declarations {
        let reserved = matches!(d.prefix.as_deref(), Some("xml" | "xmlns"));
        let undeclares_prefix = d.prefix.is_some() && d.uri.is_empty();
        if !reserved && !undeclares_prefix {
            scope.bind(d.prefix.as_deref(), &d.uri);
        }
    }
    // Prefixes this start tag already relies on; binding one of them again on this element
    // would change the meaning of the name that used it.
    let mut used: Vec<Option<String>> = Vec::new();
    let prefix = element_prefix(element, scope, mark, &mut used);
    let attributes: Vec<(Option<String>, &Attribute)> = element
        .attributes
        .iter()
        .map(|a| (attribute_prefix(a, scope, mark, &mut used), a))
        .collect();

    out.push('<');
    write_qname(out, prefix.as_deref(), &element.name);
    for (p, uri) in scope.bindings.get(mark..).unwrap_or_default() {
        write_declaration(out, p.as_deref(), uri);
    }
    for (p, a) in &attributes {
        out.push(' ');
        write_qname(out, p.as_deref(), &a.name);
        out.push_str("=\"");
        escape_attribute(out, &a.value);
        out.push('"');
    }
    out.push('>');
    for child in &element.children {
        match child {
            Node::Element(e) => write_element(out, e, scope),
            Node::Text(t) => escape_text(out, t),
        }
    }
    out.push_str("</");
    write_qname(out, prefix.as_deref(), &element.name);
    out.push('>');
    scope.bindings.truncate(mark);
}

/// Choose (and bind if needed) the prefix of an element; `None` means the default namespace.
fn element_prefix(
    element: &Element,
    scope: &mut Scope,
    mark: usize,
    used: &mut Vec<Option<String>>,
) -> Option<String> {
    let chosen = choose_element_prefix(element, scope, mark, used);
    used.push(chosen.clone());
    chosen
}

fn choose_element_prefix(
    element: &Element,
    scope: &mut Scope,
    mark: usize,
    used: &[Option<String>],
) -> Option<String> {
    let Some(ns) = element.namespace.as_deref() else {
        // No namespace: the default namespace must be empty here.
        if scope.lookup(None).is_some_and(|uri| !uri.is_empty()) {
            if scope.fixed_here(mark, None, used) {
                // The element itself declares a default it is not in; cannot be expressed.
                // Keep the declaration (caller's choice) and write the name as is.
                return None;
            }
            scope.bind(None, "");
        }
        return None;
    };
    if ns == XML {
        return Some("xml".to_owned());
    }
    match element.prefix.as_deref() {
        Some(p) if p != "xml" && p != "xmlns" && !p.is_empty() => {
            if scope.lookup(Some(p)) == Some(ns) {
                return Some(p.to_owned());
            }
            if !scope.fixed_here(mark, Some(p), used) {
                scope.bind(Some(p), ns);
                return Some(p.to_owned());
            }
        }
        Some(_) => {}
        None => {
            if scope.lookup(None) == Some(ns) {
                return None;
            }
            if !scope.fixed_here(mark, None, used) {
                scope.bind(None, ns);
                return None;
            }
        }
    }
    let fresh = scope.fresh_prefix();
    scope.bind(Some(&fresh), ns);
    Some(fresh)
}

/// Choose (and bind if needed) the prefix of a namespaced attribute.
fn attribute_prefix(
    attribute: &Attribute,
    scope: &mut Scope,
    mark: usize,
    used: &mut Vec<Option<String>>,
) -> Option<String> {
    let chosen = choose_attribute_prefix(attribute, scope, mark, used);
    if chosen.is_some() {
        used.push(chosen.clone());
    }
    chosen
}

fn choose_attribute_prefix(
    attribute: &Attribute,
    scope: &mut Scope,
    mark: usize,
    used: &[Option<String>],
) -> Option<String> {
    let ns = attribute.namespace.as_deref()?;
    if ns == XML {
        return Some("xml".to_owned());
    }
    if let Some(p) = attribute.prefix.as_deref()
        && p != "xml"
        && p != "xmlns"
        && !p.is_empty()
    {
        if scope.lookup(Some(p)) == Some(ns) {
            return Some(p.to_owned());
        }
        if !scope.fixed_here(mark, Some(p), used) {
            scope.bind(Some(p), ns);
            return Some(p.to_owned());
        }
    }
    if let Some(p) = scope.prefix_for(ns) {
        return Some(p);
    }
    let fresh = scope.fresh_prefix();
    scope.bind(Some(&fresh), ns);
    Some(fresh)
}

fn write_qname(out: &mut String, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

fn write_declaration(out: &mut String, prefix: Option<&str>, uri: &str) {
    match prefix {
        Some(p) => {
            out.push_str(" xmlns:");
            out.push_str(p);
        }
        None => out.push_str(" xmlns"),
    }
    out.push_str("=\"");
    escape_attribute(out, uri);
    out.push('"');
}

/// Escape character data: `&`, `<`, `>` and CR (which XML would otherwise turn into LF).
/// Characters XML 1.0 cannot carry at all become U+FFFD.
pub(crate) fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// Escape an attribute value for double quotes; tab, LF and CR as character references so
/// attribute-value normalisation keeps them.
pub(crate) fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// Whether XML 1.0 can carry `c`.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsman::envelope::{
        Envelope, Locale, MaxEnvelopeSize, OperationTimeout, OptionSet, Selector, WsmanOption,
    };
    use crate::wsman::names::{ACTION_GET, ACTION_GET_RESPONSE, AMT_SCHEMA, ENUMERATION};
    use crate::wsman::parse::Limits;

    #[test]
    fn response_matches_amt_shape() {
        let ns = format!("{AMT_SCHEMA}AMT_GeneralSettings");
        let body = Element::prefixed("g", ns.as_str(), "AMT_GeneralSettings")
            .with_property("AMTNetworkEnabled", "1")
            .with_property("DomainName", "");
        let header = ResponseHeader {
            action: ACTION_GET_RESPONSE.to_owned(),
            relates_to: Some("0".to_owned()),
            message_id: "uuid:00000000-8086-8086-8086-000000000001".to_owned(),
            resource_uri: Some(ns.clone()),
        };
        let xml = emit_response(&header, Some(&body));
        let expected = format!(
            "<a:Envelope xmlns:a=\"{SOAP_ENVELOPE}\" xmlns:b=\"{ADDRESSING}\" xmlns:c=\"{WSMAN}\" xmlns:g=\"{ns}\"><a:Header><b:To>{ANONYMOUS}</b:To><b:RelatesTo>0</b:RelatesTo><b:Action a:mustUnderstand=\"true\">{ACTION_GET_RESPONSE}</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID><c:ResourceURI>{ns}</c:ResourceURI></a:Header><a:Body><g:AMT_GeneralSettings><g:AMTNetworkEnabled>1</g:AMTNetworkEnabled><g:DomainName></g:DomainName></g:AMT_GeneralSettings></a:Body></a:Envelope>"
        );
        assert_eq!(xml, expected);
        let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.header.relates_to.as_deref(), Some("0"));
        assert_eq!(env.body.as_ref(), Some(&body));
    }

    #[test]
    fn request_matches_gwm_shape_and_round_trips() {
        let request = Request {
            header: Header {
                action: ACTION_GET.to_owned(),
                to: Some("/wsman".to_owned()),
                resource_uri: Some(format!("{AMT_SCHEMA}AMT_GeneralSettings")),
                message_id: Some("0".to_owned()),
                reply_to: Some(ANONYMOUS.to_owned()),
                operation_timeout: Some(OperationTimeout::parse("PT60S").unwrap()),
                ..Header::default()
            },
            body: None,
        };
        let xml = request.emit();
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>0</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body></Body></Envelope>"#
        );
        let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.header, request.header);
        assert_eq!(env.body, None);
    }

    #[test]
    fn full_request_round_trips() {
        let epr = Element::prefixed("a", ADDRESSING, "EndpointReference")
            .with_child(Element::prefixed("a", ADDRESSING, "Address").with_text(ANONYMOUS));
        let request = Request {
            header: Header {
                action: "urn:x/Do".to_owned(),
                to: None,
                resource_uri: Some("urn:x".to_owned()),
                message_id: Some("uuid:1".to_owned()),
                relates_to: Some("r".to_owned()),
                reply_to: None,
                selector_set: vec![
                    Selector {
                        name: "InstanceID".to_owned(),
                        value: SelectorValue::Text("Intel(r) AMT <&> \"x\"".to_owned()),
                    },
                    Selector {
                        name: "Ref".to_owned(),
                        value: SelectorValue::EndpointReference(epr),
                    },
                ],
                operation_timeout: Some(OperationTimeout::parse("PT1M30.5S").unwrap()),
                max_envelope_size: Some(MaxEnvelopeSize {
                    bytes: 51200,
                    must_understand: true,
                }),
                option_set: Some(OptionSet {
                    must_understand: true,
                    options: vec![WsmanOption {
                        name: "n\t\"".to_owned(),
                        value: " v\r\n ".to_owned(),
                    }],
                }),
                locale: Some(Locale {
                    lang: "de-DE".to_owned(),
                    must_understand: false,
                }),
                not_understood: Vec::new(),
            },
            body: Some(
                Element::new(ENUMERATION, "Enumerate")
                    .with_child(Element::unqualified("Plain").with_text("ü"))
                    .with_child(
                        Element::prefixed("q", "urn:q", "Q")
                            .with_ns_attribute("r", "urn:r", "attr", "1"),
                    ),
            ),
        };
        let xml = request.emit();
        assert!(!xml.contains("/>"), "{xml}");
        let env = Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.header, request.header);
        assert_eq!(env.body, request.body);
        assert!(xml.contains("<Enumerate xmlns=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><Plain xmlns=\"\">"), "{xml}");
    }

    #[test]
    fn writer_resolves_prefix_conflicts() {
        let e = Element::prefixed("p", "urn:1", "A")
            .with_ns_attribute("p", "urn:2", "x", "v")
            .with_child(Element::prefixed("p", "urn:3", "B"))
            .with_child(Element::new("urn:4", "C").with_child(Element::unqualified("D")));
        let xml = e.to_xml();
        let parsed = Element::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(parsed, e, "{xml}");
    }

    #[test]
    fn writer_never_rebinds_a_prefix_the_tag_already_uses() {
        let e = Element::prefixed("a", "urn:outer", "A").with_child(
            Element::prefixed("a", "urn:outer", "B")
                .with_ns_attribute("a", "urn:x", "v", "1")
                .with_ns_attribute("a", "urn:outer", "w", "2"),
        );
        let xml = e.to_xml();
        let parsed = Element::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(parsed, e, "{xml}");
    }

    #[test]
    fn escaping() {
        let e = Element::unqualified("a")
            .with_attribute("v", "<&>\"'\t\n\r")
            .with_text("<&>\"'\r\u{1}]]>");
        let xml = e.to_xml();
        assert_eq!(
            xml,
            "<a v=\"&lt;&amp;&gt;&quot;'&#9;&#10;&#13;\">&lt;&amp;&gt;\"'&#13;\u{fffd}]]&gt;</a>"
        );
    }
}
