//! The scripted device: a [`Connector`] whose streams run a real in-memory rustls
//! `ServerConnection` (certificate `certs/device-web-01`) and hand every decoded HTTP request to a
//! [`Backend`] that says how TLS goes and what to answer. Replay and capture are two backends.
//!
//! TLS is real because the session speaks TLS and fresh keys make byte replay of records
//! impossible; what is replayed is the HTTP inside, and the device's handshake behaviour
//! ([`TlsPlan`]): accept, refuse the client certificate with an alert, close after the ServerHello
//! record, or close once the client's flight arrived.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amt_wire::http::{Limits, RequestDecoder};
use provisioner_core::transport::{Connector, Stream, TransportError};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, ServerConfig,
    ServerConnection, SignatureScheme,
};

use super::format::{Answer, TlsPlan};

/// How one connection's TLS goes.
#[derive(Clone, Debug)]
pub struct ConnPlan {
    /// The device's side of the handshake.
    pub tls: TlsPlan,
    /// Restrict the server to this version (`TLSv1_2`, `TLSv1_3`); both when `None`.
    pub version: Option<String>,
}

/// What sits behind the scripted TLS server.
pub trait Backend {
    /// Connection `conn` (0-based) to `target`: its TLS plan, or why the connect fails.
    fn connect(
        &mut self,
        conn: usize,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<ConnPlan, TransportError>;
    /// The provisioner presented `len` certificates on connection `conn`.
    fn client_chain(&mut self, conn: usize, len: usize);
    /// A complete HTTP request (raw bytes) arrived on connection `conn`.
    fn request(&mut self, conn: usize, raw: &[u8], timeout: Duration) -> Answer;
}

/// The connector over a shared backend.
pub struct ScriptedConnector<B> {
    backend: Rc<RefCell<B>>,
    connections: usize,
}

impl<B> ScriptedConnector<B> {
    /// A connector whose streams ask `backend`.
    pub fn new(backend: Rc<RefCell<B>>) -> Self {
        Self {
            backend,
            connections: 0,
        }
    }
}

impl<B: Backend + 'static> Connector for ScriptedConnector<B> {
    fn connect(
        &mut self,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<Box<dyn Stream>, TransportError> {
        let conn = self.connections;
        self.connections += 1;
        let plan = self.backend.borrow_mut().connect(conn, target, timeout)?;
        let seen = Arc::new(AtomicUsize::new(0));
        let config = server_config(&plan, seen.clone()).map_err(TransportError::Io)?;
        let tls = ServerConnection::new(config).map_err(|e| TransportError::Io(e.to_string()))?;
        Ok(Box::new(ScriptedStream {
            backend: self.backend.clone(),
            conn,
            plan: plan.tls,
            tls,
            seen,
            chain_reported: false,
            writes: 0,
            decoder: RequestDecoder::new(Limits::default()),
            plain: Vec::new(),
            requests: VecDeque::new(),
            outbox: Vec::new(),
            closed: false,
        }))
    }
}

/// The scripted device's identity and a verifier that follows the plan.
fn server_config(plan: &ConnPlan, seen: Arc<AtomicUsize>) -> Result<Arc<ServerConfig>, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../certs");
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let chain = CertificateDer::pem_slice_iter(&read("device-web-01.chain.pem")?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&read("device-web-01.TEST-ONLY.key.pem")?)
        .map_err(|e| e.to_string())?;
    let provider = Arc::new(aws_lc_rs::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match plan.version.as_deref() {
        Some("TLSv1_2") => vec![&rustls::version::TLS12],
        Some("TLSv1_3") => vec![&rustls::version::TLS13],
        None => vec![&rustls::version::TLS13, &rustls::version::TLS12],
        Some(other) => return Err(format!("unknown TLS version {other}")),
    };
    let refuse = match &plan.tls {
        TlsPlan::Alert(name) => Some(alert_error(name)?),
        _ => None,
    };
    let verifier = PlanVerifier {
        refuse,
        seen,
        provider: provider.clone(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The certificate error rustls turns into the alert `name`.
fn alert_error(name: &str) -> Result<CertificateError, String> {
    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused by the golden script")
        }
    }
    impl std::error::Error for Refused {}
    Ok(match name {
        "CertificateUnknown" => CertificateError::Other(OtherError(Arc::new(Refused))),
        "BadCertificate" => CertificateError::BadEncoding,
        "CertificateExpired" => CertificateError::Expired,
        "UnknownCA" => CertificateError::UnknownIssuer,
        "UnsupportedCertificate" => CertificateError::InvalidPurpose,
        "AccessDenied" => CertificateError::ApplicationVerificationFailure,
        other => return Err(format!("no certificate error gives the alert {other}")),
    })
}

/// Accepts any client chain (or none), or refuses every chain with the plan's alert; records the
/// chain length it saw (plus one, 0 = none).
#[derive(Debug)]
struct PlanVerifier {
    refuse: Option<CertificateError>,
    seen: Arc<AtomicUsize>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PlanVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.seen.store(intermediates.len() + 2, Ordering::SeqCst);
        match &self.refuse {
            None => Ok(ClientCertVerified::assertion()),
            Some(e) => Err(rustls::Error::InvalidCertificate(e.clone())),
        }
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

/// One connection to the scripted device.
struct ScriptedStream<B> {
    backend: Rc<RefCell<B>>,
    conn: usize,
    plan: TlsPlan,
    tls: ServerConnection,
    seen: Arc<AtomicUsize>,
    chain_reported: bool,
    writes: usize,
    decoder: RequestDecoder,
    /// Plaintext received since the last complete request.
    plain: Vec<u8>,
    /// Complete requests not yet answered.
    requests: VecDeque<Vec<u8>>,
    /// TLS bytes for the client.
    outbox: Vec<u8>,
    /// The device closed (after `outbox`).
    closed: bool,
}

impl<B: Backend> ScriptedStream<B> {
    fn flush_tls(&mut self) {
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.outbox).is_err() {
                break;
            }
        }
    }

    fn report_chain(&mut self) {
        let seen = self.seen.load(Ordering::SeqCst);
        if !self.chain_reported && seen > 0 {
            self.chain_reported = true;
            self.backend
                .borrow_mut()
                .client_chain(self.conn, seen.saturating_sub(1));
        }
    }

    /// Feeds TLS bytes from the client; collects complete requests.
    fn receive(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let handshaking = self.tls.is_handshaking();
        if handshaking && self.writes > 1 && self.plan == TlsPlan::CloseAfterClientFlight {
            self.closed = true;
            return Ok(());
        }
        let mut rd = bytes;
        while !rd.is_empty() {
            self.tls
                .read_tls(&mut rd)
                .map_err(|e| TransportError::Io(e.to_string()))?;
            if self.tls.process_new_packets().is_err() {
                // A refusal (the verifier's alert): send the alert, then close.
                self.report_chain();
                self.flush_tls();
                self.closed = true;
                return Ok(());
            }
        }
        self.report_chain();
        if handshaking && self.plan == TlsPlan::CloseAfterServerHello {
            let mut flight = Vec::new();
            while self.tls.wants_write() && self.tls.write_tls(&mut flight).is_ok() {}
            let first = flight.get(3..5).map_or(flight.len(), |l| {
                5 + usize::from(u16::from_be_bytes([l[0], l[1]]))
            });
            self.outbox
                .extend_from_slice(flight.get(..first).unwrap_or(&flight));
            self.closed = true;
            return Ok(());
        }
        self.flush_tls();
        let mut fresh = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = std::io::Read::read(&mut self.tls.reader(), &mut chunk) {
            fresh.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        if fresh.is_empty() {
            return Ok(());
        }
        self.plain.extend_from_slice(&fresh);
        self.decoder
            .feed(&fresh)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        while self
            .decoder
            .next_request()
            .map_err(|e| TransportError::Io(e.to_string()))?
            .is_some()
        {
            // Right after a complete request the decoder holds only what follows it.
            let used = self.plain.len().saturating_sub(self.decoder.buffered());
            let rest = self.plain.split_off(used);
            self.requests
                .push_back(std::mem::replace(&mut self.plain, rest));
        }
        Ok(())
    }
}

impl<B: Backend> Stream for ScriptedStream<B> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if self.closed {
            // Like TCP after the peer's close: accepted and lost.
            return Ok(());
        }
        self.writes += 1;
        self.receive(bytes)
    }

    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError> {
        if self.outbox.is_empty()
            && !self.closed
            && let Some(request) = self.requests.pop_front()
        {
            let answer = self
                .backend
                .borrow_mut()
                .request(self.conn, &request, timeout);
            match answer {
                Answer::Respond { bytes, close } => {
                    std::io::Write::write_all(&mut self.tls.writer(), &bytes)
                        .map_err(|e| TransportError::Io(e.to_string()))?;
                    if close {
                        self.tls.send_close_notify();
                        self.closed = true;
                    }
                    self.flush_tls();
                }
                Answer::Closed => self.closed = true,
                Answer::Failed(e) => return Err(e),
            }
        }
        if !self.outbox.is_empty() {
            let n = self.outbox.len();
            buf.append(&mut self.outbox);
            return Ok(n);
        }
        if self.closed {
            return Ok(0);
        }
        // Nothing to say: the client waits in vain.
        Err(TransportError::Timeout)
    }
}
