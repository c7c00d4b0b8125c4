//! The service point's TLS client: rustls driven sans-IO over a [`Stream`], presenting the
//! provisioning certificate chain, accepting (and recording) the device's self-signed certificate.
//!
//! # What it does on the wire
//!
//! - TLS 1.2 and 1.3 with the aws-lc-rs provider. No SNI is sent (the target is an IP address).
//! - Client authentication with the provisioning chain and key from PEM files. The chain is sent
//!   leaf first **including the root** (what Schannel does with hotfix 942841 and what AMT needs
//!   to match the root against its hash list). With `schannel_hotfix: false` in the environment the
//!   root is left out ([`ClientIdentity::chain_to_send`]), which the device refuses.
//! - The device's certificate is **not validated**: during setup AMT presents a self-signed
//!   certificate nobody can chain. [`AcceptAnyServerCert`] is therefore a deliberately dangerous
//!   verifier: it checks only that the handshake signatures are made with the presented key, and the
//!   session records the certificate's thumbprint in its events instead. Never use this verifier
//!   for anything but talking to AMT firmware during provisioning.
//!
//! # Failures and the log lines they lead to
//!
//! The real service point sees only what Schannel reports: an alert or a dropped connection. With
//! TLS 1.3 the client finishes its side of the handshake before the device has checked the client
//! chain, so a refusal arrives as an alert on the first read; [`TlsStream`] reports an alert that
//! comes before any application data as a handshake refusal too ([`TlsError::Refused`]).
//!
//! Which ConfigMgr line a refusal produces is decided here, from what the service point itself knows
//! (its own chain), never from the simulator's internal reason, so the mapping also holds against a
//! real device:
//!
//! | what the service point observes | log lines (error-catalog) |
//! |---|---|
//! | alert/close during the handshake, and the root of the presented chain has an RSA key > 2048 bits | A-18: `Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.`, `**** Error 0x<hex> returned by ApplyControlToken`, `Fail to connect and get core version of machine <ip>.` |
//! | any other alert/close during the handshake (root missing from the chain = A-02, domain mismatch = A-03, not in PKI mode, date zero, …) | A-02/A-03 "Device internal error" (SP1 short text, SP2 long text) |
//! | TCP connect refused or timed out (wrong or wireless address) | A-20 `Error: Can not finish WSMAN call with target device. …` |
//!
//! See [`RefusalKind`] and [`classify_refusal`].

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thiserror::Error;

use crate::transport::{Stream, TransportError};

/// The provisioning certificate chain (leaf first, up to and including the root) and its key.
#[derive(Debug)]
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ClientIdentity {
    /// Reads a PEM chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(format!("certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(TlsError::Pem("certificate chain: no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::Pem(format!("private key: {e}")))?;
        Ok(Self { chain, key })
    }

    /// From DER: the chain leaf first (as `io::pki::read_provisioning_cert` returns it) and the
    /// leaf's PKCS#8 key.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Result<Self, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::Pem("certificate chain: no certificate".into()));
        }
        Ok(Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(pkcs8_key.into()),
        })
    }

    /// The full chain as loaded (leaf first).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The chain the service point sends: the full chain with the Schannel hotfix; without it
    /// the self-signed root (last certificate, when it is self-issued) is left out.
    pub fn chain_to_send(&self, schannel_hotfix: bool) -> Vec<CertificateDer<'static>> {
        let mut chain = self.chain.clone();
        if !schannel_hotfix && chain.len() > 1 && chain.last().is_some_and(|c| is_self_issued(c)) {
            chain.pop();
        }
        chain
    }

    /// The top certificate of the chain (the root, in a complete chain).
    pub fn root(&self) -> Option<&CertificateDer<'static>> {
        self.chain.last()
    }

    /// Thumbprint of the root in `alg` (what a device's hash list must contain).
    pub fn root_thumbprint(&self, alg: HashAlgorithm) -> Option<Thumbprint> {
        self.root().map(|r| Thumbprint::of_der(alg, r.as_ref()))
    }

    /// RSA modulus length of the root's key in bits, if the root has an RSA key.
    pub fn root_rsa_bits(&self) -> Option<u32> {
        self.root().and_then(|r| rsa_bits(r.as_ref()))
    }
}

/// Whether a certificate's subject equals its issuer.
fn is_self_issued(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
        .unwrap_or(false)
}

/// RSA key size computed from the modulus (x509-parser's `key_size` is wrong for some moduli).
fn rsa_bits(der: &[u8]) -> Option<u32> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    match cert.public_key().parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let modulus = rsa.modulus;
            let start = modulus.iter().position(|b| *b != 0)?;
            let first = *modulus.get(start)?;
            let len = u32::try_from(modulus.len() - start).ok()?;
            Some(8 * len - first.leading_zeros())
        }
        _ => None,
    }
}

/// A dangerous server-certificate verifier that accepts any certificate (see the module docs).
///
/// Handshake signatures are still checked against the presented key, so the peer must hold the
/// key of the certificate it sent.
#[derive(Debug)]
pub struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl AcceptAnyServerCert {
    /// The verifier, checking handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the client configuration: TLS 1.2 + 1.3, aws-lc-rs, client auth with `chain`.
pub fn client_config(
    identity: &ClientIdentity,
    schannel_hotfix: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider }))
        .with_client_auth_cert(
            identity.chain_to_send(schannel_hotfix),
            identity.key.clone_key(),
        )
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// A client configuration without a client certificate (management sessions after provisioning,
/// when the device authenticates by digest only).
pub fn anonymous_client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why TLS failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlsError {
    /// The device refused the session: an alert (or a close) before any application data.
    #[error("device refused the TLS session: {detail}")]
    Refused {
        /// The alert the device sent, by name (`CertificateUnknown`, …), if one arrived.
        alert: Option<String>,
        /// What happened.
        detail: String,
    },
    /// The transport failed underneath TLS.
    #[error("transport failed during TLS: {0}")]
    Transport(#[from] TransportError),
    /// A TLS protocol error on our side or after the session was established.
    #[error("TLS protocol error: {0}")]
    Protocol(String),
    /// The client configuration could not be built.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// A PEM file could not be read.
    #[error("PEM: {0}")]
    Pem(String),
}

impl TlsError {
    /// A stable id for events and scenario files.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Refused { .. } => "tls/refused",
            Self::Transport(e) => e.id(),
            Self::Protocol(_) => "tls/protocol",
            Self::Config(_) => "tls/config",
            Self::Pem(_) => "tls/pem",
        }
    }
}

impl From<TlsError> for TransportError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Transport(t) => t,
            TlsError::Refused { alert, detail } => Self::Tls { alert, detail },
            other => Self::Tls {
                alert: None,
                detail: other.to_string(),
            },
        }
    }
}

/// Which documented failure a TLS refusal is reported as (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// the provisioning root's key is longer than 2048 bits.
    RootKeyTooLong,
    /// "Device internal error".
    DeviceInternalError,
}

/// Decides the documented failure for a TLS refusal from the service point's own chain.
pub fn classify_refusal(identity: &ClientIdentity) -> RefusalKind {
    match identity.root_rsa_bits() {
        Some(bits) if bits > 2048 => RefusalKind::RootKeyTooLong,
        _ => RefusalKind::DeviceInternalError,
    }
}

/// A TLS client session over a [`Stream`]; itself a [`Stream`] of plaintext.
pub struct TlsStream {
    conn: ClientConnection,
    io: Box<dyn Stream>,
    app_data_seen: bool,
    eof: bool,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("app_data_seen", &self.app_data_seen)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    /// Runs the client handshake over `io` to `target`; each read waits at most `timeout`.
    pub fn handshake(
        config: Arc<ClientConfig>,
        target: SocketAddr,
        io: Box<dyn Stream>,
        timeout: Duration,
    ) -> Result<Self, TlsError> {
        let name = ServerName::IpAddress(target.ip().into());
        let conn =
            ClientConnection::new(config, name).map_err(|e| TlsError::Config(e.to_string()))?;
        let mut stream = Self {
            conn,
            io,
            app_data_seen: false,
            eof: false,
        };
        loop {
            stream.flush_tls()?;
            if !stream.conn.is_handshaking() {
                return Ok(stream);
            }
            let n = stream.pull(timeout)?;
            if n == 0 {
                return Err(TlsError::Refused {
                    alert: None,
                    detail: "connection closed during the handshake".into(),
                });
            }
        }
    }

    /// The device's certificate chain as presented (leaf first).
    pub fn server_certificates(&self) -> &[CertificateDer<'static>] {
        self.conn.peer_certificates().unwrap_or(&[])
    }

    /// SHA-256 thumbprint of the device's leaf certificate.
    pub fn server_thumbprint(&self) -> Option<Thumbprint> {
        self.server_certificates()
            .first()
            .map(|c| Thumbprint::of_der(HashAlgorithm::Sha256, c.as_ref()))
    }

    /// The negotiated protocol version (`TLSv1_3`, …).
    pub fn protocol(&self) -> Option<String> {
        self.conn.protocol_version().map(|v| format!("{v:?}"))
    }

    /// Writes all pending TLS records to the transport.
    fn flush_tls(&mut self) -> Result<(), TlsError> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut out)
                .map_err(|e| TlsError::Protocol(e.to_string()))?;
        }
        if !out.is_empty() {
            self.io.write_all(&out)?;
        }
        Ok(())
    }

    /// Reads once from the transport and feeds rustls; returns the raw byte count (0 = EOF).
    fn pull(&mut self, timeout: Duration) -> Result<usize, TlsError> {
        let mut raw = Vec::new();
        let n = self.io.read(&mut raw, timeout)?;
        if n == 0 {
            self.eof = true;
            return Ok(0);
        }
        let mut slice = raw.as_slice();
        while !slice.is_empty() {
            self.conn
                .read_tls(&mut slice)
                .map_err(|e| TlsError::Protocol(e.to_string()))?;
            if let Err(e) = self.conn.process_new_packets() {
                // Send our own alert if rustls queued one; ignore failures doing so.
                let _ = self.flush_tls();
                return Err(self.map_error(e));
            }
        }
        Ok(n)
    }

    fn map_error(&self, e: rustls::Error) -> TlsError {
        match e {
            rustls::Error::AlertReceived(alert) if !self.app_data_seen => TlsError::Refused {
                alert: Some(format!("{alert:?}")),
                detail: format!("received fatal alert {alert:?}"),
            },
            other => TlsError::Protocol(other.to_string()),
        }
    }

    /// Reads plaintext; see [`Stream::read`].
    fn read_plain(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TlsError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    self.app_data_seen = true;
                    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(TlsError::Protocol(e.to_string())),
            }
            if self.eof {
                return Ok(0);
            }
            let n = self.pull(timeout)?;
            self.flush_tls()?;
            if n == 0 && !self.app_data_seen {
                return Err(TlsError::Refused {
                    alert: None,
                    detail: "connection closed before the first response".into(),
                });
            }
        }
    }
}

impl Stream for TlsStream {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.conn
            .writer()
            .write_all(bytes)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        self.flush_tls().map_err(TransportError::from)
    }

    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError> {
        self.read_plain(buf, timeout).map_err(TransportError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(stem: &str) -> ClientIdentity {
        let (chain, key): (&[u8], &[u8]) = match stem {
            "prov-oid" => (
                include_bytes!("../../../certs/prov-oid.chain.pem"),
                include_bytes!("../../../certs/prov-oid.TEST-ONLY.key.pem"),
            ),
            _ => (
                include_bytes!("../../../certs/prov-root4096.chain.pem"),
                include_bytes!("../../../certs/prov-root4096.TEST-ONLY.key.pem"),
            ),
        };
        match ClientIdentity::from_pem(chain, key) {
            Ok(id) => id,
            Err(e) => panic!("test PKI {stem}: {e}"),
        }
    }

    #[test]
    fn chain_loads_leaf_first_and_drops_root_without_hotfix() {
        let id = load("prov-oid");
        assert_eq!(id.chain().len(), 3);
        assert_eq!(id.chain_to_send(true).len(), 3);
        let without = id.chain_to_send(false);
        assert_eq!(without.len(), 2);
        assert_eq!(without.first(), id.chain().first());
        assert_eq!(
            id.root_thumbprint(HashAlgorithm::Sha256)
                .map(|t| t.to_lower_hex()),
            Some("8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d".to_owned())
        );
    }

    #[test]
    fn root_key_size_decides_the_refusal_kind() {
        assert_eq!(load("prov-oid").root_rsa_bits(), Some(2048));
        assert_eq!(
            classify_refusal(&load("prov-oid")),
            RefusalKind::DeviceInternalError
        );
        assert_eq!(load("prov-root4096").root_rsa_bits(), Some(4096));
        assert_eq!(
            classify_refusal(&load("prov-root4096")),
            RefusalKind::RootKeyTooLong
        );
    }

    #[test]
    fn bad_pem_is_a_typed_error() {
        assert!(matches!(
            ClientIdentity::from_pem(b"nothing", b"nothing"),
            Err(TlsError::Pem(_))
        ));
    }

    #[test]
    fn config_builds_for_both_chain_shapes() {
        let id = load("prov-oid");
        assert!(client_config(&id, true).is_ok());
        assert!(client_config(&id, false).is_ok());
        assert!(anonymous_client_config().is_ok());
    }
}
