//! WS-Management client over HTTP/1.1 with AMT's digest authentication and credential fallback.
//!
//! One keep-alive connection (plain or TLS) to the device, reopened after a `Connection: close`
//! response or a closed stream. Requests are built with [`amt_wire::wsman::Request::emit`]
//! (GWM's shape), responses parsed with [`Envelope::parse`] and [`Limits::for_responses`]; SOAP
//! faults become [`CallError::Fault`].
//!
//! # Digest and credential fallback
//!
//! The first request goes out without credentials. A `401` carries the challenge; the client then
//! answers it (`qop=auth`, one cnonce per client, `nc` counting up, the nonce reused until the
//! device says otherwise) with each configured account **in order** until one is accepted or none
//! is left ([`CallError::AuthFailed`]). A `401` with `stale="true"` is retried with the same
//! account and the new nonce. A device that accepts a request without a `401` (a certificate
//! session on modern firmware) is used as is. Every attempt is recorded in
//! [`WsmanClient::auth_attempts`] so the session can log it; passwords never leave this module.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amt_wire::digest::{Challenge, NonceCount};
use amt_wire::wsman::enumeration::{EnumerateRequest, PullRequest};
use amt_wire::wsman::{
    Element, Envelope, Fault, Header, Limits, OperationTimeout, Request, Selector, SelectorValue,
    names,
};
use rand::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use rustls::ClientConfig;
use thiserror::Error;

use crate::tls::{TlsError, TlsStream};
use crate::transport::{Connector, Stream, TransportError};
use amt_wire::http;

/// The digest URI and HTTP target of every WS-MAN request.
pub const WSMAN_PATH: &str = "/wsman";

/// An account the service point may authenticate with. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Digest user name (`admin` for the AMT administrator).
    pub user: String,
    /// Password in clear (digest needs it to compute HA1).
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ClientSettings {
    /// Device address (TLS port 16993 or plain 16992).
    pub target: SocketAddr,
    /// `Some` for TLS with this configuration, `None` for plain HTTP.
    pub tls: Option<Arc<ClientConfig>>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// How long to wait for each response.
    pub request_timeout: Duration,
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("target", &self.target)
            .field("tls", &self.tls.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// One digest attempt with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAttempt {
    /// Index of the account in the configured list.
    pub account_index: usize,
    /// Its user name.
    pub user: String,
    /// Whether the device accepted it.
    pub accepted: bool,
}

/// One WS-MAN exchange, for events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Class name (last path segment of the resource URI).
    pub class: String,
    /// Operation: `Get`, `Put`, `Create`, `Delete`, `Enumerate`, `Pull`, or the method name.
    pub operation: String,
    /// HTTP status of the final response, `None` if none arrived.
    pub status: Option<u16>,
}

/// Why a WS-MAN call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallError {
    /// The TCP (or in-memory) connection could not be opened.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The address tried.
        target: SocketAddr,
        /// Why.
        source: TransportError,
    },
    /// TLS failed (handshake refused or protocol error).
    #[error("TLS with {target}: {source}")]
    Tls {
        /// The address.
        target: SocketAddr,
        /// Why.
        source: TlsError,
    },
    /// The connection failed after it was established (timeout, reset, closed mid-response).
    #[error("connection failed during {operation} {class}: {source}")]
    Transport {
        /// Class being called.
        class: String,
        /// Operation being performed.
        operation: String,
        /// Why.
        source: TransportError,
    },
    /// Every account was refused.
    #[error("digest authentication failed with all {accounts_tried} account(s)")]
    AuthFailed {
        /// How many accounts were tried.
        accounts_tried: usize,
    },
    /// The device answered with a SOAP fault.
    #[error("WS-MAN fault on {operation} {class}: {subcode:?} {reason}")]
    Fault {
        /// Class being called.
        class: String,
        /// Operation.
        operation: String,
        /// Fault subcode local name, e.g. `AlreadyExists`.
        subcode: Option<String>,
        /// Fault reason text.
        reason: String,
    },
    /// An HTTP status other than 200/401 without a SOAP fault.
    #[error("HTTP {status} on {operation} {class}")]
    Http {
        /// Class being called.
        class: String,
        /// Operation.
        operation: String,
        /// The status.
        status: u16,
    },
    /// The response could not be understood.
    #[error("bad response to {operation} {class}: {detail}")]
    BadResponse {
        /// Class being called.
        class: String,
        /// Operation.
        operation: String,
        /// What was wrong.
        detail: String,
    },
}

impl CallError {
    /// A stable id for events and scenario files.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "wsman/connect",
            Self::Tls { .. } => "wsman/tls",
            Self::Transport { source, .. } => match source {
                TransportError::Timeout => "wsman/timeout",
                _ => "wsman/connection-lost",
            },
            Self::AuthFailed { .. } => "wsman/auth-failed",
            Self::Fault { .. } => "wsman/fault",
            Self::Http { .. } => "wsman/http-status",
            Self::BadResponse { .. } => "wsman/bad-response",
        }
    }
}

/// Output of a method invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    /// `ReturnValue` (PT_STATUS), if present.
    pub return_value: Option<u32>,
    /// The `<Method>_OUTPUT` element.
    pub body: Element,
}

impl InvokeOutput {
    /// Text of an output parameter by local name.
    pub fn get(&self, name: &str) -> Option<String> {
        self.body
            .child_by_local_name(name)
            .map(|e| e.text().trim().to_owned())
    }
}

/// The resource URI of an AMT, CIM or IPS class by name.
pub fn resource_uri(class: &str) -> String {
    let base = if class.starts_with("CIM_") {
        names::CIM_SCHEMA
    } else if class.starts_with("IPS_") {
        names::IPS_SCHEMA
    } else {
        names::AMT_SCHEMA
    };
    format!("{base}{class}")
}

/// Builds `<h:name>text</h:name>` in the class namespace (a method parameter or a property).
pub fn property(class: &str, name: &str, text: impl Into<String>) -> Element {
    Element::prefixed("h", resource_uri(class), name).with_text(text)
}

/// Builds an endpoint reference to `class` selected by `selectors` (for reference parameters).
pub fn endpoint_reference(class: &str, selectors: &[(&str, &str)]) -> Vec<Element> {
    let a = |n: &str| Element::prefixed("a", names::ADDRESSING, n);
    let w = |n: &str| Element::prefixed("w", names::WSMAN, n);
    let mut set = w("SelectorSet");
    for (name, value) in selectors {
        set = set.with_child(
            w("Selector")
                .with_attribute("Name", *name)
                .with_text(*value),
        );
    }
    vec![
        a("Address").with_text(names::ANONYMOUS),
        a("ReferenceParameters")
            .with_child(w("ResourceURI").with_text(resource_uri(class)))
            .with_child(set),
    ]
}

/// A WS-MAN client bound to one device.
pub struct WsmanClient<'c> {
    connector: &'c mut dyn Connector,
    settings: ClientSettings,
    accounts: Vec<Credentials>,
    stream: Option<Box<dyn Stream>>,
    server_thumbprint: Option<String>,
    /// Index of the account in use (`None` before any 401, or in a certificate session).
    account: Option<usize>,
    challenge: Option<Challenge>,
    nc: u32,
    cnonce: String,
    message_id: u64,
    attempts: Vec<AuthAttempt>,
    calls: Vec<CallRecord>,
    server_header: Option<String>,
}

impl fmt::Debug for WsmanClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsmanClient")
            .field("settings", &self.settings)
            .field("account", &self.account)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What to do after a response.
enum Next {
    Done(http::Response),
    Retry,
}

impl<'c> WsmanClient<'c> {
    /// A client that will try `accounts` in order; `seed` makes the cnonce deterministic.
    pub fn new(
        connector: &'c mut dyn Connector,
        settings: ClientSettings,
        accounts: Vec<Credentials>,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut cnonce = [0u8; 16];
        rng.fill_bytes(&mut cnonce);
        Self {
            connector,
            settings,
            accounts,
            stream: None,
            server_thumbprint: None,
            account: None,
            challenge: None,
            nc: 0,
            cnonce: hex::encode(cnonce),
            message_id: 0,
            attempts: Vec::new(),
            calls: Vec::new(),
            server_header: None,
        }
    }

    /// Opens the connection now (TCP, then TLS when configured), so that connect and TLS
    /// failures surface before the first request.
    pub fn connect(&mut self) -> Result<(), CallError> {
        if self.stream.is_some() {
            return Ok(());
        }
        let target = self.settings.target;
        let raw = self
            .connector
            .connect(target, self.settings.connect_timeout)
            .map_err(|source| CallError::Connect { target, source })?;
        let stream: Box<dyn Stream> = match &self.settings.tls {
            Some(config) => {
                let tls = TlsStream::handshake(
                    config.clone(),
                    target,
                    raw,
                    self.settings.request_timeout,
                )
                .map_err(|source| CallError::Tls { target, source })?;
                self.server_thumbprint = tls.server_thumbprint().map(|t| t.to_configmgr_hex());
                Box::new(tls)
            }
            None => raw,
        };
        self.stream = Some(stream);
        Ok(())
    }

    /// Drops the connection (the next call reconnects).
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    /// SHA-256 thumbprint (upper-case hex) of the device's TLS certificate, once connected.
    pub fn server_thumbprint(&self) -> Option<&str> {
        self.server_thumbprint.as_deref()
    }

    /// The device's `Server` header from the last response (AMT puts its version there).
    pub fn server_header(&self) -> Option<&str> {
        self.server_header.as_deref()
    }

    /// Every digest attempt so far, in order.
    pub fn auth_attempts(&self) -> &[AuthAttempt] {
        &self.attempts
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }

    /// Index of the accepted account, if digest was used and succeeded.
    pub fn accepted_account(&self) -> Option<usize> {
        self.attempts
            .iter()
            .rev()
            .find(|a| a.accepted)
            .map(|a| a.account_index)
    }

    /// The device changed the password of the account in use (e.g. `SetMEBxPassword` inside a
    /// setup session that authenticates as `admin` with the MEBx password): later requests use
    /// `password`. No effect in a certificate session (no account in use).
    pub fn update_password(&mut self, password: &str) {
        if let Some(account) = self.account.and_then(|i| self.accounts.get_mut(i)) {
            account.password = password.to_owned();
        }
    }

    /// Adds an account to try after the others when the one in use is refused (e.g. the admin
    /// password the session just set, which a digest session as `admin` on an already
    /// provisioned device needs from the next request on).
    pub fn add_account(&mut self, account: Credentials) {
        self.accounts.push(account);
    }

    /// `Get` of a class instance (first element of the body).
    pub fn get(&mut self, class: &str, selectors: &[(&str, &str)]) -> Result<Element, CallError> {
        let env = self.exchange(class, "Get", names::ACTION_GET, selectors, None)?;
        body_element(env, class, "Get")
    }

    /// `Put` of a class instance; returns the response body element.
    pub fn put(
        &mut self,
        class: &str,
        selectors: &[(&str, &str)],
        instance: Element,
    ) -> Result<Element, CallError> {
        let env = self.exchange(class, "Put", names::ACTION_PUT, selectors, Some(instance))?;
        body_element(env, class, "Put")
    }

    /// `Create` of a class instance; returns the response body (the new EPR).
    pub fn create(&mut self, class: &str, instance: Element) -> Result<Element, CallError> {
        let env = self.exchange(class, "Create", names::ACTION_CREATE, &[], Some(instance))?;
        body_element(env, class, "Create")
    }

    /// `Delete` of a class instance.
    pub fn delete(&mut self, class: &str, selectors: &[(&str, &str)]) -> Result<(), CallError> {
        self.exchange(class, "Delete", names::ACTION_DELETE, selectors, None)?;
        Ok(())
    }

    /// `Enumerate` + `Pull` until the end: all items of a class.
    pub fn enumerate(&mut self, class: &str) -> Result<Vec<Element>, CallError> {
        let env = self.exchange(
            class,
            "Enumerate",
            names::ACTION_ENUMERATE,
            &[],
            Some(EnumerateRequest::default().to_body()),
        )?;
        let bad = |detail: &str| CallError::BadResponse {
            class: class.to_owned(),
            operation: "Enumerate".into(),
            detail: detail.to_owned(),
        };
        let mut context = env
            .body
            .as_ref()
            .and_then(|b| b.child(names::ENUMERATION, "EnumerationContext"))
            .map(|c| c.text().trim().to_owned())
            .ok_or_else(|| bad("no EnumerationContext"))?;
        let mut items = Vec::new();
        // Bounded: a device that never ends the sequence is cut off.
        for _ in 0..64 {
            let pull = PullRequest {
                context: context.clone(),
                max_elements: Some(999),
                max_characters: Some(99_999),
            };
            let env =
                self.exchange(class, "Pull", names::ACTION_PULL, &[], Some(pull.to_body()))?;
            let body = env.body.ok_or_else(|| bad("empty PullResponse"))?;
            if let Some(list) = body.child(names::ENUMERATION, "Items") {
                items.extend(list.elements().cloned());
            }
            match body.child(names::ENUMERATION, "EnumerationContext") {
                Some(next) if body.child(names::ENUMERATION, "EndOfSequence").is_none() => {
                    context = next.text().trim().to_owned();
                }
                _ => return Ok(items),
            }
        }
        Err(bad("enumeration did not end after 64 pulls"))
    }

    /// Invokes `method` on `class` with `params` (children of `<h:method_INPUT>`).
    pub fn invoke(
        &mut self,
        class: &str,
        method: &str,
        selectors: &[(&str, &str)],
        params: Vec<Element>,
    ) -> Result<InvokeOutput, CallError> {
        let uri = resource_uri(class);
        let mut input = Element::prefixed("h", uri.clone(), format!("{method}_INPUT"));
        input
            .children
            .extend(params.into_iter().map(amt_wire::wsman::Node::Element));
        let action = format!("{uri}/{method}");
        let env = self.exchange(class, method, &action, selectors, Some(input))?;
        let body = body_element(env, class, method)?;
        let return_value = body
            .child_by_local_name("ReturnValue")
            .and_then(|e| e.text().trim().parse().ok());
        Ok(InvokeOutput { return_value, body })
    }

    /// Sends one request and returns the parsed, fault-free response envelope.
    fn exchange(
        &mut self,
        class: &str,
        operation: &str,
        action: &str,
        selectors: &[(&str, &str)],
        body: Option<Element>,
    ) -> Result<Envelope, CallError> {
        self.message_id += 1;
        let request = Request {
            header: Header {
                action: action.to_owned(),
                to: Some(WSMAN_PATH.to_owned()),
                resource_uri: Some(resource_uri(class)),
                message_id: Some(self.message_id.to_string()),
                reply_to: Some(names::ANONYMOUS.to_owned()),
                operation_timeout: Some(OperationTimeout::from_duration(Duration::from_secs(60))),
                selector_set: selectors
                    .iter()
                    .map(|(name, value)| Selector {
                        name: (*name).to_owned(),
                        value: SelectorValue::Text((*value).to_owned()),
                    })
                    .collect(),
                ..Header::default()
            },
            body,
        };
        let xml = request.emit();
        self.calls.push(CallRecord {
            class: class.to_owned(),
            operation: operation.to_owned(),
            status: None,
        });
        let response = self.send_with_auth(xml.as_bytes(), class, operation)?;
        if let Some(record) = self.calls.last_mut() {
            record.status = Some(response.status);
        }
        let bad = |detail: String| CallError::BadResponse {
            class: class.to_owned(),
            operation: operation.to_owned(),
            detail,
        };
        let parsed = Envelope::parse(&response.body, &Limits::for_responses());
        match (response.status, parsed) {
            (_, Ok(env)) => match env.fault() {
                Ok(Some(fault)) => Err(fault_error(&fault, class, operation)),
                Ok(None) if response.status == 200 => Ok(env),
                Ok(None) => Err(CallError::Http {
                    class: class.to_owned(),
                    operation: operation.to_owned(),
                    status: response.status,
                }),
                Err(e) => Err(bad(e.to_string())),
            },
            (200, Err(e)) => Err(bad(e.to_string())),
            (status, Err(_)) => Err(CallError::Http {
                class: class.to_owned(),
                operation: operation.to_owned(),
                status,
            }),
        }
    }

    /// The HTTP exchange with the 401 / credential-fallback loop.
    fn send_with_auth(
        &mut self,
        xml: &[u8],
        class: &str,
        operation: &str,
    ) -> Result<http::Response, CallError> {
        let max_rounds = self.accounts.len() * 2 + 4;
        for _ in 0..max_rounds {
            let mut request = http::Request::new("POST", WSMAN_PATH);
            request
                .headers
                .push("Host", self.settings.target.to_string());
            request
                .headers
                .push("Content-Type", "application/soap+xml; charset=utf-8");
            if let (Some(index), Some(challenge)) = (self.account, &self.challenge)
                && let Some(account) = self.accounts.get(index)
            {
                self.nc = self.nc.wrapping_add(1);
                let auth = challenge.answer(
                    &account.user,
                    &account.password,
                    "POST",
                    WSMAN_PATH,
                    NonceCount::from_value(self.nc),
                    &self.cnonce,
                );
                request.headers.push("Authorization", auth.emit());
            }
            request.body = xml.to_vec();
            let response = self.round_trip(&request.emit(), class, operation)?;
            match self.after_response(response)? {
                Next::Done(response) => return Ok(response),
                Next::Retry => {}
            }
        }
        Err(CallError::AuthFailed {
            accounts_tried: self.account.map_or(0, |i| i + 1),
        })
    }

    /// Interprets a response: success, or a 401 that changes account/nonce and asks for a retry.
    fn after_response(&mut self, response: http::Response) -> Result<Next, CallError> {
        if response.status != 401 {
            if let Some(index) = self.account {
                let already = self
                    .attempts
                    .last()
                    .is_some_and(|a| a.account_index == index && a.accepted);
                if !already {
                    self.push_attempt(index, true);
                }
            }
            return Ok(Next::Done(response));
        }
        let challenge = response
            .headers
            .get("WWW-Authenticate")
            .and_then(|v| Challenge::parse(v).ok());
        let Some(challenge) = challenge else {
            // A 401 without a usable challenge: nothing more can be tried.
            if let Some(index) = self.account {
                self.push_attempt(index, false);
            }
            return Err(CallError::AuthFailed {
                accounts_tried: self.account.map_or(0, |i| i + 1),
            });
        };
        let sent_credentials = self.account.is_some() && self.challenge.is_some();
        let stale = challenge.stale;
        self.challenge = Some(challenge);
        self.nc = 0;
        match self.account {
            None => {
                if self.accounts.is_empty() {
                    return Err(CallError::AuthFailed { accounts_tried: 0 });
                }
                self.account = Some(0);
            }
            Some(_) if stale && sent_credentials => {}
            Some(index) => {
                self.push_attempt(index, false);
                let next = index + 1;
                if next >= self.accounts.len() {
                    return Err(CallError::AuthFailed {
                        accounts_tried: self.accounts.len(),
                    });
                }
                self.account = Some(next);
            }
        }
        Ok(Next::Retry)
    }

    fn push_attempt(&mut self, index: usize, accepted: bool) {
        let user = self
            .accounts
            .get(index)
            .map(|a| a.user.clone())
            .unwrap_or_default();
        self.attempts.push(AuthAttempt {
            account_index: index,
            user,
            accepted,
        });
    }

    /// Writes one request and reads one response, reconnecting first if needed.
    fn round_trip(
        &mut self,
        bytes: &[u8],
        class: &str,
        operation: &str,
    ) -> Result<http::Response, CallError> {
        self.connect()?;
        let lost = |source: TransportError| CallError::Transport {
            class: class.to_owned(),
            operation: operation.to_owned(),
            source,
        };
        let timeout = self.settings.request_timeout;
        let Some(stream) = self.stream.as_mut() else {
            return Err(lost(TransportError::Reset));
        };
        if let Err(e) = stream.write_all(bytes) {
            self.stream = None;
            return Err(lost(e));
        }
        let mut decoder = http::ResponseDecoder::new(http::Limits::default());
        let response = loop {
            let mut buf = Vec::new();
            let n = match stream.read(&mut buf, timeout) {
                Ok(n) => n,
                Err(e) => {
                    self.stream = None;
                    return Err(lost(e));
                }
            };
            if n == 0 {
                self.stream = None;
                match decoder.finish() {
                    Ok(Some(r)) => break r,
                    Ok(None) => {
                        return Err(lost(TransportError::Io(
                            "connection closed before a response".into(),
                        )));
                    }
                    Err(e) => return Err(lost(TransportError::Io(e.to_string()))),
                }
            }
            if let Err(e) = decoder.feed(&buf) {
                self.stream = None;
                return Err(lost(TransportError::Io(e.to_string())));
            }
            match decoder.next_response() {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(e) => {
                    self.stream = None;
                    return Err(lost(TransportError::Io(e.to_string())));
                }
            }
        };
        if !response.keep_alive() {
            self.stream = None;
        }
        if let Some(server) = response.headers.get("Server") {
            self.server_header = Some(server.to_owned());
        }
        Ok(response)
    }
}

fn body_element(env: Envelope, class: &str, operation: &str) -> Result<Element, CallError> {
    env.body.ok_or_else(|| CallError::BadResponse {
        class: class.to_owned(),
        operation: operation.to_owned(),
        detail: "empty body".into(),
    })
}

fn fault_error(fault: &Fault, class: &str, operation: &str) -> CallError {
    CallError::Fault {
        class: class.to_owned(),
        operation: operation.to_owned(),
        subcode: fault.subcode_local().map(str::to_owned),
        reason: fault.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    use amt_wire::wsman::enumeration::{enumerate_response, pull_response};
    use amt_wire::wsman::{ResponseHeader, emit_response};

    use super::*;

    type Script = Rc<RefCell<VecDeque<Result<Vec<u8>, TransportError>>>>;
    type Sent = Rc<RefCell<Vec<String>>>;

    /// A connector whose streams answer each request with the next scripted reply.
    struct Scripted {
        replies: Script,
        sent: Sent,
        connects: usize,
    }

    struct ScriptedStream {
        replies: Script,
        sent: Sent,
        pending: Option<Result<Vec<u8>, TransportError>>,
    }

    impl Connector for Scripted {
        fn connect(
            &mut self,
            _target: SocketAddr,
            _timeout: Duration,
        ) -> Result<Box<dyn Stream>, TransportError> {
            self.connects += 1;
            Ok(Box::new(ScriptedStream {
                replies: self.replies.clone(),
                sent: self.sent.clone(),
                pending: None,
            }))
        }
    }

    impl Stream for ScriptedStream {
        fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
            self.sent
                .borrow_mut()
                .push(String::from_utf8_lossy(bytes).into_owned());
            self.pending = self.replies.borrow_mut().pop_front();
            Ok(())
        }

        fn read(&mut self, buf: &mut Vec<u8>, _timeout: Duration) -> Result<usize, TransportError> {
            match self.pending.take() {
                Some(Ok(bytes)) => {
                    buf.extend_from_slice(&bytes);
                    Ok(bytes.len())
                }
                Some(Err(e)) => Err(e),
                None => Ok(0),
            }
        }
    }

    const REALM: &str = "Digest:727734D63A1FC0423736E48DA554E462";

    fn unauthorized(nonce: &str, stale: bool) -> Vec<u8> {
        let challenge =
            format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\",stale=\"{stale}\",qop=\"auth\"");
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    }

    fn ok(action: &str, body: Option<&Element>) -> Vec<u8> {
        let xml = emit_response(
            &ResponseHeader {
                action: action.to_owned(),
                relates_to: Some("1".into()),
                message_id: "uuid:00000000-8086-8086-8086-000000000001".into(),
                resource_uri: None,
            },
            body,
        );
        // Chunked, as AMT 15 answers.
        let mut out = b"HTTP/1.1 200 OK\r\nServer: Intel(R) Active Management Technology 15.0.23.1706\r\nContent-Type: application/soap+xml; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for chunk in xml.as_bytes().chunks(100) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    fn general_settings() -> Vec<u8> {
        let uri = resource_uri("AMT_GeneralSettings");
        let body = Element::prefixed("g", uri.clone(), "AMT_GeneralSettings")
            .with_child(Element::prefixed("g", uri.clone(), "HostName").with_text("pc01"))
            .with_child(Element::prefixed("g", uri, "DigestRealm").with_text(REALM));
        ok(names::ACTION_GET_RESPONSE, Some(&body))
    }

    fn scripted(replies: Vec<Result<Vec<u8>, TransportError>>) -> (Scripted, Sent) {
        let sent: Sent = Rc::default();
        (
            Scripted {
                replies: Rc::new(RefCell::new(replies.into())),
                sent: sent.clone(),
                connects: 0,
            },
            sent,
        )
    }

    fn settings() -> ClientSettings {
        ClientSettings {
            target: SocketAddr::from(([192, 0, 2, 10], 16992)),
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }

    fn accounts() -> Vec<Credentials> {
        vec![
            Credentials::new("admin", "Wrong1!pass"),
            Credentials::new("prov", "Wrong2!pass"),
            Credentials::new("admin", "P@ssw0rd"),
        ]
    }

    fn authorization_users(sent: &Sent) -> Vec<Option<String>> {
        sent.borrow()
            .iter()
            .map(|req| {
                req.lines()
                    .find_map(|l| l.strip_prefix("Authorization: "))
                    .and_then(|v| amt_wire::digest::Authorization::parse(v).ok())
                    .map(|a| a.username)
            })
            .collect()
    }

    #[test]
    fn credential_fallback_tries_accounts_in_order() -> Result<(), CallError> {
        let (mut conn, sent) = scripted(vec![
            Ok(unauthorized("n1", false)),
            Ok(unauthorized("n2", false)),
            Ok(unauthorized("n3", false)),
            Ok(general_settings()),
        ]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let body = client.get("AMT_GeneralSettings", &[])?;
        assert_eq!(
            body.child_by_local_name("HostName")
                .map(|e| e.text().into_owned()),
            Some("pc01".to_owned())
        );
        assert_eq!(
            authorization_users(&sent),
            vec![
                None,
                Some("admin".to_owned()),
                Some("prov".to_owned()),
                Some("admin".to_owned())
            ]
        );
        let outcome: Vec<(usize, bool)> = client
            .auth_attempts()
            .iter()
            .map(|a| (a.account_index, a.accepted))
            .collect();
        assert_eq!(outcome, vec![(0, false), (1, false), (2, true)]);
        assert_eq!(client.accepted_account(), Some(2));
        assert_eq!(
            client.server_header(),
            Some("Intel(R) Active Management Technology 15.0.23.1706")
        );
        drop(client);
        assert_eq!(conn.connects, 4, "every 401 closes the connection");
        Ok(())
    }

    #[test]
    fn the_nonce_is_reused_with_increasing_nc() -> Result<(), CallError> {
        let (mut conn, sent) = scripted(vec![
            Ok(unauthorized("n1", false)),
            Ok(general_settings()),
            Ok(general_settings()),
        ]);
        let mut client = WsmanClient::new(
            &mut conn,
            settings(),
            vec![Credentials::new("admin", "P@ssw0rd")],
            1,
        );
        client.get("AMT_GeneralSettings", &[])?;
        client.get("AMT_GeneralSettings", &[])?;
        let ncs: Vec<String> = sent
            .borrow()
            .iter()
            .filter_map(|req| {
                req.lines()
                    .find_map(|l| l.strip_prefix("Authorization: "))
                    .and_then(|v| amt_wire::digest::Authorization::parse(v).ok())
                    .and_then(|a| a.nc.map(|n| n.as_str().to_owned()))
            })
            .collect();
        assert_eq!(ncs, vec!["00000001".to_owned(), "00000002".to_owned()]);
        Ok(())
    }

    #[test]
    fn stale_nonce_retries_the_same_account() -> Result<(), CallError> {
        let (mut conn, sent) = scripted(vec![
            Ok(unauthorized("n1", false)),
            Ok(unauthorized("n2", true)),
            Ok(general_settings()),
        ]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        client.get("AMT_GeneralSettings", &[])?;
        assert_eq!(
            authorization_users(&sent),
            vec![None, Some("admin".to_owned()), Some("admin".to_owned())]
        );
        let nonces: Vec<String> = sent
            .borrow()
            .iter()
            .filter_map(|req| {
                req.lines()
                    .find_map(|l| l.strip_prefix("Authorization: "))
                    .and_then(|v| amt_wire::digest::Authorization::parse(v).ok())
                    .map(|a| a.nonce)
            })
            .collect();
        assert_eq!(nonces, vec!["n1".to_owned(), "n2".to_owned()]);
        assert_eq!(client.accepted_account(), Some(0));
        Ok(())
    }

    #[test]
    fn all_accounts_refused_is_auth_failed() {
        let (mut conn, _) = scripted(vec![
            Ok(unauthorized("n1", false)),
            Ok(unauthorized("n2", false)),
            Ok(unauthorized("n3", false)),
            Ok(unauthorized("n4", false)),
        ]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let err = client.get("AMT_GeneralSettings", &[]);
        assert_eq!(err, Err(CallError::AuthFailed { accounts_tried: 3 }));
        assert_eq!(client.auth_attempts().len(), 3);
        assert!(client.auth_attempts().iter().all(|a| !a.accepted));
    }

    #[test]
    fn a_device_that_needs_no_digest_is_used_as_is() -> Result<(), CallError> {
        let (mut conn, sent) = scripted(vec![Ok(general_settings())]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        client.get("AMT_GeneralSettings", &[])?;
        assert_eq!(authorization_users(&sent), vec![None]);
        assert!(client.auth_attempts().is_empty());
        Ok(())
    }

    #[test]
    fn faults_are_typed() {
        let fault = Fault::already_exists().emit(Some("1"), "uuid:x");
        let reply = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n\r\n{fault}",
            fault.len()
        );
        let (mut conn, _) = scripted(vec![Ok(reply.into_bytes())]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let err = client.create("AMT_TLSCredentialContext", Element::unqualified("x"));
        assert!(
            matches!(&err, Err(CallError::Fault { subcode: Some(s), .. }) if s == "AlreadyExists"),
            "{err:?}"
        );
    }

    #[test]
    fn enumerate_pulls_until_the_end_of_sequence() -> Result<(), CallError> {
        let item = |n: &str| {
            Element::prefixed(
                "h",
                resource_uri("AMT_PublicKeyCertificate"),
                "AMT_PublicKeyCertificate",
            )
            .with_child(
                Element::prefixed("h", resource_uri("AMT_PublicKeyCertificate"), "InstanceID")
                    .with_text(n),
            )
        };
        let (mut conn, sent) = scripted(vec![
            Ok(ok(
                names::ACTION_ENUMERATE_RESPONSE,
                Some(&enumerate_response(
                    "01000000-0000-0000-0000-000000000000",
                    None,
                )),
            )),
            Ok(ok(
                names::ACTION_PULL_RESPONSE,
                Some(&pull_response(
                    vec![item("a")],
                    Some("02000000-0000-0000-0000-000000000000"),
                )),
            )),
            Ok(ok(
                names::ACTION_PULL_RESPONSE,
                Some(&pull_response(vec![item("b"), item("c")], None)),
            )),
        ]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let items = client.enumerate("AMT_PublicKeyCertificate")?;
        assert_eq!(items.len(), 3);
        assert!(
            sent.borrow()
                .get(2)
                .is_some_and(|r| r.contains("02000000-0000-0000-0000-000000000000"))
        );
        Ok(())
    }

    #[test]
    fn invoke_reads_the_return_value() -> Result<(), CallError> {
        let uri = resource_uri("AMT_SetupAndConfigurationService");
        let out = Element::prefixed("g", uri.clone(), "CommitChanges_OUTPUT")
            .with_child(Element::prefixed("g", uri.clone(), "ReturnValue").with_text("2057"));
        let (mut conn, sent) = scripted(vec![Ok(ok(
            &format!("{uri}/CommitChangesResponse"),
            Some(&out),
        ))]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let output = client.invoke(
            "AMT_SetupAndConfigurationService",
            "CommitChanges",
            &[],
            vec![],
        )?;
        assert_eq!(output.return_value, Some(2057));
        assert!(sent.borrow().first().is_some_and(|r| r.contains(
            "<h:CommitChanges_INPUT xmlns:h=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService\"></h:CommitChanges_INPUT>"
        )));
        Ok(())
    }

    #[test]
    fn a_timeout_or_a_close_mid_call_is_a_transport_failure() {
        let (mut conn, _) = scripted(vec![Err(TransportError::Timeout)]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let err = client.get("AMT_GeneralSettings", &[]);
        assert!(
            matches!(&err, Err(e) if e.id() == "wsman/timeout"),
            "{err:?}"
        );

        let (mut conn, _) = scripted(vec![Ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<a".to_vec(),
        )]);
        let mut client = WsmanClient::new(&mut conn, settings(), accounts(), 7);
        let err = client.get("AMT_GeneralSettings", &[]);
        assert!(
            matches!(&err, Err(e) if e.id() == "wsman/connection-lost"),
            "{err:?}"
        );
    }
}
