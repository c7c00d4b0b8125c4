//! The firmware's checks on the provisioning (client) certificate chain: pure code, chain and
//! policy in, verdict out.
//!
//! This is what an AMT device enforces during TLS-PKI remote configuration (PRODUCT.md §3 step 3,
//! amt-protocol.md §2.2). [`check_provisioning_chain`] runs the checks in this fixed order and
//! reports the **first** failure, so a scenario that breaks several rules at once always gets the
//! same [`TlsRefusal`]:
//!
//! 1. the client sent a certificate at all ([`TlsRefusal::NoClientCertificate`]) and at most
//!    [`MAX_CHAIN_LEN`] of them ([`TlsRefusal::ChainTooLong`]);
//! 2. every certificate parses as X.509 ([`TlsRefusal::Malformed`]);
//! 3. the **last** presented certificate is self-issued, i.e. the server sent its root
//!    ([`TlsRefusal::RootNotPresented`]: the "Schannel hotfix" case). The chain is taken in the
//!    order sent, leaf first; it is not reordered;
//! 4. that root hashes (with each trusted entry's own algorithm: SHA-1/256/384 of its DER) to an
//!    **active** hash-list entry ([`TlsRefusal::RootNotInHashList`]); only active entries are
//!    passed in;
//! 5. personality limits: root key size ([`TlsRefusal::RootKeyTooLong`]), then the RSA key size of
//!    every certificate, leaf to root ([`TlsRefusal::RsaKeyTooShort`]), then SHA-1 signatures on
//!    any certificate, root included ([`TlsRefusal::Sha1InChain`]). Key sizes are computed from the
//!    modulus (x509-parser's `key_size()` is unreliable); non-RSA keys are not size-checked;
//! 6. validity of every presented certificate, leaf to root, root included, against the
//!    **device** clock ([`TlsRefusal::NotYetValid`] — the "date zero" case when the clock sits at
//!    2004-01-01 — and [`TlsRefusal::Expired`]); bounds are inclusive;
//! 7. path validation with rustls-webpki (signatures, issuer/subject chaining, basic constraints,
//!    path length) with the presented root as the trust anchor and an EKU validator that accepts
//!    any purpose ([`TlsRefusal::PathInvalid`]). SHA-1 signatures and RSA keys from 1024 bits
//!    verify (old firmware accepts them) unless rule 5 already refused them;
//! 8. the leaf carries the AMT provisioning EKU `2.16.840.1.113741.1.2.3` **or** the subject OU
//!    exactly `Intel(R) Client Setup Certificate` (case-sensitive)
//!    ([`TlsRefusal::NoIntelOidOrOu`]); clientAuth is never required;
//! 9. the leaf is a server certificate: if it has an EKU extension, serverAuth (or
//!    anyExtendedKeyUsage) is in it ([`TlsRefusal::NotServerCertificate`]; amt-protocol.md §2.1 3c/d "is a server certificate",
//!    §2.2 "must contain the SSL Server OID"). A leaf without any EKU extension is unrestricted and
//!    passes this rule;
//! 10. the device has a DNS domain ([`TlsRefusal::NoDomainSuffix`]) and the leaf's first subject
//!     CN matches it under the personality's [`CnRule`] ([`TlsRefusal::CnDomainMismatch`]).
//!     Names compare case-insensitively, ignoring a trailing dot.
//!
//! The real firmware's order of checks is not documented; this order follows the flow in
//! amt-protocol.md §2.1 (hash, then certificate contents, then domain).

use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use rustls_pki_types::{CertificateDer, UnixTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x509_parser::certificate::X509Certificate;
use x509_parser::public_key::PublicKey;

use super::legacy;
use crate::deviation::Deviation;

/// The most certificates a presented chain may hold; longer chains are refused before parsing.
pub const MAX_CHAIN_LEN: usize = 8;

/// The AMT provisioning EKU, 2.16.840.1.113741.1.2.3.
pub const OID_AMT_PROVISIONING: &str = "2.16.840.1.113741.1.2.3";

/// The subject OU that AMT accepts instead of the provisioning EKU (exact, case-sensitive).
pub const INTEL_SETUP_OU: &str = "Intel(R) Client Setup Certificate";

/// Signature algorithm OIDs that use SHA-1 (RSA, the old OIW RSA OID, ECDSA, DSA).
const SHA1_SIGNATURE_OIDS: [&str; 4] = [
    "1.2.840.113549.1.1.5",
    "1.3.14.3.2.29",
    "1.2.840.10045.4.1",
    "1.2.840.10040.4.3",
];

/// One **active** entry of the device's root-certificate hash list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedHash {
    /// The thumbprint; its algorithm is the one the root is hashed with.
    pub thumbprint: Thumbprint,
    /// The entry's friendly name (reported in [`AcceptedChain::matched_hash_name`]).
    pub name: String,
}

/// How the leaf's CN is compared with the device's DNS domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CnRule {
    /// The CN equals the domain or ends with `"." + domain`.
    ExactSuffix,
    /// AMT ≥ 3.2.1: only the last two labels of CN and domain are compared
    /// (`sales.contoso.com` matches `marketing.contoso.com`). A one-label domain compares one label.
    #[default]
    LastTwoLabels,
    /// AMT 2.6 (weak source): the last-two-labels comparison, but only when the domain ends in
    /// `.com` or `.net`; any other domain falls back to [`CnRule::ExactSuffix`] (an inference).
    LastTwoLabelsComNetOnly,
}

/// Which TLS alert a refused chain is answered with. The firmware's choice is unverified
/// (amt-protocol.md §2.3); certificate_unknown is what AMT was seen sending elsewhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalAlert {
    /// certificate_unknown (46).
    #[default]
    CertificateUnknown,
    /// unknown_ca (48).
    UnknownCa,
    /// bad_certificate (42).
    BadCertificate,
}

impl RefusalAlert {
    /// The TLS alert description.
    pub fn description(self) -> rustls::AlertDescription {
        match self {
            Self::CertificateUnknown => rustls::AlertDescription::CertificateUnknown,
            Self::UnknownCa => rustls::AlertDescription::UnknownCA,
            Self::BadCertificate => rustls::AlertDescription::BadCertificate,
        }
    }
}

/// What the device's firmware checks the provisioning chain against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisioningPolicy {
    /// The **active** hash-list entries; inactive ones must be left out by the caller.
    pub trusted_hashes: Vec<TrustedHash>,
    /// The device's DNS domain: the MEBx-configured domain, else DHCP option 15. `None` or blank
    /// makes the CN check fail with [`TlsRefusal::NoDomainSuffix`].
    pub dns_suffix: Option<String>,
    /// How the leaf CN is matched against `dns_suffix`.
    pub cn_rule: CnRule,
    /// `Some(2048)` on older firmware: a root key longer than this is refused.
    pub max_root_key_bits: Option<u32>,
    /// `Some(2048)` on ME 16+: any RSA key in the chain shorter than this is refused.
    pub min_rsa_key_bits: Option<u32>,
    /// ME 16+: any SHA-1 signature in the presented chain, the root's own included, is refused.
    pub refuse_sha1: bool,
    /// The **device** clock (possibly the un-set 2004-01-01): validity is checked against it.
    pub now: Timestamp,
    /// Which alert every refusal is answered with.
    pub alert: RefusalAlert,
    /// Deliberate deviations (test knobs): `skip-oid-ou-check`, `accept-expired-chain`.
    pub deviations: crate::deviation::DeviationSet,
}

impl ProvisioningPolicy {
    /// A policy with no personality limits: [`CnRule::LastTwoLabels`], no key-size limits, SHA-1
    /// allowed, certificate_unknown alerts.
    pub fn new(
        trusted_hashes: Vec<TrustedHash>,
        dns_suffix: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            trusted_hashes,
            dns_suffix,
            cn_rule: CnRule::LastTwoLabels,
            max_root_key_bits: None,
            min_rsa_key_bits: None,
            refuse_sha1: false,
            now,
            alert: RefusalAlert::CertificateUnknown,
            deviations: crate::deviation::DeviationSet::NONE,
        }
    }
}

/// A chain the firmware accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedChain {
    /// The leaf's subject CN (the provisioning server's FQDN).
    pub leaf_cn: String,
    /// SHA-256 of the root's DER (whatever algorithm the matching entry used).
    pub root_thumbprint_sha256: Thumbprint,
    /// Name of the first active hash entry the root matched.
    pub matched_hash_name: String,
    /// Number of certificates presented.
    pub chain_len: usize,
}

/// The kind of a firmware refusal of a provisioning chain: a [`TlsRefusal`] without its details,
/// named by its stable id (`root-not-in-hash-list`). Device events, the `refuse_tls` fault and
/// scenarios name refusals by it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    /// No client certificate.
    NoClientCertificate,
    /// A chain longer than the firmware accepts.
    ChainTooLong,
    /// A certificate that does not parse.
    Malformed,
    /// The chain does not end in a root.
    RootNotPresented,
    /// The root's thumbprint is not an active hash-list entry.
    RootNotInHashList,
    /// The leaf has neither the Intel OID nor the Intel OU.
    NoIntelOidOrOu,
    /// The leaf is not a server-authentication certificate.
    NotServerCertificate,
    /// The leaf's CN is outside the device's domain.
    CnDomainMismatch,
    /// The device has no DNS domain to compare with.
    NoDomainSuffix,
    /// The root key is longer than the generation accepts.
    RootKeyTooLong,
    /// An RSA key shorter than the generation accepts.
    RsaKeyTooShort,
    /// SHA-1 in the chain where refused.
    Sha1InChain,
    /// A certificate has expired (device clock).
    Expired,
    /// A certificate is not yet valid (device clock).
    NotYetValid,
    /// The chain does not verify.
    PathInvalid,
}

impl RefusalKind {
    /// Every kind.
    pub const ALL: [Self; 15] = [
        Self::NoClientCertificate,
        Self::ChainTooLong,
        Self::Malformed,
        Self::RootNotPresented,
        Self::RootNotInHashList,
        Self::NoIntelOidOrOu,
        Self::NotServerCertificate,
        Self::CnDomainMismatch,
        Self::NoDomainSuffix,
        Self::RootKeyTooLong,
        Self::RsaKeyTooShort,
        Self::Sha1InChain,
        Self::Expired,
        Self::NotYetValid,
        Self::PathInvalid,
    ];

    /// Stable id.
    pub fn id(self) -> &'static str {
        match self {
            Self::NoClientCertificate => "no-client-certificate",
            Self::ChainTooLong => "chain-too-long",
            Self::Malformed => "malformed",
            Self::RootNotPresented => "root-not-presented",
            Self::RootNotInHashList => "root-not-in-hash-list",
            Self::NoIntelOidOrOu => "no-intel-oid-or-ou",
            Self::NotServerCertificate => "not-server-certificate",
            Self::CnDomainMismatch => "cn-domain-mismatch",
            Self::NoDomainSuffix => "no-domain-suffix",
            Self::RootKeyTooLong => "root-key-too-long",
            Self::RsaKeyTooShort => "rsa-key-too-short",
            Self::Sha1InChain => "sha1-in-chain",
            Self::Expired => "expired",
            Self::NotYetValid => "not-yet-valid",
            Self::PathInvalid => "path-invalid",
        }
    }
}

/// Why the firmware refused a provisioning chain. Each variant has a stable [`TlsRefusal::id`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TlsRefusal {
    /// The client presented no certificate (rustls refuses this itself with
    /// certificate_required; see `tls::verdict_after_error`).
    #[error("the provisioning server presented no client certificate")]
    NoClientCertificate,
    /// More certificates than [`MAX_CHAIN_LEN`].
    #[error("the presented chain has {len} certificates, more than the {max} accepted")]
    ChainTooLong {
        /// Certificates presented.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A certificate does not parse.
    #[error("certificate {index} of the presented chain is malformed: {detail}")]
    Malformed {
        /// Position in the chain as sent (0 = leaf).
        index: usize,
        /// Parser message.
        detail: String,
    },
    /// The last presented certificate is not self-issued: the server did not send its root (e.g.
    /// the missing Schannel hotfix, error-catalog A-02).
    #[error(
        "the presented chain does not end in a root certificate (last is `{subject}`, issued by `{issuer}`)"
    )]
    RootNotPresented {
        /// Subject of the last presented certificate.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// The root's hash is not an active entry of the device's hash list.
    #[error(
        "the root certificate (SHA-1 {sha1}, SHA-256 {sha256}) is not an active entry of the hash list"
    )]
    RootNotInHashList {
        /// SHA-1 of the root's DER.
        sha1: Thumbprint,
        /// SHA-256 of the root's DER.
        sha256: Thumbprint,
    },
    /// The leaf has neither the AMT provisioning EKU nor the Intel setup OU.
    #[error(
        "the leaf `{subject}` has neither EKU {OID_AMT_PROVISIONING} nor OU `{INTEL_SETUP_OU}`"
    )]
    NoIntelOidOrOu {
        /// Leaf subject.
        subject: String,
    },
    /// The leaf's EKU extension lacks serverAuth.
    #[error("the leaf `{subject}` is not a server certificate (EKU without serverAuth)")]
    NotServerCertificate {
        /// Leaf subject.
        subject: String,
    },
    /// The leaf CN does not match the device's DNS domain.
    #[error("the leaf CN `{cn}` does not match the device domain `{domain}`")]
    CnDomainMismatch {
        /// Leaf CN (empty if it has none).
        cn: String,
        /// The device's DNS domain.
        domain: String,
    },
    /// The device has no DNS domain (no MEBx domain, no DHCP option 15).
    #[error("the device has no DNS domain to match the leaf CN against (DHCP option 15 / MEBx)")]
    NoDomainSuffix,
    /// The root key is longer than the firmware supports.
    #[error("the root key has {bits} bits, more than the {max} this firmware supports")]
    RootKeyTooLong {
        /// Root key bits.
        bits: u32,
        /// The limit.
        max: u32,
    },
    /// An RSA key in the chain is shorter than the firmware accepts.
    #[error("`{subject}` has a {bits}-bit RSA key, fewer than the {min} required")]
    RsaKeyTooShort {
        /// Subject of the certificate with the short key.
        subject: String,
        /// Its key bits.
        bits: u32,
        /// The minimum.
        min: u32,
    },
    /// A certificate of the chain is signed with SHA-1.
    #[error("`{subject}` is signed with SHA-1, which this firmware refuses")]
    Sha1InChain {
        /// Subject of the SHA-1-signed certificate.
        subject: String,
    },
    /// A certificate's notAfter is before the device clock.
    #[error("`{subject}` expired at {} (device clock {})", rfc3339(*not_after), rfc3339(*now))]
    Expired {
        /// Subject of the expired certificate.
        subject: String,
        /// Its notAfter.
        not_after: Timestamp,
        /// The device clock.
        now: Timestamp,
    },
    /// A certificate's notBefore is after the device clock (the "date zero" case).
    #[error("`{subject}` is not valid before {} (device clock {})", rfc3339(*not_before), rfc3339(*now))]
    NotYetValid {
        /// Subject of the certificate.
        subject: String,
        /// Its notBefore.
        not_before: Timestamp,
        /// The device clock.
        now: Timestamp,
    },
    /// Path validation failed: a signature, issuer chaining or basic constraints.
    #[error("the chain does not validate up to the presented root: {detail}")]
    PathInvalid {
        /// webpki's error.
        detail: String,
    },
}

impl TlsRefusal {
    /// Stable kebab-case identifier, used in device events and scenario files.
    pub fn id(&self) -> &'static str {
        self.kind().id()
    }

    /// The refusal's kind (the variant without its details).
    pub fn kind(&self) -> RefusalKind {
        match self {
            Self::NoClientCertificate => RefusalKind::NoClientCertificate,
            Self::ChainTooLong { .. } => RefusalKind::ChainTooLong,
            Self::Malformed { .. } => RefusalKind::Malformed,
            Self::RootNotPresented { .. } => RefusalKind::RootNotPresented,
            Self::RootNotInHashList { .. } => RefusalKind::RootNotInHashList,
            Self::NoIntelOidOrOu { .. } => RefusalKind::NoIntelOidOrOu,
            Self::NotServerCertificate { .. } => RefusalKind::NotServerCertificate,
            Self::CnDomainMismatch { .. } => RefusalKind::CnDomainMismatch,
            Self::NoDomainSuffix => RefusalKind::NoDomainSuffix,
            Self::RootKeyTooLong { .. } => RefusalKind::RootKeyTooLong,
            Self::RsaKeyTooShort { .. } => RefusalKind::RsaKeyTooShort,
            Self::Sha1InChain { .. } => RefusalKind::Sha1InChain,
            Self::Expired { .. } => RefusalKind::Expired,
            Self::NotYetValid { .. } => RefusalKind::NotYetValid,
            Self::PathInvalid { .. } => RefusalKind::PathInvalid,
        }
    }

    /// Every id [`TlsRefusal::id`] can return, for scenario validation.
    pub const IDS: [&'static str; 15] = [
        "no-client-certificate",
        "chain-too-long",
        "malformed",
        "root-not-presented",
        "root-not-in-hash-list",
        "no-intel-oid-or-ou",
        "not-server-certificate",
        "cn-domain-mismatch",
        "no-domain-suffix",
        "root-key-too-long",
        "rsa-key-too-short",
        "sha1-in-chain",
        "expired",
        "not-yet-valid",
        "path-invalid",
    ];

    /// The alert the client receives: certificate_required (116) when it sent no certificate
    /// (rustls sends that itself), otherwise the policy's alert.
    pub fn alert(&self, policy_alert: RefusalAlert) -> rustls::AlertDescription {
        match self {
            Self::NoClientCertificate => rustls::AlertDescription::CertificateRequired,
            _ => policy_alert.description(),
        }
    }
}

/// RFC 3339 form of a timestamp for messages (the raw milliseconds if out of range).
fn rfc3339(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.unix_secs())
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// webpki EKU validator that accepts any purpose: AMT's EKU-or-OU rule is checked separately.
struct AnyEku;

impl webpki::ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

/// Bit length of a big-endian modulus, ignoring any number of leading zero bytes.
pub(crate) fn modulus_bits(modulus: &[u8]) -> u32 {
    let start = modulus
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(modulus.len());
    let trimmed = modulus.get(start..).unwrap_or_default();
    trimmed.first().map_or(0, |first| {
        let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
        len.saturating_mul(8).saturating_sub(first.leading_zeros())
    })
}

/// RSA key bits of a certificate, `None` for other key types or an unparsable key.
fn rsa_bits(cert: &X509Certificate<'_>) -> Option<u32> {
    match cert.tbs_certificate.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(modulus_bits(rsa.modulus)),
        _ => None,
    }
}

fn subject_of(cert: &X509Certificate<'_>) -> String {
    cert.tbs_certificate.subject().to_string()
}

/// Checks a presented provisioning chain (as sent: leaf first, root last) against the firmware
/// policy. See the module documentation for the rules and their order.
pub fn check_provisioning_chain(
    chain: &[CertificateDer<'_>],
    policy: &ProvisioningPolicy,
) -> Result<AcceptedChain, TlsRefusal> {
    // 1. Presence and length.
    if chain.is_empty() {
        return Err(TlsRefusal::NoClientCertificate);
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(TlsRefusal::ChainTooLong {
            len: chain.len(),
            max: MAX_CHAIN_LEN,
        });
    }

    // 2. Parse.
    let mut parsed = Vec::with_capacity(chain.len());
    for (index, der) in chain.iter().enumerate() {
        match x509_parser::parse_x509_certificate(der.as_ref()) {
            Ok(([], cert)) => parsed.push(cert),
            Ok(_) => {
                return Err(TlsRefusal::Malformed {
                    index,
                    detail: "trailing bytes after the certificate".to_owned(),
                });
            }
            Err(e) => {
                return Err(TlsRefusal::Malformed {
                    index,
                    detail: e.to_string(),
                });
            }
        }
    }
    let (Some(leaf), Some(root), Some(root_der)) = (parsed.first(), parsed.last(), chain.last())
    else {
        return Err(TlsRefusal::NoClientCertificate);
    };

    // 3. The root was sent.
    let root_tbs = &root.tbs_certificate;
    if root_tbs.subject().as_raw() != root_tbs.issuer().as_raw() {
        return Err(TlsRefusal::RootNotPresented {
            subject: root_tbs.subject().to_string(),
            issuer: root_tbs.issuer().to_string(),
        });
    }

    // 4. The root is an active hash-list entry.
    let Some(matched) = policy
        .trusted_hashes
        .iter()
        .find(|h| h.thumbprint.matches_der(root_der.as_ref()))
        .or_else(|| {
            (policy.trusted_hashes.first())
                .filter(|_| policy.deviations.has(Deviation::AcceptUnlistedRoot))
        })
    else {
        return Err(TlsRefusal::RootNotInHashList {
            sha1: Thumbprint::of_der(HashAlgorithm::Sha1, root_der.as_ref()),
            sha256: Thumbprint::of_der(HashAlgorithm::Sha256, root_der.as_ref()),
        });
    };

    // 5. Personality limits.
    if let (Some(max), Some(bits)) = (policy.max_root_key_bits, rsa_bits(root))
        && bits > max
    {
        return Err(TlsRefusal::RootKeyTooLong { bits, max });
    }
    if let Some(min) = policy.min_rsa_key_bits {
        for cert in &parsed {
            if let Some(bits) = rsa_bits(cert)
                && bits < min
            {
                return Err(TlsRefusal::RsaKeyTooShort {
                    subject: subject_of(cert),
                    bits,
                    min,
                });
            }
        }
    }
    if policy.refuse_sha1 {
        for cert in &parsed {
            let alg = cert.signature_algorithm.algorithm.to_id_string();
            if SHA1_SIGNATURE_OIDS.contains(&alg.as_str()) {
                return Err(TlsRefusal::Sha1InChain {
                    subject: subject_of(cert),
                });
            }
        }
    }

    // 6. Validity against the device clock.
    let now_secs = policy.now.unix_secs();
    for cert in &parsed {
        let validity = cert.tbs_certificate.validity();
        let not_before = validity.not_before.timestamp();
        let not_after = validity.not_after.timestamp();
        if now_secs < not_before {
            return Err(TlsRefusal::NotYetValid {
                subject: subject_of(cert),
                not_before: Timestamp::from_unix_secs(not_before),
                now: policy.now,
            });
        }
        if now_secs > not_after && !policy.deviations.has(Deviation::AcceptExpiredChain) {
            return Err(TlsRefusal::Expired {
                subject: subject_of(cert),
                not_after: Timestamp::from_unix_secs(not_after),
                now: policy.now,
            });
        }
    }

    // 7. Path validation up to the presented root (with the expiry deviation, at the earliest
    // expiry in the chain, so that only the validity rule is skipped).
    let path_time = if policy.deviations.has(Deviation::AcceptExpiredChain) {
        parsed
            .iter()
            .map(|c| c.tbs_certificate.validity().not_after.timestamp())
            .min()
            .map_or(policy.now, |t| Timestamp::from_unix_secs(t.min(now_secs)))
    } else {
        policy.now
    };
    verify_path(chain, path_time)?;

    // 8. EKU OID or OU.
    let leaf_tbs = &leaf.tbs_certificate;
    let eku = leaf_tbs
        .extended_key_usage()
        .map_err(|e| TlsRefusal::Malformed {
            index: 0,
            detail: format!("extended key usage: {e}"),
        })?;
    let has_amt_oid = eku.as_ref().is_some_and(|e| {
        e.value
            .other
            .iter()
            .any(|oid| oid.to_id_string() == OID_AMT_PROVISIONING)
    });
    let has_intel_ou = leaf_tbs
        .subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str() == Ok(INTEL_SETUP_OU));
    if !has_amt_oid && !has_intel_ou && !policy.deviations.has(Deviation::SkipOidOuCheck) {
        return Err(TlsRefusal::NoIntelOidOrOu {
            subject: subject_of(leaf),
        });
    }

    // 9. A server certificate.
    if eku
        .as_ref()
        .is_some_and(|e| !e.value.server_auth && !e.value.any)
        && !policy.deviations.has(Deviation::SkipServerAuthCheck)
    {
        return Err(TlsRefusal::NotServerCertificate {
            subject: subject_of(leaf),
        });
    }

    // 10. CN against the device domain.
    let domain = policy
        .dns_suffix
        .as_deref()
        .map(normalize_name)
        .filter(|d| !d.is_empty())
        .ok_or(TlsRefusal::NoDomainSuffix)?;
    let leaf_cn = leaf_tbs
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !cn_matches(policy.cn_rule, &normalize_name(&leaf_cn), &domain)
        && !policy.deviations.has(Deviation::IgnoreCnDomain)
    {
        return Err(TlsRefusal::CnDomainMismatch {
            cn: leaf_cn,
            domain,
        });
    }

    Ok(AcceptedChain {
        leaf_cn,
        root_thumbprint_sha256: Thumbprint::of_der(HashAlgorithm::Sha256, root_der.as_ref()),
        matched_hash_name: matched.name.clone(),
        chain_len: chain.len(),
    })
}

/// Signatures, chaining and constraints from the leaf to the presented root, at `now`.
fn verify_path(chain: &[CertificateDer<'_>], now: Timestamp) -> Result<(), TlsRefusal> {
    let invalid = |detail: String| TlsRefusal::PathInvalid { detail };
    let (Some(leaf), Some(root)) = (chain.first(), chain.last()) else {
        return Err(TlsRefusal::NoClientCertificate);
    };
    let anchor = webpki::anchor_from_trusted_cert(root)
        .map_err(|e| invalid(format!("root as trust anchor: {e}")))?;
    let ee = webpki::EndEntityCert::try_from(leaf).map_err(|e| invalid(format!("leaf: {e}")))?;
    let intermediates = chain
        .get(1..chain.len().saturating_sub(1))
        .unwrap_or_default();
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(now.unix_secs()).unwrap_or(0),
    ));
    ee.verify_for_usage(
        &legacy::verification_algorithms(),
        &[anchor],
        intermediates,
        time,
        AnyEku,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| invalid(e.to_string()))
}

/// Lower case, surrounding whitespace and one trailing dot removed.
fn normalize_name(name: &str) -> String {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The last `n` labels of a (normalized) name, or `None` if it has fewer.
fn last_labels(name: &str, n: usize) -> Option<Vec<&str>> {
    let labels: Vec<&str> = name.split('.').collect();
    let start = labels.len().checked_sub(n)?;
    labels.get(start..).map(<[&str]>::to_vec)
}

/// Whether a normalized CN matches a normalized, non-empty domain under `rule`.
fn cn_matches(rule: CnRule, cn: &str, domain: &str) -> bool {
    let exact = || cn == domain || cn.ends_with(&format!(".{domain}"));
    let last_two = || {
        let n = domain.split('.').count().min(2);
        match (last_labels(cn, n), last_labels(domain, n)) {
            (Some(a), Some(b)) => a == b && a.iter().all(|l| !l.is_empty()),
            _ => false,
        }
    };
    match rule {
        CnRule::ExactSuffix => exact(),
        CnRule::LastTwoLabels => last_two(),
        CnRule::LastTwoLabelsComNetOnly => {
            if domain.ends_with(".com") || domain.ends_with(".net") {
                last_two()
            } else {
                exact()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zero_bytes() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0, 0]), 0);
        assert_eq!(modulus_bits(&[0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0, 0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0, 0x01, 0]), 9);
    }

    #[test]
    fn cn_rules() {
        let d = "corp.amt-sim.test";
        for (rule, cn, want) in [
            (CnRule::ExactSuffix, "ps.corp.amt-sim.test", true),
            (CnRule::ExactSuffix, "corp.amt-sim.test", true),
            (CnRule::ExactSuffix, "ps.sales.amt-sim.test", false),
            (CnRule::ExactSuffix, "xcorp.amt-sim.test", false),
            (CnRule::LastTwoLabels, "ps.sales.amt-sim.test", true),
            (CnRule::LastTwoLabels, "amt-sim.test", true),
            (CnRule::LastTwoLabels, "ps.other-domain.test", false),
            (CnRule::LastTwoLabels, "test", false),
            (CnRule::LastTwoLabels, "", false),
            (
                CnRule::LastTwoLabelsComNetOnly,
                "ps.sales.amt-sim.test",
                false,
            ),
            (
                CnRule::LastTwoLabelsComNetOnly,
                "ps.corp.amt-sim.test",
                true,
            ),
        ] {
            assert_eq!(cn_matches(rule, cn, d), want, "{rule:?} {cn}");
        }
        let com = "marketing.contoso.com";
        assert!(cn_matches(
            CnRule::LastTwoLabelsComNetOnly,
            "ps.sales.contoso.com",
            com
        ));
        assert!(!cn_matches(
            CnRule::ExactSuffix,
            "ps.sales.contoso.com",
            com
        ));
        // A one-label domain compares one label.
        assert!(cn_matches(CnRule::LastTwoLabels, "host.lan", "lan"));
        assert!(!cn_matches(CnRule::LastTwoLabels, "host.lan.", "lan"));
        assert_eq!(normalize_name(" PS.Corp.Example. "), "ps.corp.example");
    }

    proptest::proptest! {
        /// An exact-suffix match is always a last-two-labels match, never the other way round
        /// for a sibling domain; the rules never panic on odd names.
        #[test]
        fn exact_suffix_implies_last_two_labels(
            domain in "[a-z]{1,4}(\\.[a-z]{1,4}){0,3}",
            host in "[a-z.]{0,12}",
            sibling in "[a-z]{1,4}",
        ) {
            let cn = if host.is_empty() { domain.clone() } else { format!("{host}.{domain}") };
            proptest::prop_assert!(cn_matches(CnRule::ExactSuffix, &cn, &domain));
            proptest::prop_assert!(cn_matches(CnRule::LastTwoLabels, &cn, &domain));
            proptest::prop_assert!(cn_matches(CnRule::LastTwoLabelsComNetOnly, &cn, &domain));
            // Replace the domain's first label (when it has three or more) with another one.
            let labels: Vec<&str> = domain.split('.').collect();
            if labels.len() >= 3 && labels[0] != sibling {
                let other = std::iter::once(sibling.as_str())
                    .chain(labels[1..].iter().copied())
                    .collect::<Vec<_>>()
                    .join(".");
                proptest::prop_assert!(cn_matches(CnRule::LastTwoLabels, &other, &domain));
                proptest::prop_assert!(!cn_matches(CnRule::ExactSuffix, &other, &domain));
            }
        }
    }

    #[test]
    fn ids_are_listed_and_unique() {
        let mut ids = TlsRefusal::IDS.to_vec();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), TlsRefusal::IDS.len());
        let t = Thumbprint::of_der(HashAlgorithm::Sha1, b"x");
        let ts = Timestamp::EPOCH;
        let s = String::new;
        let all = [
            TlsRefusal::NoClientCertificate,
            TlsRefusal::ChainTooLong { len: 9, max: 8 },
            TlsRefusal::Malformed {
                index: 0,
                detail: s(),
            },
            TlsRefusal::RootNotPresented {
                subject: s(),
                issuer: s(),
            },
            TlsRefusal::RootNotInHashList { sha1: t, sha256: t },
            TlsRefusal::NoIntelOidOrOu { subject: s() },
            TlsRefusal::NotServerCertificate { subject: s() },
            TlsRefusal::CnDomainMismatch {
                cn: s(),
                domain: s(),
            },
            TlsRefusal::NoDomainSuffix,
            TlsRefusal::RootKeyTooLong { bits: 1, max: 1 },
            TlsRefusal::RsaKeyTooShort {
                subject: s(),
                bits: 1,
                min: 1,
            },
            TlsRefusal::Sha1InChain { subject: s() },
            TlsRefusal::Expired {
                subject: s(),
                not_after: ts,
                now: ts,
            },
            TlsRefusal::NotYetValid {
                subject: s(),
                not_before: ts,
                now: ts,
            },
            TlsRefusal::PathInvalid { detail: s() },
        ];
        let got: Vec<&str> = all.iter().map(TlsRefusal::id).collect();
        assert_eq!(got, TlsRefusal::IDS.to_vec());
        assert_eq!(
            all[0].alert(RefusalAlert::UnknownCa),
            rustls::AlertDescription::CertificateRequired
        );
        assert_eq!(
            all[4].alert(RefusalAlert::UnknownCa),
            rustls::AlertDescription::UnknownCA
        );
        assert!(
            all[12].to_string().contains("1970-01-01T00:00:00Z"),
            "{}",
            all[12]
        );
    }
}
