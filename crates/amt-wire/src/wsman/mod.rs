//! WS-Management SOAP envelopes as AMT speaks them: namespace-aware, bounded request parsing into
//! a typed [`Header`] and an [`Element`] body; response, fault and request emission in the shapes
//! real clients and AMT firmware use.
//!
//! This is a pure codec: no I/O, no clock, no randomness (message IDs and enumeration contexts
//! are passed in), no panics on any input, and bounded memory and work ([`Limits`]). It
//! deliberately does not implement any AMT class, device policy or HTTP.
//!
//! - [`names`]: namespace and action URIs.
//! - [`Element`]: the owned element tree handlers read and build.
//! - [`Envelope::parse`]: bytes → [`Envelope`] ([`Header`] + body), or a typed [`WsmanError`]
//!   that maps to the right [`Fault`] via [`WsmanError::to_fault`].
//! - [`emit_response`], [`Fault::emit`], [`Request::emit`]: emission without self-closing tags
//!   or CDATA.
//! - [`enumeration`]: Enumerate/Pull/Release bodies and responses.
//!
//! "GWM" in this module's docs and tests is Intel's `go-wsman-messages` library (the Device
//! Management Toolkit's WS-MAN message builder); its request shape is the one we emit.

mod element;
mod emit;
pub mod enumeration;
mod envelope;
mod error;
pub mod fault;
pub mod names;
mod parse;

pub use element::{Attribute, Element, NamespaceDecl, Node, QualifiedName};
pub use emit::{Request, ResponseHeader, emit_response};
pub use envelope::{
    Envelope, Header, Locale, MaxEnvelopeSize, OperationTimeout, OptionSet, Selector,
    SelectorValue, WsmanOption, parse_duration,
};
pub use error::WsmanError;
pub use fault::{Fault, FaultCode};
pub use parse::Limits;
