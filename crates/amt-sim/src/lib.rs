//! The virtual Intel AMT device.
//!
//! Shape (see `ARCHITECTURE.md`): a sans-IO core that takes `now` and bytes as parameters
//! (Hello schedule, TLS policy, digest, WS-Management handlers, NVRAM model, faults) and a thin shell
//! under `net/` that owns tokio, sockets and the wall clock.
//!
//! Modules:
//! - [`device`]: the virtual device ([`device::Device`]): state, Hellos, HECI, connections.
//! - [`conn`]: one TCP connection ([`conn::DeviceConnection`]): TLS in memory, HTTP, digest, WS-MAN.
//! - [`deviation`]: test knobs that break one requirement on purpose (`serve --deviation`).
//! - [`keypool`]: the committed RSA-2048 device key pool (devices never generate keys).
//! - [`tls`]: the firmware's provisioning-certificate policy and the rustls server configs.
//! - [`state`]: the NVRAM model (provisioning state, passwords, ACLs, certificates, settings).
//! - [`wsman`]: the WS-Management engine (AMT classes, methods, faults) over the NVRAM state.
//! - [`profile`]: the device profile (YAML) and its embedded default.
//! - [`schema`]: draft-07 JSON Schemas of the YAML formats and a structural check against them.
//! - [`personality`]: firmware generations and their version-dependent behaviour.
//! - [`hello`]: the Hello schedule and beacon state.
//! - [`auth`]: the HTTP digest server (nonces, `nc`, 401 shape).
//! - [`faults`]: fault injection specs and the step matcher.
//! - [`events`]: the device event log.
//! - [`io`]: file access (the NVRAM state store).
//! - [`net`]: the tokio shell (`amt-sim serve` / `fleet`): listeners, connection tasks with idle
//!   timeouts, the Hello sender (one write, then close) and the JSON-lines event stream.

pub mod auth;
pub mod conn;
pub mod deviation;
pub mod device;
pub mod eoi;
pub mod events;
pub mod faults;
pub mod hello;
pub mod io;
pub mod keypool;
pub mod net;
pub mod personality;
pub mod profile;
pub mod schema;
pub mod state;
pub mod tls;
pub mod wsman;
