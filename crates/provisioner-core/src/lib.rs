//! The ConfigMgr 2007 out-of-band service point: provisioning sessions against AMT devices.
//!
//! Protocol logic is sans-IO: time comes from a [`clock::Clock`], bytes from a
//! [`transport::Connector`]; the real-socket shell lives under `net/`.
//!
//! - [`clock`]: the `Clock` trait and the deterministic `VirtualClock`.
//! - [`transport`]: the `Connector`/`Stream` traits every session runs over.
//! - [`tls`]: the TLS client (provisioning chain, device certificate accepted and recorded).
//! - [`net`]: the shell: std TCP connector, system clock.
//! - [`wsman_client`]: WS-MAN over HTTP/1.1 with digest and credential fallback.

pub mod clock;
mod http_stopgap;
pub mod net;
pub mod tls;
pub mod transport;
pub mod wsman_client;
