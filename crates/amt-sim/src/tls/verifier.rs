//! The rustls adapter for the firmware chain policy: a `ClientCertVerifier` that runs
//! [`check_provisioning_chain`] and records its verdict in a [`VerdictSlot`].
//!
//! rustls calls the verifier inside the handshake with the client's leaf and, in the order sent,
//! the rest of its chain. The policy's own clock (the device clock) is used, never rustls' `now`.
//! A refusal becomes a rustls certificate error chosen so that rustls sends the policy's alert
//! (rustls has a fixed error-to-alert mapping, crates.md §1.4):
//!
//! | [`RefusalAlert`] | rustls error | alert |
//! |---|---|---|
//! | `CertificateUnknown` | `CertificateError::Other(OtherError(TlsRefusal))` | certificate_unknown (46) |
//! | `UnknownCa` | `CertificateError::UnknownIssuer` | unknown_ca (48) |
//! | `BadCertificate` | `CertificateError::BadEncoding` | bad_certificate (42) |
//!
//! With `CertificateUnknown` the rustls error carries the [`TlsRefusal`] itself
//! ([`refusal_in_error`] gets it back); the slot always has it.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::policy::{
    AcceptedChain, ProvisioningPolicy, RefusalAlert, TlsRefusal, check_provisioning_chain,
};

/// Where the verifier leaves its verdict for the device core: `None` until rustls has asked it
/// (and still `None` if the client sent no certificate: rustls refuses that itself, see
/// [`verdict_after_error`]). Each verification overwrites it, so use one server config — and so
/// one slot — per connection.
pub type VerdictSlot = Arc<Mutex<Option<Result<AcceptedChain, TlsRefusal>>>>;

/// The current verdict in `slot`, if any (a poisoned lock is read anyway).
pub fn read_verdict(slot: &VerdictSlot) -> Option<Result<AcceptedChain, TlsRefusal>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// The firmware refusal behind a failed setup handshake: the slot's refusal if the verifier
/// refused the chain, [`TlsRefusal::NoClientCertificate`] if rustls refused an empty client
/// certificate message, otherwise `None` — the handshake failed for another reason (no common
/// version or cipher suite, a bad CertificateVerify signature after an accepted chain, garbage).
pub fn verdict_after_error(slot: &VerdictSlot, error: &rustls::Error) -> Option<TlsRefusal> {
    match read_verdict(slot) {
        Some(Err(refusal)) => Some(refusal),
        Some(Ok(_)) => None,
        None => matches!(error, rustls::Error::NoCertificatesPresented)
            .then_some(TlsRefusal::NoClientCertificate),
    }
}

/// The [`TlsRefusal`] inside a rustls error made by this verifier with the certificate_unknown
/// mapping, if that is what `error` is.
pub fn refusal_in_error(error: &rustls::Error) -> Option<&TlsRefusal> {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<TlsRefusal>()
        }
        _ => None,
    }
}

/// The rustls error that makes rustls send `alert` for `refusal`.
fn refusal_error(refusal: TlsRefusal, alert: RefusalAlert) -> rustls::Error {
    let cert_error = match alert {
        RefusalAlert::CertificateUnknown => CertificateError::Other(OtherError(Arc::new(refusal))),
        RefusalAlert::UnknownCa => CertificateError::UnknownIssuer,
        RefusalAlert::BadCertificate => CertificateError::BadEncoding,
    };
    rustls::Error::InvalidCertificate(cert_error)
}

/// Client-certificate verifier enforcing the firmware policy; client auth is mandatory.
#[derive(Debug)]
pub(crate) struct AmtClientVerifier {
    policy: ProvisioningPolicy,
    slot: VerdictSlot,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AmtClientVerifier {
    /// A verifier for `policy` that reports into `slot`; `algorithms` check the client's
    /// handshake signature (the provider's).
    pub(crate) fn new(
        policy: ProvisioningPolicy,
        slot: VerdictSlot,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        Self {
            policy,
            slot,
            algorithms,
        }
    }
}

impl ClientCertVerifier for AmtClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// AMT names no acceptable CAs: the client sends its provisioning chain regardless.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let mut chain = Vec::with_capacity(intermediates.len() + 1);
        chain.push(end_entity.clone());
        chain.extend(intermediates.iter().cloned());
        let verdict = check_provisioning_chain(&chain, &self.policy);
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(verdict.clone());
        match verdict {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err(refusal) => Err(refusal_error(refusal, self.policy.alert)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_errors_map_to_the_chosen_alerts() {
        let r = TlsRefusal::NoDomainSuffix;
        let e = refusal_error(r.clone(), RefusalAlert::CertificateUnknown);
        assert_eq!(refusal_in_error(&e), Some(&r));
        for (alert, want) in [
            (
                RefusalAlert::CertificateUnknown,
                rustls::AlertDescription::CertificateUnknown,
            ),
            (RefusalAlert::UnknownCa, rustls::AlertDescription::UnknownCA),
            (
                RefusalAlert::BadCertificate,
                rustls::AlertDescription::BadCertificate,
            ),
        ] {
            let rustls::Error::InvalidCertificate(ce) = refusal_error(r.clone(), alert) else {
                panic!("not a certificate error");
            };
            assert_eq!(rustls::AlertDescription::from(ce), want);
        }
        assert_eq!(
            refusal_in_error(&refusal_error(r, RefusalAlert::UnknownCa)),
            None
        );
    }

    #[test]
    fn no_certificates_presented_is_reported_as_no_client_certificate() {
        let slot = VerdictSlot::default();
        assert_eq!(
            verdict_after_error(&slot, &rustls::Error::NoCertificatesPresented),
            Some(TlsRefusal::NoClientCertificate)
        );
        assert_eq!(
            verdict_after_error(&slot, &rustls::Error::HandshakeNotComplete),
            None
        );
        *slot.lock().expect("lock") = Some(Err(TlsRefusal::NoDomainSuffix));
        assert_eq!(
            verdict_after_error(&slot, &rustls::Error::HandshakeNotComplete),
            Some(TlsRefusal::NoDomainSuffix)
        );
        // An accepted chain followed by another failure is not a firmware refusal.
        *slot.lock().expect("lock") = Some(Ok(AcceptedChain {
            leaf_cn: "x".to_owned(),
            root_thumbprint_sha256: amt_wire::thumbprint::Thumbprint::of_der(
                amt_wire::thumbprint::HashAlgorithm::Sha256,
                b"root",
            ),
            matched_hash_name: "h".to_owned(),
            chain_len: 2,
        }));
        assert_eq!(
            verdict_after_error(&slot, &rustls::Error::DecryptError),
            None
        );
    }
}
