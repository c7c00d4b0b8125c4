//! Reads the PEM files the environment names: provisioning chains and keys, the enterprise CA.

use std::io;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use thiserror::Error;

use crate::ca::{CaError, EnterpriseCaModel};
use crate::env::{EnterpriseCa, ProvisioningCertRef};

/// Largest PEM file read (a chain of a few certificates is a few KiB).
const MAX_PEM_LEN: u64 = 1024 * 1024;

/// Why a PEM file could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PkiFileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file has no usable PEM block of the expected kind.
    #[error("{path}: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The enterprise CA could not be built from its files.
    #[error("enterprise CA: {0}")]
    Ca(#[from] CaError),
}

/// A provisioning certificate as read from disk.
#[derive(Clone, PartialEq, Eq)]
pub struct ProvisioningCert {
    /// The chain, DER, in file order (leaf first, root last).
    pub chain_der: Vec<Vec<u8>>,
    /// The leaf's PKCS#8 private key, DER. Secret: `Debug` redacts it.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for ProvisioningCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningCert")
            .field("chain_len", &self.chain_der.len())
            .field("key_der", &"<redacted>")
            .finish()
    }
}

impl ProvisioningCert {
    /// The last certificate of the chain (the root), if any.
    pub fn root_der(&self) -> Option<&[u8]> {
        self.chain_der.last().map(Vec::as_slice)
    }

    /// The first certificate of the chain (the leaf), if any.
    pub fn leaf_der(&self) -> Option<&[u8]> {
        self.chain_der.first().map(Vec::as_slice)
    }
}

/// Reads a text file the operator names (environment, PEM files), at most 1 MiB; the bound holds
/// while reading, so `/dev/zero` fails fast.
pub fn read_text_limited(path: &Path) -> Result<String, PkiFileError> {
    read_text(path)
}

fn read_text(path: &Path) -> Result<String, PkiFileError> {
    let read = |source| PkiFileError::Read {
        path: path.to_owned(),
        source,
    };
    // Bounded while reading: `/dev/zero` has length 0 in its metadata and never ends.
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = String::new();
    file.take(MAX_PEM_LEN.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(read)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_PEM_LEN {
        return Err(PkiFileError::Pem {
            path: path.to_owned(),
            detail: format!("more than {MAX_PEM_LEN} bytes"),
        });
    }
    Ok(text)
}

/// Reads a provisioning chain and key (`chain_pem`: CERTIFICATE blocks leaf first; `key_pem`: one
/// PKCS#8 `PRIVATE KEY` block).
pub fn read_provisioning_cert(r: &ProvisioningCertRef) -> Result<ProvisioningCert, PkiFileError> {
    let pem_err = |path: &Path, detail: String| PkiFileError::Pem {
        path: path.to_owned(),
        detail,
    };
    let chain_text = read_text(&r.chain_pem)?;
    let chain_der = CertificateDer::pem_slice_iter(chain_text.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(&r.chain_pem, e.to_string()))?;
    if chain_der.is_empty() {
        return Err(pem_err(&r.chain_pem, "no CERTIFICATE block".to_owned()));
    }
    let key_text = read_text(&r.key_pem)?;
    let key_der = PrivatePkcs8KeyDer::from_pem_slice(key_text.as_bytes())
        .map_err(|e| pem_err(&r.key_pem, format!("PKCS#8 PRIVATE KEY: {e}")))?
        .secret_pkcs8_der()
        .to_vec();
    Ok(ProvisioningCert { chain_der, key_der })
}

/// Builds the enterprise CA from the files its configuration names.
pub fn load_enterprise_ca(config: &EnterpriseCa) -> Result<EnterpriseCaModel, PkiFileError> {
    let cert = read_text(&config.issuer_cert_pem)?;
    let key = read_text(&config.issuer_key_pem)?;
    Ok(EnterpriseCaModel::from_pem(config, &cert, &key)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;
    use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};

    #[test]
    fn reads_the_default_test_pki() -> Result<(), Box<dyn std::error::Error>> {
        let env = Environment::default_for_tests();
        let cert = read_provisioning_cert(&env.provisioning_certificates[0])?;
        assert_eq!(cert.chain_der.len(), 3);
        let root = cert.root_der().ok_or("no root")?;
        assert_eq!(
            Thumbprint::of_der(HashAlgorithm::Sha256, root).to_lower_hex(),
            "8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d"
        );
        assert!(!format!("{cert:?}").contains(&format!("{:?}", &cert.key_der[..8])));
        let ca = load_enterprise_ca(&env.enterprise_ca)?;
        assert!(!ca.issuer_der().is_empty());
        Ok(())
    }

    #[test]
    fn missing_and_malformed_files_are_errors() {
        let missing = ProvisioningCertRef {
            chain_pem: PathBuf::from("/nonexistent/chain.pem"),
            key_pem: PathBuf::from("/nonexistent/key.pem"),
        };
        assert!(matches!(
            read_provisioning_cert(&missing),
            Err(PkiFileError::Read { .. })
        ));
        let bad_chain = ProvisioningCertRef {
            chain_pem: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
            key_pem: PathBuf::from("/nonexistent/key.pem"),
        };
        assert!(matches!(
            read_provisioning_cert(&bad_chain),
            Err(PkiFileError::Pem { .. })
        ));
    }
}

#[cfg(all(test, unix))]
mod limit_tests {
    #[test]
    fn an_endless_file_fails_fast() {
        let r = super::read_text_limited(std::path::Path::new("/dev/zero"));
        assert!(r.is_err());
    }
}
