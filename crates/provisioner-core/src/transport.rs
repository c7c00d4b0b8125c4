//! Byte transports the session runs over: the [`Connector`] and [`Stream`] traits and
//! [`TransportError`].
//!
//! Two implementations exist: the harness's `conformance::testbed::SimNetwork` (virtual devices in memory, virtual clock)
//! and `net::TcpConnector` (real sockets). The session, TLS client and WS-MAN client only see these
//! traits, so the same code provisions a simulated or a real device.
//!
//! Streams are owned (`'static`): a session can drop a connection and open a new one to the same
//! device (after `Connection: close`, or for stage 2) while holding on to the connector.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

/// Opens byte streams to devices.
pub trait Connector {
    /// Connect to `target`, giving up after `timeout`.
    fn connect(
        &mut self,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<Box<dyn Stream>, TransportError>;
}

/// A connected, ordered byte stream (TCP or an in-memory pipe).
pub trait Stream {
    /// Write all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// Append what arrives within `timeout` to `buf`; returns the number of bytes appended,
    /// `0` meaning the peer closed the stream.
    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError>;
}

/// Why a transport operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransportError {
    /// Nobody listens at the address (connection refused, or no such host on the network).
    #[error("connection refused")]
    Refused,
    /// The operation did not finish within its timeout.
    #[error("timed out")]
    Timeout,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    Reset,
    /// Any other I/O error, with its text.
    #[error("i/o error: {0}")]
    Io(String),
    /// The TLS layer over the stream failed (an alert from the peer, or a protocol error).
    #[error("TLS: {detail}")]
    Tls {
        /// The alert received, by name, if any.
        alert: Option<String>,
        /// What happened.
        detail: String,
    },
}

impl TransportError {
    /// A stable id for events and scenario files.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Refused => "transport/refused",
            Self::Timeout => "transport/timeout",
            Self::Reset => "transport/reset",
            Self::Io(_) => "transport/io",
            Self::Tls { .. } => "transport/tls",
        }
    }
}
