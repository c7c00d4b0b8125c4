//! The error type of the WS-Management codec and its mapping to the fault a device answers with.
//!
//! It deliberately does not decide HTTP status codes or logging; it only says what was wrong,
//! where, and which WS-Management fault fits.

use super::fault::{self, Fault};

/// Everything that can be wrong with a WS-Management envelope, with the context needed to say
/// where. Offsets are byte offsets into the input (after a UTF-8 BOM, if one was present).
/// Strings copied from the input are clipped to a few dozen characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsmanError {
    /// The input is longer than [`super::Limits::max_bytes`].
    #[error("envelope of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input length in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements nest deeper than [`super::Limits::max_depth`].
    #[error("element nesting exceeds {limit} levels at byte {offset}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
        /// Offset of the element that went too deep.
        offset: usize,
    },
    /// More elements than [`super::Limits::max_elements`].
    #[error("more than {limit} elements at byte {offset}")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
        /// Offset of the first element over the limit.
        offset: usize,
    },
    /// An element has more attributes (namespace declarations included) than
    /// [`super::Limits::max_attributes_per_element`].
    #[error("element `{element}` has more than {limit} attributes at byte {offset}")]
    TooManyAttributes {
        /// The element's qualified name as written.
        element: String,
        /// The configured limit.
        limit: usize,
        /// Offset of the element.
        offset: usize,
    },
    /// A text node or attribute value is longer than [`super::Limits::max_text_len`].
    #[error("text or attribute value longer than {limit} bytes at byte {offset}")]
    TextTooLong {
        /// The configured limit.
        limit: usize,
        /// Offset where the limit was crossed.
        offset: usize,
    },
    /// The input is not UTF-8.
    #[error("input is not valid utf-8 at byte {offset}")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("unsupported document encoding `{encoding}`")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// A `<!DOCTYPE` was found: no DTDs, hence no entity expansion, are accepted.
    #[error("document type declarations are not allowed (byte {offset})")]
    Doctype {
        /// Offset of the declaration.
        offset: usize,
    },
    /// A processing instruction other than the XML declaration (SOAP 1.2 forbids them).
    #[error("processing instructions are not allowed (byte {offset})")]
    ProcessingInstruction {
        /// Offset of the instruction.
        offset: usize,
    },
    /// An entity reference other than the five predefined ones.
    #[error("unknown entity reference `&{name};` at byte {offset}")]
    UnknownEntity {
        /// The entity name.
        name: String,
        /// Offset of the element or text holding the reference.
        offset: usize,
    },
    /// A character reference that denotes no character.
    #[error("invalid character reference `&{reference};` at byte {offset}")]
    InvalidCharRef {
        /// The reference without `&` and `;`.
        reference: String,
        /// Offset of the reference.
        offset: usize,
    },
    /// An element or attribute uses a prefix that is not declared.
    #[error("undeclared namespace prefix `{prefix}` at byte {offset}")]
    UnknownPrefix {
        /// The prefix.
        prefix: String,
        /// Offset of the element.
        offset: usize,
    },
    /// The input is not well-formed XML.
    #[error("malformed xml at byte {offset}: {detail}")]
    Malformed {
        /// Offset where the XML reader gave up.
        offset: usize,
        /// The XML reader's description.
        detail: String,
    },
    /// The input ends inside an element, tag, comment or CDATA section.
    #[error("input ends inside `{element}` (byte {offset})")]
    Truncated {
        /// The innermost open element (or construct) at the end of input.
        element: String,
        /// Offset of the end of input.
        offset: usize,
    },
    /// The input holds no document element at all.
    #[error("no document element (byte {offset})")]
    NoRootElement {
        /// Offset of the end of input.
        offset: usize,
    },
    /// Something other than whitespace or comments follows the document element.
    #[error("content after the document element at byte {offset}")]
    TrailingContent {
        /// Offset of the extra content.
        offset: usize,
    },
    /// The document element is not `Envelope`.
    #[error("document element `{found}` is not a soap envelope")]
    NotAnEnvelope {
        /// The element found, as `{namespace}local`.
        found: String,
    },
    /// The document element is an `Envelope` in a namespace other than SOAP 1.2.
    #[error("envelope namespace `{namespace}` is not soap 1.2")]
    VersionMismatch {
        /// The namespace found (empty for none).
        namespace: String,
    },
    /// The envelope holds something other than `Header` followed by `Body`.
    #[error("unexpected element `{element}` in the envelope")]
    UnexpectedEnvelopeChild {
        /// The element found, as `{namespace}local`.
        element: String,
    },
    /// The envelope has no `Body`.
    #[error("envelope has no body")]
    MissingBody,
    /// The `Body` holds more than one element.
    #[error("body holds more than one element")]
    MultipleBodyElements,
    /// The header has no `wsa:Action` (in the WS-Addressing namespace).
    #[error("header has no ws-addressing action")]
    MissingAction,
    /// A header that may appear once appears again.
    #[error("header `{header}` appears more than once")]
    DuplicateHeader {
        /// Local name of the header.
        header: &'static str,
    },
    /// A header's value cannot be parsed.
    #[error("header `{header}` has invalid value `{value}`: {reason}")]
    InvalidHeaderValue {
        /// Local name of the header.
        header: &'static str,
        /// The value (clipped).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `wsman:Selector` without a `Name` attribute.
    #[error("selector without a name attribute")]
    SelectorWithoutName,
    /// An `xs:duration` that this codec cannot read.
    #[error("invalid xs:duration `{value}`")]
    InvalidDuration {
        /// The value (clipped).
        value: String,
    },
    /// A WS-Enumeration (or other typed) body lacks a required part or has an unreadable value.
    #[error("invalid `{part}` in the body: {reason}")]
    InvalidBody {
        /// The element concerned.
        part: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `soap:Fault` body that lacks a required part or has an unknown code.
    #[error("malformed soap fault: {reason}")]
    MalformedFault {
        /// What is missing or wrong.
        reason: &'static str,
    },
}

impl WsmanError {
    /// Stable identifier for logs, metrics and reports, e.g. `"wsman/too-deep"`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "wsman/too-large",
            Self::TooDeep { .. } => "wsman/too-deep",
            Self::TooManyElements { .. } => "wsman/too-many-elements",
            Self::TooManyAttributes { .. } => "wsman/too-many-attributes",
            Self::TextTooLong { .. } => "wsman/text-too-long",
            Self::NotUtf8 { .. } => "wsman/not-utf8",
            Self::UnsupportedEncoding { .. } => "wsman/unsupported-encoding",
            Self::Doctype { .. } => "wsman/doctype",
            Self::ProcessingInstruction { .. } => "wsman/processing-instruction",
            Self::UnknownEntity { .. } => "wsman/unknown-entity",
            Self::InvalidCharRef { .. } => "wsman/invalid-char-ref",
            Self::UnknownPrefix { .. } => "wsman/unknown-prefix",
            Self::Malformed { .. } => "wsman/malformed",
            Self::Truncated { .. } => "wsman/truncated",
            Self::NoRootElement { .. } => "wsman/no-root-element",
            Self::TrailingContent { .. } => "wsman/trailing-content",
            Self::NotAnEnvelope { .. } => "wsman/not-an-envelope",
            Self::VersionMismatch { .. } => "wsman/version-mismatch",
            Self::UnexpectedEnvelopeChild { .. } => "wsman/unexpected-envelope-child",
            Self::MissingBody => "wsman/missing-body",
            Self::MultipleBodyElements => "wsman/multiple-body-elements",
            Self::MissingAction => "wsman/missing-action",
            Self::DuplicateHeader { .. } => "wsman/duplicate-header",
            Self::InvalidHeaderValue { .. } => "wsman/invalid-header-value",
            Self::SelectorWithoutName => "wsman/selector-without-name",
            Self::InvalidDuration { .. } => "wsman/invalid-duration",
            Self::InvalidBody { .. } => "wsman/invalid-body",
            Self::MalformedFault { .. } => "wsman/malformed-fault",
        }
    }

    /// The fault a device answers with when a request fails to parse with this error.
    ///
    /// - size, depth, count and length limits → `wsman:EncodingLimit` (size over the limit with
    ///   detail `ServiceEnvelopeLimit`); non-UTF-8 or another declared encoding →
    ///   `wsman:EncodingLimit` with detail `CharacterSet`;
    /// - anything that is not well-formed, namespace-correct XML (DOCTYPE, unknown entities,
    ///   processing instructions, truncation, trailing content, undeclared prefixes) and an
    ///   envelope that is not `Header?` + `Body` with one element → `wsman:SchemaValidationError`:
    ///   DSP0226 has no "not XML" fault and this is what openwsman answers;
    /// - an `Envelope` in another namespace (e.g. SOAP 1.1) → `soap:VersionMismatch`;
    /// - no `wsa:Action` → `wsa:MessageInformationHeaderRequired`;
    /// - duplicate or unreadable addressing/WS-Man headers and bad durations →
    ///   `wsa:InvalidMessageInformationHeader`;
    /// - a selector without a name → `wsman:InvalidSelectors`;
    /// - an unreadable Enumerate/Pull/Release body → `wsman:SchemaValidationError`;
    /// - [`WsmanError::MalformedFault`] only arises when reading responses; it maps to
    ///   `wsman:SchemaValidationError` for completeness.
    pub fn to_fault(&self) -> Fault {
        match self {
            Self::TooLarge { .. } => {
                Fault::encoding_limit(Some(fault::DETAIL_SERVICE_ENVELOPE_LIMIT))
            }
            Self::TooDeep { .. }
            | Self::TooManyElements { .. }
            | Self::TooManyAttributes { .. }
            | Self::TextTooLong { .. } => Fault::encoding_limit(None),
            Self::NotUtf8 { .. } | Self::UnsupportedEncoding { .. } => {
                Fault::encoding_limit(Some(fault::DETAIL_CHARACTER_SET))
            }
            Self::Doctype { .. }
            | Self::ProcessingInstruction { .. }
            | Self::UnknownEntity { .. }
            | Self::InvalidCharRef { .. }
            | Self::UnknownPrefix { .. }
            | Self::Malformed { .. }
            | Self::Truncated { .. }
            | Self::NoRootElement { .. }
            | Self::TrailingContent { .. }
            | Self::NotAnEnvelope { .. }
            | Self::UnexpectedEnvelopeChild { .. }
            | Self::MissingBody
            | Self::MultipleBodyElements
            | Self::InvalidBody { .. }
            | Self::MalformedFault { .. } => Fault::schema_validation_error(),
            Self::VersionMismatch { .. } => Fault::version_mismatch(),
            Self::MissingAction => Fault::message_information_header_required(),
            Self::DuplicateHeader { .. }
            | Self::InvalidHeaderValue { .. }
            | Self::InvalidDuration { .. } => Fault::invalid_message_information_header(),
            Self::SelectorWithoutName => Fault::invalid_selectors(None),
        }
    }
}

/// Copy at most [`CLIP_CHARS`] characters of `s` for use in an error.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP_CHARS) {
        Some((end, _)) => {
            let mut clipped = s.get(..end).unwrap_or_default().to_owned();
            clipped.push('…');
            clipped
        }
        None => s.to_owned(),
    }
}

/// How many characters of input an error message carries at most.
const CLIP_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_without_period() {
        let errors = [
            WsmanError::TooDeep {
                limit: 32,
                offset: 7,
            },
            WsmanError::MissingAction,
            WsmanError::Doctype { offset: 0 },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(!s.ends_with('.'), "{s}");
            assert!(s.starts_with(|c: char| c.is_lowercase()), "{s}");
            assert!(e.id().starts_with("wsman/"));
        }
    }

    #[test]
    fn clip_bounds_length_on_char_boundaries() {
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), CLIP_CHARS + 1);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn fault_mapping() {
        let f = WsmanError::TooLarge { size: 1, limit: 0 }.to_fault();
        assert_eq!(f.subcode_local(), Some("EncodingLimit"));
        assert_eq!(
            WsmanError::MissingAction.to_fault().subcode_local(),
            Some("MessageInformationHeaderRequired")
        );
        assert_eq!(
            WsmanError::Doctype { offset: 0 }.to_fault().subcode_local(),
            Some("SchemaValidationError")
        );
    }
}
