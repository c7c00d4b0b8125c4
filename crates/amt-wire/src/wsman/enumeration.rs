//! WS-Enumeration bodies: reading `Enumerate`/`Pull`/`Release` requests and building
//! `EnumerateResponse`/`PullResponse` in AMT's shape (`g:` = enumeration namespace).
//!
//! It deliberately keeps no enumeration state, paging or context numbering: that is the device's
//! job. Filters are carried as opaque elements.

use super::element::Element;
use super::error::WsmanError;
use super::names::{
    ENUMERATION, ENUMERATION_MODE_EPR, ENUMERATION_MODE_OBJECT_AND_EPR, PREFIX_CLASS, PREFIX_WSMAN,
    WSMAN,
};

/// What an enumeration returns per item (`wsman:EnumerationMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnumerationMode {
    /// Objects (no `EnumerationMode`).
    #[default]
    Objects,
    /// Endpoint references only (`EnumerateEPR`).
    Epr,
    /// Objects with their endpoint references (`EnumerateObjectAndEPR`).
    ObjectAndEpr,
}

/// A `wsen:Enumerate` request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumerateRequest {
    /// `wsman:OptimizeEnumeration` present: return the first items in the response.
    pub optimize: bool,
    /// `wsman:MaxElements` (only meaningful with `optimize`).
    pub max_elements: Option<u32>,
    /// `wsman:EnumerationMode`.
    pub mode: EnumerationMode,
    /// `wsman:Filter` or `wsen:Filter`, kept as is.
    pub filter: Option<Element>,
}

/// A `wsen:Pull` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// `wsen:EnumerationContext` (trimmed).
    pub context: String,
    /// `wsen:MaxElements`.
    pub max_elements: Option<u32>,
    /// `wsen:MaxCharacters`.
    pub max_characters: Option<u32>,
}

impl EnumerateRequest {
    /// Read an `Enumerate` body. A missing body is read as a plain enumeration (some clients
    /// send `<Enumerate/>` and nothing else matters).
    pub fn from_body(body: Option<&Element>) -> Result<Self, WsmanError> {
        let Some(body) = body else {
            return Ok(Self::default());
        };
        expect(body, "Enumerate")?;
        let mode = match body.child_text(WSMAN, "EnumerationMode") {
            None => EnumerationMode::Objects,
            Some(text) => match trim(&text) {
                ENUMERATION_MODE_EPR => EnumerationMode::Epr,
                ENUMERATION_MODE_OBJECT_AND_EPR => EnumerationMode::ObjectAndEpr,
                _ => {
                    return Err(WsmanError::InvalidBody {
                        part: "EnumerationMode",
                        reason: "unknown enumeration mode",
                    });
                }
            },
        };
        Ok(Self {
            optimize: body.child(WSMAN, "OptimizeEnumeration").is_some(),
            max_elements: number(body, WSMAN, "MaxElements")?,
            mode,
            filter: body
                .child(WSMAN, "Filter")
                .or_else(|| body.child(ENUMERATION, "Filter"))
                .cloned(),
        })
    }

    /// Build the body as GWM does (`<Enumerate xmlns="…enumeration">`, WS-Man children `w:`).
    pub fn to_body(&self) -> Element {
        let mut body = Element::new(ENUMERATION, "Enumerate");
        if self.optimize {
            body = body.with_child(Element::prefixed("w", WSMAN, "OptimizeEnumeration"));
        }
        if let Some(max) = self.max_elements {
            body = body.with_child(
                Element::prefixed("w", WSMAN, "MaxElements").with_text(max.to_string()),
            );
        }
        let mode = match self.mode {
            EnumerationMode::Objects => None,
            EnumerationMode::Epr => Some(ENUMERATION_MODE_EPR),
            EnumerationMode::ObjectAndEpr => Some(ENUMERATION_MODE_OBJECT_AND_EPR),
        };
        if let Some(mode) = mode {
            body =
                body.with_child(Element::prefixed("w", WSMAN, "EnumerationMode").with_text(mode));
        }
        if let Some(filter) = &self.filter {
            body = body.with_child(filter.clone());
        }
        body
    }
}

impl PullRequest {
    /// Read a `Pull` body; the enumeration context is required.
    pub fn from_body(body: Option<&Element>) -> Result<Self, WsmanError> {
        let body = body.ok_or(WsmanError::InvalidBody {
            part: "Pull",
            reason: "missing",
        })?;
        expect(body, "Pull")?;
        Ok(Self {
            context: context(body)?,
            max_elements: number(body, ENUMERATION, "MaxElements")?,
            max_characters: number(body, ENUMERATION, "MaxCharacters")?,
        })
    }

    /// Build the body as GWM does (default enumeration namespace).
    pub fn to_body(&self) -> Element {
        let child = |name: &str, text: String| Element::new(ENUMERATION, name).with_text(text);
        let mut body = Element::new(ENUMERATION, "Pull")
            .with_child(child("EnumerationContext", self.context.clone()));
        if let Some(max) = self.max_elements {
            body = body.with_child(child("MaxElements", max.to_string()));
        }
        if let Some(max) = self.max_characters {
            body = body.with_child(child("MaxCharacters", max.to_string()));
        }
        body
    }
}

/// Read the enumeration context of a `Release` body.
pub fn release_context(body: Option<&Element>) -> Result<String, WsmanError> {
    let body = body.ok_or(WsmanError::InvalidBody {
        part: "Release",
        reason: "missing",
    })?;
    expect(body, "Release")?;
    context(body)
}

/// Build a `Release` body for `context`.
pub fn release_body(context: &str) -> Element {
    Element::new(ENUMERATION, "Release")
        .with_child(Element::new(ENUMERATION, "EnumerationContext").with_text(context))
}

/// Build `<g:EnumerateResponse><g:EnumerationContext>…</g:EnumerationContext></g:EnumerateResponse>`;
/// with `optimized = Some((items, end))` also `<c:Items>…</c:Items>` and, when `end`,
/// `<c:EndOfSequence></c:EndOfSequence>`.
pub fn enumerate_response(context: &str, optimized: Option<(Vec<Element>, bool)>) -> Element {
    let g = |name: &str| Element::prefixed(PREFIX_CLASS, ENUMERATION, name);
    let mut response =
        g("EnumerateResponse").with_child(g("EnumerationContext").with_text(context));
    if let Some((items, end)) = optimized {
        let mut list = Element::prefixed(PREFIX_WSMAN, WSMAN, "Items");
        list.children
            .extend(items.into_iter().map(super::element::Node::Element));
        response = response.with_child(list);
        if end {
            response = response.with_child(Element::prefixed(PREFIX_WSMAN, WSMAN, "EndOfSequence"));
        }
    }
    response
}

/// Build the `EnumerateResponse` of an optimized enumeration (DSP0226 1.1 §8.2.3,
/// `wsman:OptimizeEnumeration`): the first items in `wsman:Items`, then either the context of
/// the rest (`next_context = Some`, no `EndOfSequence`) or, when every item fitted,
/// `wsman:EndOfSequence` and **no** context. After `EndOfSequence` the enumeration is over
/// (§8.2.3; WS-Enumeration §3.2: the data source invalidates the context at the end of the
/// sequence), so no context is handed out: a client that pulls whenever it sees one
/// (MeshCentral's stack, `reference/real-clients.md` §2) would otherwise be answered
/// `wsen:InvalidEnumerationContext`. This is the same rule as the last [`pull_response`].
pub fn optimized_enumerate_response(items: Vec<Element>, next_context: Option<&str>) -> Element {
    let g = |name: &str| Element::prefixed(PREFIX_CLASS, ENUMERATION, name);
    let mut response = g("EnumerateResponse");
    if let Some(ctx) = next_context {
        response = response.with_child(g("EnumerationContext").with_text(ctx));
    }
    let mut list = Element::prefixed(PREFIX_WSMAN, WSMAN, "Items");
    list.children
        .extend(items.into_iter().map(super::element::Node::Element));
    response = response.with_child(list);
    if next_context.is_none() {
        response = response.with_child(Element::prefixed(PREFIX_WSMAN, WSMAN, "EndOfSequence"));
    }
    response
}

/// Build a `PullResponse`. With `next_context = Some(ctx)` more items follow: the response
/// carries `g:EnumerationContext` and no `EndOfSequence`. With `None` this is the last page:
/// `g:EndOfSequence` and **no** context (MeshCentral pulls again whenever it sees a context).
pub fn pull_response(items: Vec<Element>, next_context: Option<&str>) -> Element {
    let g = |name: &str| Element::prefixed(PREFIX_CLASS, ENUMERATION, name);
    let mut response = g("PullResponse");
    if let Some(ctx) = next_context {
        response = response.with_child(g("EnumerationContext").with_text(ctx));
    }
    let mut list = g("Items");
    list.children
        .extend(items.into_iter().map(super::element::Node::Element));
    response = response.with_child(list);
    if next_context.is_none() {
        response = response.with_child(g("EndOfSequence"));
    }
    response
}

/// Check the body element is `wsen:<local>`.
fn expect(body: &Element, local: &'static str) -> Result<(), WsmanError> {
    if body.is(ENUMERATION, local) {
        Ok(())
    } else {
        Err(WsmanError::InvalidBody {
            part: local,
            reason: "body is another element",
        })
    }
}

/// The required `wsen:EnumerationContext`.
fn context(body: &Element) -> Result<String, WsmanError> {
    let text =
        body.child_text(ENUMERATION, "EnumerationContext")
            .ok_or(WsmanError::InvalidBody {
                part: "EnumerationContext",
                reason: "missing",
            })?;
    Ok(trim(&text).to_owned())
}

/// An optional unsigned number child.
fn number(body: &Element, ns: &str, local: &'static str) -> Result<Option<u32>, WsmanError> {
    body.child_text(ns, local)
        .map(|text| {
            trim(&text)
                .parse::<u32>()
                .map_err(|_| WsmanError::InvalidBody {
                    part: local,
                    reason: "not an unsigned 32-bit integer",
                })
        })
        .transpose()
}

fn trim(s: &str) -> &str {
    s.trim_matches(super::parse::is_xml_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsman::parse::Limits;

    #[test]
    fn enumerate_round_trips_and_reads_meshcentral_body() {
        let req = EnumerateRequest {
            optimize: true,
            max_elements: Some(32000),
            mode: EnumerationMode::Epr,
            filter: None,
        };
        let xml = req.to_body().to_xml();
        let parsed = Element::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(EnumerateRequest::from_body(Some(&parsed)).unwrap(), req);
        assert_eq!(
            EnumerateRequest::from_body(None).unwrap(),
            EnumerateRequest::default()
        );
        let plain = Element::parse(
            br#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            EnumerateRequest::from_body(Some(&plain)).unwrap(),
            EnumerateRequest::default()
        );
    }

    #[test]
    fn optimized_enumerate_response_ends_without_a_context() {
        let item = || Element::new("urn:c", "C").with_text("x");
        let complete = optimized_enumerate_response(vec![item()], None).to_xml();
        assert!(complete.contains("EndOfSequence"), "{complete}");
        assert!(!complete.contains("EnumerationContext"), "{complete}");
        assert!(!complete.contains("/>"), "{complete}");
        let partial = optimized_enumerate_response(vec![item()], Some("02000000")).to_xml();
        assert!(partial.contains("<g:EnumerationContext>02000000</g:EnumerationContext>"));
        assert!(!partial.contains("EndOfSequence"), "{partial}");
    }

    #[test]
    fn pull_round_trips() {
        let req = PullRequest {
            context: "14000000-0000-0000-0000-000000000000".to_owned(),
            max_elements: Some(999),
            max_characters: Some(99999),
        };
        let body = req.to_body();
        assert_eq!(
            body.to_xml(),
            "<Pull xmlns=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><EnumerationContext>14000000-0000-0000-0000-000000000000</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"
        );
        assert_eq!(PullRequest::from_body(Some(&body)).unwrap(), req);
        assert_eq!(release_context(Some(&release_body("c"))).unwrap(), "c");
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        let other = Element::new(ENUMERATION, "Enumerate");
        assert_eq!(
            PullRequest::from_body(Some(&other)).unwrap_err().id(),
            "wsman/invalid-body"
        );
        assert_eq!(
            PullRequest::from_body(None).unwrap_err().id(),
            "wsman/invalid-body"
        );
        let pull = Element::new(ENUMERATION, "Pull");
        assert_eq!(
            PullRequest::from_body(Some(&pull)).unwrap_err().id(),
            "wsman/invalid-body"
        );
        let bad = Element::new(ENUMERATION, "Enumerate")
            .with_child(Element::new(WSMAN, "MaxElements").with_text("many"));
        assert!(EnumerateRequest::from_body(Some(&bad)).is_err());
        let bad = Element::new(ENUMERATION, "Enumerate")
            .with_child(Element::new(WSMAN, "EnumerationMode").with_text("All"));
        assert!(EnumerateRequest::from_body(Some(&bad)).is_err());
    }

    #[test]
    fn responses_have_amt_shape() {
        let item = Element::prefixed("h", "urn:class", "AMT_X").with_property("A", "1");
        assert_eq!(
            enumerate_response("01000000-0000-0000-0000-000000000000", None).to_xml(),
            "<g:EnumerateResponse xmlns:g=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><g:EnumerationContext>01000000-0000-0000-0000-000000000000</g:EnumerationContext></g:EnumerateResponse>"
        );
        let last = pull_response(vec![item.clone()], None).to_xml();
        assert!(!last.contains("EnumerationContext"), "{last}");
        assert!(
            last.ends_with("</g:Items><g:EndOfSequence></g:EndOfSequence></g:PullResponse>"),
            "{last}"
        );
        let more = pull_response(vec![item.clone()], Some("ctx")).to_xml();
        assert!(
            more.contains("<g:EnumerationContext>ctx</g:EnumerationContext>"),
            "{more}"
        );
        assert!(!more.contains("EndOfSequence"), "{more}");
        let optimized = enumerate_response("c", Some((vec![item], true))).to_xml();
        assert!(
            optimized.ends_with("</c:EndOfSequence></g:EnumerateResponse>"),
            "{optimized}"
        );
    }
}
