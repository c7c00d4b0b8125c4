//! The web-server certificate request and first-stage provisioning (error-catalog §2 step 6).
//!
//! Certificate: `GenerateKeyPair(RSA, 2048)` → read the public key (`AMT_PublicPrivateKeyPair`
//! `DERKey`) → `GeneratePKCS10RequestEx` with a null-signed PKCS#10 request for the device FQDN →
//! enterprise CA. Stage 1: AMT time sync (`GetLowAccuracyTimeSynch` + `SetHighAccuracyTimeSynch`),
//! host and domain name (`AMT_GeneralSettings` Put), `AddCertificate`, `AMT_TLSCredentialContext`
//! Create, TLS on (`AMT_TLSSettingData` Put on the 802.3 instance), `SetAdminAclEntryEx` with a random
//! strong password, `SetMEBxPassword`, `CommitChanges`.

use amt_wire::digest;
use amt_wire::wsman::{Element, Node};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;

use super::error::{SessionError, SubCause, SubStepError};
use super::{Failure, Progress, Sink, Steps};
use crate::ca::EnterpriseCaModel;
use crate::events::{ProvisionEvent, Step};
use crate::logs::ids;
use crate::wsman_client::{CallError, InvokeOutput, WsmanClient, endpoint_reference, property};

const PKMS: &str = "AMT_PublicKeyManagementService";
const SETUP: &str = "AMT_SetupAndConfigurationService";
const TIME: &str = "AMT_TimeSynchronizationService";
const AUTH: &str = "AMT_AuthorizationService";
/// Instance of the remote (network) TLS settings.
pub(crate) const TLS_REMOTE: &str = "Intel(r) AMT 802.3 TLS Settings";
/// `ElementName` of the TLS protocol endpoint collection (what GWM and MeshCentral send).
const TLS_ENDPOINTS: &str = "TLSProtocolEndpointInstances Collection";
/// `PT_STATUS_NOT_PERMITTED`.
const NOT_PERMITTED: u32 = 16;

/// A failed sub-step of stage 1 or 2 (or of the certificate request).
pub(super) type SubFailure = SubStepError;

/// Map a call error to a failure of sub-step `what`.
pub(super) fn call(what: &'static str) -> impl Fn(CallError) -> SubFailure {
    move |e| SubStepError {
        what,
        cause: SubCause::Call(e),
    }
}

/// `out` when its ReturnValue is 0; a failure of sub-step `what` otherwise.
pub(super) fn ok_return(what: &'static str, out: InvokeOutput) -> Result<InvokeOutput, SubFailure> {
    match out.return_value {
        Some(0) => Ok(out),
        other => Err(SubStepError {
            what,
            cause: SubCause::ReturnValue(other),
        }),
    }
}

/// Certificate request, then stage 1.
pub(crate) fn run(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
    progress: &mut Progress,
    ca: &mut EnterpriseCaModel,
    rng: &mut dyn RngCore,
) -> Result<(), Failure> {
    let (cert_der, key_id) = request_certificate(steps, client, sink, progress, ca)?;
    sink.log(ids::STAGE1_STARTED, &[]);
    sink.event(ProvisionEvent::StageStarted { stage: 1 });
    let r = stage1(steps, client, sink, progress, &cert_der, &key_id, rng);
    sink.flush(client);
    match r {
        Ok(()) => {
            sink.log(ids::STAGE1_COMPLETED, &[]);
            sink.event(ProvisionEvent::StageFinished { stage: 1, ok: true });
            Ok(())
        }
        Err(f) => {
            sink.log(
                ids::STAGE1_FAILED,
                &[("step", f.what), ("error", &f.cause.to_string())],
            );
            if steps.computer.fqdn.len() > 44 {
                sink.log(ids::A_20, &[]);
            }
            sink.event(ProvisionEvent::StageFinished {
                stage: 1,
                ok: false,
            });
            Err(Failure::new(Step::Stage1, SessionError::Stage1(f)))
        }
    }
}

/// Key pair on the device, CSR signed by the device, certificate from the enterprise CA; returns
/// the certificate (DER) and the key pair's `InstanceID`.
fn request_certificate(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
    progress: &mut Progress,
    ca: &mut EnterpriseCaModel,
) -> Result<(Vec<u8>, String), Failure> {
    let template = steps.env.enterprise_ca.template.clone();
    let csr = device_csr(steps, client)
        .map_err(|f| Failure::new(Step::Certificate, SessionError::CertificateRequest(f)));
    sink.flush(client);
    let (csr, key_id) = csr?;
    sink.log(ids::CA_REQUESTED, &[("name", &template)]);
    let now = sink.now();
    match ca.issue(&csr, &template, &steps.computer.fqdn, now) {
        Ok(issued) => {
            sink.log(ids::CA_ISSUED, &[("cert_id", &issued.serial)]);
            sink.event(ProvisionEvent::Ca {
                operation: "issue".into(),
                template,
                serial: Some(issued.serial.clone()),
                error: None,
            });
            progress.web_cert_serial = Some(issued.serial.clone());
            publish(steps, sink, ca, &issued.serial)?;
            Ok((issued.der, key_id))
        }
        Err(e) => {
            for id in e.log_ids() {
                sink.log(*id, &[("cert_id", "")]);
            }
            sink.event(ProvisionEvent::Ca {
                operation: "issue".into(),
                template,
                serial: None,
                error: Some(e.id().to_owned()),
            });
            Err(Failure::new(Step::Certificate, SessionError::Ca(e)))
        }
    }
}

/// Publishes the issued certificate to the site database (`crate::site::publish`); an
/// unavailable database fails the session at `certificate-publish`, after issuance.
fn publish(
    steps: &Steps<'_>,
    sink: &mut Sink<'_>,
    ca: &mut EnterpriseCaModel,
    serial: &str,
) -> Result<(), Failure> {
    let now = sink.now();
    let fqdn = steps.computer.fqdn.clone();
    match ca
        .site_database_mut()
        .publish(&steps.env.site_database, serial, &fqdn, now)
    {
        Ok(()) => {
            sink.log(ids::C_00_PUBLISHED, &[("cert_id", serial)]);
            Ok(())
        }
        Err(e) => {
            sink.log(ids::C_01_PUBLISH_FAILED, &[("cert_id", serial)]);
            Err(Failure::new(
                Step::CertificatePublish,
                SessionError::Publish(e),
            ))
        }
    }
}

/// Has the device generate a key pair and sign a PKCS#10 request for it; returns the DER CSR and
/// the key pair's `InstanceID`.
fn device_csr(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
) -> Result<(Vec<u8>, String), SubFailure> {
    let out = client
        .invoke(
            PKMS,
            "GenerateKeyPair",
            &[],
            vec![
                property(PKMS, "KeyAlgorithm", "0"),
                property(PKMS, "KeyLength", "2048"),
            ],
        )
        .map_err(call("GenerateKeyPair"))?;
    let out = ok_return("GenerateKeyPair", out)?;
    let key_id = out
        .body
        .child_by_local_name("KeyPair")
        .and_then(selector_value)
        .ok_or(SubStepError {
            what: "GenerateKeyPair",
            cause: SubCause::Missing("no KeyPair reference in the answer"),
        })?;
    let key = client
        .get("AMT_PublicPrivateKeyPair", &[("InstanceID", &key_id)])
        .map_err(call("AMT_PublicPrivateKeyPair"))?;
    let der_key = key
        .child_by_local_name("DERKey")
        .and_then(|k| B64.decode(k.text().trim()).ok())
        .ok_or(SubStepError {
            what: "AMT_PublicPrivateKeyPair",
            cause: SubCause::Missing("no readable DERKey"),
        })?;
    let null_signed = null_signed_csr(&steps.computer.fqdn, &der_key);
    let mut key_ref = property(PKMS, "KeyPair", "");
    key_ref.children.extend(
        endpoint_reference("AMT_PublicPrivateKeyPair", &[("InstanceID", &key_id)])
            .into_iter()
            .map(Node::Element),
    );
    let out = client
        .invoke(
            PKMS,
            "GeneratePKCS10RequestEx",
            &[],
            vec![
                key_ref,
                property(PKMS, "SigningAlgorithm", "1"),
                property(
                    PKMS,
                    "NullSignedCertificateRequest",
                    B64.encode(null_signed),
                ),
            ],
        )
        .map_err(call("GeneratePKCS10RequestEx"))?;
    let out = ok_return("GeneratePKCS10RequestEx", out)?;
    let csr = out
        .get("SignedCertificateRequest")
        .and_then(|t| B64.decode(t).ok())
        .ok_or(SubStepError {
            what: "GeneratePKCS10RequestEx",
            cause: SubCause::Missing("no readable SignedCertificateRequest"),
        })?;
    Ok((csr, key_id))
}

/// The text of the first `Selector` anywhere under `e` (the value of an EPR's only selector).
pub(crate) fn selector_value(e: &Element) -> Option<String> {
    if e.name == "Selector" {
        return Some(e.text().trim().to_owned());
    }
    e.elements().find_map(selector_value)
}

/// Stage 1 proper.
fn stage1(
    steps: &Steps<'_>,
    client: &mut WsmanClient<'_>,
    sink: &mut Sink<'_>,
    progress: &mut Progress,
    cert_der: &[u8],
    key_id: &str,
    rng: &mut dyn RngCore,
) -> Result<(), SubFailure> {
    // Time: Ta0 from the device, then our time as Tm1 = Tm2.
    let out = client
        .invoke(TIME, "GetLowAccuracyTimeSynch", &[], vec![])
        .map_err(call("GetLowAccuracyTimeSynch"))?;
    let out = ok_return("GetLowAccuracyTimeSynch", out)?;
    let ta0 = out.get("Ta0").unwrap_or_else(|| "0".into());
    let now = sink.now().unix_secs().to_string();
    let out = client
        .invoke(
            TIME,
            "SetHighAccuracyTimeSynch",
            &[],
            vec![
                property(TIME, "Ta0", ta0),
                property(TIME, "Tm1", now.clone()),
                property(TIME, "Tm2", now),
            ],
        )
        .map_err(call("SetHighAccuracyTimeSynch"))?;
    ok_return("SetHighAccuracyTimeSynch", out)?;

    // Host name and domain from the imported FQDN.
    let settings = client
        .get("AMT_GeneralSettings", &[])
        .map_err(call("AMT_GeneralSettings"))?;
    let realm = settings
        .child_by_local_name("DigestRealm")
        .map(|r| r.text().trim().to_owned())
        .ok_or(SubStepError {
            what: "AMT_GeneralSettings",
            cause: SubCause::Missing("no DigestRealm"),
        })?;
    let (host, domain) = steps
        .computer
        .fqdn
        .split_once('.')
        .unwrap_or((steps.computer.fqdn.as_str(), ""));
    let updated = with_values(settings, &[("HostName", host), ("DomainName", domain)]);
    client
        .put("AMT_GeneralSettings", &[], updated)
        .map_err(call("AMT_GeneralSettings"))?;

    // The web-server certificate and TLS.
    let out = client
        .invoke(
            PKMS,
            "AddCertificate",
            &[],
            vec![property(PKMS, "CertificateBlob", B64.encode(cert_der))],
        )
        .map_err(call("AddCertificate"))?;
    let out = ok_return("AddCertificate", out)?;
    let cert_id = out
        .body
        .child_by_local_name("CreatedCertificate")
        .and_then(selector_value)
        .ok_or(SubStepError {
            what: "AddCertificate",
            cause: SubCause::Missing("no CreatedCertificate reference"),
        })?;
    let ctx = "AMT_TLSCredentialContext";
    let instance = Element::prefixed("h", crate::wsman_client::resource_uri(ctx), ctx)
        .with_child(epr_property(
            ctx,
            "ElementInContext",
            "AMT_PublicKeyCertificate",
            &[("InstanceID", &cert_id)],
        ))
        .with_child(epr_property(
            ctx,
            "ElementProvidingContext",
            "AMT_TLSProtocolEndpointCollection",
            &[("ElementName", TLS_ENDPOINTS)],
        ));
    match client.create(ctx, instance.clone()) {
        Ok(_) => {}
        // A stage 1 cut off before `CommitChanges` (power loss, kill) left its context behind:
        // NVRAM keeps it. Point it at this certificate with a Put (re-running Create cannot
        // replace it; rpc-go #572) so that the retry succeeds.
        Err(CallError::Fault {
            subcode: Some(subcode),
            ..
        }) if subcode == "AlreadyExists" => {
            client.put(ctx, &[], instance).map_err(call(ctx))?;
            // What the interrupted sessions left (their certificates for this FQDN and key pairs
            // no certificate uses) would pile up on every retry: remove it, keeping the new
            // ones. Best effort: a leftover is not worth failing the provisioning for.
            remove_leftovers(client, &steps.computer.fqdn, &cert_id, key_id);
        }
        Err(e) => return Err(call(ctx)(e)),
    }
    let tls = client
        .get("AMT_TLSSettingData", &[("InstanceID", TLS_REMOTE)])
        .map_err(call("AMT_TLSSettingData"))?;
    let tls = with_values(
        tls,
        &[
            ("Enabled", "true"),
            ("MutualAuthentication", "false"),
            ("AcceptNonSecureConnections", "false"),
        ],
    );
    client
        .put("AMT_TLSSettingData", &[("InstanceID", TLS_REMOTE)], tls)
        .map_err(call("AMT_TLSSettingData"))?;

    // Admin password.
    let password = strong_password(rng);
    sink.logs.register_secret(&password);
    sink.logs.register_secret(&steps.env.mebx_password);
    // Write-ahead: the password is durable before the device may have it.
    sink.write_ahead("admin_password", &password)
        .map_err(|e| write_ahead_failure("SetAdminAclEntryEx", e))?;
    let ha1 = digest::ha1("admin", &realm, &password);
    let out = client
        .invoke(
            AUTH,
            "SetAdminAclEntryEx",
            &[],
            vec![
                property(AUTH, "Username", "admin"),
                property(AUTH, "DigestPassword", digest::digest_password_base64(&ha1)),
            ],
        )
        .map_err(call("SetAdminAclEntryEx"))?;
    ok_return("SetAdminAclEntryEx", out)?;
    // On a device that is already provisioned (a retry after a cut-off after `CommitChanges`)
    // this is a digest session as `admin`, whose password just changed: the client falls back
    // to the new one when the old one is refused. A setup session is not affected.
    client.add_account(crate::wsman_client::Credentials::new(
        "admin",
        password.clone(),
    ));
    progress.admin_password = Some(password);

    // MEBx password, if it is still the default. Write-ahead: on a digest setup session (AMT ≤ 9)
    // the new MEBx password is also the credential of the retry when the device is cut off
    // before `CommitChanges`.
    sink.write_ahead("mebx_password", &steps.env.mebx_password)
        .map_err(|e| write_ahead_failure("SetMEBxPassword", e))?;
    let out = client
        .invoke(
            SETUP,
            "SetMEBxPassword",
            &[],
            vec![property(SETUP, "Password", steps.env.mebx_password.clone())],
        )
        .map_err(call("SetMEBxPassword"))?;
    match out.return_value {
        Some(0) => {
            progress.mebx_password = Some(steps.env.mebx_password.clone());
            // A digest setup session (AMT ≤ 9) authenticates as admin with the MEBx password,
            // which just changed: CommitChanges must use the new one.
            client.update_password(&steps.env.mebx_password);
        }
        Some(NOT_PERMITTED) => {}
        other => {
            return Err(SubFailure {
                what: "SetMEBxPassword",
                cause: SubCause::ReturnValue(other),
            });
        }
    }

    let out = client
        .invoke(SETUP, "CommitChanges", &[], vec![])
        .map_err(call("CommitChanges"))?;
    ok_return("CommitChanges", out)?;
    // The device restarts its TLS stack with the new certificate: never reuse this connection.
    client.disconnect();
    Ok(())
}

/// Deletes the certificates an interrupted stage 1 left for `fqdn` (not trusted roots, not
/// read-only, not `keep_cert`) and then the key pairs that no remaining certificate uses (other
/// than `keep_key`). Errors are ignored (recorded as calls like any other).
fn remove_leftovers(client: &mut WsmanClient<'_>, fqdn: &str, keep_cert: &str, keep_key: &str) {
    const CERT: &str = "AMT_PublicKeyCertificate";
    const KEY: &str = "AMT_PublicPrivateKeyPair";
    let text = |e: &Element, name: &str| {
        e.child_by_local_name(name)
            .map(|c| c.text().trim().to_owned())
    };
    let Ok(certs) = client.enumerate(CERT) else {
        return;
    };
    let mut in_use: Vec<Vec<u8>> = Vec::new();
    for cert in &certs {
        let Some(id) = text(cert, "InstanceID") else {
            continue;
        };
        let der = text(cert, "X509Certificate").and_then(|t| B64.decode(t).ok());
        let parsed = der
            .as_deref()
            .and_then(|d| x509_parser::parse_x509_certificate(d).ok());
        let Some((_, parsed)) = parsed else {
            continue;
        };
        let ours = text(cert, "TrustedRootCertficate").as_deref() != Some("true")
            && text(cert, "ReadOnlyCertificate").as_deref() != Some("true")
            && parsed
                .subject()
                .iter_common_name()
                .any(|cn| cn.as_str().is_ok_and(|cn| cn.eq_ignore_ascii_case(fqdn)));
        if ours && id != keep_cert && client.delete(CERT, &[("InstanceID", &id)]).is_ok() {
            continue;
        }
        in_use.push(parsed.public_key().subject_public_key.data.to_vec());
    }
    let Ok(keys) = client.enumerate(KEY) else {
        return;
    };
    for key in &keys {
        let Some(id) = text(key, "InstanceID") else {
            continue;
        };
        let public = text(key, "DERKey").and_then(|t| B64.decode(t).ok());
        if id == keep_key || public.is_none_or(|p| in_use.contains(&p)) {
            continue;
        }
        let _ = client.delete(KEY, &[("InstanceID", &id)]);
    }
}

/// The failure of sub-step `what` whose password could not be recorded first.
fn write_ahead_failure(what: &'static str, error: String) -> SubFailure {
    SubStepError {
        what,
        cause: SubCause::WriteAhead(error),
    }
}

/// `<h:name>` of `owner`'s namespace holding an endpoint reference to `target`.
fn epr_property(owner: &str, name: &str, target: &str, selectors: &[(&str, &str)]) -> Element {
    let mut e = property(owner, name, "");
    e.children.extend(
        endpoint_reference(target, selectors)
            .into_iter()
            .map(Node::Element),
    );
    e
}

/// `instance` with the text of the named properties replaced (appended if missing).
pub(crate) fn with_values(mut instance: Element, updates: &[(&str, &str)]) -> Element {
    for (name, value) in updates {
        let existing = instance.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.name == *name => Some(e),
            _ => None,
        });
        match existing {
            Some(e) => {
                e.children.retain(|c| matches!(c, Node::Element(_)));
                e.push_text(*value);
            }
            None => {
                let child = Element {
                    namespace: instance.namespace.clone(),
                    name: (*name).to_owned(),
                    prefix: instance.prefix.clone(),
                    ..Element::default()
                }
                .with_text(*value);
                instance.children.push(Node::Element(child));
            }
        }
    }
    instance
}

/// A random password meeting AMT's strength rules (see the module docs of `session`).
pub(crate) fn strong_password(rng: &mut dyn RngCore) -> String {
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%^*()";
    loop {
        let password: String = (0..16)
            .map(|_| {
                let i = rng.next_u32() as usize % ALPHABET.len();
                char::from(ALPHABET.get(i).copied().unwrap_or(b'A'))
            })
            .collect();
        let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
            && has(|c| !c.is_ascii_alphanumeric())
        {
            return password;
        }
    }
}

/// DER: tag, length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xffff {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// A PKCS#10 request for `CN=<fqdn>` with the device's RSA public key (`rsa_public_key` is the
/// PKCS#1 `RSAPublicKey` AMT reports as `DERKey`) and a zero signature, for the device to sign.
pub(crate) fn null_signed_csr(fqdn: &str, rsa_public_key: &[u8]) -> Vec<u8> {
    const OID_CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    const OID_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const OID_SHA256_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    const NULL: &[u8] = &[0x05, 0x00];
    let cn = [OID_CN, &tlv(0x0c, fqdn.as_bytes())].concat();
    let name = tlv(0x30, &tlv(0x31, &tlv(0x30, &cn)));
    let mut key_bits = vec![0u8];
    key_bits.extend_from_slice(rsa_public_key);
    let spki = tlv(
        0x30,
        &[tlv(0x30, &[OID_RSA, NULL].concat()), tlv(0x03, &key_bits)].concat(),
    );
    let info = tlv(
        0x30,
        &[&[0x02, 0x01, 0x00][..], &name, &spki, &[0xa0, 0x00]].concat(),
    );
    let alg = tlv(0x30, &[OID_SHA256_RSA, NULL].concat());
    let signature = tlv(0x03, &[0u8; 257]);
    tlv(0x30, &[info, alg, signature].concat())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use x509_parser::prelude::FromDer as _;

    use super::*;

    #[test]
    fn null_signed_csr_parses_with_the_key_and_subject() {
        // The RSAPublicKey inside the test root's SPKI stands in for a device key.
        let root = include_bytes!("../../../../certs/root-rsa2048.cert.pem");
        let pem = x509_parser::pem::parse_x509_pem(root).map(|(_, p)| p.contents);
        let der = pem.unwrap_or_default();
        let cert = x509_parser::parse_x509_certificate(&der)
            .map(|(_, c)| c.public_key().subject_public_key.data.to_vec());
        let rsa_key = cert.unwrap_or_default();
        assert!(!rsa_key.is_empty());
        let csr = null_signed_csr("amt-device-01.corp.amt-sim.test", &rsa_key);
        let parsed = x509_parser::certification_request::X509CertificationRequest::from_der(&csr);
        let Ok((rest, req)) = parsed else {
            panic!("CSR does not parse: {parsed:?}");
        };
        assert!(rest.is_empty());
        let info = &req.certification_request_info;
        assert_eq!(
            info.subject
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok()),
            Some("amt-device-01.corp.amt-sim.test")
        );
        assert_eq!(
            &*info.subject_pki.subject_public_key.data,
            rsa_key.as_slice()
        );
    }

    proptest::proptest! {
        #[test]
        fn null_signed_csr_round_trips_any_name_and_key(
            fqdn in "[a-z0-9.-]{1,300}",
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700),
        ) {
            let csr = null_signed_csr(&fqdn, &key);
            let parsed =
                x509_parser::certification_request::X509CertificationRequest::from_der(&csr);
            let Ok((rest, req)) = parsed else {
                return Err(proptest::test_runner::TestCaseError::fail("does not parse"));
            };
            proptest::prop_assert!(rest.is_empty());
            let info = &req.certification_request_info;
            let cn = info.subject.iter_common_name().next().and_then(|c| c.as_str().ok());
            proptest::prop_assert_eq!(cn, Some(fqdn.as_str()));
            proptest::prop_assert_eq!(&*info.subject_pki.subject_public_key.data, key.as_slice());
        }
    }

    #[test]
    fn passwords_are_strong_and_vary() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = strong_password(&mut rng);
        let b = strong_password(&mut rng);
        assert_ne!(a, b);
        for p in [a, b] {
            assert_eq!(p.len(), 16);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
            assert!(!p.contains([':', ',', '"']));
        }
    }

    #[test]
    fn with_values_replaces_and_appends() {
        let uri = crate::wsman_client::resource_uri("AMT_GeneralSettings");
        let e = Element::prefixed("g", uri.clone(), "AMT_GeneralSettings")
            .with_property("HostName", "old")
            .with_property("PingResponseEnabled", "false");
        let e = with_values(e, &[("HostName", "pc01"), ("DomainName", "corp.test")]);
        assert_eq!(
            e.child(&uri, "HostName").map(|x| x.text().into_owned()),
            Some("pc01".into())
        );
        assert_eq!(
            e.child(&uri, "DomainName").map(|x| x.text().into_owned()),
            Some("corp.test".into())
        );
    }
}
