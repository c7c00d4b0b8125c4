//! Certificate signature algorithms rustls-webpki leaves out but old AMT firmware accepts:
//! RSA PKCS#1 v1.5 with SHA-1, and RSA keys from 1024 bits (webpki starts at 2048).
//!
//! Path validation accepts these so that personality knobs, not the library, decide what a
//! device refuses: ME 16+ refuses SHA-1 and short keys through `ProvisioningPolicy::refuse_sha1`
//! and `min_rsa_key_bits`, checked before path validation. Verification is aws-lc-rs's.

use aws_lc_rs::signature::{self as sig, RsaParameters, UnparsedPublicKey};
use rustls_pki_types::{
    AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};

/// An RSA PKCS#1 v1.5 verification algorithm with aws-lc-rs parameters.
struct LegacyRsa {
    name: &'static str,
    params: &'static RsaParameters,
    /// DER contents of the signature `AlgorithmIdentifier` (OID and NULL parameters).
    signature_alg_id: &'static [u8],
}

impl std::fmt::Debug for LegacyRsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl SignatureVerificationAlgorithm for LegacyRsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        UnparsedPublicKey::new(self.params, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(self.signature_alg_id)
    }

    fn fips(&self) -> bool {
        false
    }
}

/// sha1WithRSAEncryption, RSA keys of 1024 to 8192 bits.
pub(crate) static RSA_PKCS1_SHA1: &dyn SignatureVerificationAlgorithm = &LegacyRsa {
    name: "RSA_PKCS1_1024_8192_SHA1",
    params: &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
    signature_alg_id: &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
    ],
};

/// sha256WithRSAEncryption, RSA keys of 1024 to 8192 bits.
pub(crate) static RSA_PKCS1_SHA256: &dyn SignatureVerificationAlgorithm = &LegacyRsa {
    name: "RSA_PKCS1_1024_8192_SHA256",
    params: &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    signature_alg_id: &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ],
};

/// sha512WithRSAEncryption, RSA keys of 1024 to 8192 bits.
pub(crate) static RSA_PKCS1_SHA512: &dyn SignatureVerificationAlgorithm = &LegacyRsa {
    name: "RSA_PKCS1_1024_8192_SHA512",
    params: &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
    signature_alg_id: &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
    ],
};

/// The algorithms path validation uses: these first (webpki takes the first algorithm whose
/// identifiers match, so they shadow webpki's 2048-bit-minimum RSA ones), then all of webpki's.
pub(crate) fn verification_algorithms() -> Vec<&'static dyn SignatureVerificationAlgorithm> {
    let mut algs = vec![RSA_PKCS1_SHA1, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512];
    algs.extend_from_slice(webpki::ALL_VERIFICATION_ALGS);
    algs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_identifier_matches_pki_types() {
        assert_eq!(
            RSA_PKCS1_SHA256.signature_alg_id(),
            alg_id::RSA_PKCS1_SHA256
        );
        assert_eq!(
            RSA_PKCS1_SHA512.signature_alg_id(),
            alg_id::RSA_PKCS1_SHA512
        );
        assert_eq!(format!("{RSA_PKCS1_SHA1:?}"), "RSA_PKCS1_1024_8192_SHA1");
    }

    #[test]
    fn sha1_signature_of_the_committed_sha1_root_verifies() {
        let pem = include_str!("../../../../certs/root-sha1.cert.pem");
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .expect("pem")
            .1
            .contents;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("cert");
        let key = &cert.tbs_certificate.public_key().subject_public_key.data;
        let tbs = cert.tbs_certificate.as_ref();
        let signature = &cert.signature_value.data;
        assert!(RSA_PKCS1_SHA1.verify_signature(key, tbs, signature).is_ok());
        assert!(
            RSA_PKCS1_SHA1
                .verify_signature(key, b"other", signature)
                .is_err()
        );
        assert!(
            RSA_PKCS1_SHA256
                .verify_signature(key, tbs, signature)
                .is_err()
        );
    }
}
