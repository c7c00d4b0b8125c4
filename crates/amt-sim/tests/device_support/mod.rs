//! Shared helpers for the `device_*` integration tests: a device on a virtual clock, raw HTTP
//! requests, digest answers, and an in-memory rustls client pumped against a `DeviceConnection`.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use amt_sim::conn::{ConnOutput, DeviceConnection};
use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::digest::{Challenge, NonceCount};
use amt_wire::http::{Limits, Response, ResponseDecoder};
use amt_wire::time::Timestamp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;

/// 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp::from_unix_secs(1_767_225_600);

pub fn http_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 16992))
}

pub fn tls_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 16993))
}

pub fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50_000))
}

pub fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs")
}

pub fn device(profile: DeviceProfile) -> Device {
    Device::new(profile, None, 7, T0).expect("device")
}

pub fn testdata(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../amt-wire/testdata/wsman/requests")
        .join(name);
    std::fs::read_to_string(p).expect("testdata")
}

/// A WS-MAN Get of `class` (AMT schema) in MeshCentral's style.
pub fn get_body(class: &str) -> String {
    let schema = if class.starts_with("CIM_") {
        "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
    } else if class.starts_with("IPS_") {
        "http://intel.com/wbem/wscim/1/ips-schema/1/"
    } else {
        "http://intel.com/wbem/wscim/1/amt-schema/1/"
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
<Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{schema}{class}</w:ResourceURI><a:MessageID>1</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
<w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body></Body></Envelope>"
    )
}

/// An Invoke of `class.method` with `params` (already-XML input parameters).
pub fn invoke_body(class: &str, method: &str, params: &str) -> String {
    let ns = format!("http://intel.com/wbem/wscim/1/amt-schema/1/{class}");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
<Header><a:Action>{ns}/{method}</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{ns}</w:ResourceURI><a:MessageID>1</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
<w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body><r:{method}_INPUT xmlns:r=\"{ns}\">{params}</r:{method}_INPUT></Body></Envelope>"
    )
}

pub const IDENTIFY: &str = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\"><s:Header></s:Header>\
<s:Body><wsmid:Identify></wsmid:Identify></s:Body></s:Envelope>";

/// A raw POST /wsman in MeshCentral's style (Host, Content-Length, optional Authorization).
pub fn post(body: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut head = String::from("POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16992\r\n");
    if let Some(a) = authorization {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Decodes every response in `bytes`.
pub fn responses(bytes: &[u8]) -> Vec<Response> {
    let mut d = ResponseDecoder::new(Limits::default());
    d.feed(bytes).expect("feed");
    let mut out = Vec::new();
    while let Ok(Some(r)) = d.next_response() {
        out.push(r);
    }
    if let Ok(Some(r)) = d.finish() {
        out.push(r);
    }
    out
}

/// One request on a fresh plain connection: the response and whether the device closed.
pub fn exchange(dev: &mut Device, request: &[u8], now: Timestamp) -> (Response, ConnOutput) {
    let mut conn = dev.accept(http_addr(), peer(), now).expect("accept");
    let out = conn.receive(dev, request, now);
    let r = responses(&out.send).into_iter().next().expect("a response");
    (r, out)
}

/// Answers the challenge in a 401 for `user`/`pass` with nonce count `nc`.
pub fn answer(r: &Response, user: &str, pass: &str, nc: &str) -> String {
    let c = Challenge::parse(r.headers.get("WWW-Authenticate").expect("challenge")).expect("parse");
    c.answer(
        user,
        pass,
        "POST",
        "/wsman",
        NonceCount::parse(nc).expect("nc"),
        "0a4f113b",
    )
    .emit()
}

pub fn body_text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

// ----- TLS -----

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The provisioning server does not check the device's self-signed certificate.
#[derive(Debug)]
pub struct AcceptAnyServer(pub Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client presenting `stem`'s chain (`None`: no client certificate).
pub fn tls_client(stem: Option<&str>) -> ClientConnection {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(Arc::clone(&provider))));
    let config = match stem {
        Some(stem) => {
            let chain =
                CertificateDer::pem_file_iter(certs_dir().join(format!("{stem}.chain.pem")))
                    .expect("chain")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("chain PEM");
            let key =
                PrivateKeyDer::from_pem_file(certs_dir().join(format!("{stem}.TEST-ONLY.key.pem")))
                    .expect("key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client cert")
        }
        None => builder.with_no_client_auth(),
    };
    ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("amt-device").expect("name"),
    )
    .expect("client")
}

/// A client TLS connection to the device, pumped in memory.
pub struct TlsPipe {
    pub client: ClientConnection,
    pub conn: DeviceConnection,
    pub closed: bool,
}

impl TlsPipe {
    pub fn connect(dev: &mut Device, stem: Option<&str>, now: Timestamp) -> Self {
        let conn = dev.accept(tls_addr(), peer(), now).expect("accept");
        Self {
            client: tls_client(stem),
            conn,
            closed: false,
        }
    }

    /// Moves bytes both ways until neither side has anything to say. Returns the first client
    /// error, if any.
    pub fn pump(&mut self, dev: &mut Device, now: Timestamp) -> Result<(), rustls::Error> {
        for _ in 0..64 {
            let mut to_device = Vec::new();
            while self.client.wants_write() {
                if self.client.write_tls(&mut to_device).unwrap_or(0) == 0 {
                    break;
                }
            }
            if to_device.is_empty() || self.closed {
                return Ok(());
            }
            let out = self.conn.receive(dev, &to_device, now);
            if !out.send.is_empty() {
                let mut rd = &out.send[..];
                while !rd.is_empty() {
                    if self.client.read_tls(&mut rd).unwrap_or(0) == 0 {
                        break;
                    }
                    self.client.process_new_packets()?;
                }
            }
            if out.close {
                self.closed = true;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Completes the handshake.
    pub fn handshake(&mut self, dev: &mut Device, now: Timestamp) -> Result<(), rustls::Error> {
        self.pump(dev, now)
    }

    /// Sends one request and returns the decoded responses.
    pub fn request(
        &mut self,
        dev: &mut Device,
        raw: &[u8],
        now: Timestamp,
    ) -> Result<Vec<Response>, rustls::Error> {
        use std::io::{Read as _, Write as _};
        self.client
            .writer()
            .write_all(raw)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        self.pump(dev, now)?;
        let mut plain = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.client.reader().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => plain.extend_from_slice(&buf[..n]),
            }
        }
        Ok(responses(&plain))
    }
}

// ----- MeshCentral-style activation -----

pub const ADMIN_PASSWORD: &str = "Adm1n-P@ssw0rd";
pub const MEBX_PASSWORD: &str = "Mebx-P@ssw0rd1";
const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";

/// Text between `<…:name>` and the next `<` in `body`.
pub fn element_text(body: &str, name: &str) -> Option<String> {
    let start = body
        .find(&format!(":{name}>"))
        .or_else(|| body.find(&format!("<{name}>")))?;
    let rest = &body[start..];
    let open = rest.find('>')? + 1;
    let end = rest[open..].find('<')?;
    Some(rest[open..open + end].to_owned())
}

pub fn return_value(body: &str) -> Option<u32> {
    element_text(body, "ReturnValue").and_then(|t| t.parse().ok())
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

/// Sends `body` on the setup pipe without credentials and returns (status, body text).
pub fn setup_call(
    pipe: &mut TlsPipe,
    dev: &mut Device,
    body: &str,
    now: Timestamp,
) -> (u16, String) {
    let r = pipe.request(dev, &post(body, None), now).expect("request");
    let r = r.into_iter().next().expect("response");
    (r.status, body_text(&r))
}

/// MeshCentral's bare-metal ACM activation over the provisioning-certificate session: realm,
/// MEBx password, admin password, key pair, certificate, TLS credential context, TLS settings
/// (TLS on, non-secure still accepted), commit. Returns the setup pipe.
pub fn activate(dev: &mut Device, now: Timestamp) -> TlsPipe {
    let mut pipe = TlsPipe::connect(dev, Some("prov-oid"), now);
    pipe.handshake(dev, now).expect("handshake");
    assert!(pipe.conn.setup_accepted(), "setup session accepted");
    let (s, b) = setup_call(&mut pipe, dev, &get_body("AMT_GeneralSettings"), now);
    assert_eq!(s, 200, "{b}");
    let realm = element_text(&b, "DigestRealm").expect("realm");
    let (s, _) = setup_call(
        &mut pipe,
        dev,
        &get_body("AMT_SetupAndConfigurationService"),
        now,
    );
    assert_eq!(s, 200);
    let ns = |c: &str| format!("{AMT}{c}");
    let invoke = |class: &str, method: &str, params: &str| {
        let n = ns(class);
        envelope(
            &format!("{n}/{method}"),
            &n,
            "",
            &format!("<r:{method}_INPUT xmlns:r=\"{n}\">{params}</r:{method}_INPUT>"),
        )
    };
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &invoke(
            "AMT_SetupAndConfigurationService",
            "SetMEBxPassword",
            &format!("<r:Password>{MEBX_PASSWORD}</r:Password>"),
        ),
        now,
    );
    assert_eq!((s, return_value(&b)), (200, Some(0)), "{b}");
    let ha1 = hex::encode(amt_wire::digest::ha1("admin", &realm, ADMIN_PASSWORD));
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &invoke(
            "AMT_AuthorizationService",
            "SetAdminAclEntryEx",
            &format!("<r:Username>admin</r:Username><r:DigestPassword>{ha1}</r:DigestPassword>"),
        ),
        now,
    );
    assert_eq!((s, return_value(&b)), (200, Some(0)), "{b}");
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &invoke(
            "AMT_PublicKeyManagementService",
            "GenerateKeyPair",
            "<r:KeyAlgorithm>0</r:KeyAlgorithm><r:KeyLength>2048</r:KeyLength>",
        ),
        now,
    );
    assert_eq!((s, return_value(&b)), (200, Some(0)), "{b}");
    let pool = dev
        .state()
        .key_pairs
        .last()
        .and_then(|k| k.pool_index)
        .expect("pool key");
    let cert =
        amt_sim::tls::self_signed_identity(pool, "amt-device-01.corp.amt-sim.test", now, 365)
            .expect("device web certificate");
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD.encode(cert.cert_der.as_ref());
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &invoke(
            "AMT_PublicKeyManagementService",
            "AddCertificate",
            &format!("<r:CertificateBlob>{blob}</r:CertificateBlob>"),
        ),
        now,
    );
    assert_eq!((s, return_value(&b)), (200, Some(0)), "{b}");
    let cert_id = b
        .split("Name=\"InstanceID\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("created certificate InstanceID")
        .to_owned();
    let ctx = ns("AMT_TLSCredentialContext");
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
    let (s, b) = setup_call(&mut pipe, dev, &create, now);
    assert_eq!(s, 200, "{b}");
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &testdata("meshcentral_put_tls_settings.xml"),
        now,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = setup_call(
        &mut pipe,
        dev,
        &invoke("AMT_SetupAndConfigurationService", "CommitChanges", ""),
        now,
    );
    assert_eq!((s, return_value(&b)), (200, Some(0)), "{b}");
    pipe
}

/// A digest-authenticated request on a fresh plain connection (challenge, then answer).
pub fn digest_plain(
    dev: &mut Device,
    body: &str,
    user: &str,
    pass: &str,
    now: Timestamp,
) -> Response {
    let (challenge, _) = exchange(dev, &post(body, None), now);
    assert_eq!(challenge.status, 401);
    let a = answer(&challenge, user, pass, "00000001");
    exchange(dev, &post(body, Some(&a)), now).0
}
