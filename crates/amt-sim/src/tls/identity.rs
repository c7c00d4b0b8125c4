//! The device's TLS server identity: its certificate plus a key from the device key pool.
//!
//! Before provisioning, AMT serves a **self-signed** certificate that it creates "when the
//! provisioning starts" (amt-protocol.md §2.5, IRG-tls); its notBefore is the device clock at that
//! moment, which on an un-set clock is 2004-01-01 (the "date zero" case). After provisioning the
//! device serves the certificate the provisioning server stored with `AddCertificate`, whose key
//! came from `GenerateKeyPair` (a pool key, see [`crate::keypool`]).

use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest as _, Sha256};

use super::TlsError;
use crate::keypool;

/// A TLS server certificate and the pool key that goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The certificate the device serves (DER).
    pub cert_der: CertificateDer<'static>,
    /// Index into [`crate::keypool`] of its private key (taken modulo the pool size).
    pub pool_index: usize,
}

impl DeviceIdentity {
    /// The private key, as rustls loads it.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            keypool::pkcs8_der(self.pool_index).to_vec(),
        ))
    }

    /// The certificate's thumbprint (e.g. what CSME 19 host-based setup returns as
    /// `AMTCertHash`, and what clients pin).
    pub fn thumbprint(&self, algorithm: HashAlgorithm) -> Thumbprint {
        Thumbprint::of_der(algorithm, self.cert_der.as_ref())
    }
}

/// Makes the device's self-signed RSA-2048 certificate: subject `CN=<common_name>` (also a DNS
/// SAN when it is an ASCII host name), valid from `not_before` (the device clock) for
/// `validity_days`, serverAuth, signed with pool key `pool_index` using SHA-256.
///
/// The serial number is derived from the key, name and notBefore, so the same inputs give the
/// same certificate bytes (RSA PKCS#1 v1.5 signatures are deterministic).
pub fn self_signed_identity(
    pool_index: usize,
    common_name: &str,
    not_before: Timestamp,
    validity_days: u32,
) -> Result<DeviceIdentity, TlsError> {
    let bad_validity = || TlsError::Validity {
        not_before,
        validity_days,
    };
    let start = time::OffsetDateTime::from_unix_timestamp(not_before.unix_secs())
        .map_err(|_| bad_validity())?;
    let end = start
        .checked_add(time::Duration::days(i64::from(validity_days)))
        .filter(|end| end.year() <= 9999)
        .ok_or_else(bad_validity)?;
    if start.year() < 1950 {
        return Err(bad_validity());
    }

    let key = keypool::key_pair(pool_index);
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if is_host_name(common_name) {
        let dns = common_name
            .try_into()
            .map_err(|source| TlsError::Certificate {
                common_name: common_name.to_owned(),
                source,
            })?;
        params.subject_alt_names = vec![SanType::DnsName(dns)];
    }
    params.not_before = start;
    params.not_after = end;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.serial_number = Some(serial_for(pool_index, common_name, not_before));
    let cert = params
        .self_signed(key)
        .map_err(|source| TlsError::Certificate {
            common_name: common_name.to_owned(),
            source,
        })?;
    Ok(DeviceIdentity {
        cert_der: cert.der().clone(),
        pool_index,
    })
}

/// The identity after provisioning: the certificate stored with `AddCertificate` and the pool key
/// `GenerateKeyPair` handed out. Whether they match is checked when a config is built from it.
pub fn identity_from_der(cert_der: Vec<u8>, pool_index: usize) -> DeviceIdentity {
    DeviceIdentity {
        cert_der: CertificateDer::from(cert_der),
        pool_index,
    }
}

/// A positive 16-byte serial from the inputs.
fn serial_for(pool_index: usize, common_name: &str, not_before: Timestamp) -> SerialNumber {
    let mut h = Sha256::new();
    h.update(keypool::subject_public_key_info_der(pool_index));
    h.update(common_name.as_bytes());
    h.update(not_before.unix_millis().to_be_bytes());
    let digest = h.finalize();
    let mut serial: Vec<u8> = digest.iter().take(16).copied().collect();
    if let Some(first) = serial.first_mut() {
        // Positive and without a leading zero byte, so the DER INTEGER keeps 16 bytes.
        *first = (*first & 0x7f) | 0x40;
    }
    SerialNumber::from_slice(&serial)
}

/// An ASCII host name (letters, digits, `-`, `.`), usable as a DNS SAN.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2004-01-01T00:00:00Z, the un-set AMT clock.
    const DATE_ZERO: Timestamp = Timestamp::from_unix_secs(1_072_915_200);

    #[test]
    fn date_zero_clock_gives_a_date_zero_not_before() {
        let id = self_signed_identity(2, "amt-device-01.corp.amt-sim.test", DATE_ZERO, 365)
            .expect("identity");
        let (_, cert) = x509_parser::parse_x509_certificate(id.cert_der.as_ref()).expect("parse");
        let v = cert.tbs_certificate.validity();
        assert_eq!(v.not_before.timestamp(), 1_072_915_200);
        assert_eq!(v.not_after.timestamp(), 1_072_915_200 + 365 * 86_400);
        assert_eq!(
            cert.tbs_certificate.subject().to_string(),
            "CN=amt-device-01.corp.amt-sim.test"
        );
        assert_eq!(
            cert.tbs_certificate.public_key().raw,
            keypool::subject_public_key_info_der(2).as_slice()
        );
        let san = cert
            .tbs_certificate
            .subject_alternative_name()
            .expect("san ok")
            .expect("san present");
        assert_eq!(san.value.general_names.len(), 1);
        assert_eq!(id.private_key_der().secret_der(), keypool::pkcs8_der(2));
    }

    #[test]
    fn same_inputs_same_bytes_other_inputs_other_serial() {
        let a = self_signed_identity(0, "dev", DATE_ZERO, 10).expect("a");
        let b = self_signed_identity(0, "dev", DATE_ZERO, 10).expect("b");
        let c = self_signed_identity(1, "dev", DATE_ZERO, 10).expect("c");
        assert_eq!(a, b);
        let serial = |id: &DeviceIdentity| {
            let (_, cert) =
                x509_parser::parse_x509_certificate(id.cert_der.as_ref()).expect("parse");
            cert.tbs_certificate.raw_serial().to_vec()
        };
        assert_eq!(serial(&a).len(), 16);
        assert_ne!(serial(&a), serial(&c));
        assert_eq!(
            a.thumbprint(HashAlgorithm::Sha256),
            Thumbprint::of_der(HashAlgorithm::Sha256, a.cert_der.as_ref())
        );
    }

    #[test]
    fn unrepresentable_validity_is_an_error() {
        let far = Timestamp::from_unix_secs(253_402_300_000); // after 9999-12-31
        assert!(matches!(
            self_signed_identity(0, "dev", far, 1),
            Err(TlsError::Validity { .. })
        ));
        assert!(matches!(
            self_signed_identity(0, "dev", Timestamp::from_unix_secs(-1_000_000_000_000), 1),
            Err(TlsError::Validity { .. })
        ));
        // A CN that is not a host name gets no SAN but still works.
        let id = self_signed_identity(0, "Intel(R) AMT", DATE_ZERO, 1).expect("id");
        let (_, cert) = x509_parser::parse_x509_certificate(id.cert_der.as_ref()).expect("parse");
        assert!(
            cert.tbs_certificate
                .subject_alternative_name()
                .expect("ok")
                .is_none()
        );
    }
}
