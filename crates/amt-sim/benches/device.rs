//! Device benchmarks for PRODUCT.md §7's quality bars, each beside a baseline measured in the same
//! run, so that `cargo xtask bench` reports ratios rather than raw times (the machines are noisy):
//!
//! - `provisioning/full` (a fresh default device provisioned in memory: mutual-auth TLS with
//!   `certs/prov-oid.chain.pem`, then MeshCentral's activation sequence through
//!   `DeviceConnection`) against `provisioning/tls_handshake` (one full mutual-auth RSA-2048
//!   handshake between a rustls client and the device's setup `ServerConfig`: "the TLS limit");
//! - `provisioning/setup_config` (building the per-connection setup `ServerConfig`) and
//!   `provisioning/setup_identity` (the self-signed certificate a fresh device makes on its first
//!   TLS connection) and `provisioning/pool_key` (fetching one pool key, which both of those
//!   do; parsed once per process), against the same handshake: parts of the gap between the two above;
//! - `hello_schedule/replay_24h` (a fresh device's 24-hour schedule replayed on a virtual clock:
//!   40 Hellos) against `hello_schedule/emit_one` (a fresh device's first Hello).
//!
//! Client-side work that a provisioning server would do once per device (loading its PEM chain,
//! signing the device's web certificate) is done before measuring; the client's TLS handshake
//! work is measured in both `provisioning/full` and its baseline.

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[path = "../tests/device_support/mod.rs"]
mod device_support;

use amt_sim::conn::DeviceConnection;
use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_sim::state::ProvisioningState;
use amt_sim::tls::{self, ProvisioningPolicy, TlsProfile, TrustedHash};
use amt_wire::thumbprint::Thumbprint;
use amt_wire::time::Timestamp;
use base64::Engine as _;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject as _;

/// 2026-01-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_secs(1_767_225_600);
/// The seed of every benchmarked device (its realm, nonces and key-pool slot follow from it).
const SEED: u64 = 7;
const FQDN: &str = "amt-device-01.corp.amt-sim.test";
const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
const ADMIN_PASSWORD: &str = "Adm1n-P@ssw0rd";
const MEBX_PASSWORD: &str = "Mebx-P@ssw0rd1";
const PUT_TLS_SETTINGS: &str =
    include_str!("../../amt-wire/testdata/wsman/requests/meshcentral_put_tls_settings.xml");

fn tls_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 16993))
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50_000))
}

fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs")
}

fn fresh_device() -> Device {
    Device::new(DeviceProfile::default(), None, SEED, T0).expect("default device")
}

// ----- the provisioning server's TLS client (verifier shared with the device tests) -----

/// A client config presenting `certs/prov-oid.chain.pem` and its key (loaded once).
fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = CertificateDer::pem_file_iter(certs_dir().join("prov-oid.chain.pem"))
        .expect("prov-oid chain")
        .collect::<Result<Vec<_>, _>>()
        .expect("chain PEM");
    let key = PrivateKeyDer::from_pem_file(certs_dir().join("prov-oid.TEST-ONLY.key.pem"))
        .expect("prov-oid key");
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(device_support::AcceptAnyServer(Arc::clone(
            &provider,
        ))))
        .with_client_auth_cert(chain, key)
        .expect("client certificate");
    Arc::new(config)
}

fn client(config: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(
        Arc::clone(config),
        ServerName::try_from("amt-device").expect("name"),
    )
    .expect("client")
}

/// Everything the client has to send.
fn client_output(client: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while client.wants_write() {
        if client.write_tls(&mut out).unwrap_or(0) == 0 {
            break;
        }
    }
    out
}

/// Feeds the device's bytes to the client.
fn client_input(client: &mut ClientConnection, mut bytes: &[u8]) -> Result<(), rustls::Error> {
    while !bytes.is_empty() {
        if client.read_tls(&mut bytes).unwrap_or(0) == 0 {
            break;
        }
        client.process_new_packets()?;
    }
    Ok(())
}

// ----- (a) the TLS limit -----

/// The device's setup `ServerConfig` for the default profile's identity, with a policy that
/// accepts `prov-oid` (the test root's hash, the test domain, the device clock at `T0`).
fn setup_config() -> Arc<ServerConfig> {
    let identity = tls::self_signed_identity(0, FQDN, T0, 7305).expect("identity");
    let (config, _slot) =
        tls::setup_server_config(&identity, accepting_policy(), TlsProfile::default())
            .expect("setup config");
    config
}

fn accepting_policy() -> ProvisioningPolicy {
    let root = Thumbprint::parse_hex(amt_sim::profile::TEST_ROOT_SHA256).expect("test root hash");
    ProvisioningPolicy::new(
        vec![TrustedHash {
            thumbprint: root,
            name: "amt-sim Test Root (TEST ONLY)".into(),
        }],
        Some(amt_sim::profile::DEFAULT_DOMAIN.into()),
        T0,
    )
}

/// One full handshake, both sides in memory. Returns the server connection (handshake done).
fn handshake(
    server_config: &Arc<ServerConfig>,
    client_config: &Arc<ClientConfig>,
) -> Result<ServerConnection, rustls::Error> {
    let mut server = ServerConnection::new(Arc::clone(server_config))?;
    let mut client = client(client_config);
    for _ in 0..16 {
        let to_server = client_output(&mut client);
        if to_server.is_empty() && !server.is_handshaking() {
            break;
        }
        let mut rd = &to_server[..];
        while !rd.is_empty() {
            if server.read_tls(&mut rd).unwrap_or(0) == 0 {
                break;
            }
            server.process_new_packets()?;
        }
        let mut to_client = Vec::new();
        while server.wants_write() {
            if server.write_tls(&mut to_client).unwrap_or(0) == 0 {
                break;
            }
        }
        client_input(&mut client, &to_client)?;
    }
    Ok(server)
}

// ----- (b) a full provisioning -----

/// The setup session: a client pumped against a `DeviceConnection`.
struct Session {
    client: ClientConnection,
    conn: DeviceConnection,
}

impl Session {
    fn connect(dev: &mut Device, config: &Arc<ClientConfig>) -> Self {
        let conn = dev.accept(tls_addr(), peer(), T0).expect("TLS accept");
        let mut s = Self {
            client: client(config),
            conn,
        };
        s.pump(dev).expect("handshake");
        s
    }

    /// Moves bytes both ways until the client has nothing more to say.
    fn pump(&mut self, dev: &mut Device) -> Result<(), rustls::Error> {
        for _ in 0..16 {
            let to_device = client_output(&mut self.client);
            if to_device.is_empty() {
                return Ok(());
            }
            let out = self.conn.receive(dev, &to_device, T0);
            client_input(&mut self.client, &out.send)?;
            if out.close {
                return Err(rustls::Error::General("device closed".into()));
            }
        }
        Ok(())
    }

    /// One POST /wsman without credentials (the setup session is authenticated by TLS); returns
    /// the response body.
    fn call(&mut self, dev: &mut Device, body: &str) -> String {
        use std::io::{Read as _, Write as _};
        let request = format!(
            "POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16993\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.client
            .writer()
            .write_all(request.as_bytes())
            .expect("write");
        self.pump(dev).expect("exchange");
        let mut plain = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.client.reader().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => plain.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&plain).into_owned();
        assert!(
            text.starts_with("HTTP/1.1 200"),
            "{}",
            &text[..text.len().min(400)]
        );
        text
    }
}

fn envelope(action: &str, resource: &str, selectors: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
<Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{resource}</w:ResourceURI><a:MessageID>1</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
<w:OperationTimeout>PT60S</w:OperationTimeout>{selectors}</Header><Body>{body}</Body></Envelope>"
    )
}

fn get(class: &str) -> String {
    let uri = format!("{AMT}{class}");
    envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
        &uri,
        "",
        "",
    )
}

fn invoke(class: &str, method: &str, params: &str) -> String {
    let uri = format!("{AMT}{class}");
    envelope(
        &format!("{uri}/{method}"),
        &uri,
        "",
        &format!("<r:{method}_INPUT xmlns:r=\"{uri}\">{params}</r:{method}_INPUT>"),
    )
}

/// Text between `<…:name>` and the next `<`.
fn element_text<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let start = body.find(&format!(":{name}>"))?;
    let rest = &body[start..];
    let open = rest.find('>')? + 1;
    let end = rest[open..].find('<')?;
    Some(&rest[open..open + end])
}

fn return_value(body: &str) -> Option<u32> {
    element_text(body, "ReturnValue").and_then(|t| t.parse().ok())
}

/// The device web certificates the provisioning server signs for each pool key (made before
/// measuring: signing is the server's work, not the device's).
struct WebCerts(Vec<String>);

impl WebCerts {
    fn new() -> Self {
        Self(
            (0..amt_sim::keypool::POOL_SIZE)
                .map(|i| {
                    let id = tls::self_signed_identity(i, FQDN, T0, 365).expect("web certificate");
                    base64::engine::general_purpose::STANDARD.encode(id.cert_der.as_ref())
                })
                .collect(),
        )
    }

    fn for_pool(&self, index: usize) -> &str {
        &self.0[index % self.0.len()]
    }
}

/// MeshCentral's bare-metal ACM activation of `dev` over a provisioning-certificate session:
/// realm, MEBx password, admin password, time sync, key pair, certificate, TLS credential context,
/// TLS settings, commit. Leaves the device in Post.
fn provision(dev: &mut Device, client: &Arc<ClientConfig>, certs: &WebCerts) {
    let mut s = Session::connect(dev, client);
    assert!(s.conn.setup_accepted(), "setup session accepted");
    let b = s.call(dev, &get("AMT_GeneralSettings"));
    let realm = element_text(&b, "DigestRealm").expect("realm").to_owned();
    let b = s.call(
        dev,
        &invoke(
            "AMT_SetupAndConfigurationService",
            "SetMEBxPassword",
            &format!("<r:Password>{MEBX_PASSWORD}</r:Password>"),
        ),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
    let ha1 = hex::encode(amt_wire::digest::ha1("admin", &realm, ADMIN_PASSWORD));
    let b = s.call(
        dev,
        &invoke(
            "AMT_AuthorizationService",
            "SetAdminAclEntryEx",
            &format!("<r:Username>admin</r:Username><r:DigestPassword>{ha1}</r:DigestPassword>"),
        ),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
    let b = s.call(
        dev,
        &invoke(
            "AMT_TimeSynchronizationService",
            "GetLowAccuracyTimeSynch",
            "",
        ),
    );
    let ta0 = element_text(&b, "Ta0").expect("Ta0").to_owned();
    let tm = T0.unix_secs();
    let b = s.call(
        dev,
        &invoke(
            "AMT_TimeSynchronizationService",
            "SetHighAccuracyTimeSynch",
            &format!("<r:Ta0>{ta0}</r:Ta0><r:Tm1>{tm}</r:Tm1><r:Tm2>{tm}</r:Tm2>"),
        ),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
    let b = s.call(
        dev,
        &invoke(
            "AMT_PublicKeyManagementService",
            "GenerateKeyPair",
            "<r:KeyAlgorithm>0</r:KeyAlgorithm><r:KeyLength>2048</r:KeyLength>",
        ),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
    let pool = dev
        .state()
        .key_pairs
        .last()
        .and_then(|k| k.pool_index)
        .expect("pool key");
    let b = s.call(
        dev,
        &invoke(
            "AMT_PublicKeyManagementService",
            "AddCertificate",
            &format!(
                "<r:CertificateBlob>{}</r:CertificateBlob>",
                certs.for_pool(pool)
            ),
        ),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
    let cert_id = b
        .split("Name=\"InstanceID\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("created certificate InstanceID")
        .to_owned();
    let ctx = format!("{AMT}AMT_TLSCredentialContext");
    let create = envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
        &ctx,
        "",
        &format!(
            "<r:AMT_TLSCredentialContext xmlns:r=\"{ctx}\"><r:ElementInContext><a:Address>/wsman</a:Address>\
<a:ReferenceParameters><w:ResourceURI>{AMT}AMT_PublicKeyCertificate</w:ResourceURI><w:SelectorSet>\
<w:Selector Name=\"InstanceID\">{cert_id}</w:Selector></w:SelectorSet></a:ReferenceParameters></r:ElementInContext>\
<r:ElementProvidingContext><a:Address>/wsman</a:Address><a:ReferenceParameters>\
<w:ResourceURI>{AMT}AMT_TLSProtocolEndpointCollection</w:ResourceURI><w:SelectorSet>\
<w:Selector Name=\"ElementName\">TLSProtocolEndpointInstances Collection</w:Selector></w:SelectorSet>\
</a:ReferenceParameters></r:ElementProvidingContext></r:AMT_TLSCredentialContext>"
        ),
    );
    s.call(dev, &create);
    s.call(dev, PUT_TLS_SETTINGS);
    let b = s.call(
        dev,
        &invoke("AMT_SetupAndConfigurationService", "CommitChanges", ""),
    );
    assert_eq!(return_value(&b), Some(0), "{b}");
}

fn provisioning(c: &mut Criterion) {
    let client_config = client_config();
    let server_config = setup_config();
    let certs = WebCerts::new();

    // Check once, before measuring, that both paths do what they claim.
    let server = handshake(&server_config, &client_config).expect("baseline handshake");
    assert!(!server.is_handshaking(), "baseline handshake completes");
    assert!(
        server.peer_certificates().is_some_and(|c| c.len() >= 2),
        "the client presented its chain"
    );
    let mut dev = fresh_device();
    provision(&mut dev, &client_config, &certs);
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);

    let mut group = c.benchmark_group("provisioning");
    group.bench_function("tls_handshake", |b| {
        b.iter(|| handshake(&server_config, &client_config).expect("handshake"))
    });
    group.bench_function("full", |b| {
        b.iter_batched(
            fresh_device,
            |mut dev| {
                provision(&mut dev, &client_config, &certs);
                dev
            },
            BatchSize::SmallInput,
        )
    });
    let identity = tls::self_signed_identity(0, FQDN, T0, 7305).expect("identity");
    group.bench_function("setup_config", |b| {
        b.iter(|| {
            tls::setup_server_config(
                black_box(&identity),
                accepting_policy(),
                TlsProfile::default(),
            )
            .expect("config")
        })
    });
    group.bench_function("pool_key", |b| {
        b.iter(|| amt_sim::keypool::key_pair(black_box(0)))
    });
    group.bench_function("setup_identity", |b| {
        b.iter(|| tls::self_signed_identity(black_box(0), FQDN, T0, 7305).expect("identity"))
    });
    group.finish();
}

// ----- Hellos -----

fn hello(c: &mut Criterion) {
    let mut dev = fresh_device();
    let mut sent = 0;
    while let Some(due) = dev.next_hello_due() {
        while dev.poll_hello(due).is_some() {
            sent += 1;
        }
    }
    assert_eq!(sent, 40, "the default 24-hour schedule");

    let mut group = c.benchmark_group("hello_schedule");
    group.bench_function("replay_24h", |b| {
        b.iter_batched(
            fresh_device,
            |mut dev| {
                let mut bytes = 0usize;
                while let Some(due) = dev.next_hello_due() {
                    while let Some(h) = dev.poll_hello(due) {
                        bytes += h.bytes.len();
                    }
                }
                black_box(bytes);
                dev
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("emit_one", |b| {
        b.iter_batched(
            fresh_device,
            |mut dev| {
                black_box(dev.poll_hello(T0).expect("first Hello"));
                dev
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = provisioning, hello
}
criterion_main!(benches);
