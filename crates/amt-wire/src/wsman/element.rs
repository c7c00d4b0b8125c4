//! A small owned XML element tree with resolved namespaces, used for SOAP bodies, selector EPRs
//! and anything else a handler has to read or build.
//!
//! It deliberately is not a DOM: no parent links, no comments, no processing instructions, no
//! mixed-content normalisation beyond dropping whitespace between child elements, and no
//! validation of names when building (callers supply valid NCNames; the emitter does not check).

use std::borrow::Cow;

/// An expanded XML name: namespace URI (if any) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// Namespace URI, `None` for a name in no namespace.
    pub namespace: Option<String>,
    /// Local part of the name.
    pub local: String,
}

/// An attribute with its resolved namespace.
///
/// Equality ignores [`Attribute::prefix`]: two attributes are equal when their expanded names and
/// values are equal.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Namespace URI; `None` for the usual unprefixed attribute (`Name="InstanceID"`).
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Prefix seen in the input, or wanted on output; the emitter picks one when absent.
    pub prefix: Option<String>,
    /// Value, with references resolved and whitespace normalised as XML requires.
    pub value: String,
}

/// A namespace declaration (`xmlns:p="uri"`, or `xmlns="uri"` when `prefix` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDecl {
    /// Declared prefix, `None` for the default namespace.
    pub prefix: Option<String>,
    /// Namespace URI (empty undeclares the default namespace).
    pub uri: String,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (text, references and CDATA sections merged into one string).
    Text(String),
}

/// An owned XML element with resolved namespaces.
///
/// Equality is namespace-semantic: it compares expanded names, attributes (in order, prefix
/// ignored) and children, and ignores [`Element::prefix`] and [`Element::declarations`], which are
/// serialisation details. (QName-valued text such as a fault subcode depends on the declarations;
/// resolve such text with [`Element::resolve_prefix`] before comparing.)
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// Namespace URI of the element, `None` for no namespace.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Prefix seen in the input, or wanted on output (`None` = default namespace on output).
    pub prefix: Option<String>,
    /// Attributes other than namespace declarations, in document order.
    pub attributes: Vec<Attribute>,
    /// Namespace declarations made on this element (parsed, or forced on output).
    pub declarations: Vec<NamespaceDecl>,
    /// Child nodes in document order.
    pub children: Vec<Node>,
}

impl Element {
    /// An element in `namespace`, written with the default namespace unless a prefix is set.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            name: name.into(),
            ..Self::default()
        }
    }

    /// An element in `namespace` that the emitter writes as `prefix:name`.
    pub fn prefixed(
        prefix: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            namespace: Some(namespace.into()),
            name: name.into(),
            prefix: Some(prefix.into()),
            ..Self::default()
        }
    }

    /// An element in no namespace.
    pub fn unqualified(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Builder: a child element in the same namespace and with the same prefix as `self`,
    /// holding `text` (the usual shape of a CIM property: `<g:HostName>x</g:HostName>`).
    #[must_use]
    pub fn with_property(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        let child = Self {
            namespace: self.namespace.clone(),
            name: name.into(),
            prefix: self.prefix.clone(),
            ..Self::default()
        }
        .with_text(text);
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: append a child element.
    #[must_use]
    pub fn with_child(mut self, child: Self) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: append text (nothing is appended for an empty string, so that the tree equals
    /// what the parser gives back for `<x></x>`).
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// Builder: add an unqualified attribute (`Name="value"`).
    #[must_use]
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            namespace: None,
            name: name.into(),
            prefix: None,
            value: value.into(),
        });
        self
    }

    /// Builder: add a namespaced attribute written as `prefix:name="value"`.
    #[must_use]
    pub fn with_ns_attribute(
        mut self,
        prefix: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.attributes.push(Attribute {
            namespace: Some(namespace.into()),
            name: name.into(),
            prefix: Some(prefix.into()),
            value: value.into(),
        });
        self
    }

    /// Builder: declare a namespace on this element even if nothing in it needs the binding
    /// (AMT declares its positional prefixes up front).
    #[must_use]
    pub fn with_declaration(mut self, prefix: Option<&str>, uri: impl Into<String>) -> Self {
        self.declarations.push(NamespaceDecl {
            prefix: prefix.map(str::to_owned),
            uri: uri.into(),
        });
        self
    }

    /// Append text, merging with a preceding text node; empty text is ignored.
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(last)) => last.push_str(&text),
            _ => self.children.push(Node::Text(text)),
        }
    }

    /// The expanded name of this element.
    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName {
            namespace: self.namespace.clone(),
            local: self.name.clone(),
        }
    }

    /// Whether this element is `{namespace}local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.name == local && self.namespace.as_deref() == Some(namespace)
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Self> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element, if any.
    pub fn first_element(&self) -> Option<&Self> {
        self.elements().next()
    }

    /// The first child element named `{namespace}local`.
    pub fn child(&self, namespace: &str, local: &str) -> Option<&Self> {
        self.elements().find(|e| e.is(namespace, local))
    }

    /// All child elements named `{namespace}local`.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Self> + 'a {
        self.elements().filter(move |e| e.is(namespace, local))
    }

    /// The first child element with local name `local`, whatever its namespace (for lenient
    /// reading of method inputs whose namespace clients get wrong).
    pub fn child_by_local_name(&self, local: &str) -> Option<&Self> {
        self.elements().find(|e| e.name == local)
    }

    /// Text content: the concatenation of the direct text children (child elements skipped).
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.children.iter().filter_map(|node| match node {
            Node::Text(text) => Some(text.as_str()),
            Node::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut all = String::from(first);
                all.push_str(second);
                texts.for_each(|t| all.push_str(t));
                Cow::Owned(all)
            }
        }
    }

    /// Text content of the first child `{namespace}local`.
    pub fn child_text(&self, namespace: &str, local: &str) -> Option<Cow<'_, str>> {
        self.child(namespace, local).map(Self::text)
    }

    /// Value of the attribute `{namespace}local` (`None` namespace = unprefixed attribute).
    pub fn attribute(&self, namespace: Option<&str>, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == local && a.namespace.as_deref() == namespace)
            .map(|a| a.value.as_str())
    }

    /// Resolve a prefix (`None` = default namespace) against the declarations of `self` and then
    /// of `ancestors` (innermost first). `xml` is always bound to [`super::names::XML`].
    pub fn resolve_prefix<'a>(
        &'a self,
        prefix: Option<&str>,
        ancestors: &[&'a Self],
    ) -> Option<&'a str> {
        if prefix == Some("xml") {
            return Some(super::names::XML);
        }
        std::iter::once(self)
            .chain(ancestors.iter().copied())
            .find_map(|e| {
                e.declarations
                    .iter()
                    .rev()
                    .find(|d| d.prefix.as_deref() == prefix)
            })
            .map(|d| d.uri.as_str())
            .filter(|uri| !uri.is_empty())
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace
            && self.name == other.name
            && self.attributes == other.attributes
            && self.children == other.children
    }
}

impl Eq for Element {}

impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace && self.name == other.name && self.value == other.value
    }
}

impl Eq for Attribute {}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:test";

    #[test]
    fn accessors_find_children_by_expanded_name() {
        let e = Element::prefixed("h", NS, "Input")
            .with_property("Username", "admin")
            .with_child(Element::new("urn:other", "Username").with_text("wrong"))
            .with_attribute("Name", "x");
        assert_eq!(e.child_text(NS, "Username").as_deref(), Some("admin"));
        assert_eq!(e.children_named("urn:other", "Username").count(), 1);
        assert_eq!(e.attribute(None, "Name"), Some("x"));
        assert_eq!(e.attribute(Some(NS), "Name"), None);
        assert!(e.child(NS, "Password").is_none());
    }

    #[test]
    fn text_merges_and_skips_empty() {
        let mut e = Element::unqualified("x").with_text("").with_text("a");
        e.push_text("b");
        assert_eq!(e.children.len(), 1);
        assert_eq!(e.text(), "ab");
    }

    #[test]
    fn equality_ignores_prefixes_and_declarations() {
        let a = Element::prefixed("a", NS, "E").with_declaration(Some("a"), NS);
        let b = Element::new(NS, "E");
        assert_eq!(a, b);
        assert_ne!(a, Element::new("urn:x", "E"));
    }

    #[test]
    fn resolve_prefix_walks_ancestors() {
        let outer = Element::new(NS, "O").with_declaration(Some("p"), "urn:p");
        let inner = Element::new(NS, "I").with_declaration(None, "urn:d");
        assert_eq!(inner.resolve_prefix(Some("p"), &[&outer]), Some("urn:p"));
        assert_eq!(inner.resolve_prefix(None, &[&outer]), Some("urn:d"));
        assert_eq!(inner.resolve_prefix(Some("q"), &[&outer]), None);
    }
}
