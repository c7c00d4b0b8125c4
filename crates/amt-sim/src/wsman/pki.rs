//! Certificates, keys and TLS: `AMT_PublicKeyManagementService` (GenerateKeyPair from the key
//! pool, AddCertificate, AddTrustedRootCertificate, AddKey, GeneratePKCS10RequestEx with a real
//! CSR), `AMT_PublicKeyCertificate`, `AMT_PublicPrivateKeyPair`, `AMT_TLSSettingData` (pending
//! until `CommitChanges`), `AMT_TLSCredentialContext` and `AMT_TLSProtocolEndpointCollection`;
//! plus the X.509 helpers the host-based setup uses (chain signatures, provisioning EKU/OU).

use amt_wire::wsman::Fault;
use amt_wire::wsman::fault::{DETAIL_INVALID_VALUES, DETAIL_MISSING_VALUES};
use amt_wire::wsman::names::AMT_SCHEMA;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::model::{
    Call, Cx, Epr, Input, Instance, Invoked, MethodOut, Update, b64_decode, b64_encode, parse_bool,
    pt,
};
use super::{DeviceFacts, Note};
use crate::keypool;
use crate::state::{NvramState, StoredCertificate, StoredKeyPair, TlsSetting};

/// `InstanceID` of the remote TLS settings.
pub(crate) const TLS_REMOTE: &str = "Intel(r) AMT 802.3 TLS Settings";
/// `InstanceID` of the local TLS settings.
pub(crate) const TLS_LOCAL: &str = "Intel(r) AMT LMS TLS Settings";
/// `ElementName` of the TLS protocol endpoint collection.
pub(crate) const TLS_ENDPOINTS: &str = "TLSProtocolEndpointInstances Collection";
/// Name of the public key management service.
const PKM_SERVICE: &str = "Intel(r) AMT Public Key Management Service";
/// The Intel AMT provisioning EKU OID.
const AMT_PROVISIONING_OID: &str = "2.16.840.1.113741.1.2.3";
/// The Intel setup OU.
const SETUP_OU: &str = "Intel(R) Client Setup Certificate";
/// At most this many certificates in the store.
const MAX_CERTIFICATES: usize = 32;
/// At most this many key pairs in the store (generated and added).
const MAX_KEYS: usize = 32;
/// At most this many `TrustedCN` entries, each at most this long.
const MAX_TRUSTED_CN: (usize, usize) = (4, 255);

/// `InstanceID` of a certificate.
pub(crate) fn cert_instance_id(handle: u32) -> String {
    format!("Intel(r) AMT Certificate: Handle: {handle}")
}

/// `InstanceID` of a key pair.
pub(crate) fn key_instance_id(handle: u32) -> String {
    format!("Intel(r) AMT Key: Handle: {handle}")
}

/// The handle in an `InstanceID` like `Intel(r) AMT Key: Handle: 3`.
fn handle_of(instance_id: &str) -> Option<u32> {
    instance_id
        .rsplit(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
}

/// EPR of a certificate.
pub(crate) fn cert_epr(handle: u32) -> Epr {
    Epr::new(
        format!("{AMT_SCHEMA}AMT_PublicKeyCertificate"),
        &[("InstanceID", &cert_instance_id(handle))],
    )
}

/// EPR of a key pair.
fn key_epr(handle: u32) -> Epr {
    Epr::new(
        format!("{AMT_SCHEMA}AMT_PublicPrivateKeyPair"),
        &[("InstanceID", &key_instance_id(handle))],
    )
}

/// EPR of the TLS protocol endpoint collection.
fn endpoints_epr() -> Epr {
    Epr::new(
        format!("{AMT_SCHEMA}AMT_TLSProtocolEndpointCollection"),
        &[("ElementName", TLS_ENDPOINTS)],
    )
}

/// Instances of the PKI classes.
pub(crate) fn instances(class: &str, state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "AMT_PublicKeyManagementService" => vec![
            Instance::new(AMT_SCHEMA, class)
                .p("CreationClassName", class)
                .p("ElementName", PKM_SERVICE)
                .p("EnabledState", 5)
                .key("Name", PKM_SERVICE)
                .p("RequestedState", 12)
                .p("SystemCreationClassName", "CIM_ComputerSystem")
                .p("SystemName", "Intel(r) AMT"),
        ],
        "AMT_PublicKeyCertificate" => state.certificates.iter().map(certificate).collect(),
        "AMT_PublicPrivateKeyPair" => state
            .key_pairs
            .iter()
            .map(|k| {
                Instance::new(AMT_SCHEMA, class)
                    .p("DERKey", b64_encode(&k.public_pkcs1_der))
                    .p("ElementName", "Intel(r) AMT Key")
                    .key("InstanceID", key_instance_id(k.handle))
            })
            .collect(),
        "AMT_TLSSettingData" => vec![
            tls_setting(TLS_REMOTE, &state.tls_pending.remote, true),
            tls_setting(TLS_LOCAL, &state.tls_pending.local, false),
        ],
        "AMT_TLSCredentialContext" => state
            .tls_credential_cert
            .map(|h| {
                Instance::new(AMT_SCHEMA, class)
                    .key_epr("ElementInContext", cert_epr(h))
                    .key_epr("ElementProvidingContext", endpoints_epr())
            })
            .into_iter()
            .collect(),
        "AMT_TLSProtocolEndpointCollection" => {
            vec![Instance::new(AMT_SCHEMA, class).key("ElementName", TLS_ENDPOINTS)]
        }
        _ => Vec::new(),
    }
}

/// `AMT_PublicKeyCertificate` of a stored certificate.
fn certificate(c: &StoredCertificate) -> Instance {
    let (issuer, subject) = X509Certificate::from_der(&c.der)
        .map(|(_, x)| (x.issuer().to_string(), x.subject().to_string()))
        .unwrap_or_default();
    Instance::new(AMT_SCHEMA, "AMT_PublicKeyCertificate")
        .p("ElementName", "Intel(r) AMT Certificate")
        .key("InstanceID", cert_instance_id(c.handle))
        .p("Issuer", issuer)
        .b("ReadOnlyCertificate", c.read_only)
        .p("Subject", subject)
        .b("TrustedRootCertificate", c.trusted_root)
        .p("X509Certificate", b64_encode(&c.der))
}

/// `AMT_TLSSettingData` instance.
fn tls_setting(id: &str, s: &TlsSetting, remote: bool) -> Instance {
    let i = Instance::new(AMT_SCHEMA, "AMT_TLSSettingData")
        .p("ElementName", id)
        .b("Enabled", s.enabled)
        .key("InstanceID", id)
        .b("MutualAuthentication", s.mutual_authentication)
        .list("TrustedCN", &s.trusted_cn);
    if remote {
        i.b(
            "AcceptNonSecureConnections",
            s.accept_non_secure_connections,
        )
        .b("NonSecureConnectionsSupported", true)
    } else {
        i
    }
}

/// Put of TLS settings (pending) or of the credential context (new certificate).
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    let Update {
        class,
        target,
        input,
    } = put;
    match class {
        "AMT_TLSSettingData" => {
            let remote = target.text("InstanceID") == Some(TLS_REMOTE);
            let mut s = if remote {
                cx.state.tls_pending.remote.clone()
            } else {
                cx.state.tls_pending.local.clone()
            };
            let flag = |name: &str| -> Result<Option<bool>, Fault> {
                input.text(name).map(|t| parse_bool(&t)).transpose()
            };
            if let Some(v) = flag("Enabled")? {
                s.enabled = v;
            }
            if let Some(v) = flag("MutualAuthentication")? {
                s.mutual_authentication = v;
            }
            if remote && let Some(v) = flag("AcceptNonSecureConnections")? {
                s.accept_non_secure_connections = v;
            }
            let cns: Vec<String> = input
                .texts("TrustedCN")
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect();
            if cns.len() > MAX_TRUSTED_CN.0 || cns.iter().any(|c| c.len() > MAX_TRUSTED_CN.1) {
                return Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)));
            }
            if !cns.is_empty() {
                s.trusted_cn = cns;
            }
            let slot = if remote {
                &mut cx.state.tls_pending.remote
            } else {
                &mut cx.state.tls_pending.local
            };
            if *slot != s {
                *slot = s;
                cx.changed(Some(Note::TlsSettingsChanged));
            }
            Ok(())
        }
        "AMT_TLSCredentialContext" => {
            let handle = credential_cert(cx.state, input)?;
            if cx.state.tls_credential_cert != Some(handle) {
                cx.state.tls_credential_cert = Some(handle);
                cx.changed(Some(Note::TlsSettingsChanged));
            }
            Ok(())
        }
        _ => Err(Fault::action_not_supported()),
    }
}

/// The certificate handle named by `ElementInContext` (must be a stored, non-root certificate).
fn credential_cert(state: &NvramState, input: Input<'_>) -> Result<u32, Fault> {
    let epr = input
        .epr("ElementInContext")
        .ok_or_else(|| Fault::invalid_representation(Some(DETAIL_MISSING_VALUES)))?;
    let handle = epr
        .selector("InstanceID")
        .and_then(handle_of)
        .ok_or_else(|| Fault::invalid_representation(Some(DETAIL_INVALID_VALUES)))?;
    match state.certificates.iter().find(|c| c.handle == handle) {
        Some(c) if !c.trusted_root => Ok(handle),
        _ => Err(Fault::invalid_representation(Some(DETAIL_INVALID_VALUES))),
    }
}

/// Create of `AMT_TLSCredentialContext` (only one may exist).
pub(crate) fn create(class: &str, cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<Epr, Fault> {
    if class != "AMT_TLSCredentialContext" {
        return Err(Fault::action_not_supported());
    }
    if cx.state.tls_credential_cert.is_some() {
        return Err(Fault::already_exists());
    }
    let handle = credential_cert(cx.state, input)?;
    cx.state.tls_credential_cert = Some(handle);
    cx.changed(Some(Note::TlsSettingsChanged));
    let instance = Instance::new(AMT_SCHEMA, class)
        .key_epr("ElementInContext", cert_epr(handle))
        .key_epr("ElementProvidingContext", endpoints_epr());
    Ok(instance.epr())
}

/// Delete of a certificate, key pair or the credential context. A certificate or key in use by
/// the TLS credential context, and AMT's read-only certificate, answer `wsman:AccessDenied`.
pub(crate) fn delete(class: &str, cx: &mut Cx<'_, '_, '_>, target: &Instance) -> Result<(), Fault> {
    let handle = target.text("InstanceID").and_then(handle_of);
    match class {
        "AMT_PublicKeyCertificate" => {
            let handle = handle.ok_or_else(Fault::internal_error)?;
            let cert = cx
                .state
                .certificates
                .iter()
                .find(|c| c.handle == handle)
                .ok_or_else(|| Fault::invalid_selectors(None))?;
            if cert.read_only || cx.state.tls_credential_cert == Some(handle) {
                return Err(Fault::access_denied());
            }
            cx.state.certificates.retain(|c| c.handle != handle);
            cx.changed(None);
            Ok(())
        }
        "AMT_PublicPrivateKeyPair" => {
            let handle = handle.ok_or_else(Fault::internal_error)?;
            let in_use = cx
                .state
                .tls_credential_cert
                .and_then(|h| cx.state.certificates.iter().find(|c| c.handle == h))
                .and_then(|c| cx.state.key_for_certificate(&c.der))
                .is_some_and(|k| k.handle == handle);
            if in_use {
                return Err(Fault::access_denied());
            }
            cx.state.key_pairs.retain(|k| k.handle != handle);
            cx.changed(None);
            Ok(())
        }
        "AMT_TLSCredentialContext" => {
            cx.state.tls_credential_cert = None;
            cx.changed(Some(Note::TlsSettingsChanged));
            Ok(())
        }
        _ => Err(Fault::action_not_supported()),
    }
}

/// `AMT_PublicKeyManagementService` methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let method = call.method_on("AMT_PublicKeyManagementService")?;
    let input = call.input;
    let out = match method {
        "GenerateKeyPair" => generate_key_pair(cx, input),
        "AddCertificate" => Ok(add_certificate(cx, input, false)),
        "AddTrustedRootCertificate" => Ok(add_certificate(cx, input, true)),
        "AddKey" => Ok(add_key(cx, input)),
        "GeneratePKCS10RequestEx" => Ok(generate_csr(cx, input)),
        "AddCRL" | "ResetCRLList" => Ok(MethodOut::ok()),
        _ => return None,
    };
    Some(out)
}

/// `GenerateKeyPair(KeyAlgorithm 0, KeyLength 2048)`: the next unused key of the pool.
fn generate_key_pair(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let algorithm = input.u32("KeyAlgorithm")?;
    let length = input.u32("KeyLength")?;
    if algorithm != Some(0) || length != Some(2048) {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    // Start at a seed-dependent pool slot so devices of a fleet differ.
    let start = usize::try_from(cx.state.seed % keypool::POOL_SIZE as u64).unwrap_or(0);
    let free = (0..keypool::POOL_SIZE)
        .map(|k| (start + k) % keypool::POOL_SIZE)
        .find(|i| !cx.state.key_pairs.iter().any(|k| k.pool_index == Some(*i)));
    let Some(index) = free else {
        return Ok(MethodOut::status(pt::MAX_LIMIT_REACHED));
    };
    let handle = next_key_handle(cx.state);
    cx.state.key_pairs.push(StoredKeyPair {
        handle,
        pool_index: Some(index),
        pkcs8_der: None,
        public_pkcs1_der: keypool::rsa_public_key_pkcs1_der(index),
    });
    cx.changed(Some(Note::KeyPairGenerated { handle }));
    Ok(MethodOut::ok().out_epr("KeyPair", key_epr(handle)))
}

/// The next key handle.
fn next_key_handle(state: &mut NvramState) -> u32 {
    let handle = state.counters.next_key_handle;
    state.counters.next_key_handle = handle.wrapping_add(1);
    handle
}

/// `AddCertificate` / `AddTrustedRootCertificate(CertificateBlob)`.
///
/// 2063 INVALID_CERT for an unreadable certificate (or a SHA-1 signature on ME 16+), 2058
/// DUPLICATE for one already stored, 2064 CERT_KEY_NOT_MATCH when `AddCertificate` has no key
/// pair for the certificate's public key, 23 MAX_LIMIT_REACHED when the store is full.
fn add_certificate(cx: &mut Cx<'_, '_, '_>, input: Input<'_>, root: bool) -> MethodOut {
    let Some(der) = input.text("CertificateBlob").and_then(|t| b64_decode(&t)) else {
        return MethodOut::status(pt::INVALID_CERT);
    };
    if certificate_public_key(&der).is_none() {
        return MethodOut::status(pt::INVALID_CERT);
    }
    if cx.facts().quirks.refuse_sha1_hashes && uses_sha1(&der) {
        return MethodOut::status(pt::INVALID_CERT);
    }
    if cx.state.certificates.iter().any(|c| c.der == der) {
        return MethodOut::status(pt::DUPLICATE);
    }
    if !root && cx.state.key_for_certificate(&der).is_none() {
        return MethodOut::status(pt::CERT_KEY_NOT_MATCH);
    }
    if cx.state.certificates.len() >= MAX_CERTIFICATES {
        return MethodOut::status(pt::MAX_LIMIT_REACHED);
    }
    let handle = cx.state.counters.next_cert_handle;
    cx.state.counters.next_cert_handle = handle.wrapping_add(1);
    cx.state.certificates.push(StoredCertificate {
        handle,
        der,
        trusted_root: root,
        read_only: false,
    });
    cx.changed(Some(Note::CertificateAdded { handle }));
    MethodOut::ok().out_epr("CreatedCertificate", cert_epr(handle))
}

/// `AddKey(KeyBlob)`: an RSA private key as PKCS#8 or PKCS#1 DER (base64).
fn add_key(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let Some(der) = input.text("KeyBlob").and_then(|t| b64_decode(&t)) else {
        return MethodOut::status(pt::INVALID_KEY);
    };
    let Some((pkcs8, public)) = read_private_key(&der) else {
        return MethodOut::status(pt::INVALID_KEY);
    };
    if cx
        .state
        .key_pairs
        .iter()
        .any(|k| k.public_pkcs1_der == public)
    {
        return MethodOut::status(pt::DUPLICATE);
    }
    if cx.state.key_pairs.len() >= MAX_KEYS {
        return MethodOut::status(pt::MAX_LIMIT_REACHED);
    }
    let handle = next_key_handle(cx.state);
    cx.state.key_pairs.push(StoredKeyPair {
        handle,
        pool_index: None,
        pkcs8_der: Some(pkcs8),
        public_pkcs1_der: public,
    });
    cx.changed(Some(Note::KeyPairGenerated { handle }));
    MethodOut::ok().out_epr("CreatedKey", key_epr(handle))
}

/// PKCS#8 DER and PKCS#1 public key of an RSA private key given as PKCS#8 or PKCS#1.
fn read_private_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
    if let Ok(kp) = rcgen::KeyPair::from_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256) {
        return Some((der.to_vec(), kp.public_key_raw().to_vec()));
    }
    let pkcs1 = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.to_vec()));
    let kp = rcgen::KeyPair::from_der_and_sign_algo(&pkcs1, &rcgen::PKCS_RSA_SHA256).ok()?;
    Some((pkcs1_to_pkcs8(der), kp.public_key_raw().to_vec()))
}

/// Wrap a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo`.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    // version 0, AlgorithmIdentifier { rsaEncryption, NULL }
    const PREFIX: &[u8] = &[
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00,
    ];
    let octets = der_tlv(0x04, pkcs1);
    let mut inner = PREFIX.to_vec();
    inner.extend_from_slice(&octets);
    der_tlv(0x30, &inner)
}

/// A DER tag-length-value.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(value);
    out
}

/// `GeneratePKCS10RequestEx(KeyPair, SigningAlgorithm, NullSignedCertificateRequest)`: a real
/// CSR for the subject of the null-signed request, signed with the key pair (SHA-256 only:
/// SigningAlgorithm 0 = SHA-1 answers 2066 UNSUPPORTED).
fn generate_csr(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let handle = input
        .epr("KeyPair")
        .and_then(|e| e.selector("InstanceID").and_then(handle_of));
    let Some(key) = handle.and_then(|h| cx.state.key_pairs.iter().find(|k| k.handle == h)) else {
        return MethodOut::status(pt::INVALID_HANDLE);
    };
    match input.text("SigningAlgorithm").as_deref() {
        Some("1") => {}
        Some("0") => return MethodOut::status(pt::UNSUPPORTED),
        _ => return MethodOut::status(pt::INVALID_PARAMETER),
    }
    let Some(request) = input
        .text("NullSignedCertificateRequest")
        .and_then(|t| b64_decode(&t))
    else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    let Some(params) = csr_params(&request) else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    let uploaded;
    let key_pair = match (key.pool_index, &key.pkcs8_der) {
        (Some(i), _) => Some(keypool::key_pair(i)),
        (None, Some(der)) => {
            uploaded = rcgen::KeyPair::from_der_and_sign_algo(
                &PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.clone())),
                &rcgen::PKCS_RSA_SHA256,
            )
            .ok();
            uploaded.as_ref()
        }
        (None, None) => None,
    };
    let Some(key_pair) = key_pair else {
        return MethodOut::status(pt::INVALID_KEY);
    };
    match params.serialize_request(key_pair) {
        Ok(csr) => MethodOut::ok().out("SignedCertificateRequest", b64_encode(csr.der())),
        Err(_) => MethodOut::status(pt::INTERNAL_ERROR),
    }
}

/// Certificate parameters carrying the subject of a (null-signed) PKCS#10 request.
fn csr_params(der: &[u8]) -> Option<rcgen::CertificateParams> {
    use x509_parser::certification_request::X509CertificationRequest;
    let (_, csr) = X509CertificationRequest::from_der(der).ok()?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for rdn in csr.certification_request_info.subject.iter() {
        for attr in rdn.iter() {
            let value = attr.as_str().ok()?;
            let oid: Vec<u64> = attr.attr_type().iter()?.collect();
            let ty = match oid.as_slice() {
                [2, 5, 4, 3] => rcgen::DnType::CommonName,
                [2, 5, 4, 6] => rcgen::DnType::CountryName,
                [2, 5, 4, 7] => rcgen::DnType::LocalityName,
                [2, 5, 4, 8] => rcgen::DnType::StateOrProvinceName,
                [2, 5, 4, 10] => rcgen::DnType::OrganizationName,
                [2, 5, 4, 11] => rcgen::DnType::OrganizationalUnitName,
                _ => rcgen::DnType::CustomDnType(oid),
            };
            params.distinguished_name.push(ty, value);
        }
    }
    Some(params)
}

/// The subject public key (for RSA: PKCS#1 `RSAPublicKey` DER) of certificate `der`, or `None`
/// if `der` is not a certificate.
pub(crate) fn certificate_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (rest, cert) = X509Certificate::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// Whether the certificate is signed with SHA-1.
pub(crate) fn uses_sha1(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, c)| {
        matches!(
            c.signature_algorithm.algorithm.to_id_string().as_str(),
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.3.14.3.2.29"
        )
    })
}

/// Whether `child` names `issuer` as its issuer and carries a valid signature by its key.
/// SHA-1 signatures cannot be checked with our verifier: they pass unless `refuse_sha1`.
pub(crate) fn signed_by(child: &[u8], issuer: &[u8], refuse_sha1: bool) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(issuer),
    ) else {
        return false;
    };
    if c.issuer().as_raw() != i.subject().as_raw() {
        return false;
    }
    let public = i.public_key().subject_public_key.data.as_ref();
    let message = c.tbs_certificate.as_ref();
    let signature = c.signature_value.data.as_ref();
    use webpki::aws_lc_rs as alg;
    let candidates: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] =
        match c.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.11" => &[alg::RSA_PKCS1_2048_8192_SHA256],
            "1.2.840.113549.1.1.12" => &[alg::RSA_PKCS1_2048_8192_SHA384],
            "1.2.840.113549.1.1.13" => &[alg::RSA_PKCS1_2048_8192_SHA512],
            "1.2.840.10045.4.3.2" => &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            "1.2.840.10045.4.3.3" => &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => return !refuse_sha1,
            _ => return false,
        };
    candidates
        .iter()
        .any(|a| a.verify_signature(public, message, signature).is_ok())
}

/// Whether a certificate may act as a provisioning certificate: the AMT EKU OID or the Intel
/// setup OU (exact, case-sensitive), and usable as a server certificate (serverAuth or no EKU
/// restriction).
pub(crate) fn is_provisioning_leaf(der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let eku = cert.extended_key_usage().ok().flatten().map(|e| e.value);
    let has_oid = eku.is_some_and(|e| {
        e.other
            .iter()
            .any(|o| o.to_id_string() == AMT_PROVISIONING_OID)
    });
    let has_ou = cert
        .subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str() == Ok(SETUP_OU));
    let server = eku.is_none_or(|e| e.server_auth || e.any);
    (has_oid || has_ou) && server
}

/// RSA-PKCS#1-v1.5-SHA256 verification of `signature` over `message` with the key of
/// certificate `cert_der`.
pub(crate) fn verify_rsa_sha256(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Some(public) = certificate_public_key(cert_der) else {
        return false;
    };
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256
        .verify_signature(&public, message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_out_of_instance_ids() {
        assert_eq!(handle_of(&cert_instance_id(7)), Some(7));
        assert_eq!(handle_of(&key_instance_id(0)), Some(0));
        assert_eq!(handle_of("nonsense"), None);
    }

    #[test]
    fn pkcs1_wrapping_gives_a_key_rcgen_reads() {
        let pkcs8 = keypool::pkcs8_der(0);
        // The PKCS#1 key is the OCTET STRING at the end of the PKCS#8 structure.
        let (_, info) = x509_parser::der_parser::der::parse_der(pkcs8).unwrap_or_else(|_| {
            panic!("pool key is DER");
        });
        let seq = info.as_sequence().unwrap_or_else(|_| panic!("sequence"));
        let pkcs1 = seq
            .get(2)
            .and_then(|o| o.as_slice().ok())
            .unwrap_or_else(|| panic!("octet string"));
        let (wrapped, public) = read_private_key(pkcs1).unwrap_or_else(|| panic!("pkcs1 read"));
        assert_eq!(public, keypool::rsa_public_key_pkcs1_der(0));
        assert!(read_private_key(&wrapped).is_some());
    }
}
