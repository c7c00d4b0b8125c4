//! In-memory TLS handshakes between a rustls client presenting a provisioning chain from `certs/`
//! and the device's setup/management server configs: bytes are pumped between the two connection
//! objects, no sockets.

mod device_support;

use std::path::PathBuf;
use std::sync::Arc;

use amt_sim::tls::{
    self, AcceptedChain, ProvisioningPolicy, RefusalAlert, TlsProfile, TlsRefusal, TrustedHash,
    VerdictSlot,
};
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use device_support::{AcceptAnyServer, provider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, ClientConfig, ClientConnection, ProtocolVersion, ServerConnection};
use rustls_pki_types::pem::PemObject as _;

/// 2026-01-01T00:00:00Z.
const NOW: Timestamp = Timestamp::from_unix_secs(1_767_225_600);
/// 2004-01-01T00:00:00Z.
const DATE_ZERO: Timestamp = Timestamp::from_unix_secs(1_072_915_200);

fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs")
}

fn chain(stem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(certs_dir().join(format!("{stem}.chain.pem")))
        .expect("chain file")
        .collect::<Result<Vec<_>, _>>()
        .expect("chain PEM")
}

fn key(stem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(certs_dir().join(format!("{stem}.TEST-ONLY.key.pem")))
        .expect("key PEM")
}

fn root_hash(root: &str) -> TrustedHash {
    let der = CertificateDer::from_pem_file(certs_dir().join(format!("{root}.cert.pem")))
        .expect("root PEM");
    TrustedHash {
        thumbprint: Thumbprint::of_der(HashAlgorithm::Sha256, der.as_ref()),
        name: root.to_owned(),
    }
}

fn policy() -> ProvisioningPolicy {
    ProvisioningPolicy::new(
        vec![
            root_hash("root-rsa2048"),
            root_hash("root-rsa4096"),
            root_hash("root-sha1"),
        ],
        Some("corp.amt-sim.test".to_owned()),
        NOW,
    )
}

/// A client offering TLS 1.2 and 1.3 that presents `stem`'s chain (or no certificate).
fn client(stem: Option<&str>) -> ClientConnection {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)));
    let config = match stem {
        Some(stem) => builder
            .with_client_auth_cert(chain(stem), key(stem))
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("amt-device-01.corp.amt-sim.test").expect("name");
    ClientConnection::new(Arc::new(config), name).expect("client")
}

fn device_identity() -> tls::DeviceIdentity {
    tls::self_signed_identity(3, "amt-device-01.corp.amt-sim.test", DATE_ZERO, 7300)
        .expect("identity")
}

fn setup_server(
    policy: ProvisioningPolicy,
    profile: TlsProfile,
) -> (ServerConnection, VerdictSlot) {
    let (config, slot) =
        tls::setup_server_config(&device_identity(), policy, profile).expect("config");
    (ServerConnection::new(config).expect("server"), slot)
}

/// What each side ended with.
#[derive(Debug)]
struct Outcome {
    client: Result<(), rustls::Error>,
    server: Result<(), rustls::Error>,
}

/// Moves all pending TLS bytes from one side to the other; returns how many moved.
fn transfer(from: &mut dyn WriteTls, to: &mut dyn ReadTls) -> Result<usize, rustls::Error> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).expect("write_tls to a Vec");
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read_tls from a slice");
    }
    to.process()?;
    Ok(buf.len())
}

trait WriteTls {
    fn wants_write(&self) -> bool;
    fn write_tls(&mut self, out: &mut Vec<u8>) -> std::io::Result<usize>;
}

trait ReadTls {
    fn read_tls(&mut self, rd: &mut &[u8]) -> std::io::Result<usize>;
    fn process(&mut self) -> Result<(), rustls::Error>;
}

macro_rules! tls_side {
    ($t:ty) => {
        impl WriteTls for $t {
            fn wants_write(&self) -> bool {
                rustls::CommonState::wants_write(self)
            }
            fn write_tls(&mut self, out: &mut Vec<u8>) -> std::io::Result<usize> {
                rustls::ConnectionCommon::write_tls(self, out)
            }
        }
        impl ReadTls for $t {
            fn read_tls(&mut self, rd: &mut &[u8]) -> std::io::Result<usize> {
                rustls::ConnectionCommon::read_tls(self, rd)
            }
            fn process(&mut self) -> Result<(), rustls::Error> {
                rustls::ConnectionCommon::process_new_packets(self).map(|_| ())
            }
        }
    };
}
tls_side!(ClientConnection);
tls_side!(ServerConnection);

/// Pumps bytes both ways until nothing moves or one side fails; a side that failed still gets
/// its queued alert delivered.
fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Outcome {
    let mut outcome = Outcome {
        client: Ok(()),
        server: Ok(()),
    };
    for _ in 0..20 {
        let mut moved = 0;
        if outcome.server.is_ok() || client.wants_write() {
            match transfer(client, server) {
                Ok(n) => moved += n,
                Err(e) => {
                    outcome.server = Err(e);
                    moved += 1;
                }
            }
        }
        if outcome.client.is_ok() {
            match transfer(server, client) {
                Ok(n) => moved += n,
                Err(e) => {
                    outcome.client = Err(e);
                    moved += 1;
                }
            }
        }
        if moved == 0 || (outcome.client.is_err() && outcome.server.is_err()) {
            break;
        }
    }
    outcome
}

fn verdict(slot: &VerdictSlot) -> Option<Result<AcceptedChain, TlsRefusal>> {
    tls::read_verdict(slot)
}

#[test]
fn accepted_chain_completes_and_the_slot_holds_ok() {
    let (mut server, slot) = setup_server(policy(), TlsProfile::default());
    let mut client = client(Some("prov-oid"));
    let outcome = handshake(&mut client, &mut server);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "{outcome:?}"
    );
    assert!(!client.is_handshaking() && !server.is_handshaking());
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    let accepted = verdict(&slot).expect("verdict").expect("accepted");
    assert_eq!(accepted.leaf_cn, "provisionserver.corp.amt-sim.test");
    assert_eq!(accepted.matched_hash_name, "root-rsa2048");
    assert_eq!(accepted.chain_len, 3);
    // The server saw the whole chain as sent; the client saw the device's certificate.
    assert_eq!(server.peer_certificates().map(<[_]>::len), Some(3));
    assert_eq!(
        client.peer_certificates().and_then(|c| c.first()),
        Some(&device_identity().cert_der)
    );
}

#[test]
fn application_data_flows_after_an_accepted_handshake() {
    use std::io::{Read as _, Write as _};
    let (mut server, _slot) = setup_server(policy(), TlsProfile::default());
    let mut client = client(Some("prov-ou"));
    let outcome = handshake(&mut client, &mut server);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "{outcome:?}"
    );
    client
        .writer()
        .write_all(b"POST /wsman HTTP/1.1\r\n\r\n")
        .expect("write");
    transfer(&mut client, &mut server).expect("transfer");
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let n = server.reader().read(&mut buf).expect("read");
    got.extend_from_slice(&buf[..n]);
    assert_eq!(got, b"POST /wsman HTTP/1.1\r\n\r\n");
}

/// A change to the base policy.
type Tweak = fn(&mut ProvisioningPolicy);

#[test]
fn each_refusal_reaches_the_client_as_certificate_unknown() {
    let cases: [(&str, Tweak, &str); 8] = [
        ("prov-plain", |_| {}, "no-intel-oid-or-ou"),
        ("prov-ou-wrong-case", |_| {}, "no-intel-oid-or-ou"),
        ("prov-other-domain", |_| {}, "cn-domain-mismatch"),
        ("prov-expired", |_| {}, "expired"),
        ("prov-oid-no-serverauth", |_| {}, "not-server-certificate"),
        (
            "prov-root4096",
            |p| p.max_root_key_bits = Some(2048),
            "root-key-too-long",
        ),
        ("prov-sha1-root", |p| p.refuse_sha1 = true, "sha1-in-chain"),
        ("prov-oid", |p| p.now = DATE_ZERO, "not-yet-valid"),
    ];
    for (stem, tweak, id) in cases {
        for profile in [TlsProfile::MODERN, TlsProfile::TLS12_ONLY] {
            let mut p = policy();
            tweak(&mut p);
            let (mut server, slot) = setup_server(p, profile);
            let mut client = client(Some(stem));
            let outcome = handshake(&mut client, &mut server);
            let context = format!("{stem} {profile:?}: {outcome:?}");
            assert_eq!(
                outcome.client,
                Err(rustls::Error::AlertReceived(
                    AlertDescription::CertificateUnknown
                )),
                "{context}"
            );
            let server_error = outcome.server.as_ref().expect_err("server refused");
            assert_eq!(
                tls::refusal_in_error(server_error).map(TlsRefusal::id),
                Some(id),
                "{context}"
            );
            let refusal = verdict(&slot).expect("verdict").expect_err("refused");
            assert_eq!(refusal.id(), id, "{context}");
        }
    }
}

#[test]
fn the_policy_chooses_the_alert() {
    for (alert, want) in [
        (RefusalAlert::UnknownCa, AlertDescription::UnknownCA),
        (
            RefusalAlert::BadCertificate,
            AlertDescription::BadCertificate,
        ),
        (
            RefusalAlert::CertificateUnknown,
            AlertDescription::CertificateUnknown,
        ),
    ] {
        let mut p = policy();
        p.trusted_hashes.clear();
        p.alert = alert;
        let (mut server, slot) = setup_server(p, TlsProfile::default());
        let mut client = client(Some("prov-oid"));
        let outcome = handshake(&mut client, &mut server);
        assert_eq!(
            outcome.client,
            Err(rustls::Error::AlertReceived(want)),
            "{alert:?}"
        );
        assert_eq!(
            verdict(&slot).expect("verdict").map_err(|r| r.id()),
            Err("root-not-in-hash-list")
        );
    }
}

#[test]
fn chain_without_root_is_refused() {
    // A client that sends only leaf + intermediate (the missing Schannel hotfix).
    let provider = provider();
    let mut short = chain("prov-oid");
    short.pop();
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
        .with_client_auth_cert(short, key("prov-oid"))
        .expect("client auth");
    let name = ServerName::try_from("device").expect("name");
    let mut client = ClientConnection::new(Arc::new(config), name).expect("client");
    let (mut server, slot) = setup_server(policy(), TlsProfile::default());
    let outcome = handshake(&mut client, &mut server);
    assert_eq!(
        outcome.client,
        Err(rustls::Error::AlertReceived(
            AlertDescription::CertificateUnknown
        ))
    );
    assert_eq!(
        verdict(&slot).expect("verdict").map_err(|r| r.id()),
        Err("root-not-presented")
    );
}

#[test]
fn no_client_certificate_is_refused_with_certificate_required() {
    for profile in [TlsProfile::MODERN, TlsProfile::TLS12_ONLY] {
        let (mut server, slot) = setup_server(policy(), profile);
        let mut client = client(None);
        let outcome = handshake(&mut client, &mut server);
        assert_eq!(
            outcome.client,
            Err(rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            )),
            "{profile:?}"
        );
        let server_error = outcome.server.expect_err("server refused");
        assert!(verdict(&slot).is_none(), "the verifier never ran");
        assert_eq!(
            tls::verdict_after_error(&slot, &server_error),
            Some(TlsRefusal::NoClientCertificate)
        );
    }
}

#[test]
fn tls12_only_profile_negotiates_tls12() {
    let (mut server, slot) = setup_server(policy(), TlsProfile::TLS12_ONLY);
    let mut client = client(Some("prov-oid"));
    let outcome = handshake(&mut client, &mut server);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "{outcome:?}"
    );
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert!(matches!(verdict(&slot), Some(Ok(_))));
}

/// With TLS 1.3 the client finishes its handshake before the server has looked at its chain; it
/// learns of the refusal only when it next reads.
#[test]
fn tls13_refusal_arrives_after_the_client_handshake_completes() {
    let mut p = policy();
    p.trusted_hashes.clear();
    let (mut server, slot) = setup_server(p, TlsProfile::MODERN);
    let mut client = client(Some("prov-oid"));
    transfer(&mut client, &mut server).expect("ClientHello"); // -> ServerHello..Finished
    transfer(&mut server, &mut client).expect("server flight"); // client sends its chain
    assert!(
        !client.is_handshaking(),
        "the TLS 1.3 client considers the handshake done"
    );
    let server_result = transfer(&mut client, &mut server);
    assert!(server_result.is_err(), "the server refuses the chain");
    assert!(matches!(verdict(&slot), Some(Err(_))));
    assert_eq!(
        transfer(&mut server, &mut client).map(|_| ()),
        Err(rustls::Error::AlertReceived(
            AlertDescription::CertificateUnknown
        )),
        "the alert shows up on the client's next read"
    );
}

#[test]
fn management_config_asks_for_no_client_certificate() {
    let identity = device_identity();
    let config = tls::management_server_config(&identity, TlsProfile::default()).expect("config");
    let mut server = ServerConnection::new(config).expect("server");
    let mut client = client(None);
    let outcome = handshake(&mut client, &mut server);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "{outcome:?}"
    );
    assert!(server.peer_certificates().is_none());
    assert_eq!(
        client.peer_certificates().and_then(|c| c.first()),
        Some(&identity.cert_der)
    );
}

#[test]
fn provisioned_identity_from_a_stored_certificate_is_served() {
    // After provisioning: a certificate issued for pool key 6, stored via AddCertificate.
    let key = amt_sim::keypool::key_pair(6);
    let mut params =
        rcgen::CertificateParams::new(vec!["amt-device-01.corp.amt-sim.test".to_owned()])
            .expect("params");
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let der = params.self_signed(&key).expect("cert").der().to_vec();
    let identity = tls::identity_from_der(der.clone(), 6);
    let config = tls::management_server_config(&identity, TlsProfile::TLS12_ONLY).expect("config");
    let mut server = ServerConnection::new(config).expect("server");
    let mut client = client(None);
    let outcome = handshake(&mut client, &mut server);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "{outcome:?}"
    );
    assert_eq!(
        client
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec()),
        Some(der)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Garbage from the network, alone or after a real ClientHello, gives an error (and a queued
    /// alert or nothing), never a panic or a verdict.
    #[test]
    fn garbage_never_panics_and_never_yields_a_verdict(
        garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
        after_hello in proptest::prelude::any::<bool>(),
    ) {
        let (mut server, slot) = setup_server(policy(), TlsProfile::default());
        if after_hello {
            let mut client = client(Some("prov-oid"));
            transfer(&mut client, &mut server).map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("ClientHello refused: {e}"))
            })?;
        }
        let mut rd = &garbage[..];
        let mut result = Ok(());
        while !rd.is_empty() && result.is_ok() {
            match server.read_tls(&mut rd) {
                Ok(_) => result = server.process_new_packets().map(|_| ()),
                Err(_) => break, // rustls refuses to buffer more: the peer is misbehaving
            }
        }
        proptest::prop_assert!(verdict(&slot).is_none());
        proptest::prop_assert!(server.is_handshaking());
    }
}

/// A client whose key does not match its (accepted) chain fails on its CertificateVerify: the
/// chain verdict stays `Ok`, and that failure is not reported as a firmware refusal.
#[test]
fn wrong_client_key_fails_after_an_accepted_chain() {
    let provider = provider();
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key("prov-ou")).expect("key");
    let certified = rustls::sign::CertifiedKey::new(chain("prov-oid"), signer);
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
        .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    let name = ServerName::try_from("device").expect("name");
    let mut client = ClientConnection::new(Arc::new(config), name).expect("client");
    let (mut server, slot) = setup_server(policy(), TlsProfile::default());
    let outcome = handshake(&mut client, &mut server);
    let server_error = outcome.server.expect_err("CertificateVerify must fail");
    assert!(
        matches!(verdict(&slot), Some(Ok(_))),
        "the chain itself was fine"
    );
    assert_eq!(tls::verdict_after_error(&slot, &server_error), None);
    assert!(outcome.client.is_err());
}
