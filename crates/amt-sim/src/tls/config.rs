//! rustls `ServerConfig` builders for the device's TLS port (16993): the setup config (client
//! certificate mandatory, firmware policy) and the management config (no client auth).
//!
//! Both use the aws-lc-rs provider explicitly (never the process default), with key exchange
//! groups X25519, secp256r1 and secp384r1 only — no post-quantum hybrid, which real AMT does not
//! offer — and no session resumption (no session cache, no TLS 1.3 tickets): every connection is a
//! full handshake, as on the firmware.
//!
//! Protocol fidelity limits, documented: rustls speaks only TLS 1.2 and 1.3 with ECDHE key
//! exchange and AEAD suites. Real AMT ≤ 11 speaks TLS 1.0/1.1, and AMT 11/12 profiles use RSA key
//! transport and CBC suites; none of those can be reproduced here (crates.md §1.5). TLS 1.3 stays
//! on by default because MeshCentral's activation uses it.
//!
//! With TLS 1.3 the server verifies the client certificate after it has sent its own Finished, so
//! a client whose chain is refused sees its handshake complete and only gets the fatal alert on
//! its first read; harnesses must count that as a handshake rejection. With TLS 1.2 the alert
//! arrives during the handshake.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs;
use rustls::server::NoServerSessionStorage;

use super::TlsError;
use super::identity::DeviceIdentity;
use super::policy::ProvisioningPolicy;
use super::verifier::{AmtClientVerifier, VerdictSlot};

/// Which TLS versions the device offers.
///
/// Only TLS 1.2 and 1.3 exist here: rustls has no TLS 1.0/1.1, no RSA key transport and no CBC
/// suites, so the older firmware profiles (AMT ≤ 11, and the AMT 11/12 suite lists) cannot be
/// reproduced; a TLS 1.2 client that offers only RSA key exchange (e.g. MeshCentral's
/// `RSA+AES` cipher list) fails against [`TlsProfile::TLS12_ONLY`] and needs TLS 1.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlsProfile {
    /// Offer TLS 1.2.
    pub tls12: bool,
    /// Offer TLS 1.3.
    pub tls13: bool,
}

impl TlsProfile {
    /// TLS 1.2 and 1.3 (the default).
    pub const MODERN: Self = Self {
        tls12: true,
        tls13: true,
    };
    /// TLS 1.2 only (AMT 12 – 15 era firmware, as close as rustls gets).
    pub const TLS12_ONLY: Self = Self {
        tls12: true,
        tls13: false,
    };

    fn versions(self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
        let mut versions = Vec::new();
        if self.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        if versions.is_empty() {
            return Err(TlsError::NoProtocolVersion);
        }
        Ok(versions)
    }
}

impl Default for TlsProfile {
    fn default() -> Self {
        Self::MODERN
    }
}

/// The aws-lc-rs provider with the device's key exchange groups.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        kx_groups: vec![
            aws_lc_rs::kx_group::X25519,
            aws_lc_rs::kx_group::SECP256R1,
            aws_lc_rs::kx_group::SECP384R1,
        ],
        ..aws_lc_rs::default_provider()
    })
}

fn rustls_error(what: &'static str) -> impl FnOnce(rustls::Error) -> TlsError {
    move |source| TlsError::Rustls { what, source }
}

/// Resumption off: no session cache, no TLS 1.3 tickets.
fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Arc::new(config)
}

/// The config for the setup handshake (TLS-PKI remote configuration): serves `identity`, demands
/// a client certificate and checks its chain against `policy`; the verdict lands in the returned
/// slot. Build one per connection (the slot holds one verdict). Fails if the identity's
/// certificate and pool key do not match, or `profile` enables no version.
pub fn setup_server_config(
    identity: &DeviceIdentity,
    policy: ProvisioningPolicy,
    profile: TlsProfile,
) -> Result<(Arc<ServerConfig>, VerdictSlot), TlsError> {
    let provider = provider();
    let slot = VerdictSlot::default();
    let verifier = AmtClientVerifier::new(
        policy,
        Arc::clone(&slot),
        provider.signature_verification_algorithms,
    );
    let config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&profile.versions()?)
        .map_err(rustls_error("protocol versions"))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![identity.cert_der.clone()], identity.private_key_der())
        .map_err(rustls_error("device certificate and key"))?;
    Ok((finish(config), slot))
}

/// The config for management connections after provisioning (`MutualAuthentication` false):
/// serves `identity`, asks for no client certificate.
pub fn management_server_config(
    identity: &DeviceIdentity,
    profile: TlsProfile,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&profile.versions()?)
        .map_err(rustls_error("protocol versions"))?
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert_der.clone()], identity.private_key_der())
        .map_err(rustls_error("device certificate and key"))?;
    Ok(finish(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{identity_from_der, self_signed_identity};
    use amt_wire::time::Timestamp;

    fn identity() -> DeviceIdentity {
        self_signed_identity(0, "dev.test", Timestamp::from_unix_secs(1_700_000_000), 30)
            .expect("identity")
    }

    #[test]
    fn no_version_is_an_error() {
        let none = TlsProfile {
            tls12: false,
            tls13: false,
        };
        assert!(matches!(
            management_server_config(&identity(), none),
            Err(TlsError::NoProtocolVersion)
        ));
    }

    #[test]
    fn certificate_and_key_must_match() {
        let id = identity();
        let wrong = identity_from_der(id.cert_der.to_vec(), 1);
        let err = management_server_config(&wrong, TlsProfile::MODERN).expect_err("mismatch");
        assert_eq!(err.id(), "tls/rustls");
        assert!(management_server_config(&id, TlsProfile::default()).is_ok());
    }

    #[test]
    fn configs_have_no_resumption_and_no_post_quantum_groups() {
        let policy = ProvisioningPolicy::new(Vec::new(), None, Timestamp::EPOCH);
        let (config, slot) =
            setup_server_config(&identity(), policy, TlsProfile::TLS12_ONLY).expect("config");
        assert_eq!(config.send_tls13_tickets, 0);
        assert!(!config.session_storage.can_cache());
        let groups: Vec<_> = config
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|g| g.name())
            .collect();
        assert_eq!(
            groups,
            [
                rustls::NamedGroup::X25519,
                rustls::NamedGroup::secp256r1,
                rustls::NamedGroup::secp384r1
            ]
        );
        assert!(slot.lock().expect("lock").is_none());
    }
}
