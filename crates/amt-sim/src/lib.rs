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
//! - [`profile`]: the device profile (YAML) and its embedded default.
//! - [`personality`]: firmware generations and their version-dependent behaviour.
//! - [`hello`]: the Hello schedule and beacon state.
//! - [`auth`]: the HTTP digest server (nonces, `nc`, 401 shape).
//! - [`faults`]: fault injection specs and the step matcher.
//! - [`events`]: the device event log.
//! - [`io`]: file access (the NVRAM state store).

pub mod auth;
pub mod events;
pub mod faults;
pub mod hello;
pub mod io;
pub mod keypool;
pub mod personality;
pub mod profile;
pub mod tls;
