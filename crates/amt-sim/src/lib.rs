//! The virtual Intel AMT device.
//!
//! Planned shape (see `ARCHITECTURE.md`): a sans-IO core that takes `now` and bytes as parameters
//! (Hello schedule, TLS policy, digest, WS-Management handlers, NVRAM model, faults) and a thin shell
//! under `net/` that owns tokio, sockets and the wall clock. Only the wire formats in `amt-wire` exist
//! so far; the device itself is built under its own issue.
//!
//! Modules so far:
//! - [`keypool`]: the committed RSA-2048 device key pool (devices never generate keys).
//! - [`tls`]: the firmware's provisioning-certificate policy and the rustls server configs.
//! - [`net`]: the tokio shell (`amt-sim serve` / `fleet`): listeners, connection tasks with idle
//!   timeouts, the Hello sender (one write, then close) and the JSON-lines event stream.

pub mod keypool;
pub mod net;
pub mod tls;
