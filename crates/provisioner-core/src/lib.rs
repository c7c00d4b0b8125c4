//! The ConfigMgr 2007 out-of-band service point, as a state machine.
//!
//! Planned shape (see `ARCHITECTURE.md`): a sans-IO core driven by events with `now` passed in
//! (Hello intake, TLS-PKI, digest with credential fallback, directory and CA steps, stage 1, stage 2,
//! in-band provisioning, ConfigMgr log lines) and a thin shell under `net/` for real sockets. Only the
//! wire formats in `amt-wire` exist so far; the service point is built under its own issue.
