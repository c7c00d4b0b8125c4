//! The network shell of the service point: real sockets and the wall clock.
//!
//! Only this directory (plus `main.rs` and tests) may touch sockets or the system clock (tidy test
//! `protocol_cores_keep_io_in_their_shell`). Everything here is thin: it adapts std sockets to the
//! [`crate::transport`] traits and feeds the sans-IO core.
//!
//! - [`TcpConnector`] / [`TcpTransport`]: blocking std TCP with connect, read and write timeouts.
//! - [`SystemClock`]: the real clock for sessions run over the network.
//! - [`hello_listener`]: the Hello listener thread (port 9971).

mod clock;
pub mod hello_listener;
mod tcp;

pub use clock::SystemClock;
pub use tcp::{TcpConnector, TcpTransport};
