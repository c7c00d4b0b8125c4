//! The engine's object model: CIM instances with typed property values, endpoint references,
//! selector matching, method outputs, and readers for request bodies (Put representations and
//! method inputs, any prefix or namespace).
//!
//! Emission follows AMT: properties in alphabetical order, arrays as repeated elements, EPRs as
//! `Address` + `ReferenceParameters/ResourceURI` + `SelectorSet/Selector`. It deliberately knows
//! nothing about individual classes.

use amt_wire::wsman::fault::{DETAIL_INVALID_VALUE, DETAIL_MISSING_VALUES};
use amt_wire::wsman::names::{ADDRESSING, ANONYMOUS, PREFIX_ADDRESSING, PREFIX_WSMAN, WSMAN};
use amt_wire::wsman::{Element, Fault, Selector, SelectorValue};

use super::{Note, RequestContext};
use crate::state::NvramState;

/// Namespace of CIM common types (`Datetime`).
const CIM_COMMON: &str = "http://schemas.dmtf.org/wbem/wscim/1/common";

/// A property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// Scalar text.
    Text(String),
    /// An array: one element per entry (none for an empty array).
    List(Vec<String>),
    /// An endpoint reference.
    Epr(Epr),
    /// A CIM datetime (`<p:Name><x:Datetime>…</x:Datetime></p:Name>`).
    Datetime(String),
}

/// A selector value inside an EPR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SelectorText {
    /// Plain text.
    Text(String),
    /// A nested EPR (association keys).
    Epr(Box<Epr>),
}

/// An endpoint reference to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Epr {
    /// The resource URI of the class.
    pub(crate) resource_uri: String,
    /// The key selectors.
    pub(crate) selectors: Vec<(String, SelectorText)>,
}

impl Epr {
    /// An EPR with text selectors.
    pub(crate) fn new(resource_uri: impl Into<String>, selectors: &[(&str, &str)]) -> Self {
        Self {
            resource_uri: resource_uri.into(),
            selectors: selectors
                .iter()
                .map(|(n, v)| ((*n).to_owned(), SelectorText::Text((*v).to_owned())))
                .collect(),
        }
    }

    /// The value of a text selector.
    pub(crate) fn selector(&self, name: &str) -> Option<&str> {
        self.selectors.iter().find_map(|(n, v)| match v {
            SelectorText::Text(t) if n.eq_ignore_ascii_case(name) => Some(t.as_str()),
            _ => None,
        })
    }

    /// The children of an EPR element (`Address`, `ReferenceParameters`).
    pub(crate) fn children(&self) -> Vec<Element> {
        let b = |name: &str| Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, name);
        let c = |name: &str| Element::prefixed(PREFIX_WSMAN, WSMAN, name);
        let mut set = c("SelectorSet");
        for (name, value) in &self.selectors {
            let selector = c("Selector").with_attribute("Name", name.as_str());
            set = set.with_child(match value {
                SelectorText::Text(text) => selector.with_text(text.as_str()),
                SelectorText::Epr(epr) => selector.with_child(epr.to_element("EndpointReference")),
            });
        }
        vec![
            b("Address").with_text(ANONYMOUS),
            b("ReferenceParameters")
                .with_child(c("ResourceURI").with_text(self.resource_uri.as_str()))
                .with_child(set),
        ]
    }

    /// This EPR as a `b:<name>` element.
    pub(crate) fn to_element(&self, name: &str) -> Element {
        let mut e = Element::prefixed(PREFIX_ADDRESSING, ADDRESSING, name);
        for child in self.children() {
            e = e.with_child(child);
        }
        e
    }

    /// Read an EPR from an element holding `Address`/`ReferenceParameters` (any namespaces;
    /// some clients omit `ReferenceParameters` and put `ResourceURI`/`SelectorSet` directly).
    pub(crate) fn read(element: &Element) -> Option<Self> {
        let element = element
            .child_by_local_name("EndpointReference")
            .unwrap_or(element);
        let params = element
            .child_by_local_name("ReferenceParameters")
            .unwrap_or(element);
        let resource_uri = params
            .child_by_local_name("ResourceURI")
            .map(|e| e.text().trim().to_owned())
            .unwrap_or_default();
        let mut selectors = Vec::new();
        if let Some(set) = params.child_by_local_name("SelectorSet") {
            for s in set.elements().filter(|e| e.name == "Selector") {
                let name = s
                    .attributes
                    .iter()
                    .find(|a| a.name == "Name")
                    .map(|a| a.value.clone())
                    .unwrap_or_default();
                let value = match s.child_by_local_name("EndpointReference") {
                    Some(inner) => SelectorText::Epr(Box::new(Self::read(inner)?)),
                    None => SelectorText::Text(s.text().trim().to_owned()),
                };
                selectors.push((name, value));
            }
        }
        if resource_uri.is_empty() && selectors.is_empty() {
            return None;
        }
        Some(Self {
            resource_uri,
            selectors,
        })
    }

    /// Whether `other` (from a request) names this EPR: same class (if given) and every
    /// selector of `other` matches one of ours.
    pub(crate) fn matches(&self, other: &Self) -> bool {
        let class_ok = other.resource_uri.is_empty()
            || class_name(&other.resource_uri) == class_name(&self.resource_uri);
        class_ok
            && other.selectors.iter().all(|(name, value)| {
                self.selectors.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case(name)
                        && match (v, value) {
                            (SelectorText::Text(a), SelectorText::Text(b)) => a == b,
                            (SelectorText::Epr(a), SelectorText::Epr(b)) => a.matches(b),
                            _ => false,
                        }
                })
            })
    }
}

/// The class name at the end of a resource URI.
pub(crate) fn class_name(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// A CIM instance as the engine builds it for a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// Class name.
    pub(crate) class: String,
    /// Resource URI (namespace of the properties).
    pub(crate) uri: String,
    /// Properties (sorted on emission).
    pub(crate) props: Vec<(String, Value)>,
    /// Names of the key properties (selectors).
    pub(crate) keys: Vec<String>,
}

impl Instance {
    /// An empty instance of `class` under the resource URI base `base`.
    pub(crate) fn new(base: &str, class: &str) -> Self {
        Self {
            class: class.to_owned(),
            uri: format!("{base}{class}"),
            props: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// Builder: a text property.
    pub(crate) fn p(mut self, name: &str, value: impl ToString) -> Self {
        self.props
            .push((name.to_owned(), Value::Text(value.to_string())));
        self
    }

    /// Builder: a boolean property (`true`/`false`).
    pub(crate) fn b(self, name: &str, value: bool) -> Self {
        self.p(name, if value { "true" } else { "false" })
    }

    /// Builder: an optional text property (absent when `None`).
    pub(crate) fn opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.p(name, v),
            None => self,
        }
    }

    /// Builder: an array property.
    pub(crate) fn list<T: ToString>(mut self, name: &str, values: &[T]) -> Self {
        self.props.push((
            name.to_owned(),
            Value::List(values.iter().map(ToString::to_string).collect()),
        ));
        self
    }

    /// Builder: an EPR property.
    pub(crate) fn with_epr(mut self, name: &str, epr: Epr) -> Self {
        self.props.push((name.to_owned(), Value::Epr(epr)));
        self
    }

    /// Builder: a CIM datetime property.
    pub(crate) fn datetime(mut self, name: &str, value: &str) -> Self {
        self.props
            .push((name.to_owned(), Value::Datetime(value.to_owned())));
        self
    }

    /// Builder: a key text property (also a selector).
    pub(crate) fn key(mut self, name: &str, value: impl ToString) -> Self {
        self.keys.push(name.to_owned());
        self.p(name, value)
    }

    /// Builder: a key EPR property (association).
    pub(crate) fn key_epr(mut self, name: &str, epr: Epr) -> Self {
        self.keys.push(name.to_owned());
        self.with_epr(name, epr)
    }

    /// A property's text value.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.props.iter().find_map(|(n, v)| match v {
            Value::Text(t) if n == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// The EPR of this instance (its key properties as selectors).
    pub(crate) fn epr(&self) -> Epr {
        let selectors = self
            .keys
            .iter()
            .filter_map(|k| {
                self.props.iter().find(|(n, _)| n == k).and_then(|(n, v)| {
                    let value = match v {
                        Value::Text(t) => SelectorText::Text(t.clone()),
                        Value::Epr(e) => SelectorText::Epr(Box::new(e.clone())),
                        Value::List(_) | Value::Datetime(_) => return None,
                    };
                    Some((n.clone(), value))
                })
            })
            .collect();
        Epr {
            resource_uri: self.uri.clone(),
            selectors,
        }
    }

    /// The instance as `<prefix:Class>` with properties in alphabetical order.
    pub(crate) fn to_element(&self, prefix: &str) -> Element {
        let mut props: Vec<&(String, Value)> = self.props.iter().collect();
        props.sort_by(|a, b| a.0.cmp(&b.0));
        let mut e = Element::prefixed(prefix, self.uri.as_str(), self.class.as_str());
        for (name, value) in props {
            let p = || Element::prefixed(prefix, self.uri.as_str(), name.as_str());
            match value {
                Value::Text(t) => e = e.with_child(p().with_text(t.as_str())),
                Value::List(items) => {
                    for item in items {
                        e = e.with_child(p().with_text(item.as_str()));
                    }
                }
                Value::Epr(epr) => {
                    let mut child = p();
                    for c in epr.children() {
                        child = child.with_child(c);
                    }
                    e = e.with_child(child);
                }
                Value::Datetime(t) => {
                    e = e.with_child(p().with_child(
                        Element::prefixed("i", CIM_COMMON, "Datetime").with_text(t.as_str()),
                    ));
                }
            }
        }
        e
    }

    /// Match request selectors against this instance's keys (and other text properties: AMT
    /// accepts any identifying property). Names compare case-insensitively.
    pub(crate) fn selector_match(&self, selectors: &[Selector]) -> SelectorMatch {
        let mut all_ok = true;
        for s in selectors {
            let Some((_, value)) = self
                .props
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&s.name))
            else {
                return SelectorMatch::UnknownName;
            };
            let ok = match (value, &s.value) {
                (Value::Text(a), SelectorValue::Text(b)) => a == b,
                (Value::Epr(a), SelectorValue::EndpointReference(b)) => {
                    Epr::read(b).is_some_and(|b| a.matches(&b))
                }
                (Value::Epr(a), SelectorValue::Text(b)) => a
                    .selectors
                    .iter()
                    .any(|(_, v)| matches!(v, SelectorText::Text(t) if t == b)),
                _ => false,
            };
            all_ok &= ok;
        }
        if all_ok {
            SelectorMatch::Match
        } else {
            SelectorMatch::NoMatch
        }
    }
}

/// How request selectors relate to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectorMatch {
    /// Every selector matches.
    Match,
    /// A selector names a property the class does not have.
    UnknownName,
    /// Names are fine but values differ.
    NoMatch,
}

/// Output of a method: parameters in order, then `ReturnValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MethodOut {
    /// Output parameters.
    pub(crate) outputs: Vec<(String, Value)>,
    /// PT_STATUS.
    pub(crate) return_value: u32,
}

impl MethodOut {
    /// Success without outputs.
    pub(crate) fn ok() -> Self {
        Self::status(0)
    }

    /// A bare return value.
    pub(crate) fn status(return_value: u32) -> Self {
        Self {
            outputs: Vec::new(),
            return_value,
        }
    }

    /// Builder: a text output.
    pub(crate) fn out(mut self, name: &str, value: impl ToString) -> Self {
        self.outputs
            .push((name.to_owned(), Value::Text(value.to_string())));
        self
    }

    /// Builder: an array output.
    pub(crate) fn out_list<T: ToString>(mut self, name: &str, values: &[T]) -> Self {
        self.outputs.push((
            name.to_owned(),
            Value::List(values.iter().map(ToString::to_string).collect()),
        ));
        self
    }

    /// Builder: an EPR output.
    pub(crate) fn out_epr(mut self, name: &str, epr: Epr) -> Self {
        self.outputs.push((name.to_owned(), Value::Epr(epr)));
        self
    }
}

/// PT_STATUS values used by the engine (amt-protocol §4.5).
pub(crate) mod pt {
    /// Success.
    pub(crate) const SUCCESS: u32 = 0;
    /// Internal error.
    pub(crate) const INTERNAL_ERROR: u32 = 1;
    /// Invalid name.
    pub(crate) const INVALID_NAME: u32 = 12;
    /// Not permitted.
    pub(crate) const NOT_PERMITTED: u32 = 16;
    /// Max limit reached.
    pub(crate) const MAX_LIMIT_REACHED: u32 = 23;
    /// Invalid parameter.
    pub(crate) const INVALID_PARAMETER: u32 = 36;
    /// Invalid handle.
    pub(crate) const INVALID_HANDLE: u32 = 2053;
    /// Invalid password.
    pub(crate) const INVALID_PASSWORD: u32 = 2054;
    /// Invalid realm.
    pub(crate) const INVALID_REALM: u32 = 2055;
    /// Data missing.
    pub(crate) const DATA_MISSING: u32 = 2057;
    /// Duplicate.
    pub(crate) const DUPLICATE: u32 = 2058;
    /// Invalid key.
    pub(crate) const INVALID_KEY: u32 = 2062;
    /// Invalid certificate.
    pub(crate) const INVALID_CERT: u32 = 2063;
    /// Certificate and key do not match.
    pub(crate) const CERT_KEY_NOT_MATCH: u32 = 2064;
    /// Unsupported.
    pub(crate) const UNSUPPORTED: u32 = 2066;
    /// Invalid priority.
    pub(crate) const INVALID_PRIORITY: u32 = 2067;
    /// Not found.
    pub(crate) const NOT_FOUND: u32 = 2068;
    /// Operation in progress.
    pub(crate) const OPERATION_IN_PROGRESS: u32 = 2082;
}

/// What a handler needs: state, context, notes and the changed flag.
pub(crate) struct Cx<'s, 'c, 'r> {
    /// NVRAM.
    pub(crate) state: &'s mut NvramState,
    /// The request context.
    pub(crate) ctx: &'c mut RequestContext<'r>,
    /// Notes so far.
    pub(crate) notes: Vec<Note>,
    /// Whether NVRAM changed.
    pub(crate) changed: bool,
}

impl Cx<'_, '_, '_> {
    /// Record a change (and a note).
    pub(crate) fn changed(&mut self, note: Option<Note>) {
        self.changed = true;
        if let Some(note) = note {
            self.notes.push(note);
        }
    }

    /// Append an audit record (`app_id`, `event_id`) by the session's user.
    pub(crate) fn audit(&mut self, app_id: u16, event_id: u16) {
        let initiator = match &self.ctx.session {
            super::Session::Digest { user } => user.clone(),
            super::Session::Setup => "$$Provisioning".to_owned(),
            super::Session::Anonymous => String::new(),
        };
        super::logs::push_audit(
            self.state,
            crate::state::AuditRecord {
                timestamp: self.ctx.now.unix_secs(),
                app_id,
                event_id,
                initiator,
            },
        );
        self.changed = true;
    }

    /// The device facts.
    pub(crate) fn facts(&self) -> &super::DeviceFacts {
        self.ctx.facts
    }
}

/// A method call as a class family sees it: which class and method, the selected instance (if
/// the request named one or the class has one) and the `<Method>_INPUT` element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The class name (last segment of the resource URI).
    pub(crate) class: &'a str,
    /// The method name.
    pub(crate) method: &'a str,
    /// The selected instance.
    pub(crate) target: Option<&'a Instance>,
    /// The method input.
    pub(crate) input: Input<'a>,
}

impl<'a> Call<'a> {
    /// The method name when the call is on `class`; `None` (no such method here) otherwise.
    pub(crate) fn method_on(&self, class: &str) -> Option<&'a str> {
        (self.class == class).then_some(self.method)
    }
}

/// What a family's method handler returns: `None` when the class has no such method.
pub(crate) type Invoked = Option<Result<MethodOut, Fault>>;

/// A Put as a class family sees it: which class, the instance replaced and the new representation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update<'a> {
    /// The class name (last segment of the resource URI).
    pub(crate) class: &'a str,
    /// The instance being replaced.
    pub(crate) target: &'a Instance,
    /// The new representation.
    pub(crate) input: Input<'a>,
}

impl Update<'_> {
    /// `Ok` when the Put is on `class`; `ActionNotSupported` otherwise (the family's only
    /// writable class is another one).
    pub(crate) fn only(&self, class: &str) -> Result<(), Fault> {
        if self.class == class {
            Ok(())
        } else {
            Err(Fault::action_not_supported())
        }
    }
}

/// Read-only view of a Put representation or a method input: children by local name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    /// The element (`<Class>` or `<Method>_INPUT`), if any.
    pub(crate) element: Option<&'a Element>,
}

impl<'a> Input<'a> {
    /// Wrap an element.
    pub(crate) fn new(element: Option<&'a Element>) -> Self {
        Self { element }
    }

    /// A child element by local name.
    pub(crate) fn child(&self, name: &str) -> Option<&'a Element> {
        self.element?.child_by_local_name(name)
    }

    /// Text of a child (trimmed); `None` if absent.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.child(name).map(|e| e.text().trim().to_owned())
    }

    /// All texts of repeated children `name`.
    pub(crate) fn texts(&self, name: &str) -> Vec<String> {
        self.element
            .map(|e| {
                e.elements()
                    .filter(|c| c.name == name)
                    .map(|c| c.text().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A required text.
    pub(crate) fn required(&self, name: &str) -> Result<String, Fault> {
        self.text(name)
            .ok_or_else(|| Fault::invalid_parameter(Some(DETAIL_MISSING_VALUES)))
    }

    /// An optional unsigned number; bad syntax is a fault.
    pub(crate) fn u32(&self, name: &str) -> Result<Option<u32>, Fault> {
        self.text(name)
            .map(|t| {
                t.parse::<u32>()
                    .map_err(|_| Fault::invalid_parameter(Some(DETAIL_INVALID_VALUE)))
            })
            .transpose()
    }

    /// An optional signed 64-bit number.
    pub(crate) fn i64(&self, name: &str) -> Result<Option<i64>, Fault> {
        self.text(name)
            .map(|t| {
                t.parse::<i64>()
                    .map_err(|_| Fault::invalid_parameter(Some(DETAIL_INVALID_VALUE)))
            })
            .transpose()
    }

    /// An optional boolean (`true`/`false`/`1`/`0`).
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, Fault> {
        self.text(name).map(|t| parse_bool(&t)).transpose()
    }

    /// An EPR-valued child.
    pub(crate) fn epr(&self, name: &str) -> Option<Epr> {
        self.child(name).and_then(Epr::read)
    }
}

/// Parse an xs:boolean.
pub(crate) fn parse_bool(text: &str) -> Result<bool, Fault> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Fault::schema_validation_error()),
    }
}

/// Base64 helpers.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode standard Base64, ignoring embedded whitespace (clients wrap long blobs).
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use amt_wire::wsman::Limits;

    fn element(xml: &str) -> Element {
        Element::parse(xml.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn eprs_read_with_any_prefixes_and_match_by_selectors() {
        let gwm = element(
            "<h:Source xmlns:h=\"urn:x\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem</w:ResourceURI><w:SelectorSet><w:Selector w:Name=\"Name\">ManagedSystem</w:Selector></w:SelectorSet></a:ReferenceParameters></h:Source>",
        );
        let epr = Epr::read(&gwm).unwrap_or_else(|| panic!("epr"));
        assert_eq!(epr.selector("Name"), Some("ManagedSystem"));
        let ours = Epr::new(
            "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem",
            &[
                ("CreationClassName", "CIM_ComputerSystem"),
                ("Name", "ManagedSystem"),
            ],
        );
        assert!(ours.matches(&epr));
        assert!(!epr.matches(&ours), "a subset does not match a superset");
        let other_class = Epr::new("urn:CIM_Other", &[("Name", "ManagedSystem")]);
        assert!(!other_class.matches(&epr));
        assert_eq!(Epr::read(&element("<x></x>")), None);
    }

    #[test]
    fn instances_emit_sorted_properties_arrays_and_eprs() {
        let i = Instance::new("urn:c/", "C")
            .p("Zeta", 1)
            .list("Alpha", &[1, 2])
            .key("Key", "k")
            .with_epr("Mid", Epr::new("urn:c/D", &[("Name", "d")]));
        let e = i.to_element("g");
        let names: Vec<&str> = e.elements().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "Alpha", "Key", "Mid", "Zeta"]);
        assert_eq!(i.epr().selector("Key"), Some("k"));
        let xml = e.to_xml();
        assert!(!xml.contains("/>"));
    }

    #[test]
    fn booleans_and_base64_are_read_leniently_but_exactly() {
        assert_eq!(parse_bool("true").ok(), Some(true));
        assert_eq!(parse_bool("0").ok(), Some(false));
        assert!(parse_bool("yes").is_err());
        assert_eq!(b64_decode("aGVs\nbG8="), Some(b"hello".to_vec()));
        assert_eq!(b64_decode("!!"), None);
    }
}
