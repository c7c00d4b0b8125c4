//! Wire formats shared by the virtual AMT device (`amt-sim`) and the provisioner (`provisioner-core`).
//!
//! Contract: this crate only parses and emits. It does no I/O, reads no clock, holds no sockets and
//! depends on no async runtime; every type that is parsed from the wire can be emitted again and the
//! two round-trip (checked by property tests beside each codec). Input from the network never panics:
//! every parser returns a typed error that says what was wrong and where.
//!
//! - [`hello`]: the Hello packet a device sends to the provisioning server (v3 PKI, v2 PSK).
//! - [`thumbprint`]: certificate thumbprints (SHA-1/256/384 of DER) and their hex forms.
//! - [`digest`]: HTTP digest authentication as AMT speaks it (challenge, Authorization, response).
//! - [`http`]: sans-IO HTTP/1.1 request/response decoders and case-preserving emitters, bounded by limits.
//! - [`wsman`]: WS-Management SOAP envelopes: namespace-aware request parsing, response and fault emission.
//! - [`time`]: the simulated wall-clock instant that protocol code takes as a parameter.

pub mod digest;
pub mod hello;
pub mod http;
pub mod thumbprint;
pub mod time;
pub mod wsman;
