//! The device's TLS side: the firmware's provisioning-certificate policy, the device's server
//! identity and the rustls server configs built from them. No sockets: the device core drives
//! rustls `ServerConnection`s over in-memory buffers.
//!
//! - [`policy`]: [`check_provisioning_chain`], the pure chain checks (hash list, EKU-or-OU, CN
//!   rule, personality limits, validity against the device clock, path validation).
//! - [`identity`]: [`DeviceIdentity`] — the self-signed certificate made when provisioning starts,
//!   or the one stored by the provisioning server — with its key from [`crate::keypool`].
//! - [`config`]: [`setup_server_config`] (client certificate mandatory, verdict in a
//!   [`VerdictSlot`]) and [`management_server_config`] (no client auth).
//! - `verifier` (re-exported here): the rustls `ClientCertVerifier` adapter and the alert mapping.
//!
//! Typical setup connection:
//!
//! ```
//! use amt_sim::tls::{self, ProvisioningPolicy, TlsProfile};
//! use amt_wire::time::Timestamp;
//!
//! let clock = Timestamp::from_unix_secs(1_072_915_200); // 2004-01-01, un-set clock
//! let identity = tls::self_signed_identity(0, "amt-device-01", clock, 3650)?;
//! let policy = ProvisioningPolicy::new(Vec::new(), Some("corp.example".into()), clock);
//! let (config, slot) = tls::setup_server_config(&identity, policy, TlsProfile::default())?;
//! let _conn = rustls::ServerConnection::new(config)?;
//! // ... pump bytes; afterwards `tls::read_verdict(&slot)` (or `verdict_after_error`).
//! assert!(tls::read_verdict(&slot).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod identity;
mod legacy;
pub mod policy;
mod verifier;

use amt_wire::time::Timestamp;
use thiserror::Error;

pub use config::{TlsProfile, management_server_config, setup_server_config};
pub use identity::{DeviceIdentity, identity_from_der, self_signed_identity};
pub use policy::{
    AcceptedChain, CnRule, ProvisioningPolicy, RefusalAlert, RefusalKind, TlsRefusal, TrustedHash,
    check_provisioning_chain,
};
pub use verifier::{VerdictSlot, read_verdict, refusal_in_error, verdict_after_error};

/// Errors building the device's TLS identity or configs (not handshake refusals: those are
/// [`TlsRefusal`]s).
#[derive(Debug, Error)]
pub enum TlsError {
    /// rcgen could not build the certificate.
    #[error("cannot make the device certificate for `{common_name}`: {source}")]
    Certificate {
        /// The requested CN.
        common_name: String,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// The validity period cannot be encoded (before 1950 or after 9999).
    #[error("certificate validity from {not_before} for {validity_days} days is not representable")]
    Validity {
        /// Requested notBefore.
        not_before: Timestamp,
        /// Requested length.
        validity_days: u32,
    },
    /// The profile enables neither TLS 1.2 nor TLS 1.3.
    #[error("the TLS profile enables no protocol version")]
    NoProtocolVersion,
    /// rustls refused part of the config (e.g. certificate and key do not match).
    #[error("rustls refused the {what}: {source}")]
    Rustls {
        /// Which part of the config.
        what: &'static str,
        /// rustls' error.
        source: rustls::Error,
    },
}

impl TlsError {
    /// Stable identifier.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Certificate { .. } => "tls/certificate",
            Self::Validity { .. } => "tls/validity",
            Self::NoProtocolVersion => "tls/no-protocol-version",
            Self::Rustls { .. } => "tls/rustls",
        }
    }
}
