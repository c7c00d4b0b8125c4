//! The ConfigMgr 2007 out-of-band service point, as a state machine.
//!
//! Planned shape (see `ARCHITECTURE.md`): a sans-IO core driven by events with `now` passed in
//! (Hello intake, TLS-PKI, digest with credential fallback, directory and CA steps, stage 1, stage 2,
//! in-band provisioning, ConfigMgr log lines) and a thin shell under `net/` for real sockets. Only the
//! wire formats in `amt-wire` exist so far; the service point is built under its own issue.
//!
//! Environment, logs and the service point (this part):
//! - [`env`](mod@env): the simulated ConfigMgr environment (YAML): site, imported computers, certificates,
//!   accounts, AD, CA, DNS, DHCP, stage-2 settings.
//! - [`logs`]: the one catalog of log texts and the amtopmgr/amtproxymgr/oobmgmt line formats.
//! - [`events`]: the step-by-step provisioning event stream.
//! - [`servicepoint`]: Hello intake and in-band requests → provisioning actions.
//! - [`directory`], [`ca`]: Active Directory and enterprise CA models.
//! - [`client_agent`]: the in-band ConfigMgr client (HECI check, hash check, OTP).
//! - [`io`]: file access (writing the log directory).

pub mod ca;
pub mod client_agent;
pub mod directory;
pub mod env;
pub mod events;
pub mod io;
pub mod logs;
pub mod servicepoint;
