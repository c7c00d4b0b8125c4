//! Bounded, namespace-resolving XML reader that turns bytes into an [`Element`] tree.
//!
//! It deliberately knows nothing about SOAP (see `envelope.rs`), accepts no DTD (so no entity
//! expansion of any kind), rejects processing instructions (SOAP 1.2 forbids them), and checks
//! every limit before it allocates for the thing being limited.

use std::collections::HashMap;

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::element::{Attribute, Element, NamespaceDecl, Node};
use super::error::{WsmanError, clip};
use super::names::XML;

/// Resource limits applied while parsing. Exceeding any of them is a typed error, never a panic
/// or an unbounded allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum input size in bytes, checked before anything else.
    pub max_bytes: usize,
    /// Maximum element nesting depth (the `Envelope` is depth 1).
    pub max_depth: usize,
    /// Maximum number of elements in the document.
    pub max_elements: usize,
    /// Maximum attributes on one element, namespace declarations included.
    pub max_attributes_per_element: usize,
    /// Maximum length in bytes of one text node (after merging text, references and CDATA) or
    /// one attribute value.
    pub max_text_len: usize,
}

impl Default for Limits {
    /// Limits for requests arriving at a device: 64 KiB (above the 51200-byte `MaxEnvelopeSize`
    /// clients ask for and far above any activation message), depth 32 (an EPR inside a method
    /// input is depth 8), 4096 elements, 32 attributes, 32 KiB of text (a 16 KiB DER certificate
    /// in base64 is 21.8 KiB).
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_depth: 32,
            max_elements: 4096,
            max_attributes_per_element: 32,
            max_text_len: 32 * 1024,
        }
    }
}

impl Limits {
    /// Limits for responses read by the provisioner: a `Pull` with `MaxCharacters` 99999 or an
    /// optimized enumeration of certificates easily exceeds the request limits, so allow 1 MiB,
    /// 64 levels, 65536 elements and 256 KiB of text per node.
    pub const fn for_responses() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_elements: 65_536,
            max_attributes_per_element: 64,
            max_text_len: 256 * 1024,
        }
    }
}

impl Element {
    /// Parse a complete XML document (UTF-8, optional XML declaration, no DTD) into its
    /// document element.
    ///
    /// Whitespace-only text between child elements is dropped; all other text is kept as is
    /// (line ends normalised as XML requires). CDATA sections are read as text.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Self, WsmanError> {
        parse_document(input, limits)
    }
}

/// Parse `input` into its document element; see [`Element::parse`].
pub(crate) fn parse_document(input: &[u8], limits: &Limits) -> Result<Element, WsmanError> {
    if input.len() > limits.max_bytes {
        return Err(WsmanError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| WsmanError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = TreeBuilder {
        reader: Reader::from_str(text),
        limits,
        stack: Vec::new(),
        scope: HashMap::new(),
        declared: Vec::new(),
        root: None,
        elements: 0,
        seen_markup: false,
    };
    let config = builder.reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_dangling_amp = false;
    config.allow_unmatched_ends = false;
    builder.run()
}

/// State of one parse.
///
/// Namespaces are resolved here rather than by quick-xml's `NsReader`, whose resolver binds the
/// raw (still escaped) attribute text: `xmlns:p="urn:a&amp;b"` must bind `urn:a&b`.
struct TreeBuilder<'i, 'l> {
    reader: Reader<&'i [u8]>,
    limits: &'l Limits,
    /// Open elements, outermost first.
    stack: Vec<Element>,
    /// In-scope namespace bindings per prefix, innermost last (`None` prefix = default
    /// namespace, empty URI = undeclared default). A map keeps lookups O(1) however many
    /// declarations are in scope.
    scope: HashMap<Option<String>, Vec<String>>,
    /// The prefixes each open element declared, to unbind them when it closes.
    declared: Vec<Vec<Option<String>>>,
    /// The finished document element.
    root: Option<Element>,
    /// Elements seen so far.
    elements: usize,
    /// Whether anything but whitespace was seen (an XML declaration must come first).
    seen_markup: bool,
}

impl TreeBuilder<'_, '_> {
    fn run(mut self) -> Result<Element, WsmanError> {
        loop {
            let offset = self.position();
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(&e)),
            };
            match event {
                Event::Decl(decl) => {
                    if self.seen_markup {
                        return Err(WsmanError::Malformed {
                            offset,
                            detail: "xml declaration not at the start".to_owned(),
                        });
                    }
                    if let Some(Ok(encoding)) = decl.encoding() {
                        let lower = encoding.to_ascii_lowercase();
                        if !matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                            return Err(WsmanError::UnsupportedEncoding {
                                encoding: clip(&encoding),
                            });
                        }
                    }
                    self.seen_markup = true;
                }
                Event::DocType(_) => return Err(WsmanError::Doctype { offset }),
                Event::PI(_) => return Err(WsmanError::ProcessingInstruction { offset }),
                Event::Comment(_) => self.seen_markup = true,
                Event::Start(start) => {
                    let element = self.open(&start, offset)?;
                    self.stack.push(element);
                }
                Event::Empty(start) => {
                    let element = self.open(&start, offset)?;
                    self.close(element);
                }
                Event::End(_) => {
                    // check_end_names guarantees the end tag matches the innermost open element.
                    match self.stack.pop() {
                        Some(element) => self.close(element),
                        None => {
                            return Err(WsmanError::Malformed {
                                offset,
                                detail: "unmatched end tag".to_owned(),
                            });
                        }
                    }
                }
                Event::Text(text) => {
                    let content = text.xml_content(XmlVersion::Implicit1_0);
                    self.text(&content, offset)?;
                }
                Event::CData(cdata) => {
                    let content = cdata.xml_content(XmlVersion::Implicit1_0);
                    if self.stack.is_empty() {
                        return Err(self.outside_root(offset));
                    }
                    self.text(&content, offset)?;
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => match predefined_entity(&reference) {
                            Some(c) => c,
                            None => {
                                return Err(WsmanError::UnknownEntity {
                                    name: clip(&reference),
                                    offset,
                                });
                            }
                        },
                        Err(_) => {
                            return Err(WsmanError::InvalidCharRef {
                                reference: clip(&reference),
                                offset,
                            });
                        }
                    };
                    if self.stack.is_empty() {
                        return Err(self.outside_root(offset));
                    }
                    let mut buf = [0u8; 4];
                    self.text(resolved.encode_utf8(&mut buf), offset)?;
                }
                Event::Eof => return self.finish(offset),
            }
        }
    }

    /// Current byte offset into the input.
    fn position(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    /// Turn a start tag into an element (namespaces resolved), checking depth, count and
    /// attribute limits; pushes the element's namespace bindings.
    fn open(&mut self, start: &BytesStart<'_>, offset: usize) -> Result<Element, WsmanError> {
        self.seen_markup = true;
        if self.root.is_some() {
            return Err(WsmanError::TrailingContent { offset });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(WsmanError::TooDeep {
                limit: self.limits.max_depth,
                offset,
            });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(WsmanError::TooManyElements {
                limit: self.limits.max_elements,
                offset,
            });
        }
        let qname = start.name();
        let (local, prefix) = qname.decompose();
        let mut element = Element {
            name: local.as_ref().to_owned(),
            prefix: prefix.map(|p| p.as_ref().to_owned()),
            ..Element::default()
        };
        // First pass: collect declarations and (still unresolved) attributes.
        let mut raw_attributes: Vec<(Option<String>, String, String)> = Vec::new();
        let mut count = 0usize;
        for attribute in start.attributes() {
            count += 1;
            if count > self.limits.max_attributes_per_element {
                return Err(WsmanError::TooManyAttributes {
                    element: clip(qname.as_ref()),
                    limit: self.limits.max_attributes_per_element,
                    offset,
                });
            }
            let attribute = attribute.map_err(|e| WsmanError::Malformed {
                offset,
                detail: clip(&e.to_string()),
            })?;
            if attribute.value.len() > self.limits.max_text_len {
                return Err(WsmanError::TextTooLong {
                    limit: self.limits.max_text_len,
                    offset,
                });
            }
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.xml_error_at(&e, offset))?
                .into_owned();
            let key = attribute.key;
            let (attr_local, attr_prefix) = key.decompose();
            match (attr_prefix.as_ref().map(AsRef::as_ref), attr_local.as_ref()) {
                (None, "xmlns") => element.declarations.push(NamespaceDecl {
                    prefix: None,
                    uri: value,
                }),
                (Some("xmlns"), declared) => {
                    let bad = match declared {
                        "xmlns" => true,
                        "xml" => value != XML,
                        _ => value.is_empty() || value == XML,
                    };
                    if bad {
                        return Err(WsmanError::Malformed {
                            offset,
                            detail: clip(&format!("invalid declaration of prefix `{declared}`")),
                        });
                    }
                    element.declarations.push(NamespaceDecl {
                        prefix: Some(declared.to_owned()),
                        uri: value,
                    });
                }
                (prefix, name) => {
                    raw_attributes.push((prefix.map(str::to_owned), name.to_owned(), value));
                }
            }
        }
        let mut declared = Vec::new();
        for d in &element.declarations {
            if d.prefix.as_deref() != Some("xml") {
                self.scope
                    .entry(d.prefix.clone())
                    .or_default()
                    .push(d.uri.clone());
                declared.push(d.prefix.clone());
            }
        }
        self.declared.push(declared);
        element.namespace = match element.prefix.as_deref() {
            None => self.lookup(None).map(str::to_owned),
            Some(p) => Some(self.lookup(Some(p)).map(str::to_owned).ok_or_else(|| {
                WsmanError::UnknownPrefix {
                    prefix: clip(p),
                    offset,
                }
            })?),
        };
        for (prefix, name, value) in raw_attributes {
            let namespace = match prefix.as_deref() {
                None => None,
                Some(p) => Some(self.lookup(Some(p)).map(str::to_owned).ok_or_else(|| {
                    WsmanError::UnknownPrefix {
                        prefix: clip(p),
                        offset,
                    }
                })?),
            };
            if element
                .attributes
                .iter()
                .any(|a| a.name == name && a.namespace == namespace)
            {
                return Err(WsmanError::Malformed {
                    offset,
                    detail: clip(&format!("duplicate attribute `{name}`")),
                });
            }
            element.attributes.push(Attribute {
                namespace,
                name,
                prefix,
                value,
            });
        }
        Ok(element)
    }

    /// The namespace bound to `prefix` (`None` = default); `None` if unbound or undeclared.
    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML);
        }
        self.scope
            .get(&prefix.map(str::to_owned))
            .and_then(|uris| uris.last())
            .map(String::as_str)
            .filter(|uri| !uri.is_empty())
    }

    /// Finish an element: drop whitespace between child elements and attach it.
    fn close(&mut self, mut element: Element) {
        for prefix in self.declared.pop().unwrap_or_default() {
            if let Some(uris) = self.scope.get_mut(&prefix) {
                uris.pop();
            }
        }
        if element
            .children
            .iter()
            .any(|n| matches!(n, Node::Element(_)))
        {
            element.children.retain(|n| match n {
                Node::Text(t) => !t.chars().all(is_xml_whitespace),
                Node::Element(_) => true,
            });
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }

    /// Append character data to the innermost open element, or check that text outside the
    /// document element is whitespace.
    fn text(&mut self, content: &str, offset: usize) -> Result<(), WsmanError> {
        let Some(current) = self.stack.last_mut() else {
            if content.chars().all(is_xml_whitespace) {
                return Ok(());
            }
            return Err(self.outside_root(offset));
        };
        let existing = match current.children.last() {
            Some(Node::Text(t)) => t.len(),
            _ => 0,
        };
        if existing.saturating_add(content.len()) > self.limits.max_text_len {
            return Err(WsmanError::TextTooLong {
                limit: self.limits.max_text_len,
                offset,
            });
        }
        current.push_text(content);
        Ok(())
    }

    /// The error for character data outside the document element.
    fn outside_root(&self, offset: usize) -> WsmanError {
        if self.root.is_some() {
            WsmanError::TrailingContent { offset }
        } else {
            WsmanError::Malformed {
                offset,
                detail: "text before the document element".to_owned(),
            }
        }
    }

    /// End of input: the document element must be complete.
    fn finish(mut self, offset: usize) -> Result<Element, WsmanError> {
        if let Some(open) = self.stack.last() {
            let element = match &open.prefix {
                Some(prefix) => format!("{prefix}:{}", open.name),
                None => open.name.clone(),
            };
            return Err(WsmanError::Truncated {
                element: clip(&element),
                offset,
            });
        }
        self.root.take().ok_or(WsmanError::NoRootElement { offset })
    }

    /// Map a quick-xml error at the reader's error position.
    fn xml_error(&self, error: &XmlError) -> WsmanError {
        let offset = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX);
        self.xml_error_at(error, offset)
    }

    /// Map a quick-xml error to a typed error at `offset`.
    fn xml_error_at(&self, error: &XmlError, offset: usize) -> WsmanError {
        let innermost = || {
            self.stack
                .last()
                .map_or_else(|| "document".to_owned(), |e| clip(&e.name))
        };
        match error {
            XmlError::Syntax(
                SyntaxError::UnclosedTag
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue,
            ) => WsmanError::Truncated {
                element: innermost(),
                offset,
            },
            XmlError::Syntax(SyntaxError::UnclosedDoctype) => WsmanError::Doctype { offset },
            XmlError::IllFormed(IllFormedError::MissingEndTag(name)) => WsmanError::Truncated {
                element: clip(name),
                offset,
            },
            XmlError::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                WsmanError::UnknownEntity {
                    name: clip(name),
                    offset,
                }
            }
            XmlError::Escape(EscapeError::InvalidCharRef(e)) => WsmanError::InvalidCharRef {
                reference: clip(&e.to_string()),
                offset,
            },
            other => WsmanError::Malformed {
                offset,
                detail: clip(&other.to_string()),
            },
        }
    }
}

/// The five entities XML predefines.
fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// XML's whitespace characters (space, tab, CR, LF).
pub(crate) fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Element, WsmanError> {
        Element::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_default_and_prefixed_namespaces() {
        let e = parse(r#"<a xmlns="urn:d" xmlns:p="urn:p"><p:b p:x="1" y="2">t</p:b><c/></a>"#)
            .unwrap();
        assert!(e.is("urn:d", "a"));
        let b = e.child("urn:p", "b").unwrap();
        assert_eq!(b.prefix.as_deref(), Some("p"));
        assert_eq!(b.attribute(Some("urn:p"), "x"), Some("1"));
        assert_eq!(b.attribute(None, "y"), Some("2"));
        assert_eq!(b.text(), "t");
        assert!(e.child("urn:d", "c").is_some());
        assert_eq!(e.declarations.len(), 2);
    }

    #[test]
    fn namespace_uris_are_unescaped_and_scoped() {
        let e = parse(r#"<p:a xmlns:p="urn:a&amp;b"><b xmlns="urn:&lt;d&gt;"><c xmlns=""></c></b><p:e xmlns:p="urn:x"/></p:a>"#).unwrap();
        assert_eq!(e.namespace.as_deref(), Some("urn:a&b"));
        let b = e.first_element().unwrap();
        assert_eq!(b.namespace.as_deref(), Some("urn:<d>"));
        assert_eq!(b.first_element().unwrap().namespace, None);
        assert!(e.child("urn:x", "e").is_some());
        for bad in [
            r#"<a xmlns:p=""/>"#,
            r#"<a xmlns:xmlns="urn:x"/>"#,
            r#"<a xmlns:xml="urn:x"/>"#,
            r#"<a xmlns:p="urn:x" xmlns:q="urn:x" p:v="1" q:v="2"/>"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().id(), "wsman/malformed", "{bad}");
        }
        assert!(
            parse(r#"<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>"#).is_ok()
        );
        assert_eq!(
            parse("<a><p:b xmlns:p='urn:p'/><p:c/></a>")
                .unwrap_err()
                .id(),
            "wsman/unknown-prefix"
        );
    }

    #[test]
    fn text_references_and_cdata_merge() {
        let e = parse("<a>x&lt;&#65;&#x42;<![CDATA[<&>]]>&amp;y</a>").unwrap();
        assert_eq!(e.children, vec![Node::Text("x<AB<&>&y".to_owned())]);
    }

    #[test]
    fn whitespace_between_elements_is_dropped_but_leaf_whitespace_kept() {
        let e = parse("<a>\n  <b> </b>\n  <c></c>\n</a>").unwrap();
        assert_eq!(e.children.len(), 2);
        assert_eq!(e.first_element().unwrap().text(), " ");
    }

    #[test]
    fn attribute_char_refs_survive_normalisation() {
        let e = parse("<a v=\"x&#10;y\tz\"></a>").unwrap();
        assert_eq!(e.attribute(None, "v"), Some("x\ny z"));
    }

    #[test]
    fn errors_are_typed() {
        let cases: &[(&str, &str)] = &[
            ("<!DOCTYPE a><a/>", "wsman/doctype"),
            ("<a>&foo;</a>", "wsman/unknown-entity"),
            ("<a>&#0;</a>", "wsman/invalid-char-ref"),
            ("<a><b></a>", "wsman/malformed"),
            ("<a><b>", "wsman/truncated"),
            ("<a><b", "wsman/truncated"),
            ("<a/><b/>", "wsman/trailing-content"),
            ("<a/>junk", "wsman/trailing-content"),
            ("", "wsman/no-root-element"),
            ("  ", "wsman/no-root-element"),
            ("<p:a/>", "wsman/unknown-prefix"),
            ("<a q:x='1'/>", "wsman/unknown-prefix"),
            ("<?pi x?><a/>", "wsman/processing-instruction"),
            ("<a/><!-- ok -->", ""),
            (
                "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
                "wsman/unsupported-encoding",
            ),
            ("<a></a>\n", ""),
            ("\u{feff}<?xml version='1.0'?><a/>", ""),
        ];
        for (input, id) in cases {
            match parse(input) {
                Ok(_) => assert!(id.is_empty(), "{input:?} parsed, expected {id}"),
                Err(e) => assert_eq!(e.id(), *id, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn non_utf8_reports_offset() {
        let err = Element::parse(b"<a>\xff</a>", &Limits::default()).unwrap_err();
        assert_eq!(err, WsmanError::NotUtf8 { offset: 3 });
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bytes: 100,
            max_depth: 3,
            max_elements: 4,
            max_attributes_per_element: 2,
            max_text_len: 5,
        };
        let p = |s: &str| Element::parse(s.as_bytes(), &limits).unwrap_err().id();
        assert_eq!(p(&"x".repeat(101)), "wsman/too-large");
        assert_eq!(p("<a><b><c><d/></c></b></a>"), "wsman/too-deep");
        assert_eq!(p("<a><b/><b/><b/><b/></a>"), "wsman/too-many-elements");
        assert_eq!(p("<a x='1' y='2' z='3'/>"), "wsman/too-many-attributes");
        assert_eq!(p("<a>123456</a>"), "wsman/text-too-long");
        assert_eq!(p("<a>123&amp;56</a>"), "wsman/text-too-long");
        assert_eq!(p("<a x='123456'/>"), "wsman/text-too-long");
        assert!(Element::parse(b"<a><b><c/></b></a>", &limits).is_ok());
    }
}
