//! Enterprise CA model: issues the AMT web server certificate from the device's CSR, revokes, CRL.
//!
//! Pure: the CA certificate and key come in as PEM text (read by the caller, e.g.
//! [`crate::io::pki::load_enterprise_ca`], or [`EnterpriseCaModel::test_default`] which embeds the
//! repository's test CA). Certificates are real: signed by the CA key over the CSR's public key,
//! subject from the CSR, EKU serverAuth, SAN = the device FQDN. Failures mirror error-catalog A-09
//! (template permissions), A-10 (DCOM access denied), A-17 (revocation denied), A-19 (CRL).

use std::collections::BTreeSet;
use std::time::Duration;

use amt_wire::time::Timestamp;
use rcgen::{
    CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use thiserror::Error;
use time::OffsetDateTime;

use crate::env::{CaDenial, EnterpriseCa};
use crate::logs::{LogError, Logs};
use crate::logs::{LogId, ids};

/// Validity of issued certificates (the Web Server template default: two years).
const VALIDITY: Duration = Duration::from_secs(2 * 365 * 24 * 3600);
/// Issued certificates start a day early, so a device clock slightly behind still accepts them.
const BACKDATE: Duration = Duration::from_secs(24 * 3600);
/// Largest CSR accepted (AMT CSRs are ~1 KiB).
const MAX_CSR_LEN: usize = 16 * 1024;

/// Why the CA refused.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum CaError {
    /// The site server has no Read + Enroll on the template.
    #[error("template {template:?}: the site server lacks Read and Enroll permissions")]
    TemplatePermissions {
        /// The template requested.
        template: String,
    },
    /// The site server has no DCOM access to the CA: `ICertRequest2->Submit` 0x80070005.
    #[error("ICertRequest2->Submit failed: 0x80070005 (no DCOM access to the CA)")]
    DcomAccessDenied,
    /// The site server may not revoke: 0x80070005.
    #[error("revocation of certificate {serial} denied: 0x80070005")]
    RevocationDenied {
        /// Serial (hex) of the certificate.
        serial: String,
    },
    /// The CSR could not be parsed or verified, or the certificate could not be built.
    #[error("bad certificate request: {detail}")]
    BadCsr {
        /// What was wrong.
        detail: String,
    },
    /// The CA certificate or key could not be loaded.
    #[error("enterprise CA: {detail}")]
    BadIssuer {
        /// What was wrong.
        detail: String,
    },
    /// No issued certificate has this serial.
    #[error("no issued certificate with serial {serial}")]
    UnknownSerial {
        /// Serial (hex) asked for.
        serial: String,
    },
}

impl CaError {
    /// A stable id: `ca/template-permissions`, `ca/dcom-access-denied`, `ca/revocation-denied`,
    /// `ca/bad-csr`, `ca/bad-issuer`, `ca/unknown-serial`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::TemplatePermissions { .. } => "ca/template-permissions",
            Self::DcomAccessDenied => "ca/dcom-access-denied",
            Self::RevocationDenied { .. } => "ca/revocation-denied",
            Self::BadCsr { .. } => "ca/bad-csr",
            Self::BadIssuer { .. } => "ca/bad-issuer",
            Self::UnknownSerial { .. } => "ca/unknown-serial",
        }
    }

    /// The catalog ids this failure writes, in order: A-09 (amtopmgr.log), A-10 (amtproxymgr.log),
    /// A-17 (two amtproxymgr.log lines, argument `cert_id`). Others write nothing documented.
    pub fn log_ids(&self) -> &'static [LogId] {
        match self {
            Self::TemplatePermissions { .. } => &[ids::A_09],
            Self::DcomAccessDenied => &[ids::A_10],
            Self::RevocationDenied { .. } => &[ids::A_17_REVOKE, ids::A_17_REVOKE_EXISTED],
            Self::BadCsr { .. } | Self::BadIssuer { .. } | Self::UnknownSerial { .. } => &[],
        }
    }

    /// Writes this failure's documented lines ([`Self::log_ids`]) to `logs`; the A-17 lines name
    /// the certificate by its serial.
    pub fn emit_logs(&self, logs: &mut Logs, now: Timestamp) -> Result<(), LogError> {
        let serial = match self {
            Self::RevocationDenied { serial } => serial.as_str(),
            _ => "",
        };
        for id in self.log_ids() {
            logs.emit(*id, &[("cert_id", serial)], now)?;
        }
        Ok(())
    }
}

/// A certificate the CA issued.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its serial number, upper-case hex (the "certificate ID" of A-17 lines).
    pub serial: String,
    /// End of validity.
    pub not_after: Timestamp,
}

/// The enterprise CA.
pub struct EnterpriseCaModel {
    config: EnterpriseCa,
    issuer: Issuer<'static, KeyPair>,
    issuer_der: Vec<u8>,
    next_serial: u64,
    issued: Vec<IssuedCertificate>,
    revoked: BTreeSet<String>,
    /// The site database's record of the certificates published after issuance (seed 002's
    /// pattern, [`crate::site::publish`]): kept beside the CA that issues them, so a session
    /// reaches both through one borrow.
    site_database: crate::site::publish::SiteDatabase,
}

impl std::fmt::Debug for EnterpriseCaModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterpriseCaModel")
            .field("config", &self.config)
            .field("issued", &self.issued.len())
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl EnterpriseCaModel {
    /// The CA from its configuration and the PEM text of its certificate and (PKCS#8 RSA) key.
    pub fn from_pem(config: &EnterpriseCa, cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let bad = |what: &str, e: rcgen::Error| CaError::BadIssuer {
            detail: format!("{what}: {e}"),
        };
        let key = KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256)
            .or_else(|_| KeyPair::from_pem(key_pem))
            .map_err(|e| bad("key", e))?;
        let issuer_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::BadIssuer {
                detail: format!("certificate: {e}"),
            })?
            .to_vec();
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(|e| bad("certificate", e))?;
        Ok(Self {
            config: config.clone(),
            issuer,
            issuer_der,
            next_serial: 1,
            issued: Vec::new(),
            revoked: BTreeSet::new(),
            site_database: crate::site::publish::SiteDatabase::default(),
        })
    }

    /// The repository's test enterprise CA (`certs/enterprise-ca.*`, embedded at build time) with
    /// the default configuration.
    pub fn test_default() -> Result<Self, CaError> {
        Self::from_pem(
            &EnterpriseCa::default(),
            include_str!("../../../certs/enterprise-ca.cert.pem"),
            include_str!("../../../certs/enterprise-ca.TEST-ONLY.key.pem"),
        )
    }

    /// The configuration (template, denials).
    pub fn config(&self) -> &EnterpriseCa {
        &self.config
    }

    /// Changes the configuration (e.g. a scenario that denies revocation later).
    pub fn set_config(&mut self, config: EnterpriseCa) {
        self.config = config;
    }

    /// The CA certificate, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// Issues a web server certificate for the CSR (`csr_der`, PKCS#10 signed by the device key)
    /// with `template`, for the device reached as `fqdn`. The subject is the CSR's (CN = `fqdn` if
    /// the CSR has none), SAN = DNS `fqdn`, EKU serverAuth, valid from `now` − 1 day for 2 years.
    ///
    /// Denials come from the configuration: `deny: template-permissions` or
    /// `dcom-access-denied`. A template other than the configured one is treated as one the
    /// site server has no permissions on.
    pub fn issue(
        &mut self,
        csr_der: &[u8],
        template: &str,
        fqdn: &str,
        now: Timestamp,
    ) -> Result<IssuedCertificate, CaError> {
        match self.config.deny {
            Some(CaDenial::DcomAccessDenied) => return Err(CaError::DcomAccessDenied),
            Some(CaDenial::TemplatePermissions) => {
                return Err(CaError::TemplatePermissions {
                    template: template.to_owned(),
                });
            }
            None => {}
        }
        if !template.eq_ignore_ascii_case(&self.config.template) {
            return Err(CaError::TemplatePermissions {
                template: template.to_owned(),
            });
        }
        if csr_der.len() > MAX_CSR_LEN {
            return Err(CaError::BadCsr {
                detail: format!("{} bytes, more than {MAX_CSR_LEN}", csr_der.len()),
            });
        }
        let bad = |e: rcgen::Error| CaError::BadCsr {
            detail: e.to_string(),
        };
        let der = CertificateSigningRequestDer::from(csr_der);
        let mut csr = CertificateSigningRequestParams::from_der(&der).map_err(bad)?;
        let p = &mut csr.params;
        if p.distinguished_name.get(&DnType::CommonName).is_none() {
            p.distinguished_name.push(DnType::CommonName, fqdn);
        }
        let dns = fqdn.try_into().map_err(bad)?;
        p.subject_alt_names = vec![SanType::DnsName(dns)];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.use_authority_key_identifier_extension = true;
        let not_before = now.saturating_sub(BACKDATE);
        let not_after = now.saturating_add(VALIDITY);
        p.not_before = to_datetime(not_before)?;
        p.not_after = to_datetime(not_after)?;
        let serial_bytes = self.serial_bytes();
        let serial = hex::encode_upper(&serial_bytes);
        p.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
        let cert = csr.signed_by(&self.issuer).map_err(bad)?;
        self.next_serial = self.next_serial.saturating_add(1);
        let issued = IssuedCertificate {
            der: cert.der().to_vec(),
            serial,
            not_after,
        };
        self.issued.push(issued.clone());
        Ok(issued)
    }

    /// Serial of the next certificate: `0x61 0x6D 0x74` ("amt") then the counter, big-endian.
    fn serial_bytes(&self) -> Vec<u8> {
        let mut out = b"amt".to_vec();
        out.extend_from_slice(&self.next_serial.to_be_bytes());
        out
    }

    /// Revokes the issued certificate with this serial (hex, any case). Fails with
    /// [`CaError::RevocationDenied`] when the site server lacks "Issue and Manage Certificates".
    pub fn revoke(&mut self, serial: &str) -> Result<(), CaError> {
        if self.config.revocation_denied {
            return Err(CaError::RevocationDenied {
                serial: serial.to_ascii_uppercase(),
            });
        }
        let serial = serial.to_ascii_uppercase();
        if !self.issued.iter().any(|c| c.serial == serial) {
            return Err(CaError::UnknownSerial { serial });
        }
        self.revoked.insert(serial);
        Ok(())
    }

    /// Whether the certificate with this serial was revoked.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.revoked.contains(&serial.to_ascii_uppercase())
    }

    /// The site database's record of published certificates.
    pub fn site_database(&self) -> &crate::site::publish::SiteDatabase {
        &self.site_database
    }

    /// The site database, to publish to.
    pub fn site_database_mut(&mut self) -> &mut crate::site::publish::SiteDatabase {
        &mut self.site_database
    }

    /// Every certificate issued, in order.
    pub fn issued(&self) -> &[IssuedCertificate] {
        &self.issued
    }

    /// Whether the CRL is reachable (A-19 when not: WinRM on Windows Server 2008 R2 fails).
    pub fn crl_reachable(&self) -> bool {
        self.config.crl_reachable
    }
}

/// A timestamp as rcgen's date type (second precision).
fn to_datetime(t: Timestamp) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(t.unix_secs()).map_err(|e| CaError::BadCsr {
        detail: format!("time {t} out of range: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    /// A CSR made with a fresh P-256 key (fast; RSA keys are never generated in tests).
    fn csr(cn: &str) -> Result<Vec<u8>, rcgen::Error> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, cn);
        Ok(params.serialize_request(&key)?.der().to_vec())
    }

    #[test]
    fn issues_a_real_certificate_signed_by_the_enterprise_ca()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut ca = EnterpriseCaModel::test_default()?;
        let now = Timestamp::from_unix_secs(1_800_000_000);
        let fqdn = "amt-device-01.corp.amt-sim.test";
        let issued = ca.issue(&csr(fqdn)?, "AMTWebServer", fqdn, now)?;
        let (_, cert) = X509Certificate::from_der(&issued.der)?;
        let (_, issuer) = X509Certificate::from_der(ca.issuer_der())?;
        assert_eq!(cert.issuer(), issuer.subject());
        assert!(cert.verify_signature(Some(issuer.public_key())).is_ok());
        let cn: Vec<_> = cert
            .subject()
            .iter_common_name()
            .filter_map(|c| c.as_str().ok())
            .collect();
        assert_eq!(cn, vec![fqdn]);
        let eku = cert
            .extended_key_usage()?
            .map(|e| (e.value.server_auth, e.value.client_auth));
        assert_eq!(eku, Some((true, false)));
        let san = cert
            .subject_alternative_name()?
            .map(|s| format!("{:?}", s.value.general_names));
        assert_eq!(san, Some(format!("[DNSName(\"{fqdn}\")]")));
        assert_eq!(
            cert.validity().not_before.timestamp(),
            1_800_000_000 - 86_400
        );
        assert_eq!(issued.serial, "616D740000000000000001");
        assert_eq!(ca.revoke(&issued.serial.to_lowercase()), Ok(()));
        assert!(ca.is_revoked(&issued.serial));
        Ok(())
    }

    #[test]
    fn denials_map_to_catalog_lines() -> Result<(), Box<dyn std::error::Error>> {
        let mut ca = EnterpriseCaModel::test_default()?;
        let now = Timestamp::from_unix_secs(1_800_000_000);
        let request = csr("x")?;
        let mut cfg = EnterpriseCa {
            deny: Some(CaDenial::TemplatePermissions),
            ..EnterpriseCa::default()
        };
        ca.set_config(cfg.clone());
        let err = ca.issue(&request, "AMTWebServer", "x.test", now);
        assert_eq!(
            err.as_ref().map_err(CaError::log_ids),
            Err(&[ids::A_09][..])
        );
        cfg.deny = Some(CaDenial::DcomAccessDenied);
        ca.set_config(cfg.clone());
        let err = ca.issue(&request, "AMTWebServer", "x.test", now);
        assert_eq!(err.map_err(|e| e.id()), Err("ca/dcom-access-denied"));
        cfg.deny = None;
        ca.set_config(cfg.clone());
        let err = ca.issue(&request, "WebServer", "x.test", now);
        assert_eq!(err.map_err(|e| e.id()), Err("ca/template-permissions"));
        let err = ca.issue(b"garbage", "AMTWebServer", "x.test", now);
        assert_eq!(err.map_err(|e| e.id()), Err("ca/bad-csr"));
        let issued = ca.issue(&request, "AMTWebServer", "x.test", now)?;
        cfg.revocation_denied = true;
        ca.set_config(cfg);
        let err = ca.revoke(&issued.serial);
        assert_eq!(
            err.map_err(|e| e.log_ids()),
            Err(&[ids::A_17_REVOKE, ids::A_17_REVOKE_EXISTED][..])
        );
        assert!(ca.crl_reachable());
        Ok(())
    }
}
