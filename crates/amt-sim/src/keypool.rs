//! The device key pool: eight committed RSA-2048 keys that simulated devices use instead of
//! generating their own.
//!
//! RSA-2048 key generation costs about 70 ms (crates.md §2.2): a fleet of 1,000 devices would spend
//! over a minute of CPU just on keys, and tests would be slow and non-deterministic. So devices
//! never generate keys. This is a **documented simulator choice**, not firmware behaviour:
//!
//! - a device's self-signed TLS certificate (made "when provisioning starts") is signed with the
//!   pool key its profile selects (see `tls::self_signed_identity`);
//! - `AMT_PublicKeyManagementService.GenerateKeyPair` hands out the *next* pool key instead of
//!   generating a fresh one, so several simulated devices, and several key pairs of one device,
//!   share keys. A provisioning server cannot tell (it only ever sees public keys and signatures).
//!
//! The keys are `certs/device-pool/device-pool-NN.TEST-ONLY.key.pem` (PKCS#8), generated and
//! checked by `cargo xtask certs` (`--check` proves each is RSA-2048 and all differ) and embedded
//! here with `include_str!`. They are public test material: never use them for anything real.
//!
//! Every function takes any `index` and uses `index % POOL_SIZE`, so callers can count freely.

use std::sync::OnceLock;

use rcgen::{KeyPair, PublicKeyData as _};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;

/// Number of keys in the pool.
pub const POOL_SIZE: usize = 8;

/// The committed PEM files, in index order.
const POOL_PEMS: [&str; POOL_SIZE] = [
    include_str!("../../../certs/device-pool/device-pool-00.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-01.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-02.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-03.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-04.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-05.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-06.TEST-ONLY.key.pem"),
    include_str!("../../../certs/device-pool/device-pool-07.TEST-ONLY.key.pem"),
];

/// One pool key in the encodings callers need, decoded once.
struct PoolKey {
    /// PKCS#8 `PrivateKeyInfo` DER.
    pkcs8: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER.
    rsa_public: Vec<u8>,
    /// X.509 `SubjectPublicKeyInfo` DER.
    spki: Vec<u8>,
    /// The parsed key, for signing (parsing an RSA key costs about half a TLS handshake).
    key: KeyPair,
}

/// The decoded pool. The PEM files are compile-time constants checked by `cargo xtask certs
/// --check` and by this module's tests, so decoding cannot fail on a valid build; if the files
/// were replaced by garbage, the first use panics with the file index.
fn pool() -> &'static [PoolKey; POOL_SIZE] {
    static POOL: OnceLock<[PoolKey; POOL_SIZE]> = OnceLock::new();
    POOL.get_or_init(|| {
        std::array::from_fn(|i| {
            decode(POOL_PEMS[i]).unwrap_or_else(|e| {
                panic!("device-pool-{i:02}.TEST-ONLY.key.pem is not a valid embedded key: {e}")
            })
        })
    })
}

/// Decodes one PEM file into the three encodings.
fn decode(pem: &str) -> Result<PoolKey, String> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| e.to_string())?;
    let pkcs8 = der.secret_pkcs8_der().to_vec();
    let key = KeyPair::try_from(pkcs8.as_slice()).map_err(|e| e.to_string())?;
    Ok(PoolKey {
        rsa_public: key.public_key_raw().to_vec(),
        spki: key.subject_public_key_info(),
        pkcs8,
        key,
    })
}

fn entry(index: usize) -> &'static PoolKey {
    &pool()[index % POOL_SIZE]
}

/// PKCS#8 `PrivateKeyInfo` DER of pool key `index % POOL_SIZE` (what rustls loads as
/// `PrivateKeyDer::Pkcs8`).
pub fn pkcs8_der(index: usize) -> &'static [u8] {
    &entry(index).pkcs8
}

/// Pool key `index % POOL_SIZE` as an rcgen key pair, for signing certificates and CSRs. Parsed
/// once with the pool: re-parsing an RSA key on every use cost 0.6 of a TLS handshake per
/// provisioning (measured before this cache by `cargo xtask bench device`).
pub fn key_pair(index: usize) -> &'static KeyPair {
    &entry(index).key
}

/// PKCS#1 `RSAPublicKey` DER of pool key `index % POOL_SIZE`: what
/// `AMT_PublicPrivateKeyPair.DERKey` carries (base64 of these bytes).
pub fn rsa_public_key_pkcs1_der(index: usize) -> Vec<u8> {
    entry(index).rsa_public.clone()
}

/// X.509 `SubjectPublicKeyInfo` DER of pool key `index % POOL_SIZE`.
pub fn subject_public_key_info_der(index: usize) -> Vec<u8> {
    entry(index).spki.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer as _;
    use x509_parser::public_key::PublicKey;
    use x509_parser::x509::SubjectPublicKeyInfo;

    fn modulus_bits(modulus: &[u8]) -> usize {
        let start = modulus
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(modulus.len());
        let trimmed = &modulus[start..];
        trimmed.first().map_or(0, |first| {
            8 * trimmed.len() - usize::try_from(first.leading_zeros()).unwrap_or(0)
        })
    }

    #[test]
    fn every_pool_key_is_rsa_2048_and_its_encodings_agree() {
        for i in 0..POOL_SIZE {
            let spki_der = subject_public_key_info_der(i);
            let (rest, spki) = SubjectPublicKeyInfo::from_der(&spki_der).expect("SPKI parses");
            assert!(rest.is_empty());
            assert_eq!(
                spki.algorithm.algorithm.to_id_string(),
                "1.2.840.113549.1.1.1"
            );
            assert_eq!(
                spki.subject_public_key.data.as_ref(),
                rsa_public_key_pkcs1_der(i).as_slice(),
                "SPKI BIT STRING holds the PKCS#1 key"
            );
            let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
                panic!("pool key {i} is not RSA");
            };
            assert_eq!(modulus_bits(rsa.modulus), 2048, "pool key {i}");
            assert_eq!(rsa.try_exponent().expect("exponent"), 65_537);
            assert_eq!(key_pair(i).public_key_raw(), rsa_public_key_pkcs1_der(i));
            assert_eq!(key_pair(i).serialized_der(), pkcs8_der(i));
        }
    }

    #[test]
    fn pool_keys_are_distinct_and_indices_wrap() {
        let spkis: Vec<Vec<u8>> = (0..POOL_SIZE).map(subject_public_key_info_der).collect();
        for (i, a) in spkis.iter().enumerate() {
            for b in &spkis[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(pkcs8_der(POOL_SIZE + 3), pkcs8_der(3));
        assert_eq!(
            rsa_public_key_pkcs1_der(usize::MAX),
            rsa_public_key_pkcs1_der(usize::MAX % POOL_SIZE)
        );
    }

    #[test]
    fn pool_key_signs_what_its_certificate_key_verifies() {
        use rcgen::SigningKey as _;
        let key = key_pair(5);
        let params = rcgen::CertificateParams::new(vec!["pool.test".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("self-signed");
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).expect("cert parses");
        assert_eq!(
            parsed.tbs_certificate.public_key().raw,
            subject_public_key_info_der(5).as_slice()
        );
        let signature = key.sign(b"hello pool").expect("sign");
        let ee = webpki::EndEntityCert::try_from(cert.der()).expect("webpki parses");
        let alg = webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256;
        assert!(ee.verify_signature(alg, b"hello pool", &signature).is_ok());
        assert!(ee.verify_signature(alg, b"other", &signature).is_err());
    }
}
