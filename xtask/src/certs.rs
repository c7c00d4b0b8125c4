//! The test PKI in `certs/`: one table ([`SPECS`]) describes every certificate; `generate` builds
//! the files from it and `check` proves the committed files still match it.
//!
//! Every private key written here is for tests only. `generate` reuses the keys already in the
//! directory, so regenerating is byte-for-byte reproducible; with fresh keys it gives new bytes (and
//! new thumbprints) but equivalent certificates. `check` is what proves equivalence:
//! it parses each committed file with x509-parser and compares it field by field with the table,
//! verifies every signature under the issuer's key (aws-lc-rs), checks that each key file holds the
//! certificate's key, that each chain file is leaf + intermediate + root, and that `README.md` and
//! `thumbprints.txt` are exactly what the table and the certificates produce.
//!
//! It also keeps the device key pool in `device-pool/`: [`POOL_SIZE`] RSA-2048 PKCS#8 keys without
//! certificates, which `amt-sim` embeds (`crates/amt-sim/src/keypool.rs`) so that simulated
//! devices never generate keys. `check` proves each is a 2048-bit RSA key, that no two are equal,
//! and that the subdirectory holds nothing else; the README lists their public-key fingerprints.
//!
//! rcgen cannot sign with SHA-1, so the SHA-1 root is made with SHA-256 and then patched: the two
//! signature-algorithm OIDs (same encoded length) are rewritten and the TBS bytes are re-signed with
//! RSA PKCS#1 v1.5 / SHA-1 (aws-lc-rs only verifies SHA-1, so the private-key operation is done
//! with `num-bigint`, which x509-parser re-exports).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use anyhow::{Context, Result, bail, ensure};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, PublicKeyData as _, RsaKeySize, SerialNumber,
};
use sha1::Digest as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::num_bigint::BigUint;
use x509_parser::prelude::FromDer as _;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Expands to the device DNS domain literal (a macro so that names can be built with `concat!`).
macro_rules! device_domain {
    () => {
        "corp.amt-sim.test"
    };
}

/// DNS domain of the simulated devices (DHCP option 15 / MEBx "PKI DNS suffix").
pub(crate) const DEVICE_DNS_DOMAIN: &str = device_domain!();

/// Organization of every subject: says loudly what these certificates are.
const TEST_ORG: &str = "amt-sim test PKI (TEST ONLY - NOT FOR PRODUCTION)";

/// The subject OU that AMT accepts instead of the provisioning EKU OID (exact, case-sensitive).
const INTEL_SETUP_OU: &str = "Intel(R) Client Setup Certificate";

/// Host name on the provisioning certificates that match the device domain.
const PROV_HOST: &str = concat!("provisionserver.", device_domain!());

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";
const OID_OU: &str = "2.5.4.11";
const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const OID_AMT_PROVISIONING: &str = "2.16.840.1.113741.1.2.3";

/// DER contents of the OID 1.2.840.113549.1.1.11 (sha256WithRSAEncryption).
const DER_SHA256_WITH_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// DER contents of the OID 1.2.840.113549.1.1.5 (sha1WithRSAEncryption): same length as above.
const DER_SHA1_WITH_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
/// DER `DigestInfo` prefix for SHA-1 (RFC 8017 §9.2, note 1).
const SHA1_DIGEST_INFO_PREFIX: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

const README: &str = "README.md";
const THUMBPRINTS: &str = "thumbprints.txt";

/// Subdirectory of the device key pool: RSA-2048 keys the simulated devices use instead of
/// generating their own (key generation costs ~70 ms each; `amt-sim`'s `keypool` embeds these).
const POOL_DIR: &str = "device-pool";
/// Number of keys in the device key pool (`amt-sim`'s `keypool::POOL_SIZE` must agree).
const POOL_SIZE: usize = 8;
/// RSA modulus size of every pool key.
const POOL_KEY_BITS: usize = 2048;

/// File name (inside [`POOL_DIR`]) of pool key `index`.
fn pool_key_file(index: usize) -> String {
    format!("device-pool-{index:02}.TEST-ONLY.key.pem")
}

/// Every file name `generate` writes into [`POOL_DIR`].
fn expected_pool_files() -> BTreeSet<String> {
    (0..POOL_SIZE).map(pool_key_file).collect()
}

/// RSA modulus size of a certificate's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyBits {
    Rsa2048,
    Rsa4096,
}

impl KeyBits {
    fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa4096 => 4096,
        }
    }

    fn rcgen(self) -> RsaKeySize {
        match self {
            Self::Rsa2048 => RsaKeySize::_2048,
            Self::Rsa4096 => RsaKeySize::_4096,
        }
    }
}

/// Hash of the certificate's own signature (made by its issuer's key, RSA PKCS#1 v1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigHash {
    Sha256,
    Sha1,
}

impl SigHash {
    fn oid(self) -> &'static str {
        match self {
            Self::Sha256 => OID_SHA256_WITH_RSA,
            Self::Sha1 => OID_SHA1_WITH_RSA,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256WithRSAEncryption",
            Self::Sha1 => "sha1WithRSAEncryption",
        }
    }
}

/// Place in the hierarchy; decides basic constraints and key usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Self-signed CA, no path length limit; key usage keyCertSign + cRLSign.
    Root,
    /// CA with pathLenConstraint 0; key usage keyCertSign + cRLSign.
    Intermediate,
    /// End entity, `CA:FALSE`; key usage digitalSignature + keyEncipherment; gets a chain file.
    Leaf,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Intermediate => "intermediate",
            Self::Leaf => "leaf",
        }
    }

    fn key_usage_names(self) -> &'static [&'static str] {
        match self {
            Self::Root | Self::Intermediate => &["keyCertSign", "cRLSign"],
            Self::Leaf => &["digitalSignature", "keyEncipherment"],
        }
    }
}

/// An extended key usage purpose used by the test PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eku {
    ServerAuth,
    ClientAuth,
    /// Intel AMT provisioning, 2.16.840.1.113741.1.2.3.
    AmtProvisioning,
}

impl Eku {
    fn oid(self) -> &'static str {
        match self {
            Self::ServerAuth => OID_SERVER_AUTH,
            Self::ClientAuth => OID_CLIENT_AUTH,
            Self::AmtProvisioning => OID_AMT_PROVISIONING,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::ServerAuth => "serverAuth",
            Self::ClientAuth => "clientAuth",
            Self::AmtProvisioning => "AMT OID 2.16.840.1.113741.1.2.3",
        }
    }

    fn rcgen(self) -> ExtendedKeyUsagePurpose {
        match self {
            Self::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            Self::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
            Self::AmtProvisioning => {
                ExtendedKeyUsagePurpose::Other(vec![2, 16, 840, 1, 113_741, 1, 2, 3])
            }
        }
    }
}

/// A calendar date; certificates start and end at midnight UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ymd(i32, u8, u8);

impl Ymd {
    fn to_time(self) -> Result<time::OffsetDateTime> {
        let month = time::Month::try_from(self.1).with_context(|| format!("month in {self}"))?;
        let date = time::Date::from_calendar_date(self.0, month, self.2)
            .with_context(|| format!("date {self}"))?;
        Ok(date.midnight().assume_utc())
    }
}

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0, self.1, self.2)
    }
}

/// One certificate of the test PKI. Files: `<stem>.cert.pem`, `<stem>.TEST-ONLY.key.pem` and, for
/// leaves, `<stem>.chain.pem` (leaf first, then each issuer up to and including the root).
#[derive(Clone, Copy, Debug)]
struct CertSpec {
    stem: &'static str,
    /// Stem of the issuer; `None` = self-signed. Issuers come earlier in [`SPECS`].
    parent: Option<&'static str>,
    role: Role,
    key: KeyBits,
    sig: SigHash,
    serial: u64,
    cn: &'static str,
    org: &'static str,
    ou: Option<&'static str>,
    /// DNS subjectAltNames (none: no SAN extension).
    sans: &'static [&'static str],
    /// Extended key usages (none: no EKU extension).
    ekus: &'static [Eku],
    not_before: Ymd,
    not_after: Ymd,
    /// What the certificate is for: the scenario or policy it exercises.
    purpose: &'static str,
}

const ROOT: CertSpec = CertSpec {
    stem: "",
    parent: None,
    role: Role::Root,
    key: KeyBits::Rsa2048,
    sig: SigHash::Sha256,
    serial: 0,
    cn: "",
    org: TEST_ORG,
    ou: None,
    sans: &[],
    ekus: &[],
    not_before: Ymd(2015, 1, 1),
    not_after: Ymd(2049, 12, 31),
    purpose: "",
};

const INTERMEDIATE: CertSpec = CertSpec {
    role: Role::Intermediate,
    not_after: Ymd(2044, 12, 31),
    ..ROOT
};

/// A provisioning leaf that passes every firmware rule; entries override one field each.
const PROV: CertSpec = CertSpec {
    parent: Some("int-rsa2048"),
    role: Role::Leaf,
    cn: PROV_HOST,
    sans: &[PROV_HOST],
    ekus: &[Eku::ServerAuth, Eku::AmtProvisioning],
    not_before: Ymd(2025, 1, 1),
    not_after: Ymd(2040, 12, 31),
    ..ROOT
};

/// Every certificate of the test PKI, issuers before the certificates they sign.
const SPECS: &[CertSpec] = &[
    CertSpec {
        stem: "root-rsa2048",
        serial: 0x0100,
        cn: "amt-sim Test Provisioning Root CA (RSA-2048)",
        purpose: "Main provisioning root. Its thumbprint is the active custom hash in device \
                  profiles; accepted by every firmware version.",
        ..ROOT
    },
    CertSpec {
        stem: "root-rsa4096",
        key: KeyBits::Rsa4096,
        serial: 0x0200,
        cn: "amt-sim Test Provisioning Root CA (RSA-4096)",
        purpose: "Root with a key larger than 2048 bits: rejected by older firmware that only \
                  supports CA keys up to 2048 bits.",
        ..ROOT
    },
    CertSpec {
        stem: "root-sha1",
        sig: SigHash::Sha1,
        serial: 0x0300,
        cn: "amt-sim Test Provisioning Root CA (SHA-1)",
        purpose: "Root self-signed with SHA-1: rejected on ME 16+ (no SHA-1 anywhere in the \
                  chain, root included); its SHA-1 thumbprint also serves SHA-1 hash lists.",
        ..ROOT
    },
    CertSpec {
        stem: "int-rsa2048",
        parent: Some("root-rsa2048"),
        serial: 0x0101,
        cn: "amt-sim Test Provisioning Issuing CA",
        purpose: "Issues the provisioning leaves under the main root.",
        ..INTERMEDIATE
    },
    CertSpec {
        stem: "int-rsa4096",
        parent: Some("root-rsa4096"),
        serial: 0x0201,
        cn: "amt-sim Test Provisioning Issuing CA (under RSA-4096 root)",
        purpose: "RSA-2048 issuing CA under the RSA-4096 root, so only the root exceeds 2048 bits.",
        ..INTERMEDIATE
    },
    CertSpec {
        stem: "int-sha1",
        parent: Some("root-sha1"),
        serial: 0x0301,
        cn: "amt-sim Test Provisioning Issuing CA (under SHA-1 root)",
        purpose: "SHA-256-signed issuing CA under the SHA-1 root, so only the root's own \
                  signature uses SHA-1.",
        ..INTERMEDIATE
    },
    CertSpec {
        stem: "enterprise-ca",
        parent: Some("root-rsa2048"),
        serial: 0x0102,
        cn: "amt-sim Test Enterprise CA",
        purpose: "Enterprise CA that issues device web-server (TLS) certificates, e.g. by signing \
                  CSRs in the provisioner. Chains to the main root.",
        ..INTERMEDIATE
    },
    CertSpec {
        stem: "prov-oid",
        serial: 0x1001,
        purpose: "(a) Good provisioning certificate: AMT EKU OID + serverAuth, no clientAuth, CN \
                  in the device domain.",
        ..PROV
    },
    CertSpec {
        stem: "prov-ou",
        serial: 0x1002,
        ou: Some(INTEL_SETUP_OU),
        ekus: &[Eku::ServerAuth],
        purpose: "(b) Good provisioning certificate by the OU rule: OU `Intel(R) Client Setup \
                  Certificate`, serverAuth only, no AMT OID.",
        ..PROV
    },
    CertSpec {
        stem: "prov-plain",
        serial: 0x1003,
        ekus: &[Eku::ServerAuth],
        purpose: "(c) Neither AMT OID nor Intel OU (serverAuth only): rejected by firmware.",
        ..PROV
    },
    CertSpec {
        stem: "prov-other-domain",
        serial: 0x1004,
        cn: "provisionserver.other-domain.test",
        sans: &["provisionserver.other-domain.test"],
        purpose: "(d) AMT OID + serverAuth but CN outside the device domain: domain-suffix \
                  mismatch.",
        ..PROV
    },
    CertSpec {
        stem: "prov-expired",
        serial: 0x1005,
        not_before: Ymd(2020, 1, 1),
        not_after: Ymd(2021, 1, 1),
        purpose: "(e) AMT OID + serverAuth, expired (valid 2020-01-01 to 2021-01-01).",
        ..PROV
    },
    CertSpec {
        stem: "prov-root4096",
        parent: Some("int-rsa4096"),
        serial: 0x2001,
        purpose: "(f) AMT OID + serverAuth, chain ends at the RSA-4096 root (via its own RSA-2048 \
                  issuing CA): root key size limit.",
        ..PROV
    },
    CertSpec {
        stem: "prov-sha1-root",
        parent: Some("int-sha1"),
        serial: 0x3001,
        purpose: "AMT OID + serverAuth, chain ends at the SHA-1-signed root: `no SHA-1 on ME 16+` \
                  rule.",
        ..PROV
    },
    CertSpec {
        stem: "prov-ou-wrong-case",
        serial: 0x1006,
        ou: Some("intel(r) client setup certificate"),
        ekus: &[Eku::ServerAuth],
        purpose: "OU rule with the wrong letter case and no AMT OID: rejected (the OU match is \
                  exact and case-sensitive).",
        ..PROV
    },
    CertSpec {
        stem: "prov-oid-no-serverauth",
        serial: 0x1007,
        ekus: &[Eku::ClientAuth, Eku::AmtProvisioning],
        purpose: "AMT OID + clientAuth but no serverAuth: rejected (the provisioning certificate \
                  must be a server certificate).",
        ..PROV
    },
    CertSpec {
        stem: "prov-sibling-domain",
        serial: 0x1008,
        cn: "provisionserver.sales.amt-sim.test",
        sans: &["provisionserver.sales.amt-sim.test"],
        purpose: "AMT OID + serverAuth, CN in a sibling domain sharing the last two labels with \
                  the device domain: accepted by AMT >= 3.2.1 (last-two-labels match), rejected by \
                  an exact-suffix policy.",
        ..PROV
    },
    CertSpec {
        stem: "prov-sha1-leaf",
        serial: 0x1009,
        sig: SigHash::Sha1,
        purpose: "AMT OID + serverAuth under the main root, the leaf itself signed with SHA-1: \
                  path validation must verify SHA-1 signatures for older firmware, and ME 16+ \
                  refuses it.",
        ..PROV
    },
    CertSpec {
        stem: "device-web-01",
        parent: Some("enterprise-ca"),
        serial: 0x4001,
        cn: concat!("amt-device-01.", device_domain!()),
        sans: &[concat!("amt-device-01.", device_domain!())],
        ekus: &[Eku::ServerAuth],
        purpose: "Example device web-server (TLS) certificate issued by the enterprise CA, as \
                  stored on a device in provisioning stage 1.",
        ..PROV
    },
];

impl CertSpec {
    fn cert_file(&self) -> String {
        format!("{}.cert.pem", self.stem)
    }

    fn key_file(&self) -> String {
        format!("{}.TEST-ONLY.key.pem", self.stem)
    }

    fn chain_file(&self) -> Option<String> {
        (self.role == Role::Leaf).then(|| format!("{}.chain.pem", self.stem))
    }

    /// Every file this spec produces.
    fn files(&self) -> Vec<String> {
        let mut files = vec![self.cert_file(), self.key_file()];
        files.extend(self.chain_file());
        files
    }

    /// Expected subject attributes, in order, as (OID, value).
    fn subject(&self) -> Vec<(&'static str, &'static str)> {
        let mut dn = vec![(OID_O, self.org)];
        if let Some(ou) = self.ou {
            dn.push((OID_OU, ou));
        }
        dn.push((OID_CN, self.cn));
        dn
    }

    fn params(&self) -> Result<CertificateParams> {
        let sans: Vec<String> = self.sans.iter().map(|s| (*s).to_owned()).collect();
        let mut p = CertificateParams::new(sans).with_context(|| format!("{}: SANs", self.stem))?;
        p.distinguished_name = rcgen::DistinguishedName::new();
        for (oid, value) in self.subject() {
            let ty = match oid {
                OID_O => DnType::OrganizationName,
                OID_OU => DnType::OrganizationalUnitName,
                _ => DnType::CommonName,
            };
            p.distinguished_name.push(ty, value);
        }
        p.serial_number = Some(SerialNumber::from(self.serial));
        p.not_before = self.not_before.to_time()?;
        p.not_after = self.not_after.to_time()?;
        (p.is_ca, p.key_usages) = match self.role {
            Role::Root => (
                IsCa::Ca(BasicConstraints::Unconstrained),
                vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
            ),
            Role::Intermediate => (
                IsCa::Ca(BasicConstraints::Constrained(0)),
                vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
            ),
            Role::Leaf => (
                IsCa::ExplicitNoCa,
                vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ],
            ),
        };
        p.extended_key_usages = self.ekus.iter().map(|e| e.rcgen()).collect();
        p.use_authority_key_identifier_extension = self.parent.is_some();
        Ok(p)
    }
}

/// Looks a spec up by stem.
fn spec(stem: &str) -> Result<&'static CertSpec> {
    SPECS
        .iter()
        .find(|s| s.stem == stem)
        .with_context(|| format!("no certificate `{stem}` in the table"))
}

/// The spec's certificate followed by each issuer up to the root (the chain file's order).
fn chain_of(leaf: &'static CertSpec) -> Result<Vec<&'static CertSpec>> {
    let mut chain = vec![leaf];
    let mut cur = leaf;
    while let Some(parent) = cur.parent {
        ensure!(chain.len() <= SPECS.len(), "issuer loop at `{}`", leaf.stem);
        cur = spec(parent)?;
        chain.push(cur);
    }
    Ok(chain)
}

/// Checks the table itself: unique stems, issuers listed earlier and CAs, roles consistent.
fn validate_table() -> Result<()> {
    let mut seen: Vec<&CertSpec> = Vec::new();
    for s in SPECS {
        ensure!(
            !s.stem.is_empty() && !s.cn.is_empty(),
            "empty stem or CN in the table"
        );
        ensure!(
            seen.iter()
                .all(|o| o.stem != s.stem && o.serial != s.serial),
            "`{}`: duplicate stem or serial",
            s.stem
        );
        match s.parent {
            None => ensure!(
                s.role == Role::Root,
                "`{}`: only roots are self-signed",
                s.stem
            ),
            Some(p) => {
                let parent = seen
                    .iter()
                    .find(|o| o.stem == p)
                    .with_context(|| format!("`{}`: issuer `{p}` must come earlier", s.stem))?;
                ensure!(
                    s.role != Role::Root && parent.role != Role::Leaf,
                    "`{}`: bad role or issuer",
                    s.stem
                );
            }
        }
        ensure!(
            s.not_before.to_time()? < s.not_after.to_time()?,
            "`{}`: validity",
            s.stem
        );
        seen.push(s);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

/// One certificate as built: its parameters, key and DER.
struct Built {
    spec: &'static CertSpec,
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

/// Builds every certificate of the table, taking each key from `key_for`.
fn build_all(mut key_for: impl FnMut(&CertSpec) -> Result<KeyPair>) -> Result<Vec<Built>> {
    validate_table()?;
    let mut built: Vec<Built> = Vec::with_capacity(SPECS.len());
    for s in SPECS {
        let key = key_for(s).with_context(|| format!("key for `{}`", s.stem))?;
        let params = s.params()?;
        let (der, signer) = match s.parent {
            None => (params.self_signed(&key)?.der().to_vec(), &key),
            Some(p) => {
                let parent = built
                    .iter()
                    .find(|b| b.spec.stem == p)
                    .with_context(|| format!("issuer `{p}` not built yet"))?;
                let issuer = Issuer::from_params(&parent.params, &parent.key);
                (params.signed_by(&key, &issuer)?.der().to_vec(), &parent.key)
            }
        };
        let der = match s.sig {
            SigHash::Sha256 => der,
            SigHash::Sha1 => resign_with_sha1(&der, signer)
                .with_context(|| format!("re-signing `{}` with SHA-1", s.stem))?,
        };
        built.push(Built {
            spec: s,
            params,
            key,
            der,
        });
    }
    Ok(built)
}

/// `cargo xtask certs`: writes every certificate, key and chain of [`SPECS`], `thumbprints.txt` and
/// `README.md` into `out_dir`, and removes `*.pem` files the table no longer names.
///
/// Keys already in `out_dir` are reused unless `fresh_keys` is set, so a plain regeneration is
/// byte-for-byte reproducible (RSA PKCS#1 v1.5 signatures are deterministic) and root thumbprints
/// stay stable; a certificate whose key file is missing gets a new key.
pub(crate) fn generate(out_dir: &Path, fresh_keys: bool) -> Result<()> {
    let built = build_all(|s| {
        let path = out_dir.join(s.key_file());
        if !fresh_keys && path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return KeyPair::from_pem(&text).with_context(|| format!("parsing {}", path.display()));
        }
        KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, s.key.rcgen()).context("RSA key generation")
    })?;
    let pool = (0..POOL_SIZE)
        .map(|i| {
            let path = out_dir.join(POOL_DIR).join(pool_key_file(i));
            if !fresh_keys && path.exists() {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                return KeyPair::from_pem(&text)
                    .with_context(|| format!("parsing {}", path.display()));
            }
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
                .context("RSA key generation")
        })
        .collect::<Result<Vec<_>>>()?;
    write_all(out_dir, &built, &pool)
}

fn write_all(out_dir: &Path, built: &[Built], pool: &[KeyPair]) -> Result<()> {
    ensure!(
        pool.len() == POOL_SIZE,
        "{} pool keys, expected {POOL_SIZE}",
        pool.len()
    );
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let write = |name: &str, text: &str| {
        let path = out_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    let mut ders: HashMap<&str, &[u8]> = HashMap::new();
    for b in built {
        ders.insert(b.spec.stem, &b.der);
        write(&b.spec.cert_file(), &pem_encode("CERTIFICATE", &b.der))?;
        write(&b.spec.key_file(), &b.key.serialize_pem())?;
    }
    for s in SPECS {
        if let Some(chain_file) = s.chain_file() {
            let mut text = String::new();
            for c in chain_of(s)? {
                let der = ders.get(c.stem).context("chain member not built")?;
                text.push_str(&pem_encode("CERTIFICATE", der));
            }
            write(&chain_file, &text)?;
        }
    }
    let pool_dir = out_dir.join(POOL_DIR);
    std::fs::create_dir_all(&pool_dir)
        .with_context(|| format!("creating {}", pool_dir.display()))?;
    let mut pool_spkis = Vec::with_capacity(pool.len());
    for (i, key) in pool.iter().enumerate() {
        let path = pool_dir.join(pool_key_file(i));
        std::fs::write(&path, key.serialize_pem())
            .with_context(|| format!("writing {}", path.display()))?;
        pool_spkis.push(key.subject_public_key_info());
    }
    write(THUMBPRINTS, &render_thumbprints(&ders)?)?;
    write(README, &render_readme(&ders, &pool_spkis)?)?;

    remove_stale_pems(out_dir, &expected_files())?;
    remove_stale_pems(&pool_dir, &expected_pool_files())
}

/// Removes the `*.pem` files in `dir` that are not in `expected`.
fn remove_stale_pems(dir: &Path, expected: &BTreeSet<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pem") && !expected.contains(&name) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing stale {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Every file name `generate` writes.
fn expected_files() -> BTreeSet<String> {
    let mut files: BTreeSet<String> = SPECS.iter().flat_map(CertSpec::files).collect();
    files.insert(README.to_owned());
    files.insert(THUMBPRINTS.to_owned());
    files.insert(POOL_DIR.to_owned());
    files
}

// ---------------------------------------------------------------------------------------------
// SHA-1 re-signing (tiny DER walker + RSA PKCS#1 v1.5)
// ---------------------------------------------------------------------------------------------

/// One DER element: its tag, where it starts, where its contents start, and where it ends.
#[derive(Clone, Copy, Debug)]
struct Tlv {
    tag: u8,
    start: usize,
    content: usize,
    end: usize,
}

/// Reads the element starting at `at` (single-byte tags, definite lengths of up to 4 bytes).
fn read_tlv(der: &[u8], at: usize) -> Result<Tlv> {
    let tag = *der.get(at).context("DER: truncated (tag)")?;
    ensure!(tag & 0x1f != 0x1f, "DER: multi-byte tag at {at}");
    let first = *der.get(at + 1).context("DER: truncated (length)")?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        ensure!((1..=4).contains(&n), "DER: unsupported length form at {at}");
        let bytes = der
            .get(at + 2..at + 2 + n)
            .context("DER: truncated (long length)")?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let content = at + header;
    let end = content.checked_add(len).context("DER: length overflow")?;
    ensure!(end <= der.len(), "DER: element at {at} runs past the end");
    Ok(Tlv {
        tag,
        start: at,
        content,
        end,
    })
}

/// Like [`read_tlv`], and checks the tag.
fn expect_tlv(der: &[u8], at: usize, tag: u8, what: &str) -> Result<Tlv> {
    let tlv = read_tlv(der, at).with_context(|| format!("reading {what}"))?;
    ensure!(
        tlv.tag == tag,
        "{what}: tag {:#04x}, expected {tag:#04x}",
        tlv.tag
    );
    Ok(tlv)
}

/// Turns an rcgen sha256WithRSAEncryption certificate into a sha1WithRSAEncryption one signed by
/// `signer`: rewrites the algorithm OID in the TBS `signature` field and in the outer
/// `signatureAlgorithm` (same length, so no DER length changes), then re-signs the TBS bytes.
fn resign_with_sha1(der: &[u8], signer: &KeyPair) -> Result<Vec<u8>> {
    let mut out = der.to_vec();
    let cert = expect_tlv(&out, 0, 0x30, "Certificate")?;
    ensure!(cert.end == out.len(), "trailing bytes after Certificate");
    let tbs = expect_tlv(&out, cert.content, 0x30, "tbsCertificate")?;
    let outer_alg = expect_tlv(&out, tbs.end, 0x30, "signatureAlgorithm")?;
    let sig = expect_tlv(&out, outer_alg.end, 0x03, "signatureValue")?;
    ensure!(sig.end == cert.end, "trailing bytes inside Certificate");
    let version = expect_tlv(&out, tbs.content, 0xa0, "version")?;
    let serial = expect_tlv(&out, version.end, 0x02, "serialNumber")?;
    let inner_alg = expect_tlv(&out, serial.end, 0x30, "TBS signature")?;
    for alg in [inner_alg, outer_alg] {
        let oid = expect_tlv(&out, alg.content, 0x06, "AlgorithmIdentifier.algorithm")?;
        let bytes = out.get_mut(oid.content..oid.end).context("OID bytes")?;
        ensure!(
            bytes == DER_SHA256_WITH_RSA,
            "algorithm is not sha256WithRSAEncryption"
        );
        bytes.copy_from_slice(&DER_SHA1_WITH_RSA);
    }
    let tbs_bytes = out.get(tbs.start..tbs.end).context("TBS bytes")?;
    let signature = rsa_pkcs1_sha1_sign(signer, tbs_bytes)?;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        signer.public_key_raw(),
    )
    .verify(tbs_bytes, &signature)
    .map_err(|_| anyhow::anyhow!("the SHA-1 signature does not verify"))?;
    let bits = out
        .get_mut(sig.content..sig.end)
        .context("signature bytes")?;
    let (unused, value) = bits.split_first_mut().context("empty BIT STRING")?;
    ensure!(*unused == 0, "signature BIT STRING has unused bits");
    ensure!(value.len() == signature.len(), "signature length changed");
    value.copy_from_slice(&signature);
    Ok(out)
}

/// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2.1), computed with the key's n and d.
fn rsa_pkcs1_sha1_sign(key: &KeyPair, msg: &[u8]) -> Result<Vec<u8>> {
    let (n, d) = rsa_n_d(key.serialized_der())?;
    let k = usize::try_from(n.bits().div_ceil(8))?;
    let digest = sha1::Sha1::digest(msg);
    let t: Vec<u8> = SHA1_DIGEST_INFO_PREFIX
        .iter()
        .chain(digest.iter())
        .copied()
        .collect();
    ensure!(k >= t.len() + 11, "RSA modulus too short");
    // EM = 0x00 || 0x01 || PS (0xff…) || 0x00 || T
    let mut em = vec![0xff_u8; k - t.len()];
    em[0] = 0x00;
    em[1] = 0x01;
    em[k - t.len() - 1] = 0x00;
    em.extend_from_slice(&t);
    let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
    ensure!(s.len() <= k, "RSA result longer than the modulus");
    let mut out = vec![0u8; k - s.len()];
    out.extend_from_slice(&s);
    Ok(out)
}

/// Modulus and private exponent from a PKCS#8 `PrivateKeyInfo` holding an RSA key.
fn rsa_n_d(pkcs8: &[u8]) -> Result<(BigUint, BigUint)> {
    let info = expect_tlv(pkcs8, 0, 0x30, "PrivateKeyInfo")?;
    let version = expect_tlv(pkcs8, info.content, 0x02, "PrivateKeyInfo.version")?;
    let alg = expect_tlv(pkcs8, version.end, 0x30, "privateKeyAlgorithm")?;
    let octets = expect_tlv(pkcs8, alg.end, 0x04, "privateKey")?;
    let rsa = expect_tlv(pkcs8, octets.content, 0x30, "RSAPrivateKey")?;
    let v = expect_tlv(pkcs8, rsa.content, 0x02, "RSAPrivateKey.version")?;
    let n = expect_tlv(pkcs8, v.end, 0x02, "modulus")?;
    let e = expect_tlv(pkcs8, n.end, 0x02, "publicExponent")?;
    let d = expect_tlv(pkcs8, e.end, 0x02, "privateExponent")?;
    let int = |t: Tlv| -> Result<BigUint> {
        Ok(BigUint::from_bytes_be(
            pkcs8.get(t.content..t.end).context("INTEGER")?,
        ))
    };
    Ok((int(n)?, int(d)?))
}

/// PEM with 64-column base64 lines and LF endings (what rcgen writes on Unix).
fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                b64.push(char::from(ALPHABET[idx]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

// ---------------------------------------------------------------------------------------------
// README and thumbprints (generated from the table + the certificates' DER)
// ---------------------------------------------------------------------------------------------

fn sha1_hex(der: &[u8]) -> String {
    Thumbprint::of_der(HashAlgorithm::Sha1, der).to_lower_hex()
}

fn sha256_hex(der: &[u8]) -> String {
    Thumbprint::of_der(HashAlgorithm::Sha256, der).to_lower_hex()
}

fn der_of<'a>(ders: &HashMap<&str, &'a [u8]>, stem: &str) -> Result<&'a [u8]> {
    ders.get(stem)
        .copied()
        .with_context(|| format!("no DER for `{stem}`"))
}

fn render_thumbprints(ders: &HashMap<&str, &[u8]>) -> Result<String> {
    let mut out = String::from(
        "# amt-sim test PKI thumbprints (TEST ONLY). Generated by `cargo xtask certs`; do not edit.\n\
         # Hashes of each certificate's DER encoding, lowercase hex. A device hash list carries the\n\
         # root lines; CSME 19 host-based setup uses a leaf's hash.\n\
         # <stem> <role> <sha1> <sha256>\n",
    );
    for s in SPECS {
        let der = der_of(ders, s.stem)?;
        let _ = writeln!(
            out,
            "{} {} {} {}",
            s.stem,
            s.role.name(),
            sha1_hex(der),
            sha256_hex(der)
        );
    }
    Ok(out)
}

fn render_readme(ders: &HashMap<&str, &[u8]>, pool_spkis: &[Vec<u8>]) -> Result<String> {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Test PKI (TEST ONLY)\n");
    let _ = writeln!(
        w,
        "> **WARNING: every private key in this directory is public, committed test material. \
         Never use any of these keys or certificates on a real device, server or network, \
         and never add these roots to a real trust store or AMT hash list.**\n"
    );
    let _ = writeln!(
        w,
        "Generated by `cargo xtask certs` from the table `SPECS` in `xtask/src/certs.rs`; do not \
         edit by hand (this README included). `cargo xtask certs --check` (also run by `cargo test \
         -p xtask`) proves the committed files still match the table: subject, serial, validity, \
         key size, signature algorithm, EKUs, key usage, basic constraints, SANs, every signature \
         under its issuer's key, key files, chain files and the thumbprints below. Regenerating \
         reuses the committed keys and reproduces every file byte for byte; `--fresh-keys` makes \
         new keys, which changes every thumbprint, so anything that pins one must change with it.\n"
    );
    let _ = writeln!(
        w,
        "Device DNS domain: `{DEVICE_DNS_DOMAIN}`. Subject O of every certificate: `{TEST_ORG}`.\n"
    );
    let _ = writeln!(
        w,
        "Files per certificate: `<stem>.cert.pem` (the certificate), `<stem>.TEST-ONLY.key.pem` \
         (its PKCS#8 private key) and, for leaves, `<stem>.chain.pem` (leaf first, then each \
         issuer up to and including the root: the order a provisioning server presents it). \
         `thumbprints.txt` lists SHA-1 and SHA-256 of every certificate's DER.\n"
    );
    let _ = writeln!(w, "## Certificates\n");
    let _ = writeln!(
        w,
        "| Stem | Role | Issuer | Key | Signature | Valid (UTC) | Subject CN / OU | EKU | Purpose |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|");
    for s in SPECS {
        let ekus = if s.ekus.is_empty() {
            "-".to_owned()
        } else {
            s.ekus
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ou = s.ou.map(|ou| format!("<br>OU=`{ou}`")).unwrap_or_default();
        let _ = writeln!(
            w,
            "| `{}` | {} | {} | RSA-{} | {} | {} to {} | `{}`{} | {} | {} |",
            s.stem,
            s.role.name(),
            s.parent
                .map_or_else(|| "self-signed".to_owned(), |p| format!("`{p}`")),
            s.key.bits(),
            s.sig.name(),
            s.not_before,
            s.not_after,
            s.cn,
            ou,
            ekus,
            s.purpose,
        );
    }
    let _ = writeln!(w, "\n## Root thumbprints\n");
    let _ = writeln!(
        w,
        "What a simulated device's hash list carries (hash of the root's DER).\n"
    );
    let _ = writeln!(w, "| Root | SHA-1 | SHA-256 |");
    let _ = writeln!(w, "|---|---|---|");
    for s in SPECS.iter().filter(|s| s.role == Role::Root) {
        let der = der_of(ders, s.stem)?;
        let _ = writeln!(
            w,
            "| `{}` | `{}` | `{}` |",
            s.stem,
            sha1_hex(der),
            sha256_hex(der)
        );
    }
    let _ = writeln!(w, "\n## Device key pool\n");
    let _ = writeln!(
        w,
        "`{POOL_DIR}/` holds {POOL_SIZE} RSA-{POOL_KEY_BITS} PKCS#8 private keys with no \
         certificate. Simulated devices never generate RSA keys (about 70 ms each): `amt-sim` \
         embeds these (`crates/amt-sim/src/keypool.rs`) and signs its self-signed TLS certificate \
         and its `GenerateKeyPair` results with them, so several simulated devices share a key. \
         `--check` parses each, checks it is RSA-{POOL_KEY_BITS} and that no two are equal. The \
         fingerprint is the SHA-256 of the key's DER SubjectPublicKeyInfo.\n"
    );
    let _ = writeln!(w, "| File | Key | SHA-256 of SubjectPublicKeyInfo |");
    let _ = writeln!(w, "|---|---|---|");
    ensure!(
        pool_spkis.len() == POOL_SIZE,
        "{} pool keys, expected {POOL_SIZE}",
        pool_spkis.len()
    );
    for (i, spki) in pool_spkis.iter().enumerate() {
        let _ = writeln!(
            w,
            "| `{POOL_DIR}/{}` | RSA-{POOL_KEY_BITS} | `{}` |",
            pool_key_file(i),
            sha256_hex(spki)
        );
    }
    let _ = writeln!(w, "\n## Regenerate and verify\n");
    let _ = writeln!(w, "```sh");
    let _ = writeln!(
        w,
        "cargo xtask certs            # rewrite every file here from the table, same keys"
    );
    let _ = writeln!(
        w,
        "cargo xtask certs --fresh-keys  # the same with new keys: every thumbprint changes"
    );
    let _ = writeln!(
        w,
        "cargo xtask certs --check    # verify the committed files against the table"
    );
    let _ = writeln!(w, "openssl verify -CAfile certs/root-rsa2048.cert.pem \\");
    let _ = writeln!(
        w,
        "    -untrusted certs/int-rsa2048.cert.pem certs/prov-oid.cert.pem"
    );
    let _ = writeln!(w, "```");
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

/// `cargo xtask certs --check`: verifies every file in `dir` against [`SPECS`]; the error lists
/// every mismatch found.
pub(crate) fn check(dir: &Path) -> Result<()> {
    validate_table()?;
    let mut problems: Vec<String> = Vec::new();

    // Read every certificate first: children are checked against their issuer's certificate.
    let mut ders: HashMap<&str, Vec<u8>> = HashMap::new();
    for s in SPECS {
        match read_single_pem(&dir.join(s.cert_file()), "CERTIFICATE") {
            Ok(der) => {
                ders.insert(s.stem, der);
            }
            Err(e) => problems.push(format!("{}: {e:#}", s.cert_file())),
        }
    }

    for s in SPECS {
        let Some(der) = ders.get(s.stem) else {
            continue;
        };
        let parent_der = match s.parent {
            None => Some(der),
            Some(p) => ders.get(p),
        };
        let mut found = Vec::new();
        if let Err(e) = check_cert(s, der, parent_der.map(Vec::as_slice), &mut found) {
            found.push(format!("{e:#}"));
        }
        if let Err(e) = check_key_file(s, der, dir, &mut found) {
            found.push(format!("{}: {e:#}", s.key_file()));
        }
        if let Err(e) = check_chain_file(s, &ders, dir, &mut found) {
            found.push(format!("chain: {e:#}"));
        }
        problems.extend(found.into_iter().map(|p| format!("{}: {p}", s.stem)));
    }

    // The device key pool: PKCS#8 RSA-2048 keys, all different.
    let mut pool_spkis: Vec<Vec<u8>> = Vec::with_capacity(POOL_SIZE);
    for i in 0..POOL_SIZE {
        let file = format!("{POOL_DIR}/{}", pool_key_file(i));
        match check_pool_key(&dir.join(POOL_DIR).join(pool_key_file(i))) {
            Ok((spki, found)) => {
                problems.extend(found.into_iter().map(|p| format!("{file}: {p}")));
                if let Some(j) = pool_spkis.iter().position(|other| *other == spki) {
                    problems.push(format!(
                        "{file}: same key as {POOL_DIR}/{}",
                        pool_key_file(j)
                    ));
                }
                pool_spkis.push(spki);
            }
            Err(e) => problems.push(format!("{file}: {e:#}")),
        }
    }

    // Generated text files: exactly what the table and the committed certificates produce.
    if ders.len() == SPECS.len() && pool_spkis.len() == POOL_SIZE {
        let views: HashMap<&str, &[u8]> = ders.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        for (name, expected) in [
            (THUMBPRINTS, render_thumbprints(&views)?),
            (README, render_readme(&views, &pool_spkis)?),
        ] {
            match std::fs::read_to_string(dir.join(name)) {
                Ok(actual) if actual == expected => {}
                Ok(actual) => problems.push(format!(
                    "{name}: differs from what the table and certificates produce ({}); \
                     regenerate with `cargo xtask certs`",
                    first_difference(&expected, &actual)
                )),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    } else {
        problems.push(format!(
            "{README}, {THUMBPRINTS}: not checked (certificates or pool keys missing)"
        ));
    }

    // Nothing else in the directory or the pool subdirectory.
    find_strays(dir, "", &expected_files(), &mut problems)?;
    find_strays(
        &dir.join(POOL_DIR),
        &format!("{POOL_DIR}/"),
        &expected_pool_files(),
        &mut problems,
    )?;

    if problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} problem(s) in {}:\n  - {}",
            problems.len(),
            dir.display(),
            problems.join("\n  - ")
        )
    }
}

/// Records every entry of `dir` (dot files aside) that is not in `expected`, named `prefix` + name.
fn find_strays(
    dir: &Path,
    prefix: &str,
    expected: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && !expected.contains(&name) {
                    problems.push(format!(
                        "{prefix}{name}: not produced by the table (stale or stray file)"
                    ));
                }
            }
        }
        Err(e) => problems.push(format!("{}: {e}", dir.display())),
    }
    Ok(())
}

/// Checks one pool key file: a single PKCS#8 `PRIVATE KEY` block holding an RSA-2048 key.
/// Returns the key's DER SubjectPublicKeyInfo and the problems found.
fn check_pool_key(path: &Path) -> Result<(Vec<u8>, Vec<String>)> {
    let der = read_single_pem(path, "PRIVATE KEY")?;
    let key = KeyPair::try_from(der.as_slice()).context("not a PKCS#8 key rcgen can load")?;
    let spki_der = key.subject_public_key_info();
    let (rest, spki) = SubjectPublicKeyInfo::from_der(&spki_der)
        .map_err(|e| anyhow::anyhow!("public key: {e}"))?;
    ensure!(rest.is_empty(), "trailing bytes after the public key");
    let mut found = Vec::new();
    compare(
        &mut found,
        "key algorithm",
        OID_RSA_ENCRYPTION.to_owned(),
        spki.algorithm.algorithm.to_id_string(),
    );
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => compare(
            &mut found,
            "RSA key bits",
            POOL_KEY_BITS,
            rsa_modulus_bits(rsa.modulus),
        ),
        Ok(_) => found.push("public key: not RSA".to_owned()),
        Err(e) => found.push(format!("public key: {e}")),
    }
    Ok((spki_der, found))
}

/// Bit length of a big-endian RSA modulus. (x509-parser's `key_size()` assumes exactly one leading
/// zero byte and answers 0 otherwise.)
fn rsa_modulus_bits(modulus: &[u8]) -> usize {
    let start = modulus
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(modulus.len());
    let trimmed = modulus.get(start..).unwrap_or_default();
    trimmed.first().map_or(0, |first| {
        8 * trimmed.len() - usize::try_from(first.leading_zeros()).unwrap_or(0)
    })
}

/// "line N: expected `…`, found `…`" for the first line that differs.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut e = expected.lines();
    let mut a = actual.lines();
    for line in 1.. {
        match (e.next(), a.next()) {
            (None, None) => break,
            (x, y) if x == y => {}
            (x, y) => {
                return format!(
                    "line {line}: expected `{}`, found `{}`",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                );
            }
        }
    }
    "line endings differ".to_owned()
}

/// Every PEM block of a file as (label, DER).
fn read_pems(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(&data) {
        let pem = pem.map_err(|e| anyhow::anyhow!("bad PEM in {}: {e:?}", path.display()))?;
        out.push((pem.label, pem.contents));
    }
    Ok(out)
}

/// The DER of the single PEM block labelled `label` that the file must hold.
fn read_single_pem(path: &Path, label: &str) -> Result<Vec<u8>> {
    let mut pems = read_pems(path)?;
    ensure!(
        pems.len() == 1,
        "expected exactly one PEM block, found {}",
        pems.len()
    );
    let (found, der) = pems.remove(0);
    ensure!(found == label, "PEM label `{found}`, expected `{label}`");
    Ok(der)
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
    ensure!(rest.is_empty(), "trailing bytes after the certificate");
    Ok(cert)
}

/// Records "what: expected X, found Y" when the two differ.
fn compare<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, what: &str, want: T, got: T) {
    if want != got {
        out.push(format!("{what}: expected {want:?}, found {got:?}"));
    }
}

/// Checks one certificate against its spec and (when readable) its issuer's certificate.
fn check_cert(
    s: &CertSpec,
    der: &[u8],
    parent_der: Option<&[u8]>,
    out: &mut Vec<String>,
) -> Result<()> {
    let cert = parse_cert(der).with_context(|| s.cert_file())?;
    let tbs = &cert.tbs_certificate;
    compare(out, "version (0 = v1, 2 = v3)", 2, tbs.version().0);

    let subject: Vec<(String, String)> = tbs
        .subject()
        .iter_attributes()
        .map(|a| {
            (
                a.attr_type().to_id_string(),
                a.as_str().unwrap_or("<non-string>").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = s
        .subject()
        .into_iter()
        .map(|(o, v)| (o.to_owned(), v.to_owned()))
        .collect();
    compare(out, "subject (OID, value)", want, subject);

    let serial: Vec<u8> = tbs
        .raw_serial()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let want_serial: Vec<u8> = s
        .serial
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    compare(out, "serial", hex::encode(want_serial), hex::encode(serial));

    compare(
        out,
        "notBefore (unix)",
        s.not_before.to_time()?.unix_timestamp(),
        tbs.validity().not_before.timestamp(),
    );
    compare(
        out,
        "notAfter (unix)",
        s.not_after.to_time()?.unix_timestamp(),
        tbs.validity().not_after.timestamp(),
    );

    let spki = tbs.public_key();
    compare(
        out,
        "key algorithm",
        OID_RSA_ENCRYPTION.to_owned(),
        spki.algorithm.algorithm.to_id_string(),
    );
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => compare(
            out,
            "RSA key bits",
            s.key.bits(),
            rsa_modulus_bits(rsa.modulus),
        ),
        Ok(_) => out.push("public key: not RSA".to_owned()),
        Err(e) => out.push(format!("public key: {e}")),
    }

    compare(
        out,
        "signatureAlgorithm",
        s.sig.oid().to_owned(),
        cert.signature_algorithm.algorithm.to_id_string(),
    );
    compare(
        out,
        "TBS signature algorithm",
        s.sig.oid().to_owned(),
        tbs.signature.algorithm.to_id_string(),
    );

    // Extensions.
    let eku: Option<BTreeSet<String>> = match tbs.extended_key_usage() {
        Ok(None) => None,
        Ok(Some(ext)) => {
            let e = ext.value;
            let mut set: BTreeSet<String> = e.other.iter().map(|o| o.to_id_string()).collect();
            for (flag, oid) in [
                (e.any, "2.5.29.37.0"),
                (e.server_auth, OID_SERVER_AUTH),
                (e.client_auth, OID_CLIENT_AUTH),
                (e.code_signing, "1.3.6.1.5.5.7.3.3"),
                (e.email_protection, "1.3.6.1.5.5.7.3.4"),
                (e.time_stamping, "1.3.6.1.5.5.7.3.8"),
                (e.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
            ] {
                if flag {
                    set.insert(oid.to_owned());
                }
            }
            Some(set)
        }
        Err(e) => {
            out.push(format!("EKU extension: {e}"));
            None
        }
    };
    let want_eku: Option<BTreeSet<String>> =
        (!s.ekus.is_empty()).then(|| s.ekus.iter().map(|e| e.oid().to_owned()).collect());
    compare(out, "EKU set", want_eku, eku);

    let bc = match tbs.basic_constraints() {
        Ok(bc) => bc.map(|b| (b.value.ca, b.value.path_len_constraint)),
        Err(e) => {
            out.push(format!("basicConstraints: {e}"));
            None
        }
    };
    let want_bc = match s.role {
        Role::Root => Some((true, None)),
        Role::Intermediate => Some((true, Some(0))),
        Role::Leaf => Some((false, None)),
    };
    compare(out, "basicConstraints (cA, pathLen)", want_bc, bc);

    let ku: Option<Vec<&str>> = match tbs.key_usage() {
        Ok(ku) => ku.map(|k| {
            let k = k.value;
            [
                (k.digital_signature(), "digitalSignature"),
                (k.non_repudiation(), "nonRepudiation"),
                (k.key_encipherment(), "keyEncipherment"),
                (k.data_encipherment(), "dataEncipherment"),
                (k.key_agreement(), "keyAgreement"),
                (k.key_cert_sign(), "keyCertSign"),
                (k.crl_sign(), "cRLSign"),
                (k.encipher_only(), "encipherOnly"),
                (k.decipher_only(), "decipherOnly"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect()
        }),
        Err(e) => {
            out.push(format!("keyUsage: {e}"));
            None
        }
    };
    compare(out, "keyUsage", Some(s.role.key_usage_names().to_vec()), ku);

    let sans: Option<Vec<String>> = match tbs.subject_alternative_name() {
        Ok(san) => san.map(|san| {
            san.value
                .general_names
                .iter()
                .map(|g| match g {
                    x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
                    other => format!("<non-DNS {other:?}>"),
                })
                .collect()
        }),
        Err(e) => {
            out.push(format!("subjectAltName: {e}"));
            None
        }
    };
    let want_sans: Option<Vec<String>> =
        (!s.sans.is_empty()).then(|| s.sans.iter().map(|d| (*d).to_owned()).collect());
    compare(out, "subjectAltName DNS names", want_sans, sans);

    // Issuer name and signature.
    let Some(parent_der) = parent_der else {
        out.push("issuer certificate unreadable: issuer and signature not checked".to_owned());
        return Ok(());
    };
    let parent = parse_cert(parent_der).context("issuer certificate")?;
    if tbs.issuer().as_raw() != parent.tbs_certificate.subject().as_raw() {
        out.push(format!(
            "issuer `{}` is not the subject of `{}` (`{}`)",
            tbs.issuer(),
            s.parent.unwrap_or(s.stem),
            parent.tbs_certificate.subject()
        ));
    }
    let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
        match cert.signature_algorithm.algorithm.to_id_string().as_str() {
            OID_SHA256_WITH_RSA => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            OID_SHA1_WITH_RSA => {
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            other => {
                out.push(format!("signature not verified: unknown algorithm {other}"));
                return Ok(());
            }
        };
    let issuer_key = &parent.tbs_certificate.public_key().subject_public_key.data;
    if aws_lc_rs::signature::UnparsedPublicKey::new(alg, issuer_key)
        .verify(tbs.as_ref(), &cert.signature_value.data)
        .is_err()
    {
        out.push(format!(
            "signature does not verify under the key of `{}`",
            s.parent.unwrap_or(s.stem)
        ));
    }
    Ok(())
}

/// The key file holds one PKCS#8 key whose public half is the certificate's.
fn check_key_file(s: &CertSpec, der: &[u8], dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let key_der = read_single_pem(&dir.join(s.key_file()), "PRIVATE KEY")?;
    let key = KeyPair::try_from(key_der.as_slice()).context("not a PKCS#8 key rcgen can load")?;
    let cert = parse_cert(der)?;
    if key.public_key_raw()
        != cert
            .tbs_certificate
            .public_key()
            .subject_public_key
            .data
            .as_ref()
    {
        out.push(format!(
            "{}: key does not match the certificate's public key",
            s.key_file()
        ));
    }
    Ok(())
}

/// A leaf's chain file is exactly its certificate followed by each issuer's, up to the root.
fn check_chain_file(
    s: &'static CertSpec,
    ders: &HashMap<&str, Vec<u8>>,
    dir: &Path,
    out: &mut Vec<String>,
) -> Result<()> {
    let Some(chain_file) = s.chain_file() else {
        return Ok(());
    };
    let pems = read_pems(&dir.join(&chain_file))?;
    let chain = chain_of(s)?;
    if pems.len() != chain.len() {
        out.push(format!(
            "{chain_file}: {} certificates, expected {}",
            pems.len(),
            chain.len()
        ));
        return Ok(());
    }
    for (i, ((label, der), member)) in pems.iter().zip(&chain).enumerate() {
        if label != "CERTIFICATE" || ders.get(member.stem) != Some(der) {
            out.push(format!(
                "{chain_file}: entry {} is not `{}`",
                i + 1,
                member.cert_file()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs")
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("amt-sim-certs-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }

        fn copy_of_committed(tag: &str) -> Self {
            let tmp = Self::new(tag);
            copy_dir(&committed_dir(), &tmp.0);
            tmp
        }
    }

    /// Copies `from` into the existing directory `to`, subdirectories included.
    fn copy_dir(from: &Path, to: &Path) {
        for entry in std::fs::read_dir(from).expect("list dir") {
            let entry = entry.expect("dir entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                std::fs::create_dir_all(&target).expect("create dir");
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }

    fn committed_pool() -> Vec<KeyPair> {
        (0..POOL_SIZE)
            .map(|i| {
                let path = committed_dir().join(POOL_DIR).join(pool_key_file(i));
                let text = std::fs::read_to_string(&path).expect("read pool key");
                KeyPair::from_pem(&text).expect("pool key")
            })
            .collect()
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn committed_key(s: &CertSpec) -> Result<KeyPair> {
        let path = committed_dir().join(s.key_file());
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        Ok(KeyPair::from_pem(&text)?)
    }

    #[test]
    fn committed_certs_pass_check() {
        if let Err(e) = check(&committed_dir()) {
            panic!("{e:#}");
        }
    }

    #[test]
    fn reissuing_from_committed_keys_reproduces_the_committed_certificates() {
        // RSA PKCS#1 v1.5 signatures are deterministic, so table + keys fully determine the bytes.
        let built = build_all(committed_key).expect("build from committed keys");
        for b in &built {
            let committed =
                read_single_pem(&committed_dir().join(b.spec.cert_file()), "CERTIFICATE")
                    .expect("committed cert");
            assert!(
                committed == b.der,
                "`{}` differs from its re-issue",
                b.spec.stem
            );
        }
        // And writing them out again passes `check` (exercises `write_all`).
        let tmp = TempDir::new("rewrite");
        write_all(&tmp.0, &built, &committed_pool()).expect("write");
        for i in 0..POOL_SIZE {
            let name = format!("{POOL_DIR}/{}", pool_key_file(i));
            assert_eq!(
                std::fs::read(tmp.0.join(&name)).expect("rewritten pool key"),
                std::fs::read(committed_dir().join(&name)).expect("committed pool key"),
                "{name} differs from its rewrite"
            );
        }
        check(&tmp.0).expect("re-written directory passes check");
    }

    #[test]
    fn check_reports_swapped_and_tampered_files() {
        let tmp = TempDir::copy_of_committed("swap");
        let (a, b) = (
            tmp.0.join("prov-oid.cert.pem"),
            tmp.0.join("prov-ou.cert.pem"),
        );
        let a_text = std::fs::read(&a).expect("read");
        std::fs::copy(&b, &a).expect("copy");
        std::fs::write(&b, a_text).expect("write");
        std::fs::write(tmp.0.join("stray.pem"), "x").expect("write");
        let err = format!("{:#}", check(&tmp.0).expect_err("swapped files must fail"));
        for needle in [
            "prov-oid: subject",
            "prov-oid: serial",
            "prov-oid: EKU set",
            "prov-ou: EKU set",
            "prov-oid: prov-oid.TEST-ONLY.key.pem: key does not match",
            "prov-oid: prov-oid.chain.pem: entry 1 is not",
            "prov-ou: prov-ou.chain.pem: entry 1 is not",
            "thumbprints.txt: differs",
            "stray.pem: not produced",
        ] {
            assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
        }
    }

    #[test]
    fn check_reports_a_wrong_field_and_a_bad_signature() {
        let tmp = TempDir::copy_of_committed("field");
        // Re-issue prov-oid with clientAuth added and a different notAfter, same key and issuer.
        let s = spec("prov-oid").expect("spec");
        let inter = spec("int-rsa2048").expect("spec");
        let (key, inter_key) = (
            committed_key(s).expect("key"),
            committed_key(inter).expect("key"),
        );
        let mut p = s.params().expect("params");
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
        p.not_after = Ymd(2041, 1, 1).to_time().expect("date");
        let inter_params = inter.params().expect("params");
        let issuer = Issuer::from_params(&inter_params, &inter_key);
        let der = p.signed_by(&key, &issuer).expect("sign").der().to_vec();
        std::fs::write(tmp.0.join(s.cert_file()), pem_encode("CERTIFICATE", &der)).expect("write");
        // Flip a byte of the SHA-1 root's signature.
        let root = spec("root-sha1").expect("spec");
        let mut root_der =
            read_single_pem(&tmp.0.join(root.cert_file()), "CERTIFICATE").expect("read");
        if let Some(last) = root_der.last_mut() {
            *last ^= 1;
        }
        std::fs::write(
            tmp.0.join(root.cert_file()),
            pem_encode("CERTIFICATE", &root_der),
        )
        .expect("write");
        let err = format!("{:#}", check(&tmp.0).expect_err("tampered files must fail"));
        for needle in [
            "prov-oid: EKU set",
            "prov-oid: notAfter",
            "root-sha1: signature does not verify",
            "README.md: differs",
        ] {
            assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
        }
        assert!(
            !err.contains("prov-oid: subject"),
            "unexpected subject error:\n{err}"
        );
    }

    #[test]
    fn check_reports_bad_duplicate_and_stray_pool_keys() {
        let tmp = TempDir::copy_of_committed("pool");
        let pool = tmp.0.join(POOL_DIR);
        // A 4096-bit key, a duplicate, a missing key and a stray file.
        std::fs::copy(
            tmp.0.join("root-rsa4096.TEST-ONLY.key.pem"),
            pool.join(pool_key_file(1)),
        )
        .expect("copy");
        std::fs::copy(pool.join(pool_key_file(2)), pool.join(pool_key_file(3))).expect("copy");
        std::fs::remove_file(pool.join(pool_key_file(7))).expect("remove");
        std::fs::write(pool.join("device-pool-08.TEST-ONLY.key.pem"), "x").expect("write");
        let err = format!("{:#}", check(&tmp.0).expect_err("bad pool must fail"));
        for needle in [
            "device-pool/device-pool-01.TEST-ONLY.key.pem: RSA key bits: expected 2048, found 4096",
            "device-pool/device-pool-03.TEST-ONLY.key.pem: same key as device-pool/device-pool-02",
            "device-pool/device-pool-07.TEST-ONLY.key.pem: reading",
            "device-pool/device-pool-08.TEST-ONLY.key.pem: not produced by the table",
            "README.md, thumbprints.txt: not checked",
        ] {
            assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
        }
        assert!(
            !err.contains("device-pool-00"),
            "pool key 00 is fine:\n{err}"
        );
    }

    #[test]
    fn rsa_modulus_bits_ignores_any_number_of_leading_zero_bytes() {
        assert_eq!(rsa_modulus_bits(&[]), 0);
        assert_eq!(rsa_modulus_bits(&[0, 0]), 0);
        assert_eq!(rsa_modulus_bits(&[0x80, 0]), 16);
        assert_eq!(rsa_modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(rsa_modulus_bits(&[0, 0, 0x01, 0]), 9);
        assert_eq!(rsa_modulus_bits(&[0x7f; 256]), 2047);
    }

    #[test]
    fn pem_encoding_matches_rcgen() {
        let key = committed_key(spec("prov-oid").expect("spec")).expect("key");
        assert_eq!(
            pem_encode("PRIVATE KEY", key.serialized_der()),
            key.serialize_pem()
        );
        for len in 0..5 {
            let data = vec![0xa5_u8; len];
            let text = pem_encode("X", &data);
            let parsed = x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
                .next()
                .expect("one block")
                .expect("valid PEM");
            assert_eq!(parsed.contents, data);
        }
    }

    #[test]
    fn der_walker_rejects_bad_input_without_panicking() {
        for bad in [
            &[][..],
            &[0x30][..],
            &[0x30, 0x05, 0x00][..],
            &[0x30, 0x80][..],
            &[0x30, 0x85, 1, 2, 3, 4, 5][..],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x1f, 0x01, 0x00][..],
        ] {
            assert!(read_tlv(bad, 0).is_err(), "{bad:02x?}");
        }
        let key = committed_key(spec("prov-oid").expect("spec")).expect("key");
        assert!(resign_with_sha1(&[0x30, 0x00], &key).is_err());
        let tlv = read_tlv(&[0x04, 0x81, 0x01, 0xaa], 0).expect("long form");
        assert_eq!((tlv.tag, tlv.content, tlv.end), (0x04, 3, 4));
    }
}
