//! What the device checks send and read: one connection at a time (plain TCP through
//! `provisioner_core::net::TcpConnector`, or TLS through `provisioner_core::tls::TlsStream` with a
//! client configuration of the check's choosing), raw HTTP bytes out and `amt_wire::http`
//! responses in, digest answers from `amt_wire::digest`, and WS-MAN envelopes written as text so
//! that a check can put anything (a bad header, a wrong class) into them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amt_wire::http::{Limits, Response, ResponseDecoder};
use amt_wire::wsman::{Envelope, Fault};
use provisioner_core::net::TcpConnector;
use provisioner_core::tls::{TlsError, TlsStream};
use provisioner_core::transport::{Connector, Stream, TransportError};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// How long one connect or read may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits on what the checks accept back.
const RESPONSE_LIMITS: Limits = Limits {
    max_head_bytes: 64 * 1024,
    max_headers: 128,
    max_body_bytes: 4 * 1024 * 1024,
};

/// Why an exchange with the device did not give a response.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ProbeError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The address.
        target: SocketAddr,
        /// Why.
        source: TransportError,
    },
    /// The TLS handshake or a TLS record failed (`alert`: the alert the device sent, if any).
    #[error("TLS: {detail}")]
    Tls {
        /// The alert's name.
        alert: Option<String>,
        /// What happened.
        detail: String,
    },
    /// The device closed the connection without (a complete) response.
    #[error("connection closed without a response")]
    Closed,
    /// No response within the timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The response did not decode as HTTP.
    #[error("bad HTTP response: {0}")]
    Http(String),
    /// Any other I/O error.
    #[error("i/o: {0}")]
    Io(String),
}

impl ProbeError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "probe/connect",
            Self::Tls { .. } => "probe/tls",
            Self::Closed => "probe/closed",
            Self::Timeout(_) => "probe/timeout",
            Self::Http(_) => "probe/http",
            Self::Io(_) => "probe/io",
        }
    }

    /// The TLS alert this error carries, if any.
    pub fn alert(&self) -> Option<&str> {
        match self {
            Self::Tls { alert, .. } => alert.as_deref(),
            _ => None,
        }
    }
}

fn from_transport(e: TransportError) -> ProbeError {
    match e {
        TransportError::Tls { alert, detail } => ProbeError::Tls { alert, detail },
        TransportError::Timeout => ProbeError::Timeout(IO_TIMEOUT),
        TransportError::Reset => ProbeError::Closed,
        other => ProbeError::Io(other.to_string()),
    }
}

fn from_tls(e: TlsError) -> ProbeError {
    match e {
        TlsError::Refused { alert, detail } => ProbeError::Tls { alert, detail },
        other => ProbeError::Tls {
            alert: None,
            detail: other.to_string(),
        },
    }
}

/// One connection to the device.
pub struct Conn {
    stream: Box<dyn Stream>,
    decoder: ResponseDecoder,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    /// A plain TCP connection.
    pub fn plain(target: SocketAddr) -> Result<Self, ProbeError> {
        let stream = TcpConnector
            .connect(target, IO_TIMEOUT)
            .map_err(|source| ProbeError::Connect { target, source })?;
        Ok(Self {
            stream,
            decoder: ResponseDecoder::new(RESPONSE_LIMITS),
        })
    }

    /// A TLS connection with `config` (handshake done).
    pub fn tls(target: SocketAddr, config: Arc<ClientConfig>) -> Result<Self, ProbeError> {
        let raw = TcpConnector
            .connect(target, IO_TIMEOUT)
            .map_err(|source| ProbeError::Connect { target, source })?;
        let tls = TlsStream::handshake(config, target, raw, IO_TIMEOUT).map_err(from_tls)?;
        Ok(Self {
            stream: Box::new(tls),
            decoder: ResponseDecoder::new(RESPONSE_LIMITS),
        })
    }

    /// Writes `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ProbeError> {
        self.stream.write_all(bytes).map_err(from_transport)
    }

    /// Reads the next final response.
    pub fn response(&mut self) -> Result<Response, ProbeError> {
        self.read_until(|d| d.next_response())
    }

    /// Reads until the bytes seen so far start with `prefix` (an interim `100 Continue`); the
    /// bytes stay in the decoder, which drops interim responses.
    pub fn wait_for(&mut self, prefix: &[u8]) -> Result<bool, ProbeError> {
        let mut seen = Vec::new();
        for _ in 0..64 {
            if seen.len() >= prefix.len() {
                break;
            }
            let mut buf = Vec::new();
            let n = self
                .stream
                .read(&mut buf, IO_TIMEOUT)
                .map_err(from_transport)?;
            if n == 0 {
                return Err(ProbeError::Closed);
            }
            seen.extend_from_slice(&buf);
            self.decoder
                .feed(&buf)
                .map_err(|e| ProbeError::Http(e.to_string()))?;
        }
        Ok(seen.starts_with(prefix))
    }

    fn read_until(
        &mut self,
        mut next: impl FnMut(
            &mut ResponseDecoder,
        ) -> Result<Option<Response>, amt_wire::http::HttpError>,
    ) -> Result<Response, ProbeError> {
        // Bounded: each read waits at most IO_TIMEOUT and a response is at most a few MiB.
        for _ in 0..4096 {
            if let Some(r) = next(&mut self.decoder).map_err(|e| ProbeError::Http(e.to_string()))? {
                return Ok(r);
            }
            let mut buf = Vec::new();
            let n = self
                .stream
                .read(&mut buf, IO_TIMEOUT)
                .map_err(from_transport)?;
            if n == 0 {
                return match self.decoder.finish() {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) | Err(amt_wire::http::HttpError::Truncated) => Err(ProbeError::Closed),
                    Err(e) => Err(ProbeError::Http(e.to_string())),
                };
            }
            self.decoder
                .feed(&buf)
                .map_err(|e| ProbeError::Http(e.to_string()))?;
        }
        Err(ProbeError::Timeout(IO_TIMEOUT))
    }
}

/// A client configuration presenting `chain` (in the order given, possibly wrong on purpose)
/// with the leaf `key`, or no client certificate.
pub fn client_config(
    identity: Option<(Vec<CertificateDer<'static>>, &PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, ProbeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let bad = |e: rustls::Error| ProbeError::Tls {
        alert: None,
        detail: format!("client configuration: {e}"),
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(bad)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(
            provisioner_core::tls::AcceptAnyServerCert::new(provider),
        ));
    let config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key.clone_key())
            .map_err(bad)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The WS-MAN request text: the given action, resource URI, MessageID, extra header elements (as
/// XML text) and body (as XML text). Prefixes: `s` SOAP 1.2, `a` addressing, `w` wsman, `n`
/// enumeration.
pub fn envelope(
    action: &str,
    resource_uri: Option<&str>,
    message_id: &str,
    extra_header: &str,
    body: &str,
) -> String {
    let uri = resource_uri
        .map(|u| format!("<w:ResourceURI>{u}</w:ResourceURI>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" \
xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\">\
<s:Header><a:Action s:mustUnderstand=\"true\">{action}</a:Action>\
<a:To s:mustUnderstand=\"true\">/wsman</a:To>{uri}\
<a:MessageID s:mustUnderstand=\"true\">{message_id}</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
<w:OperationTimeout>PT60S</w:OperationTimeout>{extra_header}</s:Header>\
<s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// The selector set header for `selectors`.
pub fn selectors(selectors: &[(&str, &str)]) -> String {
    if selectors.is_empty() {
        return String::new();
    }
    let mut out = String::from("<w:SelectorSet>");
    for (name, value) in selectors {
        out.push_str(&format!("<w:Selector Name=\"{name}\">{value}</w:Selector>"));
    }
    out.push_str("</w:SelectorSet>");
    out
}

/// The Identify request body (no header: DSP0226 §11).
pub const IDENTIFY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\">\
<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>";

/// A POST of `body` to `/wsman` with the given `Authorization` and extra header fields.
pub fn post(host: SocketAddr, body: &str, auth: Option<&str>, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut r = amt_wire::http::Request::new("POST", "/wsman");
    r.headers.push("Host", host.to_string());
    r.headers
        .push("Content-Type", "application/soap+xml; charset=UTF-8");
    if let Some(a) = auth {
        r.headers.push("Authorization", a);
    }
    for (k, v) in extra {
        r.headers.push(*k, *v);
    }
    r.body = body.as_bytes().to_vec();
    r.emit()
}

/// A WS-MAN response read back.
#[derive(Clone, Debug)]
pub struct WsReply {
    /// HTTP status.
    pub status: u16,
    /// The parsed envelope, when the body is one.
    pub envelope: Option<Envelope>,
    /// The fault it carries, if any.
    pub fault: Option<Fault>,
    /// The body as text.
    pub text: String,
}

impl WsReply {
    /// Reads `response`.
    pub fn of(response: &Response) -> Self {
        let envelope =
            Envelope::parse(&response.body, &amt_wire::wsman::Limits::for_responses()).ok();
        let fault = envelope.as_ref().and_then(|e| e.fault().ok().flatten());
        Self {
            status: response.status,
            envelope,
            fault,
            text: String::from_utf8_lossy(&response.body).into_owned(),
        }
    }

    /// The body's first element.
    pub fn body(&self) -> Option<&amt_wire::wsman::Element> {
        self.envelope.as_ref().and_then(|e| e.body.as_ref())
    }

    /// The response `Action`.
    pub fn action(&self) -> &str {
        self.envelope
            .as_ref()
            .map_or("", |e| e.header.action.as_str())
    }

    /// The fault's subcode, local name (`DestinationUnreachable`), if a fault came back.
    pub fn subcode(&self) -> Option<&str> {
        self.fault.as_ref().and_then(|f| f.subcode_local())
    }

    /// `ReturnValue` of a method response.
    pub fn return_value(&self) -> Option<u32> {
        self.body()
            .and_then(|b| b.child_by_local_name("ReturnValue"))
            .and_then(|e| e.text().trim().parse().ok())
    }

    /// The text of the first descendant named `local` (depth-first).
    pub fn find(&self, local: &str) -> Option<String> {
        self.body().and_then(|b| find(b, local))
    }
}

/// The text of the first descendant of `e` (or `e`) named `local`.
pub fn find(e: &amt_wire::wsman::Element, local: &str) -> Option<String> {
    if e.name == local {
        return Some(e.text().trim().to_owned());
    }
    e.elements().find_map(|c| find(c, local))
}

/// Every descendant of `e` named `local`.
pub fn find_all<'a>(
    e: &'a amt_wire::wsman::Element,
    local: &str,
    out: &mut Vec<&'a amt_wire::wsman::Element>,
) {
    for c in e.elements() {
        if c.name == local {
            out.push(c);
        } else {
            find_all(c, local, out);
        }
    }
}

/// `text` cut to `max` characters (on a char boundary), with a marker when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str(" …");
    out
}

/// The head (status line and fields) of a response, as text.
pub fn head_text(r: &Response) -> String {
    let mut out = format!("HTTP/1.{} {} {}", r.minor_version, r.status, r.reason);
    for (k, v) in r.headers.iter() {
        out.push_str(&format!("\n{k}: {v}"));
    }
    out
}
