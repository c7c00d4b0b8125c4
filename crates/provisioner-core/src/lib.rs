//! The ConfigMgr 2007 out-of-band service point: Hello intake, provisioning sessions against AMT
//! devices (TLS-PKI, digest, directory and CA steps, stage 1, stage 2, in-band), ConfigMgr logs.
//!
//! Protocol logic is sans-IO: time comes from a [`clock::Clock`], bytes from a
//! [`transport::Connector`]; the real-socket shell lives under `net/`, file access under `io/`.
//!
//! Environment, logs and the service point:
//! - [`env`](mod@env): the simulated ConfigMgr environment (YAML): site, imported computers,
//!   certificates, accounts, AD, CA, DNS, DHCP, stage-2 settings.
//! - [`logs`]: the one catalog of log texts and the amtopmgr/amtproxymgr/oobmgmt line formats.
//! - [`events`]: the step-by-step provisioning event stream.
//! - [`servicepoint`]: Hello intake and in-band requests → provisioning actions.
//! - [`directory`], [`ca`]: Active Directory and enterprise CA models.
//! - [`client_agent`]: the in-band ConfigMgr client (HECI check, hash check, OTP).
//! - [`io`]: file access (writing the log directory).
//!
//! Sessions and transports:
//! - [`clock`]: the `Clock` trait and the deterministic `VirtualClock`.
//! - [`transport`]: the `Connector`/`Stream` traits every session runs over.
//! - [`tls`]: the TLS client (provisioning chain, device certificate accepted and recorded).
//! - [`wsman_client`]: WS-MAN over HTTP/1.1 with digest and credential fallback.
//! - [`session`]: one provisioning session (connect, TLS, digest, AD, CA, stage 1, stage 2).
//! - [`net`]: the shell: std TCP connector, system clock, Hello listener.

pub mod ca;
pub mod client_agent;
pub mod clock;
pub mod directory;
pub mod env;
pub mod events;
pub mod io;
pub mod logs;
pub mod net;
pub mod servicepoint;
pub mod session;
pub mod site;
pub mod tls;
pub mod transport;
pub mod wsman_client;
