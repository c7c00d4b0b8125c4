//! The replay backend: serves a [`Golden`] exchange set in order and checks each live request
//! against the recorded one (method, target, WS-MAN Action and ResourceURI, whether an
//! `Authorization` header is present, and the connection it came on). Fields that legitimately
//! vary (digest nonce and response, MessageID, time-sync stamps, the issued certificate) are not
//! compared. The provisioner does not check `RelatesTo`, so responses are sent as recorded.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::http::{Limits, RequestDecoder};
use amt_wire::wsman::{Envelope, Limits as WsmanLimits};
use provisioner_core::transport::TransportError;

use super::format::{Answer, Connection, Golden};
use super::scripted::{Backend, ConnPlan};

/// What of a request the replay compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    /// HTTP method.
    pub method: String,
    /// Request target.
    pub target: String,
    /// WS-Addressing Action (empty for a body that is not an envelope).
    pub action: String,
    /// WS-MAN ResourceURI (empty when absent).
    pub resource_uri: String,
    /// Whether digest credentials were sent.
    pub authorization: bool,
}

impl RequestKey {
    /// Decodes `raw` (one whole HTTP request).
    pub fn of(raw: &[u8]) -> Result<Self, String> {
        let mut decoder = RequestDecoder::new(Limits::default());
        decoder.feed(raw).map_err(|e| e.to_string())?;
        let request = decoder
            .next_request()
            .map_err(|e| e.to_string())?
            .ok_or("an incomplete HTTP request")?;
        let envelope = Envelope::parse(&request.body, &WsmanLimits::default()).ok();
        Ok(Self {
            method: request.method,
            target: request.target,
            action: envelope
                .as_ref()
                .map(|e| e.header.action.clone())
                .unwrap_or_default(),
            resource_uri: envelope
                .and_then(|e| e.header.resource_uri)
                .unwrap_or_default(),
            authorization: request.headers.get("Authorization").is_some(),
        })
    }
}

impl fmt::Display for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} Action={} ResourceURI={} Authorization={}",
            self.method,
            self.target,
            self.action,
            self.resource_uri,
            if self.authorization { "yes" } else { "no" }
        )
    }
}

/// Serves a golden exchange set and collects every mismatch.
#[derive(Debug)]
pub struct Replay {
    golden: Golden,
    next_exchange: usize,
    connections_opened: usize,
    chains: Vec<Option<usize>>,
    mismatches: Vec<String>,
}

impl Replay {
    /// A replay of `golden`.
    pub fn new(golden: Golden) -> Self {
        Self {
            golden,
            next_exchange: 0,
            connections_opened: 0,
            chains: Vec::new(),
            mismatches: Vec::new(),
        }
    }

    /// Every mismatch, plus what the provisioner did not ask for; `Ok` when the run followed the
    /// recording exactly.
    pub fn verify(&self) -> Result<(), String> {
        let mut problems = self.mismatches.clone();
        if self.next_exchange < self.golden.exchanges.len() {
            problems.push(format!(
                "exchanges {}..{} of the recording were never requested",
                self.next_exchange + 1,
                self.golden.exchanges.len()
            ));
        }
        if self.connections_opened < self.golden.connections.len() {
            problems.push(format!(
                "connections {}..{} of the recording were never opened",
                self.connections_opened + 1,
                self.golden.connections.len()
            ));
        }
        for (i, c) in self.golden.connections.iter().enumerate() {
            if let Connection::Tls { chain, .. } = c {
                let actual = self.chains.get(i).copied().flatten();
                if i < self.connections_opened && *chain != actual {
                    problems.push(format!(
                        "connection {}: expected a client chain of {chain:?} certificates, actual {actual:?}",
                        i + 1
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

impl Backend for Replay {
    fn connect(
        &mut self,
        conn: usize,
        target: SocketAddr,
        _timeout: Duration,
    ) -> Result<ConnPlan, TransportError> {
        self.connections_opened = self.connections_opened.max(conn + 1);
        match self.golden.connections.get(conn) {
            None => {
                self.mismatches.push(format!(
                    "connection {}: the provisioner connected to {target}, the recording has only {} connections",
                    conn + 1,
                    self.golden.connections.len()
                ));
                Err(TransportError::Refused)
            }
            Some(Connection::Failed(e)) => Err(e.clone()),
            Some(Connection::Tls { plan, version, .. }) => Ok(ConnPlan {
                tls: plan.clone(),
                version: version.clone(),
            }),
        }
    }

    fn client_chain(&mut self, conn: usize, len: usize) {
        if self.chains.len() <= conn {
            self.chains.resize(conn + 1, None);
        }
        if let Some(slot) = self.chains.get_mut(conn) {
            *slot = Some(len);
        }
    }

    fn request(&mut self, conn: usize, raw: &[u8], _timeout: Duration) -> Answer {
        let index = self.next_exchange;
        self.next_exchange += 1;
        let actual =
            RequestKey::of(raw).map_or_else(|e| format!("undecodable: {e}"), |k| k.to_string());
        let Some(expected) = self.golden.exchanges.get(index) else {
            self.mismatches.push(format!(
                "exchange {}: expected nothing (the recording ends), actual {actual} on connection {}",
                index + 1,
                conn + 1
            ));
            return Answer::Failed(TransportError::Io("golden: past the recording".into()));
        };
        let wanted = RequestKey::of(&expected.request)
            .map_or_else(|e| format!("undecodable: {e}"), |k| k.to_string());
        if wanted != actual || expected.connection != conn {
            self.mismatches.push(format!(
                "exchange {}: expected {wanted} on connection {}, actual {actual} on connection {}",
                index + 1,
                expected.connection + 1,
                conn + 1
            ));
            return Answer::Failed(TransportError::Io("golden: request mismatch".into()));
        }
        expected.answer.clone()
    }
}
