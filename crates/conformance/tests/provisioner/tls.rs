//! The service point's sans-IO TLS client against the simulator's setup TLS server, in memory:
//! the full chain is accepted (TLS 1.2 and 1.3), a chain without its root (no Schannel hotfix) is
//! refused and the refusal surfaces as a TLS refusal, on the handshake or on the first read.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use amt_sim::tls::{self, ProvisioningPolicy, TlsProfile, TrustedHash};
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use provisioner_core::tls::{ClientIdentity, TlsError, TlsStream, client_config};
use provisioner_core::transport::{Stream, TransportError};
use rustls::ServerConnection;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2026-01-01.
const NOW: Timestamp = Timestamp::from_unix_secs(1_767_225_600);

fn certs(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../certs");
    std::fs::read(dir.join(name)).unwrap_or_default()
}

fn identity() -> Result<ClientIdentity, TlsError> {
    ClientIdentity::from_pem(
        &certs("prov-oid.chain.pem"),
        &certs("prov-oid.TEST-ONLY.key.pem"),
    )
}

/// An in-memory device: a rustls server that echoes application data back.
struct EchoDevice {
    conn: ServerConnection,
    outbox: Vec<u8>,
    closed: bool,
}

impl EchoDevice {
    fn new(profile: TlsProfile, root_der: &[u8]) -> Result<Self, Box<dyn std::error::Error>> {
        let policy = ProvisioningPolicy::new(
            vec![TrustedHash {
                thumbprint: Thumbprint::of_der(HashAlgorithm::Sha256, root_der),
                name: "test root".into(),
            }],
            Some("corp.amt-sim.test".into()),
            NOW,
        );
        let identity = tls::self_signed_identity(1, "amt-device-01.corp.amt-sim.test", NOW, 365)?;
        let (config, _slot) = tls::setup_server_config(&identity, policy, profile)?;
        Ok(Self {
            conn: ServerConnection::new(config)?,
            outbox: Vec::new(),
            closed: false,
        })
    }

    fn flush(&mut self) {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.outbox).is_err() {
                break;
            }
        }
    }
}

impl Stream for EchoDevice {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let mut slice = bytes;
        while !slice.is_empty() {
            if self.conn.read_tls(&mut slice).is_err() {
                break;
            }
            if self.conn.process_new_packets().is_err() {
                self.flush();
                self.closed = true;
                return Ok(());
            }
        }
        let mut plain = Vec::new();
        let _ = self.conn.reader().read_to_end(&mut plain);
        if !plain.is_empty() {
            let _ = self.conn.writer().write_all(&plain);
        }
        self.flush();
        Ok(())
    }

    fn read(&mut self, buf: &mut Vec<u8>, _timeout: Duration) -> Result<usize, TransportError> {
        if self.outbox.is_empty() {
            return if self.closed {
                Ok(0)
            } else {
                Err(TransportError::Timeout)
            };
        }
        let n = self.outbox.len();
        buf.append(&mut self.outbox);
        Ok(n)
    }
}

fn root_der(id: &ClientIdentity) -> Vec<u8> {
    id.root().map(|r| r.as_ref().to_vec()).unwrap_or_default()
}

const TARGET: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 16993);

#[test]
fn the_full_chain_is_accepted_over_tls12_and_tls13() -> TestResult {
    let id = identity()?;
    for (profile, version) in [
        (
            TlsProfile {
                tls12: true,
                tls13: false,
            },
            "TLSv1_2",
        ),
        (
            TlsProfile {
                tls12: true,
                tls13: true,
            },
            "TLSv1_3",
        ),
    ] {
        let device = EchoDevice::new(profile, &root_der(&id))?;
        let mut stream = TlsStream::handshake(
            client_config(&id, true)?,
            TARGET,
            Box::new(device),
            Duration::from_secs(5),
        )?;
        assert_eq!(stream.protocol().as_deref(), Some(version));
        assert!(stream.server_thumbprint().is_some());
        stream.write_all(b"GET /")?;
        let mut got = Vec::new();
        stream.read(&mut got, Duration::from_secs(5))?;
        assert_eq!(got, b"GET /");
    }
    Ok(())
}

#[test]
fn without_the_root_the_device_refuses() -> TestResult {
    let id = identity()?;
    for profile in [
        TlsProfile {
            tls12: true,
            tls13: false,
        },
        TlsProfile {
            tls12: true,
            tls13: true,
        },
    ] {
        let device = EchoDevice::new(profile, &root_der(&id))?;
        let outcome = TlsStream::handshake(
            client_config(&id, false)?,
            TARGET,
            Box::new(device),
            Duration::from_secs(5),
        );
        match outcome {
            Err(TlsError::Refused { alert, .. }) => {
                assert_eq!(alert.as_deref(), Some("CertificateUnknown"), "{profile:?}");
            }
            Ok(mut stream) => {
                // TLS 1.3: the client finished first; the alert arrives on the first read.
                stream.write_all(b"GET /")?;
                let mut got = Vec::new();
                let err = stream.read(&mut got, Duration::from_secs(5));
                assert!(
                    matches!(&err, Err(TransportError::Tls { alert: Some(a), .. }) if a == "CertificateUnknown"),
                    "{err:?}"
                );
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    Ok(())
}
